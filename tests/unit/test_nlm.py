"""R's ``nlm()`` port (:mod:`pardus.secr.nlm`).

Three kinds of check:

* textbook problems with a known answer (quadratic bowl, Rosenbrock, the iteration limit,
  a 1e10 plateau outside the domain, non-finite values);
* the output R prints for the examples of ``?nlm``, as shown on
  https://nz.rcloud.social/library/stats/Example/nlm (the rendered example section of R's
  help page, including the ``print.level = 2`` trace): the same iteration count, code, and
  minimum, estimate and gradient to the digits printed. Gradients of order 1e-13 agree only
  if the same forward differences, line search and BFGS update are done;
* reference results computed with R 4.2.2 (Debian 12, reference BLAS) by ``R_SCRIPT``
  below, covering every termination code, ``typsize``/``fscale``, ``stepmax``,
  ``ndigit``, a 1e10 plateau and ``Inf`` values. The port reproduces them bit for bit on
  this platform; the tests allow 1e-9 relative for other C libraries.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from pardus.secr.nlm import NlmError, NlmResult, fd_hessian, nlm, relative_gradient

PAGE = "https://nz.rcloud.social/library/stats/Example/nlm"


def _r_sum(values) -> float:
    """R's sum (extended-precision accumulator), so that the objectives equal R's."""
    s = np.longdouble(0.0)
    for v in values:
        s += np.longdouble(float(v))
    return float(s)


def _printed(x: float) -> str:
    """R's default print of a double (7 significant digits) for these values."""
    return f"{x:.7g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.6e}"


# ------------------------------------------------------------------ ?nlm examples


def f_example(x):
    """``f <- function(x) sum((x-1:length(x))^2)``"""
    return _r_sum([(xi - (i + 1)) ** 2 for i, xi in enumerate(x)])


def test_help_example_printed_output():
    """``nlm(f, c(10,10))`` prints minimum 4.303458e-26, estimate 1 2, gradient
    2.757794e-13 -3.099743e-13, code 1, iterations 2 (PAGE)."""
    r = nlm(f_example, [10, 10])
    assert isinstance(r, NlmResult)
    assert (r.code, r.iterations) == (1, 2)
    assert _printed(r.minimum) == "4.303458e-26"
    assert [_printed(v) for v in r.estimate] == ["1", "2"]
    assert [_printed(v) for v in r.gradient] == ["2.757794e-13", "-3.099743e-13"]
    assert r.hessian is None


def test_help_example_trace_after_first_iteration():
    """The ``print.level = 2`` trace on PAGE shows, at iteration 1, parameter 1 2, function
    value 1.721748e-13 and gradient 1.551336e-06 1.379735e-06. With ``iterlim = 1`` nlm
    stops there with code 4 (iteration limit)."""
    r = nlm(f_example, [10, 10], iterlim=1)
    assert (r.code, r.iterations) == (4, 1)
    assert [_printed(v) for v in r.estimate] == ["1", "2"]
    assert _printed(r.minimum) == "1.721748e-13"
    assert [_printed(v) for v in r.gradient] == ["1.551336e-06", "1.379735e-06"]


def test_help_example_one_dimensional_with_hessian():
    """``utils::str(nlm(f, c(5), hessian = TRUE))``: minimum 2.44e-24, estimate 1,
    gradient 1e-06, hessian 2, code 1, iterations 1 (str prints 3 digits; PAGE)."""
    r = nlm(f_example, [5.0], hessian=True)
    assert (r.code, r.iterations) == (1, 1)
    assert f"{r.minimum:.3g}" == "2.44e-24"
    assert f"{r.estimate[0]:.3g}" == "1"
    assert f"{r.gradient[0]:.3g}" == "1e-06"
    assert r.hessian.shape == (1, 1) and f"{r.hessian[0, 0]:.3g}" == "2"


def test_help_example_extra_argument():
    """``f <- function(x, a) sum((x-a)^2); nlm(f, c(10,10), a = c(3,5))``: minimum
    3.371781e-25, estimate 3 5, gradient 6.750156e-13 -9.450218e-13, code 1, iterations 2
    (PAGE)."""
    a = np.array([3.0, 5.0])
    r = nlm(lambda x: _r_sum((x - a) ** 2), [10, 10])
    assert (r.code, r.iterations) == (1, 2)
    assert _printed(r.minimum) == "3.371781e-25"
    assert [_printed(v) for v in r.estimate] == ["3", "5"]
    assert [_printed(v) for v in r.gradient] == ["6.750156e-13", "-9.450218e-13"]


