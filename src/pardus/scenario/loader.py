"""Loading scenario files: TOML, `extends`, sweeps, provenance, and every error at once.

A scenario file may say ``extends = "amur-2015"`` (a shipped preset) or
``extends = "../base.toml"`` (a file, relative to the extending file) and then override any
key. Tables merge key by key; lists and scalar values replace. ``[sources]`` maps dotted keys
to a citation (or ``assumption``); ``[sweep]`` maps dotted keys to lists of values and turns one
file into one scenario per combination.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .schema import INTERVENTION_TYPES, Scenario

PRESET_PACKAGE = "pardus.scenario.presets"
_RESERVED = {"extends", "sources", "sweep"}


class ScenarioError(Exception):
    """One or more problems in scenario files; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SourceNotFound(ScenarioError):
    """A preset name or scenario file that does not exist."""

    def __init__(self, ref: str, problems: list[str], reason: str = ""):
        super().__init__(problems)
        self.ref = ref
        self.reason = reason


@dataclass
class Resolved:
    """A validated scenario together with where every value came from."""

    scenario: Scenario
    raw: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)  # dotted key → file that set it
    sources: dict[str, str] = field(default_factory=dict)  # dotted key → citation
    warnings: list[str] = field(default_factory=list)
    path: str = ""
    sweep: dict[str, Any] = field(default_factory=dict)  # dotted key → value, for a scenario of a [sweep]

    def to_json(self) -> str:
        return json.dumps(self.scenario.model_dump(mode="json"), sort_keys=True)


def list_presets() -> list[str]:
    files = resources.files(PRESET_PACKAGE)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def _read_toml(label: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{label}: not valid TOML — {exc}; fix the syntax at that line"]) from None


def _load_source(ref: str, base_dir: Path | None) -> tuple[str, dict[str, Any], Path | None]:
    """Return (label, data, directory) for a preset name or a file path."""
    is_path = ref.endswith(".toml") or "/" in ref or "\\" in ref
    if not is_path:
        presets = list_presets()
        if ref not in presets:
            hint = difflib.get_close_matches(ref, presets, n=1)
            did = f"; did you mean '{hint[0]}'?" if hint else ""
            reason = f"unknown preset '{ref}' — shipped presets are: {', '.join(presets)}{did}"
            raise SourceNotFound(ref, [reason], reason)
        text = resources.files(PRESET_PACKAGE).joinpath(f"{ref}.toml").read_text(encoding="utf-8")
        return f"preset:{ref}", _read_toml(f"preset:{ref}", text), None
    path = Path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        where = f" (looked for {_display(path)})" if _display(path) != ref else ""
        reason = f"no such scenario file{where} — check the path (or name a preset: {', '.join(list_presets())})"
        raise SourceNotFound(ref, [f"{ref}: {reason}"], reason)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{_display(path)}: cannot be read as a UTF-8 text file — {exc}"]) from None
    label = _display(path)
    return label, _read_toml(label, text), path.parent


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _merge(base: dict, over: dict, origin: dict[str, str], label: str, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, origin, label, key + ".")
        else:
            out[k] = copy.deepcopy(v)
            for sub in (_flatten(v, key + ".") if isinstance(v, dict) and v else {key: v}):
                origin[sub] = label
    return out


def _resolve_chain(ref: str, base_dir: Path | None, seen: tuple[str, ...] = ()) -> tuple[dict, dict, dict]:
    """Merge a file with everything it extends. Returns (data, origin, sources)."""
    label, data, directory = _load_source(ref, base_dir)
    if label in seen:
        raise ScenarioError([f"{label}: extends itself through {' → '.join(seen + (label,))} — break the cycle"])
    parent = data.get("extends")
    if parent is not None and not isinstance(parent, str):
        raise ScenarioError([f"{label}: extends = {parent!r} — must be a preset name or a file path"])
    if parent:
        try:
            base, origin, sources = _resolve_chain(parent, directory, seen + (label,))
        except SourceNotFound as exc:
            if exc.ref != parent:
                raise
            raise SourceNotFound(parent, [f"{label}: extends = \"{parent}\" — {exc.reason}"]) from None
    else:
        base, origin, sources = {}, {}, {}
    own = {k: v for k, v in data.items() if k not in _RESERVED}
    if directory is not None:
        _anchor_paths(own, directory)
    merged = _merge(base, own, origin, label)
    src = data.get("sources", {})
    if not isinstance(src, dict):
        raise ScenarioError([f"{label}: [sources] must be a table of dotted key = \"citation\""])
    # a value this file overrides no longer carries the citation of the file it came from
    for key in _flatten(own):
        for old in [k for k in sources if k == key or k.startswith(key + ".")]:
            del sources[old]
    sources = {**sources, **{str(k): str(v) for k, v in src.items()}}
    if "sweep" in data:
        merged["__sweep__"] = data["sweep"]
    else:
        merged.pop("__sweep__", None)
    return merged, origin, sources


def _anchor_paths(own: dict, directory: Path) -> None:
    """Make the file paths a scenario file gives (landscape.source, landscape.monitoring.layout,
    interventions.*.area)
    relative to that file's folder, so that it runs from any working directory."""
    from ..landscape.targets import is_file_area

    def anchored(p: str) -> str:
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else (directory / path))

    land = own.get("landscape")
    if isinstance(land, dict) and isinstance(land.get("source"), str) and land["source"] != "default":
        land["source"] = anchored(land["source"])
    mon = land.get("monitoring") if isinstance(land, dict) else None
    if isinstance(mon, dict) and isinstance(mon.get("layout"), str) and mon["layout"]:
        mon["layout"] = anchored(mon["layout"])
    ivs = own.get("interventions")
    if isinstance(ivs, dict):
        for iv in ivs.values():
            if isinstance(iv, dict) and isinstance(iv.get("area"), str) and is_file_area(iv["area"]):
                iv["area"] = anchored(iv["area"])


