"""The spatial form as a scenario option: [landscape] in a scenario file, interventions on the
map (areas, sites, firebreaks, crossings, patrol budgets, protected areas), maps in the
results, and the messages for bad spatial input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pardus import simulate
from pardus.engine import State, new_tally, prepare
from pardus.landscape.default import default_landscape
from pardus.landscape.io import write_landscape
from pardus.landscape.layers import LAYERS
from pardus.scenario import ScenarioError, load_scenario
from pardus.spatial import SpatialBatch, load_landscape

YEARS = 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small default landscape written as GeoTIFF layers: the folder form of landscape.source."""
    out = tmp_path_factory.mktemp("land")
    write_landscape(default_landscape(rows=60, cols=50), out)
    return out


def _scenario(folder, interventions=None, **landscape):
    sc = load_scenario("amur-2015-nonspatial").replace({"run.years": YEARS, "landscape": {"source": str(folder), **landscape}})
    if interventions:
        sc = sc.replace({"interventions": interventions})
    return sc


def _management_state(batch, year):
    """The state of a batch at the start of ``year``, with its management step done."""
    state = State(year=year, t=1, pop=batch.pop, layers=batch.layers, tally=new_tally(batch.landscape.n_cells * batch.n_reps, batch.n_reps), is_lethal=batch._lethal, n_reps=batch.n_reps, ranges=batch.ranges)
    mgmt = batch.schedule[0]
    assert mgmt.name == "management"
    mgmt.step(state, batch.rngs["management"])
    return state


def test_a_scenario_with_a_landscape_runs_on_its_map_with_maps_in_the_results(folder):
    sc = _scenario(folder)
    ds = simulate(sc, replicates=3, seed=4, workers=1)
    again = simulate(sc, replicates=3, seed=4, workers=2)
    for var in ds.data_vars:
        np.testing.assert_array_equal(ds[var].values, again[var].values, err_msg=var)  # workers do not change results
    assert ds.attrs["spatial"] == 1 and ds["occupancy"].dims == ("scenario", "y", "x") and ds.sizes["y"] == 60 and ds.sizes["x"] == 50
    for var in ("occupancy", "burn_probability", "forest_lost", "forest_gained"):
        v = ds[var].values
        assert np.all((v >= 0) & (v <= 1)), var
    water = ds["landscape_cover"].values == 0
    assert ds["occupancy"].values[0][water].max() == 0 and ds["occupancy"].values.max() > 0  # ranges on land only
    assert ds["burned_km2"].sum() > 0 and (ds["forest_km2"].isel(year=0).sel(population=["russia", "china"]) > 0).all()
    assert not ds["forest_km2"].sel(population="lazovsky").any()  # a population the map has no region for
    # the census is by population region: every animal of a replicate is counted once
    n_end = ds["N"].isel(year=-1).sum(["population", "sex", "stage"]).values
    assert (n_end >= ds["residents"].isel(year=-1).sum("population").values).all()


def test_a_crossing_puts_tunnels_on_the_road_cells_of_its_area_while_it_runs(folder):
    sc = _scenario(folder, {"tunnel": {"type": "crossing", "population": "russia", "start": 2016, "end": 2017, "area": "country:russia", "road_reduction": 0.8}})
    b = SpatialBatch(prepare(sc), 1, range(2))
    land = b.landscape
    C = land.n_cells
    russia = land.regions["country"].codes == land.regions["country"].names.index("russia")
    road = land.layers["road"] > 0
    s = _management_state(b, 2016)
    crossing = s.layers["crossing"].reshape(2, C)
    assert crossing[:, russia & road].all() and not crossing[:, ~(russia & road)].any()
    assert np.allclose(s.layers["road_reduction"].reshape(2, C)[:, russia], 0.8)
    s = _management_state(b, 2018)  # after its end: the landscape's own layers again
    assert not s.layers["crossing"].any() and not s.layers["road_reduction"].any()


