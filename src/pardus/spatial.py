"""The spatial model, first end-to-end form: a scenario's population on a landscape.

This wires the processes that work on the map into one yearly schedule, on the batched engine
(:class:`pardus.engine.Batch`), for a scenario whose populations are regions of the landscape
(``russia`` and ``china`` → the ``country`` region of the default landscape; a population the
landscape has no region for starts empty and stays so):

0. management (interventions on their areas), 1. fire (suppressed in the park core and where
an intervention says), 2. succession, 4. prey per cell (leopards eat over their
ranges), 5. environment, distemper from village dogs, and the mortality of independent animals (natural with EV, starvation,
poaching, conflict at deer farms, roads — a resident meets each hazard as the use-weighted mean
of its layers over its home range, any other animal at its cell), 6. reproduction on the map (mates from overlapping
ranges) and first-year mortality, 8. ageing (the young become transients at independence),
territories (the ranges of the dead become free, residents whose range no longer feeds them
leave it, transients walk over the resistance surface and settle in vacant ranges; road deaths
on the way), resolve, 9. census by population region.

A scenario with ``[landscape]`` runs on its map through :func:`pardus.engine.run_batch` (so
``pardus run``, ``simulate()`` and the ensemble); the process parameters come from the
scenario's ``[landscape.*]`` tables (:func:`spatial_params`), the interventions act on their
areas (:func:`intervention_targets`, :class:`MapManagement`), distemper spills over from the
village dogs (:class:`pardus.processes.disease.Spillover`), and the records gain the maps
(``burned_years``, ``prey_sum``, ``cover_end``, ``range_years``, ``dispersal_steps`` per cell, summarised over the
replicates by :func:`pardus.results.build_dataset`). The presets ``amur-2015`` and ``amur-history``
run on the embedded default landscape, with the rates calibrated there (``make posterior``).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage

from .engine import Batch, Prepared, check_layers, prepare, process_seed
from .landscape import Landscape, RegionLayer, exposure
from .landscape.default import default_landscape
from .landscape.io import LandscapeError, read_landscape
from .landscape.layers import LAYERS, managed_layers
from .landscape.targets import TargetError, area_mask, central_cell, site_cell
from .population.table import ALIVE, DEPENDENT, RESIDENT, TRANSIENT
from .processes.base import CAUSE_INDEX, Field, Process, State
from .processes.ceiling import Ageing, Resolve
from .processes.census import Census
from .processes.conflict import Conflict
from .processes.disease import Disease, Spillover, SpilloverParams
from .processes.environment import Environment
from .processes.fire import Fire, FireParams
from .processes.management import Management
from .processes.map_dispersal import MapDispersal, MapDispersalParams
from .processes.monitoring import SURVEY_RECORDS, Monitoring, MonitoringParams, camera_layout
from .processes.mortality import Mortality
from .processes.poaching import Poaching
from .processes.prey_cells import CellPrey, CellPreyParams
from .processes.reproduction import Reproduction, _NO_PEDIGREE, mate_on_map
from .processes.road import Road
from .processes.succession import Succession, SuccessionParams
from .processes.survival import InbreedingDepression, NaturalMortality, Starvation
from .processes.territories import Territories, TerritoryParams
from .rng import Streams, as_streams
from .schedule import DiseaseDraw
from .scenario.schema import Scenario

ROAD_EXPOSURE_WEIGHT = {"highway": 1.0, "railway": 0.5, "road": 0.5, "track": 0.0}  # assumption


@dataclass(frozen=True)
class SpatialParams:
    territories: TerritoryParams = field(default_factory=TerritoryParams)
    dispersal: MapDispersalParams = field(default_factory=MapDispersalParams)
    fire: FireParams | None = field(default_factory=FireParams)
    succession: SuccessionParams | None = field(default_factory=SuccessionParams)
    prey: CellPreyParams = field(default_factory=CellPreyParams)
    disease: SpilloverParams | None = field(default_factory=SpilloverParams)
    monitoring: MonitoringParams | None = None  # simulated camera-trap surveys (off unless [landscape.monitoring] is given)
    start_radius_km: float = 25.0  # founders start within this distance of the park core (assumption)
    exposure_decay_km: float = 3.0  # deer-farm and road exposure decay with distance (assumption)


# ---------------------------------------------------------------------------------------------
# the scenario's [landscape] table → the processes' parameters

TABLES = {"fire": FireParams, "succession": SuccessionParams, "prey": CellPreyParams, "territories": TerritoryParams, "dispersal": MapDispersalParams, "disease": SpilloverParams,
          "monitoring": MonitoringParams}
SWITCHABLE = ("fire", "succession", "disease", "monitoring")  # `enabled = false` leaves the process out
OFF_UNLESS_GIVEN = ("monitoring",)  # processes that run only when their table is given
# parameters the scenario's own tables give (one value, one place): not set again in [landscape.*]
DERIVED = {
    "prey": {
        "growth_rate": "prey.growth_rate", "growth_sd": "prey.growth_sd", "offtake": "prey.offtake", "kills_per_leopard": "prey.kills_per_leopard",
        "need": "prey.need", "patrol_max_effect": "threats.poaching.prey_patrol_max_effect", "patrol_half_effort": "threats.poaching.patrol_half_effort",
        "adult_age": "demography.adult_age",
    },
    "territories": {"kills_per_leopard": "prey.kills_per_leopard", "need_female": "prey.need.female.adult", "need_male": "prey.need.male.adult"},
}  # fmt: skip


def _derived(sc: Scenario | None, table: str) -> dict:
    """The values of a table's derived parameters in scenario ``sc`` (None: the defaults)."""
    if sc is None:
        return {}
    p, po = sc.prey, sc.threats.poaching
    if table == "prey":
        need = ((0.0, p.need.female.subadult, p.need.female.adult), (0.0, p.need.male.subadult, p.need.male.adult))
        return dict(growth_rate=p.growth_rate, growth_sd=p.growth_sd, offtake=p.offtake, kills_per_leopard=p.kills_per_leopard, need=need,
                    patrol_max_effect=po.prey_patrol_max_effect, patrol_half_effort=po.patrol_half_effort, adult_age=sc.demography.adult_age)  # fmt: skip
    if table == "territories":
        return dict(kills_per_leopard=p.kills_per_leopard, need_female=p.need.female.adult, need_male=p.need.male.adult)
    return {}


