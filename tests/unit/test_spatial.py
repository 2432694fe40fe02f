"""The first end-to-end spatial form (pardus.spatial): a scenario's population on a landscape."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.engine import prepare
from pardus.landscape.default import default_landscape
from pardus.landscape.layers import LAYERS
from pardus.population.table import RESIDENT
from pardus.scenario import load_scenario
from pardus.spatial import SpatialBatch, SpatialParams, simulate_spatial


@pytest.fixture(scope="module")
def small():
    return default_landscape(rows=60, cols=50)


def _prep(years=6):
    return prepare(load_scenario("amur-2015-nonspatial").replace({"run.years": years}))


def test_a_spatial_run_is_reproducible_and_a_replicate_does_not_depend_on_its_batch(small):
    prep, params = _prep(), SpatialParams()
    a = SpatialBatch(prep, 3, range(3), small, params).run()
    b = SpatialBatch(prep, 3, range(3), small, params).run()
    alone = SpatialBatch(prep, 3, [2], small, params).run()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        np.testing.assert_array_equal(a[k][2], alone[k][0], err_msg=k)
    assert a["N"][:, 0].sum() > 0 and a["births"].sum() > 0


def test_animals_live_on_land_in_exclusive_ranges_and_are_counted_by_their_country(small):
    b = SpatialBatch(_prep(), 5, range(2), small, SpatialParams())
    rec = b.run()
    pop, t, C = b.pop, b.territories, small.n_cells
    n = pop.n
    local = pop.cell[:n] - C * pop.rep[:n]
    assert (small.layers["cover"][local] != LAYERS["cover"].code("water")).all()
    residents = np.flatnonzero(pop.range_id[:n] >= 0)
    assert (pop.status[residents] == RESIDENT).all()
    ok = t.p.acceptable(np.tile(small.layers["cover"], 2))
    for sex in (0, 1):
        cells = [t.table.cells_of(int(pop.range_id[i]))[0] for i in residents if pop.sex[i] == sex]
        if cells:
            allc = np.concatenate(cells)
            assert allc.size == np.unique(allc).size and ok[allc].all()
            np.testing.assert_array_equal(np.sort(np.flatnonzero(t.owner[sex] >= 0)), np.sort(allc))  # the owner map is the ranges, no more
    # the census counts every animal in the population region of its cell (russia, china; lazovsky is not on this map)
    names = list(b.prep.names)
    assert rec["N"][:, -1, names.index("lazovsky")].sum() == 0
    country = small.regions["country"].codes[local]
    for r in range(2):
        for name in ("russia", "china"):
            code = small.regions["country"].names.index(name)
            assert rec["N"][r, -1, names.index(name)].sum() == int(((pop.rep[:n] == r) & (country == code)).sum())


def test_the_transboundary_population_is_one_population_that_walks_and_holds_ranges_across_the_border(small):
    """On the map Russia and China are regions of one landscape, not two populations joined by
    a dispersal rate: animals cross the border, ranges straddle it, and each animal is counted
    in the country of its cell in the year it is there (issue #7's transboundary fix)."""
    b = SpatialBatch(_prep(years=12), 5, range(4), small, SpatialParams())
    C = small.n_cells
    country = small.regions["country"]
    ru, cn = country.names.index("russia"), country.names.index("china")
    first: dict[tuple[int, int], int] = {}  # (replicate, id) → country where first seen
    crossed, straddling = [0], [0]

    def on_year(t, state):
        pop = state.pop
        n = pop.n
        alive = np.flatnonzero(pop.cause[:n] < 0)
        where = country.codes[pop.cell[alive] - C * pop.rep[alive]]
        for i, c in zip(alive, where):
            key = (int(pop.rep[i]), int(pop.id[i]))
            c0 = first.setdefault(key, int(c))
            crossed[0] += int(c0 != c and {c0, int(c)} == {ru, cn})
        for i in alive[pop.range_id[alive] >= 0]:
            cells = b.territories.table.cells_of(int(pop.range_id[i]))[0] - C * int(pop.rep[i])
            codes = set(country.codes[cells].tolist())
            straddling[0] += int(ru in codes and cn in codes)

    rec = b.run(on_year=on_year)
    assert crossed[0] > 0, "no animal ever moved between the Russian and Chinese cells"
    assert straddling[0] > 0, "no home range ever straddled the border"
    # the country counts are the animals in each country's cells, nothing lost or counted twice
    names = list(b.prep.names)
    pop, n = b.pop, b.pop.n
    alive = pop.cause[:n] < 0
    for r in range(4):
        assert rec["N"][r, -1].sum() == int((alive & (pop.rep[:n] == r)).sum())
    # the non-spatial dispersal rate between russia and china plays no part on the map
    assert "dispersal" not in [p.name for p in b.schedule]


def test_hazard_tables_for_the_occupied_cells_only_are_the_full_tables_there(small):
    """On a map the mortality tables are computed for the cells animals live in (and their home
    ranges): at the cells, the same values as the full tables."""
    import pardus.processes.mortality as M
    from pardus.processes.base import State

    b = SpatialBatch(_prep(years=2), 9, range(2), small, SpatialParams())
    b.run()  # a state with prey, fields and animals of a real year
    mort = next(p for p in b.schedule if p.name == "mortality_independent")
    state = State(year=2017, t=2, pop=b.pop, layers=b.layers, tally={}, is_lethal=b._lethal, n_reps=2, ranges=b.ranges)
    env = next(p for p in b.schedule if p.name == "environment")
    env.step(state, b.rngs["environment"])  # this year's natural survival
    cells = np.unique(b.pop.cell[: b.pop.n])
    names = {f.name for f in mort.reads if f.where == "cell"}
    sub = mort.tables(M._CellSubset(state, cells, None, names), cache=False)
    full = mort.tables(state, cache=False)[:, cells]
    np.testing.assert_array_equal(sub, full)


def test_a_resident_meets_the_hazards_as_the_mean_over_its_home_range():
    """MODEL.md §4.8: poaching by access × patrols over the home range. A range over a cell of
    access 0 and one of access 1 (equal use) gives the poaching of access 0.5; an animal without
    a range, that of its cell."""
    from pardus.landscape import RangeTable
    from pardus.population.table import Population
    from pardus.processes.base import State
    from pardus.processes.mortality import _CellSubset
    from pardus.processes.poaching import Poaching

    n = 5000
    layers = {"human_access": np.zeros(n), "patrol_effort": np.zeros(n), "hunting_ban": np.zeros(n)}
    layers["human_access"][[10, 11, 20]] = [0.0, 1.0, 0.8]
    t = RangeTable()
    rid = t.add([10, 11])
    state = State(year=0, t=0, pop=Population(n_loci=1, capacity=4), layers=layers, tally={}, is_lethal=np.zeros(1, bool), ranges=t)
    sub = _CellSubset(state, np.array([20]), np.array([rid]), {"human_access", "patrol_effort", "hunting_ban"})
    np.testing.assert_allclose(sub.layers["human_access"], [0.8, 0.5])
    hz = Poaching.from_scenario(load_scenario("amur-2015-nonspatial"))
    table = hz.table(sub)
    one = State(year=0, t=0, pop=None, layers={k: np.array([0.5]) if k == "human_access" else np.zeros(1) for k in layers}, tally={}, is_lethal=np.zeros(1, bool))
    np.testing.assert_allclose(table[1], hz.table(one)[0])


def test_the_component_bound_of_settlement_skips_only_seeds_that_cannot_succeed(small, monkeypatch):
    """find_range skips a seed whose free component is short of the stock or the cells a range
    needs (free_components), a disperser does not search where no such seed is within reach
    (hopeful_distance), and a seed that failed is not grown again until a range is claimed:
    a run with the bounds is the same, to the bit, as one without."""
    import pardus.processes.territories as T
    from pardus.processes.map_dispersal import MapDispersal

    prep = _prep(years=12)
    with_bound = SpatialBatch(prep, 4, range(2), small, SpatialParams()).run()
    orig = T.Territories.components

    def no_bound(self, acceptable, stock):
        out = orig(self, acceptable, stock)
        for label, _stock, _size in out:
            label[:] = -1  # no component known: every seed is grown
        return out

    monkeypatch.setattr(T.Territories, "components", no_bound)
    monkeypatch.setattr(T.Territories, "hopeful", lambda self, comps: np.zeros((2, self.R * self.C), dtype=np.int64))  # search everywhere
    monkeypatch.setattr(MapDispersal, "remember_failures", False)  # grow every seed every time
    without = SpatialBatch(prep, 4, range(2), small, SpatialParams()).run()
    for k in with_bound:
        np.testing.assert_array_equal(with_bound[k], without[k], err_msg=k)
    assert with_bound["births"].sum() > 0


def test_free_components_are_the_connected_free_acceptable_cells_with_their_stock():
    from pardus.landscape import Grid
    from pardus.processes.territories import free_components

    g = Grid.regular(3, 4, 1000.0, neighbours=4)
    acceptable = np.array([1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1], dtype=bool)  # rows: 1 1 0 1 / 1 0 0 1 / 0 0 1 1
    owner = np.full(12, -1, dtype=np.int64)
    owner[0] = 5  # held: not free
    stock = np.arange(12, dtype=float)
    label = np.empty(12, dtype=np.int64)
    comp_stock, comp_size = free_components(owner, acceptable, stock, g.neighbour_table, 1, 12, label, np.empty(12, dtype=np.int64))
    assert label[0] == -1 and label[2] == -1
    assert label[1] != label[4] and label[3] == label[7] == label[11] == label[10]  # cell 1 and 4 meet only through the held cell 0
    np.testing.assert_allclose(sorted(comp_stock), sorted([1.0, 4.0, 3 + 7 + 10 + 11]))
    assert sorted(comp_size) == [1, 1, 4]


def test_hopeful_distance_is_the_grid_distance_to_a_component_that_can_hold_a_range():
    from pardus.landscape import Grid
    from pardus.processes.territories import hopeful_distance

    g = Grid.regular(1, 6, 1000.0, neighbours=4)
    label = np.array([-1, 0, -1, -1, 1, -1], dtype=np.int64)
    comp_stock, comp_size = np.array([5.0, 50.0]), np.array([1, 1], dtype=np.int64)
    d = hopeful_distance(label, comp_stock, comp_size, 10.0, 1, g.neighbour_table, 1, 6, 3, np.empty(6, dtype=np.int64), np.empty(6, dtype=np.int64))
    assert d.tolist() == [3, 3, 2, 1, 0, 1]  # component 0 is too poor; capped at 3
