# SPDX-License-Identifier: GPL-3.0-or-later
"""Maximum-likelihood SECR fit (spatially explicit capture-recapture), matching R's secr.

Model (Borchers & Efford 2008; secr 5.5.0 behaviour)
----------------------------------------------------
Activity centres form a homogeneous Poisson process of density ``D`` (animals per
hectare) over a discretised habitat mask of ``M`` points, each representing
``cell_ha`` hectares.  For an animal centred at mask point ``x`` and a detector
``k`` at distance ``d``, the detection function is

* ``HN`` (secr detectfn 0): ``g(d) = g0 * exp(-d^2 / (2 sigma^2))``
* ``HR`` (secr detectfn 1): ``g(d) = g0 * (1 - exp(-(d / sigma)^(-z)))``
* ``EX`` (secr detectfn 2): ``g(d) = g0 * exp(-d / sigma)``

and secr's hazard forms, whose first parameter is the hazard ``lambda0`` (log link) and
``g(d) = 1 - exp(-lambda(d))``:

* ``HHN`` (secr detectfn 14): ``lambda(d) = lambda0 * exp(-d^2 / (2 sigma^2))``
* ``HHR`` (secr detectfn 15): ``lambda(d) = lambda0 * (1 - exp(-(d / sigma)^(-z)))``
* ``HEX`` (secr detectfn 16): ``lambda(d) = lambda0 * exp(-d / sigma)``

Per occasion ``s`` and detector ``k`` with usage ``u_ks`` (effort; 1 if not given):

* ``multi`` (multi-catch traps; also used by secr for data declared single-catch):
  competing hazards ``h_k = -log(1 - g_k) * u_ks``, ``H = sum_k h_k``; the
  probability of capture in trap ``k`` is ``(1 - exp(-H)) * h_k / H`` and of no
  capture ``exp(-H)``.
* ``proximity`` (binary proximity detectors, secr ``fastproximity = FALSE``):
  independent Bernoulli detections with ``p_ks = 1 - (1 - g_k)^u_ks`` (``= g_k``
  for unit usage); the likelihood is the plain Bernoulli product over occasions.
* ``count`` (Poisson counts, secr ``binomN = 0``): counts ``~ Poisson(u_ks * h_k)``
  with the hazard ``h_k = -log(1 - g_k)`` (secr's convention; so ``a`` matches secr).
  With ``collapse_occasions=True`` (secr's default ``fastproximity = TRUE``) counts are
  summed over occasions and identical histories are counted on the collapsed data.

``Pr(w_i | x)`` is the product of these over occasions and detectors, and the
probability of being detected at least once is ``p.(x) = 1 - Pr(0 | x)``.  The
effective sampling area is ``a = sum_m p.(x_m) * cell_ha`` (hectares).

Full likelihood (secr ``CL = FALSE``, ``distribution = "poisson"``), including, as secr
does, the multinomial coefficient over the ``C`` distinct capture histories (with
multiplicities ``n_c``) and the Poisson term for ``n``::

    LL = -D a + n log D + sum_i log(sum_m Pr(w_i | x_m) cell_ha) - sum_c log(n_c!)

Conditional likelihood (secr ``CL = TRUE``)::

    LL = log(n!) - sum_c log(n_c!) + sum_i log(sum_m Pr(w_i | x_m) cell_ha / a)

with density derived as in secr's ``derived()``: ``D = n / a``, whose variance is
``n / a^2`` (Poisson ``n``) plus ``n^2 / a^4 * var(a)`` with ``var(a)`` from the
delta method on the detection parameters (Huggins-type estimator), and a log-normal
95 % interval.  (No secr reference value for derived D ships with the tests, so this
part is not checked against secr numerically.)

With ``collapse_occasions=True`` proximity data are treated as binomial counts of size
S (secr ``fastproximity = TRUE``: the Bernoulli likelihood plus ``sum log C(S, c_ik)``,
identical histories counted after collapsing).  Detections at a detector whose usage is
0 on that occasion are ignored, as secr does.

Parameters are estimated on secr's link scale (``log D``, ``logit g0`` or ``log lambda0``,
``log sigma``, ``log z``); standard errors are from the inverse of a numerical (central-difference)
Hessian of the log-likelihood on that scale, transformed as secr's ``se.untransform``
(logit: delta method; log: ``exp(beta) sqrt(exp(se^2) - 1)``), and the
95 % intervals are Wald intervals on the link scale back-transformed, as in secr's
``predict()``.  AIC ``= -2 LL + 2 K`` and AICc ``= -2 LL + 2 K n / (n - K - 1)``
with ``n`` the number of animals detected (secr's convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from math import lgamma

import numpy as np
from numba import njit
from scipy import optimize, special
from scipy.stats import norm

__all__ = [
    "SecrFit",
    "fit_secr",
    "secr_loglik",
    "detection_function",
    "hazard_function",
    "is_hazard",
    "first_param",
    "DETECTFN_CODES",
]

#: secr's integer codes for the detection functions implemented here.
DETECTFN_CODES = {"HN": 0, "HR": 1, "EX": 2, "HHN": 14, "HHR": 15, "HEX": 16}
_CODE_TO_NAME = {v: k for k, v in DETECTFN_CODES.items()}
#: the hazard forms and the probability form of the same shape
HAZARD_SHAPE = {"HHN": "HN", "HHR": "HR", "HEX": "EX"}
_DETECTORS = ("multi", "single", "proximity", "count")


def _detectfn_name(detectfn) -> str:
    if isinstance(detectfn, (int, np.integer)):
        if int(detectfn) not in _CODE_TO_NAME:
            raise ValueError(f"detection function code {detectfn} not implemented "
                             "(0 HN, 1 HR, 2 EX, 14 HHN, 15 HHR, 16 HEX)")
        return _CODE_TO_NAME[int(detectfn)]
    name = str(detectfn).upper()
    if name not in DETECTFN_CODES:
        raise ValueError(f"unknown detection function {detectfn!r}; use HN, HR, EX (g0) or "
                         "HHN, HHR, HEX (lambda0)")
    return name


def is_hazard(detectfn) -> bool:
    """True for secr's hazard detection functions (HHN, HHR, HEX), parameterised by lambda0."""
    return _detectfn_name(detectfn) in HAZARD_SHAPE


