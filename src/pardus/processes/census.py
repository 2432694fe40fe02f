"""End of the year (MODEL.md §8, steps 8–9): resolve deaths, age everyone, senescence,
carrying-capacity truncation (non-spatial mode), census.

Deaths of the year are tallied by population and cause from the marks the processes left,
then removed together. Carrying-capacity truncation is Vortex's: when a population exceeds K,
each animal survives with probability K/N. ``N_before_truncation`` is recorded before it so that
the stochastic growth rate is not biased by the ceiling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..population.genetics import diversity_by_rep
from ..population.table import ALIVE, COLUMNS
from ..rng import as_streams
from ..scenario.schema import CAUSES, Scenario
from .base import CAUSE_INDEX, Field, Process, State

N_CAUSES = len(CAUSES)


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


class ResolveAndAge(Process):
    name = "resolve"
    reads = (Field("cause", "individual"), Field("rep", "individual"), Field("carrying_capacity", "cell", "individuals"))
    # removing the dead moves every column (and genotype and kinship) of the survivors
    writes = tuple(Field(n, "individual") for n in (*COLUMNS, "genotype", "kinship")) + (
        Field("deaths", "year", "individuals"),
        Field("N_before_truncation", "year", "individuals"),
    )

    def __init__(self, scenario: Scenario):
        self.max_age = scenario.demography.max_age

    def step(self, state: State, rng) -> None:
        pop = state.pop
        n = pop.n
        alive = pop.cause[:n] == ALIVE
        # animals that would pass the maximum age die of senescence at the birthday
        old = alive & (pop.age[:n] >= self.max_age)
        pop.cause[:n][old] = CAUSE_INDEX["senescence"]
        rows = np.flatnonzero(alive & ~old)  # the survivors of the year, in row order
        pop.age[rows] += 1
        cell = pop.cell[rows]
        counts = np.bincount(cell, minlength=state.n_cells)
        state.tally["N_before_truncation"][:] = counts
        K = state.layers["carrying_capacity"]
        u = as_streams(rng, state.n_reps).by_item(pop.rep[rows])[:, 0]  # one per survivor, always
        over = counts > K
        if over.any():
            keep_p = np.where(over, K / np.maximum(counts, 1), 1.0)
            pop.cause[rows[u >= keep_p[cell]]] = CAUSE_INDEX["carrying_capacity"]
        tally_deaths(state)  # the year's dead, senescence and the ceiling's included, leave together


@njit(cache=True)
def _count(n, cell, sex, age, F, rep, age_offset, adult_age, N, sum_f, n_rep):
    """Fill N[cell, sex, stage] and per replicate the sum of F and the number of animals."""
    for r in range(n):
        a = age[r] - age_offset
        st = 0 if a <= 0 else (1 if a < adult_age else 2)
        N[cell[r], sex[r], st] += 1
        sum_f[rep[r]] += F[r]
        n_rep[rep[r]] += 1


class Census(Process):
    name = "census"
    reads = (
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("F", "individual"),
        Field("rep", "individual"),
    )
    writes = (Field("census", "year", "individuals"),)

    def __init__(self, scenario: Scenario):
        self.adult_age = scenario.demography.adult_age
        self.n_neutral = scenario.genetics.neutral_loci
        self._counts = np.zeros(1, dtype=np.int32)  # scratch of diversity_by_rep, kept zero
        self._touched = np.empty(1, dtype=np.int64)

    def measure(self, state: State, age_offset: int = 1) -> dict[str, np.ndarray]:
        """Counts by (cell, sex, stage) and, per replicate, the genetic summaries (NaN for a
        replicate without animals)."""
        pop = state.pop
        n = pop.n
        R = state.n_reps
        N = np.zeros((state.n_cells, 2, 3), dtype=np.int64)
        sum_f = np.zeros(R)
        n_rep = np.zeros(R, dtype=np.int64)
        _count(n, pop.cell, pop.sex, pop.age, pop.F, pop.rep, age_offset, self.adult_age, N, sum_f, n_rep)
        mk = pop.mean_kinship_by_rep()  # kept up to date by births, releases and removals
        if self._counts.size < pop.next_allele:
            self._counts = np.zeros(max(pop.next_allele, 2 * self._counts.size), dtype=np.int32)
        if self._touched.size < 2 * self.n_neutral * n:
            self._touched = np.empty(max(2 * self.n_neutral * n, 2 * self._touched.size), dtype=np.int64)
        div = diversity_by_rep(pop.geno, pop.rep, n, R, self.n_neutral, self._counts, self._touched, np.empty((R, 3)))
        empty = n_rep == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_f = np.where(empty, np.nan, sum_f / np.maximum(n_rep, 1))
            fge = np.where(empty, np.nan, 1.0 / (2.0 * mk))
        return {
            "N": N,
            "gene_diversity": div[:, 0],
            "heterozygosity": div[:, 1],
            "alleles": div[:, 2],
            "mean_kinship": np.where(empty, np.nan, mk),
            "mean_inbreeding": mean_f,
            "founder_genome_equivalents": fge,
        }

    def step(self, state: State, rng) -> None:
        state.extra["census"] = self.measure(state)
