"""Closed-population estimators (:mod:`pardus.secr.closed`) against R's ``secr::closedN``.

Every cell of ``tests/data/secr/expected_closedN.csv`` (secr 5.5.0) is one test. secr rounds
its table before printing (``R/ClosedN.R``): loglik and AICcwt to 3 decimals, AIC, AICc,
dAICc, Nhat, seNhat and the interval limits to 2. A cell passes when pardus' value rounded
the same way equals the printed one, i.e. ``|x - printed| <= 0.5 * 10**-d`` with ``d`` the
number of decimals secr rounds that column to (not the decimals left in the CSV, which
drops trailing zeros). npar and Mt1 are exact.

Cells that are not reproduced are strict xfails with the reason (see ``KNOWN``; at present
none).
The capture matrices come from the shipped DENSITY-format files through
:func:`pardus.secr.capthist.read_capthist`.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize
from scipy.special import gammaln

from pardus.secr.capthist import read_capthist
from pardus.secr.nlm import nlm
from pardus.secr.closed import (
    ESTIMATORS,
    _betabinomial_negloglik,
    _brent_fmin,
    _h2_negloglik,
    _r_lgamma,
    capture_counts,
    closed_n,
    closed_n_table,
    ln_interval,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"
EXPECTED = DATA / "expected_closedN.csv"

#: dataset label in the CSV -> (file stem, detector type as secr declares it)
DATASETS = {
    "captdata": ("captdata", "single"),
    "stoatCH": ("stoatCH", "proximity"),
    "deermouse.ESG": ("deermouseESG", "multi"),
}

#: decimals secr rounds each column to (None: exact integer)
DECIMALS = {
    "npar": None,
    "Mt1": None,
    "loglik": 3,
    "AIC": 2,
    "AICc": 2,
    "dAICc": 2,
    "AICcwt": 3,
    "Nhat": 2,
    "seNhat": 2,
    "lclNhat": 2,
    "uclNhat": 2,
}

#: (dataset, estimator, column) -> reason, for cells pardus does not reproduce. Empty: the
#: SEs of h2 and betabinomial, which depend on where R's nlm stops on flat likelihoods,
#: match since nlm's iterations and secr's likelihood arithmetic are reproduced
#: (pardus.secr.nlm, and test_mixture_fits_follow_r_nlm below).
KNOWN: dict[tuple[str, str, str], str] = {}


def _expected_rows() -> list[dict[str, str]]:
    with open(EXPECTED, newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=None)
def capture_matrix(dataset: str) -> np.ndarray:
    stem, detector = DATASETS[dataset]
    ch = read_capthist(DATA / f"{stem}capt.txt", DATA / f"{stem}trap.txt", detector=detector)
    return (np.abs(ch.counts) > 0).any(axis=2).astype(int)


@lru_cache(maxsize=None)
def results(dataset: str):
    return {r.estimator: r for r in closed_n(capture_matrix(dataset))}


def _cells():
    for row in _expected_rows():
        for col in DECIMALS:
            key = (row["dataset"], row["estimator"], col)
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN[key])] if key in KNOWN else []
            yield pytest.param(row, col, marks=marks, id="-".join(key))


def test_expected_table_is_complete():
    rows = _expected_rows()
    assert {r["dataset"] for r in rows} == set(DATASETS)
    for ds in DATASETS:
        assert [r["estimator"] for r in rows if r["dataset"] == ds] == list(ESTIMATORS)


@pytest.mark.parametrize("row,col", list(_cells()))
def test_matches_secr_closedN(row, col):
    res = results(row["dataset"])[row["estimator"]]
    assert res.model == row["model"]
    printed = row[col]
    value = getattr(res, col)
    if printed == "NA":
        assert value is None or not np.isfinite(value), f"{col}: secr NA, pardus {value}"
        return
    d = DECIMALS[col]
    if d is None:
        assert value == int(printed)
    else:
        assert np.isfinite(value), f"{col}: pardus NaN, secr {printed}"
        assert float(np.round(value, d)) == pytest.approx(float(printed), abs=1e-9), (
            f"{col}: pardus {value!r} -> {np.round(value, d)}, secr {printed}"
        )


def test_rounded_row_and_table():
    r = results("captdata")["null"].rounded()
    assert (r.Nhat, r.seNhat, r.lclNhat, r.uclNhat) == (76.07, 0.82, 76.0, 81.39)
    text = closed_n_table(list(results("stoatCH").values()))
    assert text.splitlines()[0].split()[:3] == ["estimator", "model", "npar"]
    assert len(text.splitlines()) == 1 + len(ESTIMATORS)


# ------------------------------------------------------------------ hand computations

TINY = np.array(
    [
        [1, 0, 1, 0],
        [1, 1, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 1],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 1, 1, 1],
    ]
)


def test_capture_counts_by_hand():
    c = capture_counts(TINY)
    assert c["n"].tolist() == [3, 3, 3, 3]
    assert c["u"].tolist() == [3, 2, 1, 1]
    assert c["f"].tolist() == [3, 3, 1, 0]
    assert c["M"].tolist() == [3, 5, 6, 7]


def test_m0_equals_brute_force_joint_maximisation():
    """M0: maximise lchoose(N, Mt1) + n log p + (tN - n) log(1 - p) over (N, p) jointly
    (continuous N, as secr) by nested 1-D searches; secr's profile form must agree."""
    Mt1, t = TINY.shape
    n = TINY.sum()

    def neg_profile(N):
        def neg_ll(p):
            return -(gammaln(N + 1) - gammaln(N - Mt1 + 1) - gammaln(Mt1 + 1)
                     + n * math.log(p) + (t * N - n) * math.log(1 - p))

        return optimize.minimize_scalar(neg_ll, bounds=(1e-9, 1 - 1e-9), method="bounded",
                                        options={"xatol": 1e-12}).fun

    brute = optimize.minimize_scalar(neg_profile, bounds=(Mt1, 200), method="bounded",
                                     options={"xatol": 1e-8})
    (r,) = closed_n(TINY, ["null"])
    assert r.Nhat == pytest.approx(brute.x, abs=1e-3)  # R's optimize tol is 1.2e-4
    assert r.loglik == pytest.approx(-brute.fun, abs=1e-8)
    assert (r.npar, r.AIC) == (2, pytest.approx(-2 * r.loglik + 4))
    # Otis et al. asymptotic SE at the estimate
    p = n / (t * r.Nhat)
    assert r.seNhat == pytest.approx(math.sqrt(r.Nhat / ((1 - p) ** -t - t / (1 - p) + t - 1)))
    # AICc with the number caught as sample size
    assert r.AICc == pytest.approx(-2 * r.loglik + 2 * 2 * Mt1 / (Mt1 - 3))


