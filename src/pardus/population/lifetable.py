"""Deterministic life-table quantities of a scenario and the natural/all-cause survival split.

* ``natural_survival``: when a scenario gives all-cause survival (``survival.basis =
  "all_causes"``), the natural part is the all-cause rate divided by the survival from the human
  causes (poaching, conflict, roads, starvation) under the starting conditions, averaged over
  the populations weighted by their initial sizes (MODEL.md §4.5).
* ``life_table``: the female projection matrix of the model with every stochastic element
  replaced by its expectation and no density dependence (Vortex's "deterministic" rates):
  λ, r = ln λ, R0, generation time T and the stable age distribution.

The matrix mirrors the yearly schedule: a female of age a (a = 1 … max_age at the start of a
year) survives the year's mortality with s(a), then breeds with the annual rate b(a) and has
L̄·(1 − sex_ratio) daughters, which survive their first year with s0. With cub dependence
(``dependence_years`` D > 1), b = p / (1 + p·B) where B = Σ_{j<D} P(some cub of the litter is
alive j years on): a renewal approximation, exact for D = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario.schema import Scenario


@dataclass(frozen=True)
class LifeTable:
    lam: float
    r: float
    R0: float
    generation_time: float
    survival_female: np.ndarray  # all-cause survival by age 1 … max_age (index 0 = age 1)
    survival_male: np.ndarray
    cub_survival: np.ndarray  # (sex,)
    breeding_rate: np.ndarray  # annual breeding rate of females by age
    stable_female: np.ndarray  # relative numbers at ages 1 … max_age
    stable_male: np.ndarray


def _weights(scenario: Scenario) -> np.ndarray:
    sizes = np.array([p.initial_size for p in scenario.populations.values()], dtype=float)
    if sizes.sum() <= 0:
        sizes = np.ones_like(sizes)
    return sizes / sizes.sum()


def _initial_state(scenario: Scenario):
    """A State holding one animal per (population, sex, stage) under the starting conditions."""
    from ..engine import build_layers
    from ..population.table import Population
    from ..processes.base import State

    names = list(scenario.populations)
    layers = build_layers(scenario, names)
    k = len(names)
    pop = Population(n_loci=1, capacity=6 * k)
    adult_age = scenario.demography.adult_age
    ages = [0, max(1, adult_age - 1) if adult_age > 1 else 1, adult_age]
    rows = []
    for c in range(k):
        for s in (0, 1):
            for st in range(3):
                i = pop.n
                pop.sex[i], pop.age[i], pop.cell[i] = s, ages[st], c
                pop.n += 1
                rows.append(i)
    state = State(year=scenario.run.start_year, t=0, pop=pop, layers=layers, tally={}, is_lethal=np.zeros(1, bool))
    return state, np.array(rows)


def human_survival(scenario: Scenario, include_disease: bool = False) -> np.ndarray:
    """Survival from the non-natural causes under starting conditions, per (population, sex, stage)."""
    from ..processes.conflict import Conflict
    from ..processes.disease import Disease
    from ..processes.poaching import Poaching
    from ..processes.road import Road
    from ..processes.survival import Starvation

    state, rows = _initial_state(scenario)
    surv = np.ones(rows.size)
    for h in (Poaching(scenario), Conflict(scenario), Road(scenario), Starvation(scenario)):
        surv *= 1.0 - h.probability(state, rows)
    if include_disease:
        d = Disease(scenario)
        surv *= 1.0 - d.p * (1.0 - d.survival) * (1.0 - state.layers["vaccination"][state.pop.cell[rows]] * d.efficacy)
    return surv.reshape(len(scenario.populations), 2, 3)


def natural_survival(scenario: Scenario) -> np.ndarray:
    """Natural survival per (sex, stage) used by the engine."""
    sv = scenario.demography.survival
    given = np.array([[sv.female.cub, sv.female.subadult, sv.female.adult], [sv.male.cub, sv.male.subadult, sv.male.adult]])
    if sv.basis == "natural":
        return given
    human = np.tensordot(_weights(scenario), human_survival(scenario), axes=1)  # (sex, stage)
    return np.clip(given / np.maximum(human, 1e-12), 0.0, 1.0)


def life_table(scenario: Scenario) -> LifeTable:
    d = scenario.demography
    M = d.max_age
    w = _weights(scenario)
    nat = natural_survival(scenario)
    human = np.tensordot(w, human_survival(scenario, include_disease=True), axes=1)
    allc = nat * human  # (sex, stage)
    ages = np.arange(1, M + 1)
    stage = np.where(ages < d.adult_age, 1, 2)
    s_f, s_m = allc[0, stage], allc[1, stage]
    s0 = allc[:, 0]

    litter = np.asarray(d.litter_size, dtype=float)
    sizes = np.arange(1, litter.size + 1)
    mean_litter = float((litter * sizes).sum())
    p = d.p_breed
    if d.density_dependence.enabled and d.density_dependence.allee_a > 0:
        pass  # P(N) → P(0) at low density only without an Allee term; keep P(0) (Vortex does the same)
    # expected prey and disease effects on breeding at the start
    pops = list(scenario.populations.values())
    if scenario.prey.required_density > 0:
        pf = np.array([min(1.0, q.initial_prey / scenario.prey.required_density) ** scenario.prey.breeding_exponent for q in pops])
        p *= float(w @ pf)
    dis = scenario.threats.disease
    p *= 1.0 - dis.probability * (1.0 - dis.breeding)
    # cub dependence: renewal approximation
    B = 0.0
    S = s0[0]
    for j in range(1, d.dependence_years):
        S *= s_f[j - 1] if j - 1 < M else 0.0
        B += float((litter * (1.0 - (1.0 - S) ** sizes)).sum())
    b = p / (1.0 + p * B) if p > 0 else 0.0
    last = d.female_last_breeding_age if d.female_last_breeding_age is not None else M
    breed = np.where((ages >= d.female_breeding_age) & (ages <= last), b, 0.0)
    daughters = mean_litter * (1.0 - d.sex_ratio) * s0[0]

    A = np.zeros((M, M))
    A[0, :] = s_f * breed * daughters
    for a in range(M - 1):
        A[a + 1, a] = s_f[a]
    eig = np.linalg.eigvals(A)
    lam = float(np.max(eig.real))
    # life table in newborn units
    l_f = np.r_[s0[0], s0[0] * np.cumprod(s_f[:-1])]
    l_m = np.r_[s0[1], s0[1] * np.cumprod(s_m[:-1])]
    m = s_f * breed * mean_litter * (1.0 - d.sex_ratio)
    R0 = float((l_f * m).sum())
    T = float((ages * l_f * m).sum() / R0) if R0 > 0 else float("nan")
    disc = lam ** (-ages.astype(float)) if lam > 0 else np.zeros(M)
    return LifeTable(
        lam=lam,
        r=float(np.log(lam)) if lam > 0 else float("-inf"),
        R0=R0,
        generation_time=T,
        survival_female=s_f,
        survival_male=s_m,
        cub_survival=s0,
        breeding_rate=breed,
        stable_female=l_f * disc,
        stable_male=l_m * disc,
    )
