"""Dispersal between populations (MODEL.md §4.7, Vortex metapopulation form).

Each year every living animal of dispersal age (min_age … max_age) in a population that has
destinations leaves with its sex's probability; it dies on the way with the dispersal
mortality (reduced by crossing/corridor interventions of the population it leaves) or settles
in a destination drawn with the given relative weights. Deaths are counted in the population
the animal left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..rng import as_streams, uniform
from ..scenario.schema import Scenario
from .base import CAUSE_INDEX, Field, Process, State


class Dispersal(Process):
    name = "dispersal"
    reads = (
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("rep", "individual"),
        Field("dispersal_mortality_reduction", "cell"),
    )
    writes = (Field("cell", "individual"), Field("cause", "individual"))

    @dataclass(frozen=True)
    class Params:
        min_age: int
        max_age: int
        female: float  # yearly probability that an animal of dispersal age leaves, by sex
        male: float
        mortality: float
        destinations: tuple[tuple[str, str, float], ...]  # (from, to, weight)

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Dispersal.Params":
            d = sc.dispersal
            dest = tuple((src, dst, float(w)) for src, row in d.destinations.items() for dst, w in row.items())
            return cls(d.min_age, d.max_age, d.female, d.male, d.mortality, dest)

    def __init__(self, params: "Dispersal.Params", names: list[str]):
        d = self.params = params
        self.lo, self.hi = d.min_age, d.max_age
        self.p_sex = np.array([d.female, d.male])
        self.mortality = d.mortality
        k = len(names)
        w = np.zeros((k, k))
        for src, dst, weight in d.destinations:
            w[names.index(src), names.index(dst)] = weight
        tot = w.sum(axis=1, keepdims=True)
        self.has_dest = tot[:, 0] > 0
        self.cum = np.cumsum(np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0), axis=1)
        self.active = bool(self.has_dest.any() and self.p_sex.max() > 0)

    def step(self, state: State, rng: np.random.Generator) -> None:
        if not self.active:
            return
        pop = state.pop
        _disperse(
            as_streams(rng, state.n_reps).s, pop.n, pop.cause, pop.age, pop.sex, pop.cell, pop.rep, state.cells_per_rep, self.lo,
            self.hi, self.p_sex, self.has_dest, self.cum, self.mortality, state.layers["dispersal_mortality_reduction"],
            CAUSE_INDEX["dispersal"],
        )  # fmt: skip


@njit(cache=True)
def _disperse(s, n, cause, age, sex, cell, rep, k, lo, hi, p_sex, has_dest, cum, mortality, reduction, dead_cause):
    """Three uniforms per candidate (leave, die, destination) from its replicate's stream,
    drawn whether used or not so that the stream stays aligned between scenarios. ``k`` cells
    (populations) per replicate: an animal moves among its own replicate's cells."""
    for r in range(n):
        here = cell[r]
        src = here % k  # the population, whatever the replicate
        if cause[r] != -1 or age[r] < lo or age[r] > hi or not has_dest[src]:
            continue
        q = rep[r]
        u_leave = uniform(s, q)
        u_die = uniform(s, q)
        u_dest = uniform(s, q)
        if u_leave >= p_sex[sex[r]]:
            continue
        if u_die < mortality * (1.0 - reduction[here]):
            cause[r] = dead_cause
            continue
        dest = 0
        while dest < k - 1 and cum[src, dest] <= u_dest:
            dest += 1
        cell[r] = here - src + dest