# ---------------------------------------------------------------------------------------------
# error formatting


def _get(d: Any, path: list) -> Any:
    for p in path:
        if isinstance(d, dict) and p in d:
            d = d[p]
        else:
            return None
    return d


def _model_at(path: list) -> type[BaseModel] | None:
    """The pydantic model class that validates the table at ``path`` (None if not a model)."""
    model: Any = Scenario
    for p in path:
        if model is None:
            return None
        if isinstance(model, type) and issubclass(model, BaseModel):
            if p not in model.model_fields:
                return None
            model = model.model_fields[p].annotation
        elif get_origin(model) is dict:
            model = get_args(model)[1]
        else:
            return None
        model = _unwrap(model)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated so that nested models can be found."""
    while True:
        args = get_args(tp)
        origin = get_origin(tp)
        if origin is None:
            return tp
        if origin is dict:
            return tp
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1:
            return models[0]
        if origin.__class__.__name__ == "_AnnotatedAlias" or str(origin) == "typing.Annotated":
            tp = args[0]
            continue
        dicts = [a for a in args if get_origin(a) is dict]
        if dicts:
            return dicts[0]
        return tp


def _intervention_model(itype: str) -> type[BaseModel] | None:
    from . import schema

    for cls in (
        schema.AntiPoaching,
        schema.PreyRecovery,
        schema.ConflictMitigation,
        schema.Vaccination,
        schema.Crossing,
        schema.Release,
        schema.Translocation,
    ):
        if cls.model_fields["type"].annotation.__args__[0] == itype:  # type: ignore[attr-defined]
            return cls
    return None


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{…}"
    return repr(v) if not isinstance(v, (int, float)) else str(v)


def format_validation_error(exc: ValidationError, raw: dict, origin: dict[str, str], default_label: str) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        loc = list(err["loc"])
        # drop discriminator tags from intervention paths: interventions.<label>.<type>.<key>
        if len(loc) >= 3 and loc[0] == "interventions" and loc[2] in INTERVENTION_TYPES:
            loc.pop(2)
        key = ".".join(str(p) for p in loc)
        label = origin.get(key) or _origin_prefix(origin, key) or default_label
        etype = err["type"]
        if etype == "extra_forbidden":
            parent = loc[:-1]
            model = _model_at([str(p) for p in parent])
            if parent and parent[0] == "interventions" and len(parent) == 2:
                model = _intervention_model(str(_get(raw, ["interventions", parent[1], "type"])))
            hint = ""
            if model is not None:
                match = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.5)
                hint = f"; did you mean '{'.'.join(str(p) for p in parent + [match[0]])}'?" if match else (
                    f"; valid keys here: {', '.join(model.model_fields)}"
                )
            lines.append(f"{label}: {key} = {_fmt_value(err['input'])} — unknown key{hint}")
        elif etype == "missing":
            lines.append(f"{label}: {key} — required value is missing; add it to the file or extend a preset that has it")
        elif etype == "value_error" and key == "landscape":
            # the process tables of [landscape]: each problem already names its key and the fix
            for problem in str(err["msg"]).removeprefix("Value error, ").split("; landscape."):
                lines.append(f"{label}: {problem if problem.startswith('landscape.') else 'landscape.' + problem}")
        elif etype == "union_tag_invalid" or etype == "union_tag_not_found":
            given = _get(raw, [str(p) for p in loc] + ["type"])
            hint = difflib.get_close_matches(str(given), INTERVENTION_TYPES, n=1)
            did = f"; did you mean '{hint[0]}'?" if hint else ""
            lines.append(
                f"{label}: {key}.type = {_fmt_value(given)} — must be one of {', '.join(INTERVENTION_TYPES)}{did}"
            )
        else:
            value = err.get("input")
            msg = err["msg"]
            if etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
                msg = _range_rule(_field_bounds(loc, raw)) or msg
            elif etype in _TYPE_RULES:
                msg = f"{_TYPE_RULES[etype]}, not {_kind(value)}"
            lines.append(f"{label}: {key} = {_fmt_value(value)} — {msg}")
    return lines


_TYPE_RULES = {
    "int_type": "must be a whole number (no quotes, no decimal point)",
    "int_from_float": "must be a whole number (no quotes, no decimal point)",
    "float_type": "must be a number (no quotes)",
    "bool_type": "must be true or false",
    "string_type": "must be text in quotes",
    "list_type": "must be a list, e.g. [0.5, 0.5]",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


# what the user wrote, in TOML's words (bool before int: True is an int in Python)
_KINDS = ((bool, "a boolean"), (int, "a whole number"), (float, "a decimal number"), (str, "text"), (list, "a list"), (dict, "a table"))


def _kind(value: Any) -> str:
    return next((name for t, name in _KINDS if isinstance(value, t)), type(value).__name__)


def _collect_bounds(meta, out: dict) -> None:
    for m in meta:
        for name in ("ge", "gt", "le", "lt"):
            v = getattr(m, name, None)
            if v is not None and not callable(v):
                out[name] = v
        inner = getattr(m, "metadata", None)
        if isinstance(inner, list):
            _collect_bounds(inner, out)


def _field_bounds(loc: list, raw: dict) -> dict:
    """The numeric bounds (ge/gt/le/lt) declared for the value at ``loc``."""
    path = [str(p) for p in loc]
    while path and path[-1].isdigit():  # an element of a list: the list's element type
        path = path[:-1]
    if not path:
        return {}
    parent = path[:-1]
    if len(parent) == 2 and parent[0] == "interventions":
        model = _intervention_model(str(_get(raw, ["interventions", parent[1], "type"])))
    else:
        model = _model_at(parent)
    if model is None or path[-1] not in model.model_fields:
        return {}
    field = model.model_fields[path[-1]]
    out: dict = {}
    _collect_bounds(field.metadata, out)
    stack = list(get_args(field.annotation))
    while stack:
        a = stack.pop()
        _collect_bounds(getattr(a, "__metadata__", ()), out)
        stack.extend(get_args(a))
    return out


def _range_rule(b: dict) -> str | None:
    lo, hi = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
    if b.get("ge") == 0 and b.get("le") == 1:
        return "must be a probability in [0, 1]"
    if lo is not None and hi is not None:
        return f"must be between {lo:g} and {hi:g}"
    if "gt" in b:
        return f"must be greater than {b['gt']:g}"
    if "ge" in b:
        return f"must be at least {b['ge']:g}"
    if "lt" in b:
        return f"must be less than {b['lt']:g}"
    if "le" in b:
        return f"must be at most {b['le']:g}"
    return None


def _origin_prefix(origin: dict[str, str], key: str) -> str | None:
    best = None
    for k, v in origin.items():
        if key.startswith(k + ".") or k.startswith(key + "."):
            best = v
    return best


# ---------------------------------------------------------------------------------------------
# public API


def _expand_sweep(raw: dict, label: str) -> list[tuple[str, dict, dict[str, Any]]]:
    sweep = raw.pop("__sweep__", None)
    if not sweep:
        return [(raw.get("name", ""), raw, {})]
    if not isinstance(sweep, dict):
        raise ScenarioError([f"{label}: [sweep] must be a table of dotted key = [values]"])
    flat = _flatten(sweep)
    problems = []
    for k, v in flat.items():
        if not isinstance(v, list) or not v:
            problems.append(f"{label}: sweep.{k} = {_fmt_value(v)} — must be a non-empty list of values")
    if problems:
        raise ScenarioError(problems)
    keys = list(flat)
    out = []
    for combo in itertools.product(*(flat[k] for k in keys)):
        data = copy.deepcopy(raw)
        parts = []
        for k, v in zip(keys, combo):
            node = data
            path = k.split(".")
            for p in path[:-1]:
                node = node.setdefault(p, {})
            node[path[-1]] = v
            parts.append(f"{k}={v}")
        name = f"{raw.get('name', 'scenario')} [{', '.join(parts)}]"
        data["name"] = name
        out.append((name, data, dict(zip(keys, combo))))
    return out


def resolve_scenarios(ref: str | Path) -> list[Resolved]:
    """Load a scenario file or preset; a ``[sweep]`` gives several scenarios.

    Raises :class:`ScenarioError` listing every problem found.
    """
    from .checks import semantic_problems, suspicious_values

    ref = str(ref)
    raw, origin, sources = _resolve_chain(ref, Path.cwd())
    is_file = ref.endswith(".toml") or "/" in ref
    label = _display(Path(ref)) if is_file else f"preset:{ref}"
    if is_file and origin.get("name") != label:
        # a file that does not name itself is named after the file, not after what it extends
        raw["name"] = Path(ref).stem
        origin["name"] = label
    results: list[Resolved] = []
    problems: list[str] = []
    base_origin, base_sources = origin, sources
    for _name, data, combo in _expand_sweep(raw, label):
        origin = dict(base_origin)
        sources = dict(base_sources)
        for key in combo:
            origin[key] = label
            sources[key] = f"[sweep] value {combo[key]!r}"
        these: list[str] = []
        scenario = None
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            these.extend(format_validation_error(exc, data, origin, label))
        these.extend(semantic_problems(data, origin, label))
        if these:
            problems.extend(p for p in these if p not in problems)
            continue
        assert scenario is not None
        spatial = _spatial_problems(scenario, origin, label)
        if spatial:
            problems.extend(p for p in spatial if p not in problems)
            continue
        warn = suspicious_values(scenario, origin, label)
        if scenario.landscape is not None:
            from ..spatial import spatial_warnings

            warn.extend(f"{origin.get(w.split(' ', 1)[0]) or label}: {w}" for w in spatial_warnings(scenario))
        known = _flatten(scenario.model_dump(mode="json"))
        warn.extend(
            f"{label}: sources.{k} — names no parameter of the scenario; check the key"
            for k in sources
            if k not in known and not any(f.startswith(k + ".") for f in known)
        )
        from fnmatch import fnmatchcase

        for k in scenario.calibration.uncertain:
            key = k.partition("=")[0].strip()
            hits = [f for f in known if fnmatchcase(f, key)]
            if not hits:
                warn.append(f"{label}: calibration.uncertain {key} — names no parameter of the scenario; check the key (`pardus explain` lists them; * matches any part)")
            elif any(isinstance(known[f], bool) or not isinstance(known[f], (int, float)) for f in hits):
                warn.append(f"{label}: calibration.uncertain {key} — not a number; only numeric parameters can be calibrated")
        results.append(Resolved(scenario=scenario, raw=data, origin=origin, sources=sources, warnings=warn, path=label, sweep=dict(combo)))
    if problems:
        raise ScenarioError(problems)
    return results


def resolve_scenario(ref: str | Path) -> Resolved:
    """Load exactly one scenario (a file without ``[sweep]`` or a preset)."""
    found = resolve_scenarios(ref)
    if len(found) != 1:
        raise ScenarioError([f"{ref}: holds a [sweep] of {len(found)} scenarios — use `pardus compare` or `pardus run` on it"])
    return found[0]


def load_scenarios(ref: str | Path, *, overrides: dict[str, Any] | None = None) -> list[Scenario]:
    """The scenarios of a file or preset (a ``[sweep]`` gives several), as :class:`Scenario`.

    ``overrides`` maps dotted keys to values (``{"demography.p_breed": 0.5}``) and is applied
    to every scenario, validated as a scenario file is. Raises :class:`ScenarioError`.
    """
    found = [r.scenario for r in resolve_scenarios(ref)]
    return [apply_overrides(sc, overrides) for sc in found] if overrides else found


def load_scenario(ref: str | Path, *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Exactly one scenario (a preset, or a file without ``[sweep]``), with optional overrides."""
    sc = resolve_scenario(ref).scenario
    return apply_overrides(sc, overrides) if overrides else sc


