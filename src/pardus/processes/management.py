"""Interventions (MODEL.md §5), non-spatial form: dated, located (a population), costed.

Every year the management layers are reset to the scenario's baseline and every intervention
active that year (``start ≤ year ≤ end``) is applied on top. Costs are counted as
``fixed_cost`` once in the start year plus ``unit_cost`` × units used that year, where the unit
is per type:

| type | effect | unit |
|---|---|---|
| anti_poaching | patrol effort (patrol-days/km²/yr) replaces the baseline | patrol-day added above the baseline ((effort − baseline) × area) |
| prey_recovery | hunting ban share, prey capacity factor, supplemental feeding | km² per year |
| conflict_mitigation | share of conflict killings prevented (compensation, fencing) | year |
| vaccination | share of leopards vaccinated (protection = coverage × efficacy) | animal vaccinated |
| crossing | share of road deaths and of dispersal deaths prevented | year |
| release | captive-bred animals of a given age/sex released | animal released |
| habitat_change | carrying capacity and prey capacity × factors (compounding yearly if ``yearly``), human access replaced | none (a change of the landscape, not a paid action: ``fixed_cost``/``unit_cost`` per year may still be set) |
| translocation | wild animals moved between populations (with transport mortality, recorded as cause `dispersal`) | animal caught (including those that die in transport) |
"""

from __future__ import annotations

import numpy as np

from ..population.genetics import AllelePool
from ..population.table import ALIVE, COLUMNS, FEMALE, MALE, ORIGIN_RELEASED
from ..scenario.schema import Scenario
from ..rng import Streams, as_streams
from .base import CAUSE_INDEX, Field, Process, State

MANAGED_LAYERS = (
    "carrying_capacity",
    "human_access",
    "patrol_effort",
    "hunting_ban",
    "feeding",
    "prey_capacity",
    "conflict_mitigation",
    "vaccination",
    "road_reduction",
    "dispersal_mortality_reduction",
)


def active(iv, year: int) -> bool:
    return iv.start <= year and (iv.end is None or year <= iv.end)


def acts_this_year(iv, year: int) -> bool:
    """Releases and translocations act once in ``start`` or every ``every`` years until ``end``."""
    if not active(iv, year):
        return False
    if iv.every is None:
        return year == iv.start
    return (year - iv.start) % iv.every == 0


class Management(Process):
    name = "management"
    reads = (Field("area_km2", "cell", "km²"),)
    # releases add whole rows (every column, genotype and kinship); translocations move
    # animals (cell) and may kill them in transport (cause)
    writes = (
        tuple(Field(n, "cell") for n in MANAGED_LAYERS)
        + (Field("cost", "year", "currency"), Field("released", "year", "individuals"))
        + tuple(Field(n, "individual") for n in (*COLUMNS, "genotype", "kinship"))
    )

    def __init__(self, scenario: Scenario, names: list[str], baseline: dict[str, np.ndarray], releaser):
        self.ivs = list(scenario.interventions.values())
        self.index = {n: i for i, n in enumerate(names)}
        self.baseline = baseline
        self.releaser = releaser

    def step(self, state: State, rng) -> None:
        streams = as_streams(rng, state.n_reps)
        L = state.layers
        for name in MANAGED_LAYERS:
            L[name][:] = self.baseline[name]
        year = state.year
        R = state.n_reps
        cost = np.zeros(R)  # per replicate
        vaccinate = []
        for iv in self.ivs:
            if not active(iv, year):
                continue
            if year == iv.start:
                cost += getattr(iv, "fixed_cost", 0.0)
            c = self.index[iv.population]
            cells = state.cells_of(c)  # the population in every replicate of the batch
            t = iv.type
            if t == "anti_poaching":
                # the baseline patrols are already paid for: only added effort costs money
                L["patrol_effort"][cells] = iv.effort
                cost += iv.unit_cost * np.maximum(0.0, iv.effort - self.baseline["patrol_effort"][cells]) * L["area_km2"][cells]
            elif t == "prey_recovery":
                L["hunting_ban"][cells] = np.maximum(L["hunting_ban"][cells], iv.hunting_ban)
                L["prey_capacity"][cells] *= iv.capacity_factor
                L["feeding"][cells] += iv.feeding
                cost += iv.unit_cost * L["area_km2"][cells]
            elif t == "conflict_mitigation":
                L["conflict_mitigation"][cells] = 1.0 - (1.0 - L["conflict_mitigation"][cells]) * (1.0 - iv.reduction)
                cost += iv.unit_cost
            elif t == "vaccination":
                L["vaccination"][cells] = np.maximum(L["vaccination"][cells], iv.coverage)
                vaccinate.append(iv)
            elif t == "crossing":
                L["road_reduction"][cells] = 1.0 - (1.0 - L["road_reduction"][cells]) * (1.0 - iv.road_reduction)
                L["dispersal_mortality_reduction"][cells] = 1.0 - (1.0 - L["dispersal_mortality_reduction"][cells]) * (
                    1.0 - iv.dispersal_mortality_reduction
                )
                cost += iv.unit_cost
            elif t == "habitat_change":
                power = (year - iv.start + 1) if iv.yearly else 1
                L["carrying_capacity"][cells] *= iv.carrying_capacity_factor**power
                L["prey_capacity"][cells] *= iv.prey_capacity_factor**power
                if iv.human_access is not None:
                    L["human_access"][cells] = iv.human_access
                cost += iv.unit_cost
            elif t == "release" and acts_this_year(iv, year):
                for r in range(R):
                    k = self.releaser.release(state, streams, r, int(cells[r]), iv.females, iv.males, iv.age)
                    state.tally["released"][cells[r]] += k
                    cost[r] += iv.unit_cost * k
            elif t == "translocation" and acts_this_year(iv, year):
                for r in range(R):
                    moved = self._translocate(state, streams, r, iv, int(cells[r]))
                    cost[r] += iv.unit_cost * moved
        # vaccination is paid per animal present after this year's releases and translocations
        if vaccinate:
            pop = state.pop
            n = pop.n
            present = np.bincount(pop.cell[:n][pop.cause[:n] == ALIVE], minlength=state.n_cells)
            for iv in vaccinate:
                cost += iv.unit_cost * iv.coverage * present[state.cells_of(self.index[iv.population])]
        state.tally["cost"] += cost

    def _translocate(self, state: State, streams: Streams, r: int, iv, dest: int) -> int:
        """Move animals of replicate r from the source population to cell ``dest``."""
        pop = state.pop
        n = pop.n
        src = self.index[iv.source] + state.cells_per_rep * r
        base = (pop.cause[:n] == ALIVE) & (pop.cell[:n] == src) & (pop.age[:n] >= iv.min_age) & (pop.age[:n] <= iv.max_age)
        moved = 0
        for sex, k in ((FEMALE, iv.females), (MALE, iv.males)):
            cand = np.flatnonzero(base & (pop.sex[:n] == sex))
            take = streams.permutation(r, cand)[: min(k, cand.size)]
            dies = streams.random(r, (take.size,)) < iv.mortality
            pop.cause[take[dies]] = CAUSE_INDEX["dispersal"]  # died while being moved
            pop.cell[take[~dies]] = dest
            moved += take.size
        return moved


