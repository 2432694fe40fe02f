"""Prey (MODEL.md §4.4), non-spatial form: per population, logistic growth toward the prey
capacity with environmental noise, minus human offtake (reduced by patrols and hunting bans),
minus leopard predation (by sex and stage), plus supplemental feeding. Densities are roe-deer equivalents per km².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import ndtri

from ..scenario.schema import Scenario
from ..rng import as_streams
from .base import Field, Process, State


class PreyDynamics(Process):
    name = "prey"
    reads = (
        Field("cell", "individual"),
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("human_access", "cell"),
        Field("patrol_effort", "cell", "patrol-days/km²/yr"),
        Field("hunting_ban", "cell"),
        Field("prey_capacity", "cell", "roe-deer eq./km²"),
        Field("feeding", "cell", "roe-deer eq./km²/yr"),
        Field("area_km2", "cell", "km²"),
    )
    writes = (Field("prey", "cell", "roe-deer eq./km²"),)

    @dataclass(frozen=True)
    class Params:
        growth_rate: float
        growth_sd: float
        offtake: float
        kills_per_leopard: float
        # need[sex][stage] relative to an adult female; stage 0 (cubs of the year) is not alive at
        # this step (cubs are born later in the year and eat within their mother's share)
        need: tuple[tuple[float, float, float], tuple[float, float, float]]
        patrol_max_effect: float  # on human prey offtake
        patrol_half_effort: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "PreyDynamics.Params":
            p, po = sc.prey, sc.threats.poaching
            need = ((0.0, p.need.female.subadult, p.need.female.adult), (0.0, p.need.male.subadult, p.need.male.adult))
            return cls(p.growth_rate, p.growth_sd, p.offtake, p.kills_per_leopard, need, po.prey_patrol_max_effect, po.patrol_half_effort, sc.demography.adult_age)

    def __init__(self, params: "PreyDynamics.Params"):
        p = self.params = params
        self.r, self.sd, self.offtake, self.kills = p.growth_rate, p.growth_sd, p.offtake, p.kills_per_leopard
        self.adult_age = p.adult_age
        self.need = np.array(p.need)
        self.max_effect, self.half = p.patrol_max_effect, p.patrol_half_effort

    def step(self, state: State, rng: np.random.Generator) -> None:
        L = state.layers
        noise = ndtri(as_streams(rng, state.n_reps).by_item(state.rep_of_cell)[:, 0])
        pop = state.pop
        L["prey"] = _prey_step(
            L["prey"], L["prey_capacity"], L["human_access"], L["patrol_effort"], L["hunting_ban"], L["feeding"], L["area_km2"],
            noise, pop.n, pop.cause, pop.age, pop.sex, pop.cell, self.r, self.sd, self.offtake, self.kills, self.need, self.adult_age,
            self.max_effect, self.half,
        )  # fmt: skip


@njit(cache=True)
def _prey_step(P, K, access, effort, ban, feeding, area, noise, n, cause, age, sex, cell, r, sd, offtake, kills, need, adult_age, max_effect, half):
    """New prey density per cell: logistic growth with lognormal noise (mean 1), human
    offtake reduced by patrols and hunting bans, predation by leopards aged ≥ 1 (each by its
    sex's and stage's need relative to an adult female), feeding."""
    k = P.shape[0]
    leopards = np.zeros(k)  # adult-female equivalents
    for i in range(n):
        if cause[i] == -1 and age[i] >= 1:
            leopards[cell[i]] += need[sex[i], 2 if age[i] >= adult_age else 1]
    out = np.empty(k)
    for c in range(k):
        growth = r * P[c] * (1.0 - P[c] / K[c]) * np.exp(sd * noise[c] - 0.5 * sd * sd)
        hunted = offtake * access[c] * (1.0 - max_effect * effort[c] / (effort[c] + half)) * (1.0 - ban[c]) * P[c]
        eaten = kills * leopards[c] / area[c]
        out[c] = max(P[c] + growth - hunted - eaten + feeding[c], 0.0)
    return out
