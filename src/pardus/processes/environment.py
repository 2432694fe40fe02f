"""Environmental variation (MODEL.md §4.5): one draw per replicate and year moves all classes.

Two standard-normal deviates are drawn each year: z_s for survival and
z_b = ρ·z_s + √(1−ρ²)·ε for breeding. Each class's survival is the quantile Φ(z_s) of a beta
distribution with the class mean and SD (Vortex's beta EV); the breeding deviate is applied by
the reproduction process to its (density-dependent) breeding probability the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

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


class _LazyTails:
    """For a U- or J-shaped Beta(a, b): q, log q and log(1 − q) at Φ(z) on a z grid of step
    0.001, each node computed the first time a deviate falls next to it, then kept.

    Such a quantile function runs into 0 or 1 like a power of Φ(z), which is a straight line in
    log q; interpolating each tail on its own log scale keeps the precision there. Each grid
    interval is checked against the exact quantile at its midpoint when it is first used; one
    off by more than ``TABLE_TOLERANCE`` is evaluated exactly from then on. What a deviate gets
    depends only on its own interval, so the values are the same whichever deviates came first
    — and a new (a, b), as every particle of a calibration brings, costs a few evaluations per
    deviate, not a table of 50,000.
    """

    __slots__ = ("a", "b", "q", "lq", "l1q", "done", "verdict")

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)
        n = _Z_FINE.size
        self.q, self.lq, self.l1q = np.zeros(n), np.zeros(n), np.zeros(n)
        self.done = np.zeros(n, dtype=bool)
        self.verdict = np.zeros(n - 1, dtype=np.int8)  # 0 unchecked, 1 table, 2 exact

    def _nodes(self, i: np.ndarray) -> None:
        i = i[~self.done[i]]
        if i.size:
            q = _exact_quantile(self.a, self.b, _Z_FINE[i])
            with np.errstate(divide="ignore"):  # q = 0 or 1 at the grid's ends: log −745 ≈ exp⁻¹(0)
                self.lq[i] = np.maximum(np.log(q), -745.0)
                self.l1q[i] = np.maximum(np.log1p(-q), -745.0)
            self.q[i] = q
            self.done[i] = True

    def _interp(self, i: np.ndarray, f: np.ndarray) -> np.ndarray:
        low = self.q[i] + f * (self.q[i + 1] - self.q[i]) < 0.5
        return np.where(
            low,
            np.exp(self.lq[i] + f * (self.lq[i + 1] - self.lq[i])),
            -np.expm1(self.l1q[i] + f * (self.l1q[i + 1] - self.l1q[i])),
        )

    def values(self, z: np.ndarray) -> np.ndarray:
        """Quantiles at deviates z, all within the grid (|z| ≤ 8.5)."""
        x = (z + 8.5) * 1000.0  # position on _Z_FINE (from −8.5, step 0.001)
        i = np.minimum(x.astype(np.int64), _Z_FINE.size - 2)
        f = x - i
        new = np.unique(i[self.verdict[i] == 0])
        if new.size:
            self._nodes(np.unique(np.r_[new, new + 1]))
            mid = 0.5 * (_Z_FINE[new] + _Z_FINE[new + 1])
            err = np.abs(self._interp(new, np.full(new.size, 0.5)) - _exact_quantile(self.a, self.b, mid))
            self.verdict[new] = np.where(err <= TABLE_TOLERANCE, 1, 2)
        out = self._interp(i, f)
        exact = self.verdict[i] == 2
        if exact.any():
            out[exact] = _exact_quantile(self.a, self.b, z[exact])
        return out


@lru_cache(maxsize=256)
def _tails(a: float, b: float) -> _LazyTails:
    return _LazyTails(a, b)


class BetaQuantile:
    """z ↦ quantile Φ(z) of one Beta(a, b) from a table: linear interpolation for bell-shaped
    betas (error < 1e-5), each tail on its log scale for U- and J-shaped ones (each interval
    checked to be within 1e-6 when first used, exact where it is not); the exact quantile
    beyond the grid."""

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)
        self.column = _column(self.a, self.b) if min(self.a, self.b) >= 1.0 else None
        self.tails = _tails(self.a, self.b) if self.column is None else None

    def __call__(self, z: float) -> float:
        return float(self.many(np.array([z]))[0])

    def many(self, z: np.ndarray) -> np.ndarray:
        """The quantiles at Φ(z) for an array of deviates (the same values as calling one by one)."""
        z = np.asarray(z, dtype=float)
        out = np.empty(z.shape)
        inside = np.abs(z) <= _Z_GRID[-1]
        table = self.column.interp if self.column is not None else self.tails.values
        out[inside] = table(z[inside])
        if not inside.all():
            out[~inside] = _exact_quantile(self.a, self.b, z[~inside])
        return out


def beta_quantile_z(a: np.ndarray, b: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Quantiles Φ(z) of Beta(a, b) for a vector of deviates z: shape (len(z), len(a)), each
    column from its class's table (``BetaQuantile``)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    z = np.asarray(z, dtype=float)
    out = np.empty((z.size, a.size))
    for j in range(a.size):
        out[:, j] = BetaQuantile(a[j], b[j]).many(z)
    return out


class Environment(Process):
    name = "environment"
    writes = (
        Field("natural_survival", "year", "probability"),
        Field("breeding_deviate", "year", "standard normal"),
    )

    @dataclass(frozen=True)
    class Params:
        natural_survival: tuple[tuple[float, float, float], tuple[float, float, float]]  # mean by (sex, stage)
        survival_sd: tuple[float, float, float]  # by stage
        correlation: float  # of the breeding deviate with the survival deviate

        @classmethod
        def from_scenario(cls, sc: Scenario, natural: np.ndarray | None = None) -> "Environment.Params":
            """``natural``: the natural survival by (sex, stage) if already derived (else from the
            scenario's life table)."""
            if natural is None:
                from ..population.lifetable import natural_survival

                natural = natural_survival(sc)
            ev = sc.demography.environmental_variation
            sd = (ev.survival_sd.cub, ev.survival_sd.subadult, ev.survival_sd.adult)
            return cls(tuple(tuple(float(x) for x in row) for row in np.asarray(natural)), sd, ev.correlation)

    def __init__(self, params: "Environment.Params"):
        self.params = params
        self.mean = np.asarray(params.natural_survival, dtype=float)  # (sex, stage)
        sd = np.broadcast_to(params.survival_sd, self.mean.shape)
        self.a, self.b, self.varies = beta_parameters(self.mean.ravel(), sd.ravel())
        self.rho = params.correlation
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
        state.fields["natural_survival"] = self._surv[:, self._next]
        state.fields["breeding_deviate"] = self._breed[:, self._next]
        self._next += 1
