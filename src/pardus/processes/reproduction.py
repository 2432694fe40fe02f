"""Reproduction (MODEL.md §4.6): mating, litters, sex of cubs, pedigree and gene drop.

An *eligible* female is alive, of breeding age, in her population, and has no dependent cubs
(a cub of hers younger than ``dependence_years`` that is still alive) — so the interbirth
interval emerges from cub survival. She breeds with probability

    p_breed(N) · prey_factor · exp(−fertility_b·F) · outbreak_factor,

moved by the year's breeding deviate (beta EV), if at least one sire is available in her
population. ``p_breed(N)`` is the Vortex density-dependence formula when enabled:
``[P(0) − (P(0) − P(K))·(N/K)^B] · N/(N + A)``. Sires are drawn uniformly from the males of
breeding age in the year's breeding pool (polygyny), avoiding close kin only if configured.
Litter size follows the given distribution; each cub is male with probability ``sex_ratio``.
"""

from __future__ import annotations

import numpy as np

from ..population.genetics import add_births
from ..population.table import ALIVE, FEMALE, MALE, ORIGIN_BORN
from ..scenario.schema import Scenario
from .base import CAUSE_INDEX, Field, Process, State
from .disease import Disease
from .environment import beta_quantile


def vortex_breeding(p0: float, pk: float, b: float, a: float, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Vortex density-dependent breeding: [P(0) − (P(0) − P(K))·(N/K)^B] · N/(N + A)."""
    n = np.asarray(n, dtype=float)
    ratio = np.where(k > 0, n / np.maximum(k, 1e-12), 0.0)
    p = p0 - (p0 - pk) * ratio**b
    allee = np.where(n + a > 0, n / (n + a), 0.0) if a > 0 else 1.0
    return np.clip(p * allee, 0.0, 1.0)


class Reproduction(Process):
    name = "reproduction"
    reads = (
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("mother", "individual"),
        Field("F", "individual"),
        Field("prey", "cell", "roe-deer eq./km²"),
        Field("carrying_capacity", "cell", "individuals"),
        Field("outbreak", "cell"),
        Field("breeding_deviate", "year", "probability"),
    )
    writes = (
        Field("id", "individual"),
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cause", "individual"),
        Field("mother", "individual"),
        Field("father", "individual"),
        Field("cell", "individual"),
        Field("F", "individual"),
        Field("origin", "individual"),
        Field("protected", "individual"),
        Field("captive_share", "individual"),
        Field("births", "year", "individuals"),
        Field("breeding_females", "year", "individuals"),
    )

    def __init__(self, scenario: Scenario, disease: Disease):
        d = scenario.demography
        self.fba, self.mba = d.female_breeding_age, d.male_breeding_age
        self.last = d.female_last_breeding_age if d.female_last_breeding_age is not None else d.max_age
        self.dep = d.dependence_years
        self.p0 = d.p_breed
        self.dd = d.density_dependence
        self.sd_b = d.environmental_variation.breeding_sd
        self.litter_cum = np.cumsum(d.litter_size)
        self.litter_cum[-1] = 1.0
        self.sex_ratio = d.sex_ratio
        self.pool = d.male_breeding_pool
        self.avoid = d.avoid_kinship_above
        self.b_fert = scenario.genetics.fertility_b
        self.required = scenario.prey.required_density
        self.prey_exp = scenario.prey.breeding_exponent
        self.n_neutral = scenario.genetics.neutral_loci
        self.disease = disease

    def breeding_probability(self, state: State, n_cell: np.ndarray) -> np.ndarray:
        """Per-cell breeding probability of an eligible, non-inbred female this year."""
        L = state.layers
        K = L["carrying_capacity"]
        if self.dd.enabled:
            p = vortex_breeding(self.p0, self.dd.p_breed_at_k, self.dd.steepness_b, self.dd.allee_a, n_cell, K)
        else:
            p = np.full(state.n_cells, self.p0)
        if self.sd_b > 0:
            p = beta_quantile(p, np.full_like(p, self.sd_b), state.extra["breeding_deviate"])
        if self.required > 0:
            p = p * np.clip(L["prey"] / self.required, 0.0, 1.0) ** self.prey_exp
        return p * self.disease.breeding_factor(L)

    def step(self, state: State, rng: np.random.Generator) -> None:
        pop = state.pop
        n = pop.n
        cause, age, sex, cell = pop.cause[:n], pop.age[:n], pop.sex[:n], pop.cell[:n]
        alive = cause == ALIVE
        n_cell = np.bincount(cell[alive], minlength=state.n_cells)

        # females blocked by dependent young
        blocked = np.zeros(n, dtype=bool)
        young = np.flatnonzero(alive & (age < self.dep) & (pop.mother[:n] >= 0))
        if young.size:
            mrows = pop.row_of(pop.mother[young])
            blocked[mrows[mrows >= 0]] = True
        females = np.flatnonzero(alive & (sex == FEMALE) & (age >= self.fba) & (age <= self.last) & ~blocked)
        males_all = np.flatnonzero(alive & (sex == MALE) & (age >= self.mba))
        # fixed-size draws keep the random streams aligned between scenarios
        u_pool = rng.random(males_all.size)
        u_f = rng.random(females.size)
        sires = males_all[u_pool < self.pool]

        p_cell = self.breeding_probability(state, n_cell)
        p = p_cell[cell[females]] * np.exp(-self.b_fert * pop.F[females])
        has_mate = np.isin(cell[females], cell[sires]) if sires.size else np.zeros(females.size, bool)
        breeders = females[(u_f < p) & has_mate]
        nb = breeders.size
        state.tally["breeding_females"] += np.bincount(cell[breeders], minlength=state.n_cells)
        if nb == 0:
            return

        # sire choice and litters
        fathers = np.empty(nb, dtype=np.int64)
        u_sire = rng.random(nb)
        sire_cell = cell[sires]
        for i, f in enumerate(breeders):
            cand = sires[sire_cell == cell[f]]
            if self.avoid is not None and cand.size > 1:
                ok = cand[pop.kin[f, cand] <= self.avoid]
                if ok.size:
                    cand = ok
            fathers[i] = cand[min(int(u_sire[i] * cand.size), cand.size - 1)]
        litters = 1 + np.searchsorted(self.litter_cum, rng.random(nb), side="right")
        total = int(litters.sum())
        mothers_rows = np.repeat(breeders, litters)
        fathers_rows = np.repeat(fathers, litters)
        cub_sex = np.where(rng.random(total) < self.sex_ratio, MALE, FEMALE).astype(np.int8)
        u_bits = rng.random((total, pop.n_loci, 2))

        pop.reserve(total)
        n0 = pop.n
        new = np.arange(n0, n0 + total)
        pop.id[new] = pop.new_ids(total)
        pop.sex[new] = cub_sex
        pop.age[new] = 0
        pop.cause[new] = ALIVE
        pop.mother[new] = pop.id[mothers_rows]
        pop.father[new] = pop.id[fathers_rows]
        pop.cell[new] = pop.cell[mothers_rows]
        pop.origin[new] = ORIGIN_BORN
        pop.protected[new] = False
        pop.captive_share[new] = 0.5 * (pop.captive_share[mothers_rows] + pop.captive_share[fathers_rows])
        pop.n = n0 + total
        lethal = np.zeros(total, dtype=np.bool_)
        add_births(pop.kin, pop.F, pop.geno, state.is_lethal, n0, mothers_rows, fathers_rows, self.n_neutral, lethal, u_bits)
        pop.cause[new[lethal]] = CAUSE_INDEX["inbreeding_lethal"]
        state.tally["births"] += np.bincount(pop.cell[new], minlength=state.n_cells)
