# SPDX-License-Identifier: GPL-3.0-or-later
"""pardus.secr.simulate: sim_popn, sim_capthist and design_study (rules, reproducibility, I/O).

Checks of frequencies use tolerances of Z = 4 standard errors of the compared quantity
(Poisson or binomial SE, stated at each test); seeds are fixed, so a pass is reproducible.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest

from pardus.secr.capthist import read_capthist
from pardus.secr.likelihood import detection_function
from pardus.secr.mask import make_mask
from pardus.secr.models import secr_fit
from pardus.secr.simulate import (
    STATUSES,
    _single_catch,
    design_study,
    sim_capthist,
    sim_popn,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"
Z = 4.0
SIGMA = 25.0
_GRID = np.arange(5) * 2 * SIGMA
TRAPS = np.array([(x, y) for y in _GRID for x in _GRID])  # 5 x 5 at 50 m
MASK = make_mask(TRAPS, 4 * SIGMA, nx=32)


def _survey(detector, seed=1, D=8.0, **kw):
    rng = np.random.default_rng(seed)
    popn = sim_popn(D, MASK, rng)
    kw = {"g0": 0.3, "sigma": SIGMA, "noccasions": 5, **kw}
    return popn, sim_capthist(TRAPS, popn, detector=detector, rng=rng, **kw)


# --------------------------------------------------------------------------------------------
# populations
# --------------------------------------------------------------------------------------------


def test_popn_reproducible_with_seed():
    a = sim_popn(3.0, MASK, np.random.default_rng(7))
    b = sim_popn(3.0, MASK, np.random.default_rng(7))
    c = sim_popn(3.0, MASK, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_popn_count_is_poisson_with_mean_D_times_area():
    """Mean of N over R draws within Z Poisson SEs sqrt(mu / R) of mu = D x mask area."""
    D, R = 2.5, 400
    rng = np.random.default_rng(11)
    counts = np.array([len(sim_popn(D, MASK, rng)) for _ in range(R)])
    mu = D * MASK.total_area_ha
    assert abs(counts.mean() - mu) <= Z * math.sqrt(mu / R)
    # variance of a Poisson count equals its mean: SE of the sample variance ~ mu sqrt(2 / R)
    assert abs(counts.var(ddof=1) - mu) <= Z * mu * math.sqrt(2.0 / R) + Z * math.sqrt(mu / R)


def test_popn_centres_lie_in_mask_cells():
    pts = sim_popn(20.0, MASK, np.random.default_rng(3))
    d = np.abs(pts[:, None, :] - MASK.xy[None, :, :])
    inside = ((d <= MASK.spacing / 2 + 1e-9).all(axis=2)).any(axis=1)
    assert len(pts) > 100 and inside.all()


def test_popn_rectangle():
    rect = (-100.0, -50.0, 300.0, 150.0)  # 400 m x 200 m = 8 ha
    D, R = 4.0, 300
    rng = np.random.default_rng(5)
    draws = [sim_popn(D, rect, rng) for _ in range(R)]
    allpts = np.vstack(draws)
    assert (allpts[:, 0] >= -100).all() and (allpts[:, 0] <= 300).all()
    assert (allpts[:, 1] >= -50).all() and (allpts[:, 1] <= 150).all()
    mu = D * 8.0
    assert abs(np.mean([len(p) for p in draws]) - mu) <= Z * math.sqrt(mu / R)


def test_popn_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="density"):
        sim_popn(-1.0, MASK, rng)
    with pytest.raises(ValueError, match="no area"):
        sim_popn(1.0, (0, 0, 0, 10), rng)
    with pytest.raises(ValueError, match="rectangle"):
        sim_popn(1.0, "everywhere", rng)


# --------------------------------------------------------------------------------------------
# capture histories: reproducibility and detector rules
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["proximity", "multi", "single", "count"])
def test_capthist_reproducible_with_seed(detector):
    _, a = _survey(detector, seed=4)
    _, b = _survey(detector, seed=4)
    _, c = _survey(detector, seed=5)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.counts.shape != c.counts.shape or not np.array_equal(a.counts, c.counts)
    assert a.detector == detector and a.ids == tuple(str(i + 1) for i in range(a.n))


@pytest.mark.parametrize("detector", ["proximity", "multi", "single", "count"])
def test_only_detected_animals_are_kept(detector):
    popn, ch = _survey(detector)
    assert 0 < ch.n < len(popn)
    assert (ch.counts.reshape(ch.n, -1).sum(axis=1) > 0).all()


def test_multi_catch_at_most_one_detection_per_animal_occasion():
    _, ch = _survey("multi", D=20.0, g0=0.6)
    assert ch.counts.max() == 1 and ch.counts.sum(axis=2).max() == 1
    # with this many animals several share a trap on some occasion (multi-catch allows it)
    assert ch.counts.sum(axis=0).max() > 1


def test_single_catch_one_animal_per_trap_occasion():
    _, ch = _survey("single", D=20.0, g0=0.6)
    assert ch.counts.max() == 1
    assert ch.counts.sum(axis=2).max() == 1  # one trap per animal and occasion
    assert ch.counts.sum(axis=0).max() == 1  # one animal per trap and occasion
    assert ch.ndetections > 50


def test_proximity_is_binary_and_count_is_not():
    _, prox = _survey("proximity", D=20.0, g0=0.6)
    assert set(np.unique(prox.counts)) == {0, 1}
    assert prox.counts.sum(axis=2).max() > 1  # several detectors per animal and occasion
    _, cnt = _survey("count", D=20.0, g0=0.6)
    assert cnt.counts.max() > 1


@pytest.mark.parametrize("detector", ["proximity", "multi", "single", "count"])
def test_zero_usage_detects_nothing(detector):
    K, S = len(TRAPS), 5
    usage = np.ones((K, S))
    usage[:12, 1] = 0  # half the grid off on occasion 2
    usage[:, 3] = 0  # everything off on occasion 4
    _, ch = _survey(detector, D=20.0, g0=0.6, usage=usage)
    assert ch.counts[:, 1, :12].sum() == 0
    assert ch.counts[:, 3, :].sum() == 0
    assert ch.counts[:, 1, 12:].sum() > 0
    np.testing.assert_array_equal(ch.usage, usage)


def test_single_catch_rounds_equal_time_ordered_sequence():
    """The vectorised assignment equals secr's sequential one (sort all times, then assign)."""
    rng0 = np.random.default_rng(99)
    for trial in range(20):
        N, K = int(rng0.integers(1, 40)), int(rng0.integers(1, 15))
        rate = rng0.exponential(0.5, size=(N, K)) * (rng0.random((N, K)) < 0.7)
        seed = int(rng0.integers(1 << 31))
        got = _single_catch(rate, np.random.default_rng(seed))
        with np.errstate(divide="ignore"):
            t = np.random.default_rng(seed).standard_exponential(size=(N, K)) / rate
        want = np.full(N, -1)
        trap_free = np.ones(K, dtype=bool)
        for flat in np.argsort(t, axis=None):
            i, k = divmod(int(flat), K)
            if t[i, k] > 1:
                break
            if want[i] < 0 and trap_free[k]:
                want[i], trap_free[k] = k, False
        np.testing.assert_array_equal(got, want, err_msg=f"trial {trial}")