def test_darroch_equals_brute_force_joint_maximisation():
    """Mt: the profile over p_j (p_j = n_j / N) equals the joint maximum."""
    Mt1, t = TINY.shape
    nt = TINY.sum(axis=0)

    def neg_joint(theta):
        N = Mt1 + math.exp(theta[0])
        p = 1 / (1 + np.exp(-theta[1:]))
        return -(gammaln(N + 1) - gammaln(N - Mt1 + 1) - gammaln(Mt1 + 1)
                 + np.sum(nt * np.log(p) + (N - nt) * np.log(1 - p)))

    best = optimize.minimize(neg_joint, np.r_[0.0, np.zeros(t)], method="BFGS",
                             options={"gtol": 1e-10})
    (r,) = closed_n(TINY, ["darroch"])
    assert r.Nhat == pytest.approx(Mt1 + math.exp(best.x[0]), abs=1e-3)
    assert r.loglik == pytest.approx(-best.fun, abs=1e-7)
    assert r.npar == t + 1


def test_chao_and_first_order_jackknife_by_hand():
    f = capture_counts(TINY)["f"]
    S = f.sum()
    (chao,) = closed_n(TINY, ["chao"])
    assert chao.Nhat == pytest.approx(S + f[0] ** 2 / (2 * f[1]))
    r = f[0] / f[1]
    assert chao.seNhat == pytest.approx(math.sqrt(f[1] * (r**4 / 4 + r**3 + r**2 / 2)))
    assert math.isnan(chao.loglik) and chao.npar is None and math.isnan(chao.AIC)


