# SPDX-License-Identifier: GPL-3.0-or-later
"""SECR fitting on capture-history and mask objects, with secr-style model formulas and
several sessions.

``secr_fit(capthist, mask, model={"g0": "~b"}, detectfn="HN", likelihood="full")`` is the verb
users call, the Python twin of ``secr.fit``. A list of capture histories (and one mask per
session, or one mask for all) is a multi-session fit, as secr's ``multi-session capthist``.
The null model of one session goes through the fast path of
:func:`pardus.secr.likelihood.fit_secr`; everything else through the general engine here.

Model formulas
--------------
One formula per real parameter, ``D``, ``g0`` (or ``lambda0`` for the hazard detection functions
HHN, HHR, HEX), ``sigma``, ``z`` (hazard rate) and ``pmix``
(finite mixtures), on secr's links (log, logit, log, log, logit/mlogit). Right-hand sides are
sums of terms (``+``), a term being a variable or an interaction (``a:b``; ``a*b`` is
``a + b + a:b``). Factors use treatment contrasts (R's default: the first level is the
reference), numeric variables enter as they are. The variables, as secr names them:

* ``session`` (factor over sessions) and ``Session`` (trend 0, 1, …) — any parameter;
* ``t`` (factor over occasions) and ``T`` (trend 0, 1, …) — detection parameters;
* ``b`` — learned response: 1 on the occasions after the animal's first detection, else 0;
* ``h2`` — two-class finite mixture (class membership unknown; ``pmix`` estimated);
* individual covariates of the capture file (``sex``, ``age``, …). With the conditional
  likelihood each animal uses its own value. With the full likelihood an individual *factor*
  becomes secr's ``hcov``: known class membership, with the class proportions ``pmix``
  estimated (missing values are unknown classes); numeric individual covariates need the
  conditional likelihood, as in secr;
* detector covariates of the trap file (after ``/``) — detection parameters;
* ``x``, ``y``, ``x2``, ``y2``, ``xy`` — density surface over the mask (coordinates
  standardised by the mask's mean and standard deviation, as secr does).

Likelihood
----------
For an animal with detection history ``ω_i`` of session ``s`` and class ``h``,
``log Pr(ω_i | x)`` is the sum over occasions of the detector model's terms (multi-catch
competing hazards, binary proximity Bernoulli, Poisson counts — see
:mod:`pardus.secr.likelihood`), each occasion with the parameter values of that animal,
occasion, detector and class. The full likelihood of a session is the inhomogeneous Poisson
process over the mask::

    LL_s = - sum_h pmix_h sum_m D_m c p._h(x_m)
           + sum_i log sum_{h known for i} pmix_h sum_m D_m c Pr(ω_i | x_m, h) - log prod n_c!

and the conditional likelihood ::

    LL_s = log n_s! - log prod n_c! + sum_i log [sum_h pmix_h sum_m c Pr(ω_i | x_m, h)
                                                 / sum_h pmix_h a_h(cov_i)]

summed over sessions. Density in a conditional fit is derived as in secr's ``derived()``:
``D_s = sum_i 1 / a(cov_i)`` with variance ``sum_i 1 / a_i^2 + g' V g``.

Estimates, standard errors and intervals of the real parameters are as secr's ``predict()``:
the linear predictor ``x beta`` of each level combination, its standard error
``sqrt(x V x')`` from the inverse numerical Hessian, back-transformed (log: ``exp(beta)
sqrt(exp(se^2) - 1)``; logit: delta method) with Wald intervals on the link scale.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from math import lgamma
from typing import Sequence

import numpy as np
from scipy import optimize, special
from scipy.stats import norm

from .likelihood import (HAZARD_SHAPE, SecrFit, _Data, _detectfn_name, _norm_likelihood, _rpsv, _safe_matmul,
                         first_param, fit_secr, is_hazard, needs_z)

__all__ = ["secr_fit", "parse_model", "ModelError", "SUPPORTED_VARIABLES"]

REAL_PARAMS = ("D", "g0", "lambda0", "sigma", "z", "pmix")
LINKS = {"D": "log", "g0": "logit", "lambda0": "log", "sigma": "log", "z": "log", "pmix": "logit"}
_MASK_VARS = ("x", "y", "x2", "y2", "xy")
#: the variables a formula may name (besides individual and detector covariates)
SUPPORTED_VARIABLES = ("session", "Session", "t", "T", "b", "h2") + _MASK_VARS


class ModelError(ValueError):
    """A model formula that cannot be fitted to these data (names the term and the fix)."""


def parse_model(model) -> dict[str, str]:
    """Normalise a model given as a dict ``{"g0": "~b"}``, a string ``"g0~b"`` or a list of them."""
    if model is None:
        return {}
    if isinstance(model, str):
        model = [model]
    if isinstance(model, dict):
        items = list(model.items())
    else:
        items = []
        for m in model:
            if "~" not in m:
                raise ValueError(f"model term {m!r} is not a formula like 'g0~b'")
            lhs, rhs = m.split("~", 1)
            items.append((lhs.strip(), "~" + rhs.strip()))
    out = {}
    for k, v in items:
        v = str(v).strip()
        if not v.startswith("~"):
            v = "~" + v
        rhs = v[1:].replace(" ", "")
        if rhs not in ("", "1"):
            out[str(k).strip()] = "~" + rhs
    return out


# --------------------------------------------------------------------------------------------
# formulas and design matrices
# --------------------------------------------------------------------------------------------


def _terms(rhs: str) -> list[tuple[str, ...]]:
    """Terms of a right-hand side: ``"b+t"`` → [("b",), ("t",)]; ``"a*b"`` → a, b, a:b."""
    text = rhs.strip().lstrip("~").replace(" ", "")
    if text in ("", "1"):
        return []
    out: list[tuple[str, ...]] = []
    for piece in text.split("+"):
        if piece in ("", "1"):
            continue
        if not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*([:*][A-Za-z_.][A-Za-z0-9_.]*)*", piece):
            raise ModelError(f"formula term {piece!r} is not understood. Fix: write sums of variables "
                             "and interactions, e.g. 'g0~b+t' or 'sigma~sex*session'")
        if "*" in piece:
            names = piece.replace(":", "*").split("*")
            for r in range(1, len(names) + 1):
                for combo in itertools.combinations(names, r):
                    out.append(tuple(combo))
        else:
            out.append(tuple(piece.split(":")))
    seen, uniq = set(), []
    for t in out:
        if t not in seen:
            seen.add(t)
            uniq.append(t)
    for t in uniq:  # an interaction needs its main effects (our contrasts assume them)
        if len(t) > 1:
            for v in t:
                if (v,) not in seen:
                    raise ModelError(f"interaction {':'.join(t)} without the main effect {v}. "
                                     f"Fix: write {'*'.join(t)} (main effects and interaction)")
    return uniq


@dataclass
class _Var:
    name: str
    kind: str  # "factor" or "numeric"
    scope: str  # session, occasion, b, h, indiv, trap, mask
    levels: tuple = ()

    def columns(self, values) -> tuple[list[str], np.ndarray]:
        """Contrast columns for an array of values (factor: level codes; numeric: floats)."""
        if self.kind == "numeric":
            return [self.name], np.asarray(values, float)[:, None]
        codes = np.asarray(values, int)
        names = [f"{self.name}{_fmt_level(lv)}" for lv in self.levels[1:]]
        cols = np.stack([(codes == j).astype(float) for j in range(1, len(self.levels))], axis=1) \
            if len(self.levels) > 1 else np.zeros((len(codes), 0))
        return names, cols


class _Design:
    """Columns of one real parameter's formula and its design matrix for given contexts."""

    def __init__(self, param: str, terms: list[tuple[str, ...]], variables: dict[str, _Var]):
        self.param = param
        self.terms = terms
        self.vars = sorted({v for t in terms for v in t})
        self.variables = variables
        n0 = {v: np.zeros(1, int) if variables[v].kind == "factor" else np.zeros(1) for v in self.vars}
        self.colnames = self._build(n0)[0]

    def _build(self, ctx):
        n = len(next(iter(ctx.values()))) if ctx else 1
        names = ["(Intercept)"]
        cols = [np.ones((n, 1))]
        for t in self.terms:
            tn, tc = [""], np.ones((n, 1))
            for v in t:
                vn, vc = self.variables[v].columns(ctx[v])
                tn = [a + (":" if a else "") + b for a in tn for b in vn]
                tc = (tc[:, :, None] * vc[:, None, :]).reshape(n, -1)
            names += tn
            cols.append(tc)
        return names, np.concatenate(cols, axis=1)

    def matrix(self, ctx: dict[str, np.ndarray], n: int) -> np.ndarray:
        full = {v: np.broadcast_to(np.asarray(ctx[v]), (n,)) for v in self.vars}
        if not self.vars:
            return np.ones((n, 1))
        return self._build(full)[1]


