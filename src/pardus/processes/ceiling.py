"""The end of the year and the non-spatial ceiling (MODEL.md §8, steps 8–9).

Four processes, each with one job:

* ``ageing`` — animals past the maximum age die of senescence at their birthday, the others
  are a year older, a young animal that reaches ``dependence_years`` is on its own
  (status resident); the survivors per cell are ``N_before_truncation``.
* ``density_dependence`` (non-spatial only) — Vortex's density-dependent breeding probability
  of each population from its N and K, ``[P(0) − (P(0) − P(K))·(N/K)^B] · N/(N + A)``, which
  reproduction then uses in place of ``p_breed``.
* ``ceiling`` (non-spatial only) — Vortex's carrying-capacity truncation: in a population with
  N > K each survivor of the year stays with probability K/N (cause ``carrying_capacity``).
* ``resolve`` — the year's deaths, marked by every process (senescence and the ceiling
  included), are tallied by cell and cause and leave the table together.

In the spatial model a population is no cell and K no layer: density acts through territories
and prey (MODEL.md §4.6), so neither non-spatial process is in its schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..population.table import ALIVE, COLUMNS, DEPENDENT, RESIDENT
from ..rng import as_streams
from ..scenario.schema import Scenario
from .base import CAUSE_INDEX, Field, Process, State


@njit(cache=True)
def _count_deaths(n, cause, cell, deaths):
    for r in range(n):
        if cause[r] >= 0:
            deaths[cell[r], cause[r]] += 1


def tally_deaths(state: State) -> None:
    """Count the marked deaths by (cell, cause), then remove the dead from the table."""
    pop = state.pop
    _count_deaths(pop.n, pop.cause, pop.cell, state.tally["deaths"])
    pop.remove_dead()


def vortex_breeding(p0: float, pk: float, b: float, a: float, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Vortex density-dependent breeding: [P(0) − (P(0) − P(K))·(N/K)^B] · N/(N + A)."""
    n = np.asarray(n, dtype=float)
    ratio = np.where(k > 0, n / np.maximum(k, 1e-12), 0.0)
    p = p0 - (p0 - pk) * ratio**b
    allee = np.where(n + a > 0, n / (n + a), 0.0) if a > 0 else 1.0
    return np.clip(p * allee, 0.0, 1.0)


class Ageing(Process):
    name = "ageing"

    @dataclass(frozen=True)
    class Params:
        max_age: int
        dependence_years: int
        # what a young animal becomes at independence: resident where it is (the non-spatial
        # model), or a transient that must find a range of its own (on the map)
        independent_status: int = RESIDENT

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Ageing.Params":
            return cls(sc.demography.max_age, sc.demography.dependence_years)

    reads = (Field("cause", "individual"), Field("age", "individual", "years"), Field("cell", "individual"))
    writes = (
        Field("age", "individual", "years"),
        Field("cause", "individual"),
        Field("status", "individual"),
        Field("N_before_truncation", "year", "individuals"),
    )

    def __init__(self, params: "Ageing.Params"):
        self.p = params

    def step(self, state: State, rng) -> None:
        pop = state.pop
        n = pop.n
        alive = pop.cause[:n] == ALIVE
        # animals that would pass the maximum age die of senescence at the birthday
        old = alive & (pop.age[:n] >= self.p.max_age)
        pop.cause[:n][old] = CAUSE_INDEX["senescence"]
        rows = np.flatnonzero(alive & ~old)  # the survivors of the year, in row order
        pop.age[rows] += 1
        grown = rows[(pop.status[rows] == DEPENDENT) & (pop.age[rows] >= self.p.dependence_years)]
        pop.status[grown] = self.p.independent_status
        state.tally["N_before_truncation"][:] = np.bincount(pop.cell[rows], minlength=state.n_cells)


class DensityDependence(Process):
    """Vortex's density-dependent breeding (non-spatial only): the breeding probability of a
    non-inbred female in each population this year, from the animals alive at reproduction."""

    name = "density_dependence"

    @dataclass(frozen=True)
    class Params:
        p_breed: float
        p_breed_at_k: float
        steepness_b: float
        allee_a: float

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "DensityDependence.Params":
            dd = sc.demography.density_dependence
            return cls(sc.demography.p_breed, dd.p_breed_at_k, dd.steepness_b, dd.allee_a)

    reads = (Field("cause", "individual"), Field("cell", "individual"), Field("carrying_capacity", "cell", "individuals"))
    writes = (Field("density_breeding", "year", "probability"),)

    def __init__(self, params: "DensityDependence.Params"):
        self.p = params

    def step(self, state: State, rng) -> None:
        p = self.p
        n_cell = np.bincount(state.pop.cell[: state.pop.n][state.living_rows()], minlength=state.n_cells)
        state.fields["density_breeding"] = vortex_breeding(p.p_breed, p.p_breed_at_k, p.steepness_b, p.allee_a, n_cell, state.layers["carrying_capacity"])


class Ceiling(Process):
    """Vortex's carrying-capacity truncation (non-spatial only). ``N_before_truncation`` (from
    ageing) is recorded before it, so that the stochastic growth rate is not biased by the
    ceiling. One uniform is drawn per survivor of the year, always, in row order."""

    name = "ceiling"
    reads = (
        Field("cause", "individual"),
        Field("rep", "individual"),
        Field("cell", "individual"),
        Field("carrying_capacity", "cell", "individuals"),
        Field("N_before_truncation", "year", "individuals"),
    )
    writes = (Field("cause", "individual"),)

    def step(self, state: State, rng) -> None:
        pop = state.pop
        rows = np.flatnonzero(pop.cause[: pop.n] == ALIVE)
        cell = pop.cell[rows]
        counts = state.tally["N_before_truncation"]
        K = state.layers["carrying_capacity"]
        u = as_streams(rng, state.n_reps).by_item(pop.rep[rows])[:, 0]  # one per survivor, always
        over = counts > K
        if over.any():
            keep_p = np.where(over, K / np.maximum(counts, 1), 1.0)
            pop.cause[rows[u >= keep_p[cell]]] = CAUSE_INDEX["carrying_capacity"]


class Resolve(Process):
    """The year's dead (marked by every process) are tallied and leave the table together."""

    name = "resolve"
    reads = (Field("cause", "individual"), Field("rep", "individual"), Field("cell", "individual"))
    # removing the dead moves every column (and genotype and kinship) of the survivors
    writes = tuple(Field(n, "individual") for n in (*COLUMNS, "genotype", "kinship")) + (Field("deaths", "year", "individuals"),)

    def step(self, state: State, rng) -> None:
        tally_deaths(state)