# ------------------------------------------------------------- textbook problems


def rosenbrock(x):
    return 100 * (x[1] - x[0] * x[0]) ** 2 + (1 - x[0]) ** 2


def test_quadratic_bowl_and_its_hessian():
    A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.4], [0.5, -0.4, 2.0]])
    c = np.array([1.0, -2.0, 0.5])

    def f(x):
        d = x - c
        return float(0.5 * d @ A @ d)

    r = nlm(f, [5.0, 5.0, 5.0], hessian=True)
    assert r.code in (1, 2)
    np.testing.assert_allclose(r.estimate, c, atol=1e-5)
    assert np.max(np.abs(r.gradient)) < 1e-5
    # forward differences of f with step 1e-4 max(x, 1): error O(step) on a quadratic is
    # rounding only, |f| eps / step^2 ~ 1e-8
    np.testing.assert_allclose(r.hessian, A, atol=1e-5)
    assert np.array_equal(r.hessian, r.hessian.T)


def test_rosenbrock_from_standard_start():
    r = nlm(rosenbrock, [-1.2, 1.0])
    assert r.code in (1, 2)
    np.testing.assert_allclose(r.estimate, [1.0, 1.0], atol=1e-4)
    assert np.max(np.abs(r.gradient)) < 1e-4
    assert relative_gradient(r.estimate, r.minimum, r.gradient) <= 1e-6 or r.code == 2


def test_iteration_limit_gives_code_4():
    r = nlm(rosenbrock, [-1.2, 1.0], iterlim=5)
    assert (r.code, r.iterations) == (4, 5)
    assert r.minimum < rosenbrock([-1.2, 1.0])


def test_plateau_outside_domain():
    """A function that returns 1e10 outside its domain (as secr's beta-binomial
    likelihood does): the line search backtracks off the plateau and the minimum is found
    inside."""

    def f(x):
        if x[0] <= 0 or x[1] <= 0:
            return 1e10
        return (math.log(x[0]) - 1) ** 2 + (math.log(x[1]) + 2) ** 2

    r = nlm(f, [0.5, 3.0])
    assert r.code in (1, 2)
    np.testing.assert_allclose(r.estimate, [math.e, math.exp(-2)], rtol=1e-4)
    assert r.minimum < 1e-8


def test_non_finite_value_replaced_with_warning():
    def f(x):
        return math.inf if x[0] <= 0 else (x[0] - 0.1) ** 2 - math.log(x[0]) + (x[1] - 3) ** 2

    with pytest.warns(RuntimeWarning, match="replaced by maximum positive value"):
        r = nlm(f, [2.0, 0.0])
    assert r.code == 1
    # minimum of (x - 0.1)^2 - log x where 2 x^2 - 0.2 x - 1 = 0
    np.testing.assert_allclose(r.estimate, [(0.2 + math.sqrt(8.04)) / 4, 3.0], atol=1e-5)


def test_non_finite_parameter_is_an_error():
    with pytest.raises(NlmError, match="missing value"):
        nlm(rosenbrock, [math.nan, 1.0])
    with pytest.raises(NlmError, match="conflicting"):
        nlm(rosenbrock, [1.0, 1.0], typsize=[1.0])
    with pytest.raises(NlmError, match="iteration limit"):
        nlm(rosenbrock, [1.0, 1.0], iterlim=0)


def test_zero_gradient_at_start_stops_before_iterating():
    r = nlm(lambda x: 3.0, [2.0, -1.0])
    assert (r.code, r.iterations) == (1, 0)
    assert np.array_equal(r.estimate, [2.0, -1.0]) and np.array_equal(r.gradient, [0, 0])
    # at the minimum of a bowl the forward difference is h, not 0: nlm still iterates
    r = nlm(lambda x: float(np.sum((x - 2.0) ** 2)), [2.0, 2.0])
    assert r.code in (1, 2) and r.iterations >= 1


