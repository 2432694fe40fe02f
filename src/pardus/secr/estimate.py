# SPDX-License-Identifier: GPL-3.0-or-later
"""Density estimation from capture files in one call: the Python API behind ``pardus estimate``.

:func:`estimate` reads the capture and detector files (secr's formats, several sessions giving a
list of capture histories), builds the habitat mask (``buffer`` metres around the detectors by
secr's ``make.mask`` rule, or a mask CSV), checks that the mask covers every detector, fits every
combination of model and detection function with :func:`pardus.secr.models.secr_fit`, and
collects what a user reads off secr's output:

* the capture summary (secr's ``summary(capthist)``) per session;
* the parameter table — model, detection function, parameter, estimate, SE and 95 % interval as
  secr's ``predict()`` reports them; density ``D`` in animals per hectare as secr gives it and
  again per 100 km² (1 animal/ha = 10,000 animals/100 km², the unit of leopard surveys);
* the model-selection table as secr's ``AIC(..., criterion = "AICc")`` prints it (logLik, npar,
  AIC, AICc, dAICc, AICc weight; sorted by AICc; weights over the models with dAICc < 10, rounded
  to 4 decimals as secr rounds them); a fit that did not converge is listed as "not converged"
  without numbers, and a fit whose Hessian is not positive definite is flagged (no SEs);
* closed-population estimates of N per session (:func:`pardus.secr.closed.closed_n`, secr's
  ``closedN``);
* the problems: models that were skipped (any exception of the fit, with its message) or did not
  converge.

When the module ``pardus.secr.buffer`` is installed, its ``check_buffer(fit, capthist, mask)``
message is added to each fit (is the buffer wide enough for the fitted detection function?).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .capthist import CaptHist, CaptHistSummary, read_capthist_sessions, summary
from .mask import Mask, MaskError, covers_detectors, make_mask, read_mask_csv

__all__ = [
    "D_PER_100KM2",
    "EstimateError",
    "buffer_hint",
    "EstimateResult",
    "ModelFit",
    "detectfn_name",
    "estimate",
    "parse_model_option",
]

#: animals per 100 km² in one animal per hectare (100 km² = 10,000 ha)
D_PER_100KM2 = 10_000.0
#: secr's dmax: AIC weights only for models within this many units of the best
DMAX = 10.0
DETECTFNS = ("HN", "EX", "HR", "HHN", "HEX", "HHR")
_DETECTFN_ALIASES = {"0": "HN", "1": "HR", "2": "EX", "14": "HHN", "15": "HHR", "16": "HEX",
                     "HALFNORMAL": "HN", "HAZARDRATE": "HR", "EXPONENTIAL": "EX", "HAZARD RATE": "HR",
                     "HALF-NORMAL": "HN", "HAZARD HALFNORMAL": "HHN", "HAZARD EXPONENTIAL": "HEX",
                     "HAZARD HAZARD RATE": "HHR"}
_UNITS = {"D": "animals/ha", "g0": "probability", "sigma": "m", "z": "shape", "lambda0": "hazard"}
_TERM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*~\s*(\S.*?)\s*$")


class EstimateError(ValueError):
    """Options of :func:`estimate` that cannot be used as given (the message says how to fix)."""


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------


def _split_terms(text: str) -> list[str]:
    """Split 'g0~b, sigma~sex' (or with ';') at top-level separators."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch in ",;" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_model_option(model) -> tuple[str, dict[str, str]]:
    """(label, formulas) of one model: ``"null"`` (or ``None``, ``{}``, ``"~1"``) is the null
    model; ``"g0~b"``, ``"g0~b, sigma~sex"`` (``,`` or ``;`` between terms) or a dict
    ``{"g0": "~b"}``. The label is the canonical text, e.g. ``g0~b, sigma~sex``; terms ``~1``
    are dropped (secr's constant). Raises :class:`EstimateError` for text that is not a formula.
    """
    if model is None:
        return "null", {}
    if isinstance(model, Mapping):
        items = [(str(k).strip(), str(v).strip()) for k, v in model.items()]
    else:
        text = str(model).strip()
        if text.lower() in ("null", "", "~1", "1"):
            return "null", {}
        items = []
        for term in _split_terms(text):
            m = _TERM.match(term)
            if not m:
                raise EstimateError(
                    f"model {text!r}: {term!r} is not a formula like 'g0~b' (parameter ~ predictors). "
                    "Fix: write PARAMETER~PREDICTORS, e.g. 'g0~b' or 'sigma~sex', several terms "
                    "separated by ',' — or 'null' for the null model")
            items.append((m.group(1), m.group(2)))
    terms: dict[str, str] = {}
    for k, v in items:
        rhs = v[1:] if v.startswith("~") else v
        rhs = re.sub(r"\s+", "", rhs)
        if not k or not rhs:
            raise EstimateError(f"model term {k}~{v}: empty side. Fix: write e.g. 'g0~b'")
        if rhs == "1":
            continue
        if k in terms and terms[k] != "~" + rhs:
            raise EstimateError(f"model gives {k} twice ({terms[k]} and ~{rhs}). Fix: one formula per parameter")
        terms[k] = "~" + rhs
    if not terms:
        return "null", {}
    return ", ".join(f"{k}{v}" for k, v in terms.items()), terms


