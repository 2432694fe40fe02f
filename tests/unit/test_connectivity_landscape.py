"""Connectivity on a scenario's landscape (pardus.connectivity.landscape): the resistance surface
derived from the map dispersal, the interventions in force in the chosen year, cores and
candidate cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pardus.connectivity.landscape import candidate_cells, conductance, core_grid, map_state, resistance
from pardus.landscape.layers import COVER_CODES, LAYERS
from pardus.landscape.targets import TargetError
from pardus.processes.map_dispersal import DEFAULT_BARRIER, DEFAULT_COVER_RESISTANCE, DEFAULT_ROAD_DEATH, DEFAULT_ROAD_RESISTANCE
from pardus.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def crossing_2020():
    return map_state(load_scenario(str(EXAMPLES / "spatial-crossing.toml")), 2020)


def test_resistance_is_the_inverse_of_the_walk_step_weight_times_the_chance_of_passing(crossing_2020):
    s = crossing_2020
    L = s.layers
    r = resistance(s).ravel()
    cover, road, access = L["cover"], L["road"], L["human_access"]
    forest = (cover == LAYERS["cover"].code("mixed_forest")) & (road == 0)
    assert forest.any()
    # resistances are relative to forest without people: exp(resistance_access · access) there
    np.testing.assert_allclose(r[forest], np.exp(s.dispersal.resistance_access * access[forest]), rtol=1e-12)
    assert r[forest].min() == pytest.approx(1.0, abs=1e-4)
    assert np.isnan(r[cover == 0]).all()  # no walk enters water
    hw = LAYERS["road"].code("highway")
    for crossing, factor in ((False, 1.0), (True, 0.1)):  # crossing_effect 0.9 of the default
        cells = np.flatnonzero((road == hw) & (L["crossing"].astype(bool) == crossing))
        assert cells.size
        i = cells[0]
        rho = DEFAULT_COVER_RESISTANCE.get(COVER_CODES[int(cover[i])], 0.0)
        rho += DEFAULT_ROAD_RESISTANCE["highway"] + s.dispersal.resistance_access * access[i]
        expected = math.exp(rho) / ((1 - DEFAULT_BARRIER["highway"] * factor) * (1 - DEFAULT_ROAD_DEATH["highway"] * factor))
        assert r[i] == pytest.approx(expected, rel=1e-12)


def test_the_interventions_in_force_in_the_year_set_the_surface():
    sc = load_scenario(str(EXAMPLES / "spatial-crossing.toml"))  # crossings from 2016
    before, after = map_state(sc, 2015), map_state(sc, 2016)
    assert not before.layers["crossing"].any() and after.layers["crossing"].any()
    changed = ~np.isclose(resistance(before), resistance(after), rtol=0, atol=0, equal_nan=True)
    p = after.dispersal
    hindered = (np.asarray(p.barrier) + np.asarray(p.road_death))[after.layers["road"].astype(int)] > 0  # tracks hinder nothing
    np.testing.assert_array_equal(changed.ravel(), hindered & after.layers["crossing"].astype(bool) & (after.layers["cover"] > 0))
    assert (resistance(after) <= resistance(before))[~np.isnan(resistance(after))].all()
    with pytest.raises(ValueError, match="give a year in that span"):
        map_state(sc, 1990)
    with pytest.raises(ValueError, match="has no \\[landscape\\]"):
        map_state(load_scenario("amur-2015-nonspatial"))


def test_cores_and_candidates_are_areas_of_the_map_with_one_message_for_each_mistake(crossing_2020):
    s = crossing_2020
    cores = core_grid(s, ["zone:core", str(EXAMPLES / "coastal-strip.geojson")])
    assert set(np.unique(cores)) == {0, 1, 2}
    assert ((cores > 0) <= (conductance(s) > 0).reshape(cores.shape)).all()
    zone = s.landscape.regions["zone"]
    np.testing.assert_array_equal((cores == 1).ravel(), zone.mask("core") & (conductance(s) > 0))
    with pytest.raises(TargetError, match="at least two habitat cores"):
        core_grid(s, ["zone:core"])
    with pytest.raises(TargetError, match="must not overlap"):
        core_grid(s, ["zone:core", "zone:core"])
    with pytest.raises(TargetError, match="its regions are"):
        core_grid(s, ["zone:core", "zone:nowhere"])
    hw = candidate_cells(s, "highway")
    np.testing.assert_array_equal(hw.ravel(), (s.layers["road"] == LAYERS["road"].code("highway")) & (s.layers["cover"] > 0))
    assert candidate_cells(s, "roads").sum() > hw.sum()
    with pytest.raises(TargetError, match="or give 'roads' or a road class"):
        candidate_cells(s, "motorway")