def test_jackknife_first_order_when_second_not_significant():
    # f = (4, 6, 6, 4) over t = 4: the order-2 vs order-1 test is not significant, and
    # N1 = S + f1 (t-1)/t; x-test N1 f1 / (N1 - f1) = 23*4/19 > 3.84 -> interpolation
    # between N1 and S (CAPTURE's rule) with alpha = (x - 3.84) / (x - T1)
    X = np.array([[1, 0, 0, 0]] * 4 + [[1, 1, 0, 0]] * 6 + [[1, 1, 1, 0]] * 6 + [[1, 1, 1, 1]] * 4)
    (jk,) = closed_n(X, ["jackknife"])
    S, f1, t = 20, 4, 4
    N1 = S + f1 * (t - 1) / t
    # T1: the order-1 vs order-2 statistic, computed independently
    a1 = np.array([1 + 3 / 4, 1, 1, 1])
    a2 = np.array([1 + (2 * t - 3) / t, 1 - (t - 2) ** 2 / (t * (t - 1)), 1, 1])
    fv = np.array([4, 6, 6, 4])
    dif = (a2 - a1) @ fv
    b2f = ((a2 - a1) ** 2) @ fv
    T1 = dif**2 / (S / (S - 1) * (b2f - dif**2 / S))
    assert T1 < 3.84
    x = N1 * f1 / (N1 - f1)
    alpha = (x - 3.84) / (x - T1)
    assert jk.Nhat == pytest.approx(alpha * N1 + (1 - alpha) * S)


def test_ln_interval_by_hand():
    lo, hi = ln_interval(50, 60.0, 4.0, 0.95)
    C = math.exp(1.959963984540054 * math.sqrt(math.log(1 + (4 / 10) ** 2)))
    assert (lo, hi) == (pytest.approx(50 + 10 / C), pytest.approx(50 + 10 * C))
    assert all(math.isnan(v) for v in ln_interval(50, 50.0, 4.0))


def test_brent_fmin_like_r_optimize():
    x = _brent_fmin(lambda v: (v - 3.3) ** 2, 0.0, 10.0, 1e-8)
    assert x == pytest.approx(3.3, abs=1e-7)
    # monotone function: the search stops strictly inside, within a few tol of the bound
    tol = np.finfo(float).eps ** 0.25
    x = _brent_fmin(lambda v: v, 38.0, 1e7, tol)
    assert 38.0 < x < 38.0 + 3 * tol


def test_accepts_capthist_and_3d_array():
    stem, det = DATASETS["stoatCH"]
    ch = read_capthist(DATA / f"{stem}capt.txt", DATA / f"{stem}trap.txt", detector=det)
    a = closed_n(ch, ["null", "chao"])
    b = closed_n(ch.counts, ["null", "chao"])
    c = closed_n(capture_matrix("stoatCH"), ["null", "chao"])
    rows = [[r.as_dict() for r in x] for x in (a, b, c)]
    for ra, rb, rc in zip(*rows):
        for k, v in ra.items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(rb[k]) and math.isnan(rc[k])
            else:
                assert v == rb[k] == rc[k]


