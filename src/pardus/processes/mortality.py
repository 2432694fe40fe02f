"""Mortality: all causes of death combined as competing risks, deaths marked with their cause.

For each animal the annual probabilities p_k of the hazards are turned into cause-specific
hazard rates λ_k = −ln(1 − p_k). The animal survives the year with probability
Π_k (1 − p_k) = exp(−Σλ_k); if it dies, the cause is k with probability λ_k / Σλ. This is
the continuous-time independent-risks model, so a cause's share of deaths does not depend on the
order in which the processes are listed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..population.table import ALIVE, ORIGIN_BORN
from ..rng import as_streams
from .base import CAUSE_INDEX, Field, Hazard, Process, State

MODIFIERS = {"none": 0, "unprotected": 1, "inbreeding": 2}


@njit(cache=True)
def hazard_rates(tables, modifiers):
    """Cause-specific hazard rates λ = −ln(1 − p) of the (hazards, cells, sex, stage) tables
    (∞ for a certain death); a table of coefficients b (modifier "inbreeding") is kept as it is,
    since −ln(1 − (1 − e^(−b·F))) = b·F."""
    lam = np.empty_like(tables)
    flat_p = tables.ravel()
    flat = lam.ravel()
    per = flat_p.shape[0] // tables.shape[0]
    for j in range(tables.shape[0]):
        for i in range(j * per, (j + 1) * per):
            p = flat_p[i]
            if modifiers[j] == 2:
                flat[i] = p
            elif p >= 1.0:
                flat[i] = math.inf
            elif p <= 0.0:
                flat[i] = 0.0
            else:
                flat[i] = -math.log1p(-p)
    return lam


@njit(cache=True)
def mark_deaths(cause, cell, sex, age, F, protected, rows, rates, modifiers, cause_ids, adult_age, u):
    """Competing-risks deaths for ``rows``; ``rates`` are :func:`hazard_rates`."""
    k = rates.shape[0]
    lam = np.empty(k)
    for i in range(rows.shape[0]):
        r = rows[i]
        a = age[r]
        st = 0 if a <= 0 else (1 if a < adult_age else 2)
        total = 0.0
        n_inf = 0
        for j in range(k):
            v = rates[j, cell[r], sex[r], st]
            if modifiers[j] == 1:
                if protected[r]:
                    v = 0.0
            elif modifiers[j] == 2:
                v = v * F[r]
            lam[j] = v
            if v == math.inf:
                n_inf += 1
            else:
                total += v
        if n_inf == 0 and u[i, 0] >= -math.expm1(-total):
            continue
        # dies: pick the cause with probability λ_j / Σλ (among certain causes if any)
        if n_inf > 0:
            target = u[i, 1] * n_inf
            acc = 0.0
            pick = k - 1
            for j in range(k):
                if lam[j] == math.inf:
                    acc += 1.0
                    if target < acc:
                        pick = j
                        break
        else:
            target = u[i, 1] * total
            acc = 0.0
            pick = k - 1
            for j in range(k):
                acc += lam[j]
                if target < acc and lam[j] > 0.0:
                    pick = j
                    break
        cause[r] = cause_ids[pick]


SUBSET_ABOVE_CELLS = 4096  # a map (home ranges, or more cells than this per replicate): tables for the occupied cells only


RANGE_EXPOSURE = True  # on a map, a resident (and its dependent young) meets the hazards as the mean over its home range


class _CellSubset(State):
    """A view of a state on some *units*: cells (sorted global numbers) and, after them, home
    ranges, each with the layers a hazard table reads — at the cell, or as the use-weighted mean
    over the range's cells (:func:`pardus.landscape.ranges.exposure`) — and its replicate."""

    def __init__(self, state: State, cells: np.ndarray, ranges: np.ndarray | None = None, names=None):
        per = state.cells_per_rep
        ranges = np.zeros(0, dtype=np.int64) if ranges is None else ranges
        t = state.ranges
        layers = {}
        for k, v in state.layers.items():
            if names is not None and k not in names:
                continue
            at_cells = v[cells]
            if ranges.size:
                means = _range_means(t.start, t.cells, t.weight, ranges, np.asarray(v, dtype=np.float64))
                at_cells = np.concatenate([at_cells.astype(np.float64), means])
            layers[k] = at_cells
        super().__init__(year=state.year, t=state.t, pop=state.pop, layers=layers, tally={}, is_lethal=state.is_lethal, fields=state.fields,
                         n_reps=state.n_reps, ranges=state.ranges)  # fmt: skip
        first = t.cells[t.start[ranges]] if ranges.size else np.zeros(0, dtype=np.int64)
        self.rep_of_cell = np.concatenate([cells // per, first // per])
        self.cells_per_rep = per


@njit(cache=True)
def _range_means(start, cells, weight, ranges, layer):
    out = np.empty(ranges.shape[0])
    for k in range(ranges.shape[0]):
        r = ranges[k]
        v = 0.0
        for j in range(start[r], start[r + 1]):
            v += weight[j] * layer[cells[j]]
        out[k] = v
    return out


class Mortality(Process):
    """Marks deaths among the living animals of the chosen cohort.

    ``cohort = "independent"`` runs before reproduction over every animal alive at that point;
    ``cohort = "newborn"`` runs after reproduction over this year's cubs (their first-year
    survival), so every animal meets the year's risks exactly once.
    """

    # the hazard tables of the year, computed by the first mortality step and reused by the second
    writes = (Field("cause", "individual"), Field("hazard_tables", "year"))

    def __init__(self, hazards: list[Hazard], cohort: str, adult_age: int):
        self.hazards = hazards
        self.cohort = cohort
        self.name = f"mortality_{cohort}"
        self.adult_age = adult_age
        self.cause_ids = np.array([CAUSE_INDEX[h.cause] for h in hazards], dtype=np.int8)
        self.modifiers = np.array([MODIFIERS[h.modifier] for h in hazards], dtype=np.int64)
        reads = {f for h in hazards for f in h.reads} | {Field("age", "individual", "years"), Field("origin", "individual")}
        self.reads = tuple(sorted(reads, key=lambda f: (f.where, f.name)))

    def tables(self, state: State, cache: bool = True) -> np.ndarray:
        """(hazards, cells, sex, stage) tables; computed once a year and shared by both cohorts
        (nothing a hazard table reads changes between the two mortality steps)."""
        cache = state.fields.get("hazard_tables") if cache else (state.year, {})
        if cache is not None and cache[0] == state.year:
            known = cache[1]
        else:
            known = {}
            state.fields["hazard_tables"] = (state.year, known)
        out = np.empty((len(self.hazards), state.n_cells, 2, 3))
        for j, h in enumerate(self.hazards):
            t = known.get(h.cause)
            if t is None:
                t = known[h.cause] = h.table(state)
            out[j] = t
        return out

    def step(self, state: State, rng: np.random.Generator) -> None:
        pop = state.pop
        n = pop.n
        alive = pop.cause[:n] == ALIVE
        if self.cohort == "newborn":
            # this year's cubs; a cub released this year already met the year's risks
            alive &= (pop.age[:n] == 0) & (pop.origin[:n] == ORIGIN_BORN)
        rows = np.flatnonzero(alive)
        # two uniforms per row, always drawn, so that a change in one hazard does not shift
        # the random numbers of other animals (common random numbers between scenarios)
        u = as_streams(rng, state.n_reps).by_item(pop.rep[rows], 2)
        if rows.size == 0:
            return
        if state.ranges is not None or state.cells_per_rep > SUBSET_ABOVE_CELLS:  # per replicate: not the batch's size
            # a map: the tables only for the cells where animals of this cohort live (a fraction
            # of the work), and for each resident its home range as one unit whose layers are the
            # means over the range; indexed through a remapped cell column
            rid = pop.home_range_of(rows)  # dependent young live in their mother's range
            use = RANGE_EXPOSURE and state.ranges is not None and bool((rid >= 0).any())
            units = np.where(rid >= 0, state.n_cells + rid, pop.cell[rows]) if use else pop.cell[rows].astype(np.int64)
            uniq = np.unique(units)
            cells, in_ranges = uniq[uniq < state.n_cells], uniq[uniq >= state.n_cells] - state.n_cells
            names = {f.name for f in self.reads if f.where == "cell"}
            sub = _CellSubset(state, cells, in_ranges, names)
            rates = hazard_rates(self.tables(sub, cache=False), self.modifiers)
            where = np.zeros(n, dtype=np.int64)
            where[rows] = np.searchsorted(uniq, units)
            mark_deaths(pop.cause, where, pop.sex, pop.age, pop.F, pop.protected, rows, rates, self.modifiers, self.cause_ids, self.adult_age, u)
            return
        rates = hazard_rates(self.tables(state), self.modifiers)
        mark_deaths(pop.cause, pop.cell, pop.sex, pop.age, pop.F, pop.protected, rows, rates, self.modifiers, self.cause_ids, self.adult_age, u)