def _convert(value, default, key: str):
    """``value`` as the type of the dataclass default (lists become tuples); TypeError or
    ValueError naming ``key`` when it does not fit."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{key} = {value!r} — must be true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(default, int) and not isinstance(value, int)):
            raise TypeError(f"{key} = {value!r} — must be a {'whole number' if isinstance(default, int) else 'number'}")
        if value < 0:
            raise ValueError(f"{key} = {value!r} — must not be negative")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"{key} = {value!r} — must be text")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{key} = {value!r} — must be a list like its default {list(default)!r}")
        item = default[0] if default else None
        return tuple(v if item is None else _convert(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    return value


def _table(spec, table: str, sc: Scenario | None):
    """The parameter object of one process table (None: switched off) — raises ValueError."""
    cls = TABLES[table]
    given = dict(getattr(spec, table))
    enabled = given.pop("enabled", True if (table not in OFF_UNLESS_GIVEN or given) else False)
    if table in SWITCHABLE and not isinstance(enabled, bool):
        raise ValueError(f"landscape.{table}.enabled = {enabled!r} — must be true or false")
    if table not in SWITCHABLE and "enabled" in getattr(spec, table):
        raise ValueError(f"landscape.{table}.enabled — the {table} process cannot be switched off")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = _derived(sc, table)
    problems = []
    for key, value in given.items():
        where = f"landscape.{table}.{key}"
        if key in DERIVED.get(table, {}):
            problems.append(f"{where} — given by {DERIVED[table][key]} of the scenario; set it there")
        elif key not in fields:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            problems.append(f"{where} — no such parameter" + (f"; did you mean '{hint[0]}'?" if hint else f"; the parameters are: {', '.join(k for k in fields if k not in DERIVED.get(table, {}))}"))
        else:
            try:
                kwargs[key] = _convert(value, getattr(defaults, key), where)
            except (TypeError, ValueError) as exc:
                problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"landscape.{table}: {exc}") from None
    return obj if enabled else None


def params_problems(spec) -> list[str]:
    """What is wrong with the process tables of a [landscape] (empty: nothing)."""
    out = []
    for table in TABLES:
        try:
            _table(spec, table, None)
        except ValueError as exc:
            out.append(str(exc))
    return out


def spatial_params(sc: Scenario) -> SpatialParams:
    """The parameters of the processes on the map, from a scenario with [landscape]."""
    spec = sc.landscape
    if spec is None:
        raise ValueError(f"scenario '{sc.name}' has no [landscape]: it is non-spatial")
    t = {table: _table(spec, table, sc) for table in TABLES}
    return SpatialParams(t["territories"], t["dispersal"], t["fire"], t["succession"], t["prey"], t["disease"], t["monitoring"],
                         spec.start_radius_km, spec.exposure_decay_km)


def _signature(source: str) -> tuple:
    """What a landscape folder holds now (names, sizes, times): the cache key of its files."""
    from pathlib import Path

    folder = Path(source)
    if source == "default" or not folder.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff")))


@lru_cache(maxsize=4)
def _load(source: str, seed: int, neighbours: int, signature: tuple = ()) -> Landscape:
    land = default_landscape(seed) if source == "default" else read_landscape(source, neighbours=neighbours)
    if land.grid.neighbours != neighbours:
        land = Landscape(dataclasses.replace(land.grid, neighbours=neighbours), land.layers, land.regions)
    return land


def load_landscape(spec) -> Landscape:
    """The landscape of a [landscape] table (cached per process; a fresh layer dict each call)."""
    land = _load(spec.source, spec.seed, spec.neighbours, _signature(spec.source))
    return Landscape(land.grid, {k: v.copy() for k, v in land.layers.items()}, dict(land.regions))


# ---------------------------------------------------------------------------------------------
# where the interventions act


def region_of(sc: Scenario, population: str) -> str:
    """The region of the landscape's country layer a population lives in: its ``region``, or
    its name ("" for a population off the map)."""
    p = sc.populations.get(population)
    return population if p is None or p.region is None else p.region


def intervention_targets(land: Landscape, sc: Scenario, acceptable: np.ndarray) -> dict[str, dict]:
    """Per intervention: ``cells`` (its local cells: its area within its population's region),
    ``site`` (a release's or translocation's local cell) and ``source_cells`` (a translocation's
    source region, bool per cell). An intervention in a population off the map (no region)
    has no cells and does nothing. Raises TargetError naming the key and the fix."""
    country = land.regions["country"]
    out = {}
    for name, iv in sc.interventions.items():
        base = f"interventions.{name}"
        where = region_of(sc, iv.population)
        if where not in country.names:
            out[name] = {"cells": np.zeros(0, dtype=np.int64), "site": None, "source_cells": None}
            continue
        region = country.codes == country.names.index(where)
        mask = region if iv.area is None else area_mask(land, iv.area, iv.width, f"{base}.area") & region
        if not mask.any():
            raise TargetError(f"{base}.area = \"{iv.area}\" — has no cell in the region of {iv.population}; give an area inside it")
        entry = {"cells": np.flatnonzero(mask), "site": None, "source_cells": None}
        if iv.type in ("release", "translocation"):
            entry["site"] = site_cell(land, iv.site, f"{base}.site") if iv.site is not None else central_cell(land, mask, acceptable, f"{base}.area" if iv.area else f"{base} (the region of {iv.population})")
        if iv.type == "translocation":
            src = region_of(sc, iv.source)
            if src not in country.names:
                raise TargetError(f"{base}.source = \"{iv.source}\" — a population off the map (its region \"{src}\" is not in the landscape's country layer: {', '.join(country.names)}); translocate from a population on the map")
            entry["source_cells"] = country.codes == country.names.index(src)
        out[name] = entry
    return out


def spatial_problems(sc: Scenario) -> list[str]:
    """What keeps a spatial scenario from running on its landscape (empty: nothing): the
    landscape cannot be read, a population with animals has no region, an intervention's area
    or site does not fit the map."""
    spec = sc.landscape
    if spec is None:
        return []
    try:
        land = load_landscape(spec)
    except (LandscapeError, OSError, ValueError) as exc:
        return [f"landscape.source = \"{spec.source}\" — {exc}"]
    if "country" not in land.regions:
        return [f"landscape.source = \"{spec.source}\" — the landscape has no 'country' region layer (region_country.tif), which places the populations"]
    missing = [name for name in INPUT_LAYERS if name not in land.layers]
    if missing:
        return [f"landscape.source = \"{spec.source}\" — the landscape lacks the layer(s) {', '.join(missing)}, which the spatial model reads; "
                f"add {', '.join(m + '.tif' for m in missing)} to the folder (`pardus landscape export default` writes every layer as a template)"]  # fmt: skip
    out = []
    names = land.regions["country"].names
    taken: dict[str, str] = {}
    for name, p in sc.populations.items():
        where = region_of(sc, name)
        if where not in names:
            if p.initial_size > 0:
                out.append(
                    f"populations.{name} — {p.initial_size} animals, but the landscape's country layer has no region '{where}' (its regions: {', '.join(names)}); "
                    "set populations." + name + ".region to one of them, or initial_size = 0 (off the map)"
                )
        elif where in taken:
            out.append(f"populations.{name} — lives in region '{where}', as populations.{taken[where]} does; a region holds one population (give region = \"\" to leave one off the map)")
        else:
            taken[where] = name
    params = spatial_params(sc)
    try:
        intervention_targets(land, sc, params.territories.acceptable(land.layers["cover"]))
    except TargetError as exc:
        out.append(str(exc))
    if params.monitoring is not None:
        try:
            camera_layout(params.monitoring, land)
        except ValueError as exc:
            out.append(str(exc))
    return out


def exposure_layers(land: Landscape, decay_km: float, dog_decay_km: float | None = None) -> dict[str, np.ndarray]:
    """``deer_farm_exposure`` and ``road_exposure`` per cell: exp(−distance / decay) from deer
    farms and from roads (weighted by class), as the non-spatial hazards read them; and
    ``dog_exposure`` from settlements with ``dog_decay_km`` (None: no dogs, 0 everywhere)."""
    g = land.grid
    km = (g.cell_size or 1000.0) / 1000.0
    out = {}
    villages = land.layers["cover"].reshape(g.shape) == LAYERS["cover"].code("settlement")
    if dog_decay_km is None or not villages.any():
        out["dog_exposure"] = np.zeros(g.n_cells)
    else:
        out["dog_exposure"] = np.exp(-ndimage.distance_transform_edt(~villages) * km / dog_decay_km).ravel()
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

    # an infected female's cell breeds less (Spillover.breeding_factor); ranges for the prey
    reads = Reproduction.reads + (Field("infection", "cell"), Field("range_id", "individual"), Field("status", "individual"))

    def __init__(self, params, disease, territories: Territories):
        super().__init__(params, disease)
        self.territories = territories

    def choose(self, state, streams, p_cell, kin, slot, ped):
        pop = state.pop
        n = pop.n
        t = self.territories
        # a female breeds as the prey of her whole home range allows, not of the cell she is in
        L = state.layers
        rows = np.arange(n)
        prey = exposure(L["prey"], pop.cell, pop.home_range_of(rows), rows, state.ranges)
        cell = pop.cell[:n]
        p_row = self.base_probability(state)[cell] * self.prey_factor(prey) * self.disease.breeding_factor(L)[cell]
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

    def __init__(self, territories: Territories, dispersal: MapDispersal):  # noqa: D107
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
            died, settled = self.d.move(rng, pop, movers, state.layers, t)
            pop.cause[movers[died]] = CAUSE_INDEX["road"]
            # one that searched all year and found no range runs a higher risk (MODEL.md §4.7):
            # one uniform per mover, always, after the walks
            u = as_streams(rng, state.n_reps).by_item(pop.rep[movers])[:, 0]
            lost = ~died & ~settled & (u < self.d.p.transient_mortality)
            pop.cause[movers[lost]] = CAUSE_INDEX["dispersal"]


class MapDiseaseDraw(DiseaseDraw):
    """This year's distemper spill-over from the village dogs, before mortality."""

    reads = Spillover.reads
    writes = DiseaseDraw.writes + (Field("infection", "cell"), Field("infected", "year"))


class MapManagement(Management):
    """Interventions on the map: every managed layer of the spatial model is reset to the
    landscape's own values each year, then each intervention acts on its area; a habitat change
    may turn the cover over, a translocation moves animals out of their ranges."""

    reads = Management.reads + (Field("road", "cell"),)  # crossings go on the road cells of their area
    writes = Management.writes + tuple(Field(n, "cell") for n in managed_layers(spatial=True) if n not in managed_layers()) + (
        Field("cover", "cell"), Field("cover_age", "cell"), Field("range_id", "individual"), Field("status", "individual"),
    )  # fmt: skip


# the layers a landscape must bring; the others start from the landscape's cover (prey
# capacity factor 1, no firebreaks, no crossings, no patrols, years since fire 0)
INPUT_LAYERS = ("cover", "road", "deer_farm", "human_access", "prey", "area_km2")
FOREST = tuple(LAYERS["cover"].code(c) for c in ("mixed_forest", "oak_forest"))
MAP_RECORDS = ("burned_years", "prey_sum", "cover_end", "range_years", "dispersal_steps")  # per (replicate, cell); with occupied_years


class SpatialBatch(Batch):
    """Replicates of a scenario on a landscape (see the module docstring). ``land`` and
    ``params`` default to the scenario's [landscape]."""

    def __init__(self, prep: Prepared, seed: int, replicates, land: Landscape | None = None, params: SpatialParams | None = None):
        super().__init__(prep, seed, replicates)  # founders, genotypes, kinship, captive pools
        sc = prep.scenario
        if land is None or params is None:
            if sc.landscape is None:
                raise ValueError(f"scenario '{sc.name}' has no [landscape]: give a landscape and SpatialParams")
            land = land or load_landscape(sc.landscape)
            params = params or spatial_params(sc)
        R, names = self.n_reps, prep.names
        k = len(names)
        C = land.n_cells
        country = land.regions["country"]
        codes = np.array([country.names.index(region_of(sc, n)) if region_of(sc, n) in country.names else -1 for n in names])
        # the reporting regions: each population is the region of the same name
        rep_codes = np.full(C, -1, dtype=np.int32)
        for i, c in enumerate(codes):
            if c >= 0:
                rep_codes[country.codes == c] = i
        land = Landscape(land.grid, dict(land.layers), {**land.regions, "population": RegionLayer("population", rep_codes, tuple(names))})
        for name, v in exposure_layers(land, params.exposure_decay_km, params.disease.decay_km if params.disease else None).items():
            land.layers[name] = v
        for name in ("hunting_ban", "feeding", "conflict_mitigation", "vaccination", "road_reduction", "dispersal_mortality_reduction"):
            land.layers.setdefault(name, np.zeros(C))
        land.layers["outbreak"] = np.zeros(C, dtype=bool)
        land.layers["infection"] = np.zeros(C, dtype=bool)
        land.layers.setdefault("dog_vaccination", np.zeros(C))
        # layers a landscape of one's own may leave out (see INPUT_LAYERS for those it must bring)
        land.layers.setdefault("prey_capacity_factor", np.ones(C))
        land.layers.setdefault("prey_capacity", np.asarray(params.prey.capacity_by_cover)[land.layers["cover"].astype(np.int64)])
        for name in ("firebreak", "patrol_effort"):
            land.layers.setdefault(name, np.zeros(C))
        land.layers.setdefault("crossing", np.zeros(C, dtype=bool))
        land.layers.setdefault("no_conversion", np.zeros(C, dtype=bool))
        for name in ("years_since_fire", "cover_age"):
            land.layers.setdefault(name, np.zeros(C, dtype=np.int32))
        core = land.layers["zone"] == LAYERS["zone"].code("core") if "zone" in land.layers else np.zeros(C, dtype=bool)
        land.layers.setdefault("suppression", core.copy())  # fires are fought in the park core
        self.landscape = land
        self.layers = land.batch_layers(R)
        self._report_codes = land.reporting().batch_codes(R)
        self._cover0 = land.layers["cover"].copy()
        # founders go to acceptable cells of their population's region near the park core
        pop = self.pop
        n = pop.n
        local_pop = pop.cell[:n] - k * pop.rep[:n]
        ok = params.territories.acceptable(land.layers["cover"])
        x, y = land.grid.centres()
        if core.any():
            cx, cy = x[core].mean(), y[core].mean()
            near = np.hypot(x - cx, y - cy) <= params.start_radius_km * 1000.0
        else:
            near = np.ones(C, dtype=bool)
        self.territories = Territories(params.territories, land.grid.neighbour_table, C, R)
        starts = [np.flatnonzero(ok & near & (rep_codes == i)) for i in range(k)]
        for r, seq in enumerate(self.seqs):
            rng = np.random.default_rng(process_seed(seq, "spatial-start").generate_state(2))
            rows = np.flatnonzero(pop.rep[:n] == r)
            for i in rows[pop.mother[rows] < 0]:  # founders; dependent young follow their mothers below
                cand = starts[local_pop[i]]
                if cand.size == 0:
                    raise ValueError(f"population '{names[local_pop[i]]}': no cell of acceptable cover in its region within landscape.start_radius_km = {params.start_radius_km:g} of the park core — raise it")
                pop.cell[i] = r * C + cand[rng.integers(cand.size)]
            by_id = {int(pop.id[j]): j for j in rows}
            for i in rows[pop.mother[rows] >= 0]:
                pop.cell[i] = pop.cell[by_id[int(pop.mother[i])]]
            indep = rows[(pop.status[rows] != DEPENDENT)]
            self.territories.settle(pop, indep, self.layers)
            pop.status[indep[pop.range_id[indep] < 0]] = TRANSIENT
        # the interventions on the map: their cells, reset to the landscape's own each year
        self.captive.status = TRANSIENT  # released animals look for a range of their own
        baseline = {name: self.layers[name].copy() for name in managed_layers(spatial=True) if name in self.layers}
        self.baseline = baseline
        targets = intervention_targets(land, sc, ok)
        km = (land.grid.cell_size or 1000.0) / 1000.0
        spatial = {
            "targets": {name: t["cells"] for name, t in targets.items()},
            "sites": {name: t["site"] for name, t in targets.items() if t["site"] is not None},
            "source_cells": {name: t["source_cells"] for name, t in targets.items() if t["source_cells"] is not None},
            "territories": self.territories,
            "cell_km": km,
            "population_access": {name: p.human_access for name, p in sc.populations.items()},
        }
        management = MapManagement(Management.Params.from_scenario(sc), names, baseline, self.captive, spatial)
        # the spatial schedule
        hazards = [NaturalMortality.from_scenario(sc), Starvation.from_scenario(sc), Poaching.from_scenario(sc), Conflict.from_scenario(sc), Road.from_scenario(sc)]
        if params.disease is not None:
            disease = Spillover(Disease.Params.from_scenario(sc), params.disease)
            hazards.append(disease)
        else:  # no distemper on the map: outbreaks never happen
            disease = Disease(dataclasses.replace(Disease.Params.from_scenario(sc), probability=0.0))
        adult_age = sc.demography.adult_age
        sched: list[Process] = [management]
        if params.fire is not None:
            sched.append(Fire(params.fire, land.grid.neighbour_table))
        if params.succession is not None:
            sched.append(Succession(params.succession, land.grid))
        self.layers.setdefault("burned", np.zeros(R * C, dtype=bool))
        self.layers.setdefault("fire_interval", np.zeros(R * C, dtype=np.int32))
        ageing = Ageing.Params(sc.demography.max_age, sc.demography.dependence_years, independent_status=TRANSIENT)
        self.map_dispersal = MapDispersal(params.dispersal, land.grid.neighbour_table, C)
        sched += [
            CellPrey(params.prey, C, land.grid.neighbour_table),
            Environment(Environment.Params.from_scenario(sc, prep.natural)),
            *([MapDiseaseDraw(disease)] if params.disease is not None else []),
            Mortality(hazards, cohort="independent", adult_age=adult_age),
            MapReproduction(Reproduction.Params.from_scenario(sc), disease, self.territories),
            Mortality(hazards + [InbreedingDepression.from_scenario(sc)], cohort="newborn", adult_age=adult_age),
            Ageing(ageing),
            TerritoryUpkeep(self.territories, self.map_dispersal),
            Resolve(),
            Census.from_scenario(sc),
        ]
        self.monitoring = None
        if params.monitoring is not None:  # camera-trap surveys of the population after the census
            self.monitoring = Monitoring(params.monitoring, land, self.replicates, sc.run.start_year)
            sched.append(self.monitoring)
        self.schedule = sched
        check_layers(sched, self.layers)
        self.rngs = {proc.name: Streams.from_seeds([process_seed(seq, proc.name) for seq in self.seqs]) for proc in sched}
        for proc in sched:
            if proc.substreams:
                proc.bind_streams({name: Streams.from_seeds([process_seed(seq, name) for seq in self.seqs]) for name in proc.substreams})
        self.ranges = self.territories.table  # what the processes read the home ranges from (state.ranges)

    def _record(self, rec: dict, t: int, m: dict, state: State, initial: bool = False) -> None:
        super()._record(rec, t, m, state, initial)
        R, C = self.n_reps, self.landscape.n_cells
        L = state.layers
        cover = L["cover"].reshape(R, C)
        forest = np.isin(L["cover"], FOREST)
        area = L["area_km2"]
        if initial:
            T = rec["N"].shape[1] - 1
            rec["burned_years"] = np.zeros((R, C), np.int16)
            rec["prey_sum"] = np.zeros((R, C), np.float32)
            rec["cover_end"] = np.zeros((R, C), np.int8)
            rec["range_years"] = np.zeros((R, C), np.int16)
            rec["dispersal_steps"] = np.zeros((R, C), np.int32)
            k = self.landscape.reporting().n_regions
            rec["burned_km2"] = np.zeros((R, T + 1, k))
            rec["forest_km2"] = np.zeros((R, T + 1, k))
            rec["residents"] = np.zeros((R, T + 1, k), np.int32)
            rec["infected"] = np.zeros((R, T + 1, k), np.int32)
        else:
            burned = L["burned"]
            rec["burned_years"] += burned.reshape(R, C)
            rec["prey_sum"] += L["prey"].reshape(R, C).astype(np.float32)
            owner = self.territories.owner
            rec["range_years"] += ((owner[0] >= 0) | (owner[1] >= 0)).reshape(R, C)
            if self.map_dispersal.visits is not None:  # the dispersers' steps into each cell so far
                rec["dispersal_steps"][:] = self.map_dispersal.visits.reshape(R, C)
            rec["burned_km2"][:, t] = self._by_region(burned * area)
            if "infected" in state.tally:
                rec["infected"][:, t] = self._by_region(state.tally["infected"])
        rec["cover_end"][:] = cover
        rec["forest_km2"][:, t] = self._by_region(forest * area)
        pop = state.pop
        n = pop.n
        res = (pop.cause[:n] == ALIVE) & (pop.status[:n] == RESIDENT)
        rec["residents"][:, t] = self._by_region(np.bincount(pop.cell[:n][res], minlength=R * C))
        if self.monitoring is not None:
            if initial:
                for name in SURVEY_RECORDS:
                    rec[name] = np.full((R, rec["N"].shape[1]), np.nan)
            else:
                for name, v in state.fields["survey"].items():
                    rec[name][:, t] = v


def simulate_spatial(scenario: Scenario | str, land: Landscape | None = None, replicates: int = 8, seed: int = 1, years: int | None = None,
                     params: SpatialParams | None = None) -> dict:  # fmt: skip
    """Run a scenario on a landscape (default: the embedded one) — see the module docstring.
    Returns the records of :meth:`Batch.run` (N by population region etc.) and, per replicate
    and year, adults per 100 km² of each region's land."""
    from .scenario import load_scenario

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if years is not None:
        sc = sc.replace({"run.years": years})
    if sc.landscape is None:  # the processes' defaults, with the values [prey] and [threats] give
        sc = sc.replace({"landscape": {}})
    params = params or spatial_params(sc)
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


def frames(scenario: Scenario, seed: int, replicate: int = 0, at: list[int] | None = None) -> dict:
    """One replicate's landscape year by year — what the report's small multiples draw: for
    each simulated year t in ``at`` (default: four evenly spaced) the cover, the cells that
    burned that year, the prey and the home ranges (−1 none, else 0 female, 1 male, 2 both) at
    the year's end, and the number of animals. The replicate is the one of that number in a run
    with that seed (a replicate's result depends only on its number, scenario and seed)."""
    T = scenario.run.years
    at = sorted({int(t) for t in (at if at is not None else np.linspace(1, T, 4).round())})
    b = SpatialBatch(prepare(scenario), seed, [replicate])
    shape = b.landscape.grid.shape
    out: dict = {"t": [], "year": [], "cover": [], "burned": [], "prey": [], "ranges": [], "animals": []}

    def grab(t: int, state: State) -> None:
        if t not in at:
            return
        L = state.layers
        owner = b.territories.owner
        f, m = owner[0] >= 0, owner[1] >= 0
        ranges = np.where(f & m, 2, np.where(m, 1, np.where(f, 0, -1)))
        out["t"].append(t)
        out["year"].append(state.year)
        out["cover"].append(L["cover"].reshape(shape).copy())
        out["burned"].append(L["burned"].reshape(shape).copy())
        out["prey"].append(L["prey"].reshape(shape).copy())
        out["ranges"].append(ranges.reshape(shape))
        out["animals"].append(int((state.pop.cause[: state.pop.n] == ALIVE).sum()))

    b.run(on_year=grab)
    return out


def spatial_warnings(sc: Scenario) -> list[str]:
    """What a spatial scenario does that is allowed but probably not meant: interventions in a
    population off the map (they do nothing), and populations off the map."""
    if sc.landscape is None:
        return []
    try:
        names = load_landscape(sc.landscape).regions["country"].names
    except (LandscapeError, OSError, ValueError, KeyError):
        return []
    off = [n for n in sc.populations if region_of(sc, n) not in names]
    # said for a population that is off the map by its name only (region = "" says it is meant)
    out = [
        f"populations.{n} — off the map (no region '{region_of(sc, n)}' in the landscape's country layer): it stays empty; give region = \"\" if that is meant"
        for n in off if sc.populations[n].region is None
    ]  # fmt: skip
    # an intervention on the place of a population put off the map explicitly (region = "") is
    # expected to do nothing, as when a preset keeps the schedule of its non-spatial form; one
    # that brings animals there is always said (they would not be simulated)
    meant = {n for n in off if sc.populations[n].region == ""}
    for k, iv in sc.interventions.items():
        if iv.population not in off:
            continue
        if iv.type in ("release", "translocation"):
            out.append(f"interventions.{k} — into {iv.population}, which is off the map: the animals are not simulated; give populations.{iv.population} a region on the map")
        elif iv.population not in meant:
            out.append(f"interventions.{k} — in {iv.population}, which is off the map: it does nothing; give the population a region on the map, or region = \"\" if that is meant")
    return out
