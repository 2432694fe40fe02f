"""Closed-population abundance estimators, reproducing R's ``secr::closedN()``.

The input is a plain capture matrix ``X`` (animals x occasions): an animal that was
detected on an occasion at any detector counts once for that occasion (secr reduces a
capthist the same way, ``apply(abs(object), 1:2, sum) > 0``). Animals never caught must
not appear as rows; a row of zeros is rejected.

Estimators (names as in secr; ``model`` is the Otis et al. 1978 model class):

=============== ===== =================================================================
estimator       model  method and reference
=============== ===== =================================================================
``null``        M0    ML, constant p; Otis et al. (1978) p. 105
``zippin``      Mb    ML, behavioural response (removal); Otis et al. (1978) p. 108,
                      with secr's full likelihood (2010) including the recapture term
``darroch``     Mt    ML, time-varying p; Darroch (1958), Otis et al. (1978) p. 106-7
``h2``          Mh    ML, two-class finite mixture; Pledger (2000)
``betabinomial`` Mh   ML, beta-binomial heterogeneity; Dorazio & Royle (2003)
``jackknife``   Mh    Burnham & Overton (1978, 1979) jackknife with the sequential test
                      for the order, interpolated estimate and Burnham's unconditional
                      variance (as in program CAPTURE, Rexstad & Burnham 1991)
``chao``        Mh    Chao (1987) lower-bound estimator
``chaomod``     Mh    Chao's bias-corrected ("modified") Mh estimator (Chao 1987/1988),
                      falling back to ``chao`` when its conditions fail
``chao.th1``    Mth   Chao, Lee & Jeng (1992) sample-coverage estimator, 1st order
``chao.th2``    Mth   Chao, Lee & Jeng (1992) sample-coverage estimator, 2nd order
=============== ===== =================================================================

Behaviour matched to secr 5.5.0 (``R/ClosedN.R``):

* M0, Mb and Mt treat N as **continuous** (``lgamma`` in place of factorials) and maximise
  the log-likelihood over ``[Mt1, maxN]`` with R's ``optimize`` (Brent's golden-section /
  parabolic search, ``tol = .Machine$double.eps^0.25``). That search is reproduced step by
  step here (:func:`_brent_fmin`), because where the maximum is on the boundary ``N = Mt1``
  the returned point lies a few ``tol`` inside it and the log-normal interval depends on
  ``Nhat - Mt1``. Their SEs are the closed-form asymptotic ones of Otis et al. (1978).
* The log-likelihoods are those of secr: the multinomial coefficient
  ``log N! - log (N-Mt1)! - log Mt1!`` is included, but not the coefficients over identical
  capture histories; M0, Mb and Mt use the profile (concentrated) likelihood in N with the
  ``x log x`` terms of Otis et al.
* ``h2`` and ``betabinomial`` are maximised over all parameters (``log(N - Mt1)`` and
  logit/log scale detection parameters, secr's start values) with scipy (Nelder-Mead then
  BFGS) instead of R's ``nlm``. secr's SE is ``exp(b1) * sqrt(exp(V11**2) - 1)`` with
  ``V11`` the variance of ``b1 = log(N - Mt1)`` from the inverse of ``nlm``'s
  finite-difference Hessian -- the square on ``V11`` is secr's formula, kept so that the
  numbers agree (the textbook log-normal SE would use ``V11``), and the Hessian is computed
  as ``nlm`` does (uncmin's forward-difference ``fdhess``, :func:`_nlm_hessian`), which
  moves the SE in the second decimal compared with an exact Hessian. Not reproduced:
  ``nlm``'s iterations themselves, so where the likelihood is flat (a degenerate mixture,
  variance of p -> 0) or the SE sits on a rounding boundary, secr's SE (which depends on
  the point where ``nlm`` stopped) can differ from pardus' in the second decimal or more.
* The beta-binomial likelihood is secr's, rearranged algebraically into sums of logs
  (``Gamma(a+i)/Gamma(a) = prod_{k<i}(a+k)``) so that it stays exact when the variance of
  p is tiny (secr's ``lgamma`` form then loses all precision).
* A likelihood without an interior maximum (e.g. no recaptures) or an optimiser that did
  not reach a stationary point gives ``converged=False`` with the reason in ``note``; the
  numbers are kept as secr prints them but are not estimates. Closed-form estimators that
  cannot be computed give NaN (secr's NA); an estimate below Mt1 (possible for
  ``chao.th2`` with few occasions, as in secr) is flagged in ``note``.
* AIC ``= -2 LL + 2 npar``; AICc ``= -2 LL + 2 npar Mt1 / (Mt1 - npar - 1)`` (sample
  size = number of animals caught), missing when ``Mt1 - npar - 1 <= 0``; ``dAICc`` and
  ``AICcwt`` over the ML estimators requested together, weights only for ``dAICc < dmax``.
* Intervals: log-normal on ``f0 = Nhat - Mt1`` (Burnham et al. 1987; Chao 1987; Rexstad &
  Burnham 1991): ``C = exp(z sqrt(log(1 + (se/f0)^2)))``, ``(Mt1 + f0/C, Mt1 + f0 C)``;
  missing when ``f0 <= 0``.
* Values above ``maxN`` are reported as missing (secr sets every such cell to NA).

The returned numbers are not rounded; :meth:`ClosedEstimate.rounded` applies secr's print
rounding (loglik 3 decimals, AIC/AICc/dAICc/N columns 2, AICcwt 3).

References: Otis, D. L., Burnham, K. P., White, G. C. & Anderson, D. R. (1978) Statistical
inference from capture data on closed animal populations. Wildlife Monographs 62.
Burnham, K. P. & Overton, W. S. (1978) Biometrika 65, 625-633; (1979) Ecology 60, 927-936.
Burnham, K. P., Anderson, D. R., White, G. C., Brownie, C. & Pollock, K. H. (1987) Design
and analysis methods for fish survival experiments based on release-recapture. AFS
Monograph 5. Chao, A. (1987) Biometrics 43, 783-791. Chao, A., Lee, S.-M. & Jeng, S.-L.
(1992) Biometrics 48, 201-216. Pledger, S. (2000) Biometrics 56, 434-442. Dorazio, R. M. &
Royle, J. A. (2003) Biometrics 59, 351-364. Rexstad, E. & Burnham, K. P. (1991) User's
guide for interactive program CAPTURE. Brent, R. P. (1973) Algorithms for minimization
without derivatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import optimize, stats
from scipy.special import expit, gammaln, xlogy

__all__ = [
    "ESTIMATORS",
    "MODELS",
    "ClosedEstimate",
    "capture_counts",
    "closed_n",
    "ln_interval",
]

#: estimator name -> model class, in secr's order
MODELS: dict[str, str] = {
    "null": "M0",
    "zippin": "Mb",
    "darroch": "Mt",
    "h2": "Mh",
    "betabinomial": "Mh",
    "jackknife": "Mh",
    "chao": "Mh",
    "chaomod": "Mh",
    "chao.th1": "Mth",
    "chao.th2": "Mth",
}
ESTIMATORS: tuple[str, ...] = tuple(MODELS)
_ML = ("null", "zippin", "darroch", "h2", "betabinomial")

_R_OPTIMIZE_TOL = np.finfo(float).eps ** 0.25  # R optimize() default tol
_NAN = float("nan")


@dataclass(frozen=True)
class ClosedEstimate:
    """One row of secr's ``closedN`` table (unrounded; NaN where secr prints NA)."""

    estimator: str
    model: str
    npar: int | None
    loglik: float
    AIC: float
    AICc: float
    dAICc: float
    AICcwt: float
    Mt1: int
    Nhat: float
    seNhat: float
    lclNhat: float
    uclNhat: float
    #: False where the maximisation did not reach an interior maximum / stationary point
    #: (the numbers are still those secr would print, but must not be used as estimates)
    converged: bool = True
    #: why ``converged`` is False, or a warning (e.g. Hessian not positive definite)
    note: str = ""

    def rounded(self) -> "ClosedEstimate":
        """The row with secr's print rounding (R ``round``: half to even at the
        representable value, as numpy)."""

        def r(x: float, d: int) -> float:
            return float(np.round(x, d)) if np.isfinite(x) else x

        return replace(
            self,
            loglik=r(self.loglik, 3),
            AIC=r(self.AIC, 2),
            AICc=r(self.AICc, 2),
            dAICc=r(self.dAICc, 2),
            AICcwt=r(self.AICcwt, 3),
            Nhat=r(self.Nhat, 2),
            seNhat=r(self.seNhat, 2),
            lclNhat=r(self.lclNhat, 2),
            uclNhat=r(self.uclNhat, 2),
        )

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ----------------------------------------------------------------------------- input