class CaptiveSource:
    """Captive-bred animals with their own founders (MODEL.md §4.10: 217 animals from 14
    founders, 91 % gene diversity retained). Released animals get genotypes drawn from the
    captive allele pool, kinship 0 to wild animals and the captive mean kinship (1 − GD) to
    each other, and F equal to that mean kinship. Each replicate has its own captive pool."""

    def __init__(self, pools: list[AllelePool]):
        self.pools = pools
        self.mk = pools[0].mean_kinship

    def release(self, state: State, streams: Streams, r: int, cell: int, females: int, males: int, age: int) -> int:
        """Release animals of replicate r into (global) cell ``cell``; returns how many."""
        k = females + males
        if k == 0:
            return 0
        pop = state.pop
        geno = self.pools[r].draw(k, lambda shape: streams.random(r, shape), state.is_lethal)
        pop.reserve(k)
        n0 = pop.n
        new = np.arange(n0, n0 + k)
        pop.id[new] = pop.new_ids(k)
        pop.sex[new] = np.r_[np.full(females, FEMALE), np.full(males, MALE)].astype(np.int8)
        pop.age[new] = age
        pop.cause[new] = ALIVE
        pop.mother[new] = -1
        pop.father[new] = -1
        pop.cell[new] = cell
        pop.rep[new] = r
        pop.origin[new] = ORIGIN_RELEASED
        pop.protected[new] = False
        pop.F[new] = self.mk
        pop.geno[new] = geno
        pop.captive_share[new] = 1.0
        if not pop.dense:  # released animals descend from the replicate's captive metafounder
            pop.add_founder_rows(new, self.mk, pop.captive_group(r, self.mk))
            pop.n = n0 + k
            return k
        # kinship to earlier animals follows the same linear recursion as the captive share
        sn = pop.assign_slots(new)
        held = np.flatnonzero((pop.slot[:n0] >= 0) & (pop.rep[:n0] == r))  # not the dead that gave up their slot
        so = pop.slot[held]
        kin = pop.kin3[r]
        kin[np.ix_(sn, so)] = self.mk * pop.captive_share[held]
        kin[np.ix_(so, sn)] = kin[np.ix_(sn, so)].T
        kin[np.ix_(sn, sn)] = self.mk
        kin[sn, sn] = 0.5 * (1.0 + self.mk)
        pop.n = n0 + k
        pop.appended(n0)
        return k
