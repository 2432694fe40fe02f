"""Least-cost connectivity: cost-weighted distance, least-cost paths and corridors.

The conventions are those of ArcGIS's (legacy) *Cost Distance* tool, which Linkage Mapper's
"Build Network and Map Linkages" runs, so that Linkage Mapper users get the numbers they know:

* **Graph.** Every cell centre is a node; a node is linked to its 4 orthogonal neighbours
  (``neighbours=4``) or also to its 4 diagonal ones (``neighbours=8``, the default and what
  ArcGIS and Linkage Mapper use). There is no corner-cutting rule: a diagonal move between
  two passable cells is allowed even when both cells beside it are nodata, so a one-cell-wide
  diagonal line of NaN does not stop 8-neighbour movement (make barriers orthogonally
  connected).
* **Cost of a move.** Moving between two adjacent cell centres costs the *mean of the two
  cells' resistances* times the distance between the centres: ``cellsize`` orthogonally,
  ``sqrt(2) * cellsize`` diagonally (ArcGIS writes 1.414214; pardus uses the exact root, a
  relative difference below 1e-6). Resistance is a cost per map unit, so cost-weighted
  distances are in resistance × map units (e.g. resistance × metres).
* **Resistance.** A 2-D array of floats. NaN or ``+inf`` marks an impassable / nodata cell.
  Every other value must be > 0: 0 and negative resistances are refused with a
  :class:`ValueError` (ArcGIS refuses them too; give a small positive value for near-free
  movement). Sources and cores must not lie on nodata cells.
* **Outputs.** Source cells have cost-weighted distance (CWD) 0. A passable cell that no path
  reaches has CWD ``inf``; a nodata cell has CWD ``NaN`` (ArcGIS writes NoData there). The same
  holds for the corridor grids.

Linkage Mapper's quantities (its link table columns ``lcDist``, ``eucDist``, ``lcpLength``,
``cwdToEucRatio``, ``cwdToPathRatio`` and its ``_corridors`` raster):

* **LCD** (least-cost distance, ``lcDist``) between cores *a* and *b*: the minimum over the cells
  of *b* of the CWD from all cells of *a* (Linkage Mapper takes the zonal minimum the same way).
* **Normalised least-cost corridor** ``NLCC_ab = CWD_a + CWD_b - LCD_ab``: 0 on the least-cost
  path (and on any other path of the same cost), growing with the extra cost of passing
  through a cell. Values within ``1e-9 * LCD`` of 0 (floating-point rounding of the sums) are
  set to exactly 0.
* **Corridor width**: cells with ``NLCC <= width`` (a cost-distance threshold in CWD units);
  the others are NaN (Linkage Mapper's ``_truncated_at_`` raster sets them to NoData).
* **Mosaic**: the elementwise minimum of the NLCC grids of the active links (Linkage Mapper
  mosaics with ``MINIMUM``). Linkage Mapper rounds its final mosaic to integers; pardus keeps
  floats.
* **Euclidean distance** (``eucDist``): between the nearest *edges* of the two cores' cells
  (the edge-to-edge distance of the rasterised core polygons; 0 for touching cores). Linkage
  Mapper takes it edge-to-edge from the core polygons.
* **Least-cost path length** (``lcpLength``): the length in map units of the line through the
  centres of the path's cells (steps of ``cellsize`` or ``sqrt(2) * cellsize``), from the cell
  of *a* where it leaves to the cell of *b* where it arrives. Linkage Mapper truncates it to
  an integer; pardus does not.
* **Ratios**: ``LCD / eucDist`` and ``LCD / lcpLength``; NaN where the denominator is 0 or
  the pair is disconnected (Linkage Mapper writes -1 for a zero denominator).
* **Intermediate cores**: a link whose least-cost path passes through a cell of a third core
  is marked (``through_cores``) and, with ``drop_through_cores=True`` (Linkage Mapper's
  default), left out of the mosaic.

Linkage Mapper's network options (adjacency by cost-weighted or Euclidean distance, nearest
neighbours, constellations, distance limits) are simplified to two: all pairs of cores, or an
explicit list of pairs. Linkage Mapper also computes each CWD in a clipped extent around the
cores, which can only make its distances larger; pardus always uses the whole grid.

Only numpy and scipy are used: :func:`scipy.sparse.csgraph.dijkstra` on the grid graph, one
multi-source run per core (not per pair), and :func:`scipy.ndimage.distance_transform_edt`
for the edge-to-edge distances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

__all__ = [
    "CorridorLink",
    "CorridorResult",
    "LeastCostPath",
    "corridors",
    "cost_distance",
    "least_cost_path",
]

SQRT2 = float(np.sqrt(2.0))
# Offsets (row, column) of half the neighbourhood; the other half is their reverse.
_ORTHOGONAL = ((0, 1), (1, 0))
_DIAGONAL = ((1, 1), (1, -1))
# NLCC values within this fraction of the LCD of 0 are rounding error of the sums and set to 0.
_NLCC_ROUNDING = 1e-9


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class LeastCostPath:
    """A least-cost path between two sets of cells.

    ``cells``: ``(k, 2)`` integer array of (row, column), in order from the first set to the
    second (empty when no path exists). ``cost``: its cost-weighted distance, the least-cost
    distance (LCD), in resistance × map units (``inf`` when disconnected). ``length``: its
    length through the cell centres in map units (``inf`` when disconnected).
    """

    cells: np.ndarray
    cost: float
    length: float

    @property
    def connected(self) -> bool:
        """Whether a path exists."""
        return bool(np.isfinite(self.cost))


@dataclasses.dataclass(frozen=True, eq=False)
class CorridorLink:
    """One row of the link table: the link between cores ``core_a`` < ``core_b``.

    Distances are in map units (``euclidean_distance``, ``path_length``) or resistance × map
    units (``lcd``). ``through_cores``: the ids of other cores the least-cost path passes
    through. ``active``: connected, and not dropped for passing through a third core (only
    active links enter the mosaic).
    """

    core_a: int
    core_b: int
    lcd: float
    euclidean_distance: float
    path_length: float
    cwd_to_euclidean: float
    cwd_to_path_length: float
    through_cores: tuple[int, ...]
    connected: bool
    active: bool
    path: LeastCostPath

    @property
    def through_core(self) -> bool:
        """Whether the least-cost path passes through a third core."""
        return bool(self.through_cores)


@dataclasses.dataclass(frozen=True, eq=False)
class CorridorResult:
    """Corridors between cores (see :func:`corridors`).

    ``core_ids``: the cores of the grid, ascending. ``cwd``: the cost-weighted distance grid
    from each core named in a link (``{id: grid}``). ``links``: one :class:`CorridorLink` per pair, ordered by
    (``core_a``, ``core_b``). ``mosaic``: minimum NLCC over the active links (``inf`` where no
    active link reaches, ``NaN`` on nodata cells; all ``inf`` if no link is active).
    ``width``: the cost-distance threshold (``None``: untruncated). ``corridor``: the mosaic
    with cells whose NLCC exceeds ``width`` set to NaN (a copy of the mosaic when ``width`` is
    None).
    """

    core_ids: tuple[int, ...]
    cwd: dict[int, np.ndarray]
    links: tuple[CorridorLink, ...]
    mosaic: np.ndarray
    width: float | None
    corridor: np.ndarray

    def link(self, a: int, b: int) -> CorridorLink:
        """The link between cores ``a`` and ``b`` (in either order)."""
        lo, hi = sorted((int(a), int(b)))
        for ln in self.links:
            if ln.core_a == lo and ln.core_b == hi:
                return ln
        raise KeyError(f"no link between cores {a} and {b}; links: {[(ln.core_a, ln.core_b) for ln in self.links]}")

    def nlcc(self, a: int, b: int, width: float | None = None) -> np.ndarray:
        """The normalised least-cost corridor ``CWD_a + CWD_b - LCD_ab`` of one pair.

        With ``width``, cells whose NLCC exceeds it are NaN. A disconnected pair gives ``inf``
        on every passable cell.
        """
        ln = self.link(a, b)
        out = _nlcc(self.cwd[ln.core_a], self.cwd[ln.core_b], ln.lcd)
        return out if width is None else _truncate(out, width)

    def link_table(self) -> dict[str, np.ndarray]:
        """The link table as columns (``pandas.DataFrame(result.link_table())`` makes a frame).

        Columns: ``core_a``, ``core_b``, ``lcd`` (Linkage Mapper's ``lcDist``),
        ``euclidean_distance`` (``eucDist``), ``path_length`` (``lcpLength``),
        ``cwd_to_euclidean`` (``cwdToEucRatio``), ``cwd_to_path_length`` (``cwdToPathRatio``),
        ``through_core``, ``connected``, ``active``.
        """
        ls = self.links
        return {
            "core_a": np.array([ln.core_a for ln in ls], dtype=np.int64),
            "core_b": np.array([ln.core_b for ln in ls], dtype=np.int64),
            "lcd": np.array([ln.lcd for ln in ls], dtype=float),
            "euclidean_distance": np.array([ln.euclidean_distance for ln in ls], dtype=float),
            "path_length": np.array([ln.path_length for ln in ls], dtype=float),
            "cwd_to_euclidean": np.array([ln.cwd_to_euclidean for ln in ls], dtype=float),
            "cwd_to_path_length": np.array([ln.cwd_to_path_length for ln in ls], dtype=float),
            "through_core": np.array([ln.through_core for ln in ls], dtype=bool),
            "connected": np.array([ln.connected for ln in ls], dtype=bool),
            "active": np.array([ln.active for ln in ls], dtype=bool),
        }


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def cost_distance(resistance, sources, cellsize: float = 1.0, neighbours: int = 8) -> np.ndarray:
    """Accumulated cost-weighted distance (CWD) from the nearest of a set of source cells.

    ``resistance``: 2-D array, cost per map unit of crossing each cell; NaN or ``+inf`` =
    impassable nodata, every other value > 0. ``sources``: a boolean mask of the grid's shape or
    a sequence of (row, column) cells. ``cellsize``: the side of a cell in map units.
    ``neighbours``: 4 or 8.

    A move between adjacent cell centres costs the mean of the two resistances times
    ``cellsize`` (orthogonal) or ``sqrt(2) * cellsize`` (diagonal), as ArcGIS's Cost Distance.
    Returns a float grid: 0 on the sources, the least accumulated cost elsewhere (resistance ×
    map units), ``inf`` on passable cells no path reaches, ``NaN`` on nodata cells.
    """
    res, valid = _check_resistance(resistance)
    cs = _check_cellsize(cellsize)
    _check_neighbours(neighbours)
    src = _cells_mask(sources, res.shape, "sources")
    _check_on_valid(src, valid, "sources")
    graph = _grid_graph(res, valid, cs, neighbours)
    dist, _ = _dijkstra(graph, src)
    return _as_grid(dist, valid)


def least_cost_path(resistance, a, b, cellsize: float = 1.0, neighbours: int = 8) -> LeastCostPath:
    """The least-cost path from the cells ``a`` to the cells ``b``.

    ``a`` and ``b``: boolean masks of the grid's shape or sequences of (row, column) cells (a
    core's cells, or a single focal cell). Conventions as :func:`cost_distance`. The path runs
    from the cell of ``a`` it leaves from to the cell of ``b`` with the least CWD from ``a``
    (ties: the first in row-major order); its cost is the least-cost distance (LCD, the minimum
    of the CWD from ``a`` over ``b``); its length is measured through the cell centres in map
    units. The LCD is symmetric (``a`` → ``b`` equals ``b`` → ``a``). When no path exists the
    result has no cells and cost and length ``inf``.
    """
    res, valid = _check_resistance(resistance)
    cs = _check_cellsize(cellsize)
    _check_neighbours(neighbours)
    ma = _cells_mask(a, res.shape, "a")
    mb = _cells_mask(b, res.shape, "b")
    _check_on_valid(ma, valid, "a")
    _check_on_valid(mb, valid, "b")
    graph = _grid_graph(res, valid, cs, neighbours)
    dist, pred = _dijkstra(graph, ma)
    return _trace(dist, pred, mb, res.shape, cs)


def corridors(
    resistance,
    cores,
    cellsize: float = 1.0,
    neighbours: int = 8,
    width: float | None = None,
    pairs: Iterable[Sequence[int]] | None = None,
    drop_through_cores: bool = True,
) -> CorridorResult:
    """Normalised least-cost corridors between habitat cores, as Linkage Mapper maps them.

    ``resistance``: as :func:`cost_distance`. ``cores``: an integer core-id grid of the same
    shape; cells with an id > 0 belong to that core, 0, negative and NaN cells to none (at
    least two cores; no core cell on nodata). ``width``: keep corridor cells with NLCC <= width
    (resistance × map units) in :attr:`CorridorResult.corridor`; None = untruncated.
    ``pairs``: the pairs of core ids to link (each at most once, in either order); None = all
    pairs. ``drop_through_cores``: leave links whose least-cost path crosses a third core out
    of the mosaic (Linkage Mapper's default); they stay in the link table, marked.

    Computed once per core: the CWD grid from all its cells and its Dijkstra predecessors (one
    multi-source Dijkstra per core, on a graph built once) and the distance transform to its
    cell edges. Per pair only cheap steps remain: the zonal minimum (LCD), tracing the path
    through the predecessors, the edge-to-edge distance and one NLCC sum for the mosaic. A
    disconnected pair has LCD, length and ratios ``inf``/NaN, ``connected=False`` and does not
    enter the mosaic.
    """
    res, valid = _check_resistance(resistance)
    cs = _check_cellsize(cellsize)
    _check_neighbours(neighbours)
    ids_grid = _check_cores(cores, res.shape, valid)
    core_ids = tuple(int(i) for i in np.unique(ids_grid[ids_grid > 0]))
    if len(core_ids) < 2:
        raise ValueError(
            f"cores: found {len(core_ids)} core id(s) {list(core_ids)}; corridors needs at least two "
            "cores — give a grid where each core's cells hold its integer id > 0 (0, negative or NaN "
            "for no core)"
        )
    if width is not None:
        width = float(width)
        if not np.isfinite(width) or width < 0:
            raise ValueError(f"width: {width} is not a cost distance >= 0; give a finite threshold >= 0 or None")
    pair_list = _check_pairs(pairs, core_ids)
    used = sorted({i for p in pair_list for i in p})

    graph = _grid_graph(res, valid, cs, neighbours)
    masks = {i: ids_grid == i for i in core_ids}
    cwd: dict[int, np.ndarray] = {}
    preds: dict[int, np.ndarray] = {}
    sources_of = {p[0] for p in pair_list}  # paths are traced from the lower id of each pair
    for i in used:
        dist, pred = _dijkstra(graph, masks[i])
        cwd[i] = _as_grid(dist, valid)
        if i in sources_of:
            preds[i] = pred
    edge_dt = {i: _edge_distance_transform(masks[i], cs) for i in {p[1] for p in pair_list}}
    corners = {i: _corner_mask(masks[i]) for i in sources_of}

    links = []
    mosaic = np.where(valid, np.inf, np.nan)
    for a, b in pair_list:
        path = _trace(cwd[a].ravel(), preds[a], masks[b], res.shape, cs)
        lcd = path.cost
        euc = float(edge_dt[b][corners[a]].min())
        connected = path.connected
        through = ()
        if connected:
            on = ids_grid[path.cells[:, 0], path.cells[:, 1]]
            through = tuple(int(i) for i in np.unique(on[(on > 0) & (on != a) & (on != b)]))
        active = connected and not (drop_through_cores and through)
        links.append(
            CorridorLink(
                core_a=a,
                core_b=b,
                lcd=lcd,
                euclidean_distance=euc,
                path_length=path.length,
                cwd_to_euclidean=_ratio(lcd, euc),
                cwd_to_path_length=_ratio(lcd, path.length),
                through_cores=through,
                connected=connected,
                active=active,
                path=path,
            )
        )
        if active:
            np.minimum(mosaic, _nlcc(cwd[a], cwd[b], lcd), out=mosaic)
    corridor = mosaic.copy() if width is None else _truncate(mosaic, width)
    return CorridorResult(
        core_ids=core_ids,
        cwd=cwd,
        links=tuple(links),
        mosaic=mosaic,
        width=width,
        corridor=corridor,
    )


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_resistance(resistance) -> tuple[np.ndarray, np.ndarray]:
    try:
        res = np.asarray(resistance, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"resistance: not a numeric grid ({e}); give a 2-D array of resistances > 0") from None
    if res.ndim != 2 or res.size == 0:
        raise ValueError(f"resistance: shape {res.shape} is not a non-empty 2-D grid; give a 2-D array (rows, columns)")
    valid = np.isfinite(res)
    bad = (valid & (res <= 0)) | (res == -np.inf)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"resistance: {int(bad.sum())} cell(s) are 0 or negative (first at row {r}, column {c}: "
            f"{res[r, c]}); resistance must be > 0 — mark impassable cells with NaN, or give a small "
            "positive value (e.g. 1e-6) for near-free movement"
        )
    return res, valid


def _check_cellsize(cellsize) -> float:
    try:
        cs = float(cellsize)
    except (TypeError, ValueError):
        raise ValueError(f"cellsize: {cellsize!r} is not a number; give the cell side in map units (> 0)") from None
    if not np.isfinite(cs) or cs <= 0:
        raise ValueError(f"cellsize: {cs} is not > 0; give the cell side in map units (> 0)")
    return cs


def _check_neighbours(neighbours) -> None:
    if neighbours not in (4, 8) or isinstance(neighbours, bool):
        raise ValueError(f"neighbours: {neighbours!r} is not 4 or 8; give 4 (orthogonal moves) or 8 (also diagonal)")


def _cells_mask(spec, shape: tuple[int, int], name: str) -> np.ndarray:
    """A boolean mask from a mask of the grid's shape or a sequence of (row, column) cells."""
    arr = np.asarray(spec)
    if arr.dtype == bool:
        if arr.shape != shape:
            raise ValueError(f"{name}: mask shape {arr.shape} differs from resistance's {shape}; give a boolean mask of shape {shape} or (row, column) cells")
        mask = arr.copy()
    else:
        if arr.size == 0:
            raise ValueError(f"{name}: no cells; give at least one (row, column) cell or a non-empty boolean mask")
        if arr.ndim == 1 and arr.shape[0] == 2:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}: give a boolean mask of shape {shape} or a sequence of integer (row, column) cells, not an array of shape {arr.shape} and type {arr.dtype}")
        out = (arr[:, 0] < 0) | (arr[:, 0] >= shape[0]) | (arr[:, 1] < 0) | (arr[:, 1] >= shape[1])
        if out.any():
            raise ValueError(f"{name}: cell {tuple(int(v) for v in arr[out][0])} is outside the {shape[0]} × {shape[1]} grid; give cells with 0 <= row < {shape[0]}, 0 <= column < {shape[1]}")
        mask = np.zeros(shape, dtype=bool)
        mask[arr[:, 0], arr[:, 1]] = True
    if not mask.any():
        raise ValueError(f"{name}: no cells; give at least one (row, column) cell or a non-empty boolean mask")
    return mask


def _check_on_valid(mask: np.ndarray, valid: np.ndarray, name: str) -> None:
    bad = mask & ~valid
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {int(bad.sum())} cell(s) lie on nodata resistance (first at row {r}, column {c}); move them onto passable cells or give those cells a resistance > 0")


def _check_cores(cores, shape: tuple[int, int], valid: np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(cores, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"cores: not a numeric grid ({e}); give an integer core-id grid of the resistance's shape {shape}") from None
    if arr.shape != shape:
        raise ValueError(f"cores: shape {arr.shape} differs from resistance's shape {shape}; give a core-id grid with the same rows and columns as resistance")
    member = np.isfinite(arr) & (arr > 0)
    frac = member & (arr != np.round(arr))
    if frac.any():
        r, c = np.argwhere(frac)[0]
        raise ValueError(f"cores: cell (row {r}, column {c}) holds {arr[r, c]}, not an integer id; give integer core ids > 0 (0, negative or NaN for no core)")
    ids = np.zeros(shape, dtype=np.int64)
    ids[member] = arr[member].astype(np.int64)
    bad = member & ~valid
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"cores: {int(bad.sum())} core cell(s) lie on nodata resistance (first at row {r}, column {c}, core {ids[r, c]}); give those cells a resistance > 0 or take them out of the core")
    return ids


def _check_pairs(pairs, core_ids: tuple[int, ...]) -> list[tuple[int, int]]:
    if pairs is None:
        return [(a, b) for k, a in enumerate(core_ids) for b in core_ids[k + 1 :]]
    known = set(core_ids)
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for p in pairs:
        try:
            a, b = (int(v) for v in p)
        except (TypeError, ValueError):
            raise ValueError(f"pairs: {p!r} is not a pair of core ids; give pairs such as [(1, 2), (2, 3)]") from None
        for v in (a, b):
            if v not in known:
                raise ValueError(f"pairs: core {v} in {tuple(p)} is not in cores (ids {list(core_ids)}); name only cores of the grid")
        if a == b:
            raise ValueError(f"pairs: {tuple(p)} links a core to itself; give two different core ids")
        key = (min(a, b), max(a, b))
        if key in seen:
            raise ValueError(f"pairs: the pair {key} is listed twice; list each pair once (order does not matter)")
        seen.add(key)
        out.append(key)
    if not out:
        raise ValueError("pairs: empty; give at least one pair of core ids, or None for all pairs")
    return sorted(out)


# --------------------------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------------------------


def _grid_graph(res: np.ndarray, valid: np.ndarray, cellsize: float, neighbours: int) -> sparse.csr_matrix:
    """The directed grid graph (both directions stored) over all cells; nodata cells are isolated.

    Edge weight: mean of the two resistances × centre distance (``cellsize``, or
    ``sqrt(2) * cellsize`` diagonally).
    """
    n, m = res.shape
    idx = np.arange(n * m, dtype=np.int32).reshape(n, m)
    offsets = [(o, 1.0) for o in _ORTHOGONAL] + ([(o, SQRT2) for o in _DIAGONAL] if neighbours == 8 else [])
    us, vs, ws = [], [], []
    for (dr, dc), step in offsets:
        r0, r1 = max(0, -dr), n - max(0, dr)
        c0, c1 = max(0, -dc), m - max(0, dc)
        if r1 <= r0 or c1 <= c0:
            continue
        here = (slice(r0, r1), slice(c0, c1))
        there = (slice(r0 + dr, r1 + dr), slice(c0 + dc, c1 + dc))
        ok = valid[here] & valid[there]
        w = (0.5 * step * cellsize) * (res[here][ok] + res[there][ok])
        u, v = idx[here][ok], idx[there][ok]
        us += [u, v]
        vs += [v, u]
        ws += [w, w]
    size = n * m
    if not us:
        return sparse.csr_matrix((size, size), dtype=float)
    rows = np.concatenate(us)
    cols = np.concatenate(vs)
    data = np.concatenate(ws)
    return sparse.csr_matrix((data, (rows, cols)), shape=(size, size))


def _dijkstra(graph: sparse.csr_matrix, source_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra: distance to the nearest source and the predecessor of each node."""
    src = np.flatnonzero(source_mask.ravel())
    dist, pred, _ = csgraph.dijkstra(graph, directed=True, indices=src, return_predecessors=True, min_only=True)
    dist[src] = 0.0
    return dist, pred


def _as_grid(dist: np.ndarray, valid: np.ndarray) -> np.ndarray:
    grid = dist.reshape(valid.shape).copy()
    grid[~valid] = np.nan
    return grid


def _trace(dist: np.ndarray, pred: np.ndarray, target: np.ndarray, shape: tuple[int, int], cellsize: float) -> LeastCostPath:
    """The path from the sources of ``dist``/``pred`` to the target cell with the least distance."""
    tflat = np.flatnonzero(target.ravel())
    d = dist[tflat]
    k = int(np.argmin(d))
    lcd = float(d[k])
    if not np.isfinite(lcd):
        return LeastCostPath(cells=np.zeros((0, 2), dtype=np.int64), cost=np.inf, length=np.inf)
    node = int(tflat[k])
    nodes = [node]
    while pred[node] >= 0:
        node = int(pred[node])
        nodes.append(node)
    nodes.reverse()
    cells = np.column_stack(np.unravel_index(np.array(nodes, dtype=np.int64), shape)).astype(np.int64)
    steps = np.abs(np.diff(cells, axis=0))
    diagonal = (steps[:, 0] == 1) & (steps[:, 1] == 1)
    length = float(cellsize * (np.count_nonzero(~diagonal) + SQRT2 * np.count_nonzero(diagonal)))
    return LeastCostPath(cells=cells, cost=lcd, length=length)


def _nlcc(cwd_a: np.ndarray, cwd_b: np.ndarray, lcd: float) -> np.ndarray:
    """``CWD_a + CWD_b - LCD`` with rounding error near 0 set to exactly 0 (inf if disconnected)."""
    if not np.isfinite(lcd):
        return np.where(np.isnan(cwd_a), np.nan, np.inf)
    out = cwd_a + cwd_b - lcd
    with np.errstate(invalid="ignore"):
        out[out <= _NLCC_ROUNDING * lcd] = 0.0
    return out


def _truncate(grid: np.ndarray, width: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(grid <= width, grid, np.nan)


def _corner_mask(mask: np.ndarray) -> np.ndarray:
    """The cell corners (an (n+1) × (m+1) lattice) of the cells in ``mask``."""
    n, m = mask.shape
    c = np.zeros((n + 1, m + 1), dtype=bool)
    c[:-1, :-1] |= mask
    c[1:, :-1] |= mask
    c[:-1, 1:] |= mask
    c[1:, 1:] |= mask
    return c


def _edge_distance_transform(mask: np.ndarray, cellsize: float) -> np.ndarray:
    """Distance (map units) from each cell corner to the nearest corner of the cells in ``mask``.

    The distance between two grid-aligned squares is attained between corners, so the minimum
    of this over another core's corners is the edge-to-edge distance of the two cores.
    """
    return ndimage.distance_transform_edt(~_corner_mask(mask), sampling=cellsize)


def _ratio(num: float, den: float) -> float:
    if not (np.isfinite(num) and np.isfinite(den)) or den == 0:
        return float("nan")
    return float(num / den)
