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
  logit/log scale detection parameters, from secr's start values) with R's ``nlm``,
  reproduced step by step in :mod:`pardus.secr.nlm` (the Dennis-Schnabel quasi-Newton
  method with finite-difference gradients, BFGS updates and line search, as R's
  ``uncmin``), and the log-likelihoods are evaluated as secr writes them (same operations
  in the same order, secr's ``lgamma`` form of the beta-binomial, 1e10 outside its
  domain), so that the search stops where R's does. This matters: these likelihoods are
  often flat (a degenerate mixture, variance of p -> 0, MLE on a boundary) and secr's SE
  is computed at the point where ``nlm`` stops, from the Hessian ``nlm`` returns there
  (uncmin's forward-difference ``fdhess``, :func:`pardus.secr.nlm.fd_hessian`), not at
  the exact maximum. The SE is secr's ``exp(b1) * sqrt(exp(V11**2) - 1)`` with ``V11``
  the variance of ``b1 = log(N - Mt1)`` from the inverse of that Hessian -- the square on
  ``V11`` is secr's formula, kept so that the numbers agree (the textbook log-normal SE
  would use ``V11``). ``lgamma`` is scipy's ``gammaln``, which may differ from R's
  ``lgammafn`` in the last bits. A fit that ``nlm`` ends with code 4 or 5 (iteration
  limit, repeated maximum steps), or with code 3 away from a stationary point, is
  reported as not converged. ``betabinomial`` uses secr's fixed ``maxN = 1e7`` inside
  its likelihood (``closedN`` does not pass its ``maxN`` to ``Mhbeta.est``).
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
without derivatives. Dennis, J. E. & Schnabel, R. B. (1983) Numerical methods for
unconstrained optimization and nonlinear equations (R's ``nlm``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import stats
from scipy.linalg import lapack
from scipy.special import gammaln, xlogy

from .nlm import NlmError, _div as _ieee_div, fd_hessian, nlm, relative_gradient

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


#: the finite-difference Hessian of R's ``nlm(..., hessian = TRUE)`` (former name here)
_nlm_hessian = fd_hessian


def _r_exp(x: float) -> float:
    """R's ``exp`` on a scalar (libm; overflow gives Inf, not an exception)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


_r_div = _ieee_div  # R's ``/`` on scalars (IEEE: division by zero gives +-Inf or NaN)


def _r_log(x: float) -> float:
    """R's ``log`` on a scalar: libm ``log`` for x > 0, -Inf at 0, NaN below."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _r_pow(x: float, y: float) -> float:
    """R's ``^`` on scalars (``R_pow``: x^2 = x*x, x^0 = 1^y = 1, else libm ``pow``)."""
    if y == 2.0:
        return x * x
    if x == 1.0 or y == 0.0:
        return 1.0
    if x == 0.0:
        return 0.0 if y > 0.0 else (math.inf if y < 0.0 else y)
    try:
        return math.pow(x, y)
    except (OverflowError, ValueError):
        return float(np.power(np.float64(x), np.float64(y)))


def _r_sum(values) -> float:
    """R's ``sum`` of doubles: accumulated in extended precision, then rounded."""
    s = np.longdouble(0.0)
    for v in values:
        s += np.longdouble(v)
    return float(s)


# Chebyshev coefficients of R's nmath (from Fullerton's SLATEC routines DGAMMA and D9LGMC,
# public domain): gamma(1 + y) - 0.9375 on 0 <= y < 1 (the 22 that R uses) and the
# Stirling correction of log gamma for x >= 10 (R uses 5).
_GAMCS = (
    +.8571195590989331421920062399942e-2, +.4415381324841006757191315771652e-2,
    +.5685043681599363378632664588789e-1, -.4219835396418560501012500186624e-2,
    +.1326808181212460220584006796352e-2, -.1893024529798880432523947023886e-3,
    +.3606925327441245256578082217225e-4, -.6056761904460864218485548290365e-5,
    +.1055829546302283344731823509093e-5, -.1811967365542384048291855891166e-6,
    +.3117724964715322277790254593169e-7, -.5354219639019687140874081024347e-8,
    +.9193275519859588946887786825940e-9, -.1577941280288339761767423273953e-9,
    +.2707980622934954543266540433089e-10, -.4646818653825730144081661058933e-11,
    +.7973350192007419656460767175359e-12, -.1368078209830916025799499172309e-12,
    +.2347319486563800657233471771688e-13, -.4027432614949066932766570534699e-14,
    +.6910051747372100912138336975257e-15, -.1185584500221992907052387126192e-15,
)
_ALGMCS = (
    +.1666389480451863247205729650822e+0, -.1384948176067563840732986059135e-4,
    +.9810825646924729426157171547487e-8, -.1809129475572494194263306266719e-10,
    +.6221098041892605227126015543416e-13,
)
_LN_SQRT_2PI = 0.918938533204672741780329736406  # log(sqrt(2 pi))


def _chebyshev(x: float, coef: Sequence[float]) -> float:
    """Clenshaw's recurrence for a Chebyshev series on [-1, 1] (as R's nmath)."""
    twox = x * 2.0
    b0 = b1 = b2 = 0.0
    for c in reversed(coef):
        b2 = b1
        b1 = b0
        b0 = twox * b1 - b2 + c
    return (b0 - b2) * 0.5


def _r_gamma_small(x: float) -> float:
    """R's ``gammafn`` for 0 < x <= 10: the Chebyshev series for gamma(1 + y),
    0 <= y < 1, then the recurrence gamma(x + 1) = x gamma(x) up or down."""
    n = int(x)
    y = x - n
    n -= 1
    value = _chebyshev(y * 2.0 - 1.0, _GAMCS) + 0.9375
    if n == 0:
        return value
    if n < 0:  # 0 < x < 1
        return value / x
    for i in range(1, n + 1):
        value *= y + i
    return value


def _r_lgamma(x: float) -> float:
    """R's ``lgamma`` (nmath ``lgammafn``) for the arguments the likelihoods use: the same
    algorithm (log of the Chebyshev-series gamma up to 10, Stirling's formula with the
    Chebyshev correction ``lgammacor`` above), so that values agree with R's to the last
    bit rather than to a few hundred ulp as other implementations do near 1 and 2. Negative
    non-integer arguments (never used here) fall back to scipy's ``gammaln``."""
    x = float(x)
    if math.isnan(x):
        return x
    if x <= 0.0:
        if x == math.trunc(x):
            return math.inf
        return float(gammaln(x))
    if x < 1e-306:
        return -math.log(x)
    if x <= 10.0:
        return math.log(abs(_r_gamma_small(x)))
    if x > 2.5327372760800758e+305:
        return math.inf
    if x > 1e17:
        return x * (math.log(x) - 1.0)
    if x > 4934720.0:
        return _LN_SQRT_2PI + (x - 0.5) * math.log(x) - x
    tmp = 10.0 / x  # 10 < x <= 4934720: Stirling plus the Chebyshev correction
    cor = _chebyshev(tmp * tmp * 2.0 - 1.0, _ALGMCS) / x
    return _LN_SQRT_2PI + (x - 0.5) * math.log(x) - x + cor


def _invlogit(y: float) -> float:
    """secr's ``invlogit``: ``1/(1+exp(-y))``."""
    return 1.0 / (1.0 + _r_exp(-y))


def _fit_nlm(nll: Callable[[np.ndarray], float], start: np.ndarray, mt1: int):
    """``nlm(p = start, f = nll, hessian = TRUE)`` as secr calls it; returns the
    :class:`~pardus.secr.nlm.NlmResult` (None if R's nlm would have stopped with an error)
    and the failure note for ``ClosedEstimate.note`` ("" when the fit is a maximum).

    The numbers are R's whatever the code; the note says when they are not an estimate:
    nlm codes 4 and 5 (iteration limit, repeated maximum steps); codes 2 and 3 (step below
    tolerance, no lower point found) where the relative gradient is still large, i.e. nlm
    stopped making progress away from a stationary point; and a likelihood that is no
    lower at a much larger N (:func:`_no_maximum_in_n`), i.e. no finite maximum in N
    (e.g. no animal caught twice), where nlm may stop anywhere on the flat."""
    try:
        with warnings.catch_warnings():
            # R's warning "NA/Inf replaced by maximum positive value": part of the search
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = nlm(nll, start, hessian=True)
    except (NlmError, ValueError) as exc:  # R: nlm() stops with an error
        return None, f"nlm stopped with an error: {exc}"
    if not np.isfinite(fit.minimum) or fit.minimum >= 1e10:
        return fit, f"nlm found no finite log-likelihood (nlm code {fit.code})"
    if fit.code in (4, 5):
        return fit, f"nlm did not converge: {fit.message} (nlm code {fit.code})"
    if fit.code in (2, 3):
        # nlm's gradtol test, 100 times looser for the noisy end of the search
        rg = relative_gradient(fit.estimate, fit.minimum, fit.gradient)
        if not rg < 1e-4:
            return fit, (f"nlm made no progress from a point that is not stationary "
                         f"(nlm code {fit.code}, relative gradient {rg:.2g})")
    if _no_maximum_in_n(nll, fit, mt1):
        return fit, ("log-likelihood no lower at a much larger N: no finite maximum in N, "
                     f"or a numerically flat likelihood (nlm code {fit.code})")
    return fit, ""


def _no_maximum_in_n(nll: Callable[[np.ndarray], float], fit, mt1: int) -> bool:
    """True when the profile likelihood at a much larger number not caught,
    ``f0 = max(10 (N - Mt1), 10 Mt1)`` (the other parameters re-fitted with nlm from the
    estimate), is at least as high as at the estimate, to 1e-6 relative: the likelihood
    has no finite maximum in N. (The floor ``10 Mt1`` keeps an MLE on the boundary
    ``N = Mt1``, where the likelihood is flat in ``log(N - Mt1)``, from looking like one.)"""
    est = np.asarray(fit.estimate, dtype=float)
    b1 = max(est[0], math.log(max(mt1, 1))) + math.log(10.0)

    def profile(rest: np.ndarray) -> float:
        return nll(np.concatenate([[b1], rest]))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            far = nlm(profile, est[1:]).minimum
    except (NlmError, ValueError):
        return False
    return bool(far <= fit.minimum + 1e-6 * max(abs(fit.minimum), 1.0))


def _r_solve(H: np.ndarray) -> np.ndarray | None:
    """R's ``solve(H)``: LU factorisation with partial pivoting (LAPACK ``dgesv``), None
    where R stops with an error -- exactly singular, or computationally singular
    (``dgecon``'s reciprocal 1-norm condition number below ``.Machine$double.eps``)."""
    lu, piv, info = lapack.dgetrf(H)
    if info != 0:
        return None
    anorm = float(np.max(np.sum(np.abs(H), axis=0)))
    rcond, info = lapack.dgecon(lu, anorm, norm="1")
    if info != 0 or not rcond >= np.finfo(float).eps:
        return None
    V, info = lapack.dgetrs(lu, piv, np.eye(H.shape[0]))
    return V if info == 0 else None


def _se_log_f0(fit) -> tuple[float, str]:
    """secr's SE for the mixture models, ``exp(b1) * sqrt(exp(V11^2) - 1)`` with ``V`` the
    inverse of the Hessian nlm returned (``solve(fit$hessian)``; NA where R's ``solve``
    fails, as secr's ``try``)."""
    H = fit.hessian
    b1 = float(fit.estimate[0])
    if H is None or not np.all(np.isfinite(H)):
        return _NAN, "Hessian not finite: no SE"
    V = _r_solve(np.array(H, dtype=float))
    if V is None:
        return _NAN, "Hessian singular: no SE"
    v11 = float(V[0, 0])
    warn = ""
    if not np.all(np.linalg.eigvalsh((H + H.T) / 2) > 0):
        warn = "Hessian not positive definite (likelihood flat or on a boundary): SE unreliable"
    se = _r_exp(b1) * math.sqrt(_r_exp(v11 * v11) - 1.0)
    return se, warn


def _h2_negloglik(f: np.ndarray) -> Callable[[np.ndarray], float]:
    """secr's ``Mh2.est`` negative log-likelihood for capture frequencies ``f``, in
    ``beta = (log(N - Mt1), logit pi1, logit theta1, logit theta2)``, evaluated as secr
    writes it (same operations in the same order, R's sum in extended precision)."""
    tt = int(f.size)
    Mt1 = int(f.sum())
    fi = [float(v) for v in f]
    lg_mt1 = _r_lgamma(Mt1 + 1.0)

    def nll(beta: np.ndarray) -> float:
        N = Mt1 + _r_exp(beta[0])
        pi1 = _invlogit(beta[1])
        th1 = _invlogit(beta[2])
        th2 = _invlogit(beta[3])
        terms = [
            _r_log(pi1 * _r_pow(th1, i) * _r_pow(1.0 - th1, tt - i)
                   + (1.0 - pi1) * _r_pow(th2, i) * _r_pow(1.0 - th2, tt - i))
            for i in range(1, tt + 1)
        ]
        ll = (_r_lgamma(N + 1.0) - _r_lgamma(N - Mt1 + 1.0) - lg_mt1
              + (N - Mt1) * _r_log(pi1 * _r_pow(1.0 - th1, tt)
                                   + (1.0 - pi1) * _r_pow(1.0 - th2, tt))
              + _r_sum(fk * tk for fk, tk in zip(fi, terms)))
        return -ll

    return nll


def _h2(f: np.ndarray):
    """Mh two-class finite mixture (Pledger 2000): secr's negative log-likelihood
    (:func:`_h2_negloglik`) minimised with nlm from secr's start (log 5, 0, -1, 1)."""
    Mt1 = int(f.sum())
    nll = _h2_negloglik(f)
    fit, note = _fit_nlm(nll, np.array([math.log(5.0), 0.0, -1.0, 1.0]), Mt1)
    if fit is None:
        return _NAN, _NAN, 4, _NAN, note, ""
    nhat = _r_exp(float(fit.estimate[0])) + Mt1
    se, warn = _se_log_f0(fit)
    return nhat, se, 4, -fit.minimum, note, warn


def _betabinomial_negloglik(f: np.ndarray) -> Callable[[np.ndarray], float]:
    """secr's ``Mhbeta.est`` negative log-likelihood for capture frequencies ``f``, in
    ``log(N - Mt1, mean p, variance of p)``, evaluated as secr writes it (``lgamma`` form,
    same operations in the same order; 1e10 where the variance is too large for a beta
    distribution or N > 1e7 -- the fixed ``maxN`` of ``Mhbeta.est``, which ``closedN``
    does not pass on)."""
    tt = int(f.size)
    Mt1 = int(f.sum())
    fi = [float(v) for v in f]
    lg_mt1 = _r_lgamma(Mt1 + 1.0)
    maxN = 1e7  # Mhbeta.est's default; closedN calls Mhbeta.est(counts['f',])

    def nll(pr: np.ndarray) -> float:
        pr = [_r_exp(v) for v in pr]
        N = Mt1 + pr[0]
        rat = _r_div(pr[1] * (1.0 - pr[1]), pr[2])
        if math.isnan(rat) and not N > maxN:
            raise ValueError("missing value where TRUE/FALSE needed (secr's Mhbeta.est)")
        if rat < 1.0 or N > maxN:
            return 1e10
        alpha = pr[1] * (rat - 1.0)
        beta = (1.0 - pr[1]) * (rat - 1.0)
        terms = [_r_lgamma(alpha + i) + _r_lgamma(beta + tt - i) for i in range(1, tt + 1)]
        la = _r_lgamma(alpha)
        ll = (_r_lgamma(N + 1.0) - _r_lgamma(N - Mt1 + 1.0) - lg_mt1
              + N * (_r_lgamma(alpha + beta) - la - _r_lgamma(beta)
                     - _r_lgamma(alpha + beta + tt))
              + (N - Mt1) * (la + _r_lgamma(beta + tt))
              + _r_sum(fk * tk for fk, tk in zip(fi, terms)))
        return -ll

    return nll


def _betabinomial(f: np.ndarray):
    """Mh beta-binomial (Dorazio & Royle 2003): secr's negative log-likelihood
    (:func:`_betabinomial_negloglik`) minimised with nlm from secr's start
    log(10, 1/t, 0.2 (1/t)(1-1/t))."""
    tt = int(f.size)
    Mt1 = int(f.sum())
    nll = _betabinomial_negloglik(f)
    start = np.array([_r_log(v) for v in (10.0, 1.0 / tt, 0.2 * 1.0 / tt * (1.0 - 1.0 / tt))])
    fit, note = _fit_nlm(nll, start, Mt1)
    if fit is None:
        return _NAN, _NAN, 3, _NAN, note, ""
    nhat = _r_exp(float(fit.estimate[0])) + Mt1
    se, warn = _se_log_f0(fit)
    return nhat, se, 3, -fit.minimum, note, warn


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
        return _betabinomial(cnt["f"])
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
        upper bound of the search for N (M0, Mb, Mt); values above it are reported as NaN,
        as secr does. (``betabinomial`` bounds N by secr's fixed 1e7 inside its
        likelihood, as ``closedN`` does not pass ``maxN`` on.)
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
