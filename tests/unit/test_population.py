"""The individual table: compaction keeps exactly the living rows, in order, with their data."""

import numpy as np
import pytest

from pardus.population.table import ALIVE, COLUMNS, Population


def _filled(n=12, cap=16):
    p = Population(n_loci=3, capacity=cap)
    p.n = n
    p.id[:n] = np.arange(n) * 3
    p.sex[:n] = np.arange(n) % 2
    p.age[:n] = np.arange(n) + 1
    p.cell[:n] = np.arange(n) % 3
    p.F[:n] = np.arange(n) / 100
    p.mother[:n] = np.arange(n) + 1000
    p.father[:n] = np.arange(n) + 2000
    p.origin[:n] = np.arange(n) % 3
    p.protected[:n] = np.arange(n) % 4 == 0
    p.captive_share[:n] = np.arange(n) / 50
    p.kin[:n, :n] = np.arange(n)[:, None] * 100 + np.arange(n)[None, :]
    p.geno[:n] = np.arange(n)[:, None, None] * 10 + np.arange(3)[None, :, None] + np.array([0, 5])[None, None, :]
    p.cause[:n] = ALIVE
    return p


def test_remove_dead_keeps_living_rows_in_order_with_all_their_data():
    p = _filled()
    dead = np.array([0, 3, 4, 9])
    p.cause[dead] = 2
    before = {name: getattr(p, name)[: p.n].copy() for name in COLUMNS}
    kin, geno = p.kin[:12, :12].copy(), p.geno[:12].copy()
    keep = np.setdiff1d(np.arange(12), dead)
    p.remove_dead()
    assert p.n == keep.size
    assert np.all(p.cause[: p.n] == ALIVE)
    for name in COLUMNS:
        if name != "cause":
            np.testing.assert_array_equal(getattr(p, name)[: p.n], before[name][keep], err_msg=name)
    # kinship is read through each survivor's slot: the store does not move, the slots do
    np.testing.assert_array_equal(p.kinship(np.arange(p.n)), kin[np.ix_(keep, keep)])
    np.testing.assert_array_equal(p.slot[: p.n], keep)
    np.testing.assert_array_equal(p.geno[: p.n], geno[keep])
    # row_of finds every survivor by id and nobody else
    np.testing.assert_array_equal(p.row_of(before["id"][keep]), np.arange(keep.size))
    assert np.all(p.row_of(before["id"][dead]) == -1)


def test_remove_dead_with_nobody_dead_or_everybody_dead():
    p = _filled()
    p.remove_dead()
    assert p.n == 12
    p.cause[: p.n] = 0
    p.remove_dead()
    assert p.n == 0


def test_reserve_grows_and_keeps_content():
    p = _filled(n=12, cap=16)
    kin = p.kin[:12, :12].copy()
    p.reserve(30)
    assert p.cap >= 42
    np.testing.assert_array_equal(p.kin[:12, :12], kin)
    np.testing.assert_array_equal(p.age[:12], np.arange(12) + 1)
    assert np.all(p.cause[12:] == ALIVE)


def test_related_founders_have_the_configured_kinship_and_diversity():
    """genetics.founder_kinship = f: founders of a population have kinship f with each other,
    F = f, and genotypes whose gene diversity is (1 − f)(1 − 1/2N) in expectation (= 1 − mean
    kinship with self-pairs, the PMx identity); unrelated between populations. (The dependent
    young of the stable start are cubs of founders, not founders: left out here.)"""
    import copy

    from pardus.engine import Replicate, prepare
    from pardus.population.genetics import diversity
    from pardus.scenario import resolve_scenario, scenario_from_dict

    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw["genetics"]["founder_kinship"] = 0.2
    prep = prepare(scenario_from_dict(raw))
    gds, expect = [], []
    for r in range(60):
        rep = Replicate(prep, seed=3, replicate=r)
        p = rep.pop
        n = p.n
        founder = p.mother[:n] == -1
        russia = (p.cell[:n] == 0) & founder
        china = (p.cell[:n] == 1) & founder
        k_rr = p.kinship(np.flatnonzero(russia))
        off = ~np.eye(russia.sum(), dtype=bool)
        assert np.allclose(k_rr[off], 0.2) and np.allclose(np.diag(k_rr), 0.6)
        assert np.allclose(p.kinship(np.flatnonzero(russia), np.flatnonzero(china)), 0.0)
        assert np.allclose(p.F[:n][founder], 0.2)
        rows = np.flatnonzero(russia)
        expect.append(0.8 * (1 - 1 / (2 * rows.size)))
        sub = p.geno[rows]
        gds.append(diversity(sub, rows.size, prep.scenario.genetics.neutral_loci, p.next_allele)[0])
        # no founder is homozygous for a lethal allele
        lethal_loci = sub[:, prep.scenario.genetics.neutral_loci :, :]
        assert not ((lethal_loci[..., 0] == lethal_loci[..., 1]) & rep._lethal[lethal_loci[..., 0]]).any()
    expected = float(np.mean(expect))
    se = np.std(gds, ddof=1) / np.sqrt(len(gds))
    assert abs(np.mean(gds) - expected) < 4 * se, (np.mean(gds), expected, se)  # 4·SE over replicates


def _pairs_exact(p) -> float:
    return float(p.kinship(np.arange(p.n)).sum())


