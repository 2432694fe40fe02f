# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulate-and-fit checks of pardus.secr: the simulator and the likelihood agree.

Each test runs a design study (:func:`pardus.secr.simulate.design_study`) on a small instance:
a 6 x 6 grid of detectors at 50 m (= 2 sigma), sigma = 25 m, g0 = 0.2, 5 occasions, D = 5/ha
(about 40 animals detected per survey), a mask of buffer 100 m (= 4 sigma) and nx = 32
(984 points), which is both the region the animals live in and the fit's integration region.
NSIM = 150 surveys per test, fixed seeds (the result is a deterministic function of them), run
on 2 worker processes (the result does not depend on the number of workers).

Tolerances, fixed before the tests were run:

* relative bias: |RB| <= Z * SE_MC(RB) + ALLOW, with SE_MC(RB) = sd(estimates) / (true sqrt(m))
  the Monte-Carlo SE over the m usable fits and ALLOW the small-sample ML bias allowed for.
  ML estimators of SECR parameters are consistent but not exactly unbiased at n ~ 40;
  published simulation studies of this size (Efford 2004; Efford, Borchers & Byrom 2009;
  secrdesign's examples) show |RB(D)| of 1-3 % and |RB| of g0 and sigma of a few per cent,
  so ALLOW is 0.03 for D and sigma and 0.05 for g0 (the least precise, on the logit scale) and
  for lambda0 (secr's hazard half-normal HHN, the same role on the log scale).
* coverage of the 95 % intervals within Z binomial SEs of 0.95: |c - 0.95| <= Z sqrt(0.95 *
  0.05 / m) (about 0.062 for m = 150).

Z = 3.5: with 9 bias/coverage assertions the chance that one fails by Monte-Carlo error alone
is below 9 * 4.7e-4 ≈ 4.2e-3. No assertion depends on wall-clock time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pardus.secr.mask import make_mask
from pardus.secr.simulate import design_study

pytestmark = pytest.mark.slow

NSIM = 150  # simulated surveys per design study
Z = 3.5  # multiple of the Monte-Carlo / binomial SE
ALLOW = {"D": 0.03, "g0": 0.05, "lambda0": 0.05, "sigma": 0.03}  # small-sample ML bias allowed (see docstring)

SIGMA, G0, D, NOCC = 25.0, 0.2, 5.0, 5
_GRID = np.arange(6) * 2 * SIGMA
TRAPS = np.array([(x, y) for y in _GRID for x in _GRID])
MASK = make_mask(TRAPS, 4 * SIGMA, nx=32)


def _study(detector: str, seed: int):
    return design_study(TRAPS, D=D, g0=G0, sigma=SIGMA, noccasions=NOCC, detector=detector,
                        mask=MASK, nsim=NSIM, seed=seed, workers=2)


def _check_bias(summary, params):
    by = {p.param: p for p in summary.params}
    for name in params:
        p = by[name]
        assert p.m >= 0.95 * NSIM, f"only {p.m} of {NSIM} fits usable: {summary.status_counts}"
        tol = Z * p.rb_se + ALLOW[name]
        assert abs(p.rb) <= tol, f"RB({name}) = {p.rb:.4f}, tolerance {tol:.4f}\n{summary}"


def _check_coverage(summary, name):
    p = next(q for q in summary.params if q.param == name)
    tol = Z * math.sqrt(0.95 * 0.05 / p.m)
    assert abs(p.coverage - 0.95) <= tol, \
        f"coverage({name}) = {p.coverage:.3f}, tolerance ±{tol:.3f}\n{summary}"


def test_proximity_density_unbiased_and_covered():
    """Proximity simulation + proximity full-likelihood fit: RB(D) and 95 % coverage of D."""
    result = _study("proximity", seed=20240601)
    assert sum(result.summary.status_counts.values()) == NSIM
    _check_bias(result.summary, ["D"])
    _check_coverage(result.summary, "D")


def test_multi_catch_detection_parameters_unbiased():
    """Multi-catch simulation + multi-catch fit: RB of g0 and sigma (and D)."""
    result = _study("multi", seed=20240602)
    _check_bias(result.summary, ["D", "g0", "sigma"])


def test_hazard_halfnormal_lambda0_unbiased_and_covered():
    """secr's hazard half-normal (HHN, lambda0 = 0.22, so g(0) = 1 - exp(-0.22) ≈ 0.2 as in the
    tests above), multi-catch simulation and fit: RB of D, lambda0 and sigma, coverage of D."""
    result = design_study(TRAPS, D=D, detectfn="HHN", lambda0=0.22, sigma=SIGMA, noccasions=NOCC,
                          detector="multi", mask=MASK, nsim=NSIM, seed=20261203, workers=2)
    assert [p.param for p in result.summary.params] == ["D", "lambda0", "sigma"]
    _check_bias(result.summary, ["D", "lambda0", "sigma"])
    _check_coverage(result.summary, "D")