def detectfn_name(name) -> str:
    """secr's name of a detection function (``HN``, ``EX``, ``HR``, and the hazard forms ``HHN``,
    ``HEX``, ``HHR`` fitted with lambda0; also secr's codes 0, 1, 2, 14, 15, 16)."""
    key = str(name).strip().upper()
    key = _DETECTFN_ALIASES.get(key, key)
    if key not in DETECTFNS:
        raise EstimateError(f"detection function {name!r} is not available. Fix: use HN "
                            "(half-normal), EX (negative exponential) or HR (hazard rate), or their "
                            "hazard forms HHN, HEX, HHR (intercept lambda0)")
    return key


def _likelihood(likelihood) -> str:
    lk = str(likelihood).strip().lower()
    if lk == "full":
        return "full"
    if lk in ("cl", "conditional"):
        return "conditional"
    raise EstimateError(f"likelihood {likelihood!r}. Fix: use 'full' (secr CL = FALSE) or "
                        "'conditional' (secr CL = TRUE)")


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass
class ModelFit:
    """One (model × detection function) fit, or why it was skipped.

    ``fit`` is the :class:`~pardus.secr.likelihood.SecrFit` (None when skipped, then ``error``
    says why); ``buffer_message`` is the message of ``pardus.secr.buffer.check_buffer`` when
    that module is installed; ``warnings`` are warnings the fit raised.
    """

    model: str
    terms: dict[str, str]
    detectfn: str
    fit: Any = None
    error: str = ""
    buffer_message: str = ""
    buffer_adequate: bool | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.fit is None

    @property
    def converged(self) -> bool:
        return self.fit is not None and bool(getattr(self.fit, "converged", False))

    @property
    def hessian_pd(self) -> bool:
        return self.converged and bool(getattr(self.fit, "hessian_pd", False))

    @property
    def status(self) -> str:
        if self.fit is None:
            return "skipped"
        if not self.converged:
            return "not converged"
        if not self.hessian_pd:
            return "Hessian not positive definite"
        return "ok"

    @property
    def label(self) -> str:
        return f"{self.model} {self.detectfn}"

    def note(self) -> str:
        """Why skipped / not converged, and warnings of the fit (the Hessian flag is in
        ``status``, the buffer check in ``buffer_message``)."""
        parts = []
        if self.fit is None:
            parts.append(self.error)
        elif not self.converged:
            parts.append(str(getattr(self.fit, "message", "")).strip() or "the optimiser did not converge")
        parts += self.warnings
        return "; ".join(p for p in parts if p)