def _as_capture_matrix(X) -> np.ndarray:
    if hasattr(X, "counts") and not isinstance(X, np.ndarray):  # pardus CaptHist
        X = X.counts
    A = np.asarray(X)
    if A.ndim == 3:  # animals x occasions x detectors -> caught on occasion at all
        A = (np.abs(A) > 0).any(axis=2)
    if A.ndim != 2:
        raise ValueError(f"capture matrix must be animals x occasions, got shape {A.shape}")
    if not np.all(np.isfinite(A.astype(float))):
        raise ValueError("capture matrix contains non-finite values")
    A = np.abs(A) > 0  # secr: sum(abs(x)) > 0 (negative = died on capture)
    if A.shape[1] < 2:
        raise ValueError("closed-population estimators need at least 2 occasions")
    empty = np.flatnonzero(~A.any(axis=1))
    if empty.size:
        raise ValueError(
            f"capture matrix rows {empty[:10].tolist()} have no captures; "
            "only animals caught at least once may be rows"
        )
    if A.shape[0] == 0:
        raise ValueError("capture matrix has no animals")
    return A.astype(np.int64)


def capture_counts(X) -> dict[str, np.ndarray]:
    """secr's ``summary(capthist)$counts`` rows used by ``closedN``.

    ``n``: animals caught on each occasion; ``u``: animals caught for the first time on
    each occasion; ``f``: ``f[k-1]`` animals caught on exactly k occasions;
    ``M``: cumulative distinct animals M(t+1) after each occasion.
    """
    A = _as_capture_matrix(X)
    K = A.shape[1]
    n = A.sum(axis=0)
    first = np.argmax(A > 0, axis=1)
    u = np.bincount(first, minlength=K)
    f = np.bincount(A.sum(axis=1), minlength=K + 1)[1:]
    return {"n": n, "u": u, "f": f, "M": np.cumsum(u)}


