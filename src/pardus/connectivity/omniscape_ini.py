"""Omniscape ``.ini`` files: read them as Omniscape.jl does and run them with
:func:`pardus.connectivity.omniscape.omniscape` (`pardus connectivity OMNISCAPE.ini`).

An Omniscape configuration is a list of ``key = value`` lines under free section headers
(Omniscape.jl's ``parse_cfg`` ignores the headers); it is told from a Circuitscape one by its
keys (``radius``, ``project_name`` and no ``scenario``/``data_type``). The keys and their
defaults are Omniscape.jl's (``src/config.jl``, docs ``usage.md``):

- required: ``resistance_file``, ``radius`` (pixels), ``project_name``; ``block_size`` (1);
- general: ``source_file``, ``resistance_file_is_conductance`` (false), ``source_from_resistance``
  (false), ``r_cutoff`` (no cut-off), ``buffer`` (0), ``source_threshold`` (0),
  ``calc_flow_potential`` (false), ``calc_normalized_current`` (false), ``correct_artifacts``
  (true), ``connect_four_neighbors_only`` (false), ``solver`` (cg+amg), ``precision`` (double;
  ``single`` is accepted and computed in double precision), ``allow_different_projections``
  (false: grids must line up; pardus refuses misaligned grids either way);
- resistance reclassification: ``reclassify_resistance``, ``reclass_table`` (two columns: a
  value of the resistance grid and the value it becomes; ``NaN``/``missing`` as the new value
  makes the cells nodata), ``write_reclassified_resistance``;
- outputs: ``write_raw_currmap`` (true), ``mask_nodata`` (true), ``write_as_tif`` (true: GeoTIFF;
  false: ASCII grids);
- parallel: ``parallelize`` (true) and ``parallel_batch_size`` (10): pardus splits the targets
  over local processes (``-w``; with ``parallelize`` and no ``-w``, every core); the batch size
  has no effect and is said so in the log;
- conditional connectivity (``conditional = true`` and the ``condition*``/``comparison*``/
  ``compare_to_future``/``n_conditions`` keys) is not implemented: refused with a message.

Outputs go to the folder ``project_name`` (relative to the current folder); as Omniscape.jl
does, if it exists ``project_name_1``, ``_2``, … is used instead. ``-o FOLDER`` names the folder
(created or reused). Files: ``cum_currmap``, ``flow_potential`` and ``normalized_cum_currmap``
(as requested; the normalised map has 0 where the flow potential is 0, as Omniscape writes it),
``classified_resistance`` (on request) and ``config.ini`` (the configuration as run).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import parse_ini_text
from .grids import ConnectivityError, OutputStage, check_same_header, read_grid, read_table

log = logging.getLogger("pardus.connectivity")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
DEFAULTS = {
    "resistance_file": None, "radius": None, "project_name": None, "block_size": "1",
    "source_file": None, "resistance_file_is_conductance": "false", "source_from_resistance": "false",
    "r_cutoff": None, "buffer": "0", "source_threshold": "0", "calc_flow_potential": "false",
    "calc_normalized_current": "false", "correct_artifacts": "true", "connect_four_neighbors_only": "false",
    "solver": "cg+amg", "precision": "double", "allow_different_projections": "false",
    "reclassify_resistance": "false", "reclass_table": None, "write_reclassified_resistance": "false",
    "write_raw_currmap": "true", "mask_nodata": "true", "write_as_tif": "true",
    "parallelize": "true", "parallel_batch_size": "10", "conditional": "false",
}
CONDITIONAL = ("n_conditions", "compare_to_future", "condition1_file", "condition2_file", "condition1_future_file",
               "condition2_future_file", "comparison1", "comparison2", "condition1_lower", "condition2_lower",
               "condition1_upper", "condition2_upper")


def is_omniscape(raw: dict[str, str]) -> bool:
    """Whether the keys of an ini are Omniscape's rather than Circuitscape's."""
    return ("radius" in raw or "project_name" in raw) and not ({"scenario", "data_type", "habitat_file"} & set(raw))


def _placeholder(v: str | None) -> bool:
    return v is None or v.strip() == "" or v.strip().startswith("(") or v.strip().lower() in ("none", "missing")


@dataclass
class OmniscapeJob:
    source: Path
    raw: dict[str, str]
    resistance_file: Path
    source_file: Path | None
    reclass_table: Path | None
    project: Path
    kwargs: dict
    write_raw: bool
    write_as_tif: bool
    write_reclassified: bool


def load_omniscape_ini(path, raw: dict[str, str] | None = None, output: Path | None = None) -> OmniscapeJob:
    """Read and check an Omniscape ini; every problem names the file, the key and the fix."""
    p = Path(path)
    if raw is None:
        try:
            raw = parse_ini_text(p.read_text(encoding="utf-8-sig", errors="replace"), str(p))
        except OSError as exc:
            raise ConnectivityError(f"{p}: cannot be read — {exc.strerror or exc}") from None
    where = f"{p}"
    unknown = sorted(k for k in raw if k not in DEFAULTS and k not in CONDITIONAL)
    if unknown:
        raise ConnectivityError(f"{where}: unknown Omniscape option(s) {', '.join(unknown)} — check the spelling against Omniscape's usage documentation, or delete the line(s)")
    cfg = {**DEFAULTS, **raw}

    def boolean(key):
        v = (cfg[key] or "").strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise ConnectivityError(f"{where}: {key} = {cfg[key]!r} is not true or false — write true or false")

    def number(key, kind=float, minimum=None):
        v = cfg[key]
        try:
            x = kind(float(v)) if kind is int and float(v).is_integer() else kind(v)
        except (TypeError, ValueError):
            raise ConnectivityError(f"{where}: {key} = {v!r} is not a {'whole number' if kind is int else 'number'} — give one") from None
        if minimum is not None and x < minimum:
            raise ConnectivityError(f"{where}: {key} = {v} — give a value ≥ {minimum}")
        return x

    for key in ("resistance_file", "radius", "project_name"):
        if _placeholder(cfg[key]):
            raise ConnectivityError(f"{where}: {key} is missing — Omniscape needs resistance_file, radius and project_name")
    if boolean("conditional"):  # the condition keys mean nothing without it, as in Omniscape
        raise ConnectivityError(f"{where}: conditional = true — conditional connectivity is not implemented in pardus; set conditional = false")
    base, ini_dir = Path.cwd(), p.parent
    beside_ini = set()

    def resolve(key):
        q = Path(os.path.expanduser(cfg[key]))
        if q.is_absolute():
            return q
        if not (base / q).exists() and (ini_dir / q).exists():
            beside_ini.add(key)
            return ini_dir / q
        return base / q

    resistance_file = resolve("resistance_file")
    from_res = boolean("source_from_resistance")
    source_file = None if _placeholder(cfg["source_file"]) else resolve("source_file")
    if source_file is None and not from_res:
        raise ConnectivityError(f"{where}: source_file is missing and source_from_resistance = false — give a source_file, or set source_from_resistance = true")
    if source_file is not None and from_res:
        log.warning("%s: source_from_resistance = true — source_file is not used (as in Omniscape)", where)
        source_file = None
    reclass = boolean("reclassify_resistance")
    reclass_table = resolve("reclass_table") if reclass and not _placeholder(cfg["reclass_table"]) else None
    if reclass and reclass_table is None:
        raise ConnectivityError(f"{where}: reclassify_resistance = true but reclass_table is missing — give the table's path")
    solver = (cfg["solver"] or "cg+amg").strip().lower()
    if solver not in ("cg+amg", "cholmod"):
        raise ConnectivityError(f"{where}: solver = {cfg['solver']!r} — Omniscape's solvers are cg+amg and cholmod")
    if (cfg["precision"] or "double").strip().lower() == "single":
        log.info("%s: precision = single — pardus computes in double precision", where)
    if int(number("parallel_batch_size", int, 1)) != 10:
        log.info("%s: parallel_batch_size has no effect in pardus (targets are split evenly over the workers)", where)
    r_cut = math.inf if _placeholder(cfg["r_cutoff"]) else number("r_cutoff")
    if not from_res and math.isfinite(r_cut):
        log.warning("%s: r_cutoff applies only with source_from_resistance = true — not used here (as in Omniscape)", where)
        r_cut = math.inf
    block = number("block_size", int, 1)
    if block % 2 == 0:
        raise ConnectivityError(f"{where}: block_size = {block} — Omniscape's block size is odd (1, 3, 5, …)")
    if output is not None:
        project = Path(output)
    else:
        q = Path(cfg["project_name"])
        # relative to the current folder, as Omniscape; beside the ini when its inputs are (an ini written relative to itself)
        project = q if q.is_absolute() else (ini_dir if "resistance_file" in beside_ini else base) / q
        k, candidate = 0, project
        while candidate.exists():  # as Omniscape.jl: a new folder beside an existing one
            k += 1
            candidate = project.with_name(f"{project.name}_{k}")
        project = candidate
    kwargs = dict(
        radius=number("radius", int, 1), block_size=block, buffer=number("buffer", int, 0), source_threshold=number("source_threshold"),
        source_from_resistance=from_res, **({"r_cutoff": r_cut} if from_res else {}), conductance=boolean("resistance_file_is_conductance"),
        four_neighbors=boolean("connect_four_neighbors_only"), calc_flow_potential=boolean("calc_flow_potential"),
        calc_normalized_current=boolean("calc_normalized_current"), correct_artifacts=boolean("correct_artifacts"),
        mask_nodata=boolean("mask_nodata"), solver=solver,
    )
    boolean("allow_different_projections")
    job = OmniscapeJob(p, raw, resistance_file, source_file, reclass_table, project, kwargs, boolean("write_raw_currmap"), boolean("write_as_tif"), boolean("write_reclassified_resistance"))
    job.parallelize = boolean("parallelize")
    return job


def _reclassify(data: np.ndarray, table: Path) -> np.ndarray:
    rows, lines = read_table(table, "reclass_table", 2, 2)
    out = data.copy()
    for (old, new), ln in zip(rows, lines):
        out[data == old] = new
    return out


def run_omniscape_job(job: OmniscapeJob, workers: int | None = None, progress=None):
    """Run a loaded Omniscape job and write its outputs (all or nothing); returns
    (result, written files)."""
    from .omniscape import omniscape

    res = read_grid(job.resistance_file, "resistance_file")
    data = res.data
    if job.reclass_table is not None:
        data = _reclassify(data, job.reclass_table)
    src = None
    if job.source_file is not None:
        s = read_grid(job.source_file, "source_file")
        check_same_header(res, s, "resistance_file", "source_file")
        src = np.nan_to_num(s.data, nan=0.0)
    if workers is None:
        workers = (os.cpu_count() or 1) if getattr(job, "parallelize", False) else 1
    try:
        result = omniscape(data, source_strength=src, workers=workers, progress=progress, **job.kwargs)
    except ValueError as exc:
        raise ConnectivityError(f"{job.source}: {exc}") from None
    stage = OutputStage(job.project)
    h = res.header
    try:
        tif = job.write_as_tif
        if job.write_raw:
            stage.grid(job.project / "cum_currmap", result.cumulative_current, h, geotiff=tif)
        if job.kwargs["calc_flow_potential"] and result.flow_potential is not None:
            stage.grid(job.project / "flow_potential", result.flow_potential, h, geotiff=tif)
        if job.kwargs["calc_normalized_current"] and result.normalized_current is not None:
            stage.grid(job.project / "normalized_cum_currmap", result.normalized_current, h, geotiff=tif)
        if job.write_reclassified and job.reclass_table is not None:
            stage.grid(job.project / "classified_resistance", data, h, geotiff=tif)
        stage.text(job.project / "config.ini", "".join(f"{k} = {v}\n" for k, v in job.raw.items()))
        files = stage.commit()
    except BaseException:
        stage.discard()
        raise
    return result, files
