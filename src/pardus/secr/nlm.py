"""R's ``nlm()`` (the Dennis-Schnabel minimiser of ``uncmin``), for reproducing fits made in R.

secr fits some closed-population models with ``nlm(p = start, f = loglik, hessian = TRUE)``
and takes standard errors from the Hessian that ``nlm`` returns at the point where it
stops. Where the likelihood is flat that point -- and so the SE -- depends on the exact
iterations, so :func:`nlm` repeats them: same finite-difference steps, same line search,
same secant update, same stopping tests, in the same order, so that it stops where R
stops (to the rounding of the objective function).

Only the case R's ``nlm`` is used with here is implemented: no analytic gradient or
Hessian (``f`` returns a plain number), so R calls ``uncmin``'s driver with

* ``method = 1`` (line search) and ``iexp = 1`` (function "expensive"): the Hessian is
  never evaluated during the iterations but built up by factored BFGS secant updates,
  starting from ``diag(1/typsize)`` (as its Cholesky factor);
* a forward-difference gradient with step ``sqrt(rnf) * max(|x_i|, typsize_i)``,
  ``rnf = max(10^-ndigit, DBL_EPSILON)``, switched for good to central differences
  (step ``rnf^(1/3) * max(|x_i|, typsize_i)``) the first time the line search cannot find
  an acceptable point with the forward-difference gradient;
* termination codes as R's ``?nlm``: 1 relative gradient below ``gradtol``; 2 relative step
  below ``steptol``; 3 the last line search found no lower point (the previous iterate is
  returned); 4 ``iterlim`` reached; 5 five consecutive steps of length ``stepmax``.

With ``hessian=True`` the returned Hessian is ``uncmin``'s ``fdhess`` at the solution
(:func:`fd_hessian`), as R's ``nlm`` computes it after the iterations.

A non-finite function value is replaced by the largest double, as R does (with a warning);
the line search then shrinks the step by 10 without interpolating. A non-finite parameter
value raises :class:`NlmError` (R: "non-finite value supplied by 'nlm'").

Floating-point operations are done in the order of the C code, with the C library's
``sqrt``, ``pow`` and ``hypot`` and left-to-right inner products (reference BLAS ``ddot``),
so that on the same platform the iterates equal R's to the last bit when ``f`` returns the
values R's function returns (checked against R 4.2.2 on Debian 12; see
``tests/unit/test_nlm.py``). R's cache of recent function values and its extra evaluation at
the start do not change any value and are not reproduced.

References: Dennis, J. E. & Schnabel, R. B. (1983) *Numerical Methods for Unconstrained
Optimization and Nonlinear Equations*, Prentice-Hall, Appendix A: algorithms A5.6.3
(forward-difference gradient), A5.6.4 (central differences), A5.6.2 (finite-difference
Hessian from function values), A6.3.1 (line search), A7.2.1 (stopping rules), A9.4.2
(factored BFGS update), A3.4.1 (QR update by Jacobi rotations). R Core Team, ``?nlm``
(package stats), whose C code (``src/appl/uncmin.c``, ``src/library/stats/src/optimize.c``)
is the reference for the details reproduced here; Schnabel, R. B., Koontz, J. E. & Weiss,
B. E. (1985) A modular system of algorithms for unconstrained minimization. ACM TOMS 11,
419-440.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["NlmError", "NlmResult", "fd_hessian", "nlm", "relative_gradient"]

_DBL_MAX = sys.float_info.max
_DBL_EPSILON = sys.float_info.epsilon

#: meaning of the termination codes (R's ``?nlm``)
CODES = {
    1: "relative gradient close to zero; current iterate is probably solution",
    2: "successive iterates within tolerance; current iterate is probably solution",
    3: "last global step failed to locate a point lower than estimate",
    4: "iteration limit exceeded",
    5: "maximum step size stepmax exceeded five consecutive times",
}


class NlmError(ArithmeticError):
    """Raised where R's ``nlm`` stops with an error (non-finite parameter values, bad
    arguments)."""


@dataclass
class NlmResult:
    """What R's ``nlm`` returns (``$minimum``, ``$estimate``, ``$gradient``, ``$hessian``,
    ``$code``, ``$iterations``); ``hessian`` is None unless asked for."""

    minimum: float
    estimate: np.ndarray
    gradient: np.ndarray
    hessian: np.ndarray | None
    code: int
    iterations: int

    @property
    def message(self) -> str:
        return CODES.get(self.code, f"code {self.code}")


def _fmax2(x: float, y: float) -> float:
    """R's ``fmax2``: NaN if either is NaN, else the larger (``y`` only if strictly so)."""
    if math.isnan(x) or math.isnan(y):
        return x + y
    return y if x < y else x