def test_fd_hessian_formula():
    """fdhess: h_i = 1e-4 max(x_i, 1) (signed x), forward second differences."""
    def f(x):
        return x[0] ** 3 + 2 * x[0] * x[1] + math.exp(x[1])

    x = np.array([-2.0, 0.7])
    H = fd_hessian(f, x)
    h = np.array([1e-4, 1e-4])  # max(-2, 1) = 1, max(0.7, 1) = 1
    f0 = f(x)
    f1 = [f(x + np.eye(2)[i] * h[i]) for i in range(2)]
    h00 = ((f0 - f1[0]) + (f(x + 2 * h[0] * np.eye(2)[0]) - f1[0])) / h[0] ** 2
    h01 = ((f0 - f1[0]) + (f(x + h) - f1[1])) / (h[0] * h[1])
    assert H[0, 0] == pytest.approx(h00, rel=1e-12)
    assert H[0, 1] == H[1, 0] == pytest.approx(h01, rel=1e-12)
    np.testing.assert_allclose(H, [[-12.0, 2.0], [2.0, math.exp(0.7)]], atol=1e-3)


# ------------------------------------------------------- reference results from R

R_SCRIPT = r"""
H <- function(v) paste(sprintf("%a", v), collapse=" ")
out <- function(name, r) cat(name, r$code, r$iterations, sprintf("%a", r$minimum), "|",
                             H(r$estimate), "|", H(r$gradient), "\n")
fr <- function(x) 100 * (x[2] - x[1]^2)^2 + (1 - x[1])^2
out("rosen", nlm(fr, c(-1.2, 1)))
out("rosen_it10", nlm(fr, c(-1.2, 1), iterlim=10))
out("rosen_typ", nlm(fr, c(-1.2, 1), typsize=c(2, 0.5), fscale=10))
out("rosen_far", nlm(fr, c(-30, 40)))
out("lin", nlm(function(x) -sum(x), c(1, 2)))
out("exp", nlm(function(x) exp(-x[1]) + x[2]^2, c(0, 1)))
plateau <- function(x) if (x[1] <= 0 || x[2] <= 0) 1e10 else
    (log(x[1]) - 1)^2 + (log(x[2]) + 2)^2 + x[1]*x[2]
out("plateau", nlm(plateau, c(0.5, 3)))
inff <- function(x) if (x[1] <= 0) Inf else (x[1]-0.1)^2 - log(x[1]) + (x[2]-3)^2
out("inf", nlm(inff, c(2, 0)))
out("quad3", nlm(function(x) sum(c(1, 10, 100) * (x - c(1, -2, 3))^2) + x[1]*x[2], c(0, 0, 0)))
out("oned", nlm(function(x) (x - 3)^4 + x, 10))
out("steptol", nlm(fr, c(-1.2, 1), steptol=1e-2, gradtol=1e-3))
out("stepmax", nlm(fr, c(-1.2, 1), stepmax=0.1))
out("wood", nlm(function(x) 100*(x[1]^2-x[2])^2 + (x[1]-1)^2 + (x[3]-1)^2 + 90*(x[3]^2-x[4])^2 +
    10.1*((x[2]-1)^2 + (x[4]-1)^2) + 19.8*(x[2]-1)*(x[4]-1), c(-3,-1,-3,-1)))
out("ndig", nlm(fr, c(-1.2, 1), ndigit=6))
"""


def _sq(t):
    return t * t


def _fr(x):
    return 100 * _sq(x[1] - _sq(x[0])) + _sq(1 - x[0])


def _plateau(x):
    if x[0] <= 0 or x[1] <= 0:
        return 1e10
    return _sq(math.log(x[0]) - 1) + _sq(math.log(x[1]) + 2) + x[0] * x[1]


def _inff(x):
    return math.inf if x[0] <= 0 else _sq(x[0] - 0.1) - math.log(x[0]) + _sq(x[1] - 3)


def _wood(x):
    x1, x2, x3, x4 = x
    return (100 * _sq(_sq(x1) - x2) + _sq(x1 - 1) + _sq(x3 - 1) + 90 * _sq(_sq(x3) - x4)
            + 10.1 * (_sq(x2 - 1) + _sq(x4 - 1)) + 19.8 * (x2 - 1) * (x4 - 1))


def _quad3(x):
    return _r_sum([c * _sq(xi - m) for c, xi, m in zip((1, 10, 100), x, (1, -2, 3))]) + x[0] * x[1]


