"""The landscape package: grid, layer registry, region layers and aggregation, home ranges and
the exposure operator; the non-spatial model as the landscape of k cells."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.engine import Batch, MissingLayerError, check_layers, prepare
from pardus.landscape import LAYERS, Grid, Landscape, LayerError, RangeTable, RegionLayer, aggregate, check_layer, exposure, managed_layers
from pardus.processes.base import Field, Fields, Process
from pardus.scenario import resolve_scenario


def test_grid_numbers_cells_row_by_row_and_knows_its_neighbours():
    g = Grid.regular(3, 4, 1000.0, origin=(500_000.0, 4_800_000.0), crs="EPSG:32652", neighbours=4)
    assert g.n_cells == 12 and g.cell_area_km2 == 1.0
    assert g.index(2, 1) == 9
    np.testing.assert_array_equal(g.row_col(9), (2, 1))
    # cell 5 = (1, 1): north 1, west 4, east 6, south 9
    np.testing.assert_array_equal(g.neighbour_table[5], [1, 4, 6, 9])
    np.testing.assert_array_equal(g.neighbour_table[0], [-1, -1, 1, 4])  # the corner has two
    g8 = Grid.regular(3, 4, 1000.0, neighbours=8)
    np.testing.assert_array_equal(g8.neighbour_table[5], [1, 4, 6, 9, 0, 2, 8, 10])
    assert (g8.neighbour_table >= 0).sum() == 2 * (3 * 3 + 4 * 2) + 2 * 2 * (2 * 3)  # edges + diagonals, both ways
    x, y = g.centres()
    assert (x[0], y[0]) == (500_500.0, 4_799_500.0) and (x[11], y[11]) == (503_500.0, 4_797_500.0)


def test_grid_refuses_impossible_shapes():
    with pytest.raises(ValueError, match="neighbours must be 4 or 8"):
        Grid(2, 2, 1000.0, neighbours=6)
    with pytest.raises(ValueError, match="at least one row"):
        Grid(0, 2, 1000.0)
    with pytest.raises(ValueError, match="non-spatial"):
        Grid(1, 3, None, neighbours=4)
    assert Grid.nonspatial(3).neighbour_table.shape == (3, 0)


def test_layer_registry_checks_values_where_they_enter():
    assert LAYERS["cover"].code("oak_forest") == 2
    assert check_layer("prey", [1, 2.5], 2).dtype == np.float64
    with pytest.raises(LayerError, match=r"'prey'.*3 value\(s\).*2 cells"):
        check_layer("prey", [1, 2, 3], 2)
    with pytest.raises(LayerError, match=r"'cover' has unknown code\(s\) \[9\].*0 water"):
        check_layer("cover", [1, 9], 2, "landscape.tif")
    with pytest.raises(LayerError, match=r"'human_access'.*above 1"):
        check_layer("human_access", [0.5, 1.5], 2)
    with pytest.raises(LayerError, match=r"missing or infinite.*nodata"):
        check_layer("prey", [np.nan, 1.0], 2)
    with pytest.raises(LayerError, match="unknown layer 'preys'"):
        check_layer("preys", [1.0], 1)
    # the managed layers of the non-spatial model are the registry's, without the map's own
    assert "vaccination" in managed_layers() and "firebreak" not in managed_layers() and "firebreak" in managed_layers(spatial=True)


def test_aggregate_sums_cells_into_regions_of_every_replicate():
    reg = RegionLayer("zone", np.array([0, 1, 1, -1, 0]), ("core", "buffer"))
    codes = reg.batch_codes(2)
    np.testing.assert_array_equal(codes, [0, 1, 1, -1, 0, 2, 3, 3, -1, 2])
    values = np.arange(10 * 2).reshape(10, 2)
    out = aggregate(values, codes, 4)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out[0], values[0] + values[4])
    np.testing.assert_array_equal(out[3], values[6] + values[7])
    assert out.sum() == values.sum() - values[3].sum() - values[8].sum()  # cell 3 is in no region
    ident = RegionLayer("population", np.arange(3), ("a", "b", "c"))
    assert ident.identity and not reg.identity
    np.testing.assert_array_equal(reg.mask("buffer"), [False, True, True, False, False])
    with pytest.raises(KeyError, match="no region 'park'"):
        reg.mask("park")
    with pytest.raises(ValueError, match="codes must lie in"):
        RegionLayer("zone", np.array([0, 2]), ("core", "buffer"))


def test_exposure_is_the_layer_at_the_cell_or_the_mean_over_the_range():
    layer = np.array([1.0, 2.0, 4.0, 8.0])
    ranges = RangeTable()
    a = ranges.add([1, 2])  # equal use
    b = ranges.add([0, 3], weights=[3.0, 1.0])
    cell = np.array([0, 1, 3])
    range_id = np.array([-1, a, b], dtype=np.int32)
    np.testing.assert_allclose(exposure(layer, cell, range_id, np.arange(3), ranges), [1.0, 3.0, 0.75 * 1.0 + 0.25 * 8.0])
    np.testing.assert_allclose(ranges.use(4), [0.75, 0.5, 0.5, 0.25])
    ranges.release(a)
    c = ranges.add([3])  # a new id; the other range untouched
    assert c not in (a, b) and ranges.cells_of(b)[0].tolist() == [0, 3] and ranges.cells_of(c)[0].tolist() == [3]
    range_id[1] = c
    np.testing.assert_allclose(exposure(layer, cell, range_id, np.arange(3), ranges), [1.0, 8.0, 2.75])
    # without ranges (the non-spatial model) every animal reads its cell
    np.testing.assert_allclose(exposure(layer, cell, np.full(3, -1, np.int32), np.arange(3)), [1.0, 2.0, 8.0])
    with pytest.raises(ValueError, match="no range table"):
        exposure(layer, cell, range_id, np.arange(3))
    with pytest.raises(ValueError, match="not in use"):
        ranges.release(a + 5)


def test_nonspatial_landscape_is_one_cell_per_population_with_its_regions():
    sc = resolve_scenario("amur-history-nonspatial").scenario
    names = list(sc.populations)
    land = Landscape.nonspatial(sc, names)
    assert not land.spatial and land.n_cells == len(names)
    assert land.reporting().identity and land.reporting().names == tuple(names)
    country = land.regions["country"]
    assert set(country.names) == {"russia", "china"}
    np.testing.assert_array_equal(country.mask("russia"), [sc.populations[n].country == "russia" for n in names])
    np.testing.assert_array_equal(land.layers["carrying_capacity"], [sc.populations[n].carrying_capacity for n in names])
    # a run's population list may be a union over scenarios: an absent population is a cell with K 0
    union = Landscape.nonspatial(sc, names + ["elsewhere"])
    assert union.layers["carrying_capacity"][-1] == 0 and union.layers["area_km2"][-1] == 1.0
    assert union.regions["country"].codes[-1] == -1


def test_batch_reports_by_region_and_each_animal_has_range_and_status():
    prep = prepare(resolve_scenario("amur-2015-nonspatial").scenario)
    b = Batch(prep, 3, range(2))
    pop = b.pop
    n = pop.n
    assert (pop.range_id[:n] == -1).all()  # the non-spatial model has no home ranges
    dep = prep.scenario.demography.dependence_years
    np.testing.assert_array_equal(pop.status[:n] == 1, pop.age[:n] < dep)  # the young with their mothers
    rec = b.run()
    assert rec["N"].shape[2] == b.landscape.reporting().n_regions == len(prep.names)
    assert (b.pop.status[: b.pop.n][b.pop.age[: b.pop.n] >= dep] == 0).all()  # grown up: residents


class _Reads(Process):
    name = "reader"
    reads = (Field("density_breeding", "year"),)
    writes = (Field("cause", "individual"),)


class _Writes(Process):
    name = "density_dependence"
    writes = (Field("density_breeding", "year"),)


def test_a_field_read_before_it_is_written_is_refused_at_the_start():
    with pytest.raises(MissingLayerError, match=r"'reader' reads the field 'density_breeding'.*'density_dependence'\) runs after it"):
        check_layers([_Reads(), _Writes()], {})
    with pytest.raises(MissingLayerError, match="no process of the schedule writes it"):
        check_layers([_Reads()], {})
    check_layers([_Writes(), _Reads()], {})  # the right order passes


def test_fields_accept_only_declared_names_and_name_what_is_missing():
    f = Fields({"census"})
    f["census"] = 1
    with pytest.raises(KeyError, match="'natural_survival' is no declared field"):
        f["natural_survival"] = 0.5
    with pytest.raises(KeyError, match="'census' was not written this year|'census'"):
        Fields({"census"})["census"]
    with pytest.raises(ValueError, match="where must be one of"):
        Field("prey", "pixel")


def test_a_range_table_keeps_every_living_range_through_many_adds_releases_and_compactions():
    rng = np.random.default_rng(3)
    t = RangeTable()
    expected = {}
    for _ in range(3000):
        if expected and rng.random() < 0.45:
            rid = int(rng.choice(list(expected)))
            t.release(rid)
            del expected[rid]
        else:
            cells = rng.choice(500, size=int(rng.integers(1, 60)), replace=False)
            expected[t.add(cells)] = sorted(cells.tolist())
    assert t.cells.size < 3 * sum(len(c) for c in expected.values()) + 4096  # freed cells are dropped
    for rid, cells in expected.items():
        got, w = t.cells_of(rid)
        assert sorted(got.tolist()) == cells and np.isclose(w.sum(), 1.0)
    assert t.alive.sum() == len(expected)
    np.testing.assert_allclose(t.use(500).sum(), len(expected))


def test_add_many_makes_the_ranges_add_makes_one_by_one():
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 40, size=30)
    offsets = np.r_[0, np.cumsum(sizes)]
    cells = rng.integers(0, 1000, size=offsets[-1])
    one, many = RangeTable(), RangeTable()
    ids = [one.add(cells[offsets[i] : offsets[i + 1]]) for i in range(sizes.size)]
    assert many.add_many(offsets, cells).tolist() == ids
    for name in ("start", "cells", "weight", "alive"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name), err_msg=name)  # to the bit