def apply_overrides(scenario: Scenario, overrides: dict[str, Any], label: str = "overrides") -> Scenario:
    """A new scenario with dotted keys replaced, validated like a file (every problem at once).

    A value that is a table (dict) merges key by key into the table it replaces, as in a file
    that ``extends`` another; any other value replaces.
    """
    if not isinstance(overrides, dict):
        raise ScenarioError([f"{label}: must be a dict of dotted key → value, e.g. {{\"demography.p_breed\": 0.5}}"])
    data = scenario.model_dump(mode="python")
    origin: dict[str, str] = {}
    problems = []
    for key, value in overrides.items():
        path = str(key).split(".")
        node = data
        for i, p in enumerate(path[:-1]):
            nxt = node.get(p) if isinstance(node, dict) else None
            if nxt is None and isinstance(node, dict):
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                problems.append(f"{label}: {key} — {'.'.join(path[: i + 1])} is a value, not a table; check the key")
                break
            node = nxt
        else:
            old = node.get(path[-1])
            node[path[-1]] = _merge(old, value, {}, label) if isinstance(old, dict) and isinstance(value, dict) else copy.deepcopy(value)
            origin[str(key)] = label
    if problems:
        raise ScenarioError(problems)
    return scenario_from_dict(data, label, origin)


def scenario_from_dict(data: dict[str, Any], label: str = "<dict>", origin: dict[str, str] | None = None) -> Scenario:
    """Validate a plain dict (used by the Python API and tests). Raises ScenarioError."""
    from .checks import semantic_problems

    problems: list[str] = []
    scenario = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems.extend(format_validation_error(exc, data, origin or {}, label))
    problems.extend(semantic_problems(data, origin or {}, label))
    if not problems and scenario is not None:
        problems.extend(_spatial_problems(scenario, origin or {}, label))
    if problems:
        raise ScenarioError(problems)
    assert scenario is not None
    return scenario


def _spatial_problems(scenario: Scenario, origin: dict[str, str], label: str) -> list[str]:
    """A spatial scenario checked against its landscape (areas, sites, regions), each problem
    with the file that set the key."""
    if scenario.landscape is None:
        return []
    from ..spatial import spatial_problems

    out = []
    for problem in spatial_problems(scenario):
        key = problem.split(" ", 1)[0].split("=", 1)[0].strip()
        out.append(f"{origin.get(key) or _origin_prefix(origin, key) or label}: {problem}")
    return out
