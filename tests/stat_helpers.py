"""Shared helpers of the statistical verification suite (tests/statistical, tests/unit/test_kinship.py).

Everything here is deliberately small and independent of the engine's internals: scenarios are
built from the shipped ``nonspatial-vortex`` preset as plain dicts, replicates are run with the
public ``run_batch`` in batches (what an ensemble runs; each replicate's records are identical
to ``run_replicate`` of that replicate alone, tests/unit/test_batch.py) and stacked into arrays,
and the statistics (standard errors of means,
of ratio estimators, of binomial proportions) are written out so that every tolerance in the
tests can say which SE it is a multiple of.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from pardus.engine import batch_size, prepare, run_batch
from pardus.scenario.loader import resolve_scenario, scenario_from_dict
from pardus.scenario.schema import CAUSES, Scenario

CAUSE = {c: i for i, c in enumerate(CAUSES)}
FEMALE, MALE = 0, 1
CUB, SUBADULT, ADULT = 0, 1, 2

#: the multiple of the standard error used by every statistical assertion of the suite.
#: With ~30 such assertions the chance that one fails by sampling error alone at 4 SE is
#: about 30 × 6.3e-5 ≈ 2e-3 (and the seeds are fixed, so a pass is reproducible).
Z = 4.0


def base_raw() -> dict[str, Any]:
    """The raw dict of the nonspatial-vortex preset with every stochastic extra switched off
    (no environmental variation, no inbreeding depression); callers override the rest."""
    raw = copy.deepcopy(resolve_scenario("nonspatial-vortex").raw)
    raw.pop("sources", None)
    raw["demography"]["environmental_variation"] = {}
    raw["demography"]["density_dependence"] = {"enabled": False}
    raw["genetics"] = {"neutral_loci": 1, "lethal_equivalents": 0.0, "lethal_share": 0.5, "fertility_b": 0.0}
    return raw


def scenario(modify: Callable[[dict[str, Any]], None]) -> Scenario:
    raw = base_raw()
    modify(raw)
    return scenario_from_dict(raw)


def survival(female: tuple[float, float, float], male: tuple[float, float, float]) -> dict[str, Any]:
    """The ``demography.survival`` table from (cub, subadult, adult) rates per sex."""
    keys = ("cub", "subadult", "adult")
    return {"basis": "natural", "female": dict(zip(keys, female)), "male": dict(zip(keys, male))}


def run_many(sc: Scenario, seed: int, n: int, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Run replicates 0 … n-1 of a scenario; every record stacked with a leading replicate axis."""
    prep = prepare(sc)
    size = batch_size(prep)
    out: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, size):
        rec = run_batch(prep, seed, range(start, min(n, start + size)))
        for k, v in rec.items():
            if keys is None or k in keys:
                out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def se_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of the mean of independent replicates (sample SD / √n)."""
    x = np.asarray(x, dtype=float)
    return x.std(axis=axis, ddof=1) / np.sqrt(x.shape[axis])


def ratio_and_se(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio estimator Σnum/Σden over independent clusters and its linearised (cluster-robust)
    standard error: SE² = C/(C−1) · Σ_c (num_c − R·den_c)² / (Σden)²."""
    num = np.asarray(num, dtype=float).ravel()
    den = np.asarray(den, dtype=float).ravel()
    c = num.size
    r = num.sum() / den.sum()
    resid = num - r * den
    se = float(np.sqrt(c / (c - 1) * (resid**2).sum()) / den.sum())
    return float(r), se


def binomial_se(p: float, n: float) -> float:
    return float(np.sqrt(p * (1.0 - p) / n))


def fmt(name: str, observed: float, expected: float, se: float) -> str:
    z = f"{abs(observed - expected) / se:.2f}" if se > 0 else "(SE 0: must be exact)"
    return f"{name}: observed {observed:.6g}, expected {expected:.6g}, SE {se:.3g}, |diff|/SE = {z}"


def check_close(name: str, observed: float, expected: float, se: float, allowance: float = 0.0) -> None:
    """Assert |observed − expected| ≤ Z·SE (+ a computed deterministic allowance) and print the
    comparison (visible with ``pytest -s``), so that a run documents how close every check is."""
    line = fmt(name, observed, expected, se)
    print(line)
    assert abs(observed - expected) <= Z * se + allowance + 1e-12, line