def first_param(detectfn) -> str:
    """Name of the detection function's intercept: ``lambda0`` for the hazard forms, else ``g0``."""
    return "lambda0" if is_hazard(detectfn) else "g0"


def needs_z(detectfn) -> bool:
    return _detectfn_name(detectfn) in ("HR", "HHR")


def _shape(d, sigma, z, name):
    """The shape of a detection function at distance d (1 at d = 0 for HN and EX)."""
    if name == "HN":
        return np.exp(-(d * d) / (2.0 * sigma * sigma))
    if name == "EX":
        return np.exp(-d / sigma)
    if z is None:
        raise ValueError("hazard-rate detection function needs the shape parameter z")
    with np.errstate(divide="ignore", over="ignore"):
        return -np.expm1(-((d / sigma) ** (-z)))


def detection_function(d, g0, sigma, z=None, detectfn="HN"):
    """Detection probability ``g(d)`` for secr's detection functions: HN, HR, EX with
    intercept ``g0`` (a probability), or HHN, HHR, HEX with intercept ``lambda0`` passed as
    ``g0`` (a hazard: ``g = 1 - exp(-lambda0 * shape)``)."""
    name = _detectfn_name(detectfn)
    d = np.asarray(d, dtype=float)
    if name in HAZARD_SHAPE:
        return -np.expm1(-g0 * _shape(d, sigma, z, HAZARD_SHAPE[name]))
    return g0 * _shape(d, sigma, z, name)


def hazard_function(d, p0, sigma, z=None, detectfn="HN"):
    """Detection hazard ``h(d) = -log(1 - g(d))``; for the hazard forms ``lambda0 * shape``."""
    name = _detectfn_name(detectfn)
    d = np.asarray(d, dtype=float)
    if name in HAZARD_SHAPE:
        return p0 * _shape(d, sigma, z, HAZARD_SHAPE[name])
    with np.errstate(divide="ignore"):
        return -np.log1p(-np.minimum(p0 * _shape(d, sigma, z, name), 1.0))


def _pairwise_distances(a, b):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.einsum("mkj,mkj->mk", diff, diff))


class _Data:
    """Pre-computed, parameter-independent quantities for the likelihood."""

    def __init__(self, counts, traps, mask_xy, cell_ha, detector, usage, collapse_occasions=False):
        counts = np.asarray(counts)
        if counts.ndim != 3:
            raise ValueError("counts must be an array n x S x K")
        traps = np.asarray(traps, float)
        mask_xy = np.asarray(mask_xy, float)
        if traps.ndim != 2 or traps.shape[1] != 2:
            raise ValueError("traps must be K x 2")
        if mask_xy.ndim != 2 or mask_xy.shape[1] != 2 or len(mask_xy) == 0:
            raise ValueError("mask_xy must be M x 2 with M > 0")
        n, S, K = counts.shape
        if K != traps.shape[0]:
            raise ValueError(f"counts has {K} detectors but traps has {traps.shape[0]}")
        if not (np.isfinite(cell_ha) and cell_ha > 0):
            raise ValueError("cell_ha must be positive")
        if detector not in _DETECTORS:
            raise ValueError(f"detector {detector!r} not implemented; use one of {_DETECTORS}")
        if detector == "single":
            detector = "multi"  # secr fits single-catch data with the multi-catch likelihood
        if np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise ValueError("counts must be non-negative integers")
        if detector in ("multi", "proximity") and np.any(counts > 1):
            raise ValueError(f"{detector} detectors allow at most one detection per animal, occasion and detector")
        if detector == "multi" and np.any(counts.sum(axis=2) > 1):
            raise ValueError("multi-catch data allow at most one detection per animal and occasion")
        if usage is None:
            u = np.ones((K, S))
            self.unit_usage = True
        else:
            u = np.asarray(usage, float)
            if u.shape != (K, S):
                raise ValueError(f"usage must be K x S = {(K, S)}, got {u.shape}")
            if np.any(u < 0):
                raise ValueError("usage must be non-negative")
            self.unit_usage = bool(np.all(u == 1))
        # as secr (PIA = 0 for unused detectors): detections at a detector with zero
        # usage on that occasion are ignored; for multi-catch traps that occasion then
        # contributes nothing for that animal
        counts = counts.astype(float)
        unused = (u.T == 0)[None]  # 1 x S x K
        self.ignored = (counts * unused).sum(axis=2) > 0  # n x S (multi only)
        counts = np.where(unused, 0.0, counts)
        extra_const = 0.0
        if collapse_occasions and detector == "count":
            # secr fastproximity=TRUE: Poisson counts summed over occasions (exact for Poisson)
            counts = counts.sum(axis=1, keepdims=True)
            u = u.sum(axis=1, keepdims=True)
            S = 1
        elif collapse_occasions and detector == "proximity":
            # secr fastproximity=TRUE: binomial counts of size S per detector; the
            # Bernoulli product times C(S, c_ik) (requires usage constant over occasions)
            if not np.all(u == u[:, :1]):
                raise ValueError("collapse_occasions for proximity detectors needs usage constant over occasions")
            cik = counts.sum(axis=1)
            extra_const = np.sum(special.gammaln(S + 1.0) - special.gammaln(cik + 1.0)
                                 - special.gammaln(S - cik + 1.0), axis=1)
        elif collapse_occasions and detector == "multi":
            raise ValueError("collapse_occasions applies only to proximity and count detectors")
        self.collapsed = bool(collapse_occasions)
        self.plan = None  # the rows each animal's log Pr gathers (built on first use, _gather_plan)
        self.grad_cols = None  # distances at the detectors those rows use (for the gradient)
        self.counts = counts
        self.n, self.S, self.K = n, S, K
        self.usage = u
        self.detector = detector
        self.cell_ha = float(cell_ha)
        self.log_cell = np.log(self.cell_ha)
        self.M = len(mask_xy)
        self.dist = _pairwise_distances(mask_xy, traps)  # M x K, computed once
        self.dist2 = self.dist * self.dist
        # K x M copies: the fast path works detector by detector along contiguous rows
        self.distT = np.ascontiguousarray(self.dist.T)
        self.dist2T = np.ascontiguousarray(self.dist2.T)
        # multinomial coefficient over identical histories
        flat = (counts.sum(axis=1) if collapse_occasions else counts).reshape(n, -1)
        if n > 0:
            _, mult = np.unique(flat, axis=0, return_counts=True)
        else:
            mult = np.array([], int)
        self.log_mult = float(sum(lgamma(c + 1.0) for c in mult))
        self.log_nfact = lgamma(n + 1.0)
        # per-animal constants (n,), added to log Pr(w_i | x) for every x
        self.const = np.zeros(n)
        if detector == "multi":
            self.caught = self.counts.sum(axis=2)  # n x S, 0/1
            self.ck = self.counts.sum(axis=1)  # n x K
            # only detectors with at least one capture enter the log h_k term
            self.used = np.flatnonzero(self.ck.sum(axis=0) > 0)
            self.ck_used = self.ck[:, self.used]
            with np.errstate(divide="ignore"):
                logu = np.where(u > 0, np.log(np.where(u > 0, u, 1.0)), -np.inf)
            with np.errstate(invalid="ignore"):
                self.const = np.sum(np.where(self.counts > 0, self.counts * logu.T[None], 0.0), axis=(1, 2))
        elif detector == "proximity":
            self.ck = self.counts.sum(axis=1)  # n x K
            self.const = self.const + extra_const
        else:  # count
            self.ck = self.counts.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                logu = np.log(u)
                self.const = np.sum(
                    np.where(self.counts > 0, self.counts * logu.T[None], 0.0)
                    - special.gammaln(self.counts + 1.0), axis=(1, 2))