# ------------------------------------------------------------------ R's optimize()


def _brent_fmin(f: Callable[[float], float], ax: float, bx: float, tol: float) -> float:
    """Brent's (1973) one-dimensional minimiser, step for step as R's ``optimize``
    (C routine ``Brent_fmin``): golden-section and parabolic steps, relative tolerance
    ``sqrt(DBL_EPSILON)`` plus absolute ``tol/3``, never evaluating at the end points."""
    golden = (3.0 - math.sqrt(5.0)) * 0.5
    eps = math.sqrt(np.finfo(float).eps)
    a, b = ax, bx
    v = w = x = a + golden * (b - a)
    d = e = 0.0
    fx = fv = fw = f(x)
    tol3 = tol / 3.0
    while True:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol3
        t2 = tol1 * 2.0
        if abs(x - xm) <= t2 - (b - a) * 0.5:
            break
        p = q = r = 0.0
        if abs(e) > tol1:  # trial parabola
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < xm else (a - x)  # golden-section step
            d = golden * e
        else:  # parabolic step
            d = p / q
            u = x + d
            if u - a < t2 or b - u < t2:
                d = tol1 if x < xm else -tol1
        if abs(d) >= tol1:
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x


def _r_optimize_max(loglik: Callable[[float], float], lower: float, upper: float):
    """``optimize(loglik, c(lower, upper), maximum = TRUE)`` -> (maximum, objective)."""

    def neg(N: float) -> float:
        val = -loglik(N)
        return val if np.isfinite(val) else np.inf

    xmax = _brent_fmin(neg, float(lower), float(upper), _R_OPTIMIZE_TOL)
    obj = loglik(xmax)
    note = ""
    if not np.isfinite(obj):
        note = "log-likelihood not finite at the estimate"
    elif (loglik(float(upper)) >= obj - 1e-6 * (1.0 + abs(obj))
          or xmax - lower > 0.5 * (upper - lower)):
        # flat to rounding error up to maxN (e.g. no recaptures): no interior maximum
        note = "log-likelihood still increasing at maxN: no finite maximum"
    return xmax, obj, note


def _lchoose_N(N: float, Mt1: int) -> float:
    return gammaln(N + 1.0) - gammaln(N - Mt1 + 1.0) - gammaln(Mt1 + 1.0)


# ------------------------------------------------------------------- ML estimators


def _null(n_t: np.ndarray, Mt1: int, maxN: float):
    """M0 (Otis et al. 1978 p. 105), profile likelihood in continuous N."""
    tt = n_t.size
    n = float(n_t.sum())

    def loglik(N: float) -> float:
        tN = tt * N
        return float(
            xlogy(n, n) + xlogy(tN - n, tN - n) - xlogy(tN, tN) + _lchoose_N(N, Mt1)
        )

    nhat, ll, note = _r_optimize_max(loglik, Mt1, maxN)
    p = n / (tt * nhat)
    se = np.sqrt(nhat / ((1.0 - p) ** (-tt) - tt / (1.0 - p) + tt - 1.0))
    return nhat, se, 2, ll, note


def _zippin(n_t: np.ndarray, u_t: np.ndarray, maxN: float):
    """Mb (Otis et al. 1978 p. 108; secr's full likelihood with the recapture term)."""
    tt = u_t.size
    m = float((n_t - u_t).sum())  # recaptures
    Mj = np.concatenate([[0], np.cumsum(u_t)])
    Mdot = float(Mj[1:tt].sum())
    Mt1 = int(Mj[tt])
    cterm = xlogy(m, m / Mdot) + xlogy(Mdot - m, 1.0 - m / Mdot) if m > 0 else 0.0

    def loglik(N: float) -> float:
        a = tt * N - Mdot - Mt1
        b = tt * N - Mdot
        return float(_lchoose_N(N, Mt1) + xlogy(Mt1, Mt1) + xlogy(a, a) - xlogy(b, b) + cterm)

    nhat, ll, note = _r_optimize_max(loglik, Mt1, maxN)
    p = Mt1 / (tt * nhat - Mdot)
    q = 1.0 - p
    with np.errstate(all="ignore"):
        var = (nhat * q**tt * (1.0 - q**tt)) / ((1.0 - q**tt) ** 2 - tt**2 * p**2 * q ** (tt - 1))
    se = np.sqrt(var) if var >= 0 else _NAN
    return nhat, se, 3, ll, note


