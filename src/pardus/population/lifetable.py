"""Deterministic life-table quantities of a scenario and the natural/all-cause survival split.

* ``natural_survival``: when a scenario gives all-cause survival (``survival.basis =
  "all_causes"``), the natural part is the all-cause rate divided by the survival from the
  other causes (poaching, conflict, roads, starvation and disease) under the starting
  conditions, averaged over the populations weighted by their initial sizes (MODEL.md §4.5).
* ``life_table``: the female projection matrix of the model with every stochastic element
  replaced by its expectation and no density dependence (Vortex's "deterministic" rates):
  λ, r = ln λ, R0, generation time T and the stable age distribution.

The matrix mirrors the yearly schedule: a female of age a (a = 1 … max_age at the start of a
year) survives the year's mortality with s(a), then breeds with the annual rate b(a) and has
L̄·(1 − sex_ratio) daughters, which survive their first year with s0. Cub dependence
(``dependence_years`` D) is handled exactly in expectation by giving each female a state at the
reproduction step: free, or "litter born j years ago still has a cub alive" (j < D). A litter
still blocks j years on with probability q_j = Σ_L P(L)·(1 − (1 − S_j)^L), S_j being a cub's
survival to that point, so the share of blocked females moves from j to j+1 with q_{j+1}/q_j.
R0 is the spectral radius of F(I − T)⁻¹ and the generation time ln R0 / ln λ (Caswell 2001).
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
    for h in (Poaching.from_scenario(scenario), Conflict.from_scenario(scenario), Road.from_scenario(scenario), Starvation.from_scenario(scenario)):
        surv *= 1.0 - h.probability(state, rows)
    if include_disease:
        d = Disease.from_scenario(scenario)
        surv *= 1.0 - d.p * (1.0 - d.survival) * (1.0 - state.layers["vaccination"][state.pop.cell[rows]] * d.efficacy)
    return surv.reshape(len(scenario.populations), 2, 3)


def natural_survival(scenario: Scenario) -> np.ndarray:
    """Natural survival per (sex, stage) used by the engine."""
    sv = scenario.demography.survival
    given = np.array([[sv.female.cub, sv.female.subadult, sv.female.adult], [sv.male.cub, sv.male.subadult, sv.male.adult]])
    if sv.basis == "natural":
        return given
    # all causes: poaching, conflict, road, starvation and disease (dispersal deaths, which only
    # dispersers meet, stay on top: see MODEL.md §4.5 and docs/model.md §6)
    human = np.tensordot(_weights(scenario), human_survival(scenario, include_disease=True), axes=1)  # (sex, stage)
    return np.clip(given / np.maximum(human, 1e-12), 0.0, 1.0)


def life_table(scenario: Scenario) -> LifeTable:
    d = scenario.demography
    M = d.max_age
    D = d.dependence_years
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
    pops = list(scenario.populations.values())
    if scenario.prey.required_density > 0:
        pf = np.array([min(1.0, q.initial_prey / scenario.prey.required_density) ** scenario.prey.breeding_exponent for q in pops])
        p *= float(w @ pf)
    dis = scenario.threats.disease
    p *= 1.0 - dis.probability * (1.0 - dis.breeding)
    last = d.female_last_breeding_age if d.female_last_breeding_age is not None else M
    can_breed = (ages >= d.female_breeding_age) & (ages <= last)

    # q[j]: probability that a litter still has a cub alive at the reproduction step j years on;
    # a cub is male with probability sex_ratio and survives with its own sex's rates
    q = np.ones(D)
    S_f, S_m = s0[0], s0[1]
    for j in range(1, D):
        S_f *= s_f[j - 1]
        S_m *= s_m[j - 1]
        S = (1.0 - d.sex_ratio) * S_f + d.sex_ratio * S_m
        q[j] = float((litter * (1.0 - (1.0 - S) ** sizes)).sum())
    # states per age at the reproduction step: 0 = free, j = litter born j years ago still dependent
    k = D
    n = M * k
    idx = lambda a, j: (a - 1) * k + j  # noqa: E731
    T = np.zeros((n, n))  # survival and state transitions of females
    F = np.zeros((n, n))  # daughters reaching the next reproduction step
    daughters = mean_litter * (1.0 - d.sex_ratio)
    for a in range(1, M + 1):
        for j in range(k):
            frm = idx(a, j)
            breeds = p if (j == 0 and can_breed[a - 1]) else 0.0
            if breeds:
                F[idx(1, 0), frm] = breeds * daughters * s0[0] * s_f[0]
            if a == M:
                continue
            surv = s_f[a]  # survival through next year's mortality at age a + 1
            # where she is at the next reproduction step
            if j == 0:
                if breeds and D > 1:
                    T[idx(a + 1, 1), frm] += surv * breeds * q[1]
                    T[idx(a + 1, 0), frm] += surv * (1.0 - breeds * q[1])
                else:
                    T[idx(a + 1, 0), frm] += surv
            elif j < D - 1:
                stay = q[j + 1] / q[j] if q[j] > 0 else 0.0
                T[idx(a + 1, j + 1), frm] += surv * stay
                T[idx(a + 1, 0), frm] += surv * (1.0 - stay)
            else:
                T[idx(a + 1, 0), frm] += surv
    A = T + F
    vals, vecs = np.linalg.eig(A)
    i = int(np.argmax(vals.real))
    lam = float(vals.real[i])
    v = np.abs(vecs[:, i].real).reshape(M, k)
    at_repro = v.sum(axis=1)
    # numbers at the start of the year (before mortality): last year's breeders' surviving
    # daughters at age 1, and the animals at the reproduction step one age below
    recruits = float(daughters * s0[0] * (p * v[:, 0] * can_breed).sum())
    start = np.r_[recruits, at_repro[:-1]] / lam if lam > 0 else np.r_[1.0, np.zeros(M - 1)]
    breed_rate = np.where(can_breed, p * v[:, 0] / np.maximum(at_repro, 1e-300), 0.0)
    # R0 = spectral radius of F (I − T)^-1 (Caswell 2001); T = ln R0 / ln λ
    N_fund = np.linalg.inv(np.eye(n) - T)
    R0 = float(np.max(np.abs(np.linalg.eigvals(F @ N_fund))))
    gen = float(np.log(R0) / np.log(lam)) if lam > 0 and R0 > 0 and abs(np.log(lam)) > 1e-12 else float("nan")
    if not np.isfinite(gen):
        # λ = 1: mean age of mothers at birth of daughters in the stable population
        gen = float((ages * at_repro * breed_rate).sum() / max((at_repro * breed_rate).sum(), 1e-300))
    l_m = np.r_[s0[1], s0[1] * np.cumprod(s_m[:-1])]
    disc = lam ** (-ages.astype(float)) if lam > 0 else np.zeros(M)
    return LifeTable(
        lam=lam,
        r=float(np.log(lam)) if lam > 0 else float("-inf"),
        R0=R0,
        generation_time=gen,
        survival_female=s_f,
        survival_male=s_m,
        cub_survival=s0,
        breeding_rate=breed_rate,
        stable_female=start,  # relative numbers at the start of the year, before mortality
        stable_male=l_m * disc,
    )
