"""The spatial model, first end-to-end form: a scenario's population on a landscape.

This wires the processes that work on the map into one yearly schedule, on the batched engine
(:class:`pardus.engine.Batch`), for a scenario whose populations are regions of the landscape
(``russia`` and ``china`` → the ``country`` region of the default landscape; a population the
landscape has no region for starts empty and stays so):

1. fire (suppressed in the park core), 2. succession, 4. prey per cell (leopards eat over their
ranges), 5. environment and the mortality of independent animals (natural with EV, starvation,
poaching, conflict at deer farms, roads — a resident meets each hazard as the use-weighted mean
of its layers over its home range, any other animal at its cell), 6. reproduction on the map (mates from overlapping
ranges) and first-year mortality, 8. ageing (the young become transients at independence),
territories (the ranges of the dead become free, residents whose range no longer feeds them
leave it, transients walk over the resistance surface and settle in vacant ranges; road deaths
on the way), resolve, 9. census by population region.

**Not yet here** (the issue's later items): interventions on the map (patrol zones,
firebreaks, crossings, releases at a site), disease (the non-spatial catastrophe per population
does not carry over to cells), the scenario-file form (``[landscape]`` in a scenario, ``pardus
run``), maps in the results file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .engine import Batch, Prepared, check_layers, prepare, process_seed
from .landscape import Landscape, RegionLayer
from .landscape.default import default_landscape
from .landscape.layers import LAYERS
from .population.table import ALIVE, DEPENDENT, RESIDENT, TRANSIENT
from .processes.base import CAUSE_INDEX, Field, Process, State
from .processes.ceiling import Ageing, Resolve
from .processes.census import Census
from .processes.conflict import Conflict
from .processes.disease import Disease
from .processes.environment import Environment
from .processes.fire import Fire, FireParams
from .processes.map_dispersal import MapDispersal, MapDispersalParams
from .processes.mortality import Mortality
from .processes.poaching import Poaching
from .processes.prey_cells import CellPrey, CellPreyParams
from .processes.reproduction import Reproduction, _NO_PEDIGREE, mate_on_map
from .processes.road import Road
from .processes.succession import Succession, SuccessionParams
from .processes.survival import InbreedingDepression, NaturalMortality, Starvation
from .processes.territories import Territories, TerritoryParams
from .rng import Streams
from .scenario.schema import Scenario

ROAD_EXPOSURE_WEIGHT = {"highway": 1.0, "railway": 0.5, "road": 0.5, "track": 0.0}  # assumption


@dataclass(frozen=True)
class SpatialParams:
    territories: TerritoryParams = field(default_factory=TerritoryParams)
    dispersal: MapDispersalParams = field(default_factory=MapDispersalParams)
    fire: FireParams | None = field(default_factory=FireParams)
    succession: SuccessionParams | None = field(default_factory=SuccessionParams)
    prey: CellPreyParams = field(default_factory=CellPreyParams)
    start_radius_km: float = 25.0  # founders start within this distance of the park core (assumption)
    exposure_decay_km: float = 3.0  # deer-farm and road exposure decay with distance (assumption)


def exposure_layers(land: Landscape, decay_km: float) -> dict[str, np.ndarray]:
    """``deer_farm_exposure`` and ``road_exposure`` per cell: exp(−distance / decay) from deer
    farms and from roads (weighted by class), as the non-spatial hazards read them."""
    g = land.grid
    km = (g.cell_size or 1000.0) / 1000.0
    out = {}
    farms = land.layers["deer_farm"].reshape(g.shape).astype(bool)
    out["deer_farm_exposure"] = (np.exp(-ndimage.distance_transform_edt(~farms) * km / decay_km) if farms.any() else np.zeros(g.shape)).ravel()
    road = land.layers["road"].reshape(g.shape)
    exp_ = np.zeros(g.shape)
    for name, w in ROAD_EXPOSURE_WEIGHT.items():
        m = road == LAYERS["road"].code(name)
        if w > 0 and m.any():
            exp_ = np.maximum(exp_, w * np.exp(-ndimage.distance_transform_edt(~m) * km / decay_km))
    out["road_exposure"] = exp_.ravel()
    return out


class MapReproduction(Reproduction):
    """Reproduction with mates from overlapping ranges (:func:`mate_on_map`)."""

    def __init__(self, params, disease, territories: Territories):
        super().__init__(params, disease)
        self.territories = territories

    def choose(self, state, streams, p_cell, kin, slot, ped):
        pop = state.pop
        n = pop.n
        t = self.territories
        p_row = p_cell[pop.cell[:n]]
        mothers, fathers, cub_sex, breeders = mate_on_map(
            streams.s, n, pop.id, pop.cause, pop.age, pop.sex, pop.mother, pop.rep, pop.F, kin, slot, pop.range_id, pop.status,
            self.fba, self.last, self.dep, self.mba, self.pool, p_row, self.b_fert, self.avoid, self.litter_cum, self.sex_ratio, ped,
            t.table.start, t.table.cells, t.owner[1],
        )  # fmt: skip
        np.add.at(state.tally["breeding_females"], pop.cell[breeders], 1)
        return mothers, fathers, cub_sex


class TerritoryUpkeep(Process):
    """Ranges of the dead become free; residents whose range no longer holds the prey they need
    leave it; transients disperse and settle (road deaths on the way)."""

    name = "territories"
    reads = (Field("cover", "cell"), Field("prey", "cell"), Field("road", "cell"), Field("crossing", "cell"), Field("human_access", "cell"), Field("area_km2", "cell"))
    writes = (Field("range_id", "individual"), Field("status", "individual"), Field("cell", "individual"), Field("cause", "individual"))

    def __init__(self, territories: Territories, dispersal: MapDispersal):
        self.t = territories
        self.d = dispersal

    def step(self, state: State, rng) -> None:
        pop, t = state.pop, self.t
        n = pop.n
        dead = (pop.cause[:n] != ALIVE) & (pop.range_id[:n] >= 0)
        t.release(pop.range_id[:n][dead])
        pop.range_id[:n][dead] = -1
        stock = state.layers["prey"] * state.layers["area_km2"]
        held = np.flatnonzero((pop.cause[:n] == ALIVE) & (pop.range_id[:n] >= 0))
        if held.size:
            need = np.where(pop.sex[held] == 0, t.p.required_stock(0), t.p.required_stock(1))
            short = held[t.stocks(pop.range_id[held], stock) < need]
            t.release(pop.range_id[short])
            pop.range_id[short] = -1
            pop.status[short] = TRANSIENT
        movers = np.flatnonzero((pop.cause[:n] == ALIVE) & (pop.status[:n] == TRANSIENT))
        if movers.size:
            died, _settled = self.d.move(rng, pop, movers, state.layers, t)
            pop.cause[movers[died]] = CAUSE_INDEX["road"]


class SpatialBatch(Batch):
    """Replicates of a scenario on a landscape (see the module docstring)."""

    def __init__(self, prep: Prepared, seed: int, replicates, land: Landscape, params: SpatialParams):
        super().__init__(prep, seed, replicates)  # founders, genotypes, kinship, captive pools
        sc = prep.scenario
        R, names = self.n_reps, prep.names
        k = len(names)
        C = land.n_cells
        country = land.regions["country"]
        codes = np.array([country.names.index(n) if n in country.names else -1 for n in names])
        # the reporting regions: each population is the region of the same name
        rep_codes = np.full(C, -1, dtype=np.int32)
        for i, c in enumerate(codes):
            if c >= 0:
                rep_codes[country.codes == c] = i
        land = Landscape(land.grid, dict(land.layers), {**land.regions, "population": RegionLayer("population", rep_codes, tuple(names))})
        for name, v in exposure_layers(land, params.exposure_decay_km).items():
            land.layers[name] = v
        for name in ("hunting_ban", "feeding", "conflict_mitigation", "vaccination", "road_reduction", "dispersal_mortality_reduction"):
            land.layers.setdefault(name, np.zeros(C))
        land.layers["outbreak"] = np.zeros(C, dtype=bool)
        self.landscape = land
        self.layers = land.batch_layers(R)
        self._report_codes = land.reporting().batch_codes(R)
        # founders go to acceptable cells of their population's region near the park core
        pop = self.pop
        n = pop.n
        local_pop = pop.cell[:n] - k * pop.rep[:n]
        ok = params.territories.acceptable(land.layers["cover"])
        core = land.layers["zone"] == LAYERS["zone"].code("core")
        x, y = land.grid.centres()
        cx, cy = x[core].mean(), y[core].mean()
        near = np.hypot(x - cx, y - cy) <= params.start_radius_km * 1000.0
        self.territories = Territories(params.territories, land.grid.neighbour_table, C, R)
        starts = [np.flatnonzero(ok & near & (rep_codes == i)) for i in range(k)]
        for r, seq in enumerate(self.seqs):
            rng = np.random.default_rng(process_seed(seq, "spatial-start").generate_state(2))
            rows = np.flatnonzero(pop.rep[:n] == r)
            for i in rows[pop.mother[rows] < 0]:  # founders; dependent young follow their mothers below
                cand = starts[local_pop[i]]
                pop.cell[i] = r * C + (cand[rng.integers(cand.size)] if cand.size else 0)
            by_id = {int(pop.id[j]): j for j in rows}
            for i in rows[pop.mother[rows] >= 0]:
                pop.cell[i] = pop.cell[by_id[int(pop.mother[i])]]
            indep = rows[(pop.status[rows] != DEPENDENT)]
            self.territories.settle(pop, indep, self.layers)
            pop.status[indep[pop.range_id[indep] < 0]] = TRANSIENT
        # the spatial schedule
        disease = Disease.from_scenario(sc)
        hazards = [NaturalMortality.from_scenario(sc), Starvation.from_scenario(sc), Poaching.from_scenario(sc), Conflict.from_scenario(sc), Road.from_scenario(sc)]
        adult_age = sc.demography.adult_age
        sched = []
        if params.fire is not None:
            sched.append(Fire(params.fire, land.grid.neighbour_table, core))
        if params.succession is not None:
            sched.append(Succession(params.succession, land.grid))
        self.layers.setdefault("burned", np.zeros(R * C, dtype=bool))
        self.layers.setdefault("fire_interval", np.zeros(R * C, dtype=np.int32))
        ageing = Ageing.Params(sc.demography.max_age, sc.demography.dependence_years, independent_status=TRANSIENT)
        sched += [
            CellPrey(params.prey, C),
            Environment(Environment.Params.from_scenario(sc, prep.natural)),
            Mortality(hazards, cohort="independent", adult_age=adult_age),
            MapReproduction(Reproduction.Params.from_scenario(sc), disease, self.territories),
            Mortality(hazards + [InbreedingDepression.from_scenario(sc)], cohort="newborn", adult_age=adult_age),
            Ageing(ageing),
            TerritoryUpkeep(self.territories, MapDispersal(params.dispersal, land.grid.neighbour_table, C)),
            Resolve(),
            Census.from_scenario(sc),
        ]
        self.schedule = sched
        check_layers(sched, self.layers)
        self.rngs = {proc.name: Streams.from_seeds([process_seed(seq, proc.name) for seq in self.seqs]) for proc in sched}
        self.ranges = self.territories.table  # what the processes read the home ranges from (state.ranges)


def simulate_spatial(scenario: Scenario | str, land: Landscape | None = None, replicates: int = 8, seed: int = 1, years: int | None = None,
                     params: SpatialParams | None = None) -> dict:  # fmt: skip
    """Run a scenario on a landscape (default: the embedded one) — see the module docstring.
    Returns the records of :meth:`Batch.run` (N by population region etc.) and, per replicate
    and year, adults per 100 km² of each region's land."""
    from .scenario import load_scenario

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if years is not None:
        sc = sc.replace({"run.years": years})
    if sc.interventions:
        raise ValueError("interventions on the map are not implemented yet: run the spatial form without [interventions]")
    land = land or default_landscape()
    params = params or SpatialParams()
    b = SpatialBatch(prepare(sc), seed, range(replicates), land, params)
    rec = b.run()
    reg = b.landscape.reporting()
    land_cells = b.landscape.layers["cover"] != 0
    area = np.array([(land_cells & (reg.codes == i)).sum() * (b.landscape.grid.cell_area_km2 or 1.0) for i in range(reg.n_regions)])
    adults = rec["N"][..., 2].sum(axis=-1)  # (replicates, years, regions)
    with np.errstate(invalid="ignore", divide="ignore"):
        rec["adults_per_100km2"] = 100.0 * adults / np.where(area > 0, area, np.nan)
    rec["region_area_km2"] = area
    rec["names"] = list(b.prep.names)
    return rec
