"""Dispersal on the map (MODEL.md §4.7): a walk over a resistance surface with road deaths and
barriers, crossings, and settlement in a vacant suitable range.

A disperser takes up to ``max_steps`` steps a year from cell to neighbouring cell. Each step
goes to a neighbour chosen with weight ``exp(−resistance(neighbour))``, times ``persistence``
for the neighbour that continues its last direction (a correlated random walk biased toward
low resistance); water cannot be entered. Resistance comes from cover, the road class and human
access (``resistance_by_cover``, ``resistance_by_road``, ``resistance_access``).

Entering a road cell: the road refuses the step with probability ``barrier(road)`` (the animal
stays and tries again next step) and kills it with probability ``road_death(road)``; on a cell
with a ``crossing`` (a tunnel or overpass) both are multiplied by ``1 − crossing_effect``.
Deaths are cause ``road``. After each step the disperser tries to settle there (the caller's
settle function, :class:`pardus.processes.territories.Territories`) every ``settle_every``
steps; one that has not settled at the year's end is a transient and walks on next year.

Draws per disperser from its replicate's stream, in row order, step by step: the neighbour
choice, then the barrier and the death uniform for a road cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..landscape.layers import COVER_CODES, ROAD_CODES
from ..rng import uniform
from .territories import find_range

DEFAULT_COVER_RESISTANCE = {"mixed_forest": 0.0, "oak_forest": 0.0, "shrubland": 0.5, "grassland": 1.5, "agriculture": 2.0, "settlement": 4.0, "mine": 3.0}
DEFAULT_ROAD_RESISTANCE = {"track": 0.0, "road": 0.5, "highway": 1.5, "railway": 1.0}
DEFAULT_ROAD_DEATH = {"track": 0.0, "road": 0.005, "highway": 0.03, "railway": 0.01}
DEFAULT_BARRIER = {"track": 0.0, "road": 0.2, "highway": 0.6, "railway": 0.4}


def _table(names: dict[int, str], values: dict[str, float], what: str) -> tuple[float, ...]:
    unknown = set(values) - set(names.values())
    if unknown:
        raise ValueError(f"{what}: unknown class(es) {sorted(unknown)}; the classes are {', '.join(names.values())}")
    return tuple(float(values.get(names[k], 0.0)) for k in sorted(names))


@dataclass(frozen=True)
class MapDispersalParams:
    #: where each default comes from (shown by ``pardus explain``; a test checks every field has one)
    SOURCES: ClassVar[dict[str, str]] = {
        "max_steps": "assumption (range 20–150 cells a year): dispersing leopards move tens of km",
        "settle_every": "assumption (range 1–10 steps): how often a disperser looks for a vacant range on its way",
        "persistence": "assumption (range 1–10): the weight of going on in the same direction (a correlated random walk)",
        "resistance_by_cover": "assumption (per cover class: forests 0, shrubland 0.5 (0–1), grassland 1.5 (0.5–3), farmland 2 (1–4), settlement 4 (2–8), mine 3 (1–6)): leopards move through forest and avoid open and settled land",
        "resistance_by_road": "assumption (track 0, road 0.5 (0–1), highway 1.5 (0.5–3), railway 1 (0.5–2)): roads deter crossing",
        "resistance_access": "assumption (range 0–3): added per unit of human access",
        "road_death": "assumption (per entry of a road cell: track 0, road 0.005 (0–0.02), highway 0.03 (0.01–0.1), railway 0.01 (0–0.03)): two leopards were reported killed on roads in 2015–16",
        "barrier": "assumption (track 0, road 0.2 (0–0.5), highway 0.6 (0.3–0.9), railway 0.4 (0.1–0.7)): the chance a road turns a step back",
        "crossing_effect": "assumption (range 0.7–1): the share of road death and barrier a crossing (a tunnel or overpass such as the Narvinsky tunnel of 2016) cancels",
        "transient_mortality": "assumption (range 0–0.3): a leopard searching a year without a range runs a higher risk; no Amur leopard estimate",
    }

    max_steps: int = 60  # cells a year (assumption, range 20–150: dispersers move tens of km)
    settle_every: int = 5  # steps between settlement attempts (assumption)
    persistence: float = 3.0  # weight of going on in the same direction (assumption, range 1–10)
    resistance_by_cover: tuple[float, ...] = _table(COVER_CODES, DEFAULT_COVER_RESISTANCE, "resistance_by_cover")  # assumption
    resistance_by_road: tuple[float, ...] = _table(ROAD_CODES, DEFAULT_ROAD_RESISTANCE, "resistance_by_road")  # assumption
    resistance_access: float = 1.0  # added per unit human access (assumption)
    road_death: tuple[float, ...] = _table(ROAD_CODES, DEFAULT_ROAD_DEATH, "road_death")  # per entry of a road cell (assumption: two road kills in 2015–16)
    barrier: tuple[float, ...] = _table(ROAD_CODES, DEFAULT_BARRIER, "barrier")  # probability a road refuses a step (assumption)
    crossing_effect: float = 0.9  # share of road death and barrier a crossing cancels (assumption, range 0.7–1)
    transient_mortality: float = 0.1  # a year's extra risk of one that searched and did not settle (assumption, range 0–0.3; MODEL.md §4.7)

    def __post_init__(self) -> None:
        if self.max_steps < 0 or self.settle_every < 1 or self.persistence <= 0:
            raise ValueError("max_steps ≥ 0, settle_every ≥ 1 and persistence > 0")
        for name in ("road_death", "barrier"):
            if any(not 0.0 <= v <= 1.0 for v in getattr(self, name)):
                raise ValueError(f"{name} are probabilities (0–1)")
        if not 0.0 <= self.crossing_effect <= 1.0:
            raise ValueError("crossing_effect is a share (0–1)")
        if not 0.0 <= self.transient_mortality <= 1.0:
            raise ValueError("transient_mortality is a probability (0–1)")

    @classmethod
    def with_tables(cls, cover=None, road=None, road_death=None, barrier=None, **kw) -> "MapDispersalParams":
        return cls(
            resistance_by_cover=_table(COVER_CODES, DEFAULT_COVER_RESISTANCE if cover is None else cover, "resistance_by_cover"),
            resistance_by_road=_table(ROAD_CODES, DEFAULT_ROAD_RESISTANCE if road is None else road, "resistance_by_road"),
            road_death=_table(ROAD_CODES, DEFAULT_ROAD_DEATH if road_death is None else road_death, "road_death"),
            barrier=_table(ROAD_CODES, DEFAULT_BARRIER if barrier is None else barrier, "barrier"),
            **kw,
        )

    def resistance(self, cover: np.ndarray, road: np.ndarray, access: np.ndarray) -> np.ndarray:
        """Resistance per cell (inf for water)."""
        res = np.asarray(self.resistance_by_cover)[cover.astype(np.int64)] + np.asarray(self.resistance_by_road)[road.astype(np.int64)] + self.resistance_access * access
        return np.where(cover == 0, np.inf, res)


@njit(cache=True)
def walk(s, r, start, last_dir, base, weight_of, road, crossing, neighbours, dir_of, persistence, road_death, barrier, crossing_effect, n_steps, visits):
    """``n_steps`` steps of one disperser of replicate r from local cell ``start``. ``weight_of``
    = exp(−resistance) per global cell (0 for water). Every cell entered (also the road cell a
    walker dies on) counts one in ``visits`` (per global cell). Returns (cell, direction, died
    on a road, steps taken)."""
    n_nb = neighbours.shape[1]
    c = start
    d = last_dir
    w = np.empty(n_nb)
    for step in range(n_steps):
        tot = 0.0
        for j in range(n_nb):
            nb = neighbours[c, j]
            v = 0.0
            if nb >= 0:
                v = weight_of[base + nb]
                if j == d:
                    v *= persistence
            w[j] = v
            tot += v
        if tot <= 0.0:
            return c, d, False, step  # boxed in
        target = uniform(s, r) * tot
        j = 0
        acc = w[0]
        while acc <= target and j < n_nb - 1:
            j += 1
            acc += w[j]
        nb = neighbours[c, j]
        rc = road[base + nb]
        if rc > 0:
            factor = 1.0 - crossing_effect if crossing[base + nb] else 1.0
            refused = uniform(s, r) < barrier[rc] * factor
            dies = uniform(s, r) < road_death[rc] * factor
            if dies:
                visits[base + nb] += 1
                return nb, j, True, step + 1
            if refused:
                continue
        c = nb
        d = dir_of[j]
        visits[base + nb] += 1
    return c, d, False, n_steps


PROVISIONAL = 1 << 40  # owner value of a range claimed during the year's dispersal, before it has its id


@njit(cache=True)
def disperse_all(s, rows, rep, cell, sex, C, weight, road, crossing, neighbours, dir_of, persistence, road_death, barrier, crossing_effect,
                 max_steps, settle_every, owner, acceptable, stock, radius, required, min_cells, max_cells, max_tries,
                 out, seen, queue, dist, found_start, found_cells, died, comp_f, stock_f, size_f, comp_m, stock_m, size_m, near, failed, epoch, visits):  # fmt: skip
    """The year's walk of every disperser of ``rows`` (in order), each from its replicate's
    stream: chunks of ``settle_every`` steps (:func:`walk`), after each a settlement attempt
    (:func:`pardus.processes.territories.find_range`) with the range rules of its sex
    (``required``, ``min_cells``, ``max_cells`` and ``owner`` indexed by sex). A range found is
    claimed at once in ``owner`` (``PROVISIONAL`` + its number, so that later dispersers see it)
    and its global cells written to ``found_cells[found_start[k]:found_start[k + 1]]``; ``cell``
    is updated. ``died[k]``: killed on a road. ``visits``: cells entered, counted per global cell."""
    n_found = 0
    found_start[0] = 0
    for k in range(rows.shape[0]):
        i = rows[k]
        r = rep[i]
        base = r * C
        c = cell[i] - base
        d = -1
        left = max_steps
        sx = sex[i]
        got = 0
        while left > 0:
            n = min(settle_every, left)
            c, d, dead, took = walk(s, r, c, d, base, weight, road, crossing, neighbours, dir_of, persistence, road_death, barrier, crossing_effect, n, visits)
            left -= n
            cell[i] = base + c
            if dead:
                died[k] = True
                break
            if near[sx, base + c] > radius:  # no seed within reach can hold a range (territories.hopeful_distance)
                got = 0
            elif sx == 0:
                got = find_range(c, base, owner[0], acceptable, stock, neighbours, radius, required[0], min_cells[0], max_cells[0], max_tries, out, seen, queue, dist,
                                 comp_f, stock_f, size_f, failed[0], epoch[0, r])  # fmt: skip
            else:
                got = find_range(c, base, owner[1], acceptable, stock, neighbours, radius, required[1], min_cells[1], max_cells[1], max_tries, out, seen, queue, dist,
                                 comp_m, stock_m, size_m, failed[1], epoch[1, r])  # fmt: skip
            if got > 0:
                break
        a = found_start[k]
        for j in range(got):
            g = base + out[j]
            found_cells[a + j] = g
            owner[sx, g] = PROVISIONAL + k
        found_start[k + 1] = a + got
        if got > 0:
            n_found += 1
            epoch[sx, r] += 1  # the free cells of this sex changed: earlier failures no longer hold
    return n_found


def direction_index(neighbours: int) -> np.ndarray:
    """For each neighbour slot j the slot that continues the same direction (itself)."""
    return np.arange(neighbours, dtype=np.int64)


class MapDispersal:
    """Moves dispersers over a batch's landscape and settles them (:class:`Territories`)."""

    remember_failures = True  # a seed whose range failed to grow is not grown again until a claim (exact; off: for tests)

    def __init__(self, params: MapDispersalParams, neighbours: np.ndarray, cells_per_rep: int):
        self.p = params
        self.neighbours = np.asarray(neighbours, dtype=np.int64)
        self.C = cells_per_rep
        self.dir_of = direction_index(self.neighbours.shape[1])
        self.visits: np.ndarray | None = None  # steps of dispersers into each cell of the batch, summed over the run

    def move(self, streams, pop, rows: np.ndarray, layers: dict, territories) -> tuple[np.ndarray, np.ndarray]:
        """Walk each animal of ``rows`` (in order) for up to ``max_steps`` steps, trying to settle
        every ``settle_every`` steps (:class:`Territories`); returns (died on a road, settled) per
        row. Cells are updated in ``pop.cell``; the dead are not marked here (the caller marks
        cause road); a settled animal gets its range, status resident and the range's first cell."""
        from ..population.table import RESIDENT

        p, t = self.p, territories
        rows = np.asarray(rows, dtype=np.int64)
        res = p.resistance(layers["cover"], layers["road"], layers["human_access"])
        weight = np.where(np.isfinite(res), np.exp(-np.where(np.isfinite(res), res, 0.0)), 0.0)
        acceptable, stock = t.suitability(layers)
        tp = t.p
        required = np.array([tp.required_stock(0), tp.required_stock(1)])
        min_cells = np.array([1, tp.male_min_cells], dtype=np.int64)
        max_cells = np.array([tp.female_max_cells, tp.male_max_cells], dtype=np.int64)
        comps = t.components(acceptable, stock)
        (comp_f, stock_f, size_f), (comp_m, stock_m, size_m) = comps
        near = t.hopeful(comps)
        failed = np.zeros((2, t.R * self.C), dtype=np.int64)  # seeds that failed, by the stamp they failed under
        epoch = (np.ones if self.remember_failures else np.zeros)((2, t.R), dtype=np.int64)
        died = np.zeros(rows.size, dtype=np.bool_)
        found_start = np.zeros(rows.size + 1, dtype=np.int64)
        found_cells = np.empty(rows.size * int(max_cells.max()), dtype=np.int64)
        if self.visits is None or self.visits.size != t.R * self.C:
            self.visits = np.zeros(t.R * self.C, dtype=np.int32)
        disperse_all(
            streams.s, rows, pop.rep, pop.cell, pop.sex.astype(np.int64), self.C, weight, layers["road"].astype(np.int64), layers["crossing"].astype(np.bool_),
            self.neighbours, self.dir_of, p.persistence, np.asarray(p.road_death), np.asarray(p.barrier), p.crossing_effect, p.max_steps, p.settle_every,
            t.owner, acceptable, stock, tp.search_radius, required, min_cells, max_cells, tp.max_tries, t._out, t._seen, t._queue, t._dist,
            found_start, found_cells, died, comp_f, stock_f, size_f, comp_m, stock_m, size_m, near, failed, epoch, self.visits,
        )  # fmt: skip
        sizes = np.diff(found_start)
        settled = sizes > 0
        # the claimed ranges get their ids, in the order they were found
        t.claim_many(rows[settled], pop, np.r_[0, np.cumsum(sizes[settled])], found_cells[: found_start[-1]])
        pop.status[rows[settled]] = RESIDENT
        return died, settled