def _fmt_level(v) -> str:
    """A factor level as text: 2.0 -> '2' (numeric class codes read from a file), else str."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _factor_levels(values) -> tuple:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    try:
        return tuple(sorted(set(vals)))
    except TypeError:
        return tuple(sorted(set(map(str, vals))))


def _is_text(arr) -> bool:
    return np.asarray(arr).dtype == object


# --------------------------------------------------------------------------------------------
# per-session structure (parameter independent)
# --------------------------------------------------------------------------------------------


class _Session:
    def __init__(self, index, ch, mask, detector, collapse):
        self.index = index
        self.label = str(ch.session)
        self.ch = ch
        self.data = _Data(ch.counts, ch.traps, mask.xy, mask.area_ha, detector, ch.usage, collapse)
        d = self.data
        self.n, self.S, self.K, self.M = d.n, d.S, d.K, d.M
        self.cell = d.cell_ha
        xy = np.asarray(mask.xy, float)
        self.mask_xy = xy
        mu, sd = xy.mean(axis=0), xy.std(axis=0, ddof=1) if len(xy) > 1 else np.ones(2)
        sd = np.where(sd > 0, sd, 1.0)
        zx, zy = (xy[:, 0] - mu[0]) / sd[0], (xy[:, 1] - mu[1]) / sd[1]
        self.mask_vars = {"x": zx, "y": zy, "x2": zx * zx, "y2": zy * zy, "xy": zx * zy}
        caught = d.counts.sum(axis=2) > 0  # n x S
        before = np.cumsum(caught, axis=1) - caught  # detections before occasion s
        self.bstate = (before > 0).astype(int)  # n x S


class _Model:
    """The parameter-independent part of a general SECR fit over one or more sessions."""

    def __init__(self, sessions, masks, spec, detectfn, likelihood, hcov=None, collapse=False):
        self.fn = _detectfn_name(detectfn)
        self.lik = _norm_likelihood(likelihood)
        self.spec = dict(spec)
        dets = {ch.detector for ch in sessions}
        if len(dets) > 1:
            raise ModelError(f"sessions have different detector types {sorted(dets)}. Fix: one type for all")
        detector = dets.pop()
        for k in self.spec:
            if k not in REAL_PARAMS:
                raise ModelError(f"model for {k!r}: not a parameter of this model. Fix: use one of "
                                 f"{', '.join(REAL_PARAMS)}")
        self.hazard = is_hazard(self.fn)
        self.p0 = first_param(self.fn)
        self.det_params = (self.p0, "sigma", "z")
        if "z" in self.spec and not needs_z(self.fn):
            raise ModelError("a model for z needs the hazard-rate detection function. Fix: detectfn HR "
                             "(or HHR)")
        other = "g0" if self.hazard else "lambda0"
        if other in self.spec:
            raise ModelError(f"a model for {other} with detection function {self.fn}, whose intercept is "
                             f"{self.p0}. Fix: " + (f"write {self.p0}~... or use HN/HR/EX" if self.hazard
                                                    else "write g0~... or use the hazard forms HHN/HHR/HEX"))
        terms = {p: _terms(self.spec.get(p, "~1")) for p in REAL_PARAMS}
        used = {v for p in terms for t in terms[p] for v in t}
        occ_used = bool(used & {"t", "T", "b"})
        if collapse and occ_used:
            collapse = False  # as secr: fastproximity only for models constant over occasions
        self.collapsed = bool(collapse)
        S_set = {ch.noccasions for ch in sessions}
        if ({"t", "T"} & used) and len(S_set) > 1:
            raise ModelError("t or T with sessions of different numbers of occasions. Fix: one number "
                             "of occasions, or drop the time effect")
        self.sessions = [_Session(i, ch, m, detector, collapse) for i, (ch, m) in enumerate(zip(sessions, masks))]
        self.detector = self.sessions[0].data.detector
        S = self.sessions[0].S
        labels = [s.label for s in self.sessions]
        if len(set(labels)) < len(labels):
            labels = [f"{i + 1}" for i in range(len(labels))]
            for s, lb in zip(self.sessions, labels):
                s.label = lb
        self.session_labels = tuple(labels)
        variables = {
            "session": _Var("session", "factor", "session", self.session_labels),
            "Session": _Var("Session", "numeric", "session"),
            "t": _Var("t", "factor", "occasion", tuple(range(1, S + 1))),
            "T": _Var("T", "numeric", "occasion"),
            "b": _Var("b", "factor", "b", (0, 1)),
            "h2": _Var("h2", "factor", "h", (1, 2)),
        }
        for m in _MASK_VARS:
            variables[m] = _Var(m, "numeric", "mask")
        # individual and detector covariates
        icov_names = set().union(*[set(s.ch.covariates) for s in self.sessions])
        tcov_names = set().union(*[set(s.ch.trap_covariates) for s in self.sessions])
        for v in sorted(used - set(variables)):
            if v in icov_names:
                allv = np.concatenate([np.asarray(s.ch.covariates.get(v, np.full(s.n, None, object)), object)
                                       for s in self.sessions])
                text = any(_is_text(s.ch.covariates[v]) for s in self.sessions if v in s.ch.covariates)
                if text or v == hcov:
                    variables[v] = _Var(v, "factor", "indiv", _factor_levels(allv))
                else:
                    variables[v] = _Var(v, "numeric", "indiv")
            elif v in tcov_names:
                allv = np.concatenate([np.asarray(s.ch.trap_covariates[v], object) for s in self.sessions
                                       if v in s.ch.trap_covariates])
                text = any(_is_text(s.ch.trap_covariates[v]) for s in self.sessions if v in s.ch.trap_covariates)
                variables[v] = _Var(v, "factor" if text else "numeric", "trap",
                                    _factor_levels(allv) if text else ())
            else:
                known = sorted(SUPPORTED_VARIABLES) + sorted(icov_names) + sorted(tcov_names)
                raise ModelError(f"model variable {v!r} is neither a built-in variable nor a covariate of "
                                 f"the capture or trap file. Fix: use one of {', '.join(known)}")
        self.variables = variables
        # where each variable may appear
        for p, tl in terms.items():
            for t in tl:
                for v in t:
                    sc = variables[v].scope
                    if p == "D" and sc not in ("session", "mask"):
                        raise ModelError(f"D~{v}: density can depend on session, Session and the mask "
                                         "coordinates x, y, x2, y2, xy. Fix: move the term to a detection "
                                         "parameter")
                    if p != "D" and sc == "mask":
                        raise ModelError(f"{p}~{v}: {v} is a mask coordinate, for D only")
                    if p == "pmix" and sc not in ("session",):
                        raise ModelError(f"pmix~{v}: mixing proportions may depend on session only")
        if self.lik == "conditional" and "D" in self.spec:
            raise ModelError("a model for D with the conditional likelihood: D is derived there. Fix: use "
                             "the full likelihood, or drop the D formula")
        # individual covariates: classes (hcov) or per-animal groups
        indiv = sorted({v for p in self.det_params for t in terms[p] for v in t
                        if variables[v].scope == "indiv"})
        self.h2 = "h2" in used
        self.hcov = None
        if self.lik == "full":
            if hcov is not None and hcov not in indiv:
                indiv_all = sorted(icov_names)
                if hcov not in indiv_all:
                    raise ModelError(f"hcov {hcov!r} is not an individual covariate. Fix: one of {indiv_all}")
                variables[hcov] = _Var(hcov, "factor", "indiv",
                                       _factor_levels(np.concatenate([np.asarray(s.ch.covariates.get(hcov, []), object)
                                                                      for s in self.sessions])))
            cand = [v for v in indiv if variables[v].kind == "factor"]
            num = [v for v in indiv if variables[v].kind == "numeric"]
            if num:
                raise ModelError(f"individual covariate {num[0]!r} (numeric) with the full likelihood: secr "
                                 "needs the conditional likelihood for that. Fix: --cl (likelihood "
                                 f"'conditional'), or, if {num[0]!r} codes classes (e.g. sex 1/2), --hcov "
                                 f"{num[0]} (hcov={num[0]!r}: known class membership, as secr's hcov)")
            if hcov is None and len(cand) > 1:
                raise ModelError(f"several individual factors {cand} with the full likelihood. Fix: at most "
                                 "one (it becomes the class variable, secr's hcov), or the conditional likelihood")
            self.hcov = hcov if hcov is not None else (cand[0] if cand else None)
            if self.hcov is not None and self.h2:
                raise ModelError("h2 together with an individual class covariate. Fix: one kind of mixture")
            self.indiv = [v for v in indiv if v != self.hcov]
            if self.indiv:
                raise ModelError(f"individual covariates {self.indiv} besides the class variable "
                                 f"{self.hcov!r} need the conditional likelihood. Fix: --cl")
        else:
            if hcov is not None:
                raise ModelError("hcov applies to the full likelihood. Fix: drop hcov, or fit the full likelihood")
            self.indiv = indiv
        if self.hcov is not None:
            self.class_var = self.hcov
            self.class_levels = variables[self.hcov].levels
        elif self.h2:
            self.class_var = "h2"
            self.class_levels = (1, 2)
        else:
            self.class_var = None
            self.class_levels = (None,)
        self.H = len(self.class_levels)
        if self.H > 1 and "pmix" not in self.spec:
            pass
        self.designs = {p: _Design(p, terms[p], variables) for p in self._params()}
        self.terms = terms
        self.occ_used = bool({"t", "T"} & {v for p in self.det_params for t in terms[p] for v in t})
        self.b_used = "b" in {v for p in self.det_params for t in terms[p] for v in t}
        self.trap_vars = sorted({v for p in self.det_params for t in terms[p] for v in t
                                 if variables[v].scope == "trap"})
        # layout of the coefficient vector
        self.slices = {}
        k = 0
        for p in self._params():
            nc = len(self.designs[p].colnames) if p != "pmix" else self._npmix()
            self.slices[p] = slice(k, k + nc)
            k += nc
        self.nbeta = k
        self.n = sum(s.n for s in self.sessions)
        for s in self.sessions:
            self._prepare(s)

    # -- layout -------------------------------------------------------------------------------
    def _params(self):
        ps = (["D"] if self.lik == "full" else []) + [self.p0, "sigma"] + (["z"] if needs_z(self.fn) else [])
        if self.H > 1:
            ps.append("pmix")
        return ps

    def _npmix(self):
        return (self.H - 1) * len(self.designs["pmix"].colnames)

    def coef_names(self):
        out = []
        for p in self._params():
            if p == "pmix":
                for h in range(1, self.H):
                    for c in self.designs["pmix"].colnames:
                        out.append(f"pmix.{self.class_var}{_fmt_level(self.class_levels[h])}" + ("" if c == "(Intercept)" else f":{c}"))
            else:
                out += [f"{p}" if c == "(Intercept)" else f"{p}.{c}" for c in self.designs[p].colnames]
        return out

    # -- per-session precomputation --------------------------------------------------------------
    def _indiv_codes(self, s: _Session):
        """Per-animal group code over the individual covariates used as covariates (not classes),
        and the group's covariate context; for hcov the known class of each animal (-1 unknown)."""
        ctx_rows = []
        codes = np.zeros(s.n, int)
        if self.indiv:
            keys = []
            for i in range(s.n):
                key = []
                for v in self.indiv:
                    val = s.ch.covariates[v][i] if v in s.ch.covariates else None
                    var = self.variables[v]
                    if var.kind == "factor":
                        if val is None or (isinstance(val, float) and math.isnan(val)):
                            raise ModelError(f"session {s.label}: animal {s.ch.ids[i]} has no value of "
                                             f"covariate {v!r}. Fix: give every animal a value, or drop {v}")
                        key.append(var.levels.index(val) if val in var.levels else var.levels.index(str(val)))
                    else:
                        fv = float(val) if val is not None else math.nan
                        if not math.isfinite(fv):
                            raise ModelError(f"session {s.label}: animal {s.ch.ids[i]} has no value of "
                                             f"covariate {v!r}. Fix: give every animal a value, or drop {v}")
                        key.append(fv)
                keys.append(tuple(key))
            uniq = sorted(set(keys))
            index = {k: j for j, k in enumerate(uniq)}
            codes = np.array([index[k] for k in keys], int)
            ctx_rows = uniq
        else:
            ctx_rows = [()]
        known = np.full(s.n, -1, int)
        if self.hcov is not None:
            vals = s.ch.covariates.get(self.hcov, [None] * s.n)
            lv = self.class_levels
            for i, val in enumerate(vals):
                if val is None or (isinstance(val, float) and math.isnan(val)):
                    continue
                known[i] = lv.index(val) if val in lv else lv.index(str(val))
        return codes, ctx_rows, known

    def _prepare(self, s: _Session):
        d = s.data
        S, K, n = s.S, s.K, s.n
        s.grp, grp_rows, s.known = self._indiv_codes(s)
        G = len(grp_rows)
        O = S if self.occ_used else 1
        B = 2 if self.b_used else 1
        H = self.H
        # trap groups
        if self.trap_vars:
            tkeys = []
            for k in range(K):
                key = []
                for v in self.trap_vars:
                    if v not in s.ch.trap_covariates:
                        raise ModelError(f"session {s.label}: the trap file has no covariate {v!r}. Fix: add it")
                    val = s.ch.trap_covariates[v][k]
                    var = self.variables[v]
                    key.append(var.levels.index(val) if var.kind == "factor" else float(val))
                tkeys.append(tuple(key))
            tuniq = sorted(set(tkeys))
            tindex = {kk: j for j, kk in enumerate(tuniq)}
            tcode = np.array([tindex[kk] for kk in tkeys], int)
        else:
            tuniq, tcode = [()], np.zeros(K, int)
        s.tcode = tcode
        # the patterns (o, b, g, h) x trap groups: a design row per detection parameter
        pats = list(itertools.product(range(O), range(B), range(G), range(H)))
        s.pat_index = {p: j for j, p in enumerate(pats)}
        s.pats = pats
        rows = list(itertools.product(range(len(pats)), range(len(tuniq))))
        ctx = {}
        for v, var in self.variables.items():
            sc = var.scope
            if sc == "session":
                ctx[v] = np.full(len(rows), s.index, int) if v == "session" else np.full(len(rows), float(s.index))
            elif sc == "occasion":
                ctx[v] = np.array([pats[p][0] for p, _ in rows], int if v == "t" else float)
            elif sc == "b":
                ctx[v] = np.array([pats[p][1] for p, _ in rows], int)
            elif sc == "h" and self.class_var == "h2":
                ctx[v] = np.array([pats[p][3] for p, _ in rows], int)
            elif sc == "indiv":
                if v == self.hcov:
                    ctx[v] = np.array([pats[p][3] for p, _ in rows], int)
                elif v in self.indiv:
                    j = self.indiv.index(v)
                    ctx[v] = np.array([grp_rows[pats[p][2]][j] for p, _ in rows],
                                      int if var.kind == "factor" else float)
            elif sc == "trap" and v in self.trap_vars:
                j = self.trap_vars.index(v)
                ctx[v] = np.array([tuniq[t][j] for _, t in rows], int if var.kind == "factor" else float)
        s.X = {p: self.designs[p].matrix(ctx, len(rows)) for p in self.det_params if p in self.designs}
        s.nrows_t = len(tuniq)
        # D over the mask
        if "D" in self.designs:
            dctx = {"session": np.full(s.M, s.index, int), "Session": np.full(s.M, float(s.index))}
            dctx.update(s.mask_vars)
            s.XD = self.designs["D"].matrix(dctx, s.M)
            s.D_const = not any(self.variables[v].scope == "mask" for v in self.designs["D"].vars)
        if "pmix" in self.designs:
            s.Xpmix = self.designs["pmix"].matrix({"session": np.array([s.index]),
                                                   "Session": np.array([float(s.index)])}, 1)
        # keys (pattern, occasion) and their use by each animal, per class h
        keys = {}

        def key(p, o):
            kk = (p, o)
            if kk not in keys:
                keys[kk] = len(keys)
            return keys[kk]

        # the never-detected history, per (group, class)
        s.key0 = np.zeros((G, H, S), int)
        for g in range(G):
            for h in range(H):
                for o in range(S):
                    s.key0[g, h, o] = key(s.pat_index[(o if O > 1 else 0, 0, g, h)], o)
        caught = d.counts.sum(axis=2) > 0
        ignored = d.ignored if d.detector == "multi" else np.zeros((n, S), bool)
        inc = {}
        ent_base, ent_cap, ent_inc = [], [], []  # (h, i, key) / (h, i, key) / (h, i, row, weight)
        for h in range(H):
            for i in range(n):
                for o in range(S):
                    p = s.pat_index[(o if O > 1 else 0, s.bstate[i, o] if B > 1 else 0, s.grp[i], h)]
                    kk = key(p, o)
                    if d.detector == "multi":
                        if ignored[i, o]:
                            continue
                        if caught[i, o]:
                            ent_cap.append((h, i, kk))
                        else:
                            ent_base.append((h, i, kk))
                    else:
                        ent_base.append((h, i, kk))
                    for k in np.flatnonzero(d.counts[i, o] > 0):
                        r = inc.setdefault((kk, int(k)), len(inc))
                        ent_inc.append((h, i, r, float(d.counts[i, o, k])))
        s.keys = sorted(keys, key=keys.get)
        s.inc = sorted(inc, key=inc.get)
        nk, nr = len(s.keys), len(s.inc)
        s.A = np.zeros((H, n, nk))
        s.C = np.zeros((H, n, nk))
        s.E = np.zeros((H, n, max(nr, 1)))
        for h, i, kk in ent_base:
            s.A[h, i, kk] += 1.0
        for h, i, kk in ent_cap:
            s.C[h, i, kk] += 1.0
        for h, i, r, w in ent_inc:
            s.E[h, i, r] += w
        s.key_pat = np.array([p for p, _ in s.keys], int)
        s.key_occ = np.array([o for _, o in s.keys], int)
        s.inc_key = np.array([kk for kk, _ in s.inc], int)
        s.inc_det = np.array([k for _, k in s.inc], int)
        s.G = G
        s.grp_rows = grp_rows

    # -- evaluation --------------------------------------------------------------------------------
    def real_detection(self, s: _Session, beta):
        """Per pattern x detector arrays of g0 (or lambda0), sigma (and z)."""
        out = {}
        for p in self.det_params:
            if p not in self.designs:
                continue
            eta = s.X[p] @ beta[self.slices[p]]
            val = special.expit(eta) if p == "g0" else np.exp(eta)
            val = val.reshape(len(s.pats), s.nrows_t)[:, s.tcode]  # P x K
            out[p] = val
        return out

    def pmix(self, s: _Session, beta):
        if self.H == 1:
            return np.ones(1)
        bp = beta[self.slices["pmix"]].reshape(self.H - 1, -1)
        eta = np.concatenate([[0.0], bp @ s.Xpmix[0]])
        eta = eta - eta.max()
        w = np.exp(eta)
        return w / w.sum()

    def density(self, s: _Session, beta):
        return np.exp(s.XD @ beta[self.slices["D"]])

    def session_terms(self, s: _Session, beta):
        """lp (H x n x M log Pr(ω_i | x, h) + const), log0 (G x H x M)."""
        d = s.data
        rp = self.real_detection(s, beta)
        P = len(s.pats)
        nk = len(s.keys)
        M = s.M
        base = np.empty((nk, M))
        capt = np.zeros((nk, M)) if d.detector == "multi" else None
        incr = np.empty((len(s.inc), M))
        u = d.usage  # K x S
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for p in range(P):
                sel_k = np.flatnonzero(s.key_pat == p)
                sel_r = np.flatnonzero(s.key_pat[s.inc_key] == p) if len(s.inc) else np.zeros(0, int)
                if len(sel_k) == 0:
                    continue
                g0 = rp[self.p0][p]  # g0, or the hazard lambda0
                sig = rp["sigma"][p]
                shape = HAZARD_SHAPE.get(self.fn, self.fn)
                if shape == "HN":
                    g = g0 * np.exp(d.dist2 * (-0.5 / (sig * sig)))
                elif shape == "EX":
                    g = g0 * np.exp(-d.dist / sig)
                else:
                    g = g0 * (-np.expm1(-((d.dist / sig) ** (-rp["z"][p]))))
                if self.hazard:
                    h = g  # lambda0 * shape
                else:
                    g = np.clip(g, 0.0, 1.0 - 1e-15)
                    h = -np.log1p(-g)  # M x K
                occ = s.key_occ[sel_k]
                if d.detector == "multi":
                    Hm = h @ u[:, occ]  # M x len(sel)
                    base[sel_k] = -Hm.T
                    capt[sel_k] = np.where(Hm > 0, np.log(-np.expm1(-Hm)) - np.log(np.where(Hm > 0, Hm, 1.0)), 0.0).T
                    if len(sel_r):
                        incr[sel_r] = np.log(h[:, s.inc_det[sel_r]]).T
                elif d.detector == "proximity":
                    l1g = -h  # log(1 - g), M x K
                    uo = u[:, occ]  # K x len
                    base[sel_k] = (l1g @ uo).T
                    if len(sel_r):
                        kk = s.inc_det[sel_r]
                        uk = u[kk, s.key_occ[s.inc_key[sel_r]]]
                        lq = l1g[:, kk] * uk[None, :]
                        incr[sel_r] = (np.log(-np.expm1(lq)) - lq).T
                else:  # count
                    base[sel_k] = -(h @ u[:, occ]).T
                    if len(sel_r):
                        incr[sel_r] = np.log(h[:, s.inc_det[sel_r]]).T
            lp = np.empty((self.H, s.n, M))
            for hh in range(self.H):
                v = _safe_matmul(s.A[hh], base)
                if capt is not None:
                    v = v + _safe_matmul(s.C[hh], capt)
                if len(s.inc):
                    v = v + _safe_matmul(s.E[hh][:, :len(s.inc)], incr)
                lp[hh] = v + d.const[:, None]
            log0 = base[s.key0].sum(axis=2)  # G x H x M
        return lp, log0

    def session_loglik(self, s: _Session, beta, want=False):
        d = s.data
        lp, log0 = self.session_terms(s, beta)
        pm = self.pmix(s, beta)
        with np.errstate(divide="ignore"):
            logpm = np.log(pm)
        pdot = -np.expm1(log0)  # G x H x M
        if self.lik == "full":
            Dm = self.density(s, beta)
            lam = float(np.sum(pm[None, :, None] * pdot * Dm[None, None, :]) * s.cell)
            if s.n:
                w = lp + np.log(Dm)[None, None, :]
                mx = w.max(axis=2)
                lse = np.where(np.isfinite(mx), mx + np.log(np.exp(w - np.where(np.isfinite(mx), mx, 0)[:, :, None]).sum(axis=2)), -np.inf) + d.log_cell  # H x n
                t = lse + logpm[:, None]
                if self.H > 1:
                    mask_known = s.known >= 0
                    if np.any(mask_known):
                        t = t.copy()
                        for hh in range(self.H):
                            t[hh, mask_known & (s.known != hh)] = -np.inf
                    per = special.logsumexp(t, axis=0)
                else:
                    per = t[0]
                ll = -lam + float(np.sum(per)) - d.log_mult
            else:
                ll = -lam - d.log_mult
            if want:
                a_h = pdot.sum(axis=2)[0] * s.cell  # H
                return ll, {"esa": float(np.sum(pm * a_h)), "lam": lam}
            return ll
        # conditional
        a_gh = pdot.sum(axis=2) * s.cell  # G x H
        a_g = a_gh @ pm  # G
        if s.n == 0:
            return (0.0, {"a_i": np.zeros(0), "a_g": a_g}) if want else 0.0
        mx = lp.max(axis=2)
        if not np.all(np.isfinite(mx)):
            return (-np.inf, {}) if want else -np.inf
        lse = mx + np.log(np.exp(lp - mx[:, :, None]).sum(axis=2)) + d.log_cell  # H x n
        per = special.logsumexp(lse + logpm[:, None], axis=0)
        a_i = a_g[s.grp]
        ll = d.log_nfact - d.log_mult + float(np.sum(per - np.log(a_i)))
        if want:
            return ll, {"a_i": a_i, "a_g": a_g}
        return ll

    def loglik(self, beta):
        return float(sum(self.session_loglik(s, beta) for s in self.sessions))

    # -- density profiled out (full likelihood, D constant within sessions) --------------------------
    def D_profilable(self):
        if self.lik != "full":
            return False
        dv = self.designs["D"].vars
        if any(self.variables[v].scope == "mask" for v in dv):
            return False
        # one density for all sessions (~1), or one per session (~session, saturated)
        return (not dv) or (dv == ["session"] and self.terms["D"] == [("session",)])

    def profile_D(self, beta_det):
        """(full beta with D at its maximum, profile log-likelihood) given detection betas."""
        beta = np.zeros(self.nbeta)
        mask = np.ones(self.nbeta, bool)
        mask[self.slices["D"]] = False
        beta[mask] = beta_det
        # with D = exp(beta_D) per session: LL_s = -D_s esa_s + n_s log D_s + rest
        esas = []
        for s in self.sessions:
            _, info = self.session_loglik(s, beta, want=True)
            esas.append(info["esa"])
        ns = np.array([s.n for s in self.sessions], float)
        esas = np.array(esas)
        if not self.designs["D"].vars:  # one D: maximises -D sum(esa) + sum(n) log D
            tot_n, tot_a = ns.sum(), esas.sum()
            beta[self.slices["D"]] = [math.log(tot_n / tot_a) if tot_n > 0 and tot_a > 0 else 0.0]
        else:
            Ds = np.where((ns > 0) & (esas > 0), ns / np.where(esas > 0, esas, 1), 1e-12)
            lD = np.log(Ds)
            beta[self.slices["D"]] = np.concatenate([[lD[0]], lD[1:] - lD[0]])
        return beta, self.loglik(beta)


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _start(model: _Model, start):
    """Starting coefficients: intercepts from a null fit of the largest session, others 0."""
    s = max(model.sessions, key=lambda ss: ss.n)
    ch = s.ch
    null = None
    try:
        null = fit_secr(ch.counts, ch.traps, s.mask_xy, s.cell, detector=s.data.detector, detectfn=model.fn,
                        usage=ch.usage, likelihood="full", collapse_occasions=s.data.collapsed)
    except Exception:  # noqa: BLE001 — starting values only
        null = None
    beta = np.zeros(model.nbeta)
    est = null.estimates if (null is not None and null.converged) else {}
    p0 = model.p0
    g0 = (start or {}).get(p0, est.get(p0) or 0.2)
    sig = (start or {}).get("sigma", est.get("sigma") or _rpsv(s.data.counts, np.asarray(ch.traps, float)) or 30.0)
    z = (start or {}).get("z", est.get("z") or 5.0)
    beta[model.slices[p0].start] = math.log(g0) if model.hazard else math.log(g0 / (1 - g0))
    beta[model.slices["sigma"].start] = math.log(sig)
    if "z" in model.slices:
        beta[model.slices["z"].start] = math.log(z)
    if "D" in model.slices:
        D = (start or {}).get("D", est.get("D") or 1.0)
        beta[model.slices["D"].start] = math.log(D)
    if model.h2:  # break the symmetry of the two classes
        cols = model.designs[p0].colnames
        for j, c in enumerate(cols):
            if "h22" in c.split(":"):
                beta[model.slices[p0].start + j] = -1.5
        cols = model.designs["sigma"].colnames
        for j, c in enumerate(cols):
            if "h22" in c.split(":"):
                beta[model.slices["sigma"].start + j] = 0.3
    if model.hcov is not None and "pmix" in model.slices:
        known = np.concatenate([ss.known for ss in model.sessions])
        known = known[known >= 0]
        if len(known):
            props = np.array([(known == h).sum() + 0.5 for h in range(model.H)], float)
            props /= props.sum()
            ncol = len(model.designs["pmix"].colnames)
            for h in range(1, model.H):
                beta[model.slices["pmix"].start + (h - 1) * ncol] = math.log(props[h] / props[0])
    return beta