def _darroch(n_t: np.ndarray, Mt1: int, maxN: float):
    """Mt (Darroch 1958; Otis et al. 1978 p. 106-7), profile likelihood, continuous N."""
    tt = n_t.size
    nt = n_t.astype(float)
    const = float(xlogy(nt, nt).sum())

    def loglik(N: float) -> float:
        return float(
            _lchoose_N(N, Mt1) - tt * xlogy(N, N) + const + xlogy(N - nt, N - nt).sum()
        )

    nhat, ll, note = _r_optimize_max(loglik, Mt1, maxN)
    t1 = float(np.prod(1.0 - nt / nhat))
    t2 = float(np.sum(1.0 / (1.0 - nt / nhat)))
    with np.errstate(all="ignore"):
        var = nhat / (1.0 / t1 + tt - 1.0 - t2)
    se = np.sqrt(var) if var >= 0 else _NAN
    return nhat, se, tt + 1, ll, note


def _nlm_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, ndigit: int = 12) -> np.ndarray:
    """Forward-difference Hessian as R's ``nlm(..., hessian = TRUE)`` computes it at the
    solution (uncmin's ``fdhess`` with nlm's defaults ``ndigit = 12``, ``typsize = 1``):
    step ``h_i = 10^(-ndigit/3) * max(x_i, 1)``,
    ``H_ii = (f(x) - 2 f(x + h_i) + f(x + 2 h_i)) / h_i^2`` and
    ``H_ij = (f(x) - f(x + h_i) - f(x + h_j) + f(x + h_i + h_j)) / (h_i h_j)``.
    secr's SEs for ``h2`` and ``betabinomial`` come from this approximation; an exact
    Hessian gives SEs that differ in the second decimal."""
    x = np.array(x, dtype=float)
    k = x.size
    eta = 10.0 ** (-ndigit / 3.0)
    fval = fun(x)
    step = np.empty(k)
    fi = np.empty(k)
    for i in range(k):
        xi = x[i]
        x[i] = xi + eta * max(xi, 1.0)
        step[i] = x[i] - xi
        fi[i] = fun(x)
        x[i] = xi
    H = np.empty((k, k))
    for i in range(k):
        xi = x[i]
        x[i] = xi + 2.0 * step[i]
        fii = fun(x)
        H[i, i] = ((fval - fi[i]) + (fii - fi[i])) / (step[i] * step[i])
        x[i] = xi + step[i]
        for j in range(i + 1, k):
            xj = x[j]
            x[j] = xj + step[j]
            fij = fun(x)
            H[i, j] = H[j, i] = ((fval - fi[i]) + (fij - fi[j])) / (step[i] * step[j])
            x[j] = xj
        x[i] = xi
    return H


def _minimise(fun: Callable[[np.ndarray], float], start: np.ndarray) -> np.ndarray:
    """Minimise a smooth negative log-likelihood: Nelder-Mead to get close, then BFGS."""
    res = optimize.minimize(
        fun, start, method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000, "maxfev": 8000},
    )
    res2 = optimize.minimize(fun, res.x, method="BFGS", options={"gtol": 1e-9})
    best = res2.x if res2.fun <= res.fun else res.x
    fbest = fun(best)
    # stationarity check with nlm's scaled-gradient criterion (gradtol 1e-6), loosened
    # for the central-difference gradient used here
    g = np.empty(best.size)
    for j in range(best.size):
        h = 1e-5 * max(abs(best[j]), 1.0)
        e = np.zeros(best.size)
        e[j] = h
        g[j] = (fun(best + e) - fun(best - e)) / (2 * h)
    scaled = np.max(np.abs(g) * np.maximum(np.abs(best), 1.0)) / max(abs(fbest), 1.0)
    note = ""
    if not np.isfinite(fbest) or fbest >= 1e10:
        note = "optimiser found no finite log-likelihood"
    elif not scaled < 1e-4:
        note = f"optimiser did not reach a stationary point (scaled gradient {scaled:.2g})"
    return best, note


def _ml_se_log_f0(nll: Callable[[np.ndarray], float], est: np.ndarray) -> float:
    """secr's SE for the mixture models: exp(b1) * sqrt(exp(V11^2) - 1)."""
    H = _nlm_hessian(nll, est)
    try:
        V = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return _NAN, "Hessian singular: no SE"
    v11 = V[0, 0]
    if not np.isfinite(v11):
        return _NAN, "Hessian singular: no SE"
    warn = ""
    if not np.all(np.linalg.eigvalsh((H + H.T) / 2) > 0):
        warn = "Hessian not positive definite (likelihood flat or on a boundary): SE unreliable"
    return float(np.exp(est[0]) * np.sqrt(np.expm1(v11**2))), warn


