"""Reader of Circuitscape ``.ini`` job files.

:func:`load_ini` reads a Circuitscape (4.x Python or 5.x Julia) configuration into a typed
:class:`CircuitscapeConfig` whose defaults are those of Circuitscape.jl (``init_config`` and
``CSConfig`` in its ``src/config.jl``). Every option Circuitscape.jl knows is either
implemented or refused with a message naming the file, the key and the fix; a key that
Circuitscape does not know is refused too (never silently ignored).

Parsing follows Circuitscape.jl's ``parse_config``: section headers (``[...]``) are only
decoration, each ``key = value`` line sets one option, the key is what stands before the first
``=``. pardus also skips blank lines and comment lines starting with ``;`` or ``#`` (the test
inis of Circuitscape contain ``;point_file = ...``; Circuitscape.jl stores such a line under the
unused key ``;point_file``, which has the same effect). Booleans are ``True``/``False`` in any
case, or ``1``/``0`` (Circuitscape.jl accepts ``True``, ``true`` and ``1``). Placeholders such
as ``(Browse for ...)``, ``(Choose ...)``, ``None`` and an empty value mean "not given".

Relative paths: Circuitscape.jl opens the paths of an ini exactly as written, i.e. relative to
the current working directory of the process. pardus does the same (``base_dir`` defaults to the
current directory) and adds one convenience: when a relative *input* file does not exist there
but does exist relative to the folder of the ini file, that one is used. The output prefix is
resolved against ``base_dir`` too, except when the habitat file itself was found only
beside the ini: then the ini is taken to be written relative to its own folder and the output
goes there as well.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

from .grids import ConnectivityError

__all__ = ["CircuitscapeConfig", "load_ini", "parse_ini_text", "KNOWN_KEYS"]

log = logging.getLogger("pardus.connectivity")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

#: Values Circuitscape uses for "no file given".
def _is_placeholder(v: str) -> bool:
    s = v.strip()
    return s == "" or s.lower() == "none" or (s.startswith("(") and s.endswith(")"))


_SCENARIOS = {
    "pairwise": "pairwise", "advanced": "advanced",
    "one-to-all": "one-to-all", "one_to_all": "one-to-all", "onetoall": "one-to-all",
    "all-to-one": "all-to-one", "all_to_one": "all-to-one", "alltoone": "all-to-one",
}
_SOLVERS = {
    "cg+amg": "cg+amg", "amg+cg": "cg+amg", "amg": "cg+amg",
    "cholmod": "cholmod", "cholesky": "cholmod", "cholfact": "cholmod",
}
_REFUSED_SOLVERS = {"mklpardiso", "pardiso", "accelerate", "apple_accelerate"}
_POLICIES = {"keepall", "rmvsrc", "rmvgnd", "rmvall"}
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
               "error": logging.ERROR, "critical": logging.CRITICAL}

# Keys Circuitscape (4.x and 5.x) writes that only affect its logging/profiling or memory
# management; they are accepted and have the effect documented in CircuitscapeConfig.
_PATH_KEYS = ("habitat_file", "polygon_file", "source_file", "ground_file", "mask_file",
              "variable_source_file", "included_pairs_file", "point_file", "reclass_file")


@dataclass
class CircuitscapeConfig:
    """One Circuitscape job. Field names and defaults are Circuitscape.jl's.

    Fields that are paths are :class:`pathlib.Path` (resolved, see the module docstring) or
    ``None`` when not given. Options without an effect on the numbers:

    - ``parallelize``/``max_parallel``: solve focal nodes on ``max_parallel`` threads (0 = all
      cores) unless :func:`run_config` is given ``workers``;
    - ``precision``: ``single`` is accepted but pardus always computes in double precision
      (results are then more accurate than Circuitscape's single-precision ones);
    - ``low_memory_mode``, ``preemptive_memory_release``, ``use_64bit_indexing``,
      ``cholmod_batch_size``: memory hints of Circuitscape; pardus has no equivalent knob and
      accepts them without effect;
    - ``print_timings``, ``print_rusages``: log the wall time / peak memory at the end;
    - ``log_level``, ``log_file``, ``suppress_messages``, ``screenprint_log``,
      ``profiler_log_file``: logging of the ``pardus.connectivity`` logger.
    """

    source: Optional[Path] = None  # the ini file itself
    version: str = "unknown"
    data_type: str = "raster"
    scenario: str = "pairwise"
    habitat_file: Optional[Path] = None
    habitat_map_is_resistances: bool = True
    connect_four_neighbors_only: bool = False
    connect_using_avg_resistances: bool = False
    use_polygons: bool = False
    polygon_file: Optional[Path] = None
    source_file: Optional[Path] = None
    ground_file: Optional[Path] = None
    ground_file_is_resistances: bool = True
    use_unit_currents: bool = False
    use_direct_grounds: bool = False
    remove_src_or_gnd: str = "keepall"
    use_mask: bool = False
    mask_file: Optional[Path] = None
    solver: str = "cg+amg"
    parallelize: bool = False
    max_parallel: int = 0
    precision: str = "double"
    use_64bit_indexing: bool = True
    cholmod_batch_size: int = 1000
    low_memory_mode: bool = False
    preemptive_memory_release: bool = False
    use_variable_source_strengths: bool = False
    variable_source_file: Optional[Path] = None
    use_included_pairs: bool = False
    included_pairs_file: Optional[Path] = None
    point_file: Optional[Path] = None
    use_reclass_table: bool = False
    reclass_file: Optional[Path] = None
    output_file: Optional[Path] = None
    write_cur_maps: bool = False
    write_volt_maps: bool = False
    write_cum_cur_map_only: bool = False
    write_max_cur_maps: bool = False
    set_null_currents_to_nodata: bool = False
    set_null_voltages_to_nodata: bool = False
    set_focal_node_currents_to_zero: bool = False
    compress_grids: bool = False
    log_transform_maps: bool = False
    write_as_tif: bool = False
    log_file: Optional[Path] = None
    log_level: str = "INFO"
    suppress_messages: bool = False
    screenprint_log: bool = False
    profiler_log_file: Optional[Path] = None
    print_timings: bool = False
    print_rusages: bool = False
    raw: dict = field(default_factory=dict, repr=False)  # the key/value strings as read

    @property
    def output_prefix(self) -> Optional[Path]:
        """``output_file`` without its ``.out`` suffix: the stem of every output name
        (Circuitscape.jl cuts the name at ``.out``)."""
        if self.output_file is None:
            return None
        s = str(self.output_file)
        return Path(s[:-4]) if s.endswith(".out") else Path(s)

    def where(self, key: str) -> str:
        """``file: key`` for messages."""
        return f"{self.source if self.source else '<ini>'}: {key}"


_BOOL_KEYS = {f.name for f in fields(CircuitscapeConfig) if f.type in ("bool", bool)}
KNOWN_KEYS = {f.name for f in fields(CircuitscapeConfig)} - {"source", "raw"}


def _bool(where: str, key: str, v: str) -> bool:
    s = v.strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ConnectivityError(f"{where}: {key} = {v!r} is not a boolean — write True or False")


def parse_ini_text(text: str, where: str = "<ini>") -> dict[str, str]:
    """The ``key -> value`` strings of an ini text (Circuitscape.jl's ``parse_config`` rules,
    plus comment lines). A line without ``=`` outside a section header is refused."""
    d: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith((";", "#")) or s.startswith("["):
            continue
        if "=" not in s:
            raise ConnectivityError(f"{where}: line {lineno}: {s!r} is neither a [section] nor key = value — fix or delete the line")
        k, v = s.split("=", 1)
        k = k.strip()
        if k in d:
            log.warning("%s: line %d: %s given twice — the last value is used (as Circuitscape does)", where, lineno, k)
        d[k] = v.strip()
    return d


def load_ini(path, base_dir=None, output_prefix=None) -> CircuitscapeConfig:
    """Read a Circuitscape ``.ini`` file.

    ``base_dir`` is the folder relative paths are resolved against (default: the current
    directory, as Circuitscape.jl does); a relative input file missing there is also looked up
    beside the ini. ``output_prefix`` replaces the ini's ``output_file`` (give it without
    ``.out``).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise ConnectivityError(f"{p}: no such file — give the path of a Circuitscape .ini file") from None
    except OSError as exc:
        raise ConnectivityError(f"{p}: cannot be read — {exc.strerror or exc}") from None
    raw = parse_ini_text(text, str(p))
    return config_from_dict(raw, source=p, base_dir=base_dir, output_prefix=output_prefix)


