"""Contract over the registry of processes: every process declares what it reads and writes,
and a yearly step changes nothing it did not declare.

Each process of a real schedule (the amur-2015-nonspatial preset with every intervention type active) is
stepped on its own over several years; before and after each step the whole state is
snapshotted — individual columns, genotypes, kinship, cell layers, year tallies and year-level
values — and every difference must be covered by a declared write.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from pardus.engine import Replicate, new_tally, prepare
from pardus.population.table import COLUMNS
from pardus.processes.base import Field, Hazard, Process, State
from pardus.scenario import resolve_scenario, scenario_from_dict

WHERE = {"cell", "individual", "year"}
# individual-level storage beside the columns, with the field name that covers it
EXTRA_INDIVIDUAL = {"geno": "genotype", "kin": "kinship"}


def _scenario():
    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw["run"]["years"] = 6
    raw["threats"]["disease"]["probability"] = 0.5  # outbreaks happen in a short run
    # the non-spatial ceiling acts (China above its K at once) and Vortex density dependence is on
    raw["populations"]["china"]["carrying_capacity"] = 12
    raw["demography"]["density_dependence"] = {"enabled": True, "p_breed_at_k": 0.3, "steepness_b": 2.0}
    raw["interventions"] = {
        "patrols": {"type": "anti_poaching", "population": "russia", "start": 2016, "effort": 2.0, "unit_cost": 1.0},
        "prey": {"type": "prey_recovery", "population": "china", "start": 2016, "hunting_ban": 0.5, "capacity_factor": 1.2, "feeding": 0.1},
        "farms": {"type": "conflict_mitigation", "population": "russia", "start": 2016, "reduction": 0.5},
        "cdv": {"type": "vaccination", "population": "russia", "start": 2016, "coverage": 0.5, "unit_cost": 1.0},
        "tunnel": {"type": "crossing", "population": "russia", "start": 2016, "road_reduction": 0.8, "dispersal_mortality_reduction": 0.5},
        "release": {"type": "release", "population": "lazovsky", "start": 2016, "every": 1, "females": 2, "males": 2, "unit_cost": 1.0},
        "move": {"type": "translocation", "source": "russia", "population": "lazovsky", "start": 2017, "females": 1, "males": 1, "mortality": 0.3},
        "loss": {"type": "habitat_change", "population": "china", "start": 2016, "carrying_capacity_factor": 0.9, "prey_capacity_factor": 0.95, "human_access": 0.6, "yearly": True},
    }
    return scenario_from_dict(raw)


@pytest.fixture(scope="module")
def replicate():
    return Replicate(prepare(_scenario()), seed=11, replicate=0)


def test_every_process_declares_name_and_fields(replicate):
    names = [p.name for p in replicate.schedule]
    assert len(names) == len(set(names)), f"process names must be unique (they key the random streams): {names}"
    for proc in replicate.schedule:
        assert isinstance(proc, Process)
        assert isinstance(proc.name, str) and proc.name
        assert proc.writes, f"{proc.name} declares no writes"
        for f in (*proc.reads, *proc.writes):
            assert isinstance(f, Field), f"{proc.name}: {f!r} is not a Field"
            assert f.where in WHERE, f"{proc.name}: {f.name} has where={f.where!r}"
            if f.where == "individual":
                assert f.name in COLUMNS or f.name in EXTRA_INDIVIDUAL.values(), f"{proc.name}: unknown column {f.name}"


def test_every_hazard_declares_a_known_cause(replicate):
    from pardus.scenario.schema import CAUSES

    hazards = {h for p in replicate.schedule for h in getattr(p, "hazards", [])}
    assert hazards, "the schedule has no mortality process"
    for h in hazards:
        assert isinstance(h, Hazard)
        assert h.cause in CAUSES
        assert h.modifier in ("none", "unprotected", "inbreeding")
        assert h.reads, f"hazard {h.cause} declares no reads"


def _snapshot(state: State) -> dict:
    pop = state.pop
    n = pop.n
    snap = {("individual", name): getattr(pop, name)[:n].copy() for name in COLUMNS}
    snap[("individual", "genotype")] = pop.geno[:n].copy()
    snap[("individual", "kinship")] = pop.kinship(np.arange(n))
    for k, v in state.layers.items():
        snap[("cell", k)] = np.array(v, copy=True)
    for k, v in state.tally.items():
        snap[("year", k)] = np.array(v, copy=True)
    for k, v in state.fields.items():
        if k != "hazard_tables":  # a cache shared by the two mortality steps
            snap[("year", k)] = copy.deepcopy(v)
    return snap


def _changed(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return repr(a) != repr(b)
    a, b = np.asarray(a), np.asarray(b)
    return a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_no_process_writes_anything_it_did_not_declare(replicate):
    sc = replicate.prep.scenario
    state = State(year=sc.run.start_year, t=0, pop=replicate.pop, layers=replicate.layers, tally={}, is_lethal=replicate._lethal)
    seen_writes: dict[str, set] = {p.name: set() for p in replicate.schedule}
    for t in range(1, sc.run.years + 1):
        state.year, state.t = sc.run.start_year + t, t
        state.tally = new_tally(state.n_cells)
        for proc in replicate.schedule:
            state.is_lethal = replicate._lethal
            before = _snapshot(state)
            proc.step(state, replicate.rngs[proc.name])
            after = _snapshot(state)
            declared = {(f.where, f.name) for f in proc.writes}
            for key in set(before) | set(after):
                if key not in before or key not in after or _changed(before[key], after[key]):
                    seen_writes[proc.name].add(key)
                    assert key in declared, f"{proc.name} changed {key[0]} '{key[1]}' without declaring it"
    # the test really exercised the processes: each wrote something in some year
    for name, keys in seen_writes.items():
        assert keys, f"{name} never changed anything in {sc.run.years} years"


class _Reads(dict):
    """Cell layers that note which ones a process looks up."""

    def __init__(self, layers):
        super().__init__(layers)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def test_no_process_reads_a_layer_it_did_not_declare(replicate):
    """Every cell layer a process (or one of its hazards) looks up is among its declared reads
    or writes — the other half of the contract: a process whose inputs are declared can be
    checked against a landscape that lacks one."""
    sc = replicate.prep.scenario
    rep = Replicate(prepare(_scenario()), seed=12, replicate=0)
    state = State(year=sc.run.start_year, t=0, pop=rep.pop, layers=rep.layers, tally={}, is_lethal=rep._lethal)
    seen: dict[str, set] = {p.name: set() for p in rep.schedule}
    for t in range(1, sc.run.years + 1):
        state.year, state.t = sc.run.start_year + t, t
        state.tally = new_tally(state.n_cells)
        for proc in rep.schedule:
            state.is_lethal = rep._lethal
            tracked = _Reads(state.layers)
            state.layers = tracked
            proc.step(state, rep.rngs[proc.name])
            state.layers = dict(tracked)
            seen[proc.name] |= tracked.read
    for proc in rep.schedule:
        declared = {f.name for f in (*proc.reads, *proc.writes) if f.where == "cell"}
        for h in getattr(proc, "hazards", []):
            declared |= {f.name for f in h.reads if f.where == "cell"}
        undeclared = seen[proc.name] - declared
        assert not undeclared, f"{proc.name} reads the layer(s) {sorted(undeclared)} without declaring them"



def test_a_missing_layer_is_named_with_the_process_that_reads_it(replicate):
    from pardus.engine import MissingLayerError, check_layers

    check_layers(replicate.schedule, replicate.layers)  # the real landscape has every layer
    layers = {k: v for k, v in replicate.layers.items() if k != "road_exposure"}
    with pytest.raises(MissingLayerError, match=r"process '\w+' reads the cell layer 'road_exposure', which the landscape does not have"):
        check_layers(replicate.schedule, layers)


def test_every_process_owns_frozen_parameters_and_reads_registered_layers(replicate):
    """Each process and hazard is built from its own frozen Params (never the whole scenario),
    and every cell layer any process declares — the spatial ones included — is a layer of the
    registry (pardus.landscape.layers), so its type, units and codes are defined once."""
    import dataclasses

    from pardus.landscape.layers import LAYERS
    from pardus.processes.fire import Fire
    from pardus.processes.prey_cells import CellPrey
    from pardus.processes.succession import Succession

    parts = list(replicate.schedule) + [h for p in replicate.schedule for h in getattr(p, "hazards", [])]
    for obj in parts:
        params = type(obj).Params
        assert dataclasses.is_dataclass(params) and params.__dataclass_params__.frozen, type(obj).__name__
        if hasattr(obj, "params"):
            assert isinstance(obj.params, params)
    spatial = [Fire, Succession, CellPrey]
    for cls in [type(p) for p in replicate.schedule] + spatial:
        for f in (*cls.reads, *cls.writes):
            if f.where == "cell":
                assert f.name in LAYERS, f"{cls.__name__} declares the cell layer '{f.name}', which the layer registry does not define"


def test_on_the_map_no_process_writes_or_reads_what_it_did_not_declare():
    """The same contract for the spatial schedule, with every intervention type that acts on a
    map: what a process changes is among its declared writes, what cell layer it looks up among
    its declared reads or writes."""
    from pardus.landscape.default import default_landscape
    from pardus.spatial import SpatialBatch

    sc = load_scenario_for_map()
    b = SpatialBatch(prepare(sc), 13, range(2), default_landscape(rows=60, cols=50))
    state = State(year=sc.run.start_year, t=0, pop=b.pop, layers=b.layers, tally={}, is_lethal=b._lethal, n_reps=2, ranges=b.ranges)
    wrote: dict[str, set] = {p.name: set() for p in b.schedule}
    read: dict[str, set] = {p.name: set() for p in b.schedule}
    for t in range(1, sc.run.years + 1):
        state.year, state.t = sc.run.start_year + t, t
        state.tally = new_tally(state.n_cells, 2)
        state.fields = type(state.fields)({f.name for p in b.schedule for f in p.writes if f.where == "year"})
        for proc in b.schedule:
            before = _snapshot(state)
            tracked = _Reads(state.layers)
            state.layers = tracked
            proc.step(state, b.rngs[proc.name])
            state.layers = dict(tracked)
            read[proc.name] |= tracked.read
            after = _snapshot(state)
            declared = {(f.where, f.name) for f in proc.writes}
            for key in set(before) | set(after):
                if key not in before or key not in after or _changed(before[key], after[key]):
                    wrote[proc.name].add(key)
                    assert key in declared, f"{proc.name} changed {key[0]} '{key[1]}' without declaring it"
    for proc in b.schedule:
        declared = {f.name for f in (*proc.reads, *proc.writes) if f.where == "cell"}
        for h in getattr(proc, "hazards", []):
            declared |= {f.name for f in h.reads if f.where == "cell"}
        assert not read[proc.name] - declared, f"{proc.name} reads the layer(s) {sorted(read[proc.name] - declared)} without declaring them"
        assert wrote[proc.name], f"{proc.name} never changed anything in {sc.run.years} years"


def load_scenario_for_map():
    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw["run"]["years"] = 4
    raw["landscape"] = {"source": "default", "disease": {"dog_epidemic": 1.0, "spill_rate": 5.0},
                        "monitoring": {"every": 1, "replicates": 2, "spacing_km": 4.0}}
    raw["interventions"] = {
        "patrols": {"type": "anti_poaching", "population": "russia", "start": 2016, "budget": 1000.0, "unit_cost": 1.0, "area": "zone:core"},
        "prey": {"type": "prey_recovery", "population": "china", "start": 2016, "hunting_ban": 0.5, "capacity_factor": 1.2, "feeding": 0.1},
        "farms": {"type": "conflict_mitigation", "population": "russia", "start": 2016, "reduction": 0.5},
        "cdv": {"type": "vaccination", "population": "russia", "start": 2016, "coverage": 0.5, "unit_cost": 1.0},
        "dogs": {"type": "dog_vaccination", "population": "russia", "start": 2016, "coverage": 0.5},
        "tunnel": {"type": "crossing", "population": "russia", "start": 2016, "road_reduction": 0.8},
        "break": {"type": "firebreak", "population": "russia", "start": 2016, "end": 2017, "area": "ring:core:2"},
        "park": {"type": "protected_area", "population": "russia", "start": 2017, "area": "zone:buffer"},
        "release": {"type": "release", "population": "russia", "start": 2016, "every": 1, "females": 2, "males": 2},
        "move": {"type": "translocation", "source": "china", "population": "russia", "start": 2017, "females": 1, "males": 1, "mortality": 0.3},
        "farm": {"type": "habitat_change", "population": "china", "start": 2017, "prey_capacity_factor": 0.95, "human_access": 0.6, "cover": "agriculture", "area": "zone:none"},
    }
    return scenario_from_dict(raw)
