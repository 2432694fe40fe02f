"""Kinship from the stored pedigree (genetics.kinship = "pedigree") against the dense store.

Both modes must give the same F of every newborn and the same mean kinship, to rounding, with
related founders (founder_kinship > 0), captive releases, translocations and kin avoidance;
with inbreeding acting on neither survival nor breeding the runs then follow the same draws
exactly, so every record can be compared year by year. Pedigree mode is run both ways it
works: with its breeder store (F and kin-avoidance pairs as lookups) and without it (every pair
walked from the pedigree, as for populations too large for the store). The pedigree's own
arithmetic is checked on a small hand-made pedigree against kinships worked out by hand
(Wright's path rule), and the breeder store against the pedigree walk through many
generations of random matings, deaths, releases, compactions and growth.
"""

from __future__ import annotations

import numpy as np
import pytest

import pardus.engine as engine
from pardus.engine import Batch, kinship_mode, prepare, run_batch
from pardus.population.breeders import BreederStore
from pardus.population.pedigree import Pedigree
from pardus.scenario import load_scenario


def _scenario(mode: str, avoid: float | None = None):
    release = {"type": "release", "population": "lazovsky", "start": 2017, "every": 3, "females": 2, "males": 2}
    move = {"type": "translocation", "source": "russia", "population": "lazovsky", "start": 2018, "every": 4, "females": 1, "males": 1, "mortality": 0.2}
    return load_scenario("amur-2015-nonspatial").replace(
        {
            "run.years": 30,
            "genetics.lethal_equivalents": 0.0,  # F changes no draw: both modes see the same animals
            "genetics.fertility_b": 0.0,
            "genetics.founder_kinship": 0.05,
            "genetics.kinship": mode,
            "demography.avoid_kinship_above": avoid,
            "interventions": {"release": release, "move": move},
        }
    )


MODES = ("dense", "pedigree", "pedigree-walk")


def _run(mode: str, avoid: float | None = None, years: int | None = None, batch: bool = True):
    """Records (or, with ``batch`` False, the finished batch) of one mode; "pedigree-walk" is
    pedigree mode without its breeder store."""
    sc = _scenario(mode.split("-")[0], avoid)
    if years is not None:
        sc = sc.replace({"run.years": years})
    with pytest.MonkeyPatch.context() as mp:
        if mode == "pedigree-walk":
            mp.setattr(engine, "PEDIGREE_STORE_MAX_BYTES", 0)
        if batch:
            return run_batch(prepare(sc), 4, range(3))
        b = Batch(prepare(sc), 8, [0])
        assert (b.pop.breeders is not None) == (mode == "pedigree")
        b.run()
        return b


@pytest.fixture(scope="module")
def both():
    return {mode: _run(mode) for mode in MODES}