def _log_pr(data: _Data, g):
    """Return (log Pr(w_i | x_m) as n x M, log Pr(0 | x_m) as M)."""
    g = np.clip(g, 0.0, 1.0 - 1e-15)
    u = data.usage
    with np.errstate(divide="ignore", invalid="ignore"):
        if data.detector == "multi":
            h = -np.log1p(-g)  # M x K
            H = h @ u  # M x S
            log_h = np.log(h[:, data.used])
            # log((1 - e^-H) / H); where H = 0 (no detector used on that occasion, or out of
            # reach) no animal is caught, and the term is set to its limit 0, not 0/0
            log_pcap = np.where(H > 0, np.log(-np.expm1(-H)) - np.log(np.where(H > 0, H, 1.0)), 0.0)  # M x S
            log0 = -H.sum(axis=1)
            lp = (1.0 - data.caught - data.ignored) @ (-H.T) + _safe_matmul(data.caught, log_pcap.T)
            lp += _safe_matmul(data.ck_used, log_h.T)
            lp += data.const[:, None]
            return lp, log0
        if data.detector == "proximity":
            log_g = np.log(g)
            log_1mg = np.log1p(-g)
            if data.unit_usage:
                S = data.S
                lp = _safe_matmul(data.ck, log_g.T) + _safe_matmul(S - data.ck, log_1mg.T)
                log0 = S * log_1mg.sum(axis=1)
                return lp + data.const[:, None], log0
            # p_ks = 1 - (1 - g_k)^u_ks
            log_q = log_1mg[:, :, None] * u[None]  # M x K x S  log(1 - p)
            log_p = np.log(-np.expm1(log_q))
            c = np.transpose(data.counts, (0, 2, 1)).reshape(data.n, -1)  # n x (K S)
            lq = log_q.reshape(data.M, -1)
            lpp = log_p.reshape(data.M, -1)
            lp = _safe_matmul(c, lpp.T) + _safe_matmul(1.0 - c, lq.T)
            log0 = lq.sum(axis=1)
            return lp + data.const[:, None], log0
        # Poisson count: lambda_ks = u_ks h_k with hazard h_k = -log(1 - g_k) (as secr)
        h = -np.log1p(-g)
        lam_tot = h @ u.sum(axis=1)  # M
        lp = _safe_matmul(data.ck, np.log(h).T) - lam_tot[None, :] + data.const[:, None]
        return lp, -lam_tot


def _safe_matmul(a, b):
    """Matrix product treating 0 * (-inf) as 0 (an impossible event not observed)."""
    out = a @ b
    if not np.any(np.isnan(out)):
        return out
    b_fin = np.where(np.isfinite(b), b, 0.0)
    out = a @ b_fin
    bad = (a > 0).astype(float) @ (~np.isfinite(b)).astype(float)
    out[bad > 0] = -np.inf
    return out


@njit(cache=True)
def _gather_rows(top, bottom, ptr, idx, w, const):
    """lp[i, :] = const[i] + sum_j w[j] * rows[idx[j], :] over j in ptr[i]:ptr[i+1] (numba),
    the rows being those of ``top`` followed by those of ``bottom`` (not copied into one
    array): each animal's log Pr(w_i | x) as a sum of a few precomputed rows over the mask,
    instead of dense products with mostly-zero count matrices. Rows may hold -inf (an
    impossible event); w > 0."""
    n = ptr.shape[0] - 1
    M = top.shape[1]
    nt = top.shape[0]
    lp = np.empty((n, M))
    for i in range(n):
        for m in range(M):
            lp[i, m] = const[i]
        for j in range(ptr[i], ptr[i + 1]):
            r = idx[j]
            wj = w[j]
            if r < nt:
                for m in range(M):
                    lp[i, m] += wj * top[r, m]
            else:
                rb = r - nt
                for m in range(M):
                    lp[i, m] += wj * bottom[rb, m]
    return lp