def _div(a: float, b: float) -> float:
    """IEEE division (C semantics): ``x/0`` is +-Inf or NaN instead of an exception."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sqrt(a: float) -> float:
    """C ``sqrt``: NaN for a negative argument instead of an exception."""
    return math.sqrt(a) if a >= 0.0 else math.nan


def _hypot(a: float, b: float) -> float:
    """C's ``hypot`` (numpy calls the C library's; ``math.hypot`` uses its own algorithm,
    which differs in the last bit now and then)."""
    return float(np.hypot(a, b))


def _dot(a, b) -> float:
    """Inner product summed left to right (reference BLAS ``ddot``)."""
    s = 0.0
    for ai, bi in zip(a, b):
        s += float(ai) * float(bi)
    return s


def _norm(a) -> float:
    """Euclidean norm without overflow or underflow (as BLAS ``dnrm2``, which scales): it is
    only compared against a tolerance, but must stay finite where the squares would not."""
    v = np.abs(np.asarray(a, dtype=float))
    if v.size == 0:
        return 0.0
    if np.any(np.isnan(v)):
        return math.nan
    m = float(np.max(v))
    if m == 0.0 or math.isinf(m):
        return m
    return m * math.sqrt(float(np.sum((v / m) ** 2)))


class _Objective:
    """The user's function as the optimiser sees it: parameters must be finite, values are
    plain floats and a value that is not finite becomes the largest double."""

    def __init__(self, f: Callable[[np.ndarray], float]):
        self.f = f
        self.replaced = 0
        self.calls = 0

    def __call__(self, x: np.ndarray) -> float:
        if not np.all(np.isfinite(x)):
            raise NlmError("non-finite value supplied by 'nlm'")
        self.calls += 1
        val = self.f(np.array(x, dtype=float))
        try:
            val = float(val)
        except (TypeError, ValueError) as exc:
            raise NlmError("invalid function value in 'nlm' optimizer") from exc
        if not math.isfinite(val):
            self.replaced += 1
            return _DBL_MAX
        return val


# ------------------------------------------------------------------ finite differences


def _forward_gradient(fun: _Objective, x: np.ndarray, fx: float, sx: np.ndarray,
                      rnf: float) -> np.ndarray:
    """Forward differences ``(f(x + h_j e_j) - f(x)) / h_j`` with
    ``h_j = sqrt(rnf) * max(|x_j|, 1/sx_j)`` (Dennis & Schnabel A5.6.3)."""
    n = x.size
    g = np.empty(n)
    root = math.sqrt(rnf)
    xw = x.copy()
    for j in range(n):
        h = root * _fmax2(abs(xw[j]), 1.0 / sx[j])
        xj = xw[j]
        xw[j] = xj + h
        fh = fun(xw)
        xw[j] = xj
        g[j] = (fh - fx) / h
    return g


def _central_gradient(fun: _Objective, x: np.ndarray, sx: np.ndarray,
                      rnf: float) -> np.ndarray:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / (2 h)`` with
    ``h = rnf^(1/3) * max(|x_i|, 1/sx_i)`` (Dennis & Schnabel A5.6.4)."""
    n = x.size
    g = np.empty(n)
    cube = math.pow(rnf, 1.0 / 3.0)
    xw = x.copy()
    for i in range(n):
        xi = xw[i]
        h = cube * _fmax2(abs(xi), 1.0 / sx[i])
        xw[i] = xi + h
        fplus = fun(xw)
        xw[i] = xi - h
        fminus = fun(xw)
        xw[i] = xi
        g[i] = (fplus - fminus) / (h * 2.0)
    return g