def test_a_firebreak_lasts_after_its_upkeep_ends_and_grows_over(folder):
    iv = {"type": "firebreak", "population": "russia", "start": 2016, "end": 2017, "area": "ring:core:2", "strength": 0.8, "lapse": 0.25, "unit_cost": 100.0}
    sc = _scenario(folder, {"break": iv})
    b = SpatialBatch(prepare(sc), 1, range(1))
    land = b.landscape
    ring = np.zeros(land.n_cells, bool)
    ring[b.schedule[0].targets[0]] = True
    core = land.layers["zone"] == LAYERS["zone"].code("core")
    assert ring.any() and not (ring & core).any()
    for year, strength in ((2015, 0.0), (2016, 0.8), (2017, 0.8), (2018, 0.6), (2020, 0.8 * 0.75**3)):
        s = _management_state(b, year)
        np.testing.assert_allclose(s.layers["firebreak"][ring], strength)
        assert not s.layers["firebreak"][~ring].any()
        upkeep = 100.0 * ring.sum() / 2 if year in (2016, 2017) else 0.0  # km of a 2-cell-wide break of 1-km cells
        assert s.tally["cost"][0] == pytest.approx(upkeep)


def test_a_firebreak_that_stops_all_spread_keeps_outside_fires_out_of_the_area_it_encloses(folder):
    """No ignitions in the core (no people there: access 0, and ignitions need people with
    access_a = 0): without a firebreak fires from outside still burn into it; a ring that stops
    every spread keeps it unburned in every replicate and year."""
    no_people = {"type": "protected_area", "population": "russia", "start": 2016, "area": "zone:core", "suppression": False, "access_reduction": 1.0}
    ring = {"type": "firebreak", "population": "russia", "start": 2016, "area": "ring:core:2", "strength": 1.0}
    fire = {"access_a": 0.0, "ignitions_per_weight": 0.2}
    core = None
    burned = {}
    for label, ivs in (("open", {"people": no_people}), ("ring", {"people": no_people, "ring": ring})):
        ds = simulate(_scenario(folder, ivs, fire=fire), replicates=3, seed=2, workers=1)
        core = ds["landscape_zone"].values == LAYERS["zone"].code("core")
        burned[label] = ds["burn_probability"].values[0][core]
    assert burned["open"].max() > 0
    assert burned["ring"].max() == 0


def test_a_patrol_budget_buys_effort_evenly_and_costs_the_budget(folder):
    sc = _scenario(folder, {"patrol": {"type": "anti_poaching", "population": "china", "start": 2016, "budget": 50_000.0, "unit_cost": 25.0}})
    b = SpatialBatch(prepare(sc), 1, range(2))
    land = b.landscape
    C = land.n_cells
    china = land.regions["country"].codes == land.regions["country"].names.index("china")
    s = _management_state(b, 2016)
    added = s.layers["patrol_effort"].reshape(2, C)[:, china] - b.baseline["patrol_effort"].reshape(2, C)[:, china]
    area = land.layers["area_km2"][china].sum()
    np.testing.assert_allclose(added, 50_000.0 / 25.0 / area)
    np.testing.assert_allclose(s.tally["cost"], 50_000.0)


def test_a_protected_area_suppresses_fire_and_cuts_access_in_its_cells(folder):
    sc = _scenario(folder, {"park": {"type": "protected_area", "population": "russia", "start": 2016, "area": "zone:buffer", "access_reduction": 0.5, "unit_cost": 2.0}})
    b = SpatialBatch(prepare(sc), 1, range(1))
    land = b.landscape
    buffer = (land.layers["zone"] == LAYERS["zone"].code("buffer")) & (land.regions["country"].codes == 0)
    s = _management_state(b, 2016)
    assert s.layers["suppression"][buffer].all()
    np.testing.assert_allclose(s.layers["human_access"][buffer], 0.5 * b.baseline["human_access"][buffer])
    assert s.tally["cost"][0] == pytest.approx(2.0 * land.layers["area_km2"][buffer].sum())


