"""Environmental variation (MODEL.md §4.5): one draw per replicate and year moves all classes.

Two standard-normal deviates are drawn each year: z_s for survival and
z_b = ρ·z_s + √(1−ρ²)·ε for breeding. Each class's survival is the quantile Φ(z_s) of a beta
distribution with the class mean and SD (Vortex's beta EV); the breeding deviate is applied by
the reproduction process to its (density-dependent) breeding probability the same way.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import betaincinv, ndtr, ndtri

from ..scenario.schema import Scenario
from ..rng import Streams, as_streams
from .base import Field, Process, State


def beta_parameters(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, varies) of Beta distributions with the given means and SDs.

    ``varies`` is False where the class has no variation (SD 0, or mean 0 or 1); an SD too
    large for the mean (sd² ≥ m(1−m)) is capped just below the maximum.
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    sd = np.broadcast_to(np.asarray(sd, dtype=float), mean.shape)
    var = np.minimum(sd**2, 0.999 * mean * (1.0 - mean))
    varies = (var > 0.0) & (mean > 0.0) & (mean < 1.0)
    common = np.where(varies, mean * (1.0 - mean) / np.where(varies, var, 1.0) - 1.0, 1.0)
    return mean * common, (1.0 - mean) * common, varies


def beta_quantile(mean: np.ndarray, sd: np.ndarray, u: float | np.ndarray) -> np.ndarray:
    """Quantile u of Beta distributions with the given means and SDs (SD 0 → the mean)."""
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    a, b, varies = beta_parameters(mean, sd)
    return np.where(varies, betaincinv(a, b, u), mean)


_Z_GRID = np.linspace(-8.5, 8.5, 1701)


def _exact_quantile(a, b, z):
    """Beta(a, b) quantile at Φ(z), the upper half computed from the other tail so that it keeps
    its precision where Φ(z) rounds to 1."""
    z = np.asarray(z, dtype=float)
    if np.ndim(a) == 0 and np.ndim(b) == 0 and z.ndim == 1:  # one beta: each node in its own half only
        out = np.empty(z.shape)
        low = z < 0.0
        out[low] = betaincinv(a, b, ndtr(z[low]))
        out[~low] = 1.0 - betaincinv(b, a, ndtr(-z[~low]))
        return out
    lower = betaincinv(a, b, ndtr(np.minimum(z, 0.0)))
    upper = 1.0 - betaincinv(b, a, ndtr(-np.maximum(z, 0.0)))
    return np.where(z < 0.0, lower, upper)


class _LazyColumn:
    """Beta(a, b) quantiles at Φ(z) on a fine z grid (z step 0.01), each node computed the first
    time an interpolation needs it, then kept.

    For bell-shaped betas (a, b ≥ 1) linear interpolation between the nodes differs from the
    exact quantile by less than 1e-5 over the whole grid. A node's value does not depend on
    which other nodes were computed, so the result is the same as from a full table — but a
    new (a, b), as every particle of a calibration brings, costs a few nodes per deviate
    instead of 3,400 betaincinv evaluations.
    """

    __slots__ = ("a", "b", "q", "done")

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)
        self.q = np.zeros(_Z_GRID.size)
        self.done = np.zeros(_Z_GRID.size, dtype=bool)

    def interp(self, z: np.ndarray) -> np.ndarray:
        """Interpolated quantiles at deviates z, all within the grid."""
        j = np.clip(np.floor((z - _Z_GRID[0]) * 100.0).astype(np.int64), 0, _Z_GRID.size - 2)
        need = np.concatenate([j - 1, j, j + 1, j + 2]) if z.size else j
        need = need[(need >= 0) & (need < _Z_GRID.size)]
        need = need[~self.done[need]]
        if need.size:
            need = np.unique(need)
            self.q[need] = _exact_quantile(self.a, self.b, _Z_GRID[need])
            self.done[need] = True
        return np.interp(z, _Z_GRID, self.q)


@lru_cache(maxsize=256)
def _column(a: float, b: float) -> _LazyColumn:
    return _LazyColumn(a, b)


_Z_FINE = np.linspace(-8.5, 8.5, 17001)
TABLE_TOLERANCE = 1e-6


@lru_cache(maxsize=64)
def _tail_table(a: float, b: float) -> tuple[list, list, list] | None:
    """For a U- or J-shaped Beta(a, b): log q and log(1 − q) at Φ(z) on a z grid of step 0.001.

    Such a quantile function runs into 0 or 1 like a power of Φ(z), which is a straight line in
    log q; interpolating each tail on its own log scale keeps the precision there. The table is
    checked against the exact quantile halfway between its nodes when it is built, and None is
    returned (the caller stays exact) if it is off by more than ``TABLE_TOLERANCE`` anywhere.
    """
    q = _exact_quantile(a, b, _Z_FINE)
    with np.errstate(divide="ignore"):  # q = 0 or 1 at the grid's ends: log −745 ≈ exp⁻¹(0)
        tables = (np.maximum(np.log(q), -745.0), np.maximum(np.log1p(-q), -745.0))
    mid = 0.5 * (_Z_FINE[1:] + _Z_FINE[:-1])
    if np.max(np.abs(_from_tails(tables, q, mid) - _exact_quantile(a, b, mid))) > TABLE_TOLERANCE:
        return None
    # plain lists: a scalar lookup on a uniform grid is then a few float operations in Python
    return tables[0].tolist(), tables[1].tolist(), q.tolist()  # type: ignore[return-value]


def _from_tails(tables, q: np.ndarray, z):
    log_q, log_1mq = tables
    lower = np.exp(np.interp(z, _Z_FINE, log_q))
    upper = -np.expm1(np.interp(z, _Z_FINE, log_1mq))
    return np.where(np.interp(z, _Z_FINE, q) < 0.5, lower, upper)


class BetaQuantile:
    """z ↦ quantile Φ(z) of one Beta(a, b) from a table: linear interpolation for bell-shaped
    betas (error < 1e-5), each tail on its log scale for U- and J-shaped ones (checked to be
    within 1e-6 when built); the exact (slower) quantile where no table is good enough or z is
    beyond the grid."""

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)
        self.column = _column(self.a, self.b) if min(self.a, self.b) >= 1.0 else None
        self.tails = _tail_table(self.a, self.b) if self.column is None else None
        self._tail_arrays = None if self.tails is None else tuple(np.asarray(t) for t in self.tails)

    def __call__(self, z: float) -> float:
        if abs(z) <= _Z_GRID[-1]:
            if self.column is not None:
                return float(self.column.interp(np.array([z]))[0])
            if self.tails is not None:
                log_q, log_1mq, q = self.tails
                x = (z + 8.5) * 1000.0  # position on _Z_FINE (from −8.5, step 0.001)
                i = min(int(x), len(q) - 2)
                f = x - i
                if q[i] + f * (q[i + 1] - q[i]) < 0.5:
                    return math.exp(log_q[i] + f * (log_q[i + 1] - log_q[i]))
                return -math.expm1(log_1mq[i] + f * (log_1mq[i + 1] - log_1mq[i]))
        return float(_exact_quantile(self.a, self.b, z))


    def many(self, z: np.ndarray) -> np.ndarray:
        """The quantiles at Φ(z) for an array of deviates (the same values as calling one by one)."""
        z = np.asarray(z, dtype=float)
        out = np.empty(z.shape)
        inside = np.abs(z) <= _Z_GRID[-1]
        if self.column is not None:
            out[inside] = self.column.interp(z[inside])
        elif self.tails is not None:
            log_q, log_1mq, q = self._tail_arrays
            x = (z[inside] + 8.5) * 1000.0
            i = np.minimum(x.astype(np.int64), q.size - 2)
            f = x - i
            low = q[i] + f * (q[i + 1] - q[i]) < 0.5
            out[inside] = np.where(
                low, np.exp(log_q[i] + f * (log_q[i + 1] - log_q[i])), -np.expm1(log_1mq[i] + f * (log_1mq[i + 1] - log_1mq[i]))
            )
        else:
            inside[:] = False
        if not inside.all():
            out[~inside] = _exact_quantile(self.a, self.b, z[~inside])
        return out


def beta_quantile_z(a: np.ndarray, b: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Quantiles Φ(z) of Beta(a, b) for a vector of deviates z: shape (len(z), len(a)).

    U-shaped or J-shaped betas (a or b < 1: an SD large for its mean) are evaluated exactly:
    their quantile function is too curved near the ends for the interpolation table.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    z = np.asarray(z, dtype=float)
    out = np.empty((z.size, a.size))
    inside = np.abs(z) <= _Z_GRID[-1]
    for j in range(a.size):
        if min(a[j], b[j]) < 1.0:
            out[:, j] = _exact_quantile(a[j], b[j], z)
        else:
            out[inside, j] = _column(float(a[j]), float(b[j])).interp(z[inside])
            out[~inside, j] = _exact_quantile(a[j], b[j], z[~inside])
    return out


class Environment(Process):
    name = "environment"
    writes = (
        Field("natural_survival", "year", "probability"),
        Field("breeding_deviate", "year", "standard normal"),
    )

    def __init__(self, natural: np.ndarray, scenario: Scenario):
        ev = scenario.demography.environmental_variation
        self.mean = np.asarray(natural, dtype=float)  # (sex, stage)
        sd = np.broadcast_to([ev.survival_sd.cub, ev.survival_sd.subadult, ev.survival_sd.adult], self.mean.shape)
        self.a, self.b, self.varies = beta_parameters(self.mean.ravel(), sd.ravel())
        self.rho = ev.correlation
        self.has_ev = bool(self.varies.any())

    BLOCK = 64

    def _draw_block(self, streams: Streams) -> None:
        """Deviates of every replicate for the next BLOCK years at once (each replicate's stream
        gives the same deviates as year by year)."""
        z = ndtri(streams.per_replicate(2 * self.BLOCK)).reshape(streams.n, self.BLOCK, 2)
        z_s = z[:, :, 0]
        z_b = self.rho * z_s + np.sqrt(1.0 - self.rho**2) * z[:, :, 1]
        shape = (streams.n, self.BLOCK) + self.mean.shape
        if self.has_ev:
            q = beta_quantile_z(np.where(self.varies, self.a, 1.0), np.where(self.varies, self.b, 1.0), z_s.ravel())
            self._surv = np.where(self.varies[None, :], q, self.mean.ravel()[None, :]).reshape(shape)
        else:
            self._surv = np.broadcast_to(self.mean, shape)
        self._breed = z_b
        self._next = 0

    def step(self, state: State, rng) -> None:
        if getattr(self, "_next", self.BLOCK) >= self.BLOCK:
            self._draw_block(as_streams(rng, state.n_reps))
        # (replicates, sex, stage) survival and one standard-normal breeding deviate per replicate
        state.extra["natural_survival"] = self._surv[:, self._next]
        state.extra["breeding_deviate"] = self._breed[:, self._next]
        self._next += 1