def fd_hessian(f: Callable[[np.ndarray], float], x, fx: float | None = None,
               ndigit: int = 12, typsize=None) -> np.ndarray:
    """The Hessian R's ``nlm(..., hessian = TRUE)`` returns: finite differences of function
    values (Dennis & Schnabel A5.6.2, ``uncmin``'s ``fdhess``) with steps
    ``h_i = 10^(-ndigit/3) * max(x_i, typsize_i)`` (the signed ``x_i``, as R), rounded to
    representable increments:
    ``H_ii = ((f(x) - f(x + h_i)) + (f(x + 2 h_i) - f(x + h_i))) / h_i^2`` and
    ``H_ij = ((f(x) - f(x + h_i)) + (f(x + h_i + h_j) - f(x + h_j))) / (h_i h_j)``.

    ``f`` is called as given (pass the wrapped objective to get R's replacement of
    non-finite values); ``fx`` is ``f(x)``, computed if not given."""
    x = np.array(x, dtype=float)
    n = x.size
    typ = np.ones(n) if typsize is None else np.asarray(typsize, dtype=float)
    if fx is None:
        fx = float(f(x.copy()))
    eta = math.pow(10.0, -ndigit / 3.0)
    step = np.empty(n)
    fi = np.empty(n)
    for i in range(n):
        s = eta * _fmax2(x[i], typ[i])
        if typ[i] < 0.0:
            s = -s
        xi = x[i]
        x[i] = xi + s
        step[i] = x[i] - xi
        fi[i] = f(x.copy())
        x[i] = xi
    H = np.empty((n, n))
    for i in range(n):
        xi = x[i]
        x[i] = xi + step[i] * 2.0
        fii = f(x.copy())
        H[i, i] = ((fx - fi[i]) + (fii - fi[i])) / (step[i] * step[i])
        x[i] = xi + step[i]
        for j in range(i + 1, n):
            xj = x[j]
            x[j] = xj + step[j]
            fij = f(x.copy())
            H[i, j] = H[j, i] = ((fx - fi[i]) + (fij - fi[j])) / (step[i] * step[j])
            x[j] = xj
        x[i] = xi
    return H


# -------------------------------------------------------------------- linear algebra