def test_kinship_sum_follows_births_releases_and_deaths_exactly_and_slots_are_reused():
    """The running Σ kinship (mean kinship at the census without an O(N²) pass) equals the sum
    recomputed from the store after 40 years of births, deaths, truncation and releases; and the
    store is reused: it holds far fewer slots than animals have lived."""
    import copy

    from pardus.engine import Replicate, prepare
    from pardus.scenario import resolve_scenario, scenario_from_dict

    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw["run"]["years"] = 40
    raw["interventions"] = {
        "rel": {"type": "release", "population": "russia", "start": 2020, "end": 2050, "every": 3, "females": 2, "males": 2}
    }
    prep = prepare(scenario_from_dict(raw))
    for r in range(3):
        rep = Replicate(prep, seed=5, replicate=r)
        rep.run()
        p = rep.pop
        assert p.kin_sum is not None  # kept up to date, not recomputed
        if p.n:
            assert p.kin_sum == pytest.approx(_pairs_exact(p), rel=1e-9)
        assert p.next_id > 2 * p.kin.shape[0], (p.next_id, p.kin.shape)  # slots of the dead were reused


def test_kinship_store_grows_in_float64_then_float32_and_keeps_values():
    from pardus.population.table import KIN_FLOAT32_ABOVE

    p = Population(n_loci=1, capacity=16, kin_capacity=8)
    p.reserve(8)
    p.assign_slots(np.arange(8))
    p.n = 8
    p.set_kinship(np.arange(8), np.arange(64.0).reshape(8, 8) / 1000)
    assert p.kin.dtype == np.float64
    p.reserve(KIN_FLOAT32_ABOVE)
    p.assign_slots(np.arange(8, 8 + KIN_FLOAT32_ABOVE))
    assert p.kin.shape[0] >= KIN_FLOAT32_ABOVE + 8 and p.kin.dtype == np.float32
    np.testing.assert_allclose(p.kinship(np.arange(8)), np.arange(64.0).reshape(8, 8) / 1000, rtol=1e-6)
    assert len(set(p.slot[: 8 + KIN_FLOAT32_ABOVE].tolist())) == 8 + KIN_FLOAT32_ABOVE  # no slot given twice


def test_the_years_dead_give_their_slots_to_the_years_newborns():
    """Deaths are marked before reproduction; release_dead_slots lets the newborns take those
    slots, so the store holds survivors + newborns. The running pair sum stays exact, the
    living keep their kinship, and a dead animal without a slot reads as NaN."""
    from pardus.population.genetics import add_births

    p = _filled(n=12, cap=32)
    kin = np.full((12, 12), 0.02) + np.diag(np.full(12, 0.48))
    p.set_kinship(np.arange(12), kin)
    p.mean_kinship()  # start the running sum
    dead = np.array([1, 5, 6])
    p.cause[dead] = 0
    freed = p.slot[dead].copy()
    p.release_dead_slots()
    assert np.all(p.slot[dead] == -1)
    living = np.setdiff1d(np.arange(12), dead)
    np.testing.assert_array_equal(p.kinship(living), kin[np.ix_(living, living)])
    assert np.isnan(p.kinship(dead)).all()
    p.reserve(3)
    new = np.arange(12, 15)
    got = p.assign_slots(new)
    assert sorted(got.tolist()) == sorted(freed.tolist())  # the newborns took the dead's slots
    p.n = 15
    p.cause[new] = ALIVE
    added = add_births(p.kin, p.slot, p.F, p.geno, np.zeros(p.next_allele + 64, bool), 12, np.array([0, 0, 2]), np.array([3, 3, 4]), 3, np.zeros(3, np.bool_), np.full((3, 3, 2), 0.7))
    p.appended(12, added)
    rows = np.r_[living, new]
    assert p.kin_sum == pytest.approx(float(p.kinship(rows).sum()), rel=1e-12)
    p.remove_dead()
    assert p.n == 12 and p.mean_kinship() == pytest.approx(float(p.kinship(np.arange(12)).mean()), rel=1e-12)


@pytest.mark.parametrize("kinship", ["dense", "pedigree"])
def test_dependent_young_of_the_stable_start_are_litters_of_founder_parents(kinship):
    """With cub dependence the young below dependence_years start as cubs of founder parents
    of breeding age at their birth (their mothers then do not breed in year 1), with the
    kinship and F of a birth: mother–cub kinship (f(m, m) + f(p, m))/2 with founder kinship θ."""
    from pardus.engine import Batch, prepare
    from pardus.scenario import load_scenario

    theta = 0.05
    sc = load_scenario("amur-2015-nonspatial").replace({"genetics.founder_kinship": theta, "genetics.kinship": kinship})
    d = sc.demography
    assert d.dependence_years == 2
    b = Batch(prepare(sc), 5, range(4))
    pop = b.pop
    n = pop.n
    assert n == 4 * sum(p.initial_size for p in sc.populations.values())  # sizes as given
    young = np.flatnonzero(pop.mother[:n] >= 0)
    assert young.size > 10 and np.all(pop.age[young] == 1)
    mothers, fathers = pop.row_of(pop.mother[young]), pop.row_of(pop.father[young])
    assert np.all(mothers >= 0) and np.all(fathers >= 0)
    assert np.all(pop.sex[mothers] == 0) and np.all(pop.age[mothers] - 1 >= d.female_breeding_age)
    assert np.all(pop.sex[fathers] == 1) and np.all(pop.age[fathers] - 1 >= d.male_breeding_age)
    assert np.all(pop.mother[mothers] == -1) and np.all(pop.rep[mothers] == pop.rep[young])  # founders, same replicate
    np.testing.assert_allclose(pop.F[young], theta, rtol=1e-12)  # parents are founders with kinship θ
    for y, m in zip(young[:5], mothers[:5]):
        np.testing.assert_allclose(pop.kinship(np.array([m]), np.array([y]))[0, 0], 0.5 * ((1 + theta) / 2 + theta), rtol=1e-12)
    # a few young are orphans (founders): mothers die between a litter's birth and the start
    assert np.unique(pop.mother[young]).size < young.size  # litters of more than one cub