def test_a_release_at_a_site_puts_transients_there(folder):
    land = default_landscape(rows=60, cols=50)
    x, y = land.grid.centres()
    ok = np.flatnonzero((land.layers["cover"] == LAYERS["cover"].code("mixed_forest")) & (land.regions["country"].codes == 0))
    site = [float(x[ok[0]]), float(y[ok[0]])]
    sc = _scenario(folder, {"rel": {"type": "release", "population": "russia", "start": 2016, "females": 2, "males": 1, "site": site, "unit_cost": 10.0}})
    b = SpatialBatch(prepare(sc), 1, range(2))
    n0 = b.pop.n
    s = _management_state(b, 2016)
    new = np.arange(n0, b.pop.n)
    assert new.size == 6  # 3 per replicate
    assert ((b.pop.cell[new] % land.n_cells) == ok[0]).all()
    assert (b.pop.status[new] == 2).all()  # transients: they look for a range of their own
    np.testing.assert_allclose(s.tally["cost"], 30.0)


def test_interventions_on_the_map_are_refused_in_a_nonspatial_scenario():
    sc = load_scenario("amur-2015-nonspatial")
    with pytest.raises(ScenarioError) as e:
        sc.replace({"interventions": {"b": {"type": "firebreak", "population": "russia", "start": 2016, "area": "ring:core:2"}}})
    assert "acts on a map; add a [landscape] table" in str(e.value)
    with pytest.raises(ScenarioError, match="a place on a map, but the scenario is non-spatial"):
        sc.replace({"interventions": {"p": {"type": "anti_poaching", "population": "russia", "start": 2016, "effort": 2.0, "area": "zone:core"}}})


@pytest.mark.parametrize(
    "iv, message",
    [
        ({"type": "anti_poaching", "population": "russia", "start": 2016, "effort": 2.0, "area": "zone:nowhere"}, "region layer 'zone' has no region 'nowhere'"),
        ({"type": "anti_poaching", "population": "russia", "start": 2016, "effort": 2.0, "area": "core"}, "not an area: give 'LAYER:NAME'"),
        ({"type": "anti_poaching", "population": "russia", "start": 2016, "effort": 2.0, "area": "country:china"}, "has no cell in the region of russia"),
        ({"type": "release", "population": "russia", "start": 2016, "females": 1, "site": "WATER"}, "in water"),
        ({"type": "release", "population": "russia", "start": 2016, "females": 1, "site": [0.0, 0.0]}, "outside the landscape"),
        ({"type": "anti_poaching", "population": "russia", "start": 2016, "budget": 10.0}, "set unit_cost > 0"),
        ({"type": "habitat_change", "population": "russia", "start": 2016, "cover": "farmland"}, "no cover class of that name"),
    ],
)
def test_bad_spatial_interventions_get_one_message_naming_the_key(folder, iv, message):
    if iv.get("site") == "WATER":
        land = default_landscape(rows=60, cols=50)
        x, y = land.grid.centres()
        w = np.flatnonzero(land.layers["cover"] == 0)[0]
        iv = {**iv, "site": [float(x[w]), float(y[w])]}
    with pytest.raises(ScenarioError) as e:
        _scenario(folder, {"x": iv})
    assert message in str(e.value) and "interventions.x" in str(e.value)


def test_a_geojson_area_outside_the_map_is_refused_with_its_extent(folder, tmp_path):
    line = tmp_path / "break.geojson"
    line.write_text(json.dumps({"type": "LineString", "coordinates": [[0.0, 0.0], [1000.0, 1000.0]]}))
    with pytest.raises(ScenarioError, match="lies outside the landscape"):
        _scenario(folder, {"b": {"type": "firebreak", "population": "russia", "start": 2016, "area": str(line)}})


def test_bad_landscape_tables_name_the_key_and_the_fix(folder):
    with pytest.raises(ScenarioError) as e:
        _scenario(folder, fire={"ignitions_per_wieght": 0.1}, territories={"kills_per_leopard": 50.0}, dispersal={"max_steps": 2.5})
    text = str(e.value)
    assert "landscape.fire.ignitions_per_wieght — no such parameter; did you mean 'ignitions_per_weight'?" in text
    assert "landscape.territories.kills_per_leopard — given by prey.kills_per_leopard of the scenario; set it there" in text
    assert "landscape.dispersal.max_steps = 2.5 — must be a whole number" in text
    with pytest.raises(ScenarioError, match="no such folder"):
        load_scenario("amur-2015-nonspatial").replace({"landscape": {"source": str(folder / "missing")}})


