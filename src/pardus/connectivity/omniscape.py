"""Omniscape-style moving-window ("omnidirectional") circuit-theory connectivity.

This reproduces the algorithm of Omniscape.jl (v0.6, ``src/utils.jl`` and ``src/main.jl``;
McRae et al. 2016, Landau et al. 2021) on top of pardus's circuit core
(:mod:`pardus.connectivity.circuit`, Circuitscape.jl's semantics); no graph construction or
current computation is duplicated here.

Algorithm (Omniscape's, option names are Omniscape's ``.ini`` keys)
--------------------------------------------------------------------
1. **Sources.** ``source_strength`` (any non-negative unit; only ratios and totals matter), or,
   with ``source_from_resistance``, ``1 / resistance`` (the conductance itself when
   ``conductance=True``) with cells of resistance ``> r_cutoff`` set to 0. NaN sources are 0.
   Strengths ``< source_threshold`` are set to 0 (Omniscape's code keeps a strength *equal* to
   the threshold, although its docs say "greater than").
2. **Targets.** With ``block_size = 1`` every cell of strength > 0 is a target of that strength.
   With an odd ``block_size`` b > 1 the grid is cut into b × b blocks starting at the top-left
   corner (only whole blocks; Omniscape drops the last ``nrows mod b`` rows and ``ncols mod b``
   columns from targeting); each block with a summed strength > 0 gives one target at its
   centre cell with the block's summed strength (so the total injected current does not depend
   on b).
3. **Window.** For a target at (row, col): the resistance is clipped to the cells within
   Euclidean distance ``radius + buffer`` (in pixels, centre to centre) of the target, the
   sources to the cells within ``radius``; sources inside the target's block (the target cell
   itself when b = 1) are set to 0.
4. **Circuit.** Advanced mode: the target cell is a direct ground (V = 0), every other source
   cell injects current; the window's strengths are rescaled so that their total is the
   target's strength ``amps`` (amperes, in the unit of the source strengths). The graph is
   Circuitscape's: 8 neighbours (``four_neighbors=True`` is Omniscape's
   ``connect_four_neighbors_only``), average *conductance* edge weights (Omniscape always uses
   them; ``avg_resistances=True`` is a pardus extension), diagonals divided by sqrt(2). As in
   Circuitscape, only the connected component holding the target is solved: current of sources
   in other components is lost, and a target on a nodata cell gives no current.
5. **Accumulation.** The window's node currents (Circuitscape's ``max(inflow, outflow)`` of
   branch currents, those below 1e-8 of the largest zeroed) are multiplied by the block-artefact
   correction (below) and added into the cumulative current map (amperes).

Flow potential and normalised current
-------------------------------------
``calc_flow_potential`` repeats each window's solve with the same sources and ground on a
"null" landscape of conductance 1. Omniscape.jl uses conductance 1 on the *whole rectangular
window* (also on nodata cells and on the corners outside the circle): that is
``flow_potential_window="omniscape"`` (the default). ``"circle"`` instead sets conductance 1 on
exactly the cells of the window's resistance circle that have data, so that on a uniform
resistance surface the cumulative current equals the flow potential (normalised current 1);
this is a pardus option. The normalised current is cumulative / flow potential, with 0/0 set to
0 as Omniscape does. The flow-potential windows do not depend on the resistance, so every
window of the same shape and target position shares one factorisation (a batched solve).

Block-artefact correction (``correct_artifacts``, Omniscape's ``calc_correction``)
----------------------------------------------------------------------------------
Computed once when b > 1, on a (2(radius+buffer)+1)² window of conductance 1 clipped to the
``radius + buffer`` circle, target at the centre: ``null`` = the current of a target of strength
1 with every other cell of the ``radius`` circle a source (1/(n-1) each); ``blocked`` = the
current of a target of strength b² whose block's sources are removed. ``total`` = the sum of
``null`` shifted by every offset of the block (a b × b box sum, zero outside), set to 0 where
``blocked`` is 0; zeros of ``total`` and ``blocked`` are set to 1; correction = ``total /
blocked``. Each window's current (and flow potential) is multiplied cell by cell by the
correction aligned on the target (cropped where the window is cut by the grid edge).

Nodata and units
----------------
Resistance (or conductance with ``conductance=True``) is a 2-D float array, NaN = nodata
(``+inf`` resistance is nodata too); every other value must be > 0. Outputs are 2-D float64
arrays in amperes (normalised current: dimensionless); with ``mask_nodata`` (default, as
Omniscape) nodata cells of the resistance are NaN in every output (Omniscape writes -9999).

Differences from Omniscape.jl (deliberate)
------------------------------------------
* Omniscape removes the sources of the target block at a fixed window position (row and column
  ``radius + buffer`` of the window), which is the target only when the window is not cut by
  the *top or left* grid edge; for targets within ``radius + buffer`` of those edges it zeroes
  another cell (block) and leaves the target's own strength in the normalising sum (so that
  window injects less than the target's strength). pardus always removes the target's own block,
  so results are symmetric under flips; they equal Omniscape's for every window not cut by the
  top or left edge.
* The correction is aligned on the target also when a window is cut by both edges of an axis
  (Omniscape then aligns it on the first column/row; only for grids narrower than the window).
* ``source_threshold`` is applied also with ``source_from_resistance`` (Omniscape applies it only
  to a source file); an even ``block_size`` is refused (Omniscape adds 1 with a warning); the
  computation is double precision only; conditional connectivity, reclassification and output
  writing are not implemented here (refused with a message).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .circuit import (
    DEFAULT_RTOL,
    SOLVERS,
    make_solver,
    node_currents,
    raster_graph,
    solve_advanced,
)

__all__ = ["OmniscapeResult", "WindowCurrent", "omniscape", "omniscape_sources", "omniscape_targets",
           "window_current", "block_correction"]

_COND = ("conditional connectivity (Omniscape's conditional, n_conditions, condition*, comparison*, "
         "compare_to_future) is not implemented in pardus; select the sources yourself and pass them as "
         "source_strength")
_RECLASS = "reclassification is not implemented here; reclassify the array before calling omniscape()"
_PAR = "use workers=N (local processes) instead of parallelize/parallel_batch_size"
_WRITE = "omniscape() returns arrays and writes nothing; write the returned arrays yourself"
#: Omniscape options that pardus refuses, with the fix to give in the message.
_REFUSED = {
    **{k: _COND for k in ("conditional", "n_conditions", "condition1", "condition2", "condition1_future",
                          "condition2_future", "condition1_file", "condition2_file", "condition1_future_file",
                          "condition2_future_file", "comparison1", "comparison2", "condition1_lower",
                          "condition1_upper", "condition2_lower", "condition2_upper", "compare_to_future")},
    **{k: _RECLASS for k in ("reclassify_resistance", "reclass_table", "write_reclassified_resistance")},
    **{k: _PAR for k in ("parallelize", "parallel_batch_size")},
    **{k: _WRITE for k in ("write_raw_currmap", "write_as_tif", "project_name")},
    "precision": "pardus computes in double precision only; drop the precision option",
    "resistance_is_conductance": "use conductance=True (Omniscape's resistance_is_conductance)",
    "connect_four_neighbors_only": "use four_neighbors=True (Omniscape's connect_four_neighbors_only)",
}


@dataclass
class OmniscapeResult:
    """Outputs of :func:`omniscape` (2-D float64 arrays shaped like the resistance; NaN on
    nodata when ``mask_nodata``).

    ``cumulative_current``: summed window node currents (A, in the unit of the source
    strengths); ``flow_potential``: the same on the null landscape (``None`` unless
    ``calc_flow_potential``); ``normalized_current``: cumulative / flow potential, 0/0 -> 0
    (``None`` unless ``calc_normalized_current``); ``targets``: (k, 3) array of target row,
    column (0-based) and strength; ``n_targets``: k; ``n_solves``: windows actually solved for
    the cumulative current (a window without ground node or without sources in the target's
    component needs none); ``n_flow_potential_solves``; ``n_factorisations``: solver set-ups of
    the flow-potential windows (shared by windows of one shape); ``solver``: the linear solver
    used; ``correction``: the block-artefact correction array or ``None``."""

    cumulative_current: np.ndarray
    flow_potential: Optional[np.ndarray]
    normalized_current: Optional[np.ndarray]
    targets: np.ndarray
    n_targets: int
    n_solves: int
    n_flow_potential_solves: int
    n_factorisations: int
    solver: str
    correction: Optional[np.ndarray] = None
    options: dict = field(default_factory=dict)


@dataclass
class WindowCurrent:
    """One window's circuit solution: ``current`` (node current of every window cell, A; 0 off
    the target's component), ``voltage`` (V per window cell, NaN off the component),
    ``injected`` (total source current in the target's component, A) and ``solver``; ``solved``
    is False when there was nothing to solve (no ground node or no source in its component)."""

    current: np.ndarray
    voltage: np.ndarray
    injected: float
    solved: bool
    solver: str


# ---------------------------------------------------------------- validation helpers


def _whole(name: str, value, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or float(value) != int(float(value)):
        raise ValueError(f"{name} must be a whole number (got {value!r}); {fix}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum} (got {v}); {fix}")
    return v


def _as_grid(name: str, a) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (got shape {arr.shape}); pass one grid, rows x columns")
    return arr


def _conductance_grid(resistance: np.ndarray, conductance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Conductance of every cell (0 on nodata) and the nodata mask; refuses values <= 0."""
    name = "resistance (conductance=True: a conductance grid)" if conductance else "resistance"
    nodata = np.isnan(resistance) | (np.isposinf(resistance) if not conductance else False)
    vals = resistance[~nodata]
    if vals.size and (vals <= 0).any():
        bad = np.argwhere(~nodata & (resistance <= 0))[0]
        raise ValueError(f"{name} has values <= 0 (first at row {bad[0]}, column {bad[1]}: "
                         f"{resistance[tuple(bad)]!r}); Omniscape refuses them too: use NaN for nodata and a small "
                         f"positive value for near-free movement")
    if conductance and np.isinf(vals).any():
        raise ValueError(f"{name} has infinite conductances; use a large finite value (short-circuit regions are "
                         f"not supported in Omniscape mode)")
    with np.errstate(divide="ignore"):
        g = np.where(nodata, 0.0, resistance if conductance else 1.0 / np.where(nodata, 1.0, resistance))
    return g, nodata


def omniscape_sources(resistance, *, source_strength=None, source_from_resistance=None, r_cutoff=math.inf,
                      source_threshold=0.0, conductance=False) -> np.ndarray:
    """The source strength grid Omniscape uses (steps 1 of the module docstring): the given
    strengths (NaN -> 0) or, with ``source_from_resistance`` (the default when no strengths are
    given, as Omniscape's in-memory ``run_omniscape``), ``1/resistance`` (``conductance`` itself
    when ``conductance=True``) with 0 where the resistance exceeds ``r_cutoff`` (exactly:
    Omniscape zeroes strengths ``< 1/r_cutoff``) and on nodata; then strengths
    ``< source_threshold`` set to 0."""
    res = _as_grid("resistance", resistance)
    g, nodata = _conductance_grid(res, conductance)
    if not (isinstance(source_threshold, numbers.Real) and math.isfinite(source_threshold) and source_threshold >= 0):
        raise ValueError(f"source_threshold must be a finite number >= 0 (got {source_threshold!r}); "
                         f"cells with a strength below it are no sources")
    try:
        r_cut = float(r_cutoff)
    except (TypeError, ValueError):
        raise ValueError(f"r_cutoff must be a number (got {r_cutoff!r}); give a resistance, or inf for no cutoff") from None
    if math.isnan(r_cut) or r_cut <= 0:
        raise ValueError(f"r_cutoff must be > 0 (got {r_cutoff!r}); it is a resistance (also with conductance=True); "
                         f"use inf for no cutoff")
    if source_from_resistance is None:
        source_from_resistance = source_strength is None
    if source_from_resistance:
        if source_strength is not None:
            raise ValueError("source_strength was given together with source_from_resistance=True; pass one of them "
                             "(Omniscape ignores source_file when source_from_resistance is true)")
        s = g.copy()
        s[s < 1.0 / r_cut] = 0.0
        s[nodata] = 0.0
    else:
        if source_strength is None:
            raise ValueError("source_from_resistance=False needs source_strength (a grid shaped like the resistance); "
                             "give it, or set source_from_resistance=True to use 1/resistance")
        if not math.isinf(r_cut):
            raise ValueError("r_cutoff applies only with source_from_resistance=True; drop r_cutoff or zero the "
                             "sources above the cutoff yourself")
        s = _as_grid("source_strength", source_strength).copy()
        if s.shape != res.shape:
            raise ValueError(f"source_strength has shape {s.shape} but resistance has shape {res.shape}; "
                             f"give both grids on the same rows and columns")
        s[np.isnan(s)] = 0.0
        if (s < 0).any():
            bad = np.argwhere(s < 0)[0]
            raise ValueError(f"source_strength has negative values (first at row {bad[0]}, column {bad[1]}: "
                             f"{s[tuple(bad)]!r}); strengths must be >= 0 (0 = no source)")
        if np.isinf(s).any():
            raise ValueError("source_strength has infinite values; strengths must be finite")
    s[s < source_threshold] = 0.0
    return s


def omniscape_targets(sources: np.ndarray, block_size: int = 1) -> np.ndarray:
    """Targets ``(row, col, amps)`` (0-based) of a source grid: block centres of whole
    ``block_size`` × ``block_size`` blocks from the top-left corner whose summed strength is > 0
    (Omniscape's ``get_targets``). Ordered column-major (by column, then row), as Omniscape
    builds them before shuffling."""
    nrows, ncols = sources.shape
    b = block_size
    br = (b - 1) // 2
    ny, nx = nrows // b, ncols // b
    if ny == 0 or nx == 0:
        return np.zeros((0, 3))
    sums = sources[:ny * b, :nx * b].reshape(ny, b, nx, b).sum(axis=(1, 3))
    jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
    order = np.lexsort((ii.ravel(), jj.ravel()))  # column-major
    rows = (ii.ravel() * b + br)[order]
    cols = (jj.ravel() * b + br)[order]
    amps = sums.ravel()[order]
    keep = amps > 0
    return np.column_stack([rows[keep], cols[keep], amps[keep]]).astype(np.float64)


# ---------------------------------------------------------------- one window

#: Systems up to this many unknowns are solved directly also when ``solver="cg+amg"``: pyamg
#: (``max_coarse=500`` in :class:`circuit.GroundedSolver`) would make such a matrix its own
#: coarsest level and solve it by a dense pseudo-inverse (an SVD, ~0.1 s at 500 unknowns), i.e.
#: a direct solve, only far slower than a sparse factorisation.
AMG_MIN_UNKNOWNS = 500


def _kind_for(solver: str, n_unknowns: int) -> str:
    return "cholmod" if solver == "cg+amg" and n_unknowns <= AMG_MIN_UNKNOWNS else solver



def window_current(g_window: np.ndarray, s_window: np.ndarray, target: tuple[int, int], *, four_neighbors=False,
                   avg_resistances=False, solver="cg+amg", rtol=DEFAULT_RTOL) -> WindowCurrent:
    """Solve one Omniscape window (Circuitscape's ``compute_omniscape_current``): conductances
    ``g_window`` (0 or NaN = no node), source currents ``s_window`` (A, injected as given, no
    rescaling), direct ground at ``target`` (window row, column). Only the target's component is
    solved; sources elsewhere are dropped. Uses :func:`circuit.raster_graph`,
    :func:`circuit.solve_advanced` and :func:`circuit.node_currents`."""
    graph, nm = raster_graph(g_window, None, four_neighbors, avg_resistances)
    shape = g_window.shape
    cur = np.zeros(shape)
    volt = np.full(shape, np.nan)
    t = int(nm[target])
    if t < 0:
        return WindowCurrent(cur, volt, 0.0, False, "none (target is not a node)")
    has = (nm >= 0) & (s_window > 0)
    s_node = np.zeros(graph.n)
    np.add.at(s_node, nm[has], s_window[has])
    s_node[t] = 0.0  # Circuitscape's rmvsrc policy: a source on the ground is dropped
    if graph.ncomp == 1:
        comp = np.arange(graph.n)
    else:
        comp = graph.component_nodes(graph.labels[t])
    s_c = s_node[comp]
    injected = float(s_c.sum())
    if injected == 0.0:
        return WindowCurrent(cur, volt, 0.0, False, "none (no source in the target's component)")
    loc = np.full(graph.n, -1, dtype=np.int64)
    loc[comp] = np.arange(comp.size)
    grounds = np.zeros(comp.size)
    grounds[loc[t]] = np.inf
    L = graph.laplacian()
    kind = _kind_for(solver, comp.size - 1)
    v, used = solve_advanced(L, comp, s_c, grounds, kind, rtol)
    A_c = graph.A if comp.size == graph.n else graph.A[comp][:, comp]
    nc = node_currents(A_c, v)
    cells = nm >= 0
    lc = np.full(shape, -1, dtype=np.int64)
    lc[cells] = loc[nm[cells]]
    on = lc >= 0
    cur[on] = nc[lc[on]]
    volt[on] = v[lc[on]]
    return WindowCurrent(cur, volt, injected, True, used)


# ---------------------------------------------------------------- geometry


def _disc(radius: int, d: int) -> np.ndarray:
    """Boolean (2d+1)² mask of cells within Euclidean distance ``radius`` of the centre."""
    o = np.arange(-d, d + 1)
    return (o[:, None] ** 2 + o[None, :] ** 2) <= radius * radius


class _Windows:
    """Clipping of the grid around a target (Omniscape's ``clip``/``get_source``/``get_ground``)."""

    def __init__(self, shape, radius, buffer, block_size):
        self.nrows, self.ncols = shape
        self.r = radius
        self.d = radius + buffer
        self.br = (block_size - 1) // 2
        self.disc_d = _disc(self.d, self.d)
        self.disc_r = _disc(self.r, self.d)

    def bounds(self, y, x):
        d = self.d
        y0, y1 = max(y - d, 0), min(y + d, self.nrows - 1)
        x0, x1 = max(x - d, 0), min(x + d, self.ncols - 1)
        return y0, y1, x0, x1

    def local(self, y, x):
        """Slices of the grid and of the (2d+1)² full-window arrays, and the target's window index."""
        y0, y1, x0, x1 = self.bounds(y, x)
        d = self.d
        gs = (slice(y0, y1 + 1), slice(x0, x1 + 1))
        ws = (slice(y0 - y + d, y1 - y + d + 1), slice(x0 - x + d, x1 - x + d + 1))
        return gs, ws, (y - y0, x - x0)

    def sources(self, S, y, x, amps, gs, ws, t):
        """Window source currents: the ``radius`` circle, target block zeroed, rescaled to ``amps``."""
        s = np.where(self.disc_r[ws], S[gs], 0.0)
        br = self.br
        ty, tx = t
        s[max(ty - br, 0):ty + br + 1, max(tx - br, 0):tx + br + 1] = 0.0
        tot = s.sum()
        if tot > 0:
            s *= amps / tot
        return s


def block_correction(radius: int, buffer: int, block_size: int, *, four_neighbors=False, avg_resistances=False,
                     solver="cg+amg", rtol=DEFAULT_RTOL) -> np.ndarray:
    """Omniscape's block-artefact correction array (``calc_correction``; see the module
    docstring), shape (2(radius+buffer)+1)², to be multiplied into a window's current aligned on
    its target."""
    d = radius + buffer
    n = 2 * d + 1
    b = block_size
    br = (b - 1) // 2
    geo = _Windows((n, n), radius, buffer, b)
    g = geo.disc_d.astype(np.float64)
    c = (d, d)
    ones = np.ones((n, n))
    gs, ws, t = geo.local(d, d)
    src_blocked = geo.sources(ones, d, d, float(b * b), gs, ws, t)
    src_null = geo.disc_r.astype(np.float64)
    n_sources = src_null.sum()
    src_null[c] = 0.0
    src_null[src_null != 0] = 1.0 / (n_sources - 1)
    kw = dict(four_neighbors=four_neighbors, avg_resistances=avg_resistances, solver=solver, rtol=rtol)
    blocked = window_current(g, src_blocked, c, **kw).current
    null = window_current(g, src_null, c, **kw).current
    pad = np.pad(null, br)
    total = np.zeros((n, n))
    for i in range(b):
        for j in range(b):
            total += pad[i:i + n, j:j + n]
    total[blocked == 0] = 0.0
    total[total == 0] = 1.0
    blocked = blocked.copy()
    blocked[blocked == 0] = 1.0
    return total / blocked


# ---------------------------------------------------------------- the moving window


@dataclass
class _Job:
    g: np.ndarray
    S: np.ndarray
    geo: _Windows
    four: bool
    avg: bool
    solver: str
    rtol: float
    correction: Optional[np.ndarray]


def _cumulative(job: _Job, targets: np.ndarray, progress=None, offset=0, total=0):
    """Main pass: the cumulative current of ``targets``; returns (map, n_solves, solver names)."""
    geo = job.geo
    cum = np.zeros(job.g.shape)
    n_solves = 0
    used = set()
    for k, (y, x, amps) in enumerate(targets):
        y, x = int(y), int(x)
        gs, ws, t = geo.local(y, x)
        gw = np.where(geo.disc_d[ws], job.g[gs], 0.0)
        sw = geo.sources(job.S, y, x, amps, gs, ws, t)
        if sw.any():
            w = window_current(gw, sw, t, four_neighbors=job.four, avg_resistances=job.avg, solver=job.solver,
                               rtol=job.rtol)
            if w.solved:
                n_solves += 1
                used.add(w.solver)
                cur = w.current
                if job.correction is not None:
                    cur = cur * job.correction[ws]
                cum[gs] += cur
        if progress is not None:
            progress(offset + k + 1, total)
    return cum, n_solves, used


_SHARED: dict = {}


def _init_worker(job):
    _SHARED["job"] = job


def _worker(targets):
    return _cumulative(_SHARED["job"], targets)


def _flow_potential(job: _Job, targets: np.ndarray, window: str, nodata: np.ndarray):
    """Flow potential of every target: windows grouped by (shape, target position) share one
    graph and one grounded solver (the null landscape does not depend on the resistance)."""
    geo = job.geo
    fp = np.zeros(job.g.shape)
    groups: dict = {}
    for k, (y, x, _a) in enumerate(targets):
        y, x = int(y), int(x)
        gs, ws, t = geo.local(y, x)
        if window == "omniscape":
            key = (gs[0].stop - gs[0].start, gs[1].stop - gs[1].start, t)
        else:
            key = None  # window-specific graph
        groups.setdefault(key, []).append(k)
    n_solves = 0
    n_fact = 0
    for key, ks in groups.items():
        if key is not None:
            h, w_, t = key
            graph, nm = raster_graph(np.ones((h, w_)), None, job.four, job.avg)
            L = graph.laplacian()
            tn = int(nm[t])
            keep = np.ones(graph.n, dtype=bool)
            keep[tn] = False
            M = L[keep][:, keep]
            slv = make_solver(M, _kind_for(job.solver, M.shape[0]), job.rtol)
            n_fact += 1
            A = graph.A
            for k in ks:
                y, x, amps = int(targets[k, 0]), int(targets[k, 1]), targets[k, 2]
                gs, ws, tt = geo.local(y, x)
                sw = geo.sources(job.S, y, x, amps, gs, ws, tt)
                s_node = np.zeros(graph.n)
                s_node[nm.ravel()] = sw.ravel()
                s_node[tn] = 0.0
                if not s_node.any():
                    continue
                v = np.zeros(graph.n)
                v[keep] = slv.solve(s_node[keep])
                cur = node_currents(A, v)[nm]
                n_solves += 1
                if job.correction is not None:
                    cur = cur * job.correction[ws]
                fp[gs] += cur
        else:
            for k in ks:
                y, x, amps = int(targets[k, 0]), int(targets[k, 1]), targets[k, 2]
                gs, ws, tt = geo.local(y, x)
                gw = np.where(geo.disc_d[ws] & ~nodata[gs], 1.0, 0.0)
                sw = geo.sources(job.S, y, x, amps, gs, ws, tt)
                if not sw.any():
                    continue
                w = window_current(gw, sw, tt, four_neighbors=job.four, avg_resistances=job.avg,
                                   solver=job.solver, rtol=job.rtol)
                if w.solved:
                    n_solves += 1
                    n_fact += 1
                    cur = w.current
                    if job.correction is not None:
                        cur = cur * job.correction[ws]
                    fp[gs] += cur
    return fp, n_solves, n_fact


def omniscape(resistance, radius, *, source_strength=None, source_from_resistance=None, r_cutoff=math.inf,
              block_size=1, buffer=0, source_threshold=0.0, conductance=False, four_neighbors=False,
              avg_resistances=False, calc_flow_potential=False, calc_normalized_current=False,
              correct_artifacts=True, flow_potential_window="omniscape", mask_nodata=True, solver="cg+amg",
              rtol=DEFAULT_RTOL, workers=1, progress: Optional[Callable[[int, int], None]] = None,
              conditional=False, **omniscape_options) -> OmniscapeResult:
    """Omniscape's moving-window cumulative current (see the module docstring for the
    algorithm, conventions, units and every difference from Omniscape.jl).

    Parameters and their Omniscape equivalents (defaults are Omniscape.jl's unless noted):

    - ``resistance``: 2-D grid, NaN (or +inf) = nodata, other values > 0 (``resistance_file``).
    - ``radius``: window radius in pixels, whole number >= 1 (``radius``; required).
    - ``source_strength``: grid of strengths >= 0 shaped like ``resistance`` (``source_file``);
      ``source_from_resistance``: derive sources from the resistance (``source_from_resistance``;
      default: True exactly when no ``source_strength`` is given, as Omniscape's in-memory
      ``run_omniscape``); ``r_cutoff`` = inf (``r_cutoff``, a resistance).
    - ``block_size`` = 1, odd (``block_size``); ``buffer`` = 0 pixels (``buffer``);
      ``source_threshold`` = 0 (``source_threshold``); ``conductance`` = False
      (``resistance_is_conductance``); ``four_neighbors`` = False
      (``connect_four_neighbors_only``); ``avg_resistances`` = False (Omniscape always averages
      conductances; pardus extension); ``calc_flow_potential`` = False and
      ``calc_normalized_current`` = False (``calc_flow_potential``, ``calc_normalized_current``;
      both False in Omniscape); ``correct_artifacts`` = True (``correct_artifacts``);
      ``flow_potential_window`` = "omniscape" or "circle" (pardus option, see above);
      ``mask_nodata`` = True (``mask_nodata``); ``solver`` = "cg+amg" or "cholmod" (a sparse
      direct factorisation; ``solver``); ``rtol``: CG tolerance (pardus's circuit default).
    - ``workers``: local processes sharing the targets (Omniscape's ``parallelize`` uses
      threads); ``progress(done, total)`` is called as targets finish.

    Conditional connectivity and the other Omniscape options without meaning here are refused
    with a :class:`ValueError` naming the option. Returns an :class:`OmniscapeResult`.
    """
    if conditional or omniscape_options:
        names = (["conditional"] if conditional else []) + sorted(omniscape_options)
        for name in names:
            if name in _REFUSED:
                raise ValueError(f"Omniscape option {name!r} is not supported by pardus.omniscape: {_REFUSED[name]}")
        raise TypeError(f"omniscape() got unexpected keyword argument(s) {', '.join(map(repr, names))}")
    res = _as_grid("resistance", resistance)
    r = _whole("radius", radius, 1, "give the window radius in pixels (Omniscape's radius), e.g. radius=10")
    buf = _whole("buffer", buffer, 0, "give the extra resistance margin in pixels, or 0")
    b = _whole("block_size", block_size, 1, "give an odd block side in pixels, e.g. 1, 3 or 5")
    if b % 2 == 0:
        raise ValueError(f"block_size must be odd (got {b}); use {b + 1} (Omniscape would silently use {b + 1}) or {b - 1}"
                         if b > 1 else f"block_size must be odd (got {b}); use 1")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)} (got {solver!r}); Omniscape's default is 'cg+amg'")
    if flow_potential_window not in ("omniscape", "circle"):
        raise ValueError(f"flow_potential_window must be 'omniscape' (conductance 1 on the whole rectangular window, "
                         f"as Omniscape.jl) or 'circle' (on the window's data cells) (got {flow_potential_window!r})")
    w = _whole("workers", workers, 1, "give the number of local processes, 1 for none")
    for name, val in (("conductance", conductance), ("four_neighbors", four_neighbors),
                      ("avg_resistances", avg_resistances), ("calc_flow_potential", calc_flow_potential),
                      ("calc_normalized_current", calc_normalized_current), ("correct_artifacts", correct_artifacts),
                      ("mask_nodata", mask_nodata)):
        if not isinstance(val, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False (got {val!r})")
    g, nodata = _conductance_grid(res, bool(conductance))
    S = omniscape_sources(res, source_strength=source_strength, source_from_resistance=source_from_resistance,
                          r_cutoff=r_cutoff, source_threshold=source_threshold, conductance=bool(conductance))
    targets = omniscape_targets(S, b)
    geo = _Windows(res.shape, r, buf, b)
    correction = None
    if correct_artifacts and b > 1:
        correction = block_correction(r, buf, b, four_neighbors=bool(four_neighbors),
                                      avg_resistances=bool(avg_resistances), solver=solver, rtol=rtol)
    job = _Job(g, S, geo, bool(four_neighbors), bool(avg_resistances), solver, float(rtol), correction)
    nt = len(targets)
    if w > 1 and nt > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        nchunks = min(nt, 4 * w)
        chunks = [targets[i::nchunks] for i in range(nchunks)]
        try:
            ctx = mp.get_context("fork")
        except ValueError:  # pragma: no cover - platforms without fork
            ctx = mp.get_context()
        cum = np.zeros(res.shape)
        n_solves = 0
        used: set = set()
        done = 0
        with ProcessPoolExecutor(max_workers=w, mp_context=ctx, initializer=_init_worker, initargs=(job,)) as ex:
            futs = {ex.submit(_worker, c): len(c) for c in chunks}
            for f in as_completed(futs):
                c_cum, c_n, c_used = f.result()
                cum += c_cum
                n_solves += c_n
                used |= c_used
                done += futs[f]
                if progress is not None:
                    progress(done, nt)
    else:
        cum, n_solves, used = _cumulative(job, targets, progress, 0, nt)
    fp = None
    n_fp = n_fact = 0
    if calc_flow_potential or calc_normalized_current:
        fp, n_fp, n_fact = _flow_potential(job, targets, flow_potential_window, nodata)
    norm = None
    if calc_normalized_current:
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = cum / fp
        norm[np.isnan(norm)] = 0.0
    if mask_nodata:
        cum[nodata] = np.nan
        if fp is not None:
            fp[nodata] = np.nan
        if norm is not None:
            norm[nodata] = np.nan
    solver_desc = "; ".join(sorted(used)) if used else f"{solver} (no window needed a solve)"
    opts = dict(radius=r, buffer=buf, block_size=b, four_neighbors=bool(four_neighbors),
                avg_resistances=bool(avg_resistances), flow_potential_window=flow_potential_window,
                correct_artifacts=bool(correct_artifacts), solver=solver, rtol=float(rtol), workers=w)
    return OmniscapeResult(cum, fp if calc_flow_potential else None, norm, targets, nt, n_solves, n_fp, n_fact,
                           solver_desc, correction, opts)
