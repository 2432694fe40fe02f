"""Conflict at deer farms (MODEL.md §4.8): h · exposure · (1 − prey/prey_K)^γ · (1 − mitigation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..scenario.schema import Scenario
from .base import Field, Hazard, State


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

    @dataclass(frozen=True)
    class Params:
        hazard: float
        gamma: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Conflict.Params":
            c = sc.threats.conflict
            return cls(c.hazard, c.gamma, sc.demography.adult_age)

    def __init__(self, params: "Conflict.Params"):
        self.params = params
        self.adult_age = params.adult_age
        self.h = params.hazard
        self.gamma = params.gamma

    def cell_hazard(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        scarcity = np.clip(1.0 - layers["prey"] / layers["prey_capacity"], 0.0, 1.0) ** self.gamma
        return self.h * layers["deer_farm_exposure"] * scarcity * (1.0 - layers["conflict_mitigation"])

    def table(self, state: State) -> np.ndarray:
        L = state.layers
        return _conflict_table(
            self.h, self.gamma, L["deer_farm_exposure"], L["prey"], L["prey_capacity"], L["conflict_mitigation"],
            np.empty((state.n_cells, 2, 3)),
        )  # fmt: skip


@njit(cache=True)
def _conflict_table(h, gamma, exposure, prey, capacity, mitigation, out):
    for c in range(exposure.shape[0]):
        scarcity = min(max(1.0 - prey[c] / capacity[c], 0.0), 1.0) ** gamma if capacity[c] > 0.0 else 0.0  # no prey to miss where none can live
        v = min(h * exposure[c] * scarcity * (1.0 - mitigation[c]), 1.0)
        for sex in range(2):
            out[c, sex, 0] = 0.0  # cubs stay with their mother and are not shot at farms
            out[c, sex, 1] = v
            out[c, sex, 2] = v
    return out
