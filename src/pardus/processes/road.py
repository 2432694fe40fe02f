"""Road mortality (MODEL.md §4.7–4.8), non-spatial form: a hazard per stage scaled by the
population's exposure to roads and reduced by crossings/tunnels."""

from __future__ import annotations

from dataclasses import dataclass

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

    @dataclass(frozen=True)
    class Params:
        by_stage: tuple[float, float, float]  # hazard of cubs, subadults, adults at full exposure
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Road.Params":
            h = sc.threats.road.hazard
            return cls((h.cub, h.subadult, h.adult), sc.demography.adult_age)

    def __init__(self, params: "Road.Params"):
        self.params = params
        self.by_stage = np.array(params.by_stage)
        self.adult_age = params.adult_age

    def table(self, state: State) -> np.ndarray:
        per_cell = state.layers["road_exposure"] * (1.0 - state.layers["road_reduction"])
        return by_cell_stage(per_cell, self.by_stage)
