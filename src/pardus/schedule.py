"""The yearly order of processes, declared once (MODEL.md §8, non-spatial form).

1. management — interventions active this year (layers, releases, translocations, costs)
2. (fire, 3. succession: spatial processes, not in the non-spatial model)
4. prey — prey dynamics per population
5. environment, mortality of the independent animals — natural (with EV), starvation,
   poaching, conflict, road, disease: deaths are marked, not removed
6. density dependence (non-spatial only: Vortex's P(N)), reproduction — mating, litters,
   pedigree, gene drop, lethal homozygotes; then first-year mortality of the newborn cubs
   (same hazards plus inbreeding depression)
7. dispersal — between populations, dispersal deaths
8. ageing (senescence, birthdays, independence), the ceiling (non-spatial only: Vortex's K
   truncation), resolve (the year's dead tallied and removed together)
9. census
"""

from __future__ import annotations

import numpy as np

from .processes.base import Field, Process
from .processes.ceiling import Ageing, Ceiling, DensityDependence, Resolve
from .processes.census import Census
from .processes.conflict import Conflict
from .processes.disease import Disease
from .processes.dispersal import Dispersal
from .processes.environment import Environment
from .processes.management import Management
from .processes.mortality import Mortality
from .processes.poaching import Poaching
from .processes.prey import PreyDynamics
from .processes.reproduction import Reproduction
from .processes.road import Road
from .processes.survival import InbreedingDepression, NaturalMortality, Starvation
from .scenario.schema import Scenario


class DiseaseDraw(Process):
    """Draws this year's outbreaks and vaccine protection before mortality."""

    name = "disease"
    reads = (Field("cell", "individual"), Field("vaccination", "cell"), Field("dog_vaccination", "cell"))
    writes = (Field("outbreak", "cell"), Field("protected", "individual"))

    def __init__(self, disease: Disease):
        self.disease = disease

    def step(self, state, rng: np.random.Generator) -> None:
        self.disease.prepare(state, rng)


def build_schedule(scenario: Scenario, names: list[str], natural: np.ndarray, baseline: dict, captive) -> list[Process]:
    """The yearly schedule of the non-spatial model. Every process and hazard is built from its
    own parameters (``Params.from_scenario``), never from the whole scenario."""
    sc = scenario
    disease = Disease.from_scenario(sc)
    hazards = [NaturalMortality.from_scenario(sc), Starvation.from_scenario(sc), Poaching.from_scenario(sc), Conflict.from_scenario(sc), Road.from_scenario(sc), disease]
    adult_age = sc.demography.adult_age
    density = [DensityDependence.from_scenario(sc)] if sc.demography.density_dependence.enabled else []
    return [
        Management.from_scenario(sc, names, baseline, captive),
        PreyDynamics.from_scenario(sc),
        Environment(Environment.Params.from_scenario(sc, natural)),
        DiseaseDraw(disease),
        Mortality(hazards, cohort="independent", adult_age=adult_age),
        *density,
        Reproduction.from_scenario(sc, disease),
        Mortality(hazards + [InbreedingDepression.from_scenario(sc)], cohort="newborn", adult_age=adult_age),
        Dispersal.from_scenario(sc, names),
        Ageing.from_scenario(sc),
        Ceiling(),
        Resolve(),
        Census.from_scenario(sc),
    ]
