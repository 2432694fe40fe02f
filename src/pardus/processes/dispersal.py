"""Dispersal between populations (MODEL.md §4.7, Vortex metapopulation form).

Each year every living animal of dispersal age (min_age … max_age) in a population that has
destinations leaves with its sex's probability; it dies on the way with the dispersal
mortality (reduced by crossing/corridor interventions of the population it leaves) or settles
in a destination drawn with the given relative weights. Deaths are counted in the population
the animal left.
"""

from __future__ import annotations

import numpy as np

from ..population.table import ALIVE
from ..scenario.schema import Scenario
from .base import CAUSE_INDEX, Field, Process, State


class Dispersal(Process):
    name = "dispersal"
    reads = (
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("dispersal_mortality_reduction", "cell"),
    )
    writes = (Field("cell", "individual"), Field("cause", "individual"))

    def __init__(self, scenario: Scenario, names: list[str]):
        d = scenario.dispersal
        self.lo, self.hi = d.min_age, d.max_age
        self.p_sex = np.array([d.female, d.male])
        self.mortality = d.mortality
        k = len(names)
        w = np.zeros((k, k))
        for src, row in d.destinations.items():
            for dst, weight in row.items():
                w[names.index(src), names.index(dst)] = weight
        tot = w.sum(axis=1, keepdims=True)
        self.has_dest = tot[:, 0] > 0
        self.cum = np.cumsum(np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0), axis=1)
        self.active = bool(self.has_dest.any() and self.p_sex.max() > 0)

    def step(self, state: State, rng: np.random.Generator) -> None:
        if not self.active:
            return
        pop = state.pop
        n = pop.n
        age, cell = pop.age[:n], pop.cell[:n]
        cand = np.flatnonzero((pop.cause[:n] == ALIVE) & (age >= self.lo) & (age <= self.hi) & self.has_dest[cell])
        u = rng.random((cand.size, 3))
        if cand.size == 0:
            return
        leave = u[:, 0] < self.p_sex[pop.sex[cand]]
        src = cell[cand]
        mort = self.mortality * (1.0 - state.layers["dispersal_mortality_reduction"][src])
        dies = leave & (u[:, 1] < mort)
        pop.cause[cand[dies]] = CAUSE_INDEX["dispersal"]
        moves = leave & ~dies
        rows = cand[moves]
        dest = (self.cum[src[moves]] <= u[moves, 2][:, None]).sum(axis=1)
        pop.cell[rows] = np.minimum(dest, self.cum.shape[1] - 1)
