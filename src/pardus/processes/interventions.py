"""The registry of intervention types (MODEL.md §5): one class per type, the list kept once.

Each class knows its scenario model (:mod:`pardus.scenario.schema`), the layers it sets, the
unit its ``unit_cost`` is paid per, how to apply itself to its target cells in a year and how to
describe itself. An intervention that draws random numbers (a release's genotypes, which animals
a translocation catches) draws them from its **own stream**, keyed by its name in the scenario:
adding a translocation shifts no release's draws, and an intervention of the same name in two
scenarios sees the same numbers (common random numbers).

Non-spatial form: the target is a population (its cell in every replicate of the batch).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..population.table import ALIVE, FEMALE, MALE
from ..rng import Streams
from ..scenario import schema
from .base import CAUSE_INDEX, State


def active(iv, year: int) -> bool:
    return iv.start <= year and (iv.end is None or year <= iv.end)


def acts_this_year(iv, year: int) -> bool:
    """Releases and translocations act once in ``start`` or every ``every`` years until ``end``."""
    if not active(iv, year):
        return False
    if iv.every is None:
        return year == iv.start
    return (year - iv.start) % iv.every == 0


class InterventionType:
    """One intervention of a scenario: ``spec`` is its validated scenario entry."""

    type: ClassVar[str]
    model: ClassVar[type]  # its scenario model
    effect: ClassVar[str]
    unit: ClassVar[str]  # what unit_cost is paid per
    sets: ClassVar[tuple[str, ...]] = ()  # the managed layers it changes
    random: ClassVar[bool] = False  # draws random numbers (then from its own stream)

    def __init__(self, name: str, spec, index: dict[str, int], context: dict):
        self.name = name
        self.spec = spec
        self.local = index[spec.population]  # the target population's cell
        self.streams: Streams | None = None

    @property
    def stream_name(self) -> str:
        return f"intervention/{self.name}"

    def describe(self) -> str:
        s = self.spec
        until = f"–{s.end}" if s.end is not None else " on"
        return f"{self.name}: {self.type} in {s.population} from {s.start}{until} ({self.effect}; cost per {self.unit})"

    def apply(self, state: State, cells: np.ndarray, year: int, baseline: dict, cost: np.ndarray) -> None:
        """Change the layers of the target ``cells`` (one per replicate) this year and add what
        it costs to ``cost`` (per replicate)."""
        raise NotImplementedError

    def after_all(self, state: State, cells: np.ndarray, cost: np.ndarray) -> None:
        """Costs that depend on what every intervention did this year (default none)."""


REGISTRY: dict[str, type[InterventionType]] = {}


def register(cls: type[InterventionType]) -> type[InterventionType]:
    t = cls.model.model_fields["type"].annotation.__args__[0]
    cls.type = t
    if t in REGISTRY:
        raise ValueError(f"intervention type '{t}' registered twice")
    REGISTRY[t] = cls
    return cls


@register
class AntiPoaching(InterventionType):
    model = schema.AntiPoaching
    effect = "patrol effort (patrol-days/km²/yr) replaces the baseline"
    unit = "patrol-day added above the baseline ((effort − baseline) × area)"
    sets = ("patrol_effort",)

    def apply(self, state, cells, year, baseline, cost):
        L = state.layers
        L["patrol_effort"][cells] = self.spec.effort
        # the baseline patrols are already paid for: only added effort costs money
        cost += self.spec.unit_cost * np.maximum(0.0, self.spec.effort - baseline["patrol_effort"][cells]) * L["area_km2"][cells]


@register
class PreyRecovery(InterventionType):
    model = schema.PreyRecovery
    effect = "hunting ban share, prey capacity factor, supplemental feeding"
    unit = "km² per year"
    sets = ("hunting_ban", "prey_capacity", "feeding")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        L["hunting_ban"][cells] = np.maximum(L["hunting_ban"][cells], s.hunting_ban)
        L["prey_capacity"][cells] *= s.capacity_factor
        L["feeding"][cells] += s.feeding
        cost += s.unit_cost * L["area_km2"][cells]


@register
class ConflictMitigation(InterventionType):
    model = schema.ConflictMitigation
    effect = "share of conflict killings prevented (compensation, fencing)"
    unit = "year"
    sets = ("conflict_mitigation",)

    def apply(self, state, cells, year, baseline, cost):
        L = state.layers
        L["conflict_mitigation"][cells] = 1.0 - (1.0 - L["conflict_mitigation"][cells]) * (1.0 - self.spec.reduction)
        cost += self.spec.unit_cost


@register
class Vaccination(InterventionType):
    model = schema.Vaccination
    effect = "share of leopards vaccinated (protection = coverage × efficacy)"
    unit = "animal vaccinated"
    sets = ("vaccination",)

    def apply(self, state, cells, year, baseline, cost):
        L = state.layers
        L["vaccination"][cells] = np.maximum(L["vaccination"][cells], self.spec.coverage)

    def after_all(self, state, cells, cost):
        # paid per animal present after this year's releases and translocations
        pop = state.pop
        n = pop.n
        present = np.bincount(pop.cell[:n][pop.cause[:n] == ALIVE], minlength=state.n_cells)
        cost += self.spec.unit_cost * self.spec.coverage * present[cells]


@register
class Crossing(InterventionType):
    model = schema.Crossing
    effect = "share of road deaths and of dispersal deaths prevented"
    unit = "year"
    sets = ("road_reduction", "dispersal_mortality_reduction")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        L["road_reduction"][cells] = 1.0 - (1.0 - L["road_reduction"][cells]) * (1.0 - s.road_reduction)
        L["dispersal_mortality_reduction"][cells] = 1.0 - (1.0 - L["dispersal_mortality_reduction"][cells]) * (1.0 - s.dispersal_mortality_reduction)
        cost += s.unit_cost


@register
class HabitatChange(InterventionType):
    model = schema.HabitatChange
    effect = "carrying capacity and prey capacity × factors (compounding yearly if `yearly`), human access replaced"
    unit = "none (a change of the landscape, not a paid action: `fixed_cost`/`unit_cost` per year may still be set)"
    sets = ("carrying_capacity", "prey_capacity", "human_access")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        power = (year - s.start + 1) if s.yearly else 1
        L["carrying_capacity"][cells] *= s.carrying_capacity_factor**power
        L["prey_capacity"][cells] *= s.prey_capacity_factor**power
        if s.human_access is not None:
            L["human_access"][cells] = s.human_access
        cost += s.unit_cost


@register
class Release(InterventionType):
    model = schema.Release
    effect = "captive-bred animals of a given age/sex released"
    unit = "animal released"
    random = True

    def __init__(self, name, spec, index, context):
        super().__init__(name, spec, index, context)
        self.releaser = context["captive"]

    def apply(self, state, cells, year, baseline, cost):
        if not acts_this_year(self.spec, year):
            return
        s = self.spec
        for r in range(state.n_reps):
            k = self.releaser.release(state, self.streams, r, int(cells[r]), s.females, s.males, s.age)
            state.tally["released"][cells[r]] += k
            cost[r] += s.unit_cost * k


@register
class Translocation(InterventionType):
    model = schema.Translocation
    effect = "wild animals moved between populations (with transport mortality, recorded as cause `dispersal`)"
    unit = "animal caught (including those that die in transport)"
    random = True

    def __init__(self, name, spec, index, context):
        super().__init__(name, spec, index, context)
        self.source = index[spec.source]

    def describe(self) -> str:
        return super().describe().replace(f" in {self.spec.population}", f" from {self.spec.source} to {self.spec.population}")

    def apply(self, state, cells, year, baseline, cost):
        if not acts_this_year(self.spec, year):
            return
        for r in range(state.n_reps):
            cost[r] += self.spec.unit_cost * self._move(state, r, int(cells[r]))

    def _move(self, state: State, r: int, dest: int) -> int:
        """Move animals of replicate r from the source population to cell ``dest``."""
        s, pop, streams = self.spec, state.pop, self.streams
        n = pop.n
        src = self.source + state.cells_per_rep * r
        base = (pop.cause[:n] == ALIVE) & (pop.cell[:n] == src) & (pop.age[:n] >= s.min_age) & (pop.age[:n] <= s.max_age)
        moved = 0
        for sex, k in ((FEMALE, s.females), (MALE, s.males)):
            cand = np.flatnonzero(base & (pop.sex[:n] == sex))
            take = streams.permutation(r, cand)[: min(k, cand.size)]
            dies = streams.random(r, (take.size,)) < s.mortality
            pop.cause[take[dies]] = CAUSE_INDEX["dispersal"]  # died while being moved
            pop.cell[take[~dies]] = dest
            moved += take.size
        return moved


missing = set(schema.INTERVENTION_TYPES) - set(REGISTRY)
if missing or set(REGISTRY) - set(schema.INTERVENTION_TYPES):
    raise ImportError(f"the intervention registry and the scenario schema disagree: {sorted(missing ^ (set(REGISTRY) - set(schema.INTERVENTION_TYPES)))}")


def build_interventions(specs, names: list[str], context: dict) -> list[InterventionType]:
    """Interventions ((name, scenario entry) pairs) as registry objects, in their order."""
    index = {n: i for i, n in enumerate(names)}
    return [REGISTRY[iv.type](name, iv, index, context) for name, iv in specs]


def cost_table() -> list[tuple[str, str, str]]:
    """(type, effect, unit) of every registered type — the table of the user guide."""
    return [(t, cls.effect, cls.unit) for t, cls in REGISTRY.items()]
