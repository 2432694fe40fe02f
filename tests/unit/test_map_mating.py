"""Mating on the map (MODEL.md §4.6): a resident female breeds with a resident male whose range
overlaps hers; not without one; the sire is drawn among the overlapping males."""

from __future__ import annotations

import numpy as np

from pardus.landscape import Grid
from pardus.landscape.layers import LAYERS
from pardus.population.table import Population
from pardus.processes.reproduction import _NO_PEDIGREE, mate_on_map
from pardus.processes.territories import Territories, TerritoryParams
from pardus.rng import Streams

C = {name: code for code, name in LAYERS["cover"].codes.items()}


def _mate(pop, T, p=1.0, seed=0, reps=1):
    n = pop.n
    s = Streams.from_generator(np.random.default_rng(seed), reps)
    t = T.table
    return mate_on_map(
        s.s, n, pop.id, pop.cause, pop.age, pop.sex, pop.mother, pop.rep, pop.F, np.zeros((reps, 1, 1)), pop.slot, pop.range_id, pop.status,
        3, 15, 2, 4, 1.0, np.full(n, p), 0.0, -1.0, np.array([0.0, 1.0]), 0.5, _NO_PEDIGREE, t.start, t.cells, T.owner[1],
    )  # fmt: skip


def _settled(positions):
    """Animals (sex, cell) on a 1 × 30 forest strip, settled in order: females need 3 cells,
    males 6."""
    grid = Grid.regular(1, 30, 1000.0, neighbours=4)
    layers = {"cover": np.full(30, C["oak_forest"], np.int8), "prey": np.full(30, 10.0), "area_km2": np.ones(30)}
    T = Territories(TerritoryParams(kills_per_leopard=30.0, prey_take=1.0, need_male=1.0, male_min_cells=6, male_max_cells=6, search_radius=0, max_tries=1), grid.neighbour_table, 30, 1)
    pop = Population(n_loci=1, capacity=16)
    for i, (sex, cell) in enumerate(positions):
        pop.id[i], pop.sex[i], pop.cell[i], pop.age[i], pop.mother[i] = i, sex, cell, 6, -1
    pop.n = len(positions)
    pop.cause[: pop.n] = -1
    T.settle(pop, np.arange(pop.n), layers)
    return pop, T


def test_a_female_breeds_only_with_a_male_whose_range_overlaps_hers():
    # females at 0 (cells 0–2) and 20 (20–22); a male at 1 (cells 1–6): he overlaps the first only
    pop, T = _settled([(0, 0), (0, 20), (1, 1)])
    assert (pop.range_id[:3] >= 0).all()
    mothers, fathers, sexes, breeders = _mate(pop, T)
    assert breeders.tolist() == [0] and set(fathers.tolist()) == {2} and set(mothers.tolist()) == {0}
    assert mothers.size == 2  # the litter size distribution [0, 1]: always two cubs


def test_the_sire_is_drawn_among_all_overlapping_males():
    # a female at 10 (10–12); males at 7 (7–12) and 12 (13–18, touching her at no cell) and 5 (…):
    # only the males sharing a cell with her are candidates
    pop, T = _settled([(0, 10), (1, 7), (1, 13)])
    cells_m1 = set(T.table.cells_of(int(pop.range_id[1]))[0].tolist())
    cells_m2 = set(T.table.cells_of(int(pop.range_id[2]))[0].tolist())
    f_cells = set(T.table.cells_of(int(pop.range_id[0]))[0].tolist())
    expected = {i for i, c in ((1, cells_m1), (2, cells_m2)) if c & f_cells}
    seen = set()
    for seed in range(40):
        _, fathers, _, _ = _mate(pop, T, seed=seed)
        seen |= set(fathers.tolist())
    assert seen == expected and len(expected) >= 1


def test_no_breeding_without_a_range_or_with_dependent_cubs():
    pop, T = _settled([(0, 0), (1, 1)])
    pop.range_id[0] = -1  # she lost her range
    assert _mate(pop, T)[3].size == 0
    pop, T = _settled([(0, 0), (1, 1), (0, 3)])
    pop.age[2], pop.mother[2], pop.range_id[2], pop.status[2] = 1, pop.id[0], -1, 1  # a dependent cub of hers
    assert 0 not in _mate(pop, T)[3].tolist()
