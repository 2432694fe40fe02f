# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulate-and-fit check of the formula engine: a learned (trap-happy) response is recovered.

Design: a 6 x 6 grid of multi-catch traps at 50 m (= 2 sigma), sigma = 25 m, 8 occasions,
D = 5/ha (about 50 animals detected per survey), g0 = 0.25 before an animal's first capture and
0.12 after (a trap-shy response, secr's ``g0~b`` model, simulated by ``sim_capthist(b=...)``),
mask buffer 100 m (= 4 sigma), nx = 20, both the region the animals live in and the fit's
integration region. NSIM = 40 surveys, child seeds of one fixed seed. (A trap-happy response
with few occasions is weakly identified — the naive g0 runs to 0 and D to infinity in some
surveys, as is known for model Mb — which would test the design, not the estimator.)

Checked on the link scale, where the ML estimators are close to normal:

* the learned-response coefficient beta_b = logit(g0[b=1]) - logit(g0[b=0]) (true value
  logit(0.12) - logit(0.25) = -0.893): |mean - truth| <= Z * sd / sqrt(m) + 0.10, the 0.10
  allowing for the small-sample ML bias of a coefficient estimated from ~50 animals (its
  sampling SD is about 0.25, so 0.10 is under half of one survey's SE);
* log D: |mean(log D_hat) - log D| <= Z * sd / sqrt(m) + 0.03 (as the design tests' allowance
  for D);
* the 95 % Wald interval of beta_b covers the truth in a share within Z binomial SEs of 0.95.

Z = 3.5: three assertions, chance of a Monte-Carlo failure below 1.5e-3. No wall-clock limit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from pardus.secr.mask import make_mask
from pardus.secr.models import secr_fit
from pardus.secr.simulate import sim_capthist, sim_popn

pytestmark = pytest.mark.slow

NSIM, Z = 40, 3.5
SIGMA, G0, G0_AFTER, D, NOCC = 25.0, 0.25, 0.12, 5.0, 8
_GRID = np.arange(6) * 2 * SIGMA
TRAPS = np.array([(x, y) for y in _GRID for x in _GRID])
MASK = make_mask(TRAPS, 4 * SIGMA, nx=20)
BETA_B = float(special.logit(G0_AFTER) - special.logit(G0))


def test_learned_response_is_recovered_with_nominal_coverage():
    bb, bse, logd = [], [], []
    for ss in np.random.SeedSequence(20261202).spawn(NSIM):
        rng = np.random.default_rng(ss)
        popn = sim_popn(D, MASK, rng)
        ch = sim_capthist(TRAPS, popn, g0=G0, sigma=SIGMA, noccasions=NOCC, detector="multi", rng=rng,
                          b=G0_AFTER)
        fit = secr_fit(ch, MASK, model={"g0": "~b"})
        if not (fit.converged and fit.hessian_pd):
            continue
        coef = {c["name"]: c for c in fit.extra["coefficients"]}
        bb.append(coef["g0.b1"]["beta"])
        bse.append(coef["g0.b1"]["SE"])
        logd.append(math.log(fit.estimates["D"]))
    m = len(bb)
    assert m >= 0.95 * NSIM, f"only {m} of {NSIM} fits usable"
    bb, bse, logd = map(np.asarray, (bb, bse, logd))
    tol_b = Z * bb.std(ddof=1) / math.sqrt(m) + 0.10
    assert abs(bb.mean() - BETA_B) <= tol_b, (bb.mean(), BETA_B, tol_b)
    tol_d = Z * logd.std(ddof=1) / math.sqrt(m) + 0.03
    assert abs(logd.mean() - math.log(D)) <= tol_d, (math.exp(logd.mean()), D, tol_d)
    cover = np.mean(np.abs(bb - BETA_B) <= 1.959964 * bse)
    assert abs(cover - 0.95) <= Z * math.sqrt(0.95 * 0.05 / m), cover
