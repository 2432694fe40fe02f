"""Natural survival with environmental variation (MODEL.md §4.5).

Each year one standard-normal deviate per replicate (drawn by :mod:`environment`) moves every
age/sex class together: the class's survival that year is the quantile of a beta distribution
with the class mean and SD at that deviate (Vortex's beta EV). A second deviate, correlated
with the first, moves breeding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario.schema import Scenario
from .base import Field, Hazard, State, by_cell_stage


class NaturalMortality(Hazard):
    cause = "natural"
    reads = (
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("natural_survival", "year", "probability"),
    )

    @dataclass(frozen=True)
    class Params:
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "NaturalMortality.Params":
            return cls(sc.demography.adult_age)

    def __init__(self, params: "NaturalMortality.Params"):
        self.params = params
        self.adult_age = params.adult_age

    def table(self, state: State) -> np.ndarray:
        surv = state.per_rep(state.fields["natural_survival"])  # (replicates, sex, stage) this year
        return 1.0 - surv[state.rep_of_cell]


class InbreedingDepression(Hazard):
    """The non-lethal part of inbreeding depression on first-year survival:
    survival × exp(−(LE/2)·(1 − lethal_share)·F) (MODEL.md §4.6)."""

    cause = "inbreeding_depression"
    reads = (Field("age", "individual", "years"), Field("F", "individual"))
    modifier = "inbreeding"

    @dataclass(frozen=True)
    class Params:
        lethal_equivalents: float
        lethal_share: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "InbreedingDepression.Params":
            return cls(sc.genetics.lethal_equivalents, sc.genetics.lethal_share, sc.demography.adult_age)

    def __init__(self, params: "InbreedingDepression.Params"):
        self.params = params
        self.adult_age = params.adult_age
        self.b = 0.5 * params.lethal_equivalents * (1.0 - params.lethal_share)
        self._table: np.ndarray | None = None

    def table(self, state: State) -> np.ndarray:
        if self._table is None or self._table.shape[0] != state.n_cells:
            self._table = by_cell_stage(np.ones(state.n_cells), [self.b, 0.0, 0.0])
        return self._table


class Starvation(Hazard):
    """Extra mortality when prey density is below the requirement."""

    cause = "starvation"
    reads = (Field("cell", "individual"), Field("prey", "cell", "roe-deer eq./km²"))

    @dataclass(frozen=True)
    class Params:
        max_hazard: float
        required_density: float
        adult_age: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Starvation.Params":
            return cls(sc.threats.starvation.max_hazard, sc.prey.required_density, sc.demography.adult_age)

    def __init__(self, params: "Starvation.Params"):
        self.params = params
        self.adult_age = params.adult_age
        self.max_hazard = params.max_hazard
        self.required = params.required_density
        self.ones = np.ones(3)

    def table(self, state: State) -> np.ndarray:
        if self.max_hazard == 0.0 or self.required == 0.0:
            return np.zeros((state.n_cells, 2, 3))
        shortfall = np.maximum(1.0 - state.layers["prey"] / self.required, 0.0)
        return by_cell_stage(self.max_hazard * shortfall, self.ones)