def _csr(entries, n):
    """(ptr, idx, w) from (animal, row, weight) triples."""
    if entries:
        ii, rr, ww = (np.asarray(v) for v in zip(*entries))
    else:
        ii, rr, ww = np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    order = np.argsort(ii, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.add.at(ptr, ii + 1, 1)
    return np.cumsum(ptr), rr[order].astype(np.int64), ww[order].astype(float)


def _gather_plan(data: _Data):
    """The rows each animal sums (built once per data set). Multi-catch: rows 0..S-1 are -H_s,
    S..2S-1 log((1 - e^-H_s)/H_s), then log h_k of the detectors with captures; proximity and
    count: row 0 the all-occasions base, then one row per (detector, usage) or detector
    detected."""
    if data.plan is not None:
        return data.plan
    n, S = data.n, data.S
    c = data.counts
    ent = []
    if data.detector == "multi":
        pos = {int(k): j for j, k in enumerate(data.used)}
        for i in range(n):
            for s_ in range(S):
                if data.ignored[i, s_]:
                    continue
                ks = np.flatnonzero(c[i, s_] > 0)
                if len(ks) == 0:
                    ent.append((i, s_, 1.0))
                else:
                    ent.append((i, S + s_, 1.0))
                    ent.append((i, 2 * S + pos[int(ks[0])], 1.0))
        data.plan = ("multi", _csr(ent, n), None)
        return data.plan
    ii, ss, kk = np.nonzero(c > 0)
    if data.detector == "count":
        det = sorted(set(int(k) for k in kk))
        pos = {k: j + 1 for j, k in enumerate(det)}
        ent = [(i, 0, 1.0) for i in range(n)] + [(int(i), pos[int(k)], float(c[i, s_, k]))
                                                 for i, s_, k in zip(ii, ss, kk)]
        data.plan = ("count", _csr(ent, n), np.array(det, int))
        return data.plan
    pairs = sorted(set((int(k), float(data.usage[k, s_])) for k, s_ in zip(kk, ss)))
    pos = {p: j + 1 for j, p in enumerate(pairs)}
    ent = [(i, 0, 1.0) for i in range(n)] + [(int(i), pos[(int(k), float(data.usage[k, s_]))], 1.0)
                                             for i, s_, k in zip(ii, ss, kk)]
    data.plan = ("proximity", _csr(ent, n), pairs)
    return data.plan


def _log_pr_gather(data: _Data, hT):
    """As :func:`_log_pr` (same terms, same results to rounding) from the K x M detection
    hazards ``hT = -log(1 - g)``, each animal's sum gathered from a few rows over the mask
    (:func:`_gather_rows`)."""
    kind, (ptr, idx, w), extra = _gather_plan(data)
    u = data.usage
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "multi":
            HT = u.T @ hT  # S x M
            log0 = -HT.sum(axis=0)
            pos = HT > 0
            lpc = np.where(pos, np.log(-np.expm1(-HT)) - np.log(np.where(pos, HT, 1.0)), 0.0)
            top, bottom = np.concatenate([-HT, lpc]), np.log(hT[data.used])
        elif kind == "count":
            lam = u.sum(axis=1) @ hT
            log0 = -lam
            top, bottom = -lam[None, :], np.log(hT[extra])
        else:
            l1g = -hT  # log(1 - g), K x M
            log0 = u.sum(axis=1) @ l1g
            if extra:
                kk = np.array([k for k, _ in extra], int)
                uu = np.array([v for _, v in extra], float)
                lq = l1g[kk] * uu[:, None]
                inc = np.log(-np.expm1(lq)) - lq
            else:
                inc = np.zeros((0, hT.shape[1]))
            top, bottom = log0[None, :], inc
    lp = _gather_rows(top, bottom, ptr, idx, w, data.const)
    return lp, log0


def _hazards_T(data: _Data, p0, sigma, z, detectfn):
    """K x M detection hazards -log(1 - g) at every detector and mask point. For the
    probability forms g is kept below 1 - 1e-15 (a hazard of at most 34.5), as in
    :func:`_log_pr`; for the hazard forms the hazard is lambda0 times the shape."""
    if detectfn in HAZARD_SHAPE:
        shape = HAZARD_SHAPE[detectfn]
        if shape == "HN":
            return p0 * np.exp(data.dist2T * (-0.5 / (sigma * sigma)))
        return p0 * _shape(data.distT, sigma, z, shape)
    if detectfn == "HN":
        gT = p0 * np.exp(data.dist2T * (-0.5 / (sigma * sigma)))
    else:
        gT = p0 * _shape(data.distT, sigma, z, detectfn)
    return -np.log1p(-np.clip(gT, 0.0, 1.0 - 1e-15))


def _components(data: _Data, g0, sigma, z, detectfn):
    if np.all(np.isfinite(data.const)):
        lp, log0 = _log_pr_gather(data, _hazards_T(data, g0, sigma, z, detectfn))
    else:
        gT = detection_function(data.distT, g0, sigma, z, detectfn)
        lp, log0 = _log_pr(data, gT.T)
    pdot = -np.expm1(log0)
    a = float(pdot.sum() * data.cell_ha)
    if data.n == 0:
        return a, 0.0
    # log-sum-exp over mask points, per animal
    mx = lp.max(axis=1)
    if not np.all(np.isfinite(mx)):
        return a, -np.inf
    lsum = mx + np.log(np.exp(lp - mx[:, None]).sum(axis=1)) + data.log_cell
    return a, float(np.sum(lsum))


def _components_grad(data: _Data, g0, sigma, z, detectfn):
    """Likelihood components and their gradients, for every detector type of the fast path:
    (a, lsum, da, dlsum), derivatives with respect to the link-scale detection parameters
    (logit g0, log sigma[, log z]).

    By the chain rule through the terms of :func:`_log_pr_gather`: with g_k(x) the detection
    function, h = -log(1 - g), H_s = sum_k u_ks h_k, each row of an animal's log Pr (-H_s,
    log((1 - e^-H_s)/H_s), log h_k) has the derivative row -dH_s, (e^-H/(1 - e^-H) - 1/H) dH_s,
    dh_k/h_k, gathered the same way; d lsum = sum_i sum_m w_im d lp_im with w the per-animal
    softmax weights over the mask, and d a = -c sum_m e^(log0) d log0. Proximity: the rows are
    log0 = -sum_k U_k h_k and log(1 - e^q) - q with q = -u h_k (derivative -dq / (1 - e^q));
    count: log0 and log h_k (derivative dh_k / h_k, weighted by the count)."""
    d, d2 = data.distT, data.dist2T  # K x M
    u = data.usage
    hazard = detectfn in HAZARD_SHAPE
    shape = HAZARD_SHAPE.get(detectfn, detectfn)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # dh/dbeta kept as (scalar, K x M array) pairs. Probability forms: dh/dbeta =
        # dg/dbeta / (1 - g), and the logit-g0 derivative (1 - g0) g/(1 - g) shares the array
        # g/(1 - g) with no extra pass. Hazard forms: h = lambda0 * shape, so the log-lambda0
        # derivative is h itself and the shape's derivatives carry no 1/(1 - g)
        if shape == "HN":
            g = g0 * np.exp(d2 * (-0.5 / (sigma * sigma)))
        elif shape == "EX":
            g = g0 * np.exp(-d / sigma)
        else:
            r = d / sigma
            t = r ** (-z)
            et = np.exp(-t)
            g = g0 * -np.expm1(-t)
        if hazard:
            h = g  # lambda0 * shape
            inv1mg = 1.0
            ratio = h
            dhs = [(1.0, ratio)]
        else:
            clipped = g > 1.0 - 1e-15
            any_clipped = bool(clipped.any())
            if any_clipped:
                g = np.where(clipped, 1.0 - 1e-15, g)
            inv1mg = 1.0 / (1.0 - g)
            if any_clipped:
                inv1mg = np.where(clipped, 0.0, inv1mg)
            ratio = g * inv1mg
            dhs = [(1.0 - g0, ratio)]
        if shape == "HN":
            dhs.append((1.0 / (sigma * sigma), ratio * d2))
        elif shape == "EX":
            dhs.append((1.0 / sigma, ratio * d))
        else:
            zero = r == 0.0
            base_ = np.where(zero, 0.0, g0 * et * t * z) * inv1mg
            dhs.append((1.0, base_))
            dhs.append((-1.0, base_ * np.log(np.where(zero, 1.0, r))))
        if not hazard:
            h = -np.log1p(-g)  # K x M
        kind, (ptr, idx, w), extra = _gather_plan(data)
        M = g.shape[1]
        if kind == "multi":
            H = u.T @ h  # S x M
            E = np.exp(-H)
            pos = H > 0
            Hp = np.where(pos, H, 1.0)
            lpc = np.where(pos, np.log1p(-E) - np.log(Hp), 0.0)
            log0 = -H.sum(axis=0)
            hu = h[data.used]
            top, bottom = np.concatenate([-H, lpc]), np.log(hu)
            # d lpc / dH = e^-H / (1 - e^-H) - 1/H, by its series -1/2 + H/12 where H is small
            # (the two terms cancel there, and both overflow for a denormal H)
            small = Hp < 1e-4
            dlpc_f = np.where(pos, np.where(small, -0.5 + Hp / 12.0, E / -np.expm1(-Hp) - 1.0 / Hp), 0.0)
            cols = data.used
        elif kind == "count":
            U = u.sum(axis=1)
            log0 = -(U @ h)
            hu = h[extra]
            top, bottom = log0[None, :], np.log(hu)
            cols = extra
        else:  # proximity: log(1 - g) = -h
            U = u.sum(axis=1)
            log0 = -(U @ h)
            if extra:
                kk = np.array([k for k, _ in extra], int)
                uu = np.array([v for _, v in extra], float)
                q = -h[kk] * uu[:, None]  # log(1 - p) for (detector, usage)
                inc = np.log(-np.expm1(q)) - q
                # d/dq [log(1 - e^q) - q] = -1 / (1 - e^q); dq = -u dh
                one_m_eq = -np.expm1(q)
            else:
                kk = np.zeros(0, int)
                uu = np.zeros(0)
                inc = np.zeros((0, M))
                one_m_eq = np.zeros((0, M))
            top, bottom = log0[None, :], inc
            cols = kk
        lp = _gather_rows(top, bottom, ptr, idx, w, data.const)
        a = float((-np.expm1(log0)).sum() * data.cell_ha)
        n = data.n
        mx = lp.max(axis=1)
        if n and not np.all(np.isfinite(mx)):
            return a, -np.inf, None, None
        Ex = np.exp(lp - mx[:, None])
        Ssum = Ex.sum(axis=1)
        lsum = float(np.sum(mx + np.log(Ssum) + data.log_cell))
        W = Ex / Ssum[:, None]
        # d rows along the needed detectors, per parameter, with the parameter's scalar
        # factored out (everything below is linear in it)
        sel = data.grad_cols
        if sel is None or (sel[0] is not cols and not np.array_equal(sel[0], cols)):
            sel = data.grad_cols = (cols, d2[cols], d[cols])
        _, d2c, dc = sel
        # (g/(1-g)) / h (multi, count) or u (g/(1-g)) / (1 - (1-g)^u) (proximity) at the
        # needed detectors: quotients of two small numbers far from the detectors, taken as
        # quotients (not times a reciprocal, which overflows) with their limit 1 where g = 0
        if kind in ("multi", "count"):
            num, den = ratio[cols], hu
        else:
            num, den = ratio[cols] * uu[:, None], one_m_eq
        okd = den > 0
        Rc = np.where(okd, num / np.where(okd, den, 1.0), 1.0)
        if shape == "HN":
            col_arrays = [Rc, Rc * d2c]
        elif shape == "EX":
            col_arrays = [Rc, Rc * dc]
        else:
            mult = uu[:, None] if kind == "proximity" else 1.0
            # (where den = 0 the animal's log Pr is -inf there and its weight 0: any finite value)
            col_arrays = [Rc] + [np.where(okd, (arr[cols] * mult) / np.where(okd, den, 1.0), 0.0)
                                 for _, arr in dhs[1:]]
        da, dl = [], []
        zeros = np.zeros(n)
        p0 = np.exp(log0)
        S = u.shape[1]
        for (scale, arr), colv in zip(dhs, col_arrays):
            if kind == "multi":
                dH = u.T @ arr
                dlog0 = -dH.sum(axis=0)
                dtop = np.concatenate([-dH, dlpc_f * dH])
            else:
                dlog0 = -(U @ arr)
                dtop = dlog0[None, :]
            dlp = _gather_rows(dtop, colv, ptr, idx, w, zeros)
            dl.append(scale * float(np.einsum("ij,ij->", W, dlp)))
            da.append(scale * float(-np.sum(p0 * dlog0) * data.cell_ha))
    return a, lsum, np.array(da), np.array(dl)


def _loglik_from(data, likelihood, D, a, lsum):
    if likelihood == "full":
        return -D * a + data.n * np.log(D) + lsum - data.log_mult
    return data.log_nfact - data.log_mult + lsum - data.n * np.log(a)


def secr_loglik(
    counts,
    traps,
    mask_xy,
    cell_ha,
    D=None,
    g0=0.2,
    sigma=30.0,
    z=None,
    detector="multi",
    detectfn="HN",
    usage=None,
    likelihood="full",
    collapse_occasions=False,
):
    """SECR log-likelihood at given natural-scale parameters (see module docstring).

    ``likelihood="full"`` needs ``D`` (animals/ha); ``"conditional"`` ignores it.
    Returns ``(loglik, esa_ha)``.
    """
    data = _Data(counts, traps, mask_xy, cell_ha, detector, usage, collapse_occasions)
    a, lsum = _components(data, g0, sigma, z, detectfn)
    lik = _norm_likelihood(likelihood)
    if lik == "full" and D is None:
        raise ValueError("full likelihood needs D")
    return float(_loglik_from(data, lik, D, a, lsum)), a


def _norm_likelihood(likelihood):
    lk = str(likelihood).lower()
    if lk in ("full",):
        return "full"
    if lk in ("conditional", "cl"):
        return "conditional"
    raise ValueError("likelihood must be 'full' or 'conditional'")


@dataclass
class SecrFit:
    """Result of :func:`fit_secr`.

    ``estimates``, ``se``, ``lcl``, ``ucl`` are dicts keyed by parameter name on the
    natural scale (D in animals/ha; for conditional fits D is the derived density).
    ``se``/``lcl``/``ucl`` hold ``None`` when the Hessian is not positive definite
    (``hessian_pd`` False).  ``converged`` is False when the optimiser did not reach a
    point with a vanishing gradient; then estimates, SEs, logLik, AIC and esa are
    ``None``/NaN (the last iterate is kept in ``extra["last_iterate"]`` for diagnosis).
    """

    detector: str
    detectfn: str
    likelihood: str
    n: int
    estimates: dict
    se: dict
    lcl: dict
    ucl: dict
    links: dict
    beta: np.ndarray
    vcov_beta: np.ndarray | None
    loglik: float
    npar: int
    aic: float
    aicc: float
    esa_ha: float
    converged: bool
    hessian_pd: bool
    message: str = ""
    n_eval: int = 0
    extra: dict = field(default_factory=dict)

    def table(self):
        """Rows (param, link, estimate, SE, lcl, ucl) as a list of tuples."""
        return [
            (p, self.links[p], self.estimates[p], self.se[p], self.lcl[p], self.ucl[p])
            for p in self.estimates
        ]

    def __str__(self):
        lines = [
            f"SECR fit: {self.likelihood} likelihood, detector {self.detector}, detectfn {self.detectfn}, n = {self.n}",
            f"logLik {self.loglik:.6f}  AIC {self.aic:.3f}  AICc {self.aicc:.3f}  npar {self.npar}  esa {self.esa_ha:.6g} ha",
        ]
        if not self.converged:
            lines.append("NOT CONVERGED: " + self.message)
        if not self.hessian_pd:
            lines.append("Hessian not positive definite: no standard errors")
        def fmt(v):
            return "NA" if v is None else f"{v:.6g}"

        for p, link, est, se, lo, hi in self.table():
            lines.append(f"  {p:6s} {link:6s} {fmt(est)}  SE {fmt(se)}  [{fmt(lo)}, {fmt(hi)}]")
        return "\n".join(lines)


def _logit(p):
    return np.log(p / (1.0 - p))


def _expit(x):
    return special.expit(x)


def _component_derivatives(comps, x, rel_step, grads=None):
    """Gradient and Hessian of a(x) and lsum(x): central differences of ``comps``, or, given
    ``grads`` (x -> exact gradients of a and lsum), those gradients and central differences
    of them (2k evaluations instead of 1 + 2k^2)."""
    x = np.asarray(x, float)
    k = len(x)
    h = rel_step * np.maximum(1.0, np.abs(x))
    if grads is not None:
        a_g, l_g = grads(x)
        a_H = np.empty((k, k))
        l_H = np.empty((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            ap, lp = grads(x + e)
            am, lm = grads(x - e)
            a_H[i] = (ap - am) / (2 * h[i])
            l_H[i] = (lp - lm) / (2 * h[i])
        return a_g, 0.5 * (a_H + a_H.T), l_g, 0.5 * (l_H + l_H.T)
    c0 = np.array(comps(x))
    plus = np.empty((k, 2))
    minus = np.empty((k, 2))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        plus[i] = comps(x + e)
        minus[i] = comps(x - e)
    grad = (plus - minus) / (2.0 * h[:, None])  # k x 2
    hess = np.empty((2, k, k))
    for i in range(k):
        hess[:, i, i] = (plus[i] - 2.0 * c0 + minus[i]) / h[i] ** 2
        for j in range(i):
            ei = np.zeros(k)
            ei[i] = h[i]
            ej = np.zeros(k)
            ej[j] = h[j]
            v = (np.array(comps(x + ei + ej)) - np.array(comps(x + ei - ej))
                 - np.array(comps(x - ei + ej)) + np.array(comps(x - ei - ej))) / (4.0 * h[i] * h[j])
            hess[:, i, j] = hess[:, j, i] = v
    return grad[:, 0], hess[0], grad[:, 1], hess[1]


def _rpsv(counts, traps):
    """Root pooled spatial variance of detection locations (secr's RPSV), for starting sigma."""
    num = 0.0
    den = 0.0
    for i in range(counts.shape[0]):
        ck = counts[i].sum(axis=0)
        idx = np.repeat(np.arange(len(traps)), ck.astype(int))
        if len(idx) < 2:
            continue
        xy = traps[idx]
        num += np.sum((xy - xy.mean(axis=0)) ** 2)
        den += len(idx) - 1
    if den == 0:
        return None
    return float(np.sqrt(num / (2.0 * den)))


def fit_secr(
    counts,
    traps,
    mask_xy,
    cell_ha,
    detector="multi",
    detectfn="HN",
    usage=None,
    likelihood="full",
    start=None,
    hessian_rel_step=1e-4,
    collapse_occasions=False,
) -> SecrFit:
    """Fit a null SECR model (D, g0 or lambda0, sigma [, z] constant) by maximum likelihood.

    Parameters
    ----------
    counts : array n x S x K of detections (animal, occasion, detector).
    traps : array K x 2 of detector coordinates (metres).
    mask_xy : array M x 2 of mask point coordinates (metres).
    cell_ha : area of one mask cell in hectares.
    detector : "multi" (also "single", fitted as multi-catch as secr does),
        "proximity" (Bernoulli product, secr ``fastproximity=FALSE``) or
        "count" (Poisson, secr ``binomN=0``).
    detectfn : "HN", "HR", "EX" (intercept g0, logit link) or the hazard forms "HHN", "HHR",
        "HEX" (intercept lambda0, log link), or secr's codes 0, 1, 2, 14, 15, 16.
    usage : array K x S of detector effort, or None (all 1).
    likelihood : "full" or "conditional" (D then derived as n/a).
    start : optional dict of natural-scale starting values (g0 or lambda0, sigma, z).
    hessian_rel_step : relative step of the central differences for the Hessian.
    collapse_occasions : secr's ``fastproximity=TRUE``: proximity data as binomial
        counts of size S (adds ``sum log C(S, c_ik)``), count data summed over
        occasions; the multinomial coefficient is then over collapsed histories.
        The default (False) is secr's ``fastproximity=FALSE``.

    Standard errors: logit-link parameters by the delta method ``p (1 - p) se``;
    log-link parameters as secr's ``se.untransform``, ``exp(beta) sqrt(exp(se^2) - 1)``.

    The optimisation is over the link-scale detection parameters with D profiled out
    (at the full-likelihood maximum ``D = n / a`` exactly); the Hessian is then computed
    numerically for all link parameters of the chosen likelihood.
    """
    lik = _norm_likelihood(likelihood)
    fn = _detectfn_name(detectfn)
    data = _Data(counts, traps, mask_xy, cell_ha, detector, usage, collapse_occasions)
    if data.n == 0:
        raise ValueError("no animals detected: cannot fit SECR model")
    n = data.n
    hr = needs_z(fn)
    hazard = fn in HAZARD_SHAPE
    p0 = first_param(fn)
    traps = np.asarray(traps, float)
    start = dict(start or {})
    if hazard and "g0" in start and "lambda0" not in start:
        raise ValueError(f"start value g0 with detection function {fn}, whose intercept is the hazard "
                         "lambda0. Fix: give lambda0")

    def unpack(det_beta):
        g0 = np.exp(det_beta[0]) if hazard else _expit(det_beta[0])
        sigma = np.exp(det_beta[1])
        z = np.exp(det_beta[2]) if hr else None
        return g0, sigma, z

    n_eval = [0]

    def comps(det_beta):
        n_eval[0] += 1
        g0, sigma, z = unpack(det_beta)
        return _components(data, g0, sigma, z, fn)

    def profile_negll(det_beta):
        a, lsum = comps(det_beta)
        if not np.isfinite(lsum) or a <= 0:
            return 1e50  # impossible data at these parameters (finite, so BFGS copes)
        # conditional LL (up to constants) == profile of full LL over D
        return -(lsum - n * np.log(a))

    # the exact gradient (fewer evaluations than finite differences)
    analytic = bool(np.all(np.isfinite(data.const)))

    def negll_and_grad(det_beta):
        n_eval[0] += 1
        g0, sigma, z = unpack(det_beta)
        a, lsum, da, dl = _components_grad(data, g0, sigma, z, fn)
        if da is None or not np.isfinite(lsum) or a <= 0:
            return 1e50, np.zeros(len(det_beta))
        return -(lsum - n * np.log(a)), -(dl - n * da / a)

    # starting values (in the spirit of secr's autoini: sigma from RPSV, g0 by search)
    sig0 = start.get("sigma") or _rpsv(data.counts, traps)
    if sig0 is None or not np.isfinite(sig0) or sig0 <= 0:
        nn = _pairwise_distances(traps, traps)
        nn[nn == 0] = np.inf
        sig0 = float(np.median(nn.min(axis=1))) if len(traps) > 1 else 1.0
    z0 = start.get("z", 5.0)
    best = None
    if p0 in start:
        g0_grid = [start[p0]]
    else:
        g0_grid = [0.03, 0.1, 0.3, 1.0] if hazard else [0.03, 0.1, 0.25, 0.6]
    # sigma starts at the RPSV (a search over sigma as well cost more evaluations than it
    # saved in the BFGS iterations, on every shipped secr data set and detection function)
    s_grid = [sig0]
    if fn == "EX":
        s_grid = s_grid + [s * 0.6 for s in s_grid] if "sigma" not in start else s_grid
    for gg in g0_grid:
        for ss in s_grid:
            b = [np.log(gg) if hazard else _logit(gg), np.log(ss)] + ([np.log(z0)] if hr else [])
            v = profile_negll(np.array(b))
            if best is None or v < best[0]:
                best = (v, np.array(b))
    x0 = best[1]
    eps = 1e-5

    def grad_at(x):
        if analytic:
            return negll_and_grad(x)[1]
        return np.array([
            (profile_negll(x + eps * e) - profile_negll(x - eps * e)) / (2 * eps)
            for e in np.eye(len(x))
        ])

    if analytic:
        res = optimize.minimize(negll_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-5})
    else:
        res = optimize.minimize(profile_negll, x0, method="BFGS", options={"gtol": 1e-5})
    det_hat = res.x
    converged = bool(res.success)
    message = f"BFGS: {res.message}"
    grad = grad_at(det_hat)
    if not np.all(np.isfinite(grad)) or np.max(np.abs(grad)) > 1e-4:
        # fall back: Nelder-Mead then BFGS polish
        r1 = optimize.minimize(profile_negll, det_hat if np.isfinite(res.fun) else x0,
                               method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 600, "maxfev": 800})
        r2 = optimize.minimize(profile_negll, r1.x, method="BFGS", options={"gtol": 1e-6})
        det_hat = r2.x if r2.fun <= r1.fun + 1e-9 else r1.x
        converged = bool(r1.success) or bool(r2.success)
        message += f"; Nelder-Mead: {r1.message}; BFGS: {r2.message}"
        grad = grad_at(det_hat)
    # convergence is judged by the gradient of the profile log-likelihood, not by
    # BFGS's line-search message (which reports benign precision loss near the optimum)
    converged = bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) <= 1e-3)
    if not converged:
        message += f"; gradient at optimum {grad}"
    if profile_negll(det_hat) >= 1e49:  # the data are impossible everywhere the optimiser went
        converged = False
        message += "; the log-likelihood is -inf at every point tried (the data cannot arise under this model)"

    g0_hat, sig_hat, z_hat = unpack(det_hat)
    a_hat, lsum_hat = _components(data, g0_hat, sig_hat, z_hat, fn)
    D_hat = n / a_hat

    names = (["D"] if lik == "full" else []) + [p0, "sigma"] + (["z"] if hr else [])
    links = {"D": "log", "g0": "logit", "lambda0": "log", "sigma": "log", "z": "log"}

    # Hessian of the negative log-likelihood on the link scale.  Both likelihoods are
    # functions of (a(theta), lsum(theta)) and, for the full likelihood, beta_D = log D
    # enters analytically: negLL = D a - n beta_D - lsum + const.  So the derivatives of
    # a and lsum w.r.t. the detection parameters theta are taken by central differences
    # (one set of evaluations) and the Hessian is assembled exactly in beta_D.
    def grads(x):
        n_eval[0] += 1
        g0_, s_, z_ = unpack(x)
        _, _, da_, dl_ = _components_grad(data, g0_, s_, z_, fn)
        return da_, dl_

    a_g, a_H, l_g, l_H = _component_derivatives(comps, det_hat, hessian_rel_step,
                                                grads=grads if analytic else None)
    if lik == "full":
        beta = np.concatenate([[np.log(D_hat)], det_hat])
        loglik = float(_loglik_from(data, "full", D_hat, a_hat, lsum_hat))
        k = len(beta)
        Hm = np.empty((k, k))
        Hm[0, 0] = D_hat * a_hat
        Hm[0, 1:] = Hm[1:, 0] = D_hat * a_g
        Hm[1:, 1:] = D_hat * a_H - l_H
    else:
        beta = det_hat.copy()
        loglik = float(_loglik_from(data, "conditional", None, a_hat, lsum_hat))
        Hm = -l_H + n * (a_H / a_hat - np.outer(a_g, a_g) / a_hat ** 2)
    vcov = None
    hessian_pd = False
    if np.all(np.isfinite(Hm)):
        try:
            L = np.linalg.cholesky(0.5 * (Hm + Hm.T))
            Linv = np.linalg.inv(L)
            vcov = Linv.T @ Linv
            hessian_pd = True
        except np.linalg.LinAlgError:
            vcov = None
    npar = len(beta)
    aic = -2.0 * loglik + 2.0 * npar
    aicc = -2.0 * loglik + 2.0 * npar * n / (n - npar - 1) if n - npar - 1 > 0 else float("nan")

    zq = norm.ppf(0.975)
    est, se, lcl, ucl = {}, {}, {}, {}
    inv = {"log": np.exp, "logit": _expit}
    for j, p in enumerate(names):
        link = links[p]
        val = float(inv[link](beta[j]))
        est[p] = val
        if vcov is not None and vcov[j, j] > 0:
            s_link = float(np.sqrt(vcov[j, j]))
            if link == "log":
                # secr's se.untransform: log-normal SE exp(beta) sqrt(exp(se^2) - 1)
                se[p] = val * float(np.sqrt(np.expm1(s_link ** 2)))
            else:
                # logit: delta method p (1 - p) se
                se[p] = val * (1.0 - val) * s_link
            lcl[p] = float(inv[link](beta[j] - zq * s_link))
            ucl[p] = float(inv[link](beta[j] + zq * s_link))
        else:
            se[p] = lcl[p] = ucl[p] = None

    extra = {}
    if lik == "conditional":
        # secr derived(): D = n / a, var = n / a^2 + n^2 / a^4 var(a) (a via delta method)
        D_der = n / a_hat
        var_a = None
        if vcov is not None:
            da = a_g
            var_a = float(da @ vcov @ da)
        est = {"D": D_der, **est}
        links = dict(links)
        if var_a is not None:
            varD = n / a_hat ** 2 + n ** 2 / a_hat ** 4 * var_a
            seD = float(np.sqrt(varD))
            # secr derived(): log-normal interval
            cv2 = varD / D_der ** 2
            C = np.exp(zq * np.sqrt(np.log1p(cv2)))
            se = {"D": seD, **se}
            lcl = {"D": D_der / C, **lcl}
            ucl = {"D": D_der * C, **ucl}
        else:
            se = {"D": None, **se}
            lcl = {"D": None, **lcl}
            ucl = {"D": None, **ucl}
        extra["derived_D"] = True

    if not converged:
        # a fit that did not converge is reported as such, never as numbers
        extra["last_iterate"] = {p: v for p, v in est.items()}
        est = {p: None for p in est}
        se = {p: None for p in est}
        lcl = {p: None for p in est}
        ucl = {p: None for p in est}
        vcov = None
        hessian_pd = False
        loglik = aic = aicc = a_hat = float("nan")
    return SecrFit(
        detector=data.detector,
        detectfn=fn,
        likelihood=lik,
        n=n,
        estimates=est,
        se=se,
        lcl=lcl,
        ucl=ucl,
        links={p: links[p] for p in est},
        beta=beta,
        vcov_beta=vcov,
        loglik=loglik,
        npar=npar,
        aic=aic,
        aicc=aicc,
        esa_ha=a_hat,
        converged=converged,
        hessian_pd=hessian_pd,
        message=message,
        n_eval=n_eval[0],
        extra=extra,
    )
