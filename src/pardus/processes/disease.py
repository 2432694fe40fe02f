"""Disease (MODEL.md §4.9): canine distemper as a catastrophe. Each year and population an
outbreak happens with a given probability; in an outbreak an unprotected animal survives with
probability ``survival`` and breeding is multiplied by ``breeding``. Vaccination protects each
animal with probability coverage × efficacy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario.schema import Scenario
from ..rng import as_streams
from .base import Field, Hazard, State, by_cell_stage


class Disease(Hazard):
    cause = "disease"
    modifier = "unprotected"
    reads = (
        Field("cell", "individual"),
        Field("vaccination", "cell"),
        Field("outbreak", "cell"),
        Field("protected", "individual"),
    )

    @dataclass(frozen=True)
    class Params:
        probability: float
        survival: float
        breeding: float
        vaccine_efficacy: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Disease.Params":
            d = sc.threats.disease
            return cls(d.probability, d.survival, d.breeding, d.vaccine_efficacy, sc.demography.adult_age)

    def __init__(self, params: "Disease.Params"):
        self.params = params
        self.adult_age = params.adult_age
        self.p, self.survival, self.breeding, self.efficacy = params.probability, params.survival, params.breeding, params.vaccine_efficacy
        self.ones = np.ones(3)

    def prepare(self, state: State, rng) -> None:
        """Draw this year's outbreaks (one uniform per cell, always, to keep streams aligned),
        then each animal's vaccine protection."""
        streams = as_streams(rng, state.n_reps)
        u = streams.by_item(state.rep_of_cell)[:, 0]
        state.layers["outbreak"][:] = u < self.p
        pop = state.pop
        n = pop.n
        protect = streams.by_item(pop.rep[:n])[:, 0] < (state.layers["vaccination"][pop.cell[:n]] * self.efficacy)
        pop.protected[:n] = protect

    def table(self, state: State) -> np.ndarray:
        return by_cell_stage(state.layers["outbreak"] * (1.0 - self.survival), self.ones)

    def breeding_factor(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(layers["outbreak"], self.breeding, 1.0)