def _central_grad(f, x, eps=1e-5):
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def _hessian(f, x, rel_step=1e-4):
    k = len(x)
    h = rel_step * np.maximum(1.0, np.abs(x))
    f0 = f(x)
    H = np.empty((k, k))
    fp = np.empty(k)
    fm = np.empty(k)
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        fp[i] = f(x + e)
        fm[i] = f(x - e)
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
    for i in range(k):
        for j in range(i):
            ei = np.zeros(k)
            ei[i] = h[i]
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


def _minimise(fun, x0):
    """BFGS, with a Nelder-Mead + BFGS fallback; convergence judged by the central gradient."""
    res = optimize.minimize(fun, x0, method="BFGS", options={"gtol": 1e-5})
    x = res.x
    msg = f"BFGS: {res.message}"
    grad = _central_grad(fun, x)
    if not np.all(np.isfinite(grad)) or np.max(np.abs(grad)) > 1e-4:
        r1 = optimize.minimize(fun, x if np.isfinite(res.fun) else x0, method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 400 * len(x0),
                                        "maxfev": 600 * len(x0)})
        r2 = optimize.minimize(fun, r1.x, method="BFGS", options={"gtol": 1e-6})
        x = r2.x if r2.fun <= r1.fun + 1e-9 else r1.x
        msg += f"; Nelder-Mead: {r1.message}; BFGS: {r2.message}"
        grad = _central_grad(fun, x)
    ok = bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) <= 1e-3)
    if not ok:
        msg += f"; gradient at optimum {grad}"
    if fun(x) >= 1e49:  # flat at the penalty value: the data are impossible wherever it went
        ok = False
        msg += "; the log-likelihood is -inf at every point tried (the data cannot arise under this model)"
    return x, ok, msg


