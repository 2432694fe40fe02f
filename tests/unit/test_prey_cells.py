"""Prey per cell (MODEL.md §4.4): logistic growth toward the cover's capacity, human offtake,
predation spread over home ranges, feeding."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.landscape import RangeTable
from pardus.landscape.layers import LAYERS
from pardus.population.table import Population
from pardus.processes.base import State
from pardus.processes.prey_cells import CellPrey, CellPreyParams

C = {name: code for code, name in LAYERS["cover"].codes.items()}


def _layers(n, cover, prey, access=0.0, effort=0.0, ban=0.0, feeding=0.0, factor=1.0, area=1.0):
    full = lambda v, dt=float: np.broadcast_to(np.asarray(v, dt), (n,)).copy()  # noqa: E731
    return {
        "cover": full(cover, np.int8), "prey": full(prey), "prey_capacity_factor": full(factor), "human_access": full(access),
        "patrol_effort": full(effort), "hunting_ban": full(ban), "feeding": full(feeding), "area_km2": full(area),
    }  # fmt: skip


def _state(layers, pop=None, ranges=None, reps=1):
    return State(year=0, t=0, pop=pop, layers=layers, tally={}, is_lethal=np.zeros(1, bool), n_reps=reps, ranges=ranges)


def test_logistic_growth_toward_the_capacity_of_the_cover_with_offtake_and_feeding():
    p = CellPreyParams(growth_sd=0.0, offtake=0.2, patrol_max_effect=0.5, patrol_half_effort=1.0)
    cover = [C["oak_forest"], C["grassland"], C["oak_forest"], C["oak_forest"], C["water"], C["oak_forest"]]
    L = _layers(6, cover, [4.0, 4.0, 4.0, 4.0, 4.0, 4.0], access=[0, 0, 1, 1, 0, 0], effort=[0, 0, 0, 1, 0, 0], ban=[0, 0, 0, 0, 0, 0], feeding=[0, 0, 0, 0, 0, 0.5], factor=[1, 1, 1, 1, 1, 2])
    proc = CellPrey(p, 6)
    proc.step(_state(L), np.random.default_rng(0))
    K = np.array([18.0, 3.0, 18.0, 18.0, 0.0, 36.0])  # oak 18, grassland 3, water 0 (default capacities); factor 2 doubles
    P = 4.0
    growth = 0.4 * P * (1 - P / K[:4])
    expect = [P + growth[0], max(P + growth[1], 0), P + growth[2] - 0.2 * P, P + growth[3] - 0.2 * (1 - 0.5 * 0.5) * P, 0.0, P + 0.4 * P * (1 - P / 36) + 0.5]
    np.testing.assert_allclose(L["prey"], expect, rtol=1e-12)
    # the harvested logistic settles at K (1 − h / r)
    L = _layers(1, C["oak_forest"], 4.0, access=1.0)
    for _ in range(300):
        proc = CellPrey(p, 1)
        proc.step(_state(L), np.random.default_rng(0))
    assert L["prey"][0] == pytest.approx(18.0 * (1 - 0.2 / 0.4), rel=1e-6)


def test_leopards_eat_over_their_home_ranges_by_use_and_prey_and_where_they_are_without_one():
    p = CellPreyParams(growth_rate=0.0, growth_sd=0.0, offtake=0.0, kills_per_leopard=40.0)
    n = 4
    L = _layers(n, C["oak_forest"], 100.0, area=2.0)
    ranges = RangeTable()
    rid = ranges.add([0, 1], weights=[3.0, 1.0])
    pop = Population(n_loci=1, capacity=8)
    for i, (cell, sex, age, r) in enumerate([(0, 0, 5, rid), (3, 1, 5, -1), (2, 0, 0, -1)]):  # resident female, male without a range, a cub
        pop.sex[i], pop.age[i], pop.cell[i], pop.range_id[i] = sex, age, cell, r
    pop.n = 3
    CellPrey(p, n).step(_state(L, pop, ranges), np.random.default_rng(0))
    eaten = 100.0 - L["prey"]
    # the female (need 1) eats 40 kills over 2 km² cells: 3/4 and 1/4 of 20 per km²; the adult male (need 1.25) at his cell; cubs eat within their mother's share
    np.testing.assert_allclose(eaten, [15.0, 5.0, 0.0, 25.0], rtol=1e-12)
    # where the prey differs, the female hunts in proportion to use × stock: cell 0 holds 3 × 50 × 2,
    # cell 1 holds 1 × 150 × 2 (use-weighted) — half of her 40 kills from each, 10 per km²
    L = _layers(n, C["oak_forest"], 100.0, area=2.0)
    L["prey"][:2] = [50.0, 150.0]
    CellPrey(p, n).step(_state(L, pop, ranges), np.random.default_rng(0))
    np.testing.assert_allclose([50.0, 150.0] - L["prey"][:2], [10.0, 10.0], rtol=1e-12)


def test_one_deviate_per_replicate_moves_every_cell_of_it():
    p = CellPreyParams(growth_sd=0.3, offtake=0.0)
    L = _layers(6, C["oak_forest"], 4.0)
    CellPrey(p, 3).step(_state(L, reps=2), np.random.default_rng(5))
    a, b = L["prey"][:3], L["prey"][3:]
    assert np.allclose(a, a[0]) and np.allclose(b, b[0]) and not np.isclose(a[0], b[0])


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="one value per cover class"):
        CellPreyParams(capacity_by_cover=(1.0, 2.0))
    with pytest.raises(ValueError, match="offtake lies in 0–1"):
        CellPreyParams(offtake=1.5)


def test_prey_moves_toward_its_habitat_neighbours_and_recolonises_an_empty_cell():
    from pardus.landscape import Grid

    g = Grid.regular(1, 4, 1000.0, neighbours=4)
    p = CellPreyParams(growth_rate=0.0, growth_sd=0.0, offtake=0.0, kills_per_leopard=0.0, movement=0.25)
    L = _layers(4, C["oak_forest"], 8.0)
    L["cover"][3] = C["water"]
    L["prey"][:] = [0.0, 8.0, 4.0, 0.0]
    CellPrey(p, 4, g.neighbour_table).step(_state(L), np.random.default_rng(0))
    # cell 0's only habitat neighbour holds 8: a quarter of the way; cell 1 between 0 and 4; cell 2 beside 8 (water does not count)
    np.testing.assert_allclose(L["prey"], [2.0, 8.0 + 0.25 * (2.0 - 8.0), 5.0, 0.0])
