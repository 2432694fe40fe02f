"""Circuitscape's modes on pardus's circuit core, with Circuitscape's output files.

:func:`run_config` runs a :class:`~pardus.connectivity.config.CircuitscapeConfig`: raster
pairwise, one-to-all, all-to-one and advanced, network pairwise and advanced. Outputs are
named ``<prefix>_<what>[_<ids>].<ext>`` as Circuitscape.jl names them, where ``<prefix>`` is
``output_file`` without ``.out``. All outputs are staged in hidden temporary files and moved
into place only when the whole job succeeded.

Differences from Circuitscape.jl, on purpose (documented behaviour of pardus):

- pairwise mode solves k - 1 grounded systems per component of k focal nodes, whatever the
  output options (Circuitscape.jl solves every pair unless no maps are asked for);
- ``set_null_currents_to_nodata``/``set_null_voltages_to_nodata`` and ``log_transform_maps``
  are applied to every written map, in every mode, at writing time (Circuitscape.jl applies them
  only in pairwise mode, and applies the log before summing the cumulative map);
- ``remove_src_or_gnd = rmvall`` removes both the source and the ground of a conflicting node
  (as Circuitscape 4 documents; Circuitscape.jl removes only the source);
- network pairwise mode honours ``use_included_pairs`` (Circuitscape.jl reads the pairs file
  only for rasters);
- network mode keeps the node ids of the input files in its outputs (Circuitscape 4 did the
  same; Circuitscape.jl renumbers from 1), and ``use_unit_currents``/``use_direct_grounds``
  apply to network advanced mode as they do to rasters.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from . import circuit as C
from .config import CircuitscapeConfig
from .grids import (ConnectivityError, Grid, GridHeader, OutputStage, PairsSpec, check_same_header, format_number,
                    is_text_list, points_to_cells, read_graph, read_grid, read_node_list, read_node_values,
                    read_pairs_file, read_point_list, read_table)

__all__ = ["run_config", "run_ini", "CircuitscapeResult"]

log = logging.getLogger("pardus.connectivity")
NODATA = -9999.0


@dataclass
class CircuitscapeResult:
    """What a job computed. ``resistances``: for pairwise, the (n+1)×(n+1) matrix with ids in
    row and column 0 (-1 = not connected or not computed); for one-to-all/all-to-one, rows
    ``id R``; ``None`` for advanced. ``voltages``: advanced mode, the voltage grid (raster)
    or rows ``node V`` (network). ``files``: every written file."""

    mode: str
    data_type: str
    solver: str
    resistances: Optional[np.ndarray] = None
    voltages: Optional[np.ndarray] = None
    files: list = field(default_factory=list)
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    solves: int = 0


class _Job:
    """State shared by the modes: configuration, output stage, solver choice."""

    def __init__(self, cfg: CircuitscapeConfig, prefix: Path, stage: OutputStage, workers: int, geotiff: bool, rtol: float):
        self.cfg = cfg
        self.prefix = prefix
        self.stage = stage
        self.workers = workers
        self.geotiff = geotiff or cfg.write_as_tif
        self.rtol = rtol
        self.kind = cfg.solver
        self.solves = 0

    @property
    def solver_label(self) -> str:
        if self.kind == "cholmod":
            return "direct sparse factorisation (SuperLU, reused for every right-hand side)"
        return f"conjugate gradient + smoothed-aggregation AMG (pyamg), rtol {self.rtol:g}"

    def name(self, what: str) -> str:
        return f"{self.prefix}_{what}"

    def write_text(self, what: str, text: str) -> None:
        self.stage.text(self.name(what), text)

    def write_map(self, what: str, data: np.ndarray, header: GridHeader) -> None:
        self.stage.grid(self.name(what), data, header, compress=self.cfg.compress_grids, geotiff=self.geotiff)


# ---------------------------------------------------------------- raster input


@dataclass
class _Raster:
    g: np.ndarray  # conductance, 0 = no habitat
    header: GridHeader
    habitat: Grid
    polygons: Optional[np.ndarray]


def _int_grid(grid: Grid, key: str) -> np.ndarray:
    d = np.where(np.isfinite(grid.data), grid.data, 0.0)
    bad = d != np.floor(d)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ConnectivityError(f"{key}: {grid.path}: cell (row {r + 1}, column {c + 1}) holds {d[r, c]!r} — ids must be whole numbers")
    return d.astype(np.int64)


def _reclass(values: np.ndarray, cfg: CircuitscapeConfig) -> np.ndarray:
    """Circuitscape's reclassification table: lines ``old new``; habitat cells equal to
    ``old`` get ``new`` (``new`` = NODATA value -9999 removes them)."""
    t, _ = read_table(cfg.reclass_file, "reclass_file", 2)
    out = values.copy()
    for old, new in t:
        out[values == old] = np.nan if new == NODATA else new
    return out


def _load_raster(cfg: CircuitscapeConfig) -> _Raster:
    hab = read_grid(cfg.habitat_file, "habitat_file")
    vals = hab.data
    if cfg.use_reclass_table:
        vals = _reclass(vals, cfg)
    fin = np.isfinite(vals)
    if (vals[fin] < 0).any():
        r, c = np.argwhere(fin & (vals < 0))[0]
        raise ConnectivityError(f"habitat_file: {hab.path}: cell (row {r + 1}, column {c + 1}) is negative ({vals[r, c]!r}) — "
                                "resistances and conductances must be >= 0 (use the NODATA value for cells without habitat)")
    if cfg.habitat_map_is_resistances:
        if (vals[fin] == 0).any():
            r, c = np.argwhere(fin & (vals == 0))[0]
            raise ConnectivityError(f"habitat_file: {hab.path}: cell (row {r + 1}, column {c + 1}) has resistance 0, which Circuitscape does not support — "
                                    "give a short-circuit region (polygon_file) instead, or a small positive resistance")
        with np.errstate(divide="ignore"):
            g = np.where(fin, 1.0 / np.where(fin, vals, 1.0), 0.0)
    else:
        g = np.where(fin, vals, 0.0)
    poly = None
    if cfg.use_polygons:
        pg = read_grid(cfg.polygon_file, "polygon_file")
        check_same_header(hab, pg, "habitat_file", "polygon_file")
        poly = _int_grid(pg, "polygon_file")
        poly[poly < 0] = 0
    if cfg.use_mask:
        mg = read_grid(cfg.mask_file, "mask_file")
        check_same_header(hab, mg, "habitat_file", "mask_file")
        m = np.where(np.isfinite(mg.data), mg.data, 0.0)
        g = np.where(m > 0, g, 0.0)
        if not (g > 0).any():
            raise ConnectivityError(f"mask_file: {mg.path} removes every habitat cell — check the mask (cells <= 0 or NODATA are removed)")
    return _Raster(g, hab.header, hab, poly)


@dataclass
class _Points:
    rows: np.ndarray
    cols: np.ndarray
    ids: np.ndarray  # sorted (stable) by id


def _load_points(cfg: CircuitscapeConfig, ras: _Raster) -> _Points:
    """Focal nodes: a grid (value = id; 0, NODATA and negative = none) or a text list
    ``id x y``; sorted by id (stable: grid cells column-major, list in file order)."""
    p = cfg.point_file
    from .grids import _check_file
    _check_file(p, "point_file")
    if is_text_list(p):
        v, x, y, lines = read_point_list(p, "point_file")
        keep = v >= 0
        if (v[keep] != np.floor(v[keep])).any():
            k = int(np.flatnonzero(keep & (v != np.floor(v)))[0])
            raise ConnectivityError(f"point_file: {p}: line {lines[k]}: id {v[k]!r} is not a whole number")
        v, x, y = v[keep], x[keep], y[keep]
        lines = [ln for ln, k in zip(lines, keep) if k]
        r, c = points_to_cells(x, y, ras.header, "point_file", p, lines)
        ids = v.astype(np.int64)
    else:
        grid = read_grid(p, "point_file")
        check_same_header(ras.habitat, grid, "habitat_file", "point_file")
        d = _int_grid(grid, "point_file")
        cells = np.flatnonzero((d > 0).ravel(order="F"))
        r, c = np.unravel_index(cells, d.shape, order="F")
        ids = d[r, c]
    order = np.argsort(ids, kind="stable")
    pts = _Points(np.asarray(r)[order], np.asarray(c)[order], ids[order])
    if len(np.unique(pts.ids)) < 2:
        raise ConnectivityError(f"point_file: {p}: fewer than two focal nodes (ids > 0) — give at least two")
    return pts


def _prune(pts: _Points, keep_ids) -> _Points:
    k = np.isin(pts.ids, np.asarray(list(keep_ids), dtype=np.int64))
    return _Points(pts.rows[k], pts.cols[k], pts.ids[k])


def _exclusions(spec: Optional[PairsSpec]) -> set:
    """Pairs (a, b) (both orders) that are not solved (Circuitscape's ``generate_exclude_pairs``)."""
    out = set()
    if spec is None:
        return out
    ids = spec.ids.tolist()
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            if spec.mode == "include":
                if spec.matrix[i, j] == 0 and spec.matrix[j, i] == 0:
                    out.add((a, b))
            elif spec.matrix[i, j] == 1 and spec.matrix[j, i] == 1:
                out.add((a, b))
    return out


def _burn_regions(polymap: Optional[np.ndarray], shape, pts: _Points, which) -> np.ndarray:
    """Polygon grid with each focal region in ``which`` (an id on several cells) merged into
    one short-circuit region together with every polygon it touches."""
    newpoly = np.zeros(shape, dtype=np.int64) if polymap is None else polymap.copy()
    k = int(newpoly.max()) if newpoly.size else 0
    for p in which:
        sel = pts.ids == p
        if sel.sum() <= 1:
            continue
        r, c = pts.rows[sel], pts.cols[sel]
        touched = set(np.unique(newpoly[r, c]).tolist()) - {0}
        k += 1
        for t in touched:
            newpoly[newpoly == t] = k
        newpoly[r, c] = k
    return newpoly


# ---------------------------------------------------------------- map helpers


def _cells_of(nm: np.ndarray, nodes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat cell indices of the nodes of one component and their local node index."""
    loc = np.full(n, -1, dtype=np.int64)
    loc[nodes] = np.arange(len(nodes))
    flat = nm.ravel()
    has = flat >= 0
    cell_loc = np.full(flat.shape, -1, dtype=np.int64)
    cell_loc[has] = loc[flat[has]]
    cells = np.flatnonzero(cell_loc >= 0)
    return cells, cell_loc[cells]


def _to_grid(shape, cells: np.ndarray, local: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(int(np.prod(shape)))
    out[cells] = values[local]
    return out.reshape(shape)


def _finish_current(job: _Job, cmap: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A current map as written: log10 (<= 0 -> NODATA) with ``log_transform_maps`` (applied
    when writing, as Circuitscape 4 does), removed cells NODATA with
    ``set_null_currents_to_nodata``."""
    out = cmap.copy()
    if job.cfg.log_transform_maps:
        with np.errstate(divide="ignore"):
            out = np.where(out > 0, np.log10(np.where(out > 0, out, 1.0)), NODATA)
    if job.cfg.set_null_currents_to_nodata:
        out[g == 0] = NODATA
    return out


def _finish_voltage(job: _Job, vmap: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = vmap.copy()
    if job.cfg.set_null_voltages_to_nodata:
        out[g == 0] = NODATA
    return out


def _write_resistance_matrix(job: _Job, ids, R: np.ndarray, three_columns: bool = True) -> np.ndarray:
    n = len(ids)
    M = np.zeros((n + 1, n + 1))
    M[0, 1:] = ids
    M[1:, 0] = ids
    M[1:, 1:] = R
    job.write_text("resistances.out", "\n".join(" ".join(format_number(float(x)) for x in row) for row in M) + "\n")
    if three_columns:
        rows = [f"{format_number(float(ids[i]))} {format_number(float(ids[j]))} {format_number(float(R[j, i]))}"
                for i in range(n) for j in range(i + 1, n)]
        job.write_text("resistances_3columns.out", "\n".join(rows) + ("\n" if rows else ""))
    return M


# ---------------------------------------------------------------- raster pairwise


def _raster_pairwise(job: _Job) -> CircuitscapeResult:
    cfg = job.cfg
    ras = _load_raster(cfg)
    pts = _load_points(cfg, ras)
    spec = read_pairs_file(cfg.included_pairs_file) if cfg.use_included_pairs else None
    if spec is not None and spec.mode == "include":
        pts = _prune(pts, spec.ids)
        if len(np.unique(pts.ids)) < 2:
            raise ConnectivityError(f"included_pairs_file: {cfg.included_pairs_file}: fewer than two of its ids are focal nodes of point_file {cfg.point_file} — check the ids")
    excl = _exclusions(spec)
    want_cur = cfg.write_cur_maps or cfg.write_cum_cur_map_only
    want_pair_cur = cfg.write_cur_maps and not cfg.write_cum_cur_map_only
    want_volt = cfg.write_volt_maps
    shape = ras.g.shape
    cum = np.zeros(shape) if want_cur else None
    mx = np.full(shape, -np.inf) if (want_cur and cfg.write_max_cur_maps) else None
    regions = len(pts.ids) != len(np.unique(pts.ids))
    uids = np.unique(pts.ids)
    hdr = ras.header

    def emit(name: str, v_grid: Optional[np.ndarray], c_grid: Optional[np.ndarray], focal_nodes, nm_pair):
        """Write a pair's maps and add its currents to the cumulative/maximum maps. With
        ``set_focal_node_currents_to_zero`` every cell of the pair's two nodes carries 0, also
        in the cumulative map (Circuitscape 4's ``write_c_map``)."""
        if want_volt and v_grid is not None:
            job.write_map(f"voltmap_{name}", _finish_voltage(job, v_grid, ras.g), hdr)
        if want_cur and c_grid is not None:
            if cfg.set_focal_node_currents_to_zero and focal_nodes is not None:
                c_grid = np.where(np.isin(nm_pair, focal_nodes), 0.0, c_grid)
            cum[...] += c_grid
            if mx is not None:
                np.maximum(mx, c_grid, out=mx)
            if want_pair_cur:
                job.write_map(f"curmap_{name}", _finish_current(job, c_grid, ras.g), hdr)

    if not regions:
        graph, nm = C.raster_graph(ras.g, ras.polygons, cfg.connect_four_neighbors_only, cfg.connect_using_avg_resistances)
        log.info("graph: %d nodes, %d focal nodes, %d connected components", graph.n, len(pts.ids), graph.ncomp)
        L = graph.laplacian()
        ids = pts.ids
        n = len(ids)
        node_of = nm[pts.rows, pts.cols]
        R = -np.ones((n, n))
        focal_labels = np.unique(graph.labels[node_of[node_of >= 0]]) if (node_of >= 0).any() else []
        for c in focal_labels:
            in_c = np.flatnonzero((node_of >= 0) & (graph.labels[np.maximum(node_of, 0)] == c))
            # distinct nodes in order of first appearance (Circuitscape's csub)
            seen: dict[int, list[int]] = {}
            for e in in_c:
                seen.setdefault(int(node_of[e]), []).append(int(e))
            nodes_list = list(seen)
            for es in seen.values():  # several ids on one node: R = 0 (smash_repeats)
                for a in es:
                    for b in es:
                        R[a, b] = 0.0
            # pairs of ids on one node: R = 0 and all-zero maps (as Circuitscape 4 wrote them)
            if want_cur or want_volt:
                for es in seen.values():
                    for x in range(len(es)):
                        for y in range(x + 1, len(es)):
                            a, b = es[x], es[y]
                            if (int(ids[a]), int(ids[b])) not in excl:
                                z = np.zeros(shape)
                                emit(f"{ids[a]}_{ids[b]}", z, z, None, nm)
            if len(nodes_list) < 2:
                continue
            comp_nodes = graph.component_nodes(c)
            loc = np.full(graph.n, -1, dtype=np.int64)
            loc[comp_nodes] = np.arange(len(comp_nodes))
            focal_local = loc[np.array(nodes_list)]
            need_v = want_cur or want_volt
            sol, _solver = C.pairwise_resistances(L, comp_nodes, focal_local, job.kind, need_v, job.rtol, job.workers)
            job.solves += len(nodes_list) - 1
            if need_v:
                Ac = graph.A[comp_nodes][:, comp_nodes].tocsr()
                edges = C.upper_edges(Ac)
                cells, local = _cells_of(nm, comp_nodes, graph.n)
            for p in range(len(nodes_list)):
                for q in range(p + 1, len(nodes_list)):
                    combos = [(a, b) for a in seen[nodes_list[p]] for b in seen[nodes_list[q]] if (int(ids[a]), int(ids[b])) not in excl]
                    if not combos:
                        continue
                    r = sol.resistance(p, q)
                    v = sol.voltages(p, q) if need_v else None
                    cg = None
                    vg = None
                    if need_v:
                        vg = _to_grid(shape, cells, local, v) if want_volt else None
                        if want_cur:
                            cur = C.node_currents(Ac, v, edges=edges)
                            cg = _to_grid(shape, cells, local, cur)
                    for a, b in combos:
                        R[a, b] = R[b, a] = r
                        if need_v:
                            emit(f"{ids[a]}_{ids[b]}", vg, cg, [nodes_list[p], nodes_list[q]], nm)
        np.fill_diagonal(R, 0.0)
        out_ids = ids
    else:
        n = len(uids)
        R = -np.ones((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                p1, p2 = int(uids[i]), int(uids[j])
                if (p1, p2) in excl or (p2, p1) in excl:
                    continue
                newpoly = _burn_regions(ras.polygons, shape, pts, (p1, p2))
                graph, nm = C.raster_graph(ras.g, newpoly, cfg.connect_four_neighbors_only, cfg.connect_using_avg_resistances)
                e1 = int(np.flatnonzero(pts.ids == p1)[0])
                e2 = int(np.flatnonzero(pts.ids == p2)[0])
                n1, n2 = int(nm[pts.rows[e1], pts.cols[e1]]), int(nm[pts.rows[e2], pts.cols[e2]])
                if n1 < 0 or n2 < 0 or graph.labels[n1] != graph.labels[n2]:
                    continue
                if n1 == n2:
                    R[i, j] = R[j, i] = 0.0
                    if want_cur or want_volt:
                        z = np.zeros(shape)
                        emit(f"{p1}_{p2}", z, z, None, nm)
                    continue
                comp_nodes = graph.component_nodes(graph.labels[n1])
                loc = np.full(graph.n, -1, dtype=np.int64)
                loc[comp_nodes] = np.arange(len(comp_nodes))
                L = graph.laplacian()
                need_v = want_cur or want_volt
                sol, _ = C.pairwise_resistances(L, comp_nodes, np.array([loc[n1], loc[n2]]), job.kind, need_v, job.rtol, 1)
                job.solves += 1
                R[i, j] = R[j, i] = sol.resistance(0, 1)
                if need_v:
                    v = sol.voltages(0, 1)
                    Ac = graph.A[comp_nodes][:, comp_nodes].tocsr()
                    cells, local = _cells_of(nm, comp_nodes, graph.n)
                    vg = _to_grid(shape, cells, local, v) if want_volt else None
                    cg = _to_grid(shape, cells, local, C.node_currents(Ac, v)) if want_cur else None
                    emit(f"{p1}_{p2}", vg, cg, [n1, n2], nm)
        np.fill_diagonal(R, 0.0)
        out_ids = uids
    if want_cur:
        job.write_map("cum_curmap", _finish_current(job, cum, ras.g), hdr)
        if mx is not None:
            job.write_map("max_curmap", _finish_current(job, np.where(np.isfinite(mx), mx, 0.0), ras.g), hdr)
    M = _write_resistance_matrix(job, out_ids, R)
    return CircuitscapeResult("pairwise", "raster", job.solver_label, resistances=M)


# ---------------------------------------------------------------- one-to-all / all-to-one


def _source_strengths(cfg: CircuitscapeConfig) -> dict[int, float]:
    ids, vals, _ = read_node_values(cfg.variable_source_file, "variable_source_file")
    return dict(zip(ids.tolist(), vals.tolist()))


def _raster_one_all(job: _Job) -> CircuitscapeResult:
    cfg = job.cfg
    one_to_all = cfg.scenario == "one-to-all"
    ras = _load_raster(cfg)
    pts = _load_points(cfg, ras)
    spec = read_pairs_file(cfg.included_pairs_file) if cfg.use_included_pairs else None
    if spec is not None:
        pts = _prune(pts, spec.ids)
    strengths = _source_strengths(cfg) if cfg.use_variable_source_strengths else {}
    uids = np.unique(pts.ids)
    if len(uids) < 1:
        raise ConnectivityError(f"point_file: {cfg.point_file}: no focal node is left — check included_pairs_file")
    shape = ras.g.shape
    newpoly = _burn_regions(ras.polygons, shape, pts, uids.tolist())
    graph, nm = C.raster_graph(ras.g, newpoly, cfg.connect_four_neighbors_only, cfg.connect_using_avg_resistances)
    L = graph.laplacian()
    log.info("graph: %d nodes, %d focal nodes, %d connected components", graph.n, len(uids), graph.ncomp)
    node_of_id = {int(u): int(nm[pts.rows[np.flatnonzero(pts.ids == u)[0]], pts.cols[np.flatnonzero(pts.ids == u)[0]]]) for u in uids}
    want_cur = cfg.write_cur_maps or cfg.write_cum_cur_map_only
    # Circuitscape writes the per-point current maps in these modes even with
    # write_cum_cur_map_only (its advanced kernel writes them whenever current maps are on)
    want_pt_cur = want_cur
    cum = np.zeros(shape) if want_cur else None
    mx = np.full(shape, -np.inf) if (want_cur and cfg.write_max_cur_maps) else None
    res = np.zeros(len(uids))
    spec_pos = {int(v): i for i, v in enumerate(spec.ids.tolist())} if spec is not None else {}
    for i, n_id in enumerate(uids.tolist()):
        others = [int(u) for u in uids.tolist() if u != n_id]
        if spec is not None:
            pi = spec_pos[n_id]
            if spec.mode == "include":
                others = [u for u in others if spec.matrix[pi, spec_pos[u]] == 1 or spec.matrix[spec_pos[u], pi] == 1]
            else:
                others = [u for u in others if not (spec.matrix[pi, spec_pos[u]] == 1 and spec.matrix[spec_pos[u], pi] == 1)]
        src_node = node_of_id[n_id]
        # all-to-one: every other focal node injects current; the pairs file only decides
        # whether node n is solved at all (Circuitscape's onetoall_kernel)
        sources_from = others if one_to_all else [int(u) for u in uids.tolist() if u != n_id]
        if not others:
            res[i] = -1
            continue
        if src_node < 0:  # focal node on NODATA: R = -1 and all-zero maps, as Circuitscape
            res[i] = -1
            z = np.zeros(shape)
            if cfg.write_volt_maps:
                job.write_map(f"voltmap_{n_id}", _finish_voltage(job, z, ras.g), ras.header)
            if want_pt_cur:
                job.write_map(f"curmap_{n_id}", _finish_current(job, z, ras.g), ras.header)
            continue
        comp = graph.labels[src_node]
        comp_nodes = graph.component_nodes(comp)
        loc = np.full(graph.n, -1, dtype=np.int64)
        loc[comp_nodes] = np.arange(len(comp_nodes))
        m = len(comp_nodes)
        sources = np.zeros(m)
        grounds = np.zeros(m)
        if one_to_all:
            s = float(strengths.get(n_id, 1.0))
            sources[loc[src_node]] += s
            for u in others:
                nd = node_of_id[u]
                if nd >= 0 and loc[nd] >= 0:
                    grounds[loc[nd]] = np.inf
            grounds[loc[src_node]] = 0.0  # rmvgnd: the source node keeps its source
        else:
            for u in sources_from:
                nd = node_of_id[u]
                if nd >= 0 and loc[nd] >= 0:
                    # a point excluded from n's pairs still injects, at strength 1 (Circuitscape.jl)
                    sources[loc[nd]] += float(strengths.get(u, 1.0)) if u in others else 1.0
            grounds[loc[src_node]] = np.inf
            sources[loc[src_node]] = 0.0  # rmvsrc
        if sources.sum() == 0 or grounds.sum() == 0:
            # nothing to solve: R = -1, and all-zero maps (Circuitscape writes them too)
            res[i] = -1
            v = np.zeros(m)
        else:
            v, _ = C.solve_advanced(L, comp_nodes, sources, grounds, job.kind, job.rtol)
            job.solves += 1
            if one_to_all:
                val = v[loc[src_node]] / sources[loc[src_node]]
                res[i] = -1 if val == 0 else val
            else:
                res[i] = 0.0
        cells, local = _cells_of(nm, comp_nodes, graph.n)
        if cfg.write_volt_maps:
            job.write_map(f"voltmap_{n_id}", _finish_voltage(job, _to_grid(shape, cells, local, v), ras.g), ras.header)
        if want_cur:
            Ac = graph.A[comp_nodes][:, comp_nodes].tocsr()
            cg = _to_grid(shape, cells, local, C.node_currents(Ac, v)) if v.any() else np.zeros(shape)
            cum += cg
            if mx is not None:
                np.maximum(mx, cg, out=mx)
            if want_pt_cur:
                sel = pts.ids == n_id
                job.write_map(f"curmap_{n_id}", _finish_current(job, cg, ras.g), ras.header)
    if want_cur:
        job.write_map("cum_curmap", _finish_current(job, cum, ras.g), ras.header)
        if mx is not None:
            job.write_map("max_curmap", _finish_current(job, np.where(np.isfinite(mx), mx, 0.0), ras.g), ras.header)
    table = np.column_stack([uids.astype(float), res])
    job.write_text("resistances.out", "".join(f"{format_number(a)} {format_number(b)}\n" for a, b in table))
    return CircuitscapeResult(cfg.scenario, "raster", job.solver_label, resistances=table)


# ---------------------------------------------------------------- advanced


def _resolve_conflicts(sources: np.ndarray, grounds: np.ndarray, policy: str) -> None:
    """Nodes with both a source and a ground: ``rmvsrc`` drops the source, ``rmvgnd`` the
    ground, ``rmvall`` both, ``keepall`` keeps both — except a direct ground, which always
    gives way to a source (Circuitscape's ``resolve_conflicts``)."""
    both = (sources != 0) & (grounds != 0)
    if both.any():
        if policy in ("rmvsrc", "rmvall"):
            sources[both] = 0.0
        if policy in ("rmvgnd", "rmvall"):
            grounds[both] = 0.0
    grounds[np.isinf(grounds) & (sources > 0)] = 0.0


def _raster_layer(cfg: CircuitscapeConfig, ras: _Raster, path: Path, key: str, fill_nodata: float) -> np.ndarray:
    """A source or ground layer: a grid (NODATA -> ``fill_nodata``) or a text list
    ``value x y``."""
    from .grids import _check_file
    _check_file(path, key)
    if is_text_list(path):
        v, x, y, lines = read_point_list(path, key)
        r, c = points_to_cells(x, y, ras.header, key, path, lines)
        out = np.full(ras.g.shape, fill_nodata)
        out[r, c] = v
        return out
    grid = read_grid(path, key)
    check_same_header(ras.habitat, grid, "habitat_file", key)
    return np.where(np.isfinite(grid.data), grid.data, fill_nodata)


def _active_components(graph: C.Graph, sources: np.ndarray, grounds: np.ndarray) -> list[int]:
    """Components whose sources and grounds both sum to non-zero: the only ones Circuitscape
    solves (a component without a ground has no defined voltages; one without sources has 0)."""
    if graph.n == 0:
        return []
    s = np.bincount(graph.labels, weights=sources, minlength=graph.ncomp)
    g = np.bincount(graph.labels, weights=np.where(np.isinf(grounds), 1.0, grounds), minlength=graph.ncomp)
    return np.flatnonzero((s != 0) & (g != 0)).tolist()


def _raster_advanced(job: _Job) -> CircuitscapeResult:
    cfg = job.cfg
    ras = _load_raster(cfg)
    src = _raster_layer(cfg, ras, cfg.source_file, "source_file", 0.0)
    gnd = _raster_layer(cfg, ras, cfg.ground_file, "ground_file", np.nan)
    if cfg.ground_file_is_resistances:
        with np.errstate(divide="ignore"):
            gnd = np.where(np.isnan(gnd), 0.0, 1.0 / np.where(np.isnan(gnd), 1.0, gnd))
    else:
        gnd = np.where(np.isnan(gnd), 0.0, gnd)
    if (gnd < 0).any():
        raise ConnectivityError(f"ground_file: {cfg.ground_file} holds a negative value — ground resistances/conductances must be >= 0")
    if cfg.use_unit_currents:
        src = np.where(src != 0, 1.0, 0.0)
    if cfg.use_direct_grounds:
        gnd = np.where(gnd != 0, np.inf, 0.0)
    graph, nm = C.raster_graph(ras.g, ras.polygons, cfg.connect_four_neighbors_only, cfg.connect_using_avg_resistances)
    L = graph.laplacian()
    flat_nm = nm.ravel()
    has = flat_nm >= 0
    sources = np.zeros(graph.n)
    grounds = np.zeros(graph.n)
    np.add.at(sources, flat_nm[has], src.ravel()[has])
    np.add.at(grounds, flat_nm[has], gnd.ravel()[has])
    _resolve_conflicts(sources, grounds, cfg.remove_src_or_gnd)
    shape = ras.g.shape
    vmap = np.zeros(shape)
    cmap = np.zeros(shape)
    solved = False
    for c in _active_components(graph, sources, grounds):
        nodes = graph.component_nodes(c)
        s, gr = sources[nodes], grounds[nodes]
        v, _ = C.solve_advanced(L, nodes, s, gr, job.kind, job.rtol)
        job.solves += 1
        solved = True
        cells, local = _cells_of(nm, nodes, graph.n)
        vmap.ravel()[cells] = v[local]
        Ac = graph.A[nodes][:, nodes].tocsr()
        fin = np.where(np.isfinite(gr), gr, 0.0)
        cur = C.node_currents(Ac, v, finite_grounds=fin if (fin != 0).any() else None)
        cmap.ravel()[cells] = cur[local]
    if not solved:
        log.warning("no connected component has both a source and a ground — every voltage and current is 0")
    if cfg.write_volt_maps:
        job.write_map("voltmap", _finish_voltage(job, vmap, ras.g), ras.header)
    if cfg.write_cur_maps or cfg.write_cum_cur_map_only:
        job.write_map("curmap", _finish_current(job, cmap, ras.g), ras.header)
    return CircuitscapeResult("advanced", "raster", job.solver_label, voltages=vmap)


# ---------------------------------------------------------------- network


def _fmt_rows(rows) -> str:
    return "".join(" ".join(format_number(float(x)) for x in r) + "\n" for r in rows)


def _network_graph(cfg: CircuitscapeConfig):
    a, b, w, _lines = read_graph(cfg.habitat_file, "habitat_file", cfg.habitat_map_is_resistances)
    graph, ids = C.network_graph(a, b, w)
    return graph, ids, (a, b)


def _network_pairwise(job: _Job) -> CircuitscapeResult:
    cfg = job.cfg
    graph, gids, (ea, eb) = _network_graph(cfg)
    fp = read_node_list(cfg.point_file, "point_file")
    index = {int(v): k for k, v in enumerate(gids.tolist())}
    missing = [int(v) for v in fp if int(v) not in index]
    if missing:
        log.warning("point_file %s: node(s) %s are not in the graph — their resistances are -1", cfg.point_file, missing)
    fp_u = np.array(sorted(set(fp.tolist()))) if len(set(fp.tolist())) != len(fp) else fp
    spec = read_pairs_file(cfg.included_pairs_file, zero_is_id=True) if cfg.use_included_pairs else None
    if spec is not None and spec.mode == "include":
        fp_u = fp_u[np.isin(fp_u, spec.ids)]
    excl = _exclusions(spec)
    n = len(fp_u)
    if n < 2:
        raise ConnectivityError(f"point_file: {cfg.point_file}: fewer than two focal nodes — give at least two node ids")
    L = graph.laplacian()
    R = -np.ones((n, n))
    want_cur = cfg.write_cur_maps or cfg.write_cum_cur_map_only
    want_pair_cur = cfg.write_cur_maps and not cfg.write_cum_cur_map_only
    cum_node = np.zeros(graph.n)
    # cumulative branch currents on the edges of the input (in file order, duplicates merged)
    ia = np.array([index[int(x)] for x in ea]); ib = np.array([index[int(x)] for x in eb])
    key = np.minimum(ia, ib) * graph.n + np.maximum(ia, ib)
    ukeys, first = np.unique(key, return_index=True)
    order = np.sort(first)
    cum_edges = key[order]
    cum_edge_pos = {int(k): t for t, k in enumerate(cum_edges.tolist())}
    cum_branch = np.zeros(len(cum_edges))
    node_of = np.array([index.get(int(v), -1) for v in fp_u])
    for c in np.unique(graph.labels[node_of[node_of >= 0]]).tolist():
        in_c = [e for e in range(n) if node_of[e] >= 0 and graph.labels[node_of[e]] == c]
        if len(in_c) < 2:
            continue
        comp_nodes = graph.component_nodes(c)
        loc = np.full(graph.n, -1, dtype=np.int64)
        loc[comp_nodes] = np.arange(len(comp_nodes))
        focal_local = loc[node_of[in_c]]
        need_v = want_cur or cfg.write_volt_maps
        sol, _ = C.pairwise_resistances(L, comp_nodes, focal_local, job.kind, need_v, job.rtol, job.workers)
        job.solves += len(in_c) - 1
        Ac = graph.A[comp_nodes][:, comp_nodes].tocsr()
        edges = C.upper_edges(Ac)
        cid = gids[comp_nodes]
        for p in range(len(in_c)):
            for q in range(p + 1, len(in_c)):
                a, b = in_c[p], in_c[q]
                if (int(fp_u[a]), int(fp_u[b])) in excl:
                    continue
                R[a, b] = R[b, a] = sol.resistance(p, q)
                if not need_v:
                    continue
                v = sol.voltages(p, q)
                name = f"{fp_u[a]}_{fp_u[b]}"
                if cfg.write_volt_maps:
                    job.write_text(f"voltages_{name}.txt", _fmt_rows(zip(cid, v)))
                if want_cur:
                    nc = C.node_currents(Ac, v, edges=edges)
                    bi, bj, bc = C.branch_currents(Ac, v, edges=edges)
                    cum_node[comp_nodes] += nc
                    gk = np.minimum(comp_nodes[bi], comp_nodes[bj]) * graph.n + np.maximum(comp_nodes[bi], comp_nodes[bj])
                    for kk, val in zip(gk.tolist(), bc.tolist()):
                        cum_branch[cum_edge_pos[kk]] += val
                    if want_pair_cur:
                        job.write_text(f"node_currents_{name}.txt", _fmt_rows(zip(cid, nc)))
                        keep = ~np.isclose(bc, 0.0, atol=1e-6, rtol=0)
                        job.write_text(f"branch_currents_{name}.txt", _fmt_rows(zip(cid[bi[keep]], cid[bj[keep]], bc[keep])))
    np.fill_diagonal(R, 0.0)
    if want_cur:
        job.write_text("node_currents_cum.txt", _fmt_rows(zip(gids, cum_node)))
        ca = gids[cum_edges // graph.n]; cb = gids[cum_edges % graph.n]
        keep = ~np.isclose(cum_branch, 0.0, atol=1e-6, rtol=0)
        job.write_text("branch_currents_cum.txt", _fmt_rows(zip(ca[keep], cb[keep], cum_branch[keep])))
    M = _write_resistance_matrix(job, fp_u, R)
    return CircuitscapeResult("pairwise", "network", job.solver_label, resistances=M)


def _network_advanced(job: _Job) -> CircuitscapeResult:
    cfg = job.cfg
    graph, gids, _ = _network_graph(cfg)
    index = {int(v): k for k, v in enumerate(gids.tolist())}
    sources = np.zeros(graph.n)
    grounds = np.zeros(graph.n)
    for key, arr in (("source_file", sources), ("ground_file", grounds)):
        path = getattr(cfg, key)
        ids, vals, lines = read_node_values(path, key)
        for nid, val, ln in zip(ids.tolist(), vals.tolist(), lines):
            if nid not in index:
                raise ConnectivityError(f"{key}: {path}: line {ln}: node {nid} is not in the graph of habitat_file {cfg.habitat_file} — use a node id of the graph")
            if key == "ground_file":
                if val < 0:
                    raise ConnectivityError(f"{key}: {path}: line {ln}: negative ground value {val!r} — use a value >= 0")
                if cfg.ground_file_is_resistances:
                    val = np.inf if val == 0 else 1.0 / val
            arr[index[nid]] = val
    if cfg.use_unit_currents:
        sources[sources != 0] = 1.0
    if cfg.use_direct_grounds:
        grounds[grounds != 0] = np.inf
    _resolve_conflicts(sources, grounds, cfg.remove_src_or_gnd)
    L = graph.laplacian()
    v_all = np.zeros(graph.n)
    cur_all = np.zeros(graph.n)
    for c in _active_components(graph, sources, grounds):
        nodes = graph.component_nodes(c)
        s, gr = sources[nodes], grounds[nodes]
        v, _ = C.solve_advanced(L, nodes, s, gr, job.kind, job.rtol)
        job.solves += 1
        v_all[nodes] = v
    fin = np.where(np.isfinite(grounds), grounds, 0.0)
    edges = C.upper_edges(graph.A)
    cur_all = C.node_currents(graph.A, v_all, finite_grounds=fin if (fin != 0).any() else None, edges=edges)
    bi, bj, bc = C.branch_currents(graph.A, v_all, edges=edges)
    if cfg.write_volt_maps:
        job.write_text("voltages.txt", _fmt_rows(zip(gids, v_all)))
    if cfg.write_cur_maps or cfg.write_cum_cur_map_only:
        job.write_text("node_currents.txt", _fmt_rows(zip(gids, cur_all)))
        keep = ~np.isclose(bc, 0.0, atol=1e-6, rtol=0)
        job.write_text("branch_currents.txt", _fmt_rows(zip(gids[bi[keep]], gids[bj[keep]], bc[keep])))
    return CircuitscapeResult("advanced", "network", job.solver_label, voltages=np.column_stack([gids, v_all]))


# ---------------------------------------------------------------- entry points


def _setup_logging(cfg: CircuitscapeConfig) -> Optional[logging.Handler]:
    level = logging.WARNING if cfg.suppress_messages else getattr(logging, cfg.log_level, logging.INFO)
    log.setLevel(level)
    if cfg.log_file is not None:
        h = logging.FileHandler(cfg.log_file)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(h)
        return h
    return None


def run_config(config: CircuitscapeConfig, output_prefix=None, workers: Optional[int] = None, geotiff: bool = False,
               rtol: float = C.DEFAULT_RTOL) -> CircuitscapeResult:
    """Run a Circuitscape job and write its outputs.

    ``output_prefix`` (a path without ``.out``) replaces the ini's ``output_file``;
    ``workers`` solves focal nodes on that many threads (default: 1, or ``max_parallel``
    when the ini sets ``parallelize = True``); ``geotiff`` writes ``.tif`` instead of ``.asc``
    grids. Raises :class:`ConnectivityError` for bad input; then nothing is written.
    """
    cfg = config
    prefix = Path(output_prefix) if output_prefix is not None else cfg.output_prefix
    if prefix is None:
        raise ConnectivityError(f"{cfg.where('output_file')} is not given — set output_file or pass an output prefix")
    if workers is None:
        workers = (cfg.max_parallel or os.cpu_count() or 1) if cfg.parallelize else 1
    t0 = time.perf_counter()
    handler = _setup_logging(cfg)
    stage = OutputStage(prefix.parent if str(prefix.parent) else Path("."))
    job = _Job(cfg, prefix, stage, max(1, int(workers)), geotiff, rtol)
    log.info("solver: %s", job.solver_label)
    try:
        if cfg.data_type == "network":
            result = _network_pairwise(job) if cfg.scenario == "pairwise" else _network_advanced(job)
        elif cfg.scenario == "pairwise":
            result = _raster_pairwise(job)
        elif cfg.scenario == "advanced":
            result = _raster_advanced(job)
        else:
            result = _raster_one_all(job)
        # Circuitscape writes the job's configuration to output_file itself
        text = cfg.source.read_text(errors="replace") if cfg.source is not None and cfg.source.exists() else \
            "".join(f"{k} = {v}\n" for k, v in cfg.raw.items())
        stage.text(Path(str(prefix) + ".out"), text)
        result.files = stage.commit()
    except BaseException:
        stage.discard()
        raise
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
    result.seconds = time.perf_counter() - t0
    result.peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result.solves = job.solves
    if cfg.print_timings:
        log.warning("completed in %.2f s", result.seconds)
    if cfg.print_rusages:
        log.warning("peak memory %.0f MB", result.peak_memory_mb)
    log.info("%d linear solves with %s", job.solves, job.solver_label)
    return result


def run_ini(path, output_prefix=None, workers: Optional[int] = None, geotiff: bool = False, base_dir=None) -> CircuitscapeResult:
    """:func:`~pardus.connectivity.config.load_ini` then :func:`run_config`."""
    from .config import load_ini

    cfg = load_ini(path, base_dir=base_dir, output_prefix=output_prefix)
    return run_config(cfg, workers=workers, geotiff=geotiff)
