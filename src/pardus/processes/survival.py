"""Natural survival with environmental variation (MODEL.md §4.5).

Each year one standard-normal deviate per replicate (drawn by :mod:`environment`) moves every
age/sex class together: the class's survival that year is the quantile of a beta distribution
with the class mean and SD at that deviate (Vortex's beta EV). A second deviate, correlated
with the first, moves breeding.
"""

from __future__ import annotations

import numpy as np

from ..scenario.schema import Scenario
from .base import Field, Hazard, State, stage_of_age


class NaturalMortality(Hazard):
    cause = "natural"
    reads = (
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("natural_survival", "year", "probability"),
    )

    def __init__(self, scenario: Scenario):
        self.adult_age = scenario.demography.adult_age

    def probability(self, state: State, rows: np.ndarray) -> np.ndarray:
        pop = state.pop
        surv = state.extra["natural_survival"]  # (sex, stage) for this year
        stage = stage_of_age(pop.age[rows], self.adult_age)
        return 1.0 - surv[pop.sex[rows], stage]


class InbreedingDepression(Hazard):
    """The non-lethal part of inbreeding depression on first-year survival:
    survival × exp(−(LE/2)·(1 − lethal_share)·F) (MODEL.md §4.6)."""

    cause = "inbreeding_depression"
    reads = (Field("age", "individual", "years"), Field("F", "individual"))

    def __init__(self, scenario: Scenario):
        g = scenario.genetics
        self.b = 0.5 * g.lethal_equivalents * (1.0 - g.lethal_share)

    def probability(self, state: State, rows: np.ndarray) -> np.ndarray:
        pop = state.pop
        cub = pop.age[rows] == 0
        return np.where(cub, 1.0 - np.exp(-self.b * pop.F[rows]), 0.0)


class Starvation(Hazard):
    """Extra mortality when prey density is below the requirement."""

    cause = "starvation"
    reads = (Field("cell", "individual"), Field("prey", "cell", "roe-deer eq./km²"))

    def __init__(self, scenario: Scenario):
        self.max_hazard = scenario.threats.starvation.max_hazard
        self.required = scenario.prey.required_density

    def probability(self, state: State, rows: np.ndarray) -> np.ndarray:
        if self.max_hazard == 0.0 or self.required == 0.0:
            return np.zeros(rows.size)
        shortfall = np.clip(1.0 - state.layers["prey"] / self.required, 0.0, 1.0)
        return self.max_hazard * shortfall[state.pop.cell[rows]]