# --------------------------------------------------------------------------------------------
# capture histories: probabilities (one animal, many occasions)
# --------------------------------------------------------------------------------------------


def _one_animal(detector, S=4000, xy=(60.0, 40.0), **kw):
    kw = {"g0": 0.25, "sigma": SIGMA, **kw}
    return sim_capthist(TRAPS, np.array([xy]), detector=detector, noccasions=S,
                        rng=np.random.default_rng(21), **kw)


def _hazard(xy=(60.0, 40.0), g0=0.25, detectfn="HN", z=None):
    d = np.hypot(TRAPS[:, 0] - xy[0], TRAPS[:, 1] - xy[1])
    return -np.log1p(-detection_function(d, g0, SIGMA, z, detectfn))


def test_multi_catch_probabilities():
    """P(caught) = 1 - exp(-H) and P(trap k | caught) = h_k / H, within Z binomial SEs."""
    S = 4000
    ch = _one_animal("multi", S)
    h = _hazard()
    H = h.sum()
    caught = ch.counts[0].sum(axis=1)
    p = -math.expm1(-H)
    assert abs(caught.mean() - p) <= Z * math.sqrt(p * (1 - p) / S)
    m = caught.sum()
    freq = ch.counts[0].sum(axis=0) / m
    for k in np.argsort(h)[-4:]:  # the four most likely traps
        q = h[k] / H
        assert abs(freq[k] - q) <= Z * math.sqrt(q * (1 - q) / m)


def test_proximity_probability_with_effort():
    """p = 1 - (1 - g)^u at effort u = 2, within Z binomial SEs."""
    S = 4000
    u = np.full((len(TRAPS), S), 2.0)
    ch = _one_animal("proximity", S, usage=u)
    g = detection_function(np.hypot(TRAPS[:, 0] - 60, TRAPS[:, 1] - 40), 0.25, SIGMA)
    p = 1 - (1 - g) ** 2
    freq = ch.counts[0].mean(axis=0)
    assert np.all(np.abs(freq - p) <= Z * np.sqrt(p * (1 - p) / S) + 1e-12)


