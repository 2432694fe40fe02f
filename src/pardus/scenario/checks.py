"""Checks that span several keys (impossible combinations) and warnings on suspicious values.

``semantic_problems`` works on the raw merged dict, defensively, so that it can run even when
the schema found other problems: the user sees everything in one go.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from ..landscape.layers import COVER_CODES
from ..landscape.targets import area_form_problem
from .schema import SPATIAL_TYPES, Scenario

COVER_NAMES = [COVER_CODES[k] for k in sorted(COVER_CODES)]


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _who(origin: dict[str, str], key: str, label: str) -> str:
    if key in origin:
        return origin[key]
    for k, v in origin.items():
        if k.startswith(key + ".") or key.startswith(k + "."):
            return v
    return label


def _value_of(sc: Scenario, key: str) -> Any:
    """The resolved value of a dotted key (for a message)."""
    node: Any = sc.model_dump(mode="json")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "?"
        node = node[part]
    return node


def _who_pair(origin: dict[str, str], k1: str, k2: str, label: str) -> str:
    """For a problem between two keys: the user's own file if it set either, else k1's file."""
    a, b = _who(origin, k1, label), _who(origin, k2, label)
    return label if label in (a, b) else a


def _pop_ref(name: Any, pops: list[str]) -> str:
    hint = difflib.get_close_matches(str(name), pops, n=1)
    did = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"no population of that name — populations are: {', '.join(pops) or '(none)'}{did}"


def semantic_problems(raw: dict[str, Any], origin: dict[str, str], label: str) -> list[str]:
    out: list[str] = []
    dem = raw.get("demography") if isinstance(raw.get("demography"), dict) else {}
    max_age = _num(dem.get("max_age"))
    for key in ("female_breeding_age", "male_breeding_age", "adult_age", "female_last_breeding_age"):
        v = _num(dem.get(key))
        if v is not None and max_age is not None and v > max_age:
            k = f"demography.{key}"
            out.append(
                f"{_who_pair(origin, k, 'demography.max_age', label)}: {k} = {int(v)} — above demography.max_age = {int(max_age)};"
                " animals would die before reaching it: lower it or raise max_age"
            )
    fb, lb = _num(dem.get("female_breeding_age")), _num(dem.get("female_last_breeding_age"))
    if fb is not None and lb is not None and lb < fb:
        k = "demography.female_last_breeding_age"
        out.append(f"{_who(origin, k, label)}: {k} = {int(lb)} — below female_breeding_age = {int(fb)}")
    ls = dem.get("litter_size")
    if isinstance(ls, list) and ls and all(_num(x) is not None for x in ls):
        total = sum(float(x) for x in ls)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            k = "demography.litter_size"
            out.append(
                f"{_who(origin, k, label)}: {k} = {ls} — probabilities of litters of 1, 2, … must sum to 1 (they sum to {total:.4g})"
            )
    elif isinstance(ls, list) and not ls:
        k = "demography.litter_size"
        out.append(f"{_who(origin, k, label)}: {k} = [] — give at least one litter-size probability")

    pops_raw = raw.get("populations")
    pops = list(pops_raw) if isinstance(pops_raw, dict) else []
    if isinstance(pops_raw, dict):
        for name, p in pops_raw.items():
            if not isinstance(p, dict):
                continue
            dist = p.get("initial_age_distribution")
            if isinstance(dist, list) and max_age is not None and len(dist) > max_age:
                k = f"populations.{name}.initial_age_distribution"
                out.append(
                    f"{_who(origin, k, label)}: {k} — gives {len(dist)} ages but demography.max_age = {int(max_age)}; shorten it"
                )
            if isinstance(dist, list) and dist and sum(_num(x) or 0 for x in dist) <= 0 and (_num(p.get("initial_size")) or 0) > 0:
                k = f"populations.{name}.initial_age_distribution"
                out.append(f"{_who(origin, k, label)}: {k} — all zero, but initial_size > 0; give some ages a weight")

    disp = raw.get("dispersal") if isinstance(raw.get("dispersal"), dict) else {}
    lo, hi = _num(disp.get("min_age")), _num(disp.get("max_age"))
    if lo is not None and hi is not None and lo > hi:
        out.append(f"{_who(origin, 'dispersal.min_age', label)}: dispersal.min_age = {int(lo)} — above dispersal.max_age = {int(hi)}")
    dest = disp.get("destinations")
    if isinstance(dest, dict):
        for src, row in dest.items():
            k = f"dispersal.destinations.{src}"
            if src not in pops:
                out.append(f"{_who(origin, k, label)}: {k} — {_pop_ref(src, pops)}")
            if isinstance(row, dict):
                for dst in row:
                    if dst not in pops:
                        out.append(f"{_who(origin, k + '.' + dst, label)}: {k}.{dst} — {_pop_ref(dst, pops)}")
                    elif dst == src:
                        out.append(f"{_who(origin, k + '.' + dst, label)}: {k}.{dst} — a population cannot disperse into itself")
                weights = [_num(v) for v in row.values()]
                if row and all(w is not None for w in weights) and sum(weights) <= 0:  # type: ignore[arg-type]
                    out.append(f"{_who(origin, k, label)}: {k} — destination weights sum to 0; give at least one a positive weight")

    ivs = raw.get("interventions")
    if isinstance(ivs, dict):
        for lab, iv in ivs.items():
            if not isinstance(iv, dict):
                continue
            base = f"interventions.{lab}"
            for key in ("population", "source"):
                if key in iv and iv[key] not in pops:
                    k = f"{base}.{key}"
                    out.append(f"{_who(origin, k, label)}: {k} = \"{iv[key]}\" — {_pop_ref(iv[key], pops)}")
            start, end = _num(iv.get("start")), _num(iv.get("end"))
            if start is not None and end is not None and end < start:
                k = f"{base}.end"
                out.append(f"{_who(origin, k, label)}: {k} = {int(end)} — before start = {int(start)}")
            if iv.get("type") in ("release", "translocation"):
                if (_num(iv.get("females")) or 0) + (_num(iv.get("males")) or 0) <= 0:
                    out.append(f"{_who(origin, base, label)}: {base} — moves no animals; set females and/or males")
                age = _num(iv.get("age"))
                if age is not None and max_age is not None and age >= max_age:
                    out.append(f"{_who(origin, base + '.age', label)}: {base}.age = {int(age)} — not below demography.max_age = {int(max_age)}")
            if iv.get("type") == "translocation" and iv.get("source") == iv.get("population") and "source" in iv:
                out.append(f"{_who(origin, base, label)}: {base} — source and population are the same")
            spatial = isinstance(raw.get("landscape"), dict)
            if not spatial:
                for key in ("area", "site"):
                    if iv.get(key) is not None:
                        k = f"{base}.{key}"
                        out.append(f"{_who(origin, k, label)}: {k} — a place on a map, but the scenario is non-spatial; add a [landscape] table or leave {key} out")
                if iv.get("type") in SPATIAL_TYPES:
                    out.append(f"{_who(origin, base, label)}: {base} — type \"{iv.get('type')}\" acts on a map; add a [landscape] table (e.g. [landscape] source = \"default\")")
                if iv.get("type") == "habitat_change" and iv.get("cover") is not None:
                    k = f"{base}.cover"
                    out.append(f"{_who(origin, k, label)}: {k} — changes the map's cover, but the scenario is non-spatial; add [landscape] or use the capacity factors")
            if isinstance(iv.get("area"), str):
                problem = area_form_problem(iv["area"])
                if problem:
                    k = f"{base}.area"
                    out.append(f"{_who(origin, k, label)}: {k} = {problem}")
            if iv.get("type") == "habitat_change" and isinstance(iv.get("cover"), str) and iv["cover"] not in COVER_NAMES:
                k = f"{base}.cover"
                hint = difflib.get_close_matches(iv["cover"], COVER_NAMES, n=1)
                out.append(f"{_who(origin, k, label)}: {k} = \"{iv['cover']}\" — no cover class of that name; the classes are: {', '.join(COVER_NAMES)}" + (f"; did you mean '{hint[0]}'?" if hint else ""))
            if iv.get("type") == "anti_poaching":
                has_effort, has_budget = iv.get("effort") is not None, iv.get("budget") is not None
                if has_effort == has_budget:
                    out.append(f"{_who(origin, base, label)}: {base} — give either effort (patrol-days per km² per year) or budget (money per year), not {'both' if has_effort else 'neither'}")
                elif has_budget and not (_num(iv.get("unit_cost")) or 0) > 0:
                    k = f"{base}.unit_cost"
                    out.append(f"{_who(origin, k, label)}: {k} — a budget buys patrol-days at unit_cost each: set unit_cost > 0 (money per patrol-day)")
            tmin, tmax = _num(iv.get("min_age")), _num(iv.get("max_age"))
            if tmin is not None and tmax is not None and tmin > tmax:
                out.append(f"{_who(origin, base + '.min_age', label)}: {base}.min_age = {int(tmin)} — above max_age = {int(tmax)}")
    run = raw.get("run") if isinstance(raw.get("run"), dict) else {}
    start_year = _num(run.get("start_year"))
    years = _num(run.get("years"))
    if isinstance(ivs, dict) and start_year is not None and years is not None:
        last = start_year + years
        for lab, iv in ivs.items():
            s = _num(iv.get("start")) if isinstance(iv, dict) else None
            if s is not None and s > last:
                k = f"interventions.{lab}.start"
                out.append(
                    f"{_who(origin, k, label)}: {k} = {int(s)} — after the last simulated year {int(last)}; it would never act"
                )
    return out


def suspicious_values(sc: Scenario, origin: dict[str, str], label: str) -> list[str]:
    """Valid but suspicious values: warnings, not errors."""
    w: list[str] = []

    def warn(key: str, value: Any, why: str) -> None:
        w.append(f"{_who(origin, key, label)}: {key} = {value} — {why}")

    d = sc.demography
    for sex in ("female", "male"):
        rates = getattr(d.survival, sex)
        if rates.adult < 0.5:
            warn(f"demography.survival.{sex}.adult", rates.adult, "adult survival below 0.5 is far below any big cat; check it is a survival, not a mortality")
        if rates.cub > rates.adult + 0.3:
            warn(f"demography.survival.{sex}.cub", rates.cub, "cub survival far above adult survival is unusual for felids")
    mean_litter = sum((i + 1) * p for i, p in enumerate(d.litter_size))
    if mean_litter > 3.5:
        warn("demography.litter_size", d.litter_size, f"mean litter {mean_litter:.2f} is above what leopards raise (about 2)")
    if d.female_breeding_age > 6:
        warn("demography.female_breeding_age", d.female_breeding_age, "leopards first breed at 2.5–4 years")
    for name, p in sc.populations.items():
        if p.initial_size > 2 * p.carrying_capacity:
            warn(f"populations.{name}.initial_size", p.initial_size, f"more than twice carrying_capacity = {p.carrying_capacity}; the first year truncates it")
        if p.initial_prey > 3 * p.prey_capacity:
            warn(f"populations.{name}.initial_prey", p.initial_prey, "far above prey_capacity")
    if sc.threats.poaching.hazard.adult > 0.3:
        warn("threats.poaching.hazard.adult", sc.threats.poaching.hazard.adult, "a third of adults poached every year would end any population within years")
    if d.survival.basis == "all_causes":
        # a threat changed on top of a baseline whose all-cause survival was given: the derived
        # natural survival absorbs the change at the start (MODEL.md §4.5)
        rates_by = _who(origin, "demography.survival.female.adult", label)
        for key in sorted(k for k in origin if k.startswith("threats.") and origin[k] == label and origin[k] != rates_by):
            warn(
                key,
                _value_of(sc, key),
                f'demography.survival.basis = "all_causes" (survival set by {rates_by}): the given survival already includes this'
                " cause, so the natural survival is derived again: the starting all-cause survival and λ stay as they are and"
                " only the split of deaths between causes moves. To model a change in this threat, keep the baseline and"
                " add an intervention that changes it from a year on (anti_poaching, conflict_mitigation, crossing,"
                ' vaccination), or give natural survival rates with basis = "natural"',
            )
    if d.survival.basis == "all_causes" and sc.genetics.founder_kinship > 0 and sc.genetics.lethal_equivalents > 0:
        warn(
            "genetics.founder_kinship",
            sc.genetics.founder_kinship,
            'founders related at this F with observed (basis = "all_causes") survival: the given rates already include'
            " the depression of the population's past inbreeding, and inbreeding depression acting on F = founder_kinship"
            " counts it again. Leave founder_kinship at 0 (F counted from the start; lethal_equivalents is then the load"
            ' remaining), or give outbred rates with basis = "natural"',
        )
    if sc.run.replicates < 100:
        warn("run.replicates", sc.run.replicates, "fewer than 100 replicates: the extinction probability has a standard error above 0.05")
    if sc.run.years > 300:
        warn("run.years", sc.run.years, "projections beyond 300 years say little about a real population")
    first = sc.run.start_year + 1
    for lab, iv in sc.interventions.items():
        once = getattr(iv, "every", None) is None and iv.type in ("release", "translocation")
        if iv.end is not None and iv.end < first or (once and iv.start < first):
            warn(f"interventions.{lab}.start", iv.start, f"acts only before the first simulated year {first}; it never acts in this run")
        elif iv.start < first:
            warn(
                f"interventions.{lab}.start",
                iv.start,
                f"before the first simulated year {first}: it is active from {first} on and its fixed_cost is not counted (spent before the run)",
            )
        if sc.landscape is not None and iv.type == "habitat_change" and iv.carrying_capacity_factor != 1:
            warn(f"interventions.{lab}.carrying_capacity_factor", iv.carrying_capacity_factor, "has no effect on a map (K follows from the home ranges); use cover or prey_capacity_factor")
        if getattr(iv, "type", "") == "release" and sc.landscape is None:
            pop = sc.populations[iv.population]
            if pop.carrying_capacity < iv.females + iv.males:
                warn(f"interventions.{lab}", f"{iv.females + iv.males} animals", f"more than carrying_capacity of {iv.population}")
    return w


def common_currency(scenarios: list[Scenario]) -> str:
    """The one ``run.currency`` of *scenarios*; a ValueError naming every currency (and the
    scenarios that use it) when they differ, because costs in different currencies cannot be
    added, compared or divided into ΔPE per million. Check before simulating."""
    by: dict[str, list[str]] = {}
    for sc in scenarios:
        by.setdefault(sc.run.currency, []).append(sc.name)
    if len(by) > 1:
        found = "; ".join(f"{cur} ({', '.join(names)})" for cur, names in by.items())
        raise ValueError(
            f"scenarios of one run must share run.currency — found {found}; "
            "convert unit_cost and fixed_cost to one currency and set the same run.currency everywhere"
        )
    return next(iter(by)) if by else "USD"


def common_landscape(scenarios: list[Scenario]) -> None:
    """Scenarios of one run are all non-spatial or all on the same map (the same
    landscape.source and landscape.seed): their results share one set of cells. A ValueError
    naming the scenarios of each kind otherwise. Check before simulating."""
    by: dict[str, list[str]] = {}
    for sc in scenarios:
        key = "non-spatial" if sc.landscape is None else f"the map {sc.landscape.source!r} (seed {sc.landscape.seed})"
        by.setdefault(key, []).append(sc.name)
    if len(by) > 1:
        found = "; ".join(f"{k}: {', '.join(names)}" for k, names in by.items())
        raise ValueError(f"scenarios of one run must all be non-spatial or all on the same map — found {found}; run them separately")
