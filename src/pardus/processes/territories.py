"""Territories on the map (MODEL.md §4.6): home ranges from cells with enough prey and
acceptable cover.

A settling animal grows its range outward from a seed cell (breadth first, so ranges are
compact), over cells whose cover it does not avoid (by default it avoids water, grassland,
farmland, settlements and mines) and that no resident **of its sex** holds, until the prey the
range holds meets its requirement:

    Σ_cells prey_c · area_c  ≥  kills_per_leopard · need(sex) / prey_take

(``prey_take``: the share of the prey stock a leopard can take a year without depleting it).
Female ranges are exclusive among females; male ranges are exclusive among males and overlap
the females' — a male's range is also at least ``male_min_cells`` cells (mate access, not food,
sets its size: about 200 km², MODEL.md §4.6). A range may not pass ``max_cells`` of its sex; an
animal tries up to ``max_tries`` free cells within ``search_radius`` cells of where it stands
(nearest first) as the seed, and stays without a range (a transient) if none works. Ranges use
their cells equally.

``prey_take`` is set so that under the default landscape's starting prey (about 4–5
roe-deer equivalents per km² in forest) female ranges are about 40 km² (MODEL.md §4.6). Filled to
saturation, the default landscape then holds about 160 female and 45 male ranges, 2.6 adults per
100 km² of land, each female range overlapping about two male ranges: that is its capacity. The
density observed by SCR (0.98 adults per 100 km² in Russia, 0.62 in Jilin) is that of a
population held below capacity by poaching, roads and conflict; it is for the spatial
demography to reproduce, not for the range rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..landscape.layers import COVER_CODES
from ..landscape.ranges import RangeTable

AVOIDED_DEFAULT = ("water", "grassland", "agriculture", "settlement", "mine")


@dataclass(frozen=True)
class TerritoryParams:
    #: where each default not taken from the scenario comes from (shown by ``pardus explain``)
    SOURCES: ClassVar[dict[str, str]] = {
        "prey_take": "assumption (range 0.15–0.4): the share of a range's prey stock a resident may take a year; set so that female ranges are about 40 km² under the default landscape's prey (assumption: female ranges of 25–100 km²)",
        "female_max_cells": "assumption (range 50–150 km²): the largest range a female holds (female ranges of 25–100 km² assumed)",
        "male_min_cells": "assumption (range 100–200 km²): mate access sets a male's range, not food",
        "male_max_cells": "assumption (range 200–400 km²): the largest range a male holds (male ranges of 100–300 km² assumed)",
        "search_radius": "assumption (range 5–20 cells): how far around itself an animal looks for a vacant place",
        "max_tries": "assumption (range 4–64): the places within the radius it tries before it gives up for the year",
        "avoided": "assumption: grassland, farmland, settlements, mines and water hold no range (leopards avoid open and settled land, as the source texts say of burned forest turned to grassland)",
    }

    kills_per_leopard: float = 55.0  # per adult female and year (MODEL.md §4.4; as prey.kills_per_leopard)
    need_female: float = 1.0
    need_male: float = 1.25  # as amur-2015's prey.need.male.adult
    prey_take: float = 0.3  # set so that female ranges are ≈ 40 km² under the default landscape's prey (MODEL.md §4.6); range 0.15–0.4
    female_max_cells: int = 100  # MODEL.md §4.6: female ranges 25–100 km²
    male_min_cells: int = 150  # assumption (range 100–200): mate access sets a male's range, not food
    male_max_cells: int = 300  # MODEL.md §4.6: male ranges 100–300 km²
    search_radius: int = 10  # cells an animal looks around for a vacant place (assumption, range 5–20)
    max_tries: int = 16  # places within the radius it tries before it gives up this year (assumption)
    avoided: tuple[str, ...] = AVOIDED_DEFAULT  # MODEL.md §4.6: grassland, farmland, settlements avoided

    def __post_init__(self) -> None:
        unknown = set(self.avoided) - set(COVER_CODES.values())
        if unknown:
            raise ValueError(f"avoided: unknown cover class(es) {sorted(unknown)}")
        if not 0 < self.prey_take <= 1:
            raise ValueError("prey_take is a share of the prey stock (0–1]")
        if not (1 <= self.female_max_cells and 1 <= self.male_min_cells <= self.male_max_cells):
            raise ValueError("range sizes: female_max_cells ≥ 1 and 1 ≤ male_min_cells ≤ male_max_cells")

    def acceptable(self, cover: np.ndarray) -> np.ndarray:
        bad = [k for k, v in COVER_CODES.items() if v in self.avoided]
        return ~np.isin(cover, bad)

    def required_stock(self, sex: int) -> float:
        need = self.need_female if sex == 0 else self.need_male
        return self.kills_per_leopard * need / self.prey_take


@njit(cache=True)
def grow_range(seed, base, owner, acceptable, stock, neighbours, required, min_cells, max_cells, out, seen):
    """Cells of a range grown breadth first from local cell ``seed`` over acceptable cells that
    ``owner`` (global, −1 free) leaves free, until their stock meets ``required`` and they are at
    least ``min_cells``; returns how many cells (0: no range fits). ``out`` receives the local
    cells; ``seen`` is scratch (local cells, all False on entry and on return)."""
    if owner[base + seed] >= 0 or not acceptable[base + seed]:
        return 0
    n_nb = neighbours.shape[1]
    head, tail = 0, 0
    out[tail] = seed
    seen[seed] = True
    tail += 1
    total = 0.0
    k = 0
    ok = False
    while head < tail:
        c = out[head]
        head += 1
        total += stock[base + c]
        k = head
        if total >= required and k >= min_cells:
            ok = True
            break
        if k >= max_cells:
            break
        for j in range(n_nb):
            nb = neighbours[c, j]
            if nb >= 0 and not seen[nb] and acceptable[base + nb] and owner[base + nb] < 0:
                seen[nb] = True
                out[tail] = nb
                tail += 1
    for i in range(tail):
        seen[out[i]] = False
    return k if ok else 0


@njit(cache=True)
def free_components(owner, acceptable, stock, neighbours, n_reps, C, label, queue):
    """The connected components of the free (``owner`` < 0) acceptable cells of every replicate
    (over the grid's neighbours, as :func:`grow_range` grows): ``label`` (global cell → its
    component, −1 for the others) is filled; returns (stock, cells) per component. A range can
    only grow from a seed whose component holds its stock and its minimum size: the components
    are an exact bound that lets :func:`find_range` skip seeds that cannot succeed (later claims
    only shrink the free cells, so a bound computed before them stays valid)."""
    label[:] = -1
    n_nb = neighbours.shape[1]
    comp_stock = np.empty(n_reps * C)
    comp_size = np.empty(n_reps * C, dtype=np.int64)
    n = 0
    for r in range(n_reps):
        base = r * C
        for c0 in range(C):
            g0 = base + c0
            if label[g0] >= 0 or owner[g0] >= 0 or not acceptable[g0]:
                continue
            label[g0] = n
            head, tail = 0, 1
            queue[0] = c0
            tot = 0.0
            while head < tail:
                c = queue[head]
                head += 1
                tot += stock[base + c]
                for j in range(n_nb):
                    nb = neighbours[c, j]
                    if nb >= 0 and label[base + nb] < 0 and owner[base + nb] < 0 and acceptable[base + nb]:
                        label[base + nb] = n
                        queue[tail] = nb
                        tail += 1
            comp_stock[n] = tot
            comp_size[n] = tail
            n += 1
    return comp_stock[:n], comp_size[:n]


@njit(cache=True)
def hopeful_distance(label, comp_stock, comp_size, required, min_cells, neighbours, n_reps, C, cap, dist, queue):
    """Per global cell the grid distance (steps over every neighbour, as :func:`find_range`
    searches) to the nearest free acceptable cell whose component could hold a range, capped
    at ``cap``: a search from a cell farther than its radius tries only seeds that fail, so it
    can be skipped — exactly (later claims only make the true distance larger)."""
    n_nb = neighbours.shape[1]
    for r in range(n_reps):
        base = r * C
        head, tail = 0, 0
        for c in range(C):
            lab = label[base + c]
            if lab >= 0 and comp_stock[lab] >= required * (1.0 - 1e-9) and comp_size[lab] >= min_cells:
                dist[base + c] = 0
                queue[tail] = c
                tail += 1
            else:
                dist[base + c] = cap
        while head < tail:
            c = queue[head]
            head += 1
            d = dist[base + c] + 1
            if d >= cap:
                continue
            for j in range(n_nb):
                nb = neighbours[c, j]
                if nb >= 0 and dist[base + nb] > d:
                    dist[base + nb] = d
                    queue[tail] = nb
                    tail += 1
    return dist


@njit(cache=True)
def find_range(start, base, owner, acceptable, stock, neighbours, radius, required, min_cells, max_cells, max_tries, out, seen, queue, dist,
               comp, comp_stock, comp_size, failed, stamp):  # fmt: skip
    """A range near local cell ``start``: the cells within ``radius`` steps (breadth first) that
    are acceptable and free are tried as seeds in turn, up to ``max_tries`` of them, until a
    range grows from one (:func:`grow_range`); returns its size (0: none), its cells in ``out``.
    ``seen`` and ``dist`` are scratch (left as they came: all False, all −1). ``comp`` /
    ``comp_stock`` / ``comp_size`` (:func:`free_components`; ``comp`` all −1 for none) skip the
    seeds whose component cannot hold a range — the same result, less work. ``failed``
    (global cells) remembers the seeds whose range did not grow, stamped ``stamp`` (> 0): while
    the caller keeps the stamp (no range of this sex claimed in this replicate since — the free
    cells, and so every grow, are as they were) such a seed fails again without growing;
    ``stamp`` 0 remembers nothing."""
    head, tail = 0, 0
    queue[tail] = start
    dist[start] = 0
    tail += 1
    tries = 0
    k = 0
    while head < tail and tries < max_tries:
        c = queue[head]
        head += 1
        if acceptable[base + c] and owner[base + c] < 0:
            tries += 1
            lab = comp[base + c]
            # a component short of the stock or of the cells fails for sure (a margin for rounding)
            hopeless = lab >= 0 and (comp_stock[lab] < required * (1.0 - 1e-9) or comp_size[lab] < min_cells)
            if stamp > 0 and failed[base + c] == stamp:
                hopeless = True  # grown from before, with the same free cells: it fails again
            if not hopeless:
                k = grow_range(c, base, owner, acceptable, stock, neighbours, required, min_cells, max_cells, out, seen)
                if k > 0:
                    break
                if stamp > 0:
                    failed[base + c] = stamp
        if dist[c] >= radius:
            continue
        for j in range(neighbours.shape[1]):
            nb = neighbours[c, j]
            if nb >= 0 and dist[nb] < 0:
                dist[nb] = dist[c] + 1
                queue[tail] = nb
                tail += 1
    for i in range(tail):
        dist[queue[i]] = -1
    return k


_NO_STOCK = np.zeros(0)
_NO_SIZE = np.zeros(0, dtype=np.int64)
_NO_FAILED = np.zeros(0, dtype=np.int64)


class Territories:
    """The home ranges of a batch: a RangeTable over the batch's cells and, per sex, which
    range holds each cell (−1: free)."""

    def __init__(self, params: TerritoryParams, neighbours: np.ndarray, cells_per_rep: int, n_reps: int):
        self.p = params
        self.neighbours = np.asarray(neighbours, dtype=np.int64)
        self.C = cells_per_rep
        self.R = n_reps
        self.table = RangeTable()
        self.owner = np.full((2, n_reps * cells_per_rep), -1, dtype=np.int64)  # [sex, global cell] → range id
        self.sex_of = np.zeros(0, dtype=np.int8)
        self._out = np.empty(8 * max(params.male_max_cells, params.female_max_cells) + 8, dtype=np.int64)  # a range and its frontier
        self._seen = np.zeros(cells_per_rep, dtype=np.bool_)
        self._queue = np.empty(cells_per_rep, dtype=np.int64)
        self._dist = np.full(cells_per_rep, -1, dtype=np.int64)
        self._no_comp = np.full(n_reps * cells_per_rep, -1, dtype=np.int64)  # no component bound (settle)
        self._label = np.empty((2, n_reps * cells_per_rep), dtype=np.int64)

    def components(self, acceptable: np.ndarray, stock: np.ndarray):
        """Per sex, :func:`free_components` of the batch now: ((label, stock, cells), …)."""
        return tuple((self._label[sex],) + free_components(self.owner[sex], acceptable, stock, self.neighbours, self.R, self.C, self._label[sex], self._queue) for sex in (0, 1))

    def hopeful(self, comps) -> np.ndarray:
        """(2, cells of the batch): per sex :func:`hopeful_distance` capped at search_radius + 1."""
        p = self.p
        out = np.empty((2, self.R * self.C), dtype=np.int64)
        for sex, (label, stock, size) in enumerate(comps):
            min_cells = p.male_min_cells if sex == 1 else 1
            hopeful_distance(label, stock, size, p.required_stock(sex), min_cells, self.neighbours, self.R, self.C, p.search_radius + 1, out[sex], self._queue)
        return out

    def suitability(self, layers: dict) -> tuple[np.ndarray, np.ndarray]:
        """(acceptable cover, prey stock) per cell of the batch, for :meth:`settle`."""
        return self.p.acceptable(layers["cover"]), layers["prey"] * layers["area_km2"]

    def stocks(self, rids: np.ndarray, stock: np.ndarray) -> np.ndarray:
        """The prey stock each range of ``rids`` holds."""
        t = self.table
        if t.cells.size == 0:
            return np.zeros(len(rids))
        # padded with a 0 so that an empty range at the end (freed, compacted) has an index to start at
        per = np.add.reduceat(np.r_[stock[t.cells] * 1.0, 0.0], t.start[:-1]) if t.n_ranges else np.zeros(0)
        empty = t.start[1:] == t.start[:-1]
        per[empty] = 0.0
        return per[np.asarray(rids, dtype=np.int64)]

    def settle(self, pop, rows: np.ndarray, layers: dict, suitability: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Try to give each animal of ``rows`` (in order) a range near where it is; returns how
        many settled. A settled animal gets its range_id, status resident and the range's first
        cell as its cell. ``suitability``: :meth:`suitability` of the layers, if already known."""
        from ..population.table import RESIDENT

        p = self.p
        acceptable, stock = self.suitability(layers) if suitability is None else suitability
        settled = 0
        for i in rows:
            sex = int(pop.sex[i])
            r = int(pop.rep[i])
            base = r * self.C
            local = int(pop.cell[i]) - base
            owner = self.owner[sex]
            min_cells = p.male_min_cells if sex == 1 else 1
            max_cells = p.male_max_cells if sex == 1 else p.female_max_cells
            k = find_range(local, base, owner, acceptable, stock, self.neighbours, p.search_radius, p.required_stock(sex), min_cells, max_cells,
                           p.max_tries, self._out, self._seen, self._queue, self._dist, self._no_comp, _NO_STOCK, _NO_SIZE, _NO_FAILED, 0)  # fmt: skip
            if k == 0:
                continue
            self.claim(i, pop, self._out[:k] + base)
            pop.status[i] = RESIDENT
            settled += 1
        return settled

    def claim(self, i: int, pop, cells: np.ndarray) -> int:
        """Animal row i takes a range over (global) ``cells``: its id, the owner map, the
        animal's range_id and its cell (the range's first). Returns the id."""
        sex = int(pop.sex[i])
        rid = self.table.add(cells)
        if rid >= self.sex_of.size:
            self.sex_of = np.resize(self.sex_of, max(2 * self.sex_of.size, rid + 1, 64))
        self.sex_of[rid] = sex
        self.owner[sex, cells] = rid
        pop.range_id[i] = rid
        pop.cell[i] = cells[0]
        return rid

    def claim_many(self, rows: np.ndarray, pop, offsets: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """:meth:`claim` for each animal of ``rows`` in turn, animal k taking the (global) cells
        ``cells[offsets[k]:offsets[k + 1]]``; the same ids and state, in one go. Returns the ids."""
        rows = np.asarray(rows, dtype=np.int64)
        rids = self.table.add_many(offsets, cells)
        if rids.size == 0:
            return rids
        if rids[-1] >= self.sex_of.size:
            self.sex_of = np.resize(self.sex_of, max(2 * self.sex_of.size, int(rids[-1]) + 1, 64))
        sexes = pop.sex[rows].astype(np.int8)
        self.sex_of[rids] = sexes
        sizes = np.diff(offsets)
        used = cells[: offsets[-1]]
        self.owner[np.repeat(sexes, sizes).astype(np.int64), used] = np.repeat(rids, sizes)
        pop.range_id[rows] = rids
        pop.cell[rows] = used[offsets[:-1]]
        return rids

    def release(self, rids) -> None:
        """The ranges of animals that died or left become free."""
        for rid in np.asarray(rids, dtype=np.int64):
            if rid < 0:
                continue
            cells, _w = self.table.cells_of(int(rid))
            self.owner[self.sex_of[rid], cells] = -1
            self.table.release(int(rid))

    def overlapping_males(self, rid: int) -> np.ndarray:
        """The male ranges that share a cell with female range ``rid``."""
        cells, _w = self.table.cells_of(int(rid))
        m = self.owner[1, cells]
        return np.unique(m[m >= 0])