def test_count_mean_is_usage_times_hazard():
    S = 3000
    u = np.full((len(TRAPS), S), 1.5)
    ch = _one_animal("count", S, usage=u)
    lam = 1.5 * _hazard()
    mean = ch.counts[0].mean(axis=0)
    assert np.all(np.abs(mean - lam) <= Z * np.sqrt(lam / S) + 1e-12)


@pytest.mark.parametrize("detectfn, z", [("EX", None), ("HR", 4.0)])
def test_other_detection_functions(detectfn, z):
    S = 4000
    ch = _one_animal("proximity", S, detectfn=detectfn, z=z)
    g = detection_function(np.hypot(TRAPS[:, 0] - 60, TRAPS[:, 1] - 40), 0.25, SIGMA, z, detectfn)
    assert np.all(np.abs(ch.counts[0].mean(axis=0) - g) <= Z * np.sqrt(g * (1 - g) / S) + 1e-12)


def test_lambda0_is_the_hazard_scale():
    """With lambda0 the hazard is lambda0 * shape(d): proximity p = 1 - exp(-h)."""
    S = 4000
    ch = _one_animal("proximity", S, lambda0=0.4)
    h = 0.4 * detection_function(np.hypot(TRAPS[:, 0] - 60, TRAPS[:, 1] - 40), 1.0, SIGMA)
    p = -np.expm1(-h)
    assert np.all(np.abs(ch.counts[0].mean(axis=0) - p) <= Z * np.sqrt(p * (1 - p) / S) + 1e-12)


# --------------------------------------------------------------------------------------------
# learned response
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["proximity", "multi", "single"])
def test_learned_response_raises_recaptures(detector):
    """b = 0.7 after first detection (naive g0 = 0.15): more recaptures per animal, same n
    distribution on the first occasion."""
    def recap_rate(b):
        n = r = 0
        for seed in range(30):
            _, ch = _survey(detector, seed=seed, D=8.0, g0=0.15, b=b)
            n += ch.n
            r += ch.ndetections - ch.n
        return r / n
    assert recap_rate(0.7) > 1.5 * recap_rate(None)


def test_learned_response_inactive_on_first_occasion():
    """On the first occasion every animal is naive: with one occasion b changes nothing."""
    for detector in ("proximity", "multi", "single", "count"):
        _, a = _survey(detector, seed=3, noccasions=1)
        _, b = _survey(detector, seed=3, noccasions=1, b=0.9)
        np.testing.assert_array_equal(a.counts, b.counts)


# --------------------------------------------------------------------------------------------
# inputs and validation
# --------------------------------------------------------------------------------------------


def test_traps_from_capthist_keep_labels_and_type():
    ch0 = read_capthist(DATA / "captdatacapt.txt", DATA / "captdatatrap.txt", detector="single")
    mask = make_mask(ch0, 100, nx=32)
    rng = np.random.default_rng(2)
    ch = sim_capthist(ch0, sim_popn(5.0, mask, rng), g0=0.25, sigma=25, noccasions=5, rng=rng)
    assert ch.detector == "single" and ch.trap_ids == ch0.trap_ids
    np.testing.assert_array_equal(ch.traps, ch0.traps)
    assert ch.counts.sum(axis=0).max() == 1


def test_rejects_bad_parameters():
    rng = np.random.default_rng(0)
    popn = np.zeros((3, 2))
    with pytest.raises(ValueError, match="g0"):
        sim_capthist(TRAPS, popn, g0=1.5, rng=rng)
    with pytest.raises(ValueError, match="sigma"):
        sim_capthist(TRAPS, popn, sigma=0.0, rng=rng)
    with pytest.raises(ValueError, match="z"):
        sim_capthist(TRAPS, popn, detectfn="HR", rng=rng)
    with pytest.raises(ValueError, match="usage"):
        sim_capthist(TRAPS, popn, usage=np.ones((3, 5)), rng=rng)
    with pytest.raises(ValueError, match="detector"):
        sim_capthist(TRAPS, popn, detector="polygon", rng=rng)
    with pytest.raises(ValueError, match="noccasions"):
        sim_capthist(TRAPS, popn, noccasions=0, rng=rng)
    with pytest.raises(ValueError, match="b ="):
        sim_capthist(TRAPS, popn, b=0.0, rng=rng)


def test_empty_population_gives_empty_capthist():
    ch = sim_capthist(TRAPS, np.zeros((0, 2)), noccasions=3, rng=np.random.default_rng(0))
    assert ch.n == 0 and ch.counts.shape == (0, 3, len(TRAPS))