def _resolve(v: str, base: Path, ini_dir: Optional[Path], must_exist: bool) -> Path:
    q = Path(os.path.expanduser(v))
    if q.is_absolute():
        return q
    first = base / q
    if must_exist and not first.exists() and ini_dir is not None and (ini_dir / q).exists():
        return ini_dir / q
    return first


def config_from_dict(raw: dict[str, str], source: Optional[Path] = None, base_dir=None, output_prefix=None) -> CircuitscapeConfig:
    """Build a :class:`CircuitscapeConfig` from key/value strings (see :func:`load_ini`)."""
    where = str(source) if source else "<ini>"
    unknown = sorted(k for k in raw if k not in KNOWN_KEYS)
    if unknown:
        raise ConnectivityError(
            f"{where}: unknown option(s) {', '.join(unknown)} — not a Circuitscape option; check the spelling or delete the line(s)")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    ini_dir = source.parent if source is not None else None
    cfg = CircuitscapeConfig(source=source, raw=dict(raw))
    for k, v in raw.items():
        if k in _BOOL_KEYS:
            setattr(cfg, k, _bool(where, k, v))
    if "version" in raw:
        cfg.version = raw["version"]
    dt = raw.get("data_type", "raster").strip().lower()
    if dt not in ("raster", "network"):
        raise ConnectivityError(f"{where}: data_type = {raw['data_type']!r} — use raster or network")
    cfg.data_type = dt
    sc = raw.get("scenario", "pairwise").strip().lower()
    if sc in ("", "not entered"):
        sc = "pairwise"  # Circuitscape.jl's fallback
    if sc not in _SCENARIOS:
        raise ConnectivityError(f"{where}: scenario = {raw['scenario']!r} — use pairwise, advanced, one-to-all or all-to-one")
    cfg.scenario = _SCENARIOS[sc]
    if cfg.data_type == "network" and cfg.scenario in ("one-to-all", "all-to-one"):
        raise ConnectivityError(f"{where}: scenario = {cfg.scenario} is for raster data only (Circuitscape has no network {cfg.scenario}) — use pairwise or advanced, or data_type = raster")
    sv = raw.get("solver", "cg+amg").strip().lower()
    if sv in _REFUSED_SOLVERS:
        raise ConnectivityError(f"{where}: solver = {raw['solver']} is not available in pardus — use cg+amg (iterative) or cholmod (direct factorisation)")
    if sv not in _SOLVERS:
        raise ConnectivityError(f"{where}: solver = {raw['solver']!r} — use cg+amg or cholmod")
    cfg.solver = _SOLVERS[sv]
    pol = raw.get("remove_src_or_gnd", "keepall").strip().lower()
    if pol in ("", "not entered"):
        pol = "keepall"  # Circuitscape 4's placeholder; Circuitscape.jl falls back to keepall
    if pol not in _POLICIES:
        raise ConnectivityError(f"{where}: remove_src_or_gnd = {raw['remove_src_or_gnd']!r} — use keepall, rmvsrc, rmvgnd or rmvall")
    cfg.remove_src_or_gnd = pol
    pr = raw.get("precision", "double").strip().lower()
    if pr not in ("single", "double"):
        raise ConnectivityError(f"{where}: precision = {raw['precision']!r} — use double or single")
    cfg.precision = pr
    if pr == "single":
        log.info("precision = single: pardus computes in double precision")
    for k in ("max_parallel", "cholmod_batch_size"):
        if k in raw:
            try:
                val = int(float(raw[k]))
            except ValueError:
                raise ConnectivityError(f"{where}: {k} = {raw[k]!r} is not a whole number — write e.g. {k} = {getattr(cfg, k)}") from None
            if val < 0:
                raise ConnectivityError(f"{where}: {k} = {val} is negative — write 0 or more")
            setattr(cfg, k, val)
    lv = raw.get("log_level", "INFO").strip().lower()
    if lv not in _LOG_LEVELS:
        raise ConnectivityError(f"{where}: log_level = {raw['log_level']!r} — use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    cfg.log_level = lv.upper()
    for k in _PATH_KEYS + ("log_file", "profiler_log_file"):
        v = raw.get(k)
        if v is not None and not _is_placeholder(v):
            setattr(cfg, k, _resolve(v, base, ini_dir, must_exist=True))
    if output_prefix is not None:
        cfg.output_file = Path(str(output_prefix) + ".out")
    else:
        v = raw.get("output_file")
        if v is not None and not _is_placeholder(v):
            # an ini whose habitat file was found beside the ini (not in base_dir) is taken to
            # be written relative to itself: its output goes beside it too
            hv = raw.get("habitat_file", "")
            rel_to_ini = (ini_dir is not None and not _is_placeholder(hv) and not Path(hv).is_absolute()
                          and not (base / hv).exists() and (ini_dir / hv).exists())
            cfg.output_file = _resolve(v, ini_dir if rel_to_ini else base, None, must_exist=False)
    _check_needed(cfg, where)
    return cfg


def _check_needed(cfg: CircuitscapeConfig, where: str) -> None:
    """Refuse a job that lacks a file its mode needs, before anything is read."""
    def need(key: str, why: str) -> None:
        if getattr(cfg, key) is None:
            raise ConnectivityError(f"{where}: {key} is not given but {why} — set {key} = <path>")

    need("habitat_file", "every job needs a habitat raster or graph")
    if cfg.output_file is None:
        raise ConnectivityError(f"{where}: output_file is not given — set output_file = <folder>/<name>.out (or pass -o/--output)")
    if cfg.scenario == "advanced":
        need("source_file", "scenario = advanced needs current sources")
        need("ground_file", "scenario = advanced needs grounds")
    else:
        need("point_file", f"scenario = {cfg.scenario} needs focal nodes")
    if cfg.use_polygons and cfg.data_type == "raster":
        need("polygon_file", "use_polygons = True")
    if cfg.use_mask and cfg.data_type == "raster":
        need("mask_file", "use_mask = True")
    if cfg.use_included_pairs and cfg.scenario != "advanced":
        need("included_pairs_file", "use_included_pairs = True")
    if cfg.use_variable_source_strengths and cfg.scenario in ("one-to-all", "all-to-one"):
        need("variable_source_file", "use_variable_source_strengths = True")
    if cfg.use_reclass_table and cfg.data_type == "raster":
        need("reclass_file", "use_reclass_table = True")
    if cfg.data_type == "network" and cfg.use_polygons:
        raise ConnectivityError(f"{where}: use_polygons = True applies to raster data only — set use_polygons = False for data_type = network")
    if cfg.data_type == "network" and cfg.use_mask:
        raise ConnectivityError(f"{where}: use_mask = True applies to raster data only — set use_mask = False for data_type = network")