def _solve_cholesky(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b`` for lower-triangular ``L`` by forward then back substitution,
    in LINPACK ``dtrsl``'s order (column sweeps forward, inner products backward). A zero on
    the diagonal leaves the right-hand side unchanged, as ``dtrsl`` does."""
    n = b.size
    x = np.array(b, dtype=float)
    if np.any(np.diag(L) == 0.0):
        return x
    # L y = b, column oriented
    x[0] = x[0] / L[0, 0]
    for j in range(1, n):
        t = -x[j - 1]
        if t != 0.0:
            for k in range(j, n):
                x[k] = x[k] + t * L[k, j - 1]
        x[j] = x[j] / L[j, j]
    # L' x = y
    x[n - 1] = x[n - 1] / L[n - 1, n - 1]
    for j in range(n - 2, -1, -1):
        x[j] = x[j] - _dot(L[j + 1:, j], x[j + 1:])
        x[j] = x[j] / L[j, j]
    return x


def _rotate(R: np.ndarray, i: int, a: float, b: float) -> None:
    """Apply the Jacobi rotation that takes ``(a, b)`` to ``(hypot(a, b), 0)`` to rows
    ``i`` and ``i + 1`` of ``R``, columns ``i`` onwards."""
    den = _hypot(a, b)
    c = a / den
    s = b / den
    for col in range(i, R.shape[1]):
        y = R[i, col]
        z = R[i + 1, col]
        R[i, col] = c * y - s * z
        R[i + 1, col] = s * y + c * z


def _swap_rows(R: np.ndarray, i: int) -> None:
    """Exchange rows ``i`` and ``i + 1`` of ``R`` from column ``i`` on."""
    tmp = R[i, i:].copy()
    R[i, i:] = R[i + 1, i:]
    R[i + 1, i:] = tmp


def _qr_rank_one(R: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """Overwrite the upper-triangular ``R`` with the triangular factor of ``R + u v'``
    (Dennis & Schnabel A3.4.1): rotations fold ``u`` into its first component, making
    ``R`` upper Hessenberg, the rank-one term is added to the first row, and rotations
    restore the triangle. ``u`` is used as workspace."""
    n = u.size
    k = n - 1
    while k > 0 and u[k] == 0.0:
        k -= 1
    for i in range(k - 1, -1, -1):
        if u[i] == 0.0:
            _swap_rows(R, i)
            u[i] = u[i + 1]
        else:
            _rotate(R, i, u[i], -u[i + 1])
            u[i] = _hypot(u[i], u[i + 1])
    for j in range(n):
        R[0, j] = R[0, j] + u[0] * v[j]
    for i in range(k):
        if R[i, i] == 0.0:
            _swap_rows(R, i)
        else:
            _rotate(R, i, R[i, i], -R[i + 1, i])


def _bfgs_factored(L: np.ndarray, x: np.ndarray, g: np.ndarray, xpls: np.ndarray,
                   gpls: np.ndarray, first: bool, rnf: float,
                   forward_gradient: bool) -> np.ndarray:
    """Factored BFGS secant update of the Cholesky factor ``L`` of the model Hessian
    (Dennis & Schnabel A9.4.2). Returns the new factor, or ``L`` unchanged where the update
    is skipped: when ``s'y`` is not safely positive (``< sqrt(eps) |s| |y|``), or when the
    current model already predicts the gradient change to within the noise of the gradient
    (``|y_i - (H s)_i| < tol max(|g_i|, |gpls_i|)`` for every i, ``tol = sqrt(rnf)`` for a
    forward-difference gradient, ``rnf`` otherwise). On the first iteration (``first``) the
    initial factor is rescaled by ``sqrt(s'y / s'Hs)`` before the update."""
    n = x.size
    L = L.copy()
    s = xpls - x
    y = gpls - g
    den1 = _dot(s, y)
    if den1 < math.sqrt(_DBL_EPSILON) * _norm(s) * _norm(y):
        return L
    u = np.array([_dot(L[i:, i], s[i:]) for i in range(n)])  # L' s
    den2 = _dot(u, u)
    alp = _sqrt(_div(den1, den2))
    if first:
        u = alp * u
        for j in range(n):
            L[j:, j] = alp * L[j:, j]
        den2 = den1
        alp = 1.0
    w = np.array([_dot(L[i, : i + 1], u[: i + 1]) for i in range(n)])  # L L' s
    reltol = math.sqrt(rnf) if forward_gradient else rnf
    if all(abs(y[i] - w[i]) < reltol * _fmax2(abs(g[i]), abs(gpls[i])) for i in range(n)):
        return L
    w = y - alp * w
    alp = _div(alp, den1)
    u = u * alp
    R = np.triu(L.T)
    _qr_rank_one(R, u, w)
    return np.triu(R).T.copy()


# ----------------------------------------------------------------------- line search


def _line_search(fun: _Objective, x: np.ndarray, f: float, g: np.ndarray, p: np.ndarray,
                 stepmx: float, steptl: float, sx: np.ndarray):
    """Backtracking line search along the quasi-Newton direction ``p`` (Dennis & Schnabel
    A6.3.1). The step is first cut to length ``stepmx`` (scaled by ``sx``). Accepts
    ``x + lambda p`` when ``f <= f(x) + 1e-4 lambda g'p``; otherwise the next ``lambda``
    minimises a quadratic (first backtrack) or cubic (later ones) interpolant, kept within
    ``[lambda/10, lambda/2]`` (the quadratic only from below), and a value of the largest
    double (from a non-finite function value) cuts ``lambda`` by 10 and restarts the
    interpolation. Gives up (code 1) once ``lambda`` is below ``steptl`` over the largest
    relative component of ``p``.

    Returns ``(xpls, fpls, status, max_step_taken)``; status 0 = point found, 1 = none."""
    n = x.size
    p = np.array(p, dtype=float)
    sln = 0.0
    for i in range(n):
        sln += sx[i] * sx[i] * p[i] * p[i]
    sln = math.sqrt(sln)
    if sln > stepmx:
        scl = _div(stepmx, sln)
        p = scl * p
        sln = stepmx
    slp = _dot(g, p)
    rln = 0.0
    for i in range(n):
        t = abs(p[i]) / _fmax2(abs(x[i]), 1.0 / sx[i])
        if rln < t:
            rln = t
    rmnlmb = _div(steptl, rln)
    lam = 1.0
    first_back = True
    plam = pf = 0.0
    while True:
        xpls = x + lam * p
        fpls = fun(xpls)
        if fpls <= f + slp * 1e-4 * lam:
            return xpls, fpls, 0, (lam == 1.0 and sln > stepmx * 0.99)
        if lam < rmnlmb:
            return xpls, fpls, 1, False
        if fpls >= _DBL_MAX:
            lam *= 0.1
            first_back = True
            continue
        if first_back:
            tlam = _div(-lam * slp, (fpls - f - slp) * 2.0)
            first_back = False
        else:
            t1 = fpls - f - lam * slp
            t2 = pf - f - plam * slp
            t3 = _div(1.0, lam - plam)
            a3 = 3.0 * t3 * (_div(t1, lam * lam) - _div(t2, plam * plam))
            b = t3 * (_div(t2 * lam, plam * plam) - _div(t1 * plam, lam * lam))
            disc = b * b - a3 * slp
            root = _sqrt(disc)
            if disc > b * b:  # one positive critical point: the minimum
                tlam = _div(-b + (-root if a3 < 0 else root), a3)
            else:  # both positive: the first is the minimum
                tlam = _div(-b + (root if a3 < 0 else -root), a3)
            if tlam > lam * 0.5:
                tlam = lam * 0.5
        plam = lam
        pf = fpls
        if tlam < lam * 0.1:
            lam *= 0.1
        else:
            lam = tlam


# --------------------------------------------------------------------- stopping rules


def relative_gradient(x: np.ndarray, fx: float, g: np.ndarray, typsize=None,
                      fscale: float = 1.0) -> float:
    """``max_i |g_i| max(|x_i|, typsize_i) / max(|f|, fscale)``: the scaled gradient that
    ``nlm`` compares with ``gradtol``."""
    x = np.asarray(x, dtype=float)
    typ = np.ones(x.size) if typsize is None else np.abs(np.asarray(typsize, dtype=float))
    d = _fmax2(abs(fx), fscale)
    r = 0.0
    for i in range(x.size):
        v = abs(g[i]) * _fmax2(abs(x[i]), typ[i]) / d
        if r < v:
            r = v
    return r


def _stop_code(xpls, fpls, gpls, x, itncnt, consecutive_max, gradtol, steptol, sx, fscale,
               itnlim, search_failed, max_step):
    """Dennis & Schnabel's stopping rules (A7.2.1) in ``uncmin``'s order:
    failed line search (3), small relative gradient (1; the only test before the first
    iteration), small relative step (2), iteration limit (4), five consecutive steps of
    maximum length (5). Returns ``(code, consecutive_max)``, code 0 = continue."""
    if search_failed:
        return 3, consecutive_max
    n = xpls.size
    d = _fmax2(abs(fpls), fscale)
    rgx = 0.0
    for i in range(n):
        v = abs(gpls[i]) * _fmax2(abs(xpls[i]), 1.0 / sx[i]) / d
        if rgx < v:
            rgx = v
    if not rgx > gradtol:
        return 1, consecutive_max
    if itncnt == 0:
        return 0, consecutive_max
    rsx = 0.0
    for i in range(n):
        v = abs(xpls[i] - x[i]) / _fmax2(abs(xpls[i]), 1.0 / sx[i])
        if rsx < v:
            rsx = v
    if not rsx > steptol:
        return 2, consecutive_max
    if itncnt >= itnlim:
        return 4, consecutive_max
    if not max_step:
        return 0, 0
    consecutive_max += 1
    if consecutive_max < 5:
        return 0, consecutive_max
    return 5, consecutive_max


# ------------------------------------------------------------------------------ nlm


def _r_sum_squares(v: np.ndarray) -> float:
    """``sum(v^2)`` as R computes it (extended-precision accumulator)."""
    s = np.longdouble(0.0)
    for vi in v:
        s += np.longdouble(float(vi) * float(vi))
    return float(s)


def nlm(f: Callable[[np.ndarray], float], p, *, hessian: bool = False, typsize=None,
        fscale: float = 1.0, ndigit: int = 12, gradtol: float = 1e-6,
        stepmax: float | None = None, steptol: float = 1e-6,
        iterlim: int = 100) -> NlmResult:
    """Minimise ``f`` from ``p`` as R's ``nlm(f, p, hessian, typsize, fscale,
    print.level = 0, ndigit, gradtol, stepmax, steptol, iterlim)`` does when ``f`` has no
    gradient attribute; arguments and defaults as there (``typsize`` all 1, ``stepmax =
    max(1000 sqrt(sum((p/typsize)^2)), 1000)``).

    Quasi-Newton iterations with a finite-difference gradient, factored BFGS updates from
    the scaled identity and a backtracking line search; see the module docstring. Returns
    :class:`NlmResult`; ``code`` 1 or 2 means converged by R's criteria, 3 that no lower
    point was found along the last search direction (the point returned is the last
    accepted iterate), 4 and 5 failure. A warning is issued, as R does, when non-finite
    function values were replaced by the largest double."""
    x = np.array(p, dtype=float).ravel()
    n = x.size
    if n == 0:
        raise NlmError("non-positive number of parameters in nlm")
    if not np.all(np.isfinite(x)):
        raise NlmError("missing value in parameter")
    typ = np.ones(n) if typsize is None else np.array(typsize, dtype=float).ravel()
    if typ.size != n:
        raise NlmError("conflicting parameter lengths")
    if stepmax is None:
        stepmax = max(1000.0 * math.sqrt(_r_sum_squares(x / typ)), 1000.0)
    if gradtol < 0:
        raise NlmError("invalid gradient tolerance in nlm")
    if iterlim <= 0:
        raise NlmError("invalid iteration limit in nlm")
    if ndigit == 0:
        raise NlmError("minimization function has no good digits in nlm")
    if ndigit < 0:
        ndigit = int(-math.log10(_DBL_EPSILON))
    typ = np.where(typ == 0.0, 1.0, np.abs(typ))
    sx = 1.0 / typ
    stepmx = float(stepmax)
    if stepmx <= 0.0:
        stepmx = 1000.0 * _fmax2(math.sqrt(float(np.sum(x * x * sx * sx))), 1.0)
    fscale = 1.0 if fscale == 0.0 else abs(float(fscale))
    rnf = _fmax2(math.pow(10.0, -float(ndigit)), _DBL_EPSILON)

    fun = _Objective(f)
    with np.errstate(all="ignore"):  # IEEE arithmetic as in C: Inf/NaN, no warnings
        xpls, fpls, gpls, code, itncnt = _optimise(fun, x, sx, fscale, rnf, gradtol,
                                                   stepmx, steptol, iterlim)
        H = fd_hessian(fun, xpls, fpls, ndigit, typ) if hessian else None
    if fun.replaced:
        warnings.warn(f"nlm: NA/Inf replaced by maximum positive value ({fun.replaced} "
                      "times)", RuntimeWarning, stacklevel=2)
    return NlmResult(minimum=float(fpls), estimate=np.array(xpls, dtype=float),
                     gradient=np.array(gpls, dtype=float), hessian=H, code=int(code),
                     iterations=itncnt)


def _optimise(fun: _Objective, x: np.ndarray, sx: np.ndarray, fscale: float, rnf: float,
              gradtol: float, stepmx: float, steptol: float, iterlim: int):
    """The iterations of :func:`nlm` (``uncmin``'s driver for line search with secant
    updates); returns ``(xpls, fpls, gpls, code, iterations)``."""
    itncnt = 0
    fx = fun(x)
    g = _forward_gradient(fun, x, fx, sx, rnf)
    code, consecutive_max = _stop_code(x, fx, g, x, itncnt, 0, gradtol, steptol, sx,
                                       fscale, iterlim, False, False)
    if code != 0:
        xpls, fpls, gpls = x, fx, g
    else:
        L = np.diag(sx)  # Cholesky factor of the initial model Hessian
        forward = True  # the gradient is a forward difference until the first failure
        while True:
            itncnt += 1
            while True:
                step = _solve_cholesky(L, -g)
                xpls, fpls, status, max_step = _line_search(fun, x, fx, g, step, stepmx,
                                                            steptol, sx)
                if status == 1 and forward:
                    # retry from the same point with a central-difference gradient
                    forward = False
                    g = _central_gradient(fun, x, sx, rnf)
                    continue
                break
            if forward:
                gpls = _forward_gradient(fun, xpls, fpls, sx, rnf)
            else:
                gpls = _central_gradient(fun, xpls, sx, rnf)
            code, consecutive_max = _stop_code(xpls, fpls, gpls, x, itncnt,
                                               consecutive_max, gradtol, steptol, sx,
                                               fscale, iterlim, status == 1, max_step)
            if code != 0:
                break
            L = _bfgs_factored(L, x, g, xpls, gpls, itncnt == 1, rnf, forward)
            x, fx, g = xpls, fpls, gpls
        if code == 3:  # the failed search: report the last accepted iterate
            xpls, fpls, gpls = x, fx, g
    return xpls, fpls, gpls, code, itncnt