def _h2(f: np.ndarray):
    """Mh two-class finite mixture (Pledger 2000); parameters log(N-Mt1), logit pi1,
    logit theta1, logit theta2; secr's start (log 5, 0, -1, 1)."""
    tt = f.size
    Mt1 = int(f.sum())
    i = np.arange(1, tt + 1)
    ff = f.astype(float)

    def nll(beta: np.ndarray) -> float:
        N = Mt1 + np.exp(beta[0])
        pi1, th1, th2 = expit(beta[1]), expit(beta[2]), expit(beta[3])
        with np.errstate(all="ignore"):
            terms = np.log(pi1 * th1**i * (1 - th1) ** (tt - i)
                           + (1 - pi1) * th2**i * (1 - th2) ** (tt - i))
            ll = (_lchoose_N(N, Mt1)
                  + (N - Mt1) * np.log(pi1 * (1 - th1) ** tt + (1 - pi1) * (1 - th2) ** tt)
                  + float(np.sum(ff * terms)))
        return -ll if np.isfinite(ll) else 1e10

    est, note = _minimise(nll, np.array([np.log(5.0), 0.0, -1.0, 1.0]))
    nhat = Mt1 + np.exp(est[0])
    se, warn = _ml_se_log_f0(nll, est)
    return nhat, se, 4, -nll(est), note, warn


def _betabinomial(f: np.ndarray, maxN: float):
    """Mh beta-binomial (Dorazio & Royle 2003); parameters on log scale: N-Mt1, mean p,
    variance of p; secr's start log(10, 1/t, 0.2 (1/t)(1-1/t))."""
    tt = f.size
    Mt1 = int(f.sum())
    i = np.arange(1, tt + 1)
    k = np.arange(tt, dtype=float)
    ff = f.astype(float)

    def nll(pr: np.ndarray) -> float:
        pr = np.exp(pr)
        N = Mt1 + pr[0]
        rat = pr[1] * (1 - pr[1]) / pr[2]
        if rat < 1 or N > maxN or not np.isfinite(rat):
            return 1e10
        alpha = pr[1] * (rat - 1)
        beta = (1 - pr[1]) * (rat - 1)
        # secr's expression N (lgamma(a+b) - lgamma(a) - lgamma(b) - lgamma(a+b+t))
        # + (N - Mt1)(lgamma(a) + lgamma(b+t)) + sum f_i (lgamma(a+i) + lgamma(b+t-i)),
        # rearranged (sum f_i = Mt1) into log beta-binomial probabilities and written as
        # sums of logs (Gamma(a+i)/Gamma(a) = prod_{k<i} (a+k)): the same function, without
        # the cancellation of huge lgamma values when the variance of p is tiny
        la = np.concatenate([[0.0], np.cumsum(np.log(alpha + k))])  # sum_{k<i} log(a+k)
        lb = np.concatenate([[0.0], np.cumsum(np.log(beta + k))])
        lab = float(np.sum(np.log(alpha + beta + k)))
        log_pi = la[i] + lb[tt - i] - lab  # i = 1..t, without binomial coefficient
        log_p0 = lb[tt] - lab
        ll = _lchoose_N(N, Mt1) + (N - Mt1) * log_p0 + float(np.sum(ff * log_pi))
        return -float(ll) if np.isfinite(ll) else 1e10

    start = np.log([10.0, 1.0 / tt, 0.2 * (1.0 / tt) * (1.0 - 1.0 / tt)])
    est, note = _minimise(nll, start)
    nhat = Mt1 + np.exp(est[0])
    se, warn = _ml_se_log_f0(nll, est)
    return nhat, se, 3, -nll(est), note, warn


# -------------------------------------------------------------- closed-form estimators


def _chao(f: np.ndarray):
    """Chao (1987) Mh: N = S + f1^2 / (2 f2)."""
    S = np.float64(f.sum())
    f1, f2 = np.float64(f[0]), np.float64(f[1])
    with np.errstate(all="ignore"):
        r = f1 / f2
        N = S + f1**2 / f2 / 2
        var = f2 * (0.25 * r**4 + r**3 + 0.5 * r**2)
    return float(N), float(np.sqrt(var)) if np.isfinite(var) else _NAN


def _chaomod(f: np.ndarray):
    """Chao's bias-corrected Mh estimator; secr falls back to ``chao`` unless
    t f1 > 2 f2, t f2 > 3 f3 and 3 f1 f3 > 2 f2^2."""
    tt = f.size
    S = np.float64(f.sum())
    f1, f2 = np.float64(f[0]), np.float64(f[1])
    f3 = np.float64(f[2]) if tt >= 3 else np.float64(_NAN)  # secr indexes past the end -> NA
    ok = tt * f1 > 2 * f2 and tt * f2 > 3 * f3 and 3 * f1 * f3 > 2 * f2**2
    if not ok:
        return _chao(f)
    A = (1 - 2 * f2 / (tt * f1)) / (1 - 3 * f3 / (tt * f2))
    N = S + (f1**2 / f2 / 2) * A
    var = f2 * (0.25 * A**2 * (f1 / f2) ** 4 + A**2 * (f1 / f2) ** 3 + 0.5 * A * (f1 / f2) ** 2)
    return N, np.sqrt(var) if var >= 0 else _NAN


def _jack_coefficients(tt: int) -> np.ndarray:
    """Burnham & Overton (1978) jackknife coefficients a_{k,i} + 1 for orders 1..min(5,t)
    (rows) and capture frequencies f_1..f_t (columns), so that N_k = a_k . f."""
    t = np.float64(tt)  # numpy scalars: a zero divisor for t < 5 gives inf, then dropped
    T1, T2, T3, T4, T5 = t - 1, t - 2, t - 3, t - 4, t - 5
    c = np.zeros((5, 5))
    with np.errstate(all="ignore"):
        _fill_jack(c, t, T1, T2, T3, T4, T5)
    k = min(tt, 5)
    c = c[:k, :k]
    if tt > 5:
        c = np.hstack([c, np.zeros((5, tt - 5))])
    return c + 1.0


