"""Statistical verification of the reproduction process: who breeds, with whom, how many cubs,
of which sex.

The reproduction process is driven directly on a constructed population (every row set by
hand, so eligibility is known exactly), repeated over independent rounds; a second check uses
the run records of the nonspatial-vortex preset. Goodness of fit by chi-square at α = 0.001
(fixed seeds), proportions by |p̂ − p| ≤ 4·SE with the binomial SE √(p(1−p)/n).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stat_helpers.py
import stat_helpers as sh  # noqa: E402
from stat_helpers import CUB, FEMALE, MALE  # noqa: E402

from pardus.engine import build_layers, new_tally  # noqa: E402
from pardus.population.table import ALIVE, Population  # noqa: E402
from pardus.processes.base import State  # noqa: E402
from pardus.processes.disease import Disease  # noqa: E402
from pardus.processes.reproduction import Reproduction  # noqa: E402
from pardus.scenario.loader import resolve_scenario, scenario_from_dict  # noqa: E402
from pardus.scenario.schema import CAUSES  # noqa: E402

ALPHA = 0.001
LITTER = [0.20, 0.35, 0.30, 0.15]
P_BREED = 0.65
SEX_RATIO = 0.42  # not 0.5, so that swapped sex codes cannot pass
ROUNDS = 40


def _config(raw):
    raw["demography"].update(
        max_age=15, adult_age=2, female_breeding_age=3, female_last_breeding_age=10, male_breeding_age=4,
        dependence_years=2, p_breed=P_BREED, litter_size=LITTER, sex_ratio=SEX_RATIO, male_breeding_pool=1.0,
    )
    raw["populations"] = {
        "main": {"initial_size": 10, "carrying_capacity": 10_000},
        # females of every age but only males too young to sire: nobody may breed here
        "east": {"initial_size": 10, "carrying_capacity": 10_000},
    }


def _build(sc):
    """A hand-made population; returns (state, dict of row groups)."""
    rows = []  # (group, sex, age, cell, mother_key, cause)

    def add(group, sex, age, cell=0, mother=None, cause=ALIVE, count=1):
        for _ in range(count):
            rows.append((group, sex, age, cell, mother, cause))

    for i in range(300):  # eligible: age 3 … 10, no young
        add("eligible", FEMALE, 3 + i % 8)
    add("young", FEMALE, 2, count=20)  # below female_breeding_age
    add("old", FEMALE, 11, count=10)  # above female_last_breeding_age
    add("old", FEMALE, 14, count=10)
    for i in range(20):  # blocked: a living cub of age 1 < dependence_years
        add("blocked", FEMALE, 5 + i % 4)
        add("cub_alive", MALE if i % 2 else FEMALE, 1, mother=len(rows) - 1)
    for i in range(20):  # her cub of age 1 died this year (marked): eligible again
        add("eligible_lost_cub", FEMALE, 6)
        add("cub_dead", FEMALE, 1, mother=len(rows) - 1, cause=CAUSES.index("natural"))
    for i in range(10):  # her young is 2 = dependence_years: independent, she is eligible
        add("eligible_old_young", FEMALE, 7)
        add("young_independent", MALE, 2, mother=len(rows) - 1)
    for i in range(25):
        add("sire", MALE, 4 + i % 6)
    add("young_male", MALE, 3, count=15)  # below male_breeding_age
    add("east_female", FEMALE, 5, cell=1, count=30)
    add("east_male", MALE, 3, cell=1, count=10)

    n = len(rows)
    pop = Population(n_loci=sc.genetics.neutral_loci, capacity=2 * n + 64)
    pop.reserve(n)
    pop.id[:n] = pop.new_ids(n)
    for r, (_g, sex, age, cell, mother, cause) in enumerate(rows):
        pop.sex[r], pop.age[r], pop.cell[r], pop.cause[r] = sex, age, cell, cause
        pop.mother[r] = -1 if mother is None else pop.id[mother]
        pop.father[r] = -1
    pop.F[:n] = 0.0
    pop.kin[:n, :n] = 0.0
    pop.kin[np.arange(n), np.arange(n)] = 0.5
    pop.geno[:n] = pop.new_alleles(n * pop.n_loci * 2).reshape(n, pop.n_loci, 2)
    pop.n = n
    tally = new_tally(2)
    layers = build_layers(sc, list(sc.populations))
    state = State(year=1, t=1, pop=pop, layers=layers, tally=tally, is_lethal=np.zeros(pop.next_allele + 1, bool))
    state.fields["breeding_deviate"] = 0.5
    groups = {}
    for r, (g, *_rest) in enumerate(rows):
        groups.setdefault(g, []).append(r)
    return state, {g: np.array(v) for g, v in groups.items()}, n


@pytest.fixture(scope="module")
def rounds():
    """ROUNDS independent applications of the reproduction process to fresh copies of the
    hand-made population."""
    sc = sh.scenario(_config)
    out = []
    for i in range(ROUNDS):
        state, groups, n0 = _build(sc)
        proc = Reproduction.from_scenario(sc, Disease.from_scenario(sc))
        proc.step(state, np.random.default_rng([2024, i]))
        pop = state.pop
        new = np.arange(n0, pop.n)
        out.append(
            {
                "groups": groups,
                "n0": n0,
                "mother_rows": pop.row_of(pop.mother[new]),
                "father_rows": pop.row_of(pop.father[new]),
                "sex": pop.sex[new].copy(),
                "age": pop.age[new].copy(),
                "cell": pop.cell[new].copy(),
                "F": pop.F[new].copy(),
                "cell_all": pop.cell[:n0].copy(),
                "tally": {k: v.copy() for k, v in state.tally.items()},
            }
        )
    return sc, out


def test_only_eligible_animals_breed(rounds):
    """Deterministic: mothers are alive females of breeding age without a living dependent
    cub, sires are males of breeding age of the mother's population, nobody breeds in a
    population without a sire, and the tallies match the cubs."""
    _sc, out = rounds
    for r in out:
        g = r["groups"]
        ok_mothers = np.r_[g["eligible"], g["eligible_lost_cub"], g["eligible_old_young"]]
        assert np.all(np.isin(r["mother_rows"], ok_mothers))
        assert np.all(np.isin(r["father_rows"], g["sire"]))
        assert np.all(r["cell"] == r["cell_all"][r["mother_rows"]])
        assert np.all(r["age"] == 0) and np.all(r["F"] == 0.0)
        assert r["tally"]["births"].tolist() == [r["mother_rows"].size, 0]
        assert r["tally"]["breeding_females"].tolist() == [np.unique(r["mother_rows"]).size, 0]
        # one sire per litter
        for m in np.unique(r["mother_rows"]):
            assert np.unique(r["father_rows"][r["mother_rows"] == m]).size == 1
    # the females whose cub died, or whose young is independent, do breed (some of them)
    lost = np.concatenate([np.isin(r["mother_rows"], r["groups"]["eligible_lost_cub"]) for r in out])
    indep = np.concatenate([np.isin(r["mother_rows"], r["groups"]["eligible_old_young"]) for r in out])
    assert lost.any() and indep.any()


def test_breeding_proportion_matches_p_breed(rounds):
    """Share of eligible females that breed = p_breed; SE = √(p(1−p)/n), n = 360 × 40."""
    _sc, out = rounds
    n_eligible = breeders = 0
    for r in out:
        g = r["groups"]
        eligible = np.r_[g["eligible"], g["eligible_lost_cub"], g["eligible_old_young"]]
        n_eligible += eligible.size
        breeders += np.unique(r["mother_rows"]).size
    sh.check_close("breeding proportion of eligible females", breeders / n_eligible, P_BREED, sh.binomial_se(P_BREED, n_eligible))


def test_litter_size_distribution(rounds):
    """Chi-square goodness of fit of the litter sizes (cubs per breeding female) to the
    configured distribution, α = 0.001."""
    _sc, out = rounds
    sizes = np.concatenate([np.unique(r["mother_rows"], return_counts=True)[1] for r in out])
    assert sizes.min() >= 1 and sizes.max() <= len(LITTER)
    observed = np.bincount(sizes, minlength=len(LITTER) + 1)[1:]
    expected = np.asarray(LITTER) * sizes.size
    assert expected.min() > 100
    chi2, p = chisquare(observed, expected)
    print(f"litter sizes {observed.tolist()} vs expected {np.round(expected, 1).tolist()}: chi2 = {chi2:.2f}, p = {p:.3g}")
    assert p > ALPHA, f"litter sizes {observed.tolist()} vs expected {expected.tolist()}: chi2 {chi2:.2f}, p {p:.2g}"
    mean_se = np.sqrt((np.arange(1, 5) ** 2 @ LITTER - (np.arange(1, 5) @ LITTER) ** 2) / sizes.size)
    sh.check_close("mean litter size", sizes.mean(), float(np.arange(1, 5) @ LITTER), float(mean_se))


def test_cub_sex_ratio(rounds):
    """Sex of each cub: male with probability sex_ratio; chi-square (1 df) at α = 0.001 and the
    binomial 4·SE check on the share of males."""
    _sc, out = rounds
    sex = np.concatenate([r["sex"] for r in out])
    males = int((sex == MALE).sum())
    observed = [sex.size - males, males]
    expected = [sex.size * (1 - SEX_RATIO), sex.size * SEX_RATIO]
    chi2, p = chisquare(observed, expected)
    print(f"cub sexes (F, M) {observed} vs {np.round(expected, 1).tolist()}: chi2 = {chi2:.2f}, p = {p:.3g}")
    assert p > ALPHA
    sh.check_close("share of male cubs", males / sex.size, SEX_RATIO, sh.binomial_se(SEX_RATIO, sex.size))


def test_sires_uniform_among_breeding_males(rounds):
    """Each litter's sire is uniform among the males of breeding age: chi-square of litters per
    sire against equal expectations (24 df), α = 0.001."""
    _sc, out = rounds
    counts = np.zeros(25, dtype=int)
    for r in out:
        sires = r["groups"]["sire"]
        firsts = np.unique(r["mother_rows"], return_index=True)[1]
        fathers = r["father_rows"][firsts]
        counts += np.array([(fathers == s).sum() for s in sires])
    chi2, p = chisquare(counts)
    print(f"litters per sire {counts.tolist()}: chi2 = {chi2:.2f}, p = {p:.3g}")
    assert p > ALPHA


@pytest.mark.slow
def test_run_records_litter_size_and_sex_ratio():
    """Through whole runs of the nonspatial-vortex preset (EV, inbreeding depression and K
    truncation on, sex ratio set to 0.42): Σ births / Σ breeding females = mean litter size
    (SE = SD(litter)/√Σ breeding females, litters being independent of how many females breed),
    and the share of males among the census cubs = sex_ratio (first-year mortality and K
    truncation do not depend on sex here; binomial SE over all census cubs)."""
    raw = copy.deepcopy(resolve_scenario("nonspatial-vortex").raw)
    raw.pop("sources", None)
    raw["demography"]["sex_ratio"] = SEX_RATIO
    sc = scenario_from_dict(raw)
    rec = sh.run_many(sc, 555, 30, keys=("births", "breeding_females", "N"))
    litter = np.asarray(sc.demography.litter_size)
    k = np.arange(1, litter.size + 1)
    mean_l, sd_l = float(k @ litter), float(np.sqrt(k**2 @ litter - (k @ litter) ** 2))
    nb = rec["breeding_females"][:, 1:].sum()
    sh.check_close("births per breeding female (runs)", rec["births"][:, 1:].sum() / nb, mean_l, sd_l / np.sqrt(nb))
    cubs = rec["N"][:, 1:, :, :, CUB]  # (rep, year, pop, sex)
    n_cubs = cubs.sum()
    sh.check_close("share of males among census cubs (runs)", cubs[..., MALE].sum() / n_cubs, SEX_RATIO, sh.binomial_se(SEX_RATIO, n_cubs))
