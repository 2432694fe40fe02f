"""The registry of intervention types (MODEL.md §5): one class per type, the list kept once.

Each class knows its scenario model (:mod:`pardus.scenario.schema`), the layers it sets, the
unit its ``unit_cost`` is paid per, how to apply itself to its target cells in a year and how to
describe itself. An intervention that draws random numbers (a release's genotypes, which animals
a translocation catches) draws them from its **own stream**, keyed by its name in the scenario:
adding a translocation shifts no release's draws, and an intervention of the same name in two
scenarios sees the same numbers (common random numbers).

Non-spatial form: the target is a population (its cell in every replicate of the batch).
Spatial form (a scenario with ``[landscape]``): the target is the intervention's ``area`` within
its population's region (:mod:`pardus.landscape.targets`), a set of cells in every replicate;
``apply`` gets them as a (replicates, cells) array and adds each replicate's cost over them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..population.table import ALIVE, FEMALE, MALE, TRANSIENT
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
        self.local = index[spec.population]  # the target population's cell (non-spatial)
        self.streams: Streams | None = None
        self.site: int | None = (context.get("sites") or {}).get(name)  # spatial: the local cell a release goes to

    def in_effect(self, year: int) -> bool:
        """Whether it changes the landscape this year (from start to end; a firebreak lasts on)."""
        return active(self.spec, year)

    @property
    def stream_name(self) -> str:
        return f"intervention/{self.name}"

    def describe(self) -> str:
        s = self.spec
        until = f"–{s.end}" if s.end is not None else " on"
        return f"{self.name}: {self.type} in {s.population} from {s.start}{until} ({self.effect}; cost per {self.unit})"

    def apply(self, state: State, cells: np.ndarray, year: int, baseline: dict, cost: np.ndarray) -> None:
        """Change the layers of the target ``cells`` ((replicates, cells): one per replicate in
        the non-spatial form) this year and add what it costs to ``cost`` (per replicate)."""
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
        L, s = state.layers, self.spec
        base = baseline["patrol_effort"][cells]
        if s.budget is not None:  # the effort the budget buys on top of the baseline, spread evenly
            area = L["area_km2"][cells].sum(axis=1, keepdims=True)
            effort = base + s.budget / (s.unit_cost * area)
        else:
            effort = np.broadcast_to(s.effort, base.shape)
        L["patrol_effort"][cells] = effort
        # the baseline patrols are already paid for: only added effort costs money
        cost += (s.unit_cost * np.maximum(0.0, effort - base) * L["area_km2"][cells]).sum(axis=1)


@register
class PreyRecovery(InterventionType):
    model = schema.PreyRecovery
    effect = "hunting ban share, prey capacity factor, supplemental feeding"
    unit = "km² per year"
    sets = ("hunting_ban", "prey_capacity", "feeding", "prey_capacity_factor")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        L["hunting_ban"][cells] = np.maximum(L["hunting_ban"][cells], s.hunting_ban)
        L["prey_capacity"][cells] *= s.capacity_factor
        if "prey_capacity_factor" in L:  # spatial: the capacity follows the cover, times this factor
            L["prey_capacity_factor"][cells] *= s.capacity_factor
        L["feeding"][cells] += s.feeding
        cost += (s.unit_cost * L["area_km2"][cells]).sum(axis=1)


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
        cost += self.spec.unit_cost * self.spec.coverage * present[cells].sum(axis=1)


@register
class DogVaccination(InterventionType):
    model = schema.DogVaccination
    effect = "share of village dogs vaccinated: distemper outbreaks (non-spatial) or spill-over from dogs (map) × (1 − coverage × efficacy)"
    unit = "year"
    sets = ("dog_vaccination",)

    def apply(self, state, cells, year, baseline, cost):
        L = state.layers
        L["dog_vaccination"][cells] = np.maximum(L["dog_vaccination"][cells], self.spec.coverage)
        cost += self.spec.unit_cost


@register
class Crossing(InterventionType):
    model = schema.Crossing
    effect = "share of road deaths and of dispersal deaths prevented; on the map, the road cells of its area get a crossing (tunnel, overpass)"
    unit = "year"
    sets = ("road_reduction", "dispersal_mortality_reduction", "crossing")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        if "crossing" in L:  # spatial: walks cross its road cells safely (map_dispersal.crossing_effect)
            L["crossing"][cells] |= L["road"][cells] > 0
        L["road_reduction"][cells] = 1.0 - (1.0 - L["road_reduction"][cells]) * (1.0 - s.road_reduction)
        L["dispersal_mortality_reduction"][cells] = 1.0 - (1.0 - L["dispersal_mortality_reduction"][cells]) * (1.0 - s.dispersal_mortality_reduction)
        cost += s.unit_cost


@register
class HabitatChange(InterventionType):
    model = schema.HabitatChange
    effect = "carrying capacity and prey capacity × factors (compounding yearly if `yearly`), human access replaced; on the map the cover may change (`cover`)"
    unit = "none (a change of the landscape, not a paid action: `fixed_cost`/`unit_cost` per year may still be set)"
    sets = ("carrying_capacity", "prey_capacity", "human_access", "prey_capacity_factor")

    def __init__(self, name, spec, index, context):
        super().__init__(name, spec, index, context)
        self.access_of = context.get("population_access")  # spatial: each population's own human_access

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        power = (year - s.start + 1) if s.yearly else 1
        if "carrying_capacity" in L:  # non-spatial (on a map K follows from the home ranges)
            L["carrying_capacity"][cells] *= s.carrying_capacity_factor**power
        L["prey_capacity"][cells] *= s.prey_capacity_factor**power
        if "prey_capacity_factor" in L:
            L["prey_capacity_factor"][cells] *= s.prey_capacity_factor**power
        if s.cover is not None and year == s.start and "cover" in L:  # spatial: the land is turned over once
            from ..landscape.layers import LAYERS

            L["cover"][cells] = LAYERS["cover"].code(s.cover)
            if "cover_age" in L:
                L["cover_age"][cells] = 0
        if s.human_access is not None:
            if self.access_of is None:  # non-spatial: the population's access is replaced
                L["human_access"][cells] = s.human_access
            else:  # on a map: every cell's access changes as the population's would (the pattern kept)
                base = self.access_of.get(s.population, 0.0)
                L["human_access"][cells] = np.minimum(1.0, baseline["human_access"][cells] * (s.human_access / base)) if base > 0 else s.human_access
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
        C = state.cells_per_rep
        for r in range(state.n_reps):
            cell = int(cells[r, 0]) if self.site is None else r * C + self.site
            k = self.releaser.release(state, self.streams, r, cell, s.females, s.males, s.age)
            state.tally["released"][cell] += k
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
        # spatial: the source population's cells (bool per cell of one replicate) and the home
        # ranges that the animals caught leave
        self.source_cells = (context.get("source_cells") or {}).get(name)
        self.territories = context.get("territories")

    def describe(self) -> str:
        return super().describe().replace(f" in {self.spec.population}", f" from {self.spec.source} to {self.spec.population}")

    def apply(self, state, cells, year, baseline, cost):
        if not acts_this_year(self.spec, year):
            return
        C = state.cells_per_rep
        for r in range(state.n_reps):
            dest = int(cells[r, 0]) if self.site is None else r * C + self.site
            cost[r] += self.spec.unit_cost * self._move(state, r, dest)

    def _move(self, state: State, r: int, dest: int) -> int:
        """Move animals of replicate r from the source population to cell ``dest``."""
        s, pop, streams = self.spec, state.pop, self.streams
        n = pop.n
        C = state.cells_per_rep
        if self.source_cells is None:
            here = pop.cell[:n] == self.source + C * r
        else:
            here = (pop.rep[:n] == r) & self.source_cells[pop.cell[:n] % C]
        base = (pop.cause[:n] == ALIVE) & here & (pop.age[:n] >= s.min_age) & (pop.age[:n] <= s.max_age)
        moved = 0
        for sex, k in ((FEMALE, s.females), (MALE, s.males)):
            cand = np.flatnonzero(base & (pop.sex[:n] == sex))
            take = streams.permutation(r, cand)[: min(k, cand.size)]
            dies = streams.random(r, (take.size,)) < s.mortality
            pop.cause[take[dies]] = CAUSE_INDEX["dispersal"]  # died while being moved
            pop.cell[take[~dies]] = dest
            if self.territories is not None:  # spatial: they leave their ranges and look for new ones
                held = take[pop.range_id[take] >= 0]
                self.territories.release(pop.range_id[held])
                pop.range_id[take] = -1
                pop.status[take[~dies]] = TRANSIENT
            moved += take.size
        return moved


@register
class Firebreak(InterventionType):
    model = schema.Firebreak
    effect = "fire spread into and out of its cells stopped by `strength`; after `end` it grows over (strength × (1 − lapse) a year)"
    unit = "km of firebreak maintained per year (cells × cell size / width)"
    sets = ("firebreak",)

    def __init__(self, name, spec, index, context):
        super().__init__(name, spec, index, context)
        self.cell_km = context.get("cell_km", 1.0)

    def in_effect(self, year: int) -> bool:
        return year >= self.spec.start  # it stays on the ground after its upkeep ends

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        lapsed = 0 if s.end is None or year <= s.end else year - s.end
        L["firebreak"][cells] = np.maximum(L["firebreak"][cells], s.strength * (1.0 - s.lapse) ** lapsed)
        if active(s, year):
            km = self.cell_km * cells.shape[1] / s.width
            cost += s.unit_cost * km


@register
class ProtectedArea(InterventionType):
    model = schema.ProtectedArea
    effect = "no logging or clearing, fire suppression, human access × (1 − access_reduction), hunting ban in its cells"
    unit = "km² per year"
    sets = ("no_conversion", "suppression", "human_access", "hunting_ban")

    def apply(self, state, cells, year, baseline, cost):
        L, s = state.layers, self.spec
        L["no_conversion"][cells] = True
        if s.suppression:
            L["suppression"][cells] = True
        L["human_access"][cells] *= 1.0 - s.access_reduction
        L["hunting_ban"][cells] = np.maximum(L["hunting_ban"][cells], s.hunting_ban)
        cost += (s.unit_cost * L["area_km2"][cells]).sum(axis=1)


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
