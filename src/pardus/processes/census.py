"""The census (MODEL.md §8, step 9): counts by cell, sex and stage, and per replicate the
genetic summaries; the engine reports the counts by region (:mod:`pardus.landscape.regions`).
Ageing, the non-spatial ceiling and the removal of the dead are in
:mod:`pardus.processes.ceiling`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..population.genetics import diversity_by_rep
from ..scenario.schema import Scenario
from .base import Field, Process, State

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

    @dataclass(frozen=True)
    class Params:
        adult_age: int
        neutral_loci: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Census.Params":
            return cls(sc.demography.adult_age, sc.genetics.neutral_loci)

    def __init__(self, params: "Census.Params"):
        self.params = params
        self.adult_age = params.adult_age
        self.n_neutral = params.neutral_loci
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
        state.fields["census"] = self.measure(state)
