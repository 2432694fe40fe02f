"""Poaching (MODEL.md §4.8): snares set for fur animals (by age class) and hunting with dogs,
scaled by human access and reduced by anti-poaching patrols with a saturating effect."""

from __future__ import annotations

import numpy as np

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

    def __init__(self, scenario: Scenario):
        p = scenario.threats.poaching
        self.by_stage = np.array([p.hazard.cub, p.hazard.subadult, p.hazard.adult])
        self.dogs = p.dogs
        self.dog_stages = np.array([0.0, 1.0, 1.0])  # hunting dogs tree independent leopards, not cubs
        self.max_effect, self.half = p.patrol_max_effect, p.patrol_half_effort
        self.adult_age = scenario.demography.adult_age

    def cell_pressure(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        """Human access × (1 − patrol effect) per cell."""
        return layers["human_access"] * (1.0 - patrol_effect(layers["patrol_effort"], self.max_effect, self.half))

    def table(self, state: State) -> np.ndarray:
        pressure = self.cell_pressure(state.layers)
        dogs = self.dogs * (1.0 - state.layers["hunting_ban"])  # dogs come with ungulate hunting
        out = np.empty((state.n_cells, 2, 3))
        out[:, 0, :] = np.minimum(pressure[:, None] * (self.by_stage[None, :] + dogs[:, None] * self.dog_stages), 1.0)
        out[:, 1, :] = out[:, 0, :]
        return out
