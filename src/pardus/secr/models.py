# SPDX-License-Identifier: GPL-3.0-or-later
"""High-level SECR fitting on capture-history and mask objects, with secr-style model formulas.

``secr_fit(capthist, mask, model={"g0": "~b"}, detectfn="HN", likelihood="full")`` is the verb
users call (the Python twin of ``secr.fit``); :func:`pardus.secr.likelihood.fit_secr` is the
array-level engine for the null model.
"""

from __future__ import annotations

from .likelihood import SecrFit, fit_secr

__all__ = ["secr_fit", "parse_model"]


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
        v = v.strip()
        if not v.startswith("~"):
            v = "~" + v
        rhs = v[1:].replace(" ", "")
        if rhs not in ("", "1"):
            out[k.strip()] = "~" + rhs
    return out


def secr_fit(capthist, mask, model=None, detectfn="HN", likelihood="full", **kw) -> SecrFit:
    """Fit an SECR model to one capture history over a habitat mask (see module docstring)."""
    spec = parse_model(model)
    if spec:
        raise NotImplementedError(f"model {spec} not yet supported")
    return fit_secr(capthist.counts, capthist.traps, mask.xy, mask.area_ha, detector=capthist.detector,
                    detectfn=detectfn, usage=capthist.usage, likelihood=likelihood, **kw)