def test_process_tables_switch_fire_off_and_take_parameters(folder):
    sc = _scenario(folder, fire={"enabled": False}, dispersal={"max_steps": 30})
    b = SpatialBatch(prepare(sc), 1, range(1))
    assert "fire" not in [p.name for p in b.schedule]
    assert next(p for p in b.schedule if p.name == "territories").d.p.max_steps == 30
    assert load_landscape(sc.landscape).grid.shape == (60, 50)


def test_a_scenario_file_resolves_its_paths_relative_to_itself(folder, tmp_path):
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "s.toml"
    rel = "../" + folder.name
    (tmp_path / folder.name).symlink_to(folder)
    f.write_text(f'extends = "amur-2015-nonspatial"\n[run]\nyears = 2\n[landscape]\nsource = "{rel}"\n')
    sc = load_scenario(str(f))
    assert load_landscape(sc.landscape).grid.shape == (60, 50)


def test_a_landscape_folder_without_a_layer_the_map_needs_is_refused_by_name(folder, tmp_path):
    import shutil

    thin = tmp_path / "thin"
    shutil.copytree(folder, thin)
    for name in ("deer_farm", "road", "firebreak", "patrol_effort", "cover_age"):
        (thin / f"{name}.tif").unlink()
    with pytest.raises(ScenarioError) as e:
        load_scenario("amur-2015-nonspatial").replace({"landscape": {"source": str(thin)}})
    assert "lacks the layer(s) road, deer_farm" in str(e.value) and "road.tif, deer_farm.tif" in str(e.value)
    (thin / "road.tif").symlink_to(folder / "road.tif")
    (thin / "deer_farm.tif").symlink_to(folder / "deer_farm.tif")
    sc = load_scenario("amur-2015-nonspatial").replace({"run.years": 2, "landscape": {"source": str(thin)}})
    ds = simulate(sc, replicates=1, seed=1, workers=1)  # the optional layers start empty
    assert ds["N"].isel(year=-1).sum() > 0


def test_the_report_of_a_spatial_run_has_the_maps_the_series_and_one_replicate(folder, tmp_path):
    from pardus.report import build_report
    from pardus.report.figures import plot_frames
    from pardus.results import compare_to_baseline, summarize
    from pardus.spatial import frames

    base = _scenario(folder).replace({"name": "base"})
    ring = _scenario(folder, {"b": {"type": "firebreak", "population": "russia", "start": 2016, "area": "ring:core:2"}}).replace({"name": "ring"})
    ds = simulate(base, ring, replicates=2, seed=3, workers=1)
    path = build_report(ds, summarize(ds), compare_to_baseline(ds, "base"), tmp_path / "report")
    figs = {p.name for p in (tmp_path / "report" / "figures").iterdir()}
    assert {"maps.png", "landscape-series.png", "one-replicate.png"} <= figs
    html = path.read_text()
    assert "The map.</b>" in html and "calibrated on the map" in html
    # the small multiples are replicate 0 of the run, re-simulated to the bit
    fr = frames(base, 3, 0, at=[YEARS])
    assert fr["animals"][0] == int(ds["N"].sel(scenario="base").isel(replicate=0, year=-1).sum())
    assert plot_frames(ds.assign_attrs(posterior="x"), {}) is None  # drawn parameter sets: no re-simulation


def test_spatial_and_nonspatial_scenarios_are_not_run_together(folder):
    with pytest.raises(ValueError, match="all be non-spatial or all on the same map — found non-spatial: amur-2015-nonspatial; the map"):
        simulate(load_scenario("amur-2015-nonspatial").replace({"run.years": YEARS}), _scenario(folder).replace({"name": "map"}), replicates=1, workers=1)


def test_a_process_parameter_of_the_map_is_a_dotted_key_calibration_and_sweeps_can_set(folder):
    from pardus.spatial import spatial_params

    sc = _scenario(folder, territories={"prey_take": 0.3})
    moved = sc.replace({"landscape.territories.prey_take": 0.2, "landscape.dispersal.transient_mortality": 0.25})
    p = spatial_params(moved)
    assert p.territories.prey_take == 0.2 and p.dispersal.transient_mortality == 0.25
    assert spatial_params(sc).territories.prey_take == 0.3


