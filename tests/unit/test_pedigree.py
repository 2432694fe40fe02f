"""Kinship from the stored pedigree (genetics.kinship = "pedigree") against the dense store.

Both modes must give the same F of every newborn and the same mean kinship, to rounding, with
related founders (founder_kinship > 0), captive releases and translocations; with inbreeding
acting on neither survival nor breeding the two runs then follow the same draws exactly, so
every record can be compared year by year. The pedigree's own arithmetic is checked on a
small hand-made pedigree against kinships worked out by hand (Wright's path rule).
"""

from __future__ import annotations

import numpy as np
import pytest

from pardus.engine import Batch, kinship_mode, prepare, run_batch
from pardus.population.pedigree import Pedigree
from pardus.scenario import load_scenario


def _scenario(mode: str):
    release = {"type": "release", "population": "lazovsky", "start": 2017, "every": 3, "females": 2, "males": 2}
    move = {"type": "translocation", "source": "russia", "population": "lazovsky", "start": 2018, "every": 4, "females": 1, "males": 1, "mortality": 0.2}
    return load_scenario("amur-2015").replace(
        {
            "run.years": 30,
            "genetics.lethal_equivalents": 0.0,  # F changes no draw: both modes see the same animals
            "genetics.fertility_b": 0.0,
            "genetics.founder_kinship": 0.05,
            "genetics.kinship": mode,
            "interventions": {"release": release, "move": move},
        }
    )


@pytest.fixture(scope="module")
def both():
    return {mode: run_batch(prepare(_scenario(mode)), 4, range(3)) for mode in ("dense", "pedigree")}


def test_pedigree_and_dense_store_give_the_same_inbreeding_and_mean_kinship(both):
    d, p = both["dense"], both["pedigree"]
    assert np.array_equal(d["N"], p["N"]) and np.array_equal(d["released"], p["released"])
    assert d["released"].sum() > 0 and np.nanmax(d["mean_inbreeding"]) > 0.05  # releases, inbreeding happened
    for key in ("mean_inbreeding", "mean_kinship", "founder_genome_equivalents"):
        np.testing.assert_allclose(p[key], d[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_pairwise_kinship_of_the_living_agrees_between_the_modes():
    out = {}
    for mode in ("dense", "pedigree"):
        b = Batch(prepare(_scenario(mode).replace({"run.years": 12})), 8, [0])
        b.run()
        pop = b.pop
        out[mode] = (pop.id[: pop.n].copy(), pop.kinship(np.arange(pop.n)))
    assert np.array_equal(out["dense"][0], out["pedigree"][0])
    np.testing.assert_allclose(out["pedigree"][1], out["dense"][1], rtol=1e-10, atol=1e-13)


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
