# SPDX-License-Identifier: GPL-3.0-or-later
"""Survey-design simulation for SECR, as the R package secr's ``sim.popn`` + ``sim.capthist``.

* :func:`sim_popn` — activity centres of a homogeneous Poisson process of density ``D``
  (animals per hectare) over a habitat mask or a rectangle.
* :func:`sim_capthist` — the capture histories a detector layout records of those animals, for
  the detector types and detection functions that :mod:`pardus.secr.likelihood` fits; only
  animals detected at least once are kept (as secr).
* :func:`design_study` — simulate-and-fit repeated surveys (secrdesign's ``run.scenarios`` for
  one scenario): relative bias, RMSE and interval coverage of the estimates.

Detection model (identical to the likelihood's module docstring)
----------------------------------------------------------------
For an animal at distance ``d`` from detector ``k`` the per-occasion detection probability is
``g(d)`` (``HN``: ``g0 exp(-d²/2σ²)``, ``EX``: ``g0 exp(-d/σ)``, ``HR``:
``g0 (1 - exp(-(d/σ)^-z))``), with hazard ``h = -log(1 - g)``; ``u_ks`` is the usage (effort)
of detector ``k`` on occasion ``s``.

* ``proximity``: independent Bernoulli detections, ``p = 1 - (1 - g)^u``;
* ``count``: Poisson counts with mean ``u h``;
* ``multi`` (multi-catch traps): competing hazards ``h_k u_ks``, total ``H``; the animal is
  caught with probability ``1 - exp(-H)``, in trap ``k`` with probability ``h_k u_ks / H``;
* ``single`` (single-catch traps, one animal per trap per occasion): secr's random sequential
  arrival — every animal–trap pair gets a time to capture, exponential with rate ``h_k u_ks``;
  in order of time, a pair becomes a capture when both the animal and the trap are still free
  and the time is within the occasion (``<= 1``). secr fits such data with the multi-catch
  likelihood, which ignores trap saturation (slightly biased when traps fill up).

``lambda0`` instead of ``g0`` gives secr's hazard detection functions (HHN, HEX, HHR): the
hazard itself is ``lambda0`` times the shape (HN/EX/HR with ``g0 = 1``) and ``g = 1 - exp(-h)``.
The likelihood fits only the ``g0`` forms, so ``lambda0`` is for simulation only.

A learned response ``b`` (secr's ``g0 ~ b``) is the ``g0`` (or ``lambda0``) that applies to an
animal on the occasions after its first detection; within one occasion every animal is naive
until the occasion ends.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .capthist import DETECTORS, CaptHist
from .likelihood import HAZARD_SHAPE, _detectfn_name, _norm_likelihood, detection_function
from .mask import Mask, make_mask
from .models import secr_fit

__all__ = [
    "sim_popn",
    "sim_capthist",
    "design_study",
    "DesignStudy",
    "DesignSummary",
    "ParamSummary",
    "SimRow",
    "STATUSES",
]

#: Outcome of one simulated survey in :func:`design_study`; only ``"ok"`` rows enter summaries.
STATUSES = ("ok", "no_estimate", "failed", "not_converged", "no_variance")
_STATUS_TEXT = {
    "ok": "fitted",
    "no_estimate": "no estimate (n < 2 animals detected)",
    "failed": "fit raised an error",
    "not_converged": "fit did not converge",
    "no_variance": "Hessian not positive definite (no interval)",
}
_G_MAX = 1.0 - 1e-15  # the likelihood clips g here too


# --------------------------------------------------------------------------------------------
# populations
# --------------------------------------------------------------------------------------------


def sim_popn(D: float, mask_or_region, rng: np.random.Generator) -> np.ndarray:
    """Activity centres of a homogeneous Poisson process of density ``D`` (animals/ha).

    ``mask_or_region``: a :class:`~pardus.secr.mask.Mask` — ``N ~ Poisson(D × mask area)``
    and each centre uniform within a uniformly chosen mask cell (the square of side
    ``spacing`` centred on the mask point), as secr's ``sim.popn(model2D = "IHP")`` places
    animals on a mask; or a rectangle ``(xmin, ymin, xmax, ymax)`` in metres, centres uniform
    within it (secr's default region is the detectors' bounding box plus a buffer).

    Returns an ``(N, 2)`` array of x, y (metres).
    """
    D = float(D)
    if not (math.isfinite(D) and D >= 0):
        raise ValueError(f"density D = {D}; give a non-negative number of animals per hectare")
    if isinstance(mask_or_region, Mask):
        mask = mask_or_region
        m = len(mask)
        if m == 0:
            raise ValueError("the mask has no points; build it with make_mask(traps, buffer)")
        N = int(rng.poisson(D * mask.total_area_ha))
        cell = rng.integers(0, m, size=N)
        jitter = rng.uniform(-0.5, 0.5, size=(N, 2)) * mask.spacing
        return np.asarray(mask.xy, dtype=float)[cell] + jitter
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in mask_or_region)
    except (TypeError, ValueError):
        raise ValueError("mask_or_region must be a Mask or a rectangle (xmin, ymin, xmax, ymax) "
                         "in metres") from None
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"rectangle ({xmin}, {ymin}, {xmax}, {ymax}) has no area; give "
                         "xmin < xmax and ymin < ymax")
    N = int(rng.poisson(D * (xmax - xmin) * (ymax - ymin) * 1e-4))
    lo = np.array([xmin, ymin])
    return lo + rng.uniform(0.0, 1.0, size=(N, 2)) * np.array([xmax - xmin, ymax - ymin])


# --------------------------------------------------------------------------------------------
# capture histories
# --------------------------------------------------------------------------------------------


def _layout(traps):
    """(K × 2 coordinates, labels, own detector type or None, own usage or None)."""
    if isinstance(traps, CaptHist):
        return (np.asarray(traps.traps, dtype=float), tuple(traps.trap_ids), traps.detector,
                traps.usage)
    if hasattr(traps, "xy") and hasattr(traps, "ids"):  # Traps
        return np.asarray(traps.xy, dtype=float), tuple(traps.ids), traps.detector, traps.usage
    xy = np.asarray(traps, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise ValueError(f"detector coordinates have shape {xy.shape}; give a K x 2 array of x, y "
                         "(m), a Traps or a CaptHist")
    return xy, tuple(str(k + 1) for k in range(len(xy))), None, None


def _resolve_design(traps, detector, usage, noccasions):
    """Coordinates, labels, detector type and K × S usage (or None) of a survey."""
    xy, ids, own_detector, own_usage = _layout(traps)
    detector = detector if detector is not None else (own_detector or "proximity")
    if detector not in DETECTORS:
        raise ValueError(f"detector {detector!r} not supported; use one of {', '.join(DETECTORS)}")
    if not (isinstance(noccasions, (int, np.integer)) and noccasions >= 1):
        raise ValueError(f"noccasions = {noccasions!r}; give a whole number >= 1")
    if usage is None:
        usage = own_usage
    if usage is not None:
        usage = np.asarray(usage, dtype=float)
        if usage.shape != (len(xy), noccasions):
            raise ValueError(f"usage has shape {usage.shape}; expected K x S = "
                             f"({len(xy)}, {noccasions})")
        if not np.all(np.isfinite(usage)) or np.any(usage < 0):
            raise ValueError("usage must be finite and non-negative")
    return xy, ids, detector, usage


def _check_detection(fn, g0, sigma, z, lambda0, b) -> None:
    """Raise ValueError unless the detection parameters are usable (see :func:`sim_capthist`)."""
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma = {sigma}; give a positive spatial scale in metres")
    if fn == "HR" and not (z is not None and math.isfinite(z) and z > 0):
        raise ValueError("the hazard-rate detection function needs a shape z > 0")
    if lambda0 is not None:
        if not (math.isfinite(lambda0) and lambda0 > 0):
            raise ValueError(f"lambda0 = {lambda0}; give a positive hazard")
        if b is not None and not (math.isfinite(b) and b > 0):
            raise ValueError(f"b = {b}; with lambda0, give the positive hazard after first detection")
    else:
        if g0 is None or not (math.isfinite(g0) and 0 < g0 <= 1):
            raise ValueError(f"g0 = {g0}; give a detection probability in (0, 1]")
        if b is not None and not (math.isfinite(b) and 0 < b <= 1):
            raise ValueError(f"b = {b}; give the detection probability after first detection in (0, 1]")


def _hazards(dist, detectfn, g0, sigma, z, lambda0):
    """Per-occasion hazard ``h = -log(1 - g)`` at distances ``dist`` (N × K)."""
    if lambda0 is not None:
        return lambda0 * detection_function(dist, 1.0, sigma, z, detectfn)
    g = np.minimum(detection_function(dist, g0, sigma, z, detectfn), _G_MAX)
    return -np.log1p(-g)


def _single_catch(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trap of each animal on one single-catch occasion (-1: not caught).

    ``rate`` (N × K) are the hazards ``h_ik u_k``. Times to capture are exponential with these
    rates; in order of time, a pair (i, k) with time <= 1 is a capture when animal i and trap k
    are both still free. That greedy assignment is computed in rounds of mutually earliest
    pairs (pair (i, k) is animal i's earliest among free traps and trap k's earliest among free
    animals): with continuous times such a pair is always the next capture of the time-ordered
    sequence for both of them, so the rounds give exactly the sequential result.
    """
    out = np.full(rate.shape[0], -1, dtype=np.int64)
    with np.errstate(divide="ignore"):
        t = rng.standard_exponential(size=rate.shape) / rate
    t[~(t <= 1.0)] = np.inf  # rate 0 (unused or no hazard) or arrival after the occasion
    live = np.flatnonzero(np.isfinite(t).any(axis=1))
    t = t[live]
    while t.size:
        kbest = t.argmin(axis=1)
        ibest = t.argmin(axis=0)
        rows = np.arange(len(t))
        mutual = np.isfinite(t[rows, kbest]) & (ibest[kbest] == rows)
        i_new, k_new = rows[mutual], kbest[mutual]
        out[live[i_new]] = k_new
        keep = ~mutual
        t = t[keep]
        live = live[keep]
        t[:, k_new] = np.inf
        still = np.isfinite(t).any(axis=1)
        t, live = t[still], live[still]
    return out