def _fill_jack(c, t, T1, T2, T3, T4, T5) -> None:
    c[0, 0] = T1 / t
    c[1, 0] = (2 * t - 3) / t
    c[1, 1] = -(T2**2) / (t * T1)
    c[2, 0] = (3 * t - 6) / t
    c[2, 1] = -(3 * t**2 - 15 * t + 19) / (t * T1)
    c[2, 2] = T3**3 / (t * T1 * T2)
    c[3, 0] = (4 * t - 10) / t
    c[3, 1] = -(6 * t**2 - 36 * t + 55) / (t * T1)
    c[3, 2] = (4 * t**3 - 42 * t**2 + 148 * t - 175) / (t * T1 * T2)
    c[3, 3] = -(T4**4) / (t * T1 * T2 * T3)
    c[4, 0] = (5 * t - 15) / t
    c[4, 1] = -(10 * t**2 - 70 * t + 125) / (t * T1)
    c[4, 2] = (10 * t**3 - 120 * t**2 + 485 * t - 660) / (t * T1 * T2)
    c[4, 3] = -(T4**5 - T5**5) / (t * T1 * T2 * T3)
    c[4, 4] = T5**5 / (t * T1 * T2 * T3 * T4)


def _jackknife(f: np.ndarray):
    """Burnham & Overton (1978, 1979) jackknife for Mh with their sequential chi-square
    (1 df, 3.84) test between successive orders, interpolation between the selected order
    and the one before, and Burnham's unconditional variance (weights from the noncentral
    chi-square power of each test), as secr / CAPTURE."""
    ff = f.astype(float)
    S = np.float64(ff.sum())
    occ = ff.size
    occ5 = min(5, occ)
    aki = _jack_coefficients(occ)
    nj = aki @ ff
    varnj = (aki**2) @ ff - nj
    difnk = nj[1:occ5] - nj[: occ5 - 1]
    b2f = ((aki[1:occ5, :] - aki[: occ5 - 1, :]) ** 2) @ ff
    with np.errstate(all="ignore"):
        test = (difnk / np.sqrt(S / (S - 1) * (b2f - difnk**2 / S))) ** 2
    test = np.where(np.isnan(test), 0.0, test)
    test = np.append(test, 0.0)
    mt = int(np.flatnonzero(test < 3.84)[0])  # 0-based index of first non-significant
    if mt == 0:
        xtest = (nj[0] * ff[0]) / (nj[0] - ff[0])
        if xtest > 3.84:
            alpha = (xtest - 3.84) / (xtest - test[0])
            z = aki[0, :] * alpha + (1 - alpha)
            N = float(z @ ff)
        else:
            N = float(nj[0])
    else:
        alpha = (test[mt - 1] - 3.84) / (test[mt - 1] - test[mt])
        z = aki[mt, :] * alpha + aki[mt - 1, :] * (1 - alpha)
        N = float(z @ ff)
    if N < S:  # ill-conditioned (CAPTURE): first-order estimate, no variance
        return float(nj[0]), _NAN
    k1 = occ5 - 1
    Pi = np.ones(occ5)
    Beta = stats.ncx2.cdf(3.8415, 1, np.maximum(test - 1.0, 0.0))
    # scipy's ncx2 with nc = 0 is the central chi-square
    Beta = np.where(np.maximum(test - 1.0, 0.0) == 0, stats.chi2.cdf(3.8415, 1), Beta)
    for i in range(1, occ5):
        Pi[i] = Pi[i - 1] * (1 - Beta[i - 1])
    Pi[:k1] = Pi[:k1] * Beta[:k1]
    if occ5 < 5:
        Pi[occ5 - 1] = 1 - Pi[:k1].sum()
    varN = float(np.sum(Pi * varnj) + np.sum(Pi * (nj - np.sum(Pi * nj)) ** 2))
    return N, np.sqrt(varN) if varN >= 0 else _NAN