def _level_rows(model: _Model, p: str):
    """Level combinations of the variables in parameter p's formula (secr predict()'s newdata),
    as (label, per-session context dict) pairs."""
    vars_ = model.designs[p].vars
    axes = []
    for v in vars_:
        var = model.variables[v]
        sc = var.scope
        if v == "session":
            axes.append([(v, j, str(model.session_labels[j])) for j in range(len(model.sessions))])
        elif v == "Session":
            axes.append([(v, float(j), str(model.session_labels[j])) for j in range(len(model.sessions))])
        elif v in ("t", "T"):
            S = model.sessions[0].S
            axes.append([(v, j if v == "t" else float(j), str(j + 1)) for j in range(S)])
        elif var.kind == "factor":
            axes.append([(v, j, _fmt_level(lv)) for j, lv in enumerate(var.levels)])
        elif sc == "mask":
            axes.append([(v, 0.0, "mean")])
        else:  # numeric covariate: at its mean
            if sc == "indiv":
                vals = np.concatenate([np.asarray(s.ch.covariates[v], float) for s in model.sessions
                                       if v in s.ch.covariates])
            else:
                vals = np.concatenate([np.asarray(s.ch.trap_covariates[v], float) for s in model.sessions
                                       if v in s.ch.trap_covariates])
            mval = float(np.nanmean(vals))
            axes.append([(v, mval, f"{mval:.4g}")])
    rows = []
    for combo in itertools.product(*axes) if axes else [()]:
        ctx = {v: np.array([val]) for v, val, _ in combo}
        label = p if not combo else p + "[" + ", ".join(f"{v}={lab}" for v, _, lab in combo) + "]"
        # T and Session use their own labels
        rows.append((label, ctx, {v: lab for v, _, lab in combo}))
    # Session trend shares the session axis with session: drop duplicate combos
    return rows


