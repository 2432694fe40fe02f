"""Calibration recovers known parameters (issue 7): records simulated by pardus itself from
known parameter sets, calibrated with `pardus.calibration.calibrate`, must have their 90 %
posterior intervals cover the truth at the nominal rate.

Exactness: the synthetic observation model is the one the distance assumes. Each count is
the simulated number x of one replicate with the true parameters, reported as an interval
[c·e^−h, c·e^h] (on the scale of x + ½) around c = (x + ½)·e^u, u ~ Uniform(−h, h). The
likelihood of such an interval is P(|log(x + ½) − log c| ≤ h | θ), which ABC at ε = 0 (every
simulated count inside its interval) computes without approximation; with the truths drawn
from the prior, the posterior intervals then cover them with the nominal probability. The
test asks the calibration to reach ε = 0 and checks that it did.

Tolerance: 12 truths × 2 parameters = 24 intervals at 90 %: covered ~ Binomial(24, 0.9)
(mean 21.6, SD 1.47) if the intervals are right; the test fails below 17 (P = 0.0017 by
sampling error alone; the two parameters of one truth are not independent, which widens the
spread a little). And the posterior must be informative: a posterior equal to the prior
covers at the nominal rate too, so the mean interval of at least one parameter must be
narrower than 0.8 of the prior's 90 % interval.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stat_helpers.py
from stat_helpers import base_raw  # noqa: E402

from pardus.calibration import Settings, calibrate, weighted_quantiles  # noqa: E402
from pardus.engine import prepare, run_batch  # noqa: E402
from pardus.scenario.loader import Resolved, scenario_from_dict  # noqa: E402

pytestmark = pytest.mark.slow

TRUTHS = 12
H = 0.25  # half-width of a count's interval on the log scale (about ±28 %)
YEARS = (6, 12)
PRIORS = {"demography.survival.*.adult": (0.75, 0.95), "demography.p_breed": (0.3, 0.9)}


def scenario() -> Resolved:
    raw = base_raw()
    raw["run"] = {"start_year": 0, "years": 12, "replicates": 10, "quasi_extinction": 5}
    raw["populations"] = {"main": {"initial_size": 40, "carrying_capacity": 400, "initial_age_distribution": "stable"}}
    return Resolved(scenario=scenario_from_dict(raw, "coverage"), raw=raw, sources={})


def test_posterior_intervals_cover_known_parameters_at_the_nominal_rate(tmp_path):
    res = scenario()
    rng = np.random.default_rng(20261201)
    params = [f"{k}={lo}:{hi}" for k, (lo, hi) in PRIORS.items()]
    covered, widths, report = 0, [], []
    for i in range(TRUTHS):
        truth = np.array([rng.uniform(lo, hi) for lo, hi in PRIORS.values()])
        sc = res.scenario.replace({"demography.survival.female.adult": truth[0], "demography.survival.male.adult": truth[0], "demography.p_breed": truth[1]})
        N = run_batch(prepare(sc, ["main"]), 10_000 + i, [0])["N"][0].sum(axis=(1, 2, 3))
        lines = ["year,low,high,estimate,ci_low,ci_high,counted,populations,method,source"]
        for y in YEARS:
            c = (N[y] + 0.5) * np.exp(rng.uniform(-H, H))
            lines.append(f"{y},{c * np.exp(-H) - 0.5:.6f},{c * np.exp(H) - 0.5:.6f},,,,all_ages,main,synthetic,this test")
        rec = tmp_path / f"truth{i}.csv"
        rec.write_text("\n".join(lines) + "\n")
        r = calibrate(res, str(rec), params, Settings(particles=40, generations=12, tolerance=0.0, min_acceptance=0.0, max_simulations=20_000, workers=2, seed=i + 1))
        assert r.epsilons[-1] == 0.0, f"truth {i}: the calibration stopped at ε = {r.epsilons[-1]} ({r.stopped}), not at 0"
        for j, (lo, hi) in enumerate(PRIORS.values()):
            q05, q95 = weighted_quantiles(r.theta[:, j], r.weights, [0.05, 0.95])
            covered += int(q05 <= truth[j] <= q95)
            widths.append((j, (q95 - q05) / (0.9 * (hi - lo))))
            report.append(f"truth {i} p{j}: {truth[j]:.3f} in [{q05:.3f}, {q95:.3f}]")
    n = TRUTHS * len(PRIORS)
    assert covered >= 17, f"{covered} of {n} intervals cover the truth (expected 21.6 ± 1.5):\n" + "\n".join(report)
    mean_width = [np.mean([w for j, w in widths if j == k]) for k in range(len(PRIORS))]
    assert min(mean_width) < 0.8, f"the posterior is hardly narrower than the prior: mean interval / prior interval = {mean_width}"
