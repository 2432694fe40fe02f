"""Environmental variation (MODEL.md §4.5): one draw per replicate and year moves all classes.

Two standard-normal deviates are drawn each year: z_s for survival and
z_b = ρ·z_s + √(1−ρ²)·ε for breeding. Each class's survival is the quantile Φ(z_s) of a beta
distribution with the class mean and SD (Vortex's beta EV); the breeding deviate is applied by
the reproduction process to its (density-dependent) breeding probability the same way.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaincinv, ndtr

from ..scenario.schema import Scenario
from .base import Field, Process, State


def beta_quantile(mean: np.ndarray, sd: np.ndarray, u: float | np.ndarray) -> np.ndarray:
    """Quantile u of Beta distributions with the given means and SDs (SD 0 → the mean).

    An SD too large for the mean (sd² ≥ m(1−m)) is capped just below the maximum.
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    var_max = mean * (1.0 - mean)
    var = np.minimum(sd**2, 0.999 * var_max)
    out = mean.copy()
    ok = (var > 0.0) & (mean > 0.0) & (mean < 1.0)
    if np.any(ok):
        m = mean[ok]
        common = m * (1.0 - m) / var[ok] - 1.0
        uu = np.broadcast_to(u, mean.shape)[ok]
        out[ok] = betaincinv(m * common, (1.0 - m) * common, uu)
    return out


class Environment(Process):
    name = "environment"
    writes = (
        Field("natural_survival", "year", "probability"),
        Field("breeding_deviate", "year", "probability"),
    )

    def __init__(self, natural: np.ndarray, scenario: Scenario):
        ev = scenario.demography.environmental_variation
        self.mean = np.asarray(natural, dtype=float)  # (sex, stage)
        sd = np.array([ev.survival_sd.cub, ev.survival_sd.subadult, ev.survival_sd.adult])
        self.sd = np.broadcast_to(sd, self.mean.shape).copy()
        self.rho = ev.correlation
        self.has_ev = bool(np.any(self.sd > 0))

    def step(self, state: State, rng: np.random.Generator) -> None:
        z = rng.standard_normal(2)
        z_s = z[0]
        z_b = self.rho * z_s + np.sqrt(1.0 - self.rho**2) * z[1]
        if self.has_ev:
            state.extra["natural_survival"] = beta_quantile(self.mean, self.sd, float(ndtr(z_s)))
        else:
            state.extra["natural_survival"] = self.mean
        state.extra["breeding_deviate"] = float(ndtr(z_b))
