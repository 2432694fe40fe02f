"""Home ranges: the cells an animal uses, and the one operator that reads a layer for an animal.

A range is a set of cells with weights (the share of the animal's use of each, summing to 1),
stored sparse (CSR: ranges × cells). An animal's ``range_id`` column names its range (−1: none
— a cub, a transient, or every animal of the non-spatial model); its ``cell`` is where it is.
:func:`exposure` reads a layer for animals: the weighted mean over the range where an animal has
one, the value at its cell where it has none — so a process never chooses how to look a layer
up, and the non-spatial model (no ranges) reads exactly its cell.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_RANGE = -1

# the ``status`` column: what an animal is doing with space
STATUS_CODES = {0: "resident", 1: "dependent", 2: "transient"}
RESIDENT, DEPENDENT, TRANSIENT = 0, 1, 2


class RangeTable:
    """Ranges × cells, sparse: range i uses cells ``cells[start[i]:start[i + 1]]`` with
    ``weight[...]`` (non-negative, summing to 1 per range). Ranges are added as animals settle
    and freed as they die or leave; a range's id stays its own (a freed range keeps its id with
    no cells once the table is compacted), so adding one costs its own cells, not the table's:
    new ranges are appended to buffers that grow by doubling, and the cells of freed ranges are
    dropped when they outnumber the living ones. ``start``, ``cells`` and ``weight`` are views
    valid until the next :meth:`add`."""

    def __init__(self) -> None:
        self._start = np.zeros(64, dtype=np.int64)
        self._cells = np.zeros(1024, dtype=np.int64)
        self._weight = np.zeros(1024, dtype=np.float64)
        self._alive = np.zeros(64, dtype=bool)
        self._n = 0  # ranges ever added
        self._size = 0  # cells stored (living ranges and freed ones not yet dropped)
        self._garbage = 0  # cells of freed ranges still stored

    @property
    def n_ranges(self) -> int:
        return self._n

    @property
    def start(self) -> np.ndarray:
        return self._start[: self._n + 1]

    @property
    def cells(self) -> np.ndarray:
        return self._cells[: self._size]

    @property
    def weight(self) -> np.ndarray:
        return self._weight[: self._size]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self._n]

    def add(self, cells, weights=None) -> int:
        """A new range over ``cells`` (equal use unless ``weights`` are given); its id."""
        cells = np.asarray(cells, dtype=np.int64).ravel()
        if cells.size == 0:
            raise ValueError("a range needs at least one cell")
        w = np.full(cells.size, 1.0 / cells.size) if weights is None else np.asarray(weights, dtype=float).ravel()
        if w.shape != cells.shape or (w < 0).any() or not w.sum() > 0:
            raise ValueError("range weights must be one non-negative value per cell, not all zero")
        w = w / w.sum()
        rid, k = self._n, cells.size
        if self._n + 2 > self._start.size:
            self._start = np.resize(self._start, 2 * self._start.size)
            self._alive = np.resize(self._alive, 2 * self._alive.size)
        if self._size + k > self._cells.size:
            cap = max(2 * self._cells.size, self._size + k)
            self._cells = np.resize(self._cells, cap)
            self._weight = np.resize(self._weight, cap)
        self._cells[self._size : self._size + k] = cells
        self._weight[self._size : self._size + k] = w
        self._size += k
        self._n += 1
        self._start[self._n] = self._size
        self._alive[rid] = True
        return rid

    def add_many(self, offsets: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """New ranges over ``cells[offsets[i]:offsets[i + 1]]`` (equal use), as :meth:`add` of
        each in turn would make them; their ids."""
        offsets = np.asarray(offsets, dtype=np.int64)
        cells = np.asarray(cells, dtype=np.int64)[: offsets[-1]]
        sizes = np.diff(offsets)
        m = sizes.size
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        if (sizes <= 0).any():
            raise ValueError("a range needs at least one cell")
        while self._n + m + 1 > self._start.size:
            self._start = np.resize(self._start, 2 * self._start.size)
            self._alive = np.resize(self._alive, 2 * self._alive.size)
        k = cells.size
        if self._size + k > self._cells.size:
            cap = max(2 * self._cells.size, self._size + k)
            self._cells = np.resize(self._cells, cap)
            self._weight = np.resize(self._weight, cap)
        self._cells[self._size : self._size + k] = cells
        # the weights exactly as add() makes them: 1/k, divided by their sum
        per = {int(z): (np.full(z, 1.0 / z) / np.full(z, 1.0 / z).sum())[0] for z in np.unique(sizes)}
        self._weight[self._size : self._size + k] = np.repeat(np.array([per[int(z)] for z in sizes]), sizes)
        ids = np.arange(self._n, self._n + m, dtype=np.int64)
        self._start[self._n + 1 : self._n + m + 1] = self._size + offsets[1:]
        self._alive[ids] = True
        self._size += k
        self._n += m
        return ids

    def release(self, rid: int) -> None:
        """The range is no longer anyone's (its animal died or left)."""
        if not (0 <= rid < self._n) or not self._alive[rid]:
            raise ValueError(f"range {rid} is not in use")
        self._alive[rid] = False
        self._garbage += int(self._start[rid + 1] - self._start[rid])
        if self._garbage > max(self._size - self._garbage, 4096):
            self._compact()

    def _compact(self) -> None:
        """Drop the cells of freed ranges (their ids stay, with no cells)."""
        start = self.start
        sizes = np.where(self.alive, np.diff(start), 0)
        keep = np.repeat(self.alive, np.diff(start))
        self._cells[: int(sizes.sum())] = self._cells[: self._size][keep]
        self._weight[: int(sizes.sum())] = self._weight[: self._size][keep]
        self._start[1 : self._n + 1] = np.cumsum(sizes)
        self._size = int(sizes.sum())
        self._garbage = 0

    def cells_of(self, rid: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.start[rid], self.start[rid + 1]
        return self.cells[a:b], self.weight[a:b]

    def use(self, n_cells: int, rids=None) -> np.ndarray:
        """Per cell, the summed use of the given ranges (default: all in use): e.g. the number of
        residents a cell's prey feeds."""
        out = np.zeros(n_cells)
        ids = np.flatnonzero(self.alive) if rids is None else np.asarray(rids, dtype=np.int64)
        return _use(self.start, self.cells, self.weight, ids, out)


@njit(cache=True)
def _use(start, cells, weight, ids, out):
    for k in range(ids.shape[0]):
        r = ids[k]
        for j in range(start[r], start[r + 1]):
            out[cells[j]] += weight[j]
    return out


@njit(cache=True)
def _exposure(layer, cell, range_id, rows, start, cells, weight, out):
    for k in range(rows.shape[0]):
        i = rows[k]
        r = range_id[i]
        if r < 0:
            out[k] = layer[cell[i]]
        else:
            v = 0.0
            for j in range(start[r], start[r + 1]):
                v += weight[j] * layer[cells[j]]
            out[k] = v
    return out


_EMPTY = RangeTable()


def exposure(layer: np.ndarray, cell: np.ndarray, range_id: np.ndarray, rows: np.ndarray, ranges: RangeTable | None = None) -> np.ndarray:
    """A layer as each animal of ``rows`` meets it: the use-weighted mean over its home range
    where it has one (``range_id`` ≥ 0), else the layer at its cell."""
    rows = np.asarray(rows, dtype=np.int64)
    t = _EMPTY if ranges is None else ranges
    if ranges is None and rows.size and (range_id[rows] >= 0).any():
        raise ValueError("animals have home ranges but no range table was given")
    return _exposure(np.asarray(layer, dtype=np.float64), cell, range_id, rows, t.start, t.cells, t.weight, np.empty(rows.size))