def _se_untransform(link, beta, se_link):
    """secr's se.untransform; an SE that overflows (a parameter at a boundary) is None."""
    with np.errstate(over="ignore", invalid="ignore"):
        if link == "log":
            v = float(np.exp(beta))
            se = float(v * np.sqrt(np.expm1(se_link ** 2)))
        else:
            v = float(special.expit(beta))
            se = v * (1 - v) * se_link
    return v, (se if math.isfinite(se) else None)


def _inv_link(link, eta):
    with np.errstate(over="ignore"):
        return float(np.exp(eta)) if link == "log" else float(special.expit(eta))


def secr_fit(capthist, mask, model=None, detectfn="HN", likelihood="full", *, hcov=None, start=None,
             collapse_occasions=False, **kw) -> SecrFit:
    """Fit an SECR model to one or several sessions (see module docstring).

    ``capthist`` is a :class:`~pardus.secr.capthist.CaptHist` or a list of them (sessions);
    ``mask`` a :class:`~pardus.secr.mask.Mask`, or a list with one mask per session.
    ``model``: ``None`` (null), a dict ``{"g0": "~b", "D": "~session"}``, or strings ``"g0~b"``.
    ``hcov``: an individual covariate treated as known class membership in the full likelihood
    (secr's ``hcov``; an individual factor in a formula of the full likelihood is taken as such).

    Returns a :class:`~pardus.secr.likelihood.SecrFit`. For formula models its ``estimates``
    (and ``se``, ``lcl``, ``ucl``, ``links``) hold one entry per level combination, e.g.
    ``g0[b=0]``, ``g0[b=1]``, ``D[session=A]``; ``extra["coefficients"]`` holds the
    link-scale coefficients with SEs, ``extra["baseline"]`` the values at the first level of
    every factor (what the mask-buffer check uses).
    """
    spec = parse_model(model)
    chs = _as_list(capthist)
    masks = _as_list(mask)
    if len(masks) == 1 and len(chs) > 1:
        masks = masks * len(chs)
    if len(masks) != len(chs):
        raise ModelError(f"{len(chs)} sessions but {len(masks)} masks. Fix: one mask, or one per session")
    if not spec and len(chs) == 1 and hcov is None:
        ch = chs[0]
        return fit_secr(ch.counts, ch.traps, masks[0].xy, masks[0].area_ha, detector=ch.detector,
                        detectfn=detectfn, usage=ch.usage, likelihood=likelihood, start=start,
                        collapse_occasions=collapse_occasions, **kw)
    return fit_general(chs, masks, spec, detectfn=detectfn, likelihood=likelihood, hcov=hcov, start=start,
                       collapse_occasions=collapse_occasions, **kw)