def sim_capthist(traps, popn, *, detectfn="HN", g0: float = 0.2, sigma: float = 25.0,
                 z: float | None = None, lambda0: float | None = None, noccasions: int = 5,
                 detector: str | None = None, usage=None, rng: np.random.Generator,
                 b: float | None = None) -> CaptHist:
    """Simulate one survey of the animals ``popn`` (N × 2 centres) at ``traps``.

    ``traps``: K × 2 coordinates, a :class:`~pardus.secr.capthist.Traps` or a
    :class:`~pardus.secr.capthist.CaptHist` (its detector layout). ``detector``: ``"multi"``,
    ``"single"``, ``"proximity"`` or ``"count"``; ``None`` takes the type of a Traps/CaptHist,
    else ``"proximity"``. ``usage``: K × S effort (0 = not operating: nothing detected there);
    ``None`` takes the layout's own usage if it has one, else every detector is used with
    effort 1 on every occasion. ``detectfn``: ``"HN"``, ``"EX"``, ``"HR"`` (``z`` needed) or
    secr's codes 0, 2, 1; or the hazard forms ``"HHN"``, ``"HEX"``, ``"HHR"`` (14, 16, 15), which
    need ``lambda0``. ``lambda0``: when given, replaces ``g0`` and gives secr's hazard
    functions HHN/HEX/HHR (see the module docstring). ``b``: learned response, the ``g0`` (or
    ``lambda0``) after an animal's first detection. ``rng``: a :class:`numpy.random.Generator`;
    the result is a deterministic function of its state.

    Returns a :class:`CaptHist` (session ``"1"``) of the animals detected at least once,
    numbered ``1..n`` in the order of ``popn`` (secr's ``renumber = TRUE``).
    """
    fn = _detectfn_name(detectfn)
    if fn in HAZARD_SHAPE:  # secr's name of the hazard form: its intercept is lambda0
        if lambda0 is None:
            raise ValueError(f"detection function {fn} is parameterised by the hazard lambda0. Fix: give "
                             f"lambda0=... (or detectfn {HAZARD_SHAPE[fn]} with g0)")
        fn = HAZARD_SHAPE[fn]
    xy, ids, detector, usage = _resolve_design(traps, detector, usage, noccasions)
    _check_detection(fn, g0, sigma, z, lambda0, b)
    popn = np.asarray(popn, dtype=float).reshape(-1, 2)
    N, K, S = len(popn), len(xy), int(noccasions)
    diff = popn[:, None, :] - xy[None, :, :]
    dist = np.sqrt(np.einsum("nkj,nkj->nk", diff, diff))
    h_naive = _hazards(dist, fn, g0, sigma, z, lambda0)
    if b is None:
        h_after = h_naive
    elif lambda0 is not None:
        h_after = _hazards(dist, fn, None, sigma, z, b)
    else:
        h_after = _hazards(dist, fn, b, sigma, z, None)
    u = np.ones((K, S)) if usage is None else usage
    counts = np.zeros((N, S, K), dtype=np.int64)
    seen = np.zeros(N, dtype=bool)
    for s in range(S):
        h = np.where(seen[:, None], h_after, h_naive) if b is not None else h_naive
        rate = h * u[:, s][None, :]  # N x K; 0 where the detector is not used
        if detector == "proximity":
            p = -np.expm1(-rate)  # 1 - (1 - g)^u
            counts[:, s, :] = rng.random(size=rate.shape) < p
        elif detector == "count":
            counts[:, s, :] = rng.poisson(rate)
        elif detector == "multi":
            H = rate.sum(axis=1)
            caught = rng.random(size=N) < -np.expm1(-H)
            idx = np.flatnonzero(caught)
            if idx.size:
                cum = np.cumsum(rate[idx], axis=1)
                target = rng.random(size=idx.size) * cum[:, -1]
                k = np.minimum((cum <= target[:, None]).sum(axis=1), K - 1)
                counts[idx, s, k] = 1
        else:  # single
            k = _single_catch(rate, rng)
            idx = np.flatnonzero(k >= 0)
            counts[idx, s, k[idx]] = 1
        seen |= counts[:, s, :].any(axis=1)
    detected = np.flatnonzero(counts.any(axis=(1, 2)))
    return CaptHist(session="1", ids=tuple(str(j + 1) for j in range(len(detected))),
                    counts=counts[detected], traps=xy.copy(), trap_ids=ids, detector=detector,
                    usage=None if usage is None else usage.copy())


