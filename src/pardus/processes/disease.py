"""Disease (MODEL.md §4.9): canine distemper.

**Non-spatial form — a catastrophe.** Each year and population an outbreak happens with
probability ``probability × (1 − dog_vaccination × efficacy)``; in an outbreak an unprotected
animal survives with probability ``survival`` and breeding is multiplied by ``breeding``.
Vaccination protects each animal with probability coverage × efficacy.

**Spatial form — spill-over from village dogs** (:class:`Spillover`). Distemper lives in the
domestic dogs of the villages (the reservoir: Gilbert et al. 2015, Integrative Zoology 10:
329–343, for tigers in the Russian Far East). Each year of a replicate the virus circulates among
the dogs with probability ``dog_epidemic``; in such a year each leopard is infected with
probability ``1 − exp(−spill_rate × e)``, where ``e`` is its exposure to dogs (``dog_exposure``
× (1 − dog_vaccination × efficacy), the use-weighted mean over its home range, or at its cell), unless its
vaccine protects it. An infected animal dies with probability ``1 − survival`` (cause
``disease``); an infected female's cell breeds at ``breeding`` that year (cell-level
outbreaks). Leopard-to-leopard transmission and lasting immunity are not modelled
(assumptions: solitary animals; a survivor may be infected again in a later epidemic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
        Field("dog_vaccination", "cell"),
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
        state.layers["outbreak"][:] = u < self.p * (1.0 - state.layers["dog_vaccination"] * self.efficacy)
        pop = state.pop
        n = pop.n
        protect = streams.by_item(pop.rep[:n])[:, 0] < (state.layers["vaccination"][pop.cell[:n]] * self.efficacy)
        pop.protected[:n] = protect

    def table(self, state: State) -> np.ndarray:
        return by_cell_stage(state.layers["outbreak"] * (1.0 - self.survival), self.ones)

    def breeding_factor(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(layers["outbreak"], self.breeding, 1.0)


@dataclass(frozen=True)
class SpilloverParams:
    """The dog reservoir of the spatial form (``[landscape.disease]``); survival, breeding and
    vaccine efficacy are ``threats.disease``'s."""

    #: where each default comes from (shown by ``pardus explain``; a test checks every field has one)
    SOURCES: ClassVar[dict[str, str]] = {
        "dog_epidemic": "assumption (range 0.05–0.5): the share of years in which distemper circulates among village dogs",
        "spill_rate": "assumption (range 0.1–2): the infection hazard of a leopard living among the dogs in such a year",
        "decay_km": "assumption (range 1–10 km): village dogs roam a few km from their village",
    }

    dog_epidemic: float = 0.2  # assumption (range 0.05–0.5): years in which distemper circulates among village dogs
    spill_rate: float = 0.5  # assumption (range 0.1–2): infection hazard of a leopard living among the dogs in such a year
    decay_km: float = 3.0  # assumption (range 1–10): dogs roam a few km from their village

    def __post_init__(self) -> None:
        if not 0.0 <= self.dog_epidemic <= 1.0:
            raise ValueError("dog_epidemic is a probability (0–1)")
        if self.decay_km <= 0:
            raise ValueError("decay_km must be positive")


class Spillover(Disease):
    """Distemper from the village dogs (the module docstring's spatial form)."""

    reads = Disease.reads + (Field("dog_exposure", "cell"), Field("range_id", "individual"), Field("status", "individual"))

    def __init__(self, params: "Disease.Params", spill: SpilloverParams):
        super().__init__(params)
        self.spill = spill

    def prepare(self, state: State, rng) -> None:
        """This year's dog epidemics (one uniform per replicate), then per animal its vaccine
        protection and its infection (two uniforms each, always, to keep streams aligned)."""
        from ..landscape.ranges import exposure
        from ..population.table import ALIVE

        streams = as_streams(rng, state.n_reps)
        L = state.layers
        epidemic = streams.per_replicate(1)[:, 0] < self.spill.dog_epidemic
        pop = state.pop
        n = pop.n
        u = streams.by_item(pop.rep[:n], 2)
        vaccinated = u[:, 0] < (L["vaccination"][pop.cell[:n]] * self.efficacy)
        alive = np.flatnonzero(pop.cause[:n] == ALIVE)
        e = np.zeros(n)
        if alive.size:
            dogs = L["dog_exposure"] * (1.0 - L["dog_vaccination"] * self.efficacy)
            rid = np.full(n, -1, dtype=np.int64)
            rid[alive] = pop.home_range_of(alive)  # dependent young in their mother's range
            e[alive] = exposure(dogs, pop.cell, rid, alive, state.ranges)
        infected = epidemic[pop.rep[:n]] & ~vaccinated & (u[:, 1] < 1.0 - np.exp(-self.spill.spill_rate * e))
        pop.protected[:n] = ~infected  # the hazard (1 − survival) falls on the infected only
        L["outbreak"][:] = np.repeat(epidemic, state.cells_per_rep)
        infection = np.zeros(state.n_cells, dtype=bool)
        infection[pop.cell[:n][infected]] = True
        L["infection"] = infection
        state.tally.setdefault("infected", np.zeros(state.n_cells, np.int32))
        np.add.at(state.tally["infected"], pop.cell[:n][infected], 1)

    def breeding_factor(self, layers: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(layers["infection"], self.breeding, 1.0)
