"""Prey (MODEL.md §4.4), non-spatial form: per population, logistic growth toward the prey
capacity with environmental noise, minus human offtake (reduced by patrols and hunting bans),
minus leopard predation, plus supplemental feeding. Densities are roe-deer equivalents per km².
"""

from __future__ import annotations

import numpy as np

from ..population.table import ALIVE
from ..scenario.schema import Scenario
from .base import Field, Process, State, patrol_effect


class PreyDynamics(Process):
    name = "prey"
    reads = (
        Field("cell", "individual"),
        Field("age", "individual", "years"),
        Field("human_access", "cell"),
        Field("patrol_effort", "cell", "patrol-days/km²/yr"),
        Field("hunting_ban", "cell"),
        Field("prey_capacity", "cell", "roe-deer eq./km²"),
        Field("feeding", "cell", "roe-deer eq./km²/yr"),
        Field("area_km2", "cell", "km²"),
    )
    writes = (Field("prey", "cell", "roe-deer eq./km²"),)

    def __init__(self, scenario: Scenario):
        p = scenario.prey
        self.r, self.sd, self.offtake, self.kills = p.growth_rate, p.growth_sd, p.offtake, p.kills_per_leopard
        po = scenario.threats.poaching
        self.max_effect, self.half = po.prey_patrol_max_effect, po.patrol_half_effort

    def step(self, state: State, rng: np.random.Generator) -> None:
        L = state.layers
        noise = rng.standard_normal(state.n_cells)
        if self.r == 0.0 and self.offtake == 0.0 and self.kills == 0.0:
            L["prey"] += L["feeding"]
            return
        P = L["prey"]
        K = L["prey_capacity"]
        growth = self.r * P * (1.0 - P / K) * np.exp(self.sd * noise - 0.5 * self.sd**2)
        hunted = self.offtake * L["human_access"] * (1.0 - patrol_effect(L["patrol_effort"], self.max_effect, self.half))
        hunted = hunted * (1.0 - L["hunting_ban"]) * P
        pop = state.pop
        n = pop.n
        eaters = (pop.cause[:n] == ALIVE) & (pop.age[:n] >= 1)
        leopards = np.bincount(pop.cell[:n][eaters], minlength=state.n_cells)
        eaten = self.kills * leopards / L["area_km2"]
        L["prey"] = np.maximum(P + growth - hunted - eaten + L["feeding"], 0.0)