def _chao_th(X: np.ndarray, order: int):
    """Chao, Lee & Jeng (1992) sample-coverage estimators for Mth (th1 / th2), with the
    variance of Anne Chao's C code as translated in secr."""
    X = X.astype(float)
    D, tt = X.shape
    ni = X.sum(axis=0)
    Y = X.sum(axis=1).astype(int)
    fi = np.bincount(Y, minlength=tt + 1)[1:].astype(float)
    i = np.arange(1, tt + 1, dtype=float)
    temp1 = np.float64(np.sum(i * fi))
    temp2 = np.float64(np.sum(i * (i - 1) * fi))
    temp3 = np.float64(ni.sum() ** 2 - np.sum(ni**2))  # sum_{i<j} 2 n_i n_j
    sq2 = temp1**-2
    if order == 1:
        c1 = fi[0]
        cc = 1 - fi[0] / temp1
        ok = cc > 0
    else:
        c1 = fi[0] - 2 * fi[1] / (tt - 1)
        cc = 1 - c1 / temp1
        ok = cc > 1e-6
    if not ok:
        return _NAN, _NAN
    n0 = D / cc
    r = max(n0 * temp2 / temp3 - 1, 0.0)
    nf = n0 + fi[0] / cc * r
    j = np.arange(1, tt + 1, dtype=float)
    dn0 = np.empty(tt)
    dn0[0] = 1 / cc * (1 + D / temp1)
    if order == 1:
        dn0[1:] = 1 / cc - cc**-2 * j[1:] * fi[0] * sq2 * D
    else:
        dn0[1] = 1 / cc - 2 * cc**-2 * (1 / temp1 / (tt - 1) + c1 * sq2) * D
        dn0[2:] = 1 / cc - cc**-2 * j[2:] * c1 * sq2 * D
    if abs(r) < 1e-6:
        sum1 = float(np.sum(dn0**2 * fi))
        sum2 = float(np.sum(dn0 * fi))
        v = sum1 - sum2**2 / nf
        return float(nf), float(np.sqrt(v)) if v >= 0 else _NAN
    dnf = np.empty(tt)
    dr1 = dn0[0] * temp2 / temp3
    dnf[0] = dn0[0] + r / cc + fi[0] * r / cc / temp1 + fi[0] / cc * dr1
    if order == 1:
        jj = j[1:]
        drj = dn0[1:] * temp2 / temp3 + n0 * jj * (jj - 1) / temp3
        dnf[1:] = dn0[1:] - fi[0] * r * cc**-2 * jj * fi[0] * sq2 + fi[0] / cc * drj
    else:
        dr2 = dn0[1] * temp2 / temp3 + 2 * n0 / temp3
        dnf[1] = (dn0[1] - 2 * fi[0] * r * cc**-2 * (1 / temp1 / (tt - 1) + c1 * sq2)
                  + fi[0] / cc * dr2)
        jj = j[2:]
        drj = dn0[2:] * temp2 / temp3 + n0 * jj * (jj - 1) / temp3
        dnf[2:] = dn0[2:] - fi[0] * r * cc**-2 * jj * c1 * sq2 + fi[0] / cc * drj
    dnk = fi[0] / cc * (-2 * n0 * temp2 * temp3**-2 * (temp1 - ni))
    sum1 = float(np.sum(dnf**2 * fi))
    sum2 = float(np.sum(dnf * fi))
    su1 = float(np.sum(dnk**2 * ni))
    su2 = float(np.sum(dnk * ni))
    nkl = X.T @ X  # animals caught on both k and l
    su3 = float(np.sum(np.triu(2 * np.outer(dnk, dnk) * nkl, k=1)))
    onehot = (Y[:, None] == np.arange(1, tt + 1)[None, :]).astype(float)  # D x t
    fkl = onehot.T @ X  # animals caught k times and on occasion l
    su4 = float(np.sum(2 * np.outer(dnf, dnk) * (fkl - np.outer(fi, ni) / nf)))
    v = (sum1 - sum2**2 / nf) + (su1 - su2**2 / nf) + su3 + su4
    return float(nf), float(np.sqrt(v)) if v >= 0 else _NAN


# ------------------------------------------------------------------------- intervals


def ln_interval(Mt1: float, Nhat: float, seNhat: float, level: float = 0.95):
    """Log-normal interval on the number not caught, f0 = Nhat - Mt1 (Burnham et al. 1987;
    Chao 1987; Rexstad & Burnham 1991): Mt1 + f0/C, Mt1 + f0 C with
    C = exp(z sqrt(log(1 + (se/f0)^2))). NaN where f0 <= 0 or se is missing."""
    f0 = Nhat - Mt1
    z = stats.norm.ppf(1 - (1 - level) / 2)
    if not (np.isfinite(f0) and np.isfinite(seNhat)) or f0 <= 0:
        return _NAN, _NAN
    with np.errstate(all="ignore"):
        C = np.exp(z * np.sqrt(np.log1p((np.float64(seNhat) / f0) ** 2)))
        return float(Mt1 + f0 / C), float(Mt1 + f0 * C)


# ------------------------------------------------------------------------------ API


def _dispatch(name: str, A: np.ndarray, cnt: dict, Mt1: int, maxN: float):
    """(Nhat, seNhat, npar or None, loglik or NaN, failure note, warning) for one
    estimator; a non-empty failure note means not converged."""
    if name == "null":
        return (*_null(cnt["n"], Mt1, maxN), "")
    if name == "zippin":
        return (*_zippin(cnt["n"], cnt["u"], maxN), "")
    if name == "darroch":
        return (*_darroch(cnt["n"], Mt1, maxN), "")
    if name == "h2":
        return _h2(cnt["f"])
    if name == "betabinomial":
        return _betabinomial(cnt["f"], maxN)
    if name == "jackknife":
        nhat, se = _jackknife(cnt["f"])
    elif name == "chao":
        nhat, se = _chao(cnt["f"])
    elif name == "chaomod":
        nhat, se = _chaomod(cnt["f"])
    elif name == "chao.th1":
        nhat, se = _chao_th(A, 1)
    else:
        nhat, se = _chao_th(A, 2)
    return nhat, se, None, _NAN, "", ""


