"""Home ranges on the map (MODEL.md §4.6): grown from cells with enough prey and acceptable
cover, exclusive within a sex, males' overlapping females'."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.landscape import Grid
from pardus.landscape.default import default_landscape
from pardus.landscape.layers import LAYERS
from pardus.population.table import RESIDENT, Population
from pardus.processes.territories import Territories, TerritoryParams

C = {name: code for code, name in LAYERS["cover"].codes.items()}


def _animals(sexes, cells, reps=None):
    m = len(sexes)
    pop = Population(n_loci=1, capacity=max(m, 4))
    pop.sex[:m] = sexes
    pop.cell[:m] = cells
    pop.rep[:m] = 0 if reps is None else reps
    pop.n = m
    return pop


@pytest.fixture(scope="module")
def settled():
    land = default_landscape()
    p = TerritoryParams()
    T = Territories(p, land.grid.neighbour_table, land.n_cells, 1)
    rng = np.random.default_rng(0)
    landc = np.flatnonzero(land.layers["cover"] != 0)
    m = 3000
    pop = _animals(rng.integers(0, 2, m), rng.choice(landc, m))
    T.settle(pop, np.arange(m), land.layers)
    return land, p, T, pop


def test_ranges_meet_the_prey_requirement_on_acceptable_cells_and_are_exclusive_within_a_sex(settled):
    land, p, T, pop = settled
    m = pop.n
    res = pop.range_id[:m] >= 0
    assert (pop.status[:m][res] == RESIDENT).all()
    ok = p.acceptable(land.layers["cover"])
    stock = land.layers["prey"] * land.layers["area_km2"]
    held = {0: [], 1: []}
    for i in np.flatnonzero(res):
        cells, w = T.table.cells_of(int(pop.range_id[i]))
        sex = int(pop.sex[i])
        assert ok[cells].all()
        assert stock[cells].sum() >= p.required_stock(sex) - 1e-9
        assert np.isclose(w.sum(), 1.0)
        assert pop.cell[i] == cells[0]  # the animal lives in its range
        held[sex].append(cells)
    for sex in (0, 1):
        allc = np.concatenate(held[sex])
        assert allc.size == np.unique(allc).size, f"sex {sex}: a cell is in two ranges"


def test_range_sizes_and_overlap_are_those_of_amur_leopards(settled):
    """MODEL.md §4.6: female ranges ≈ 40 km² (25–100), males 100–300 km² overlapping 2–3
    females."""
    land, p, T, pop = settled
    m = pop.n
    res = pop.range_id[:m] >= 0
    size = lambda i: T.table.cells_of(int(pop.range_id[i]))[0].size  # noqa: E731 (1 km² cells)
    f = [size(i) for i in np.flatnonzero(res & (pop.sex[:m] == 0))]
    males = np.flatnonzero(res & (pop.sex[:m] == 1))
    assert 30 <= np.mean(f) <= 50 and max(f) <= p.female_max_cells
    assert all(p.male_min_cells <= size(i) <= p.male_max_cells for i in males)
    # a male "overlaps" a female whose range lies at least half inside his
    females_per_male = []
    for i in males:
        cells, _ = T.table.cells_of(int(pop.range_id[i]))
        fr = T.owner[0, cells]
        ids, inside = np.unique(fr[fr >= 0], return_counts=True)
        total = np.array([T.table.cells_of(int(f))[0].size for f in ids])
        females_per_male.append(int((inside >= 0.5 * total).sum()))
    assert 2.0 <= np.mean(females_per_male) <= 4.0, np.mean(females_per_male)
    # saturation: far more candidates than ranges, so the landscape is full
    assert res.sum() < 0.2 * m


def test_a_freed_range_can_be_taken_again_and_avoided_cover_is_never_used():
    grid = Grid.regular(1, 12, 1000.0, neighbours=4)
    cover = np.array([C["oak_forest"]] * 5 + [C["grassland"]] + [C["oak_forest"]] * 6, dtype=np.int8)
    layers = {"cover": cover, "prey": np.full(12, 10.0), "area_km2": np.ones(12)}
    p = TerritoryParams(kills_per_leopard=30.0, prey_take=1.0, need_female=1.0, search_radius=3)  # 30 stock = 3 cells
    T = Territories(p, grid.neighbour_table, 12, 1)
    pop = _animals([0, 0, 0], [0, 1, 4])
    # the first takes 0–2; the second, at 1, finds only 3–4 free within 3 cells, too small (the
    # grassland at 5 is avoided); the third, at 4, tries 3 and 4, then settles beyond it, 6–8
    assert T.settle(pop, np.arange(3), layers) == 2
    assert T.table.cells_of(int(pop.range_id[0]))[0].tolist() == [0, 1, 2]
    assert pop.range_id[1] < 0
    assert sorted(T.table.cells_of(int(pop.range_id[2]))[0].tolist()) == [6, 7, 8]
    T.release([pop.range_id[0]])
    again = _animals([0], [1])
    assert T.settle(again, np.arange(1), layers) == 1
    assert sorted(T.table.cells_of(int(again.range_id[0]))[0].tolist()) == [0, 1, 2]


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="unknown cover"):
        TerritoryParams(avoided=("desert",))
    with pytest.raises(ValueError, match="prey_take"):
        TerritoryParams(prey_take=0.0)