def test_ml_selector_and_order():
    res = closed_n(TINY, "ML")
    assert [r.estimator for r in res] == ["null", "zippin", "darroch", "h2", "betabinomial"]
    res = closed_n(TINY, ["chao", "null"])
    assert [r.estimator for r in res] == ["chao", "null"]
    # with only one likelihood estimator its weight is 1 and the others have none
    assert res[1].AICcwt == 1.0 and res[1].dAICc == 0.0 and math.isnan(res[0].AICcwt)


def test_aicc_missing_for_small_samples():
    X = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])  # Mt1 = 4, darroch npar 4
    (r,) = closed_n(X, ["darroch"])
    assert math.isnan(r.AICc) and np.isfinite(r.AIC)


@pytest.mark.parametrize(
    "X,match",
    [
        (np.array([[1, 0], [0, 0]]), "no captures"),
        (np.array([[1], [1]]), "at least 2 occasions"),
        (np.array([1, 0, 1]), "animals x occasions"),
    ],
)
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        closed_n(X)


def test_unknown_estimator():
    with pytest.raises(ValueError, match="not recognised"):
        closed_n(TINY, ["mh2"])


def test_shipped_fits_converged():
    for ds in DATASETS:
        for r in results(ds).values():
            assert r.converged, (ds, r.estimator, r.note)


def test_no_recaptures_reported_as_not_converged():
    """Every animal caught once: the M0/Mt/mixture likelihoods increase without bound in N;
    secr prints numbers near maxN, pardus flags them; Chao's f1^2/(2 f2) is NA."""
    res = {r.estimator: r for r in closed_n(np.eye(5, dtype=int))}
    for name in ("null", "darroch", "h2", "betabinomial"):
        assert not res[name].converged and res[name].note
    for name in ("chao", "chaomod"):
        assert math.isnan(res[name].Nhat)


def test_degenerate_inputs_never_raise():
    rng = np.random.default_rng(20261202)
    for _ in range(8):
        t = int(rng.integers(2, 8))
        X = (rng.random((int(rng.integers(2, 30)), t)) < rng.uniform(0.05, 0.9)).astype(int)
        X = X[X.any(axis=1)]
        if len(X) == 0:
            continue
        res = closed_n(X)
        assert [r.estimator for r in res] == list(ESTIMATORS)
        for r in res:
            assert r.Mt1 == len(X)
            # secr reports e.g. chao.th2 below Mt1 for t = 2; pardus says so in the note
            assert math.isnan(r.Nhat) or r.Nhat >= len(X) - 1e-9 or "below" in r.note


# ------------------------------------------------- the mixture fits against R's nlm

#: (dataset, estimator) -> nlm's (code, iterations, minimum, estimate) in secr's
#: Mh2.est / Mhbeta.est, printed by R 4.2.2 (Debian 12) running secr 5.5.0's functions
#: (R/ClosedN.R) on the capture frequencies f of these datasets
R_NLM_FITS = {
    ("captdata", "h2"): (1, 14, 235.99244462495574, [2.2672658325096924, -0.22302278444136292,
                                                   -1.189543376848, 1.3929584990312998]),
    ("captdata", "betabinomial"): (1, 14, 236.51215395180478, [2.6906790393432725,
                                                             -0.659417506612898,
                                                             -2.402412152462911]),
    ("stoatCH", "h2"): (1, 19, 68.90274235720476, [2.248833563430198, 3.1754281002506244,
                                                 -1.7711991952890511, -1.7711904448505544]),
    ("stoatCH", "betabinomial"): (3, 35, 68.90274673700333, [2.248832561109468,
                                                           -1.9283106390693292,
                                                           -16.553381951976323]),
    ("deermouse.ESG", "h2"): (1, 15, 149.3516834977468, [0.9240080161266951,
                                                       0.3101458385351085,
                                                       -0.8951665518224347,
                                                       1.214815167841587]),
    ("deermouse.ESG", "betabinomial"): (1, 17, 149.50440097887488, [1.9274179007508987,
                                                                  -0.8068777036440982,
                                                                  -2.6298959573328125]),
}


