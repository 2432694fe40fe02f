"""Poaching (MODEL.md §4.8): snares set for fur animals (by age class) and hunting with dogs,
scaled by human access and reduced by anti-poaching patrols with a saturating effect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..scenario.schema import Scenario
from .base import Field, Hazard, State, patrol_effect


class Poaching(Hazard):
    cause = "poaching"
    reads = (
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("human_access", "cell"),
        Field("patrol_effort", "cell", "patrol-days/km²/yr"),
        Field("hunting_ban", "cell"),
    )

    @dataclass(frozen=True)
    class Params:
        by_stage: tuple[float, float, float]  # snare hazard of cubs, subadults, adults at full access
        dogs: float
        patrol_max_effect: float
        patrol_half_effort: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Poaching.Params":
            p = sc.threats.poaching
            return cls((p.hazard.cub, p.hazard.subadult, p.hazard.adult), p.dogs, p.patrol_max_effect, p.patrol_half_effort, sc.demography.adult_age)

    def __init__(self, params: "Poaching.Params"):
        self.params = params
        self.by_stage = np.array(params.by_stage)
        self.dogs = params.dogs
        self.max_effect, self.half = params.patrol_max_effect, params.patrol_half_effort
        self.adult_age = params.adult_age

    def cell_pressure(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        """Human access × (1 − patrol effect) per cell."""
        return layers["human_access"] * (1.0 - patrol_effect(layers["patrol_effort"], self.max_effect, self.half))

    def table(self, state: State) -> np.ndarray:
        L = state.layers
        return _poaching_table(
            L["human_access"], L["patrol_effort"], L["hunting_ban"], self.by_stage, self.dogs, self.max_effect, self.half,
            np.empty((state.n_cells, 2, 3)),
        )  # fmt: skip


@njit(cache=True)
def _poaching_table(access, effort, ban, by_stage, dogs, max_effect, half, out):
    for c in range(access.shape[0]):
        pressure = access[c] * (1.0 - max_effect * effort[c] / (effort[c] + half))
        dog = dogs * (1.0 - ban[c])  # dogs come with ungulate hunting; they tree independent leopards, not cubs
        for s in range(3):
            v = min(pressure * (by_stage[s] + (dog if s > 0 else 0.0)), 1.0)
            out[c, 0, s] = v
            out[c, 1, s] = v
    return out
