"""The yearly order of processes, declared once (MODEL.md §8, non-spatial form).

1. management — interventions active this year (layers, releases, translocations, costs)
2. (fire, 3. succession: spatial processes, not in the non-spatial model)
4. prey — prey dynamics per population
5. environment, mortality of the independent animals — natural (with EV), starvation,
   poaching, conflict, road, disease: deaths are marked, not removed
6. reproduction — mating, litters, pedigree, gene drop, lethal homozygotes;
   then first-year mortality of the newborn cubs (same hazards plus inbreeding depression)
7. dispersal — between populations, dispersal deaths
8. resolve — deaths removed and tallied, ageing, senescence, carrying-capacity truncation
9. census
"""

from __future__ import annotations

import numpy as np

from .processes.base import Field, Process
from .processes.census import Census, ResolveAndAge
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
    reads = (Field("cell", "individual"), Field("vaccination", "cell"))
    writes = (Field("outbreak", "cell"), Field("protected", "individual"))

    def __init__(self, disease: Disease):
        self.disease = disease

    def step(self, state, rng: np.random.Generator) -> None:
        self.disease.prepare(state, rng)


def build_schedule(scenario: Scenario, names: list[str], natural: np.ndarray, baseline: dict, captive) -> list[Process]:
    disease = Disease(scenario)
    hazards = [NaturalMortality(scenario), Starvation(scenario), Poaching(scenario), Conflict(scenario), Road(scenario), disease]
    return [
        Management(scenario, names, baseline, captive),
        PreyDynamics(scenario),
        Environment(natural, scenario),
        DiseaseDraw(disease),
        Mortality(hazards, cohort="independent", adult_age=scenario.demography.adult_age),
        Reproduction(scenario, disease),
        Mortality(hazards + [InbreedingDepression(scenario)], cohort="newborn", adult_age=scenario.demography.adult_age),
        Dispersal(scenario, names),
        ResolveAndAge(scenario),
        Census(scenario),
    ]
