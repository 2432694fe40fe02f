"""The individual table: compaction keeps exactly the living rows, in order, with their data."""

import numpy as np

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
    np.testing.assert_array_equal(p.kin[: p.n, : p.n], kin[np.ix_(keep, keep)])
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
    kinship with self-pairs, the PMx identity); unrelated between populations."""
    import copy

    from pardus.engine import Replicate, prepare
    from pardus.population.genetics import diversity
    from pardus.scenario import resolve_scenario, scenario_from_dict

    raw = copy.deepcopy(resolve_scenario("amur-2015").raw)
    raw["genetics"]["founder_kinship"] = 0.2
    prep = prepare(scenario_from_dict(raw))
    gds = []
    for r in range(60):
        rep = Replicate(prep, seed=3, replicate=r)
        p = rep.pop
        n = p.n
        russia = p.cell[:n] == 0
        china = p.cell[:n] == 1
        k_rr = p.kin[:n, :n][np.ix_(russia, russia)]
        off = ~np.eye(russia.sum(), dtype=bool)
        assert np.allclose(k_rr[off], 0.2) and np.allclose(np.diag(k_rr), 0.6)
        assert np.allclose(p.kin[:n, :n][np.ix_(russia, china)], 0.0)
        assert np.allclose(p.F[:n], 0.2)
        rows = np.flatnonzero(russia)
        sub = p.geno[rows]
        gds.append(diversity(sub, rows.size, prep.scenario.genetics.neutral_loci, p.next_allele)[0])
        # no founder is homozygous for a lethal allele
        lethal_loci = sub[:, prep.scenario.genetics.neutral_loci :, :]
        assert not ((lethal_loci[..., 0] == lethal_loci[..., 1]) & rep._lethal[lethal_loci[..., 0]]).any()
    N = int(russia.sum())
    expected = 0.8 * (1 - 1 / (2 * N))
    se = np.std(gds, ddof=1) / np.sqrt(len(gds))
    assert abs(np.mean(gds) - expected) < 4 * se, (np.mean(gds), expected, se)  # 4·SE over replicates