def fit_general(chs, masks, spec, *, detectfn="HN", likelihood="full", hcov=None, start=None,
                collapse_occasions=False, hessian_rel_step=1e-4) -> SecrFit:
    """The general engine behind :func:`secr_fit` (any formula model, any number of sessions)."""
    model = _Model(chs, masks, spec, detectfn, likelihood, hcov=hcov, collapse=collapse_occasions)
    if model.n == 0:
        raise ModelError("no animals detected in any session: cannot fit an SECR model")
    beta0 = _start(model, start)
    n_eval = [0]

    def negll(beta):
        n_eval[0] += 1
        v = model.loglik(beta)
        return -v if np.isfinite(v) else 1e50

    profile = model.D_profilable()
    if profile:
        dmask = np.ones(model.nbeta, bool)
        dmask[model.slices["D"]] = False

        def negll_det(bd):
            n_eval[0] += 1
            _, v = model.profile_D(bd)
            return -v if np.isfinite(v) else 1e50

        bd, converged, message = _minimise(negll_det, beta0[dmask])
        beta_hat, ll = model.profile_D(bd)
    else:
        beta_hat, converged, message = _minimise(negll, beta0)
        ll = model.loglik(beta_hat)
    Hm = _hessian(negll, beta_hat, hessian_rel_step)
    vcov, hessian_pd = None, False
    if np.all(np.isfinite(Hm)):
        try:
            L = np.linalg.cholesky(0.5 * (Hm + Hm.T))
            Linv = np.linalg.inv(L)
            vcov = Linv.T @ Linv
            hessian_pd = True
        except np.linalg.LinAlgError:
            vcov = None
    n = model.n
    npar = model.nbeta
    aic = -2.0 * ll + 2.0 * npar
    aicc = -2.0 * ll + 2.0 * npar * n / (n - npar - 1) if n - npar - 1 > 0 else float("nan")
    zq = float(norm.ppf(0.975))
    est, se, lcl, ucl, links = {}, {}, {}, {}, {}
    real_rows = []
    baseline = {}
    for p in model._params():
        if p == "pmix":
            _pmix_rows(model, beta_hat, vcov, zq, est, se, lcl, ucl, links, real_rows, baseline)
            continue
        sl = model.slices[p]
        for label, ctx, levels in _level_rows(model, p):
            x = model.designs[p].matrix(ctx, 1)[0]
            eta = float(x @ beta_hat[sl])
            link = LINKS[p]
            sel = vcov[sl, sl] if vcov is not None else None
            s_link = float(math.sqrt(max(x @ sel @ x, 0.0))) if sel is not None else None
            val = _inv_link(link, eta)
            sev = lo = hi = None
            if s_link is not None and s_link > 0:
                _, sev = _se_untransform(link, eta, s_link)
                if sev is not None:
                    lo, hi = _inv_link(link, eta - zq * s_link), _inv_link(link, eta + zq * s_link)
            est[label], se[label], lcl[label], ucl[label], links[label] = val, sev, lo, hi, link
            real_rows.append({"parameter": p, "label": label, "levels": levels, "link": link,
                              "estimate": val, "SE": sev, "lcl": lo, "ucl": hi})
            baseline.setdefault(p, val)
    extra = {"model": dict(spec), "sessions": list(model.session_labels), "engine": "general",
             "coefficients": [], "real": real_rows, "baseline": baseline, "hcov": model.hcov,
             "collapsed": model.collapsed}
    for j, nm in enumerate(model.coef_names()):
        extra["coefficients"].append({"name": nm, "beta": float(beta_hat[j]),
                                      "SE": float(math.sqrt(vcov[j, j])) if vcov is not None and vcov[j, j] > 0 else None})
    esas = []
    for s in model.sessions:
        _, info = model.session_loglik(s, beta_hat, want=True)
        esas.append(info.get("esa", float(np.mean(info["a_g"])) if "a_g" in info else math.nan))
    extra["esa_by_session"] = dict(zip(model.session_labels, map(float, esas)))
    if model.lik == "conditional":
        _derived_D(model, beta_hat, vcov, zq, est, se, lcl, ucl, links, real_rows, baseline, extra)
    order = [k for k in est if k.startswith("D")] + [k for k in est if not k.startswith("D")]
    est = {k: est[k] for k in order}
    if not converged:
        extra["last_iterate"] = dict(est)
        est = dict.fromkeys(est)
        se = dict.fromkeys(est)
        lcl = dict.fromkeys(est)
        ucl = dict.fromkeys(est)
        vcov, hessian_pd = None, False
        ll = aic = aicc = float("nan")
        esas = [float("nan")]
    return SecrFit(detector=model.detector, detectfn=model.fn, likelihood=model.lik, n=n,
                   estimates=est, se={k: se[k] for k in est}, lcl={k: lcl[k] for k in est},
                   ucl={k: ucl[k] for k in est}, links={k: links[k] for k in est}, beta=beta_hat,
                   vcov_beta=vcov, loglik=float(ll), npar=npar, aic=float(aic), aicc=float(aicc),
                   esa_ha=float(np.sum(esas)), converged=converged, hessian_pd=hessian_pd,
                   message=message, n_eval=n_eval[0], extra=extra)