# --------------------------------------------------------------------------------------------
# design study
# --------------------------------------------------------------------------------------------


def _atomic_csv(path, header, rows) -> None:
    """Write a CSV to a temporary file beside ``path``, then rename it over ``path`` (so a
    reader never sees a half-written file); ``None`` and non-finite floats are written ``NA``."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "x", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([["NA" if v is None or (isinstance(v, float) and not math.isfinite(v))
                          else v for v in row] for row in rows])
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fmt(v, spec=".4g"):
    return "NA" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


@dataclass(frozen=True)
class SimRow:
    """One simulated survey: ``N`` animals in the population, ``n`` detected, ``r``
    recaptures (detections − n), ``status`` (one of :data:`STATUSES`), and the fit's
    estimates, lcl and ucl (dicts by parameter; empty unless a fit ran and converged)."""

    sim: int
    N: int
    n: int
    r: int
    status: str
    converged: bool
    estimates: dict = field(default_factory=dict)
    lcl: dict = field(default_factory=dict)
    ucl: dict = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class ParamSummary:
    """Summary of one parameter over the ``m`` usable fits.

    ``rb`` relative bias ``mean(est)/true − 1`` with Monte-Carlo SE ``rb_se = sd(est)/(true √m)``;
    ``rrmse`` relative root-mean-square error; ``coverage`` of the 95 % intervals with binomial
    SE ``coverage_se = √(c (1 − c)/m)``.
    """

    param: str
    true: float
    m: int
    mean: float
    rb: float
    rb_se: float
    rrmse: float
    coverage: float
    coverage_se: float


_SUMMARY_FIELDS = ("param", "true", "m", "mean", "rb", "rb_se", "rrmse", "coverage", "coverage_se")


@dataclass(frozen=True)
class DesignSummary:
    """Per-parameter summary of a design study and the count of each outcome."""

    nsim: int
    status_counts: dict
    params: tuple[ParamSummary, ...]
    mean_n: float
    mean_r: float

    def as_dicts(self) -> list[dict]:
        """One dict per parameter, keys as :class:`ParamSummary` fields."""
        return [{f: getattr(p, f) for f in _SUMMARY_FIELDS} for p in self.params]

    def to_csv(self, path) -> None:
        """Write the per-parameter summary as CSV (atomically: temporary file, then rename;
        undefined values as ``NA``)."""
        _atomic_csv(path, _SUMMARY_FIELDS, [[getattr(p, f) for f in _SUMMARY_FIELDS]
                                            for p in self.params])

    def __str__(self) -> str:
        used = self.status_counts.get("ok", 0)
        lines = [f"{self.nsim} simulated surveys, {used} fits summarised; mean n = "
                 f"{self.mean_n:.1f} animals, mean r = {self.mean_r:.1f} recaptures"]
        for s in STATUSES[1:]:
            if self.status_counts.get(s):
                lines.append(f"  excluded: {self.status_counts[s]} {_STATUS_TEXT[s]}")
        head = f"{'param':6s} {'true':>9s} {'mean':>9s} {'RB':>8s} {'SE(RB)':>7s} " \
               f"{'RRMSE':>7s} {'COV95':>6s} {'SE(COV)':>7s} {'m':>5s}"
        lines += [head, "-" * len(head)]
        for p in self.params:
            lines.append(f"{p.param:6s} {_fmt(p.true, '9.4g')} {_fmt(p.mean, '9.4g')} "
                         f"{_fmt(p.rb, '8.4f')} {_fmt(p.rb_se, '7.4f')} {_fmt(p.rrmse, '7.4f')} "
                         f"{_fmt(p.coverage, '6.3f')} {_fmt(p.coverage_se, '7.4f')} {p.m:5d}")
        return "\n".join(lines)


@dataclass(frozen=True)
class DesignStudy:
    """Result of :func:`design_study`: the ``settings``, one :class:`SimRow` per survey and
    the :class:`DesignSummary`."""

    settings: dict
    rows: tuple[SimRow, ...]
    summary: DesignSummary

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(p.param for p in self.summary.params)

    def rows_as_dicts(self) -> list[dict]:
        """One flat dict per survey: sim, N, n, r, status, converged, then ``<param>``,
        ``<param>_lcl``, ``<param>_ucl`` (None where absent), then message."""
        out = []
        for row in self.rows:
            d = {"sim": row.sim, "N": row.N, "n": row.n, "r": row.r, "status": row.status,
                 "converged": row.converged}
            for p in self.params:
                d[p] = row.estimates.get(p)
                d[f"{p}_lcl"] = row.lcl.get(p)
                d[f"{p}_ucl"] = row.ucl.get(p)
            d["message"] = row.message
            out.append(d)
        return out

    def to_csv(self, path) -> None:
        """Write the per-survey rows as CSV (atomically: temporary file, then rename);
        missing values are written as ``NA``."""
        dicts = self.rows_as_dicts()
        header = list(dicts[0])
        _atomic_csv(path, header, [[d[h] for h in header] for d in dicts])

    def __str__(self) -> str:
        s = self.settings
        return (f"SECR design study: {s['detector']} detectors (K = {s['ndetectors']}), "
                f"{s['noccasions']} occasions, detectfn {s['detectfn']}, {s['likelihood']} "
                f"likelihood, mask {s['mask_points']} points (spacing {s['mask_spacing']:.4g} m)\n"
                + str(self.summary))


def _one_survey(spec: Mapping, sim: int, seed: np.random.SeedSequence) -> SimRow:
    """Simulate and fit survey number ``sim`` (top level, so worker processes can run it)."""
    rng = np.random.default_rng(seed)
    mask = spec["mask"]
    popn = sim_popn(spec["D"], mask, rng)
    ch = sim_capthist(spec["traps"], popn, detectfn=spec["detectfn"], g0=spec["g0"],
                      lambda0=spec.get("lambda0"), sigma=spec["sigma"], z=spec["z"], noccasions=spec["noccasions"],
                      detector=spec["detector"], usage=spec["usage"], rng=rng)
    n, r = ch.n, ch.ndetections - ch.n
    base = {"sim": sim, "N": len(popn), "n": n, "r": r}
    if n < 2:
        return SimRow(**base, status="no_estimate", converged=False,
                      message=f"{n} animal(s) detected")
    try:
        fit = secr_fit(ch, mask, detectfn=spec["detectfn"], likelihood=spec["likelihood"])
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return SimRow(**base, status="failed", converged=False, message=f"{type(exc).__name__}: {exc}")
    if not fit.converged:
        return SimRow(**base, status="not_converged", converged=False, message=fit.message)
    status = "ok" if fit.hessian_pd and all(fit.lcl[p] is not None for p in spec["params"]) \
        else "no_variance"
    return SimRow(**base, status=status, converged=True, estimates=dict(fit.estimates),
                  lcl=dict(fit.lcl), ucl=dict(fit.ucl))


def _one_blas_thread():
    """A context in which the BLAS uses one thread (``threadpoolctl``), else a no-op context.

    The fits' matrix products are small: on a few cores OpenBLAS's own threads slow them
    down, and with worker processes they compete with the workers (two workers on two cores
    ran several times slower than one). Without ``threadpoolctl`` installed the BLAS keeps
    its default thread count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _worker_init() -> None:
    """Worker-process start: one BLAS thread for the worker's lifetime (``threadpool_limits``
    applies its limit when created; the worker never restores it)."""
    _one_blas_thread()


