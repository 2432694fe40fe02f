"""Conflict at deer farms (MODEL.md §4.8): h · exposure · (1 − prey/prey_K)^γ · (1 − mitigation)."""

from __future__ import annotations

import numpy as np

from ..scenario.schema import Scenario
from .base import Field, Hazard, State, by_cell_stage


class Conflict(Hazard):
    cause = "conflict"
    reads = (
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("deer_farm_exposure", "cell"),
        Field("prey", "cell", "roe-deer eq./km²"),
        Field("prey_capacity", "cell", "roe-deer eq./km²"),
        Field("conflict_mitigation", "cell"),
    )

    def __init__(self, scenario: Scenario):
        self.adult_age = scenario.demography.adult_age
        self.h = scenario.threats.conflict.hazard
        self.gamma = scenario.threats.conflict.gamma

    def cell_hazard(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        scarcity = np.clip(1.0 - layers["prey"] / layers["prey_capacity"], 0.0, 1.0) ** self.gamma
        return self.h * layers["deer_farm_exposure"] * scarcity * (1.0 - layers["conflict_mitigation"])

    def table(self, state: State) -> np.ndarray:
        # cubs stay with their mother and are not shot at farms
        return by_cell_stage(self.cell_hazard(state.layers), [0.0, 1.0, 1.0])