def _pmix_rows(model, beta, vcov, zq, est, se, lcl, ucl, links, real_rows, baseline):
    sl = model.slices["pmix"]
    per_session = bool(model.designs["pmix"].vars)
    sess = model.sessions if per_session else model.sessions[:1]
    for s in sess:
        pm = model.pmix(s, beta)
        eps = 1e-6
        J = np.zeros((model.H, sl.stop - sl.start))
        for j in range(sl.start, sl.stop):
            bp = beta.copy()
            bp[j] += eps
            bm = beta.copy()
            bm[j] -= eps
            J[:, j - sl.start] = (model.pmix(s, bp) - model.pmix(s, bm)) / (2 * eps)
        V = vcov[sl, sl] if vcov is not None else None
        for h in range(model.H):
            lv = model.class_levels[h]
            label = f"pmix[{model.class_var}={_fmt_level(lv)}" + (f", session={s.label}]" if per_session else "]")
            val = float(pm[h])
            if V is not None:
                sev = float(math.sqrt(max(J[h] @ V @ J[h], 0.0)))
                sl_logit = sev / (val * (1 - val)) if 0 < val < 1 else None
                lo = float(special.expit(special.logit(val) - zq * sl_logit)) if sl_logit else None
                hi = float(special.expit(special.logit(val) + zq * sl_logit)) if sl_logit else None
            else:
                sev = lo = hi = None
            est[label], se[label], lcl[label], ucl[label], links[label] = val, sev, lo, hi, "mlogit" if model.H > 2 else "logit"
            real_rows.append({"parameter": "pmix", "label": label, "levels": {model.class_var: _fmt_level(lv)},
                              "link": links[label], "estimate": val, "SE": sev, "lcl": lo, "ucl": hi})
            baseline.setdefault("pmix", val)