def test_populations_live_in_their_region_and_one_off_the_map_stays_empty(folder):
    sc = _scenario(folder).replace({"populations.russia.region": "china", "populations.china.region": "russia"})
    ds = simulate(sc, replicates=1, seed=2, workers=1)
    forest = ds["forest_km2"].isel(scenario=0, replicate=0, year=0)
    plain = simulate(_scenario(folder), replicates=1, seed=2, workers=1)["forest_km2"].isel(scenario=0, replicate=0, year=0)
    assert float(forest.sel(population="russia")) == float(plain.sel(population="china"))  # russia now lives on the Chinese side
    with pytest.raises(ScenarioError, match="populations.china — lives in region 'china', as populations.russia does"):
        _scenario(folder).replace({"populations.russia.region": "china"})
    with pytest.raises(ScenarioError, match="set populations.russia.region to one of them, or initial_size = 0"):
        _scenario(folder).replace({"populations.russia.region": ""})


def test_a_population_put_off_the_map_is_quiet_but_animals_released_into_it_are_said():
    """amur-2015 puts lazovsky off the map explicitly (region = ""): no warning, nor for a patrol
    there; a release into it is said (its animals would not be simulated). A population off the
    map by its name only is said, and so is every intervention in it."""
    from pardus.spatial import spatial_warnings

    sc = load_scenario("amur-2015")
    assert sc.populations["lazovsky"].region == "" and spatial_warnings(sc) == []
    patrol = sc.replace({"interventions": {"p": {"type": "anti_poaching", "population": "lazovsky", "start": 2016, "effort": 1.0}}})
    assert spatial_warnings(patrol) == []
    rel = sc.replace({"interventions": {"rel": {"type": "release", "population": "lazovsky", "start": 2016, "females": 2, "males": 2}}})
    assert spatial_warnings(rel) == ["interventions.rel — into lazovsky, which is off the map: the animals are not simulated; give populations.lazovsky a region on the map"]
    hist = load_scenario("amur-history-nonspatial").replace({
        "landscape": {"source": "default"}, "populations.southwest.region": "russia",
        "populations.ussuriysk.initial_size": 0, "populations.lazovsky.initial_size": 0, "populations.lazovsky.region": "",
    })  # fmt: skip
    w = spatial_warnings(hist)
    assert any(x.startswith("populations.ussuriysk — off the map (no region 'ussuriysk'") for x in w), w
    assert any(x.startswith("interventions.habitat-loss-ussuriysk — in ussuriysk, which is off the map: it does nothing") for x in w), w
    assert not any("lazovsky" in x for x in w), w
    assert spatial_warnings(load_scenario("amur-history")) == []


def test_every_default_of_the_map_processes_has_its_source_and_explain_shows_it():
    """Each parameter of the process tables ([landscape.fire] …) that the scenario does not give
    has a source in its class (SOURCES): an assumption with its range or values, or a
    publication; `explain` shows it for a scenario on the map."""
    import dataclasses
    import re

    from pardus.scenario.explain import _landscape_parameters as landscape_parameters
    from pardus.scenario.loader import resolve_scenario
    from pardus.spatial import DERIVED, TABLES

    cited = re.compile(r"et al\.|\b(19|20)\d\d\b|altaconservation")
    for table, cls in TABLES.items():
        names = [f.name for f in dataclasses.fields(cls)]
        assert set(cls.SOURCES) == set(names) - set(DERIVED.get(table, {})), table
        defaults = cls()
        for name, src in cls.SOURCES.items():
            categorical = isinstance(getattr(defaults, name), tuple) and all(isinstance(v, str) for v in getattr(defaults, name))
            # an assumption gives its range (a categorical default: its values)
            assert ("assumption" in src and (categorical or re.search(r"\d\s*–\s*\d", src))) or cited.search(src), (table, name, src)
    res = resolve_scenario("amur-2015")
    params = landscape_parameters(res)
    assert params["landscape.fire.ignitions_per_weight"] == 0.05
    assert res.sources["landscape.fire.ignitions_per_weight"] == TABLES["fire"].SOURCES["ignitions_per_weight"]
    assert res.sources["landscape.prey.offtake"] == "= prey.offtake (the scenario's own value)"