def _run_chunk(spec: Mapping, jobs) -> list[SimRow]:
    """Run the surveys ``jobs`` = [(sim, seed), ...] (top level, for worker processes)."""
    return [_one_survey(spec, sim, seed) for sim, seed in jobs]


def _summarise(rows, truth: Mapping) -> DesignSummary:
    """Outcome counts, and bias, RMSE and coverage per parameter over the ``"ok"`` rows."""
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    ok = [r for r in rows if r.status == "ok"]
    params = []
    for p, true in truth.items():
        est = np.array([r.estimates[p] for r in ok], dtype=float)
        m = len(est)
        if m == 0:
            nan = float("nan")
            params.append(ParamSummary(p, true, 0, nan, nan, nan, nan, nan, nan))
            continue
        lo = np.array([r.lcl[p] for r in ok], dtype=float)
        hi = np.array([r.ucl[p] for r in ok], dtype=float)
        cov = float(np.mean((lo <= true) & (true <= hi)))
        sd = float(est.std(ddof=1)) if m > 1 else float("nan")
        params.append(ParamSummary(
            param=p, true=true, m=m, mean=float(est.mean()), rb=float(est.mean() / true - 1.0),
            rb_se=sd / (true * math.sqrt(m)), rrmse=float(np.sqrt(np.mean((est - true) ** 2)) / true),
            coverage=cov, coverage_se=math.sqrt(cov * (1.0 - cov) / m)))
    return DesignSummary(nsim=len(rows), status_counts=counts, params=tuple(params),
                         mean_n=float(np.mean([r.n for r in rows])),
                         mean_r=float(np.mean([r.r for r in rows])))


