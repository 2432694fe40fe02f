# SPDX-License-Identifier: GPL-3.0-or-later
"""The general SECR engine (formula models, several sessions) of pardus.secr.models.

Three independent checks, none of which uses the engine's own bookkeeping:

* with the null model it gives the fast path's fit (which reproduces secr) to the digit;
* its log-likelihood at arbitrary coefficients equals a brute-force sum over animals,
  occasions, detectors and mask points written out here from the model's definition, for
  every detector type, both likelihoods, learned response, time, individual and detector
  covariates, finite mixtures and known classes (hcov);
* two identical sessions fitted together give twice the log-likelihood and the same estimates
  as one session, and a saturated ``D~session`` model gives each session its own density.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from pardus.secr.capthist import read_capthist
from pardus.secr.likelihood import fit_secr
from pardus.secr.mask import make_mask
from pardus.secr.models import ModelError, _Model, fit_general, parse_model, secr_fit
from pardus.secr.simulate import sim_capthist, sim_popn

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"


@lru_cache(maxsize=None)
def _captdata(detector="multi"):
    ch = read_capthist(DATA / "captdatacapt.txt", DATA / "captdatatrap.txt", detector=detector)
    # a coarse mask keeps these structural checks fast; the secr numbers are checked elsewhere
    return ch, make_mask(ch, buffer=100, nx=20)


# --------------------------------------------------------------------------------------------
# null model: general engine == fast path
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["multi", "proximity", "count"])
@pytest.mark.parametrize("likelihood", ["full", "conditional"])
def test_general_engine_null_model_equals_fast_path(detector, likelihood):
    ch, mask = _captdata(detector)
    fast = fit_secr(ch.counts, ch.traps, mask.xy, mask.area_ha, detector=detector, likelihood=likelihood)
    gen = fit_general([ch], [mask], {}, likelihood=likelihood)
    assert gen.converged and fast.converged
    assert gen.loglik == pytest.approx(fast.loglik, abs=1e-6)
    assert gen.npar == fast.npar and gen.aicc == pytest.approx(fast.aicc, abs=1e-5)
    assert gen.esa_ha == pytest.approx(fast.esa_ha, rel=1e-5)
    for p in fast.estimates:
        assert gen.estimates[p] == pytest.approx(fast.estimates[p], rel=1e-4), p
        assert gen.se[p] == pytest.approx(fast.se[p], rel=0.02), p
        assert gen.lcl[p] == pytest.approx(fast.lcl[p], rel=1e-3), p


# --------------------------------------------------------------------------------------------
# brute-force likelihood
# --------------------------------------------------------------------------------------------


def _small(detector, seed=3, usage_gaps=True):
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(4) * 20.0, np.arange(4) * 20.0)
    traps = np.column_stack([gx.ravel(), gy.ravel()])
    K, S = len(traps), 4
    usage = np.ones((K, S))
    if usage_gaps:
        usage[[1, 6, 11], [0, 2, 3]] = 0.0  # cameras not working on some occasions
        usage[3, 1] = 2.0  # double effort
    mask = make_mask(traps, buffer=50, nx=9)
    popn = sim_popn(12.0, mask, rng)
    ch = sim_capthist(traps, popn, g0=0.35, sigma=18.0, noccasions=S, detector=detector, usage=usage,
                      rng=rng, b=0.5)
    sex = np.array(["F" if rng.random() < 0.45 else "M" for _ in range(ch.n)], dtype=object)
    sex[1] = None  # one animal of unknown sex
    weight = rng.normal(20.0, 3.0, ch.n)
    hab = np.array([0.2 * (k % 4) for k in range(K)])
    ch = dataclasses.replace(ch, covariates={"sex": sex, "weight": weight}, trap_covariates={"hab": hab})
    return ch, mask


def _brute_loglik(ch, mask, likelihood, real, classes, pmix, known, D, hazard=False):
    """log L written out from the definition: loops over animals, classes, occasions, detectors
    and mask points. ``real(i, o, k, b, h) -> (g0, sigma)``; ``i=None`` is a never-detected
    animal (its covariates then are those of ``known``'s class / the group of animal ``grp``).
    ``hazard``: secr's HHN, whose intercept is the hazard lambda0 and g = 1 - exp(-lambda)."""
    counts = np.asarray(ch.counts, float)
    n, S, K = counts.shape
    u = np.ones((K, S)) if ch.usage is None else np.asarray(ch.usage, float)
    xy = np.asarray(mask.xy)
    tr = np.asarray(ch.traps)
    dist = np.sqrt(((xy[:, None, :] - tr[None, :, :]) ** 2).sum(-1))  # M x K
    cell = mask.area_ha
    det = ch.detector

    def log_pr(i, h):
        """M-vector log Pr(history of animal i | x, h); i None = all zero history."""
        out = np.zeros(len(xy))
        caught_before = False
        for o in range(S):
            c = counts[i, o] if i is not None else np.zeros(K)
            c = np.where(u[:, o] > 0, c, 0.0)
            ignored = i is not None and det == "multi" and np.any((counts[i, o] > 0) & (u[:, o] == 0))
            b = 1 if caught_before else 0
            gk = np.empty((len(xy), K))
            for k in range(K):
                g0, sig = real(i, o, k, b, h)
                v = g0 * np.exp(-dist[:, k] ** 2 / (2 * sig * sig))
                gk[:, k] = -np.expm1(-v) if hazard else v
            hk = -np.log1p(-gk)
            if det == "multi":
                if not ignored:
                    H = (hk * u[None, :, o]).sum(axis=1)
                    if c.sum() == 0:
                        out += -H
                    else:
                        k = int(np.flatnonzero(c)[0])
                        out += np.log(-np.expm1(-H)) + np.log(u[k, o] * hk[:, k]) - np.log(H)
            elif det == "proximity":
                for k in range(K):
                    if u[k, o] == 0:
                        continue
                    lq = u[k, o] * np.log1p(-gk[:, k])
                    out += np.log(-np.expm1(lq)) if c[k] else lq
            else:
                for k in range(K):
                    lam = u[k, o] * hk[:, k]
                    out += c[k] * np.log(np.where(lam > 0, lam, 1.0)) - lam - math.lgamma(c[k] + 1)
            if (i is not None) and np.any(c > 0):
                caught_before = True
        return out

    flat = counts.reshape(n, -1)
    _, mult = np.unique(flat, axis=0, return_counts=True)
    log_mult = sum(math.lgamma(m + 1) for m in mult)
    H = len(classes)
    if likelihood == "full":
        lam = 0.0
        for h in range(H):
            lam += pmix[h] * np.sum(D * cell * -np.expm1(log_pr(None, h)))
        ll = -lam - log_mult
        for i in range(n):
            hs = [known[i]] if known[i] >= 0 else range(H)
            ll += math.log(sum(pmix[h] * np.sum(D * cell * np.exp(log_pr(i, h))) for h in hs))
        return ll
    ll = math.lgamma(n + 1) - log_mult
    for i in range(n):
        num = sum(pmix[h] * np.sum(cell * np.exp(log_pr(i, h))) for h in range(H))
        # p.(x) for an undetected animal with animal i's covariates
        den = sum(pmix[h] * np.sum(cell * -np.expm1(_log_pr_undetected(log_pr, real, i, h))) for h in range(H))
        ll += math.log(num) - math.log(den)
    return ll


def _log_pr_undetected(log_pr, real, i, h):
    # the never-detected history with animal i's individual covariates: log_pr(None, h) calls
    # real(None, ...), so bind the covariates of i through a module-level switch
    _CURRENT[0] = i
    try:
        return log_pr(None, h)
    finally:
        _CURRENT[0] = None


_CURRENT = [None]


def _beta(model, values):
    names = model.coef_names()
    missing = set(values) - set(names)
    assert not missing, (missing, names)
    return np.array([values.get(nm, 0.0) for nm in names])


@pytest.mark.parametrize("detector", ["multi", "proximity", "count"])
def test_loglik_equals_brute_force_b_t_and_trap_covariate_full(detector):
    ch, mask = _small(detector)
    spec = parse_model({"g0": "~b+t", "sigma": "~hab"})
    model = _Model([ch], [mask], spec, "HN", "full")
    vals = {"D": math.log(0.5), "g0": -0.9, "g0.b1": 0.6, "g0.t2": -0.3, "g0.t3": 0.2, "g0.t4": 0.4,
            "sigma": math.log(16.0), "sigma.hab": 0.7}
    beta = _beta(model, vals)
    hab = ch.trap_covariates["hab"]

    def real(i, o, k, b, h):
        tt = [0.0, -0.3, 0.2, 0.4][o]
        return special.expit(-0.9 + 0.6 * b + tt), math.exp(math.log(16.0) + 0.7 * hab[k])

    want = _brute_loglik(ch, mask, "full", real, [None], [1.0], np.full(ch.n, -1), 0.5)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


@pytest.mark.parametrize("detector", ["multi", "proximity", "count"])
def test_loglik_equals_brute_force_hazard_halfnormal_lambda0_b_t(detector):
    """secr's HHN (detectfn 14): lambda0 on the log link, with a learned response, a time
    effect and a detector covariate on sigma."""
    ch, mask = _small(detector)
    spec = parse_model({"lambda0": "~b+t", "sigma": "~hab"})
    model = _Model([ch], [mask], spec, "HHN", "full")
    vals = {"D": math.log(0.5), "lambda0": -0.9, "lambda0.b1": 0.6, "lambda0.t2": -0.3, "lambda0.t3": 0.2,
            "lambda0.t4": 0.4, "sigma": math.log(16.0), "sigma.hab": 0.7}
    beta = _beta(model, vals)
    hab = ch.trap_covariates["hab"]

    def real(i, o, k, b, h):
        tt = [0.0, -0.3, 0.2, 0.4][o]
        return math.exp(-0.9 + 0.6 * b + tt), math.exp(math.log(16.0) + 0.7 * hab[k])

    want = _brute_loglik(ch, mask, "full", real, [None], [1.0], np.full(ch.n, -1), 0.5, hazard=True)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


@pytest.mark.parametrize("detectfn", ["HHN", "HEX"])
@pytest.mark.parametrize("likelihood", ["full", "conditional"])
def test_general_engine_null_hazard_model_equals_fast_path(detectfn, likelihood):
    ch, mask = _captdata("proximity")
    fast = fit_secr(ch.counts, ch.traps, mask.xy, mask.area_ha, detector="proximity", detectfn=detectfn,
                    likelihood=likelihood)
    gen = fit_general([ch], [mask], {}, detectfn=detectfn, likelihood=likelihood)
    assert gen.converged and fast.converged
    assert "lambda0" in fast.estimates and "g0" not in fast.estimates
    assert gen.loglik == pytest.approx(fast.loglik, abs=1e-6)
    for p in fast.estimates:
        assert gen.estimates[p] == pytest.approx(fast.estimates[p], rel=1e-4), p
        assert gen.se[p] == pytest.approx(fast.se[p], rel=0.02), p


def test_hazard_models_refuse_the_other_intercept():
    ch, mask = _captdata("multi")
    with pytest.raises(ModelError, match="intercept is lambda0"):
        _Model([ch], [mask], parse_model({"g0": "~b"}), "HHN", "full")
    with pytest.raises(ModelError, match="intercept is g0"):
        _Model([ch], [mask], parse_model({"lambda0": "~b"}), "HN", "full")


@pytest.mark.parametrize("detector", ["multi", "proximity"])
def test_loglik_equals_brute_force_conditional_individual_covariates(detector):
    ch, mask = _small(detector, seed=5)
    ch = dataclasses.replace(ch, covariates={"weight": ch.covariates["weight"],
                                             "sex": np.where(ch.covariates["sex"] == None, "F",  # noqa: E711
                                                             ch.covariates["sex"])})
    spec = parse_model({"g0": "~b", "sigma": "~sex+weight"})
    model = _Model([ch], [mask], spec, "HN", "conditional")
    vals = {"g0": -1.0, "g0.b1": 0.8, "sigma": math.log(12.0), "sigma.sexM": 0.4, "sigma.weight": 0.02}
    beta = _beta(model, vals)
    sex, weight = ch.covariates["sex"], ch.covariates["weight"]

    def real(i, o, k, b, h):
        j = i if i is not None else _CURRENT[0]
        return (special.expit(-1.0 + 0.8 * b),
                math.exp(math.log(12.0) + 0.4 * (sex[j] == "M") + 0.02 * weight[j]))

    want = _brute_loglik(ch, mask, "conditional", real, [None], [1.0], np.full(ch.n, -1), None)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


def test_loglik_equals_brute_force_known_classes_hcov_full():
    ch, mask = _small("multi", seed=7)
    spec = parse_model({"sigma": "~sex"})
    model = _Model([ch], [mask], spec, "HN", "full")
    assert model.hcov == "sex" and model.class_levels == ("F", "M")
    vals = {"D": math.log(0.7), "g0": -0.8, "sigma": math.log(14.0), "sigma.sexM": 0.5, "pmix.sexM": 0.3}
    beta = _beta(model, vals)
    p_m = special.expit(0.3)

    def real(i, o, k, b, h):
        return special.expit(-0.8), math.exp(math.log(14.0) + 0.5 * h)

    sex = ch.covariates["sex"]
    known = np.array([-1 if s is None else ("F", "M").index(s) for s in sex])
    assert (known == -1).sum() == 1
    want = _brute_loglik(ch, mask, "full", real, ["F", "M"], [1 - p_m, p_m], known, 0.7)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


@pytest.mark.parametrize("likelihood", ["full", "conditional"])
def test_loglik_equals_brute_force_two_class_mixture(likelihood):
    ch, mask = _small("proximity", seed=11)
    spec = parse_model({"g0": "~h2"})
    model = _Model([ch], [mask], spec, "HN", likelihood)
    vals = {"g0": -0.5, "g0.h22": -1.2, "sigma": math.log(17.0), "pmix.h22": -0.4}
    if likelihood == "full":
        vals["D"] = math.log(0.4)
    beta = _beta(model, vals)
    p2 = special.expit(-0.4)

    def real(i, o, k, b, h):
        return special.expit(-0.5 - 1.2 * h), 17.0

    want = _brute_loglik(ch, mask, likelihood, real, [1, 2], [1 - p2, p2], np.full(ch.n, -1), 0.4)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


def test_density_surface_loglik_equals_brute_force():
    ch, mask = _small("count", seed=13)
    spec = parse_model({"D": "~x+y2"})
    model = _Model([ch], [mask], spec, "HN", "full")
    xy = np.asarray(mask.xy)
    zx = (xy[:, 0] - xy[:, 0].mean()) / xy[:, 0].std(ddof=1)
    zy = (xy[:, 1] - xy[:, 1].mean()) / xy[:, 1].std(ddof=1)
    beta = _beta(model, {"D": math.log(0.5), "D.x": 0.3, "D.y2": -0.2, "g0": -1.0, "sigma": math.log(15.0)})
    Dm = np.exp(math.log(0.5) + 0.3 * zx - 0.2 * zy * zy)

    def real(i, o, k, b, h):
        return special.expit(-1.0), 15.0

    want = _brute_loglik(ch, mask, "full", real, [None], [1.0], np.full(ch.n, -1), Dm)
    assert model.loglik(beta) == pytest.approx(want, abs=1e-8 * abs(want))


# --------------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------------


def test_two_identical_sessions_double_the_loglik_and_keep_the_estimates():
    ch, mask = _captdata("multi")
    one = fit_secr(ch.counts, ch.traps, mask.xy, mask.area_ha)
    a = dataclasses.replace(ch, session="A")
    b = dataclasses.replace(ch, session="B")
    two = secr_fit([a, b], mask)
    assert two.converged
    assert two.loglik == pytest.approx(2 * one.loglik, abs=1e-5)
    assert two.npar == 3 and two.n == 2 * ch.n
    for p in ("D", "g0", "sigma"):
        assert two.estimates[p] == pytest.approx(one.estimates[p], rel=1e-4)
        # twice the data: standard errors on the link scale shrink by sqrt(2)
    j = 0
    assert math.sqrt(two.vcov_beta[j, j]) == pytest.approx(math.sqrt(one.vcov_beta[j, j] / 2), rel=0.02)
    sat = secr_fit([a, b], mask, model={"D": "~session"})
    assert sat.npar == 4
    assert set(sat.estimates) >= {"D[session=A]", "D[session=B]", "g0", "sigma"}
    assert sat.estimates["D[session=A]"] == pytest.approx(one.estimates["D"], rel=1e-4)
    assert sat.estimates["D[session=B]"] == pytest.approx(one.estimates["D"], rel=1e-4)
    assert sat.loglik == pytest.approx(two.loglik, abs=1e-5)


def test_session_density_differs_when_one_session_has_half_the_animals():
    ch, mask = _captdata("multi")
    a = dataclasses.replace(ch, session="A")
    keep = np.arange(0, ch.n, 2)
    b = dataclasses.replace(ch, session="B", ids=tuple(ch.ids[i] for i in keep), counts=ch.counts[keep],
                            covariates={})
    fit = secr_fit([a, b], mask, model="D~session")
    assert fit.converged and fit.hessian_pd
    # same detection parameters, half the animals: density about half (n / a with shared a)
    assert fit.estimates["D[session=B]"] / fit.estimates["D[session=A]"] == pytest.approx(len(keep) / ch.n, rel=1e-4)


def test_conditional_multisession_derived_density_per_session():
    ch, mask = _captdata("multi")
    a = dataclasses.replace(ch, session="A")
    b = dataclasses.replace(ch, session="B")
    fit = secr_fit([a, b], mask, likelihood="conditional")
    one = fit_secr(ch.counts, ch.traps, mask.xy, mask.area_ha, likelihood="conditional")
    for s in ("A", "B"):
        assert fit.estimates[f"D[session={s}]"] == pytest.approx(one.estimates["D"], rel=1e-4)
    assert fit.extra["derived_D"]


# --------------------------------------------------------------------------------------------
# learned response recovered; bad models
# --------------------------------------------------------------------------------------------


def test_learned_response_fit_reports_both_levels_and_its_coefficients():
    ch, mask = _captdata("multi")
    fit = secr_fit(ch, mask, model="g0~b")
    assert fit.converged and fit.hessian_pd and fit.npar == 4
    assert {"D", "g0[b=0]", "g0[b=1]", "sigma"} <= set(fit.estimates)
    names = [c["name"] for c in fit.extra["coefficients"]]
    assert names == ["D", "g0", "g0.b1", "sigma"]
    # the b=1 level is the intercept plus the b coefficient
    c = {r["name"]: r["beta"] for r in fit.extra["coefficients"]}
    assert fit.estimates["g0[b=1]"] == pytest.approx(special.expit(c["g0"] + c["g0.b1"]), rel=1e-12)
    # one more parameter can only raise the maximised log-likelihood
    null = fit_secr(ch.counts, ch.traps, mask.xy, mask.area_ha)
    assert fit.loglik >= null.loglik - 1e-6
    assert fit.extra["baseline"]["g0"] == fit.estimates["g0[b=0]"]


@pytest.mark.parametrize("model, likelihood, match", [
    ({"g0": "~colour"}, "full", "neither a built-in variable nor a covariate"),
    ({"D": "~b"}, "full", "density can depend on session"),
    ({"D": "~session"}, "conditional", "D is derived"),
    ({"sigma": "~x"}, "full", "mask coordinate"),
    ({"g0": "~b:t"}, "full", "without the main effect"),
    ({"g0": "~b^2"}, "full", "not understood"),
    ({"lambda": "~b"}, "full", "not a parameter"),
])
def test_bad_models_are_refused_with_the_fix(model, likelihood, match):
    ch, mask = _captdata("multi")
    with pytest.raises(ModelError, match=match):
        secr_fit(ch, mask, model=model, likelihood=likelihood)


def test_numeric_individual_covariate_needs_the_conditional_likelihood():
    ch, mask = _small("multi")
    with pytest.raises(ModelError, match="conditional likelihood"):
        _Model([ch], [mask], {"sigma": "~weight"}, "HN", "full")


@pytest.mark.parametrize("detector", ["multi", "proximity", "count"])
@pytest.mark.parametrize("model", [None, {"g0": "~b"}])
def test_an_occasion_without_any_detector_in_use_changes_nothing(detector, model):
    """Cameras all down on one occasion: the fit equals the fit without that occasion (exactly:
    such an occasion contributes nothing to any history). Once gave 0/0 in the multi-catch
    likelihood and a fit stuck at its starting values."""
    rng = np.random.default_rng(17)
    g = np.arange(6) * 30.0
    traps = np.array([(x, y) for y in g for x in g])
    mask = make_mask(traps, 100, nx=16)
    usage = np.ones((len(traps), 5))
    usage[:, 2] = 0.0
    ch = sim_capthist(traps, sim_popn(8.0, mask, rng), g0=0.25, sigma=25.0, noccasions=5, detector=detector,
                      usage=usage, rng=rng)
    keep = [0, 1, 3, 4]
    short = dataclasses.replace(ch, counts=ch.counts[:, keep], usage=usage[:, keep])
    a = secr_fit(ch, mask, model=model)
    b = secr_fit(short, mask, model=model)
    assert a.converged and b.converged
    assert a.loglik == pytest.approx(b.loglik, abs=1e-6)
    for p in b.estimates:
        assert a.estimates[p] == pytest.approx(b.estimates[p], rel=1e-4), p