CASES = {
    "rosen": (_fr, [-1.2, 1], {}),
    "rosen_it10": (_fr, [-1.2, 1], dict(iterlim=10)),
    "rosen_typ": (_fr, [-1.2, 1], dict(typsize=[2, 0.5], fscale=10)),
    "rosen_far": (_fr, [-30, 40], {}),
    "lin": (lambda x: -_r_sum(x), [1, 2], {}),
    "exp": (lambda x: math.exp(-x[0]) + _sq(x[1]), [0, 1], {}),
    "plateau": (_plateau, [0.5, 3], {}),
    "inf": (_inff, [2, 0], {}),
    "quad3": (_quad3, [0, 0, 0], {}),
    "oned": (lambda x: math.pow(x[0] - 3, 4) + x[0], [10], {}),
    "steptol": (_fr, [-1.2, 1], dict(steptol=1e-2, gradtol=1e-3)),
    "stepmax": (_fr, [-1.2, 1], dict(stepmax=0.1)),
    "wood": (_wood, [-3, -1, -3, -1], {}),
    "ndig": (_fr, [-1.2, 1], dict(ndigit=6)),
}

#: name -> (code, iterations, minimum, estimate, gradient) printed by R_SCRIPT (R 4.2.2)
R_RESULTS = {
    "rosen": (1, 23, 3.97376555581202e-12, [0.9999980066391851, 0.9999960149503294],
              [-6.539225529068792e-07, 3.3359713880098815e-07]),
    "rosen_it10": (4, 10, 0.07661201306058385, [1.2635532281049182, 1.5881099824897136],
                   [4.802152333926861, -1.6911967418457803]),
    "rosen_typ": (1, 18, 6.180912190177572e-11, [0.9999921384920071, 0.9999842694208723],
                  [3.326812381002082e-06, -1.5249890461537285e-06]),
    "rosen_far": (2, 20, 28.302014060993077, [6.319798655975465, 39.94404590028262],
                  [0.14643641013437164, 0.8421640472400357]),
    "lin": (5, 6, -15816.388300841954, [7907.694150592828, 7908.694150249127],
            [-1.0000000000606037, -1.0000000001468603]),
    "exp": (1, 26, 3.265264293987329e-08, [17.237348059227322, -5.118103852929334e-07],
            [-3.2652099574441395e-08, -2.3620770585496103e-08]),
    "plateau": (1, 14, 0.3172357935691698, [2.364975698718983, 0.11774470461276534],
                [-1.1266649634259045e-09, 2.8754776337791554e-08]),
    "inf": (1, 7, 0.7100344711455585, [0.7588718775184092, 2.9999986609964133],
            [1.255662240851052e-07, 3.220018282959839e-07]),
    "quad3": (1, 13, -3.102564102327535,
              [2.051281529287809, -2.102565126474411, 2.9999984990774182],
              [-1.6453509411905444e-08, 2.555678000897897e-08, -1.8459317391436376e-07]),
    "oned": (1, 10, 2.527529606292767, [2.3700382899090693], [-5.621291585130055e-10]),
    "steptol": (2, 4, 0.20142678722048352, [1.4486335968054962, 2.099783014151353],
                [0.1778085687028157, 0.24895324984781636]),
    "stepmax": (5, 12, 3.124990377972816, [-0.7369839171145919, 0.5759899663564345],
                [6.208641945892879, 6.569034454173561]),
    "wood": (2, 33, 1.305448671782754e-13,
             [0.9999999356545556, 0.9999998856404363, 1.0000000036274381, 1.000000020765508],
             [-1.8612191202574683e-06, 9.673580870896372e-07, -1.2565724709973966e-06,
              5.87057610191471e-07]),
    "ndig": (3, 20, 6.188545971652501e-05, [0.9948919286903865, 0.9892116766983987],
             [0.26766635586804477, -0.11965461497565062]),
}


@pytest.mark.parametrize("name", list(R_RESULTS))
def test_matches_r_nlm(name):
    f, p, kw = CASES[name]
    code, iterations, minimum, estimate, gradient = R_RESULTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "inf": Inf replaced, as in R
        r = nlm(f, np.array(p, dtype=float), **kw)
    assert (r.code, r.iterations) == (code, iterations)
    assert r.minimum == pytest.approx(minimum, rel=1e-9, abs=1e-20)
    np.testing.assert_allclose(r.estimate, estimate, rtol=1e-9, atol=1e-14)
    # finite-difference gradients: cancellation in f(x + h) - f(x) magnifies last-bit
    # differences of the objective by |f| / h
    scale = max(abs(minimum), 1.0) * 1e-16 / 1e-6 * 1e3
    np.testing.assert_allclose(r.gradient, gradient, rtol=1e-7, atol=scale)


def test_every_termination_code_is_exercised():
    assert {v[0] for v in R_RESULTS.values()} == {1, 2, 3, 4, 5}