def closed_n(
    X,
    estimators: Iterable[str] | str | None = None,
    level: float = 0.95,
    maxN: float = 1e7,
    dmax: float = 10.0,
) -> list[ClosedEstimate]:
    """Closed-population estimates from a capture matrix, as ``secr::closedN``.

    Parameters
    ----------
    X
        animals x occasions 0/1 (or counts; any nonzero = caught), or an
        animals x occasions x detectors array, which is collapsed over detectors.
    estimators
        names from :data:`ESTIMATORS` (default all, in secr's order); ``"ML"`` means the
        five likelihood estimators.
    level
        confidence level of the log-normal intervals.
    maxN
        upper bound of the search for N (M0, Mb, Mt, betabinomial); values above it are
        reported as NaN, as secr does.
    dmax
        AICc weights are computed over estimators with ``|dAICc| < dmax``, others get 0.

    Returns
    -------
    list of :class:`ClosedEstimate`, one per estimator in the requested order; loglik,
    AIC, AICc, dAICc, AICcwt and npar are NaN / None for the non-likelihood estimators.
    A likelihood fit without an interior maximum (e.g. no recaptures: the likelihood
    increases up to ``maxN``) has ``converged=False`` and the reason in ``note``; its
    numbers are those secr prints and are not estimates. Closed-form estimators that
    cannot be computed (e.g. ``chao`` with f2 = 0) give NaN, as secr's NA.
    """
    A = _as_capture_matrix(X)
    if estimators is None:
        names: list[str] = list(ESTIMATORS)
    elif isinstance(estimators, str):
        names = list(_ML) if estimators == "ML" else [estimators]
    else:
        names = list(estimators)
        if "ML" in names:
            names = list(_ML)
    unknown = [e for e in names if e not in MODELS]
    if unknown:
        raise ValueError(f"estimator(s) not recognised: {unknown}; allowed: {list(ESTIMATORS)}")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")

    cnt = capture_counts(A)
    Mt1 = int(A.shape[0])
    rows = []
    for name in names:
        with np.errstate(all="ignore"):  # R propagates Inf/NaN; so do we (reported NaN)
            nhat, se, npar, ll, fail, warn = _dispatch(name, A, cnt, Mt1, maxN)
        if np.isfinite(nhat) and nhat < Mt1 - 1e-9:
            warn = "; ".join(x for x in (warn, "estimate below the number caught Mt1 "
                                         "(reported as secr does; not a valid estimate)") if x)
        lcl, ucl = ln_interval(Mt1, nhat, se, level)
        vals = [nhat, se, lcl, ucl]
        vals = [_NAN if v > maxN else v for v in vals]  # secr: temp[temp > maxN] <- NA
        if npar is not None:
            aic = -2 * ll + 2 * npar
            aicc = (-2 * ll + 2 * npar * Mt1 / (Mt1 - npar - 1)) if Mt1 - npar - 1 > 0 else _NAN
        else:
            aic = aicc = _NAN
        rows.append(dict(estimator=name, model=MODELS[name], npar=npar, loglik=float(ll),
                         AIC=float(aic), AICc=float(aicc), Mt1=Mt1, Nhat=float(vals[0]),
                         seNhat=float(vals[1]), lclNhat=float(vals[2]), uclNhat=float(vals[3]),
                         converged=not fail, note="; ".join(x for x in (fail, warn) if x)))

    aiccs = np.array([r["AICc"] for r in rows], float)
    if np.any(np.isfinite(aiccs)):
        d = aiccs - np.nanmin(aiccs)
        ok = np.abs(d) < abs(dmax)
        denom = float(np.sum(np.exp(-d[ok] / 2)))
        for r, di, oki in zip(rows, d, ok):
            r["dAICc"] = float(di)
            if np.isfinite(di):
                r["AICcwt"] = float(np.round(math.exp(-di / 2) / denom, 4)) if oki else 0.0
            else:
                r["AICcwt"] = _NAN
    else:
        for r in rows:
            r["dAICc"] = r["AICcwt"] = _NAN
    return [ClosedEstimate(**r) for r in rows]


def closed_n_table(results: Sequence[ClosedEstimate], rounded: bool = True) -> str:
    """Plain-text table in secr's column order (rounded as secr prints by default)."""
    cols = ["model", "npar", "loglik", "AIC", "AICc", "dAICc", "AICcwt", "Mt1", "Nhat",
            "seNhat", "lclNhat", "uclNhat"]
    lines = [" ".join(f"{c:>12}" for c in ["estimator"] + cols)]
    for r in results:
        rr = r.rounded() if rounded else r
        cells = [rr.estimator] + [
            "NA" if (v is None or (isinstance(v, float) and not np.isfinite(v))) else str(v)
            for v in (getattr(rr, c) for c in cols)
        ]
        lines.append(" ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


__all__.append("closed_n_table")