@dataclass
class EstimateResult:
    """What :func:`estimate` returns (see the module docstring).

    ``sessions`` (list of :class:`CaptHist`), ``masks`` (one per session), ``summaries``
    (session → :class:`CaptHistSummary`), ``fits`` (:class:`ModelFit` per model × detectfn,
    in the order asked), ``parameters`` (rows of the parameter table, dicts), ``selection``
    (rows of the model-selection table, sorted as secr's ``AIC()``), ``closed`` (session → list
    of :class:`~pardus.secr.closed.ClosedEstimate`), ``problems`` (skipped or non-converged
    models, one line each) and ``notes`` (other things to know: single-catch traps fitted as
    multi-catch, a Hessian not positive definite, closed-population estimates not computed);
    the buffer check of each fit is in its :class:`ModelFit` and the ``buffer_check`` column.
    """

    sessions: list[CaptHist]
    masks: list[Mask]
    mask_source: str
    buffer: float | None
    nx: int
    detector: str
    likelihood: str
    summaries: dict[str, CaptHistSummary]
    fits: list[ModelFit]
    parameters: list[dict]
    selection: list[dict]
    closed: dict[str, list]
    problems: list[str]
    notes: list[str]
    captures_path: str | None = None
    traps_path: str | None = None
    mask_path: str | None = None

    @property
    def ok(self) -> bool:
        """True when every model was fitted and converged."""
        return not self.problems

    @property
    def multisession(self) -> bool:
        return len(self.sessions) > 1

    def parameter_frame(self):
        """The parameter table with the model-selection columns (the CSV of ``pardus
        estimate``) as a pandas DataFrame, one row per model × detectfn × parameter."""
        return _frame(self.parameters, PARAMETER_COLUMNS)

    def selection_frame(self):
        """The model-selection table as a pandas DataFrame (sorted as secr's ``AIC()``)."""
        return _frame(self.selection, SELECTION_COLUMNS)

    def closed_frame(self):
        import pandas as pd

        rows = [{"session": s, **r.as_dict()} for s, res in self.closed.items() for r in res]
        return pd.DataFrame(rows)


def _frame(rows, columns):
    import pandas as pd

    df = pd.DataFrame(rows, columns=columns)
    for col in ("npar", "rank", "n"):
        if col in df:
            df[col] = df[col].astype("Int64")  # whole numbers, empty where missing
    return df


