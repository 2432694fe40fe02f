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

from ..population.genetics import diversity
from ..population.table import ALIVE, COLUMNS
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
    reads = (Field("cause", "individual"), Field("carrying_capacity", "cell", "individuals"))
    # removing the dead moves every column (and genotype and kinship) of the survivors
    writes = tuple(Field(n, "individual") for n in (*COLUMNS, "genotype", "kinship")) + (
        Field("deaths", "year", "individuals"),
        Field("N_before_truncation", "year", "individuals"),
    )

    def __init__(self, scenario: Scenario):
        self.max_age = scenario.demography.max_age

    def step(self, state: State, rng: np.random.Generator) -> None:
        pop = state.pop
        n = pop.n
        # animals that would pass the maximum age die of senescence at the birthday
        old = (pop.cause[:n] == ALIVE) & (pop.age[:n] >= self.max_age)
        pop.cause[:n][old] = CAUSE_INDEX["senescence"]
        tally_deaths(state)
        n = pop.n
        pop.age[:n] += 1
        cell = pop.cell[:n]
        counts = np.bincount(cell, minlength=state.n_cells)
        state.tally["N_before_truncation"][:] = counts
        K = state.layers["carrying_capacity"]
        u = rng.random(n)
        over = counts > K
        if over.any():
            keep_p = np.where(over, K / np.maximum(counts, 1), 1.0)
            cut = u >= keep_p[cell]
            pop.cause[:n][cut] = CAUSE_INDEX["carrying_capacity"]
            tally_deaths(state)


@njit(cache=True)
def _count(n, cell, sex, age, F, age_offset, adult_age, N):
    """Fill N[cell, sex, stage]; return mean F."""
    tot_f = 0.0
    for r in range(n):
        a = age[r] - age_offset
        st = 0 if a <= 0 else (1 if a < adult_age else 2)
        N[cell[r], sex[r], st] += 1
        tot_f += F[r]
    if n == 0:
        return np.nan
    return tot_f / n


class Census(Process):
    name = "census"
    reads = (
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("F", "individual"),
    )
    writes = (Field("census", "year", "individuals"),)

    def __init__(self, scenario: Scenario):
        self.adult_age = scenario.demography.adult_age
        self.n_neutral = scenario.genetics.neutral_loci

    def measure(self, state: State, age_offset: int = 1) -> dict[str, np.ndarray | float]:
        pop = state.pop
        n = pop.n
        N = np.zeros((state.n_cells, 2, 3), dtype=np.int64)
        mean_f = _count(n, pop.cell, pop.sex, pop.age, pop.F, age_offset, self.adult_age, N)
        mk = pop.mean_kinship()  # kept up to date by births, releases and removals
        if n:
            gd, ho, na = diversity(pop.geno, n, self.n_neutral, pop.next_allele)
        else:
            gd = ho = na = mk = mean_f = np.nan
        return {
            "N": N,
            "gene_diversity": gd,
            "heterozygosity": ho,
            "alleles": na,
            "mean_kinship": mk,
            "mean_inbreeding": mean_f,
            "founder_genome_equivalents": 1.0 / (2.0 * mk) if n else np.nan,
        }

    def step(self, state: State, rng: np.random.Generator) -> None:
        state.extra["census"] = self.measure(state)
