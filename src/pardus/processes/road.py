"""Road mortality (MODEL.md §4.7–4.8), non-spatial form: a hazard per stage scaled by the
population's exposure to roads and reduced by crossings/tunnels."""

from __future__ import annotations

import numpy as np

from ..scenario.schema import Scenario
from .base import Field, Hazard, State, by_cell_stage


class Road(Hazard):
    cause = "road"
    reads = (
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("road_exposure", "cell"),
        Field("road_reduction", "cell"),
    )

    def __init__(self, scenario: Scenario):
        h = scenario.threats.road.hazard
        self.by_stage = np.array([h.cub, h.subadult, h.adult])
        self.adult_age = scenario.demography.adult_age

    def table(self, state: State) -> np.ndarray:
        per_cell = state.layers["road_exposure"] * (1.0 - state.layers["road_reduction"])
        return by_cell_stage(per_cell, self.by_stage)