@pytest.mark.parametrize("detector", ["proximity", "multi", "single", "count"])
def test_simulated_histories_pass_the_likelihood(detector):
    _, ch = _survey(detector, seed=8, D=6.0)
    fit = secr_fit(ch, MASK)
    assert fit.converged and fit.hessian_pd
    assert 0 < fit.estimates["D"] < 30 and 5 < fit.estimates["sigma"] < 100


# --------------------------------------------------------------------------------------------
# design study
# --------------------------------------------------------------------------------------------

_SMALL = make_mask(TRAPS, 4 * SIGMA, nx=16)


def _small_study(**kw):
    kw = {"D": 6.0, "g0": 0.3, "sigma": SIGMA, "noccasions": 4, "mask": _SMALL, "nsim": 4,
          "seed": 5, **kw}
    return design_study(TRAPS, **kw)


def test_design_study_same_result_for_any_number_of_workers():
    one = _small_study(workers=1)
    two = _small_study(workers=2)
    assert one.rows_as_dicts() == two.rows_as_dicts()
    assert [r.sim for r in two.rows] == [0, 1, 2, 3]
    assert str(one.summary) == str(two.summary)


def test_design_study_counts_surveys_without_estimates():
    res = _small_study(D=0.05, nsim=6)
    counts = res.summary.status_counts
    assert set(counts) == set(STATUSES) and sum(counts.values()) == 6
    assert counts["no_estimate"] >= 1
    assert all(r.n < 2 for r in res.rows if r.status == "no_estimate")
    d = next(p for p in res.summary.params if p.param == "D")
    assert d.m == counts["ok"]
    assert "no estimate (n < 2 animals detected)" in str(res.summary)


def test_design_study_summary_arithmetic():
    res = _small_study()
    ok = [r for r in res.rows if r.status == "ok"]
    est = np.array([r.estimates["D"] for r in ok])
    d = next(p for p in res.summary.params if p.param == "D")
    assert d.true == 6.0 and d.m == len(ok)
    assert d.rb == pytest.approx(est.mean() / 6.0 - 1)
    assert d.rb_se == pytest.approx(est.std(ddof=1) / (6.0 * math.sqrt(len(est))))
    assert d.rrmse == pytest.approx(math.sqrt(np.mean((est - 6.0) ** 2)) / 6.0)
    cov = np.mean([r.lcl["D"] <= 6.0 <= r.ucl["D"] for r in ok])
    assert d.coverage == pytest.approx(cov)
    assert [p.param for p in res.summary.params] == ["D", "g0", "sigma"]


def test_design_study_default_mask_is_secrdesigns():
    """buffer 4 sigma and nx = 32 (secrdesign run.scenarios: xsigma = 4, nx = 32)."""
    res = design_study(TRAPS, D=6.0, g0=0.3, sigma=SIGMA, noccasions=3, nsim=1, seed=1)
    m = make_mask(TRAPS, 4 * SIGMA, nx=32)
    assert res.settings["buffer"] == 4 * SIGMA and res.settings["mask_points"] == len(m)
    assert res.settings["mask_spacing"] == m.spacing


def test_design_study_csv_is_complete_and_atomic(tmp_path):
    res = _small_study()
    rows_csv, summ_csv = tmp_path / "rows.csv", tmp_path / "summary.csv"
    res.to_csv(rows_csv)
    res.summary.to_csv(summ_csv)
    with open(rows_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {"sim", "n", "r", "status", "D", "D_lcl", "D_ucl"} <= set(rows[0])
    with open(summ_csv, newline="") as fh:
        summ = list(csv.DictReader(fh))
    assert [r["param"] for r in summ] == ["D", "g0", "sigma"]
    assert sorted(os.listdir(tmp_path)) == ["rows.csv", "summary.csv"]  # no temporary left


def test_design_study_csv_failure_keeps_old_file(tmp_path, monkeypatch):
    """A write that fails before the rename leaves the previous file and no temporary."""
    res = _small_study(nsim=2)
    target = tmp_path / "rows.csv"
    target.write_text("previous\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        res.to_csv(target)
    assert target.read_text() == "previous\n"
    assert os.listdir(tmp_path) == ["rows.csv"]


def test_design_study_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nsim"):
        _small_study(nsim=0)
    with pytest.raises(ValueError, match="workers"):
        _small_study(workers=0)
    with pytest.raises(ValueError, match="D ="):
        _small_study(D=0.0)
    with pytest.raises(ValueError, match="shape z"):
        _small_study(detectfn="HR")
    with pytest.raises(ValueError, match="likelihood"):
        _small_study(likelihood="partial")