@pytest.mark.parametrize("dataset,estimator", list(R_NLM_FITS))
def test_mixture_fits_follow_r_nlm(dataset, estimator):
    """nlm from secr's start stops where R's does (same code and iteration count; on this
    platform the estimates agree to the last bit)."""
    f = capture_counts(capture_matrix(dataset))["f"]
    tt = f.size
    if estimator == "h2":
        nll, start = _h2_negloglik(f), [math.log(5.0), 0.0, -1.0, 1.0]
    else:
        nll = _betabinomial_negloglik(f)
        start = [math.log(v) for v in (10.0, 1.0 / tt, 0.2 * 1.0 / tt * (1.0 - 1.0 / tt))]
    code, iterations, minimum, estimate = R_NLM_FITS[(dataset, estimator)]
    r = nlm(nll, np.array(start))
    assert (r.code, r.iterations) == (code, iterations)
    assert r.minimum == pytest.approx(minimum, rel=1e-12)
    np.testing.assert_allclose(r.estimate, estimate, rtol=1e-8)


def test_mixture_likelihoods_equal_secr_values():
    """secr's loglik functions for stoatCH's f = (12, 6, 2, 0, 0, 0, 0), values printed by
    R 4.2.2; the beta-binomial at tiny variance (log var -16) is where the lgamma form
    cancels and only the same arithmetic gives the same value."""
    f = np.array([12, 6, 2, 0, 0, 0, 0])
    h2, bb = _h2_negloglik(f), _betabinomial_negloglik(f)
    for beta, value in [
        ([1.6867730946288337, 2.818803679301868, -1.37766771251663, -1.802320093891341],
         69.73752641231265),
        ([2.091821662111041, 5.377746572408093, -1.1313035677404262, -1.249272639729624],
         73.85823089697007),
    ]:
        assert h2(np.array(beta)) == pytest.approx(value, rel=1e-14)
    for pr, value in [
        ([1.8739273549067712, -1.6730069822683613, -16.163765920326114], 69.47941327095032),
        ([1.652175096206076, -1.6776136309926102, -16.263850094284862], 69.41897118091583),
        ([2.146615604019369, -2.2325297705683846, -9.394012729637325], 70.6457720999897),
    ]:
        assert bb(np.array(pr)) == pytest.approx(value, rel=1e-14)
    # outside the beta distribution's range (variance > p (1 - p)): secr's 1e10
    assert bb(np.array([1.0, math.log(0.5), math.log(0.3)])) == 1e10


@pytest.mark.parametrize("x,value", [
    (0.5, 0.57236494292470008), (1.5, -0.12078223763524518), (2.5, 0.28468287047291918),
    (7.3, 7.1478925230222492), (12.5, 18.734347511936448), (1234.567, 7551.0278099842762),
    (1000000.5, 12815511.476902766), (5000000, 72124735.558456168),
])
def test_lgamma_as_r(x, value):
    """R's lgamma (printed by R 4.2.2 with 17 digits): near 1 and 2, where lgamma is small,
    other implementations differ from R's by hundreds of ulp."""
    assert _r_lgamma(x) == pytest.approx(value, rel=2e-16, abs=0)
    assert math.isinf(_r_lgamma(0.0)) and math.isinf(_r_lgamma(-3.0))


def test_nlm_error_reported_not_raised():
    """For f = (13, 5, 2, 0, 0) R's nlm stops in Mhbeta.est with "non-finite value supplied
    by 'nlm'" (the search runs off to variance -> 0, where the lgamma form returns garbage)
    -- closedN fails in R; pardus reports the estimator as not converged."""
    X = np.array([[1, 0, 0, 0, 0]] * 13 + [[1, 1, 0, 0, 0]] * 5 + [[1, 1, 1, 0, 0]] * 2)
    (r,) = closed_n(X, ["betabinomial"])
    assert not r.converged and "nlm stopped with an error" in r.note