def design_study(traps, *, D: float, detectfn="HN", g0: float | None = None, sigma: float,
                 z: float | None = None, lambda0: float | None = None, noccasions: int, detector: str | None = None, usage=None,
                 buffer: float | None = None, nx: int = 32, mask: Mask | None = None, nsim: int = 100,
                 seed: int = 0, workers: int = 1, likelihood: str = "full") -> DesignStudy:
    """Simulate ``nsim`` surveys of a detector layout and fit each (secrdesign's
    ``run.scenarios`` for one scenario, null model).

    Each survey draws a population with :func:`sim_popn` (density ``D`` animals/ha over the
    mask), records it with :func:`sim_capthist` (``detectfn``, ``g0`` — ``lambda0`` for the hazard
    forms HHN, HHR, HEX — ``sigma``, ``z``,
    ``noccasions``, ``detector``, ``usage`` as there) and fits the same detection function with
    :func:`pardus.secr.models.secr_fit` (``likelihood`` ``"full"`` or ``"conditional"``, D then
    derived). The mask is ``mask`` when given, else ``make_mask(traps, buffer, nx)`` with
    ``buffer`` defaulting to 4 σ and ``nx`` to 32, the defaults of secrdesign's
    ``run.scenarios`` (``xsigma = 4, nx = 32``); it is both the region the animals live in and
    the fit's integration region, so no animal outside the mask can be detected.

    Each survey uses its own child seed, ``np.random.SeedSequence(seed).spawn(nsim)[i]``, so the
    result does not depend on ``workers`` (> 1: a process pool of that size).

    A survey with fewer than 2 animals detected gets status ``"no_estimate"``; fits that raise,
    do not converge or give no interval (Hessian not positive definite) get ``"failed"``,
    ``"not_converged"``, ``"no_variance"``. Only ``"ok"`` fits enter the summary; the others are
    counted there (:attr:`DesignSummary.status_counts`).
    """
    fn = _detectfn_name(detectfn)
    hazard = fn in HAZARD_SHAPE
    if hazard and lambda0 is None:
        raise ValueError(f"detection function {fn} is parameterised by the hazard lambda0. Fix: give lambda0")
    if not hazard and lambda0 is not None:
        raise ValueError(f"lambda0 with detection function {fn}, whose intercept is g0. Fix: give g0, or "
                         "use a hazard form HHN, HHR, HEX")
    xy, _, detector, usage = _resolve_design(traps, detector, usage, noccasions)
    _check_detection(HAZARD_SHAPE.get(fn, fn), g0, sigma, z, lambda0, None)
    p0 = "lambda0" if hazard else "g0"
    p0_value = float(lambda0) if hazard else float(g0)
    likelihood = _norm_likelihood(likelihood)
    if not (isinstance(nsim, (int, np.integer)) and nsim >= 1):
        raise ValueError(f"nsim = {nsim!r}; give a whole number of simulations >= 1")
    if not (isinstance(workers, (int, np.integer)) and workers >= 1):
        raise ValueError(f"workers = {workers!r}; give a whole number >= 1")
    if not (math.isfinite(D) and D > 0):
        raise ValueError(f"D = {D}; give a positive density (animals per hectare)")
    made = mask is None
    if made:
        buffer = 4.0 * float(sigma) if buffer is None else float(buffer)
        mask = make_mask(xy, buffer, nx=nx)
    truth = {"D": float(D), p0: p0_value, "sigma": float(sigma)}
    if fn in ("HR", "HHR"):
        truth["z"] = float(z)
    spec = {"mask": mask, "D": float(D), "traps": xy, "detectfn": fn, "g0": None if hazard else p0_value,
            "lambda0": p0_value if hazard else None, "sigma": float(sigma), "z": z, "noccasions": int(noccasions), "detector": detector,
            "usage": usage, "likelihood": likelihood, "params": tuple(truth)}
    jobs = list(enumerate(np.random.SeedSequence(seed).spawn(nsim)))
    if workers == 1:
        with _one_blas_thread():
            rows = _run_chunk(spec, jobs)
    else:
        nchunk = min(len(jobs), 4 * workers)
        chunks = [jobs[i::nchunk] for i in range(nchunk)]
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            rows = [row for part in pool.map(_run_chunk, [spec] * nchunk, chunks) for row in part]
        rows.sort(key=lambda r: r.sim)
    settings = {"D": float(D), "detectfn": fn, p0: p0_value, "sigma": float(sigma), "z": z,
                "noccasions": int(noccasions), "detector": detector, "ndetectors": len(xy),
                "likelihood": likelihood, "nsim": int(nsim), "seed": seed, "workers": int(workers),
                "buffer": buffer if made else None, "nx": nx if made else None,
                "mask_points": len(mask), "mask_spacing": mask.spacing}
    return DesignStudy(settings=settings, rows=tuple(rows), summary=_summarise(rows, truth))