#: columns of :meth:`EstimateResult.parameter_frame` (the CSV), in order
PARAMETER_COLUMNS = [
    "model", "detectfn", "parameter", "unit", "link", "estimate", "SE", "lcl", "ucl",
    "likelihood", "detector", "n", "esa_ha", "logLik", "npar", "AIC", "AICc", "dAICc", "AICcwt",
    "rank", "status", "note", "buffer_check",
]
SELECTION_COLUMNS = ["rank", "model", "detectfn", "npar", "logLik", "AIC", "AICc", "dAICc", "AICcwt",
                     "n", "esa_ha", "status", "note", "buffer_adequate", "buffer_check"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _is_pathlike(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _num(v) -> float | None:
    """A finite float or None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _base(name: str) -> str:
    """'D' of 'D', 'D[session=2]', 'D.2', 'D:1'; 'g0' of 'g0[b=1]'."""
    m = re.match(r"[A-Za-z][A-Za-z0-9_]*", str(name))
    return m.group(0) if m else str(name)


def _expand(name: str, value):
    """(name, value) pairs: one per element when a fit reports an array for a parameter."""
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) > 0 and np.size(value) != 1:
        return [(f"{name}[{i + 1}]", v) for i, v in enumerate(np.ravel(value))]
    if isinstance(value, np.ndarray):
        value = value.ravel()[0]
    return [(name, value)]


def _values(d: Mapping | None, name: str):
    if not d:
        return None
    return d.get(name)


def _buffer_text(rv) -> str:
    """The message of check_buffer's return value (str, object with .message, tuple, dict)."""
    if rv is None or rv is True:
        return ""
    if isinstance(rv, str):
        return rv.strip()
    msg = getattr(rv, "message", None)
    if msg is not None:
        return str(msg).strip()
    if isinstance(rv, Mapping):
        return str(rv.get("message", "")).strip()
    if isinstance(rv, (tuple, list)):
        return "; ".join(str(x).strip() for x in rv if isinstance(x, str) and x.strip())
    return str(rv).strip()


def _check_buffer_fn():
    """pardus.secr.buffer.check_buffer, or None when the module is not installed."""
    try:
        mod = importlib.import_module("pardus.secr.buffer")
    except ModuleNotFoundError as exc:
        if exc.name in ("pardus.secr.buffer",):
            return None
        raise
    return getattr(mod, "check_buffer", None)


def _read_sessions(captures, traps, detector, fmt, noccasions) -> list[CaptHist]:
    if isinstance(captures, CaptHist):
        return [captures]
    if isinstance(captures, Mapping):
        return list(captures.values())
    if isinstance(captures, (list, tuple)) and captures and all(isinstance(c, CaptHist) for c in captures):
        return list(captures)
    if not _is_pathlike(captures):
        raise EstimateError(f"captures of type {type(captures).__name__}. Fix: give the path of a "
                            "capture file, a CaptHist, or a list/dict of CaptHist")
    if traps is None:
        raise EstimateError(f"{captures}: no detector file. Fix: give traps= (the detector "
                            "layout file 'Detector x y [usage]')")
    if not (_is_pathlike(traps) or (isinstance(traps, (list, tuple)) and all(_is_pathlike(t) for t in traps))):
        raise EstimateError(f"traps of type {type(traps).__name__}. Fix: give the path of a "
                            "detector file, or one path per session")
    out = read_capthist_sessions(captures, traps if _is_pathlike(traps) else list(traps),
                                 detector or "multi", fmt=fmt, noccasions=noccasions)
    return list(out.values())


def _same_layout(a: CaptHist, b: CaptHist) -> bool:
    return a.trap_ids == b.trap_ids and np.array_equal(a.traps, b.traps)


def buffer_hint(sessions: Sequence[CaptHist]) -> str:
    """A hint for the buffer width from the data (RPSV, a rough σ; secr's 4 σ rule), or ''."""
    vals = []
    for ch in sessions:
        try:
            r = summary(ch).RPSV
        except Exception:  # noqa: BLE001 — only a hint
            r = None
        if r is not None and math.isfinite(r):
            vals.append(r)
    if not vals:
        return ""
    r = max(vals)
    return (f" (these data: RPSV {r:.4g} m, a rough σ; secr's rule of thumb is a buffer of about "
            f"4 σ, so about {4 * r:.3g} m)")


# --------------------------------------------------------------------------------------------
# the tables
# --------------------------------------------------------------------------------------------


def _selection(fits: Sequence[ModelFit]) -> tuple[list[dict], dict[int, dict]]:
    """Rows of the AIC table (secr's AIC(criterion = "AICc"), sorted) and the row by fit index."""
    rows = []
    for i, mf in enumerate(fits):
        f = mf.fit
        r = {"model": mf.model, "detectfn": mf.detectfn, "npar": None, "logLik": None, "AIC": None,
             "AICc": None, "dAICc": None, "AICcwt": None, "n": None, "esa_ha": None,
             "status": mf.status, "note": mf.note(), "buffer_adequate": mf.buffer_adequate,
             "buffer_check": mf.buffer_message or None, "rank": None, "_i": i}
        if f is not None:
            r["n"] = getattr(f, "n", None)
        if mf.converged:
            r.update(npar=int(f.npar), logLik=_num(f.loglik), AIC=_num(f.aic), AICc=_num(f.aicc),
                     esa_ha=_num(getattr(f, "esa_ha", None)))
        rows.append(r)
    ranked = [r for r in rows if r["AICc"] is not None]
    if ranked:
        best = min(r["AICc"] for r in ranked)
        for r in ranked:
            r["dAICc"] = r["AICc"] - best
        ok = [r for r in ranked if abs(r["dAICc"]) < DMAX]
        total = sum(math.exp(-r["dAICc"] / 2) for r in ok)
        for r in ranked:
            r["AICcwt"] = round(math.exp(-r["dAICc"] / 2) / total, 4) if abs(r["dAICc"]) < DMAX else 0.0
    order = sorted(ranked, key=lambda r: (r["AICc"], r["_i"]))
    for k, r in enumerate(order, start=1):
        r["rank"] = k
    rest = [r for r in rows if r["AICc"] is None]
    # fits without a criterion after the ranked ones: not converged, then skipped, in given order
    rest.sort(key=lambda r: (r["status"] == "skipped", r["_i"]))
    table = order + rest
    by_index = {r["_i"]: r for r in table}
    for r in table:
        r.pop("_i")
    return table, by_index


def _parameter_rows(fits: Sequence[ModelFit], sel_by_index: Mapping[int, dict]) -> list[dict]:
    rows = []
    sel_keys = ("n", "esa_ha", "logLik", "npar", "AIC", "AICc", "dAICc", "AICcwt", "rank", "status", "note",
                "buffer_check")
    order = sorted(range(len(fits)), key=lambda i: (sel_by_index[i]["rank"] is None,
                                                   sel_by_index[i]["rank"] or 0, i))
    for i in order:
        mf = fits[i]
        sel = {k: sel_by_index[i][k] for k in sel_keys}
        f = mf.fit
        common = {"model": mf.model, "detectfn": mf.detectfn,
                  "likelihood": getattr(f, "likelihood", None), "detector": getattr(f, "detector", None)}
        if f is None:
            rows.append({**common, "parameter": None, "unit": None, "link": None, "estimate": None,
                         "SE": None, "lcl": None, "ucl": None, **sel})
            continue
        derived = bool((getattr(f, "extra", None) or {}).get("derived_D"))
        for pname, pval in (f.estimates or {}).items():
            for name, est in _expand(pname, pval):
                sub = name[len(pname):]

                def pick(d, _p=pname, _sub=sub):
                    v = _values(d, _p)
                    if v is None:
                        return None
                    pairs = _expand(_p, v)
                    for nm, val in pairs:
                        if nm == _p + _sub:
                            return _num(val)
                    return None

                base = _base(name)
                link = (f.links or {}).get(pname)
                vals = {"estimate": _num(est), "SE": pick(f.se), "lcl": pick(f.lcl), "ucl": pick(f.ucl)}
                if not mf.converged:
                    vals = dict.fromkeys(vals)
                note = sel["note"]
                if base == "D" and derived:
                    note = "; ".join(x for x in ("derived D = n / a (secr derived())", note) if x)
                rows.append({**common, "parameter": name, "unit": _UNITS.get(base, ""), "link": link,
                             **vals, **{**sel, "note": note}})
                if base == "D":
                    scaled = {k: (None if v is None else v * D_PER_100KM2) for k, v in vals.items()}
                    rows.append({**common, "parameter": name.replace("D", "D_100km2", 1),
                                 "unit": "animals/100km2", "link": link, **scaled, **{**sel, "note": note}})
    return rows


# --------------------------------------------------------------------------------------------
# the verb
# --------------------------------------------------------------------------------------------


def estimate(captures, traps=None, *, detector=None, buffer=None, mask=None, nx: int = 64,
             models=("null",), detectfns=("HN",), likelihood: str = "full", closed: bool = True,
             fmt: str = "trapID", noccasions=None, hcov: str | None = None,
             progress=None) -> EstimateResult:
    """Read, build the mask, fit every model × detection function, and tabulate (module docstring).

    Parameters
    ----------
    captures : capture file (secr's ``Session ID Occasion Detector`` text or CSV), or an
        already-read :class:`CaptHist`, a list or dict of them (several sessions).
    traps : detector file, or one per session (ignored when ``captures`` is read already).
    detector : ``multi``, ``single``, ``proximity`` or ``count`` (default ``multi``, as secr's
        ``read.capthist``).
    buffer : metres around the detectors: the mask is ``make.mask(traps, buffer, nx,
        type = "trapbuffer")`` of each session. Or give
    mask : a mask CSV (``x,y``; secr's ``write.mask``), a :class:`Mask`, or one per session.
    nx : cells across the mask's frame (secr's ``nx``; with ``buffer``).
    models : model formulas, each ``"null"``, ``"g0~b"``, ``"g0~b, sigma~sex"`` or a dict.
    detectfns : detection functions ``HN``, ``EX``, ``HR`` (g0) or ``HHN``, ``HEX``, ``HHR``
        (lambda0); every model is fitted with each.
    likelihood : ``"full"`` (secr ``CL = FALSE``) or ``"conditional"`` (``CL = TRUE``).
    closed : also the closed-population estimates of N of each session (secr's ``closedN``).
    fmt, noccasions : passed to :func:`~pardus.secr.capthist.read_capthist_sessions`.
    hcov : an individual covariate (e.g. ``sex``) taken as known class membership in the full
        likelihood, as secr's ``hcov`` (:func:`~pardus.secr.models.secr_fit`); a text-valued
        individual covariate in a formula is taken as such without it.
    progress : optional callable ``progress(done, total, label)``: once with ``done = 0`` when the
        data and the mask are ready, then after each fit.

    Raises :class:`~pardus.secr.capthist.CaptureDataError` (a capture or detector file that
    cannot be read), :class:`~pardus.secr.mask.MaskError` (a mask that cannot be built or read,
    or does not cover the detectors) and :class:`EstimateError` (options). A model that cannot
    be fitted does not raise: it is listed in ``problems`` and the others are fitted.
    """
    from .models import secr_fit

    lik = _likelihood(likelihood)
    if isinstance(models, (str, Mapping)) or models is None:
        models = [models]
    parsed = []
    for m in models:
        label, terms = parse_model_option(m)
        if label not in [p[0] for p in parsed]:
            parsed.append((label, terms))
    if not parsed:
        parsed = [("null", {})]
    if isinstance(detectfns, str):
        detectfns = [detectfns]
    fns = list(dict.fromkeys(detectfn_name(d) for d in (detectfns or ["HN"])))
    if buffer is not None and mask is not None:
        raise EstimateError("both a buffer and a mask were given. Fix: give buffer= (the mask is "
                            "built around the detectors) or mask= (a mask file), not both")
    if not (isinstance(nx, (int, np.integer)) and not isinstance(nx, bool) and nx >= 1):
        raise EstimateError(f"nx = {nx!r}. Fix: give a whole number of mask cells across (>= 1), e.g. 64")

    sessions = _read_sessions(captures, traps, detector, fmt, noccasions)
    if not sessions:
        raise EstimateError("no sessions. Fix: give capture data with at least one detection")
    declared = sessions[0].detector

    # the mask(s)
    mask_path = None
    if mask is None:
        if buffer is None:
            raise EstimateError("no habitat mask: give buffer= (metres around the detectors, mask "
                                "built by secr's make.mask rule) or mask= (a mask CSV)"
                                + buffer_hint(sessions))
        b = _num(buffer)
        if b is None or b <= 0:
            raise MaskError(f"buffer = {buffer!r}. Fix: give the buffer width in metres, > 0 "
                            "(secr's rule of thumb: about 4 σ)")
        masks: list[Mask] = []
        for k, ch in enumerate(sessions):
            prev = next((masks[j] for j in range(k) if _same_layout(sessions[j], ch)), None)
            masks.append(prev if prev is not None else make_mask(ch, buffer=b, nx=int(nx), type="trapbuffer"))
        mask_source = f"make.mask(traps, buffer = {b:g}, nx = {int(nx)}, type = \"trapbuffer\")"
        buffer_used = b
    else:
        if isinstance(mask, Mask):
            mlist = [mask]
        elif _is_pathlike(mask):
            mask_path = str(mask)
            if not Path(mask).exists():
                raise MaskError(f"{mask}: no such mask file. Fix: give the path of a mask CSV "
                                "with columns x,y (metres), as secr's write.mask writes it")
            mlist = [read_mask_csv(mask)]
        elif isinstance(mask, (list, tuple)):
            mlist = [m if isinstance(m, Mask) else read_mask_csv(m) for m in mask]
            mask_path = ", ".join(str(m) for m in mask if _is_pathlike(m)) or None
        else:
            raise EstimateError(f"mask of type {type(mask).__name__}. Fix: give a mask CSV path or a Mask")
        if len(mlist) == 1:
            masks = mlist * len(sessions)
        elif len(mlist) == len(sessions):
            masks = mlist
        else:
            raise MaskError(f"{len(mlist)} masks for {len(sessions)} sessions. Fix: give one mask, "
                            "or one per session")
        mask_source = f"mask file {mask_path}" if mask_path else "mask given"
        buffer_used = None
    for ch, m in zip(sessions, masks):
        try:
            covers_detectors(m, ch)
        except MaskError as exc:
            where = f"{mask_path}: " if mask_path else ""
            sess = f" (session {ch.session})" if len(sessions) > 1 else ""
            raise MaskError(f"{where}{exc}{sess}") from None

    summaries = {ch.session: summary(ch) for ch in sessions}
    notes: list[str] = []
    if declared == "single":
        notes.append("detector 'single' (single-catch traps) is fitted with the multi-catch "
                     "likelihood, as secr.fit does (with a warning there)")

    ch_arg = sessions[0] if len(sessions) == 1 else list(sessions)
    mask_arg = masks[0] if len(sessions) == 1 else list(masks)
    check = _check_buffer_fn()

    fits: list[ModelFit] = []
    total = len(parsed) * len(fns)
    if progress is not None:
        progress(0, total, "")
    for label, terms in parsed:
        for fn in fns:
            mf = ModelFit(model=label, terms=dict(terms), detectfn=fn)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    mf.fit = secr_fit(ch_arg, mask_arg, model=terms or None, detectfn=fn, likelihood=lik,
                                       hcov=hcov)
                except (KeyboardInterrupt, MemoryError):
                    raise
                except Exception as exc:  # noqa: BLE001 — any failure of one model skips that model
                    text = str(exc).strip() or type(exc).__name__
                    mf.error = f"{type(exc).__name__}: {text}" if isinstance(exc, (NotImplementedError, TypeError, AttributeError, KeyError, IndexError)) else text
            seen = set()
            for w in caught:
                if issubclass(w.category, (RuntimeWarning, DeprecationWarning, PendingDeprecationWarning)):
                    continue
                msg = str(w.message).strip()
                if msg and msg not in seen:
                    seen.add(msg)
                    mf.warnings.append(msg)
            if check is not None and mf.converged:
                try:
                    rv = check(mf.fit, ch_arg, mask_arg)
                    mf.buffer_message = _buffer_text(rv)
                    ok = getattr(rv, "adequate", None)
                    mf.buffer_adequate = None if ok is None else bool(ok)
                except Exception as exc:  # noqa: BLE001 — the check is advisory
                    mf.buffer_message = f"buffer check failed: {exc}"
            fits.append(mf)
            if progress is not None:
                progress(len(fits), total, mf.label)

    problems = []
    for mf in fits:
        if mf.skipped:
            problems.append(f"model {mf.model} ({mf.detectfn}) was skipped: {mf.error}")
        elif not mf.converged:
            problems.append(f"model {mf.model} ({mf.detectfn}) did not converge: {mf.note()}")
    for mf in fits:
        if mf.converged and not mf.hessian_pd:
            notes.append(f"model {mf.model} ({mf.detectfn}): Hessian not positive definite — "
                         "estimates without standard errors or intervals")

    selection, by_index = _selection(fits)
    parameters = _parameter_rows(fits, by_index)

    closed_res: dict[str, list] = {}
    if closed:
        from .closed import closed_n

        for ch in sessions:
            try:
                with np.errstate(all="ignore"):
                    closed_res[ch.session] = closed_n(ch.counts)
            except ValueError as exc:
                notes.append(f"closed-population estimates of session {ch.session} not computed: {exc}")

    return EstimateResult(
        sessions=list(sessions), masks=list(masks), mask_source=mask_source, buffer=buffer_used,
        nx=int(nx), detector=declared, likelihood=lik, summaries=summaries, fits=fits,
        parameters=parameters, selection=selection, closed=closed_res, problems=problems,
        notes=notes, captures_path=str(captures) if _is_pathlike(captures) else None,
        traps_path=(str(traps) if _is_pathlike(traps) else None) if traps is not None else None,
        mask_path=mask_path,
    )