def _derived_D(model, beta, vcov, zq, est, se, lcl, ucl, links, real_rows, baseline, extra):
    """secr derived(): D_s = sum_i 1/a_i, var = sum_i 1/a_i^2 + g' V g (g by central differences)."""
    def Ds(b):
        out = []
        for s in model.sessions:
            _, info = model.session_loglik(s, b, want=True)
            out.append(float(np.sum(1.0 / info["a_i"])) if s.n else 0.0)
        return np.array(out)

    D0 = Ds(beta)
    J = np.zeros((len(D0), len(beta)))
    for j in range(len(beta)):
        e = np.zeros(len(beta))
        e[j] = 1e-5
        J[:, j] = (Ds(beta + e) - Ds(beta - e)) / 2e-5
    multi = len(model.sessions) > 1
    for si, s in enumerate(model.sessions):
        _, info = model.session_loglik(s, beta, want=True)
        label = f"D[session={s.label}]" if multi else "D"
        val = float(D0[si])
        if vcov is not None and s.n:
            var = float(np.sum(1.0 / info["a_i"] ** 2) + J[si] @ vcov @ J[si])
            sev = math.sqrt(var)
            C = math.exp(zq * math.sqrt(math.log1p(var / val ** 2)))
            lo, hi = val / C, val * C
        else:
            sev = lo = hi = None
        est[label], se[label], lcl[label], ucl[label], links[label] = val, sev, lo, hi, "log"
        real_rows.append({"parameter": "D", "label": label, "levels": {"session": s.label} if multi else {},
                          "link": "log", "estimate": val, "SE": sev, "lcl": lo, "ucl": hi, "derived": True})
        baseline.setdefault("D", val)
    extra["derived_D"] = True