@pytest.mark.parametrize("mode", MODES[1:])
def test_pedigree_and_dense_store_give_the_same_inbreeding_and_mean_kinship(both, mode):
    d, p = both["dense"], both[mode]
    assert np.array_equal(d["N"], p["N"]) and np.array_equal(d["released"], p["released"])
    assert d["released"].sum() > 0 and np.nanmax(d["mean_inbreeding"]) > 0.05  # releases, inbreeding happened
    for key in ("mean_inbreeding", "mean_kinship", "founder_genome_equivalents"):
        np.testing.assert_allclose(p[key], d[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_kin_avoidance_sees_the_same_pairs_in_every_mode():
    out = {mode: _run(mode, avoid=0.125) for mode in MODES}
    d = out["dense"]
    free = _run("dense")
    assert not np.array_equal(free["mean_inbreeding"], d["mean_inbreeding"])  # avoidance changed matings
    for mode in MODES[1:]:
        assert np.array_equal(out[mode]["N"], d["N"]), mode
        np.testing.assert_allclose(out[mode]["mean_inbreeding"], d["mean_inbreeding"], rtol=1e-10, atol=1e-13, err_msg=mode)


def test_pairwise_kinship_of_the_living_agrees_between_the_modes():
    out = {}
    for mode in MODES:
        pop = _run(mode, years=12, batch=False).pop
        out[mode] = (pop.id[: pop.n].copy(), pop.kinship(np.arange(pop.n)))
    for mode in MODES[1:]:
        assert np.array_equal(out["dense"][0], out[mode][0])
        np.testing.assert_allclose(out[mode][1], out["dense"][1], rtol=1e-10, atol=1e-13)


def test_breeder_store_agrees_with_the_pedigree_walk_through_many_generations():
    """Random matings among the living for 40 'years', random deaths, a captive group released
    half-way; a tiny first store, so that it grows and compacts many times. Every member pair is
    checked against the pedigree walk, and every newborn's F."""
    rng = np.random.default_rng(7)
    ped = Pedigree(64)
    store = BreederStore(1, ped.sire.size, capacity=4)
    g = ped.metafounder(0.05)
    store.add_metafounder(0, g, 0.05)
    living = list(ped.add_founders(40, g))
    store.reserve_nodes(ped.sire.size)
    store.founded(np.array(living), 0)
    compactions = 0
    real = store._compact

    def counted(r):
        nonlocal compactions
        compactions += 1
        real(r)

    store._compact = counted
    for year in range(40):
        if year == 20:  # a release below a captive metafounder
            c = ped.metafounder(0.1)
            store.add_metafounder(0, c, 0.1)
            new = ped.add_founders(6, c)
            store.reserve_nodes(ped.sire.size)
            store.founded(new, 0)
            living += list(new)
        arr = np.array(living)
        k = int(rng.integers(5, 15))
        mothers, fathers = rng.choice(arr, k), rng.choice(arr, k)
        mothers, fathers = mothers[mothers != fathers], fathers[mothers != fathers]
        store.enter(np.r_[mothers, fathers], ped.sire, ped.dam)
        F = store.F_of(mothers, fathers)
        walked = [ped.kinship(m, p) for m, p in zip(mothers, fathers)]
        np.testing.assert_allclose(F, walked, rtol=1e-12, atol=1e-15)
        nodes, _ = ped.add_born(mothers, fathers, F)
        store.reserve_nodes(ped.sire.size)
        store.born(nodes, mothers, fathers)
        living += list(nodes)
        dead = rng.choice(np.array(living), size=len(living) // 4, replace=False)
        store.died(dead, ped.sire, ped.dam)
        living = [x for x in living if x not in set(dead.tolist())]
        members = store.node_of[0][store.used[0]]
        members = members[members >= 0]  # (metafounders are members without a node)
        assert set(members.tolist()) >= {int(x) for x in np.r_[mothers, fathers] if x in living}
        for x in rng.choice(members, size=min(12, members.size), replace=False):
            for y in rng.choice(members, size=min(12, members.size), replace=False):
                assert store.K[0, store.pos[x], store.pos[y]] == pytest.approx(ped.kinship(x, y), rel=1e-12, abs=1e-15)
    assert compactions >= 3 and store.K.shape[1] > 4
    # dead members without pending offspring were let go: the store is not every breeder ever
    ever = np.unique(np.r_[ped.sire[: ped.n], ped.dam[: ped.n]])
    assert len(members) < np.count_nonzero(ever >= 0)


def test_hand_made_pedigree_follows_the_path_rule():
    ped = Pedigree(16)
    g = ped.metafounder(0.0)
    a, b, c = ped.add_founders(3, g)
    (x1, x2), F = ped.add_born(np.array([a, a]), np.array([b, b]))  # full sibs
    assert F.tolist() == [0.0, 0.0]
    (y,), Fy = ped.add_born(np.array([x1]), np.array([x2]))  # offspring of full sibs: F = 1/4
    (z,), Fz = ped.add_born(np.array([y]), np.array([c]))  # outcross: F = 0
    (w,), Fw = ped.add_born(np.array([y]), np.array([x1]))  # parent × offspring of full sibs
    assert Fy[0] == pytest.approx(0.25, abs=1e-15)
    assert Fz[0] == 0.0
    # f(y, x1) = ½ (f(x1, x1) + f(x2, x1)) = ½ (½ + ¼) = 3/8
    assert Fw[0] == pytest.approx(0.375, abs=1e-15)
    assert ped.kinship(x1, x2) == pytest.approx(0.25)
    assert ped.kinship(y, y) == pytest.approx(0.5 * (1 + 0.25))
    # z = y × c; f(z, a) = ½ f(y, a) = ½ · ½ (f(x1, a) + f(x2, a)) = ½ · ½ · (¼ + ¼) = 1/8
    assert ped.kinship(z, a) == pytest.approx(0.125, abs=1e-15)
    # mean kinship over ordered pairs by Colleau's method = the sum of the pairwise values
    nodes = np.array([a, b, c, x1, x2, y, z, w])
    direct = sum(ped.kinship(i, j) for i in nodes for j in nodes)
    assert ped.pair_sums(nodes, np.zeros(nodes.size, np.int64), 1)[0] == pytest.approx(direct, rel=1e-12)


def test_related_founders_below_a_metafounder():
    ped = Pedigree(8)
    g = ped.metafounder(0.1)
    h = ped.metafounder(0.0)
    a, b = ped.add_founders(2, g)
    (c,) = ped.add_founders(1, h)
    assert ped.kinship(a, b) == pytest.approx(0.1) and ped.kinship(a, a) == pytest.approx(0.55)
    assert ped.kinship(a, c) == 0.0 and ped.F[a] == pytest.approx(0.1)
    (o,), F = ped.add_born(np.array([a]), np.array([b]))
    assert F[0] == pytest.approx(0.1)


def test_auto_picks_dense_for_small_and_pedigree_for_large_populations():
    sc = load_scenario("nonspatial-vortex")
    assert kinship_mode(sc) == "dense"
    big = sc.replace({"populations.main.carrying_capacity": 100_000})
    assert kinship_mode(big) == "pedigree"
