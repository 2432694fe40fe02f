"""Succession and habitat loss as state transitions on cover (MODEL.md §4.1, §4.3), and the fire
process's bookkeeping of fire intervals."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.landscape import Grid
from pardus.landscape.layers import LAYERS
from pardus.processes.base import State
from pardus.processes.fire import Fire, FireParams
from pardus.processes.succession import Succession, SuccessionParams

C = {name: code for code, name in LAYERS["cover"].codes.items()}


def _state(cover, burned=None, interval=None, age=None, zone=None, reps=1):
    n = len(cover)
    layers = {
        "cover": np.tile(np.asarray(cover, np.int8), reps),
        "burned": np.tile(np.zeros(n, bool) if burned is None else np.asarray(burned, bool), reps),
        "fire_interval": np.tile(np.zeros(n, np.int32) if interval is None else np.asarray(interval, np.int32), reps),
        "cover_age": np.tile(np.zeros(n, np.int32) if age is None else np.asarray(age, np.int32), reps),
        "zone": np.tile(np.zeros(n, np.int8) if zone is None else np.asarray(zone, np.int8), reps),
        "no_conversion": np.zeros(n * reps, dtype=bool),
    }
    return State(year=0, t=0, pop=None, layers=layers, tally={}, is_lethal=np.zeros(1, bool), n_reps=reps)


def _step(params, grid, state, seed=0):
    Succession(params, grid).step(state, np.random.default_rng(seed))
    return state.layers["cover"], state.layers["cover_age"]


def test_fire_transitions_follow_the_state_and_transition_rules():
    """Certain transitions (probability 1): burned mixed → oak; oak reburned within τ1 → shrub,
    later → stays oak; shrub reburned within τ2 → grass; grass burned stays grass; every burned
    cell's cover age restarts."""
    grid = Grid.regular(1, 7, 1000.0, neighbours=4)
    p = SuccessionParams(pine_killed=1.0, oak_to_shrub=1.0, shrub_to_grass=1.0)
    cover = [C["mixed_forest"], C["oak_forest"], C["oak_forest"], C["shrubland"], C["shrubland"], C["grassland"], C["mixed_forest"]]
    burned = [True, True, True, True, True, True, False]
    interval = [3, 10, 11, 5, 6, 1, 0]  # τ1 = 10, τ2 = 5
    state = _state(cover, burned, interval, age=[7] * 7)
    out, age = _step(p, grid, state)
    assert out.tolist() == [C["oak_forest"], C["shrubland"], C["oak_forest"], C["grassland"], C["shrubland"], C["grassland"], C["mixed_forest"]]
    assert age.tolist() == [0, 0, 0, 0, 0, 0, 8]


def test_recovery_without_fire_takes_its_years_and_needs_a_seed_source():
    grid = Grid.regular(1, 9, 1000.0, neighbours=4)
    p = SuccessionParams(grass_to_shrub=10, shrub_to_oak=25, oak_to_mixed=80, seed_distance=3)
    cover = [C["grassland"], C["grassland"], C["shrubland"], C["shrubland"], C["oak_forest"], C["oak_forest"], C["mixed_forest"], C["oak_forest"], C["agriculture"]]
    age = [8, 9, 23, 24, 78, 79, 50, 200, 50]
    out, new_age = _step(p, grid, _state(cover, age=age))
    # grass at age 9 → 10 years: shrub; shrub 24 → 25: oak; oak within reach of mixed at 80: mixed, at 79 not yet
    assert out.tolist() == [C["grassland"], C["shrubland"], C["shrubland"], C["oak_forest"], C["oak_forest"], C["mixed_forest"], C["mixed_forest"], C["mixed_forest"], C["agriculture"]]
    assert new_age.tolist() == [9, 0, 24, 0, 79, 0, 51, 0, 51]
    # without a seed source within 3 cells, old oak stays oak
    far = [C["oak_forest"]] * 8 + [C["mixed_forest"]]
    out, _ = _step(p, grid, _state(far, age=[200] * 9))
    assert out[:5].tolist() == [C["oak_forest"]] * 5 and out[5] == C["mixed_forest"]  # cells 5–7 are within 3 of cell 8


def test_logging_and_clearing_happen_at_their_rates_outside_protected_zones():
    """Each unprotected forest cell is logged with probability logging_rate a year; binomial
    tolerance Z = 4 SE; protected cells (buffer, core) never."""
    n = 4000
    grid = Grid.regular(1, n, 1000.0, neighbours=4)
    cover = np.full(n, C["mixed_forest"])
    zone = np.where(np.arange(n) < n // 2, 0, 2)  # the second half is core
    p = SuccessionParams(logging_rate=0.2)
    out, _ = _step(p, grid, _state(cover, zone=zone, age=[1] * n), seed=3)
    logged = out[: n // 2] == C["oak_forest"]
    se = np.sqrt(0.2 * 0.8 / (n // 2))
    assert abs(logged.mean() - 0.2) < 4 * se
    assert (out[n // 2 :] == C["mixed_forest"]).all()
    # clearing only next to farmland
    cover = np.array([C["agriculture"], C["oak_forest"], C["oak_forest"]])
    out, _ = _step(SuccessionParams(clearing_rate=1.0), Grid.regular(1, 3, 1000.0, neighbours=4), _state(cover, age=[1, 1, 1]))
    assert out.tolist() == [C["agriculture"], C["agriculture"], C["oak_forest"]]  # no clearing spreads within a year
    # a protected area set by an intervention (no_conversion) is not logged either
    cover = np.full(n, C["mixed_forest"])
    state = _state(cover, age=[1] * n)
    state.layers["no_conversion"][: n // 2] = True
    out, _ = _step(SuccessionParams(logging_rate=1.0), grid, state, seed=4)
    assert (out[: n // 2] == C["mixed_forest"]).all() and (out[n // 2 :] == C["oak_forest"]).all()


def test_fire_records_the_interval_since_the_previous_fire():
    grid = Grid.regular(3, 3, 1000.0, neighbours=4)
    layers = {
        "cover": np.full(9, C["grassland"], np.int8),
        "human_access": np.ones(9),
        "firebreak": np.zeros(9),
        "suppression": np.zeros(9, dtype=bool),
        "years_since_fire": np.arange(9, dtype=np.int32),
    }
    state = State(year=0, t=0, pop=None, layers=layers, tally={}, is_lethal=np.zeros(1, bool))
    params = FireParams.with_cover(flammability={"grassland": 1.0}, p_spread={"grassland": 1.0}, ignitions_per_weight=1.0)
    before = layers["years_since_fire"].copy()
    Fire(params, grid.neighbour_table).step(state, np.random.default_rng(1))
    b = state.layers["burned"]
    assert b.all()  # spread 1 on a connected grid: everything burns
    np.testing.assert_array_equal(state.layers["fire_interval"], before + 1)
    assert (state.layers["years_since_fire"] == 0).all()


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="pine_killed is a probability"):
        SuccessionParams(pine_killed=1.5)
    with pytest.raises(ValueError, match="at least one year"):
        SuccessionParams(shrub_to_oak=0)
    with pytest.raises(ValueError, match="unknown cover class"):
        FireParams.with_cover(flammability={"forest": 1.0})
