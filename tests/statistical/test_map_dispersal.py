"""Dispersal on the map (MODEL.md §4.7): the step choice follows the resistance, roads kill and
refuse at their rates, a crossing cancels most of both, dispersers settle in vacant ranges.
Each probability is a binomial proportion over independent dispersers (their replicate streams);
tolerances are Z = 4 SE."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stat_helpers import Z  # noqa: E402

from pardus.engine import process_seed, replicate_seed  # noqa: E402
from pardus.landscape import Grid  # noqa: E402
from pardus.landscape.layers import LAYERS  # noqa: E402
from pardus.processes.map_dispersal import MapDispersalParams, direction_index, walk  # noqa: E402
from pardus.rng import Streams  # noqa: E402

C = {name: code for code, name in LAYERS["cover"].codes.items()}
ROAD = {name: code for code, name in LAYERS["road"].codes.items()}


def _streams(n, seed):
    return Streams.from_seeds([process_seed(replicate_seed(seed, r), "dispersal") for r in range(n)])


def _binom_ok(k, n, p):
    se = np.sqrt(p * (1 - p) / n)
    return abs(k / n - p) < Z * se + 1e-12, f"{k}/{n} = {k / n:.4f}, expected {p:.4f} ± {Z * se:.4f}"


def _one_step(cover, road, crossing, params, start, trials, seed):
    grid = Grid.regular(1, len(cover), 1000.0, neighbours=4)
    res = params.resistance(np.asarray(cover), np.asarray(road), np.zeros(len(cover)))
    weight = np.where(np.isfinite(res), np.exp(-np.where(np.isfinite(res), res, 0.0)), 0.0)
    s = _streams(trials, seed)
    out = []
    visits = np.zeros(len(cover), np.int32)
    for r in range(trials):
        c, d, dead, took = walk(s.s, r, start, -1, 0, weight, np.asarray(road, np.int64), np.asarray(crossing, np.bool_), grid.neighbour_table,
                                direction_index(4), params.persistence, np.asarray(params.road_death), np.asarray(params.barrier), params.crossing_effect, 1, visits)  # fmt: skip
        out.append((c, dead))
    # every cell entered counts once (a step refused by a road enters nothing; a death on it does)
    entered = np.bincount([c for c, dead in out if c != start or dead], minlength=len(cover))
    np.testing.assert_array_equal(visits, entered)
    return out


def test_a_road_kills_and_refuses_at_its_rates_and_a_crossing_cancels_most_of_both():
    p = MapDispersalParams.with_tables(road_death={"highway": 0.2}, barrier={"highway": 0.5}, crossing_effect=0.9)
    cover = [C["water"], C["oak_forest"], C["oak_forest"], C["oak_forest"]]
    road = [0, 0, ROAD["highway"], 0]
    n = 6000
    for crossing, f in (([False] * 4, 1.0), ([False, False, True, False], 0.1)):
        out = _one_step(cover, road, crossing, p, 1, n, 7 if f == 1.0 else 8)
        dead = sum(d for _, d in out)
        stayed = sum((c == 1) and not d for c, d in out)
        ok, msg = _binom_ok(dead, n, 0.2 * f)
        assert ok, msg
        ok, msg = _binom_ok(stayed, n, 0.5 * f * (1 - 0.2 * f))  # refused and alive
        assert ok, msg


def test_steps_prefer_low_resistance():
    """From a cell between forest (resistance 0) and grassland (1.5): east with probability
    1 / (1 + e^−1.5) = 0.818."""
    p = MapDispersalParams()
    cover = [C["grassland"], C["oak_forest"], C["oak_forest"]]
    out = _one_step(cover, [0, 0, 0], [False] * 3, p, 1, 5000, 9)
    east = sum(c == 2 for c, _ in out)
    ok, msg = _binom_ok(east, 5000, 1 / (1 + np.exp(-1.5)))
    assert ok, msg


def test_the_walk_keeps_its_direction_with_the_persistence_weight():
    """On an open row, after a step east the next is east with probability k / (k + 1)."""
    p = MapDispersalParams(persistence=4.0)
    grid = Grid.regular(1, 9, 1000.0, neighbours=4)
    weight = np.ones(9)
    s = _streams(4000, 10)
    east2 = went_east = 0
    for r in range(4000):
        c1, d1, _, _ = walk(s.s, r, 4, -1, 0, weight, np.zeros(9, np.int64), np.zeros(9, np.bool_), grid.neighbour_table, direction_index(4), p.persistence,
                            np.zeros(5), np.zeros(5), 0.0, 1, np.zeros(9, np.int32))  # fmt: skip
        if c1 != 5:
            continue
        went_east += 1
        c2, _, _, _ = walk(s.s, r, c1, d1, 0, weight, np.zeros(9, np.int64), np.zeros(9, np.bool_), grid.neighbour_table, direction_index(4), p.persistence,
                           np.zeros(5), np.zeros(5), 0.0, 1, np.zeros(9, np.int32))  # fmt: skip
        east2 += c2 == 6
    ok, msg = _binom_ok(east2, went_east, 4 / 5)
    assert ok, msg


def test_dispersers_settle_in_vacant_ranges_and_stop_there():
    from pardus.population.table import RESIDENT, Population
    from pardus.processes.map_dispersal import MapDispersal
    from pardus.processes.territories import Territories, TerritoryParams

    grid = Grid.regular(10, 10, 1000.0, neighbours=4)
    n = grid.n_cells
    layers = {"cover": np.full(n, C["oak_forest"], np.int8), "road": np.zeros(n, np.int8), "crossing": np.zeros(n, bool), "human_access": np.zeros(n),
              "prey": np.full(n, 5.0), "area_km2": np.ones(n)}  # fmt: skip
    T = Territories(TerritoryParams(kills_per_leopard=10.0, prey_take=1.0, search_radius=0, max_tries=1), grid.neighbour_table, n, 4)
    pop = Population(n_loci=1, capacity=8)
    for i in range(4):
        pop.sex[i], pop.cell[i], pop.rep[i], pop.status[i] = 0, i * n + 0, i, 2  # a female per replicate, transient, at the corner
    pop.n = 4
    died, settled = MapDispersal(MapDispersalParams(max_steps=20, settle_every=1), grid.neighbour_table, n).move(_streams(4, 11), pop, np.arange(4), {k: np.tile(v, 4) for k, v in layers.items()}, T)
    assert not died.any() and settled.all()
    assert (pop.status[:4] == RESIDENT).all() and (pop.range_id[:4] >= 0).all()


def test_transients_that_find_no_range_die_at_the_transient_mortality():
    """Ranges of one cell never hold a leopard's need, so every independent animal stays a
    transient; with no road deaths, the share of the year's searchers that die (cause
    dispersal) is transient_mortality. Independent animals over replicates: binomial, Z = 4 SE."""
    from pardus.engine import State, new_tally, prepare
    from pardus.landscape.default import default_landscape
    from pardus.processes.base import CAUSE_INDEX
    from pardus.scenario import load_scenario
    from pardus.spatial import SpatialBatch

    sc = load_scenario("amur-2015-nonspatial").replace({
        "run.years": 1,
        "landscape": {"territories": {"female_max_cells": 1, "male_min_cells": 1, "male_max_cells": 1},
                      "dispersal": {"road_death": [0.0] * 5, "transient_mortality": 0.15}},
    })  # fmt: skip
    b = SpatialBatch(prepare(sc), 11, range(24), default_landscape(rows=60, cols=50))
    pop = b.pop
    n = pop.n
    movers = (pop.cause[:n] == -1) & (pop.status[:n] == 2)
    assert movers.sum() > 1000 and (pop.range_id[:n] < 0).all()
    upkeep = next(p for p in b.schedule if p.name == "territories")
    state = State(year=2016, t=1, pop=pop, layers=b.layers, tally=new_tally(b.landscape.n_cells * 24, 24), is_lethal=b._lethal, n_reps=24, ranges=b.ranges)
    upkeep.step(state, b.rngs["territories"])
    dead = int((pop.cause[:n][movers] == CAUSE_INDEX["dispersal"]).sum())
    ok, msg = _binom_ok(dead, int(movers.sum()), 0.15)
    assert ok, msg
