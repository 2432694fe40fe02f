# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report of `pardus estimate`: one self-contained page (figures embedded as PNG,
the house style sheet inline) of a :class:`pardus.secr.estimate.EstimateResult`.

Figures: the detections on the detector layout (each animal's detections joined by lines, the
mask faint behind), the fitted detection functions g(d) with 95 % bands, the habitat mask with
its buffer, and the density estimates per model (per 100 km²) beside the closed-population
estimates of N. Tables as the command prints them, and a short methods paragraph.

:func:`secr_report_html` renders the page; :func:`write_secr_report` writes it atomically.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from .figures import _RC, SCENARIO_PALETTE, FigureSpec, _new_figure, _render, mpl, plain
from .html import esc, fmt_num

__all__ = [
    "detections_figure",
    "detection_function_figure",
    "mask_figure",
    "estimates_figure",
    "secr_figures",
    "secr_report_html",
    "write_secr_report",
]

MINUS = "\u2212"
DASH = "—"
MAX_MAP_PANELS = 6
_BAND_DRAWS = 2000


# --------------------------------------------------------------------------- formatting


def _sig(x, digits: int = 4) -> str:
    """A readable number: thousands separated above 1,000, else ``digits`` significant digits."""
    if x is None:
        return DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return DASH
    if not math.isfinite(v):
        return DASH
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif v == 0:
        s = "0"
    else:
        s = f"{v:#.{digits}g}".rstrip(".")
        if "e" in s:
            s = f"{v:.{digits - 1}e}"
    return s.replace("-", MINUS)


def _ci(lo, hi, digits: int = 4) -> str:
    if lo is None or hi is None:
        return DASH
    return f"{_sig(lo, digits)} – {_sig(hi, digits)}"


def _f(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------- geometry


def _km(result) -> bool:
    """Draw maps in km when the layout spans more than 5 km."""
    xy = np.vstack([m.xy for m in result.masks] + [s.traps for s in result.sessions])
    return float(np.ptp(xy, axis=0).max()) > 5000.0


def _mask_raster(mask, scale: float):
    """(image, extent) of the mask cells: 1 inside, NaN outside."""
    xy = np.asarray(mask.xy, float)
    s = float(mask.spacing)
    x0, y0 = xy[:, 0].min(), xy[:, 1].min()
    ix = np.rint((xy[:, 0] - x0) / s).astype(int)
    iy = np.rint((xy[:, 1] - y0) / s).astype(int)
    img = np.full((iy.max() + 1, ix.max() + 1), np.nan)
    img[iy, ix] = 1.0
    extent = ((x0 - s / 2) / scale, (x0 + (ix.max() + 0.5) * s) / scale,
              (y0 - s / 2) / scale, (y0 + (iy.max() + 0.5) * s) / scale)
    return img, extent


def _detection_order(ch, i: int) -> np.ndarray:
    c = np.asarray(ch.counts[i])
    s_idx, k_idx = np.nonzero(c)
    return np.repeat(k_idx, c[s_idx, k_idx].astype(int))


def _usage_kind(ch):
    """Per detector: 'used', 'partly' (unused on some occasions) or 'unused'."""
    K = len(ch.trap_ids)
    if ch.usage is None:
        return np.array(["used"] * K)
    u = np.asarray(ch.usage) > 0
    return np.where(u.all(axis=1), "used", np.where(u.any(axis=1), "partly", "unused"))


def _map_axes(ax, km: bool) -> None:
    unit = "km" if km else "m"
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_aspect("equal")
    ax.grid(False)


# --------------------------------------------------------------------------- figures


def detections_figure(result) -> FigureSpec:
    """Detector layout with each animal's detections joined by lines, mask faint behind."""
    sessions = result.sessions[:MAX_MAP_PANELS]
    n = len(sessions)
    ncols = 1 if n == 1 else 2
    nrows = int(math.ceil(n / ncols))
    km = _km(result)
    scale = 1000.0 if km else 1.0
    cmap = mpl.colormaps["tab20"]
    with mpl.rc_context(_RC):
        fig = _new_figure(7.6 if n == 1 else 10.5, (6.4 if n == 1 else 4.6 * nrows) + 0.4)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        handles = {}
        for ax, ch, mask in zip(axes, sessions, result.masks):
            img, extent = _mask_raster(mask, scale)
            ax.imshow(img, extent=extent, origin="lower", cmap=mpl.colors.ListedColormap(["#e9eef2"]),
                      interpolation="nearest", zorder=0)
            handles["mask"] = mpl.patches.Patch(color="#e9eef2", label="habitat mask")
            txy = np.asarray(ch.traps, float) / scale
            kind = _usage_kind(ch)
            used = kind == "used"
            h = ax.scatter(txy[used, 0], txy[used, 1], marker="s", s=9, facecolor="white",
                           edgecolor="#555555", linewidths=0.7, zorder=2, label="detector")
            handles["detector"] = h
            if (kind == "partly").any():
                p = kind == "partly"
                handles["partly"] = ax.scatter(txy[p, 0], txy[p, 1], marker="s", s=9, facecolor="#f2c14e",
                                               edgecolor="#8a6d1d", linewidths=0.7, zorder=2,
                                               label="detector, unused on some occasions")
            if (kind == "unused").any():
                q = kind == "unused"
                handles["unused"] = ax.scatter(txy[q, 0], txy[q, 1], marker="x", s=22, color="#c0392b",
                                               linewidths=1.1, zorder=2, label="detector never used")
            for i in range(ch.counts.shape[0]):
                k = _detection_order(ch, i)
                if not len(k):
                    continue
                col = cmap(i % 20)
                pts = txy[k]
                if len(k) > 1:
                    ax.plot(pts[:, 0], pts[:, 1], color=col, lw=1.1, alpha=0.85, zorder=3)
                ax.scatter(pts[:, 0], pts[:, 1], s=16, color=col, edgecolor="#222222", linewidths=0.3, zorder=4)
            handles["animal"] = mpl.lines.Line2D([], [], color=cmap(0), lw=1.1, marker="o", ms=4,
                                                 markeredgecolor="#222222", markeredgewidth=0.3,
                                                 label="one animal's detections (in time order)")
            title = f"{ch.n} animals, {ch.ndetections} detections, {ch.ndetectors} detectors, {ch.noccasions} occasions"
            if result.multisession:
                title = f"session {ch.session}: " + title
            ax.set_title(plain(title, 70))
            _map_axes(ax, km)
        for ax in axes[n:]:
            ax.set_visible(False)
        order = [k for k in ("detector", "partly", "unused", "animal", "mask") if k in handles]
        fig.legend([handles[k] for k in order], [handles[k].get_label() for k in order],
                   loc="outside lower center", ncols=min(3, len(order)), frameon=False)
        png = _render(fig)
    more = (f" Only the first {MAX_MAP_PANELS} of {len(result.sessions)} sessions are drawn."
            if len(result.sessions) > MAX_MAP_PANELS else "")
    caption = ("Detectors (squares) and the detections of each animal, joined by lines in the order "
               "of the occasions (one colour per animal; colours repeat after 20 animals). A line is "
               "an animal's movement between detections, not its path. The habitat mask is shaded "
               "behind." + more)
    if any((_usage_kind(s) != "used").any() for s in result.sessions):
        caption += " Detectors never used are marked ×; those unused on some occasions are yellow."
    return FigureSpec("secr-detections", "Detections", caption, png)


def _null_band(fit, d, fn, rng):
    """Pointwise 2.5 % and 97.5 % of g(d) over draws of the link-scale parameters, for a
    null model (beta = [log D,] logit g0 or log lambda0, log sigma [, log z]); None when not
    possible."""
    from ..secr.likelihood import detection_function, first_param, is_hazard, needs_z

    vc = getattr(fit, "vcov_beta", None)
    beta = getattr(fit, "beta", None)
    if vc is None or beta is None or not getattr(fit, "hessian_pd", False):
        return None
    extra = getattr(fit, "extra", None) or {}
    names = [p for p in fit.estimates if not (p == "D" and extra.get("derived_D"))]
    p0 = first_param(fn)
    expected = (["D"] if "D" in names else []) + [p0, "sigma"] + (["z"] if needs_z(fn) else [])
    beta = np.asarray(beta, float)
    vc = np.asarray(vc, float)
    if names != expected or len(beta) != len(names) or vc.shape != (len(names), len(names)):
        return None
    try:
        draws = rng.multivariate_normal(beta, vc, size=_BAND_DRAWS, method="cholesky")
    except (np.linalg.LinAlgError, ValueError):
        return None
    j = {p: names.index(p) for p in names}
    g0 = np.exp(draws[:, j[p0]]) if is_hazard(fn) else 1.0 / (1.0 + np.exp(-draws[:, j[p0]]))
    sig = np.exp(draws[:, j["sigma"]])
    z = np.exp(draws[:, j["z"]]) if needs_z(fn) else None
    with np.errstate(all="ignore"):
        g = np.vstack([detection_function(d, g0[i], sig[i], None if z is None else z[i], fn)
                       for i in range(_BAND_DRAWS)])
    return np.nanquantile(g, 0.025, axis=0), np.nanquantile(g, 0.975, axis=0)


def _param(est: dict, base: str):
    if base in est:
        return _f(est[base])
    for k, v in est.items():
        if str(k).startswith(base) and not str(k)[len(base):len(base) + 1].isalnum():
            return _f(v)
    return None


def detection_function_figure(result) -> FigureSpec | None:
    """g(d) of each converged fit (95 % band for null models), distance in metres; for the
    hazard forms (HHN, HEX, HHR) the detection probability g(d) = 1 - exp(-lambda(d))."""
    from ..secr.likelihood import detection_function, first_param, needs_z

    fits = _ranked_fits(result)
    curves = []
    for mf in fits:
        est = mf.fit.estimates or {}
        g0, sigma, z = _param(est, first_param(mf.detectfn)), _param(est, "sigma"), _param(est, "z")
        if g0 is None or sigma is None or (needs_z(mf.detectfn) and z is None):
            continue
        curves.append((mf, g0, sigma, z))
    if not curves:
        return None
    # far enough that every curve has fallen below 0.5 % of its g0 (and past the buffer, if near)
    probe = np.linspace(0.0, 12.0 * max(c[2] for c in curves), 2400)
    reach = []
    for mf, g0, sigma, z in curves:
        with np.errstate(all="ignore"):
            gp = detection_function(probe, g0, sigma, z, mf.detectfn)
        below = np.flatnonzero(gp < 0.005 * gp[0])
        reach.append(probe[below[0]] if below.size else probe[-1])
    dmax = 1.1 * max(reach)
    edge = result.buffer if result.buffer is not None else _mask_reach(result)
    if edge is not None and edge < 2.0 * dmax:
        dmax = max(dmax, 1.1 * edge)
    d = np.linspace(0.0, dmax, 240)
    rng = np.random.default_rng(20240521)
    banded = 0
    with mpl.rc_context(_RC):
        fig = _new_figure(7.6, 4.4)
        ax = fig.subplots()
        for idx, (mf, g0, sigma, z) in enumerate(curves):
            col = SCENARIO_PALETTE[idx % len(SCENARIO_PALETTE)]
            with np.errstate(all="ignore"):
                g = detection_function(d, g0, sigma, z, mf.detectfn)
            band = _null_band(mf.fit, d, mf.detectfn, rng)
            if band is not None:
                ax.fill_between(d, band[0], band[1], color=col, alpha=0.14, lw=0)
                banded += 1
            ax.plot(d, g, color=col, lw=2.0, label=plain(f"{mf.model} {mf.detectfn}: {first_param(mf.detectfn)} = {g0:.3g}, "
                                                            f"σ = {sigma:.3g} m"
                                                            + (f", z = {z:.3g}" if z is not None and needs_z(mf.detectfn) else "")))
        if edge is not None and edge <= dmax:
            ax.axvline(edge, color="#555555", ls="--", lw=1.0)
            text = f"mask buffer {edge:g} m" if result.buffer is not None else f"mask edge, {edge:.4g} m"
            ax.annotate(text, (edge, 0.97), xycoords=("data", "axes fraction"),
                        xytext=(-4, 0), textcoords="offset points", ha="right", va="top", fontsize=9, color="#555555")
        ax.set_xlim(0, dmax)
        ax.set_ylim(0, None)
        ax.set_xlabel("distance between activity centre and detector, d (m)")
        ax.set_ylabel("detection probability per occasion, g(d)")
        leg = ax.legend(loc="upper right" if edge is None or edge > dmax else "center right",
                        frameon=True, framealpha=0.95, edgecolor="none")
        leg.set_zorder(5)
        png = _render(fig)
    caption = ("Fitted detection functions: the probability that a detector at distance d from an animal's "
               "activity centre detects it on one occasion, for each converged model.")
    if banded:
        caption += (" The shaded bands are pointwise 95 % intervals from 2,000 draws of the link-scale "
                    "parameters (normal with the fit's inverse-Hessian covariance).")
    if banded < len(curves):
        caption += " Models without a band have no usable covariance (or covariate terms): curve only."
    if len(curves) < len(fits):
        caption += " Models with covariates on g0 or σ are drawn at their first level."
    return FigureSpec("secr-detection-function", "Detection function", caption, png)


def _mask_reach(result) -> float | None:
    """Largest distance (m) from a point of the first mask to its nearest detector."""
    from ..secr.mask import _distance_to_nearest  # noqa: PLC2701

    try:
        return float(_distance_to_nearest(np.asarray(result.masks[0].xy, float),
                                          np.asarray(result.sessions[0].traps, float)).max())
    except (ValueError, IndexError):
        return None


def mask_figure(result) -> FigureSpec:
    """The habitat mask of the first session with the detectors and the buffer width."""
    ch, mask = result.sessions[0], result.masks[0]
    km = _km(result)
    scale = 1000.0 if km else 1.0
    from ..secr.mask import _distance_to_nearest  # noqa: PLC2701 — same package family

    dist = _distance_to_nearest(np.asarray(mask.xy, float), np.asarray(ch.traps, float))
    with mpl.rc_context(_RC):
        fig = _new_figure(7.6, 6.6)
        ax = fig.subplots()
        img, extent = _mask_raster(mask, scale)
        xy = np.asarray(mask.xy, float)
        # colour the cells by their distance to the nearest detector
        s = float(mask.spacing)
        x0, y0 = xy[:, 0].min(), xy[:, 1].min()
        ix = np.rint((xy[:, 0] - x0) / s).astype(int)
        iy = np.rint((xy[:, 1] - y0) / s).astype(int)
        dimg = np.full(img.shape, np.nan)
        dimg[iy, ix] = dist / scale
        greens = mpl.colors.ListedColormap(mpl.colormaps["Greens"](np.linspace(0.7, 0.12, 256)))
        im = ax.imshow(dimg, extent=extent, origin="lower", cmap=greens, interpolation="nearest",
                       vmin=0, vmax=max(float(dist.max()) / scale, 1e-9), zorder=0)
        unit = "km" if km else "m"
        fig.colorbar(im, ax=ax, shrink=0.8, label=f"distance to the nearest detector ({unit})")
        txy = np.asarray(ch.traps, float) / scale
        ax.scatter(txy[:, 0], txy[:, 1], marker="s", s=9, facecolor="white", edgecolor="#333333",
                   linewidths=0.7, zorder=2, label="detector")
        # the buffer as a dimension line from the right-most detector towards the mask edge
        width = result.buffer if result.buffer is not None else float(dist.max())
        k = int(np.argmax(np.asarray(ch.traps, float)[:, 0]))
        x1, y1 = txy[k]
        ax.annotate("", xy=(x1 + width / scale, y1), xytext=(x1, y1),
                    arrowprops=dict(arrowstyle="<->", color="#1d1d1f", lw=1.2, shrinkA=0, shrinkB=0), zorder=3)
        ax.annotate(f"buffer {width:,.4g} m" if result.buffer is not None else f"{width:,.4g} m",
                    (x1 + width / scale / 2, y1), xytext=(0, 5), textcoords="offset points", ha="center",
                    va="bottom", fontsize=9, color="#1d1d1f", zorder=3)
        if result.buffer is not None:
            title = (f"mask: {len(mask):,} points, spacing {s:.4g} m, buffer {result.buffer:g} m")
        else:
            title = (f"mask: {len(mask):,} points, spacing {s:.4g} m, up to {dist.max():.4g} m from a detector")
        ax.set_title(plain(title, 80))
        fig.legend(loc="outside lower center", frameon=False)
        _map_axes(ax, km)
        pad = 0.04 * max(extent[1] - extent[0], extent[3] - extent[2])
        ax.set_xlim(extent[0] - pad, extent[1] + pad)
        ax.set_ylim(extent[2] - pad, extent[3] + pad)
        png = _render(fig)
    area = len(mask) * mask.area_ha
    caption = (f"The habitat mask: {len(mask):,} cells of {s:.4g} m × {s:.4g} m ({mask.area_ha:.4g} ha each, "
               f"{area:,.1f} ha = {area / 100:,.2f} km² in all), shaded by the distance to the nearest detector. "
               "Activity centres are integrated over these cells; the mask must extend far enough that an animal "
               "centred at its edge is almost never detected.")
    if result.multisession:
        caption += " Drawn for the first session."
    return FigureSpec("secr-mask", "Habitat mask", caption, png)


def _ranked_fits(result):
    """Converged fits in the order of the model-selection table."""
    order = {(r["model"], r["detectfn"]): r["rank"] for r in result.selection}
    fits = [mf for mf in result.fits if mf.converged]
    return sorted(fits, key=lambda mf: order.get((mf.model, mf.detectfn)) or 10**9)


def _density_rows(result):
    """(label, estimate, lcl, ucl) per 100 km² of each fit's D (and per-session D terms)."""
    rows = []
    for r in result.parameters:
        if r["parameter"] and str(r["parameter"]).startswith("D_100km2"):
            label = f"{r['model']} {r['detectfn']}" + (str(r["parameter"])[len("D_100km2"):] or "")
            rows.append((label, r["estimate"], r["lcl"], r["ucl"], r["status"], r["rank"]))
    return rows


def estimates_figure(result) -> FigureSpec | None:
    """Forest plot of D per 100 km² per model, and the closed-population N beside it."""
    rows = _density_rows(result)
    closed = [(s, e) for s, res in result.closed.items() for e in res]
    if not rows and not closed:
        return None
    ncols = 2 if closed and rows else 1
    with mpl.rc_context(_RC):
        h = max(2.6, 0.42 * max(len(rows), len(closed)) + 1.4)
        fig = _new_figure(10.5 if ncols == 2 else 7.0, h)
        axes = np.atleast_1d(fig.subplots(1, ncols, squeeze=False)).ravel()
        ai = 0
        if rows:
            ax = axes[ai]
            ai += 1
            y = np.arange(len(rows))[::-1]
            for yy, (label, est, lo, hi, status, rank) in zip(y, rows):
                col = SCENARIO_PALETTE[(rank - 1) % len(SCENARIO_PALETTE)] if rank else "#888888"
                if est is None:
                    ax.text(0.02, yy, status, transform=mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData),
                            va="center", fontsize=9, color="#a33")
                    continue
                if lo is not None and hi is not None:
                    ax.errorbar(est, yy, xerr=[[est - lo], [hi - est]], fmt="o", color=col, ms=6, capsize=3, lw=1.6)
                else:
                    ax.plot(est, yy, "o", color=col, ms=6)
            ax.set_yticks(y, [plain(r[0], 28) for r in rows])
            ax.set_xlabel("density D (animals per 100 km²), 95 % interval")
            ax.set_title("SECR density by model")
            ax.set_ylim(-0.7, len(rows) - 0.3)
            ax.grid(axis="y", visible=False)
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"))
            for yy, (label, est, lo, hi, status, rank) in zip(y, rows):
                sel = next((r for r in result.selection if r["rank"] == rank), None) if rank else None
                if est is not None and sel is not None and sel["dAICc"] is not None:
                    ax.annotate(f"ΔAICc {sel['dAICc']:.1f}", (est, yy), xytext=(0, 7), textcoords="offset points",
                                ha="center", va="bottom", fontsize=8, color="#555555")
        if closed:
            ax = axes[ai]
            y = np.arange(len(closed))[::-1]
            labels = []
            mt1 = {}
            for yy, (sess, e) in zip(y, closed):
                lab = f"{e.estimator} ({e.model})" + (f" · {sess}" if result.multisession else "")
                labels.append(lab)
                mt1.setdefault(sess, []).append(yy)
                est, lo, hi = _f(e.Nhat), _f(e.lclNhat), _f(e.uclNhat)
                col = "#0072B2" if e.converged else "#999999"
                if est is None:
                    ax.text(0.02, yy, "not estimable", transform=mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData),
                            va="center", fontsize=9, color="#777")
                    continue
                if lo is not None and hi is not None:
                    ax.errorbar(est, yy, xerr=[[max(est - lo, 0)], [max(hi - est, 0)]], fmt="s", color=col, ms=5, capsize=3, lw=1.4)
                else:
                    ax.plot(est, yy, "s", color=col, ms=5)
            for sess, ys in mt1.items():
                m = next(e.Mt1 for s, e in closed if s == sess)
                ax.plot([m, m], [min(ys) - 0.4, max(ys) + 0.4], color="#555555", ls="--", lw=1.0)
            ax.annotate("animals caught (Mt1)", (closed[0][1].Mt1, len(closed) - 0.5), xytext=(4, 0),
                        textcoords="offset points", fontsize=8, color="#555555", va="bottom")
            ax.set_yticks(y, [plain(s, 30) for s in labels])
            ax.set_xlabel("population size N (animals), 95 % interval")
            ax.set_title("closed-population N (secr closedN)")
            ax.set_ylim(-0.7, len(closed) + 0.2)
            ax.grid(axis="y", visible=False)
            finite = [v for _, e in closed for v in (_f(e.uclNhat), _f(e.Nhat)) if v is not None]
            if finite:
                lo = min(e.Mt1 for _, e in closed)
                hi = min(max(finite), 5.0 * max(_f(e.Nhat) or lo for _, e in closed))
                ax.set_xlim(lo - 0.05 * (hi - lo + 1), hi + 0.08 * (hi - lo + 1))
        png = _render(fig)
    caption = ("Left: density per 100 km² (1 animal/ha = 10,000 animals/100 km²) with its 95 % interval, for each "
               "model in the order of the model-selection table (best first); the colours match the detection-function "
               "figure. ") if rows else ""
    if closed:
        caption += ("Right: " if rows else "") + (
            "closed-population estimates of the number of animals exposed to the detectors (secr's closedN: "
            "M0, Mb, Mt, Mh and Mth estimators, from who was caught on which occasion, ignoring where); the dashed "
            "line is the number caught. These N refer to an undefined area, so they are not a density; grey "
            "markers are likelihood estimators without an interior maximum.")
    return FigureSpec("secr-estimates", "Estimates", caption, png)


def secr_figures(result) -> list[FigureSpec]:
    figs = [detections_figure(result), detection_function_figure(result), mask_figure(result), estimates_figure(result)]
    return [f for f in figs if f is not None]


# --------------------------------------------------------------------------- tables


def _table(head: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], table_id: str, caption: str,
           left=1) -> str:
    """A table in the house style; columns are right aligned (numbers) except the first ``left``
    columns (an int) or the columns whose indices are in ``left`` (a set): text, left aligned."""
    lefts = set(range(left)) if isinstance(left, int) else set(left) | {0}
    al = ' style="text-align:left"'
    th = "".join(f'<th scope="col" title="{esc(tip)}"{al if j in lefts else ""}>{esc(h)}</th>'
                 for j, (h, tip) in enumerate(head))
    body = []
    for r in rows:
        cells = []
        for j, c in enumerate(r):
            style = al if j in lefts else ""
            cells.append(f"<td{style}>{c}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="table-wrap"><table class="data" id="{esc(table_id)}">'
            f'<caption class="visually-hidden">{esc(caption)}</caption>'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _summary_html(result) -> str:
    from ..secr.capthist import COUNT_ROWS

    parts = []
    for sess, sm in result.summaries.items():
        S = sm.noccasions
        head = [("", "secr's summary(capthist) rows")] + [(str(s + 1), f"occasion {s + 1}") for s in range(S)] + [("Total", "row total (M(t+1): its last value)")]
        rows = [[esc(r)] + [f"{int(v):,}" for v in sm.counts[r]] for r in COUNT_ROWS]
        title = f"Session {esc(sess)}: " if result.multisession else ""
        facts = [f"{sm.n:,} animals", f"{sm.ndetections:,} detections", f"{sm.ndetectors:,} detectors ({esc(sm.detector)})",
                 f"{S} occasions"]
        if sm.RPSV is not None:
            facts.append(f"RPSV {_sig(sm.RPSV)} m")
        if sm.dbar is not None and math.isfinite(sm.dbar):
            facts.append(f"mean distance between successive detections {_sig(sm.dbar)} m")
        if sm.move_distance:
            facts.append(f"median move {_sig(sm.move_distance['Median'])} m")
        parts.append(f"<h3>{title}{'c' if title else 'C'}ounts by occasion</h3><p>{esc(', '.join(facts))}.</p>"
                     + _table(head, rows, f"capture-summary-{esc(sess)}", "Counts by occasion"))
    return "".join(parts)


def _parameter_html(result) -> str:
    head = [("Model", "model formula (null: D, g0 and σ constant)"), ("Detection function", "HN half-normal, EX negative exponential, HR hazard rate; HHN, HEX, HHR their hazard forms"),
            ("Parameter", "D density; g0 detection probability at d = 0 (lambda0: detection hazard at d = 0); σ spatial scale; z hazard-rate shape"),
            ("Estimate", "maximum-likelihood estimate"), ("SE", "standard error (delta method, inverse Hessian)"),
            ("95 % interval", "Wald interval on the link scale, back-transformed (secr's predict())"), ("Unit", "")]
    names = {"D": "D", "g0": "g0", "lambda0": "λ0", "sigma": "σ", "z": "z"}
    rows = []
    for r in result.parameters:
        if r["parameter"] is None:
            rows.append([esc(r["model"]), esc(r["detectfn"]), "", DASH, DASH, DASH, f'<span class="bad">skipped</span>'])
            continue
        p = str(r["parameter"])
        unit = r["unit"] or ""
        if p.startswith("D_100km2"):
            pname, unit = "D" + p[len("D_100km2"):], "animals/100 km²"
        else:
            pname = names.get(p, p)
        est = esc(_sig(r["estimate"]))
        if p.startswith("D_100km2") and r["estimate"] is not None:
            est = f"<b>{est}</b>"
        if r["status"] == "not converged":
            est = '<span class="bad">not converged</span>'
        rows.append([esc(r["model"]), esc(r["detectfn"]), esc(pname), est, esc(_sig(r["SE"])),
                     esc(_ci(r["lcl"], r["ucl"])), esc(unit)])
    return _table(head, rows, "secr-parameters", "Parameter estimates", left={1, 2, 6})


def _selection_html(result) -> str:
    head = [("Model", ""), ("Detection function", ""), ("npar", "number of estimated parameters"),
            ("logLik", "maximised log-likelihood"), ("AIC", "−2 logLik + 2 npar"),
            ("AICc", "AIC with the small-sample correction, n = animals detected"),
            ("ΔAICc", "AICc minus the lowest AICc"), ("AICc weight", "Akaike weight over the models with ΔAICc < 10"),
            ("Note", "why skipped or not converged; Hessian and buffer checks")]
    rows = []
    for r in result.selection:
        status = r["status"]
        note = esc(r["note"] or "")
        if status in ("skipped", "not converged"):
            note = f'<span class="bad">{esc(status)}</span>' + (f": {note}" if note else "")
        elif status != "ok":
            note = f'<span class="warn">{esc(status)}</span>' + (f"; {note}" if note else "")
        if r.get("buffer_adequate") is False:
            note = "; ".join(x for x in (note, '<span class="warn">buffer too narrow</span> (below)') if x)
        rows.append([esc(r["model"]), esc(r["detectfn"]),
                     DASH if r["npar"] is None else str(int(r["npar"])),
                     fmt_num(r["logLik"], 3), fmt_num(r["AIC"], 3), fmt_num(r["AICc"], 3),
                     fmt_num(r["dAICc"], 3), fmt_num(r["AICcwt"], 4),
                     f'<span class="wrap">{note}</span>'])
    table = _table(head, rows, "secr-selection", "Model selection", left={1, 8})
    checks = [(r, r.get("buffer_check")) for r in result.selection if r.get("buffer_check")]
    if checks:
        items = "".join(
            f"<li><b>{esc(r['model'])} {esc(r['detectfn'])}</b>: "
            + ('<span class="warn">too narrow.</span> ' if r.get("buffer_adequate") is False else "")
            + f"{esc(msg)}</li>" for r, msg in checks)
        table += f'<h3>Is the mask wide enough?</h3><ul class="howto">{items}</ul>'
    return table


def _closed_html(result) -> str:
    if not result.closed:
        return "<p>Not computed (<code>--no-closed</code>).</p>" if not any("closed-population" in n for n in result.notes) else ""
    head = [("Estimator", "secr closedN estimator"), ("Model", "Otis et al. (1978) model class"),
            ("npar", ""), ("logLik", ""), ("AICc", ""), ("ΔAICc", ""), ("AICc weight", "over the likelihood estimators"),
            ("Mt1", "animals caught"), ("N", "estimated population size"), ("SE", ""),
            ("95 % interval", "log-normal interval on N − Mt1"), ("Note", "")]
    parts = []
    any_note = any(e.note or not e.converged for res in result.closed.values() for e in res)
    if not any_note:
        head = head[:-1]
    for sess, res in result.closed.items():
        rows = []
        for e in res:
            note = esc(e.note)
            if not e.converged:
                note = '<span class="warn">no interior maximum</span>' + (f": {note}" if note else "")
            rows.append([esc(e.estimator), esc(e.model), DASH if e.npar is None else str(e.npar),
                         fmt_num(e.loglik, 3), fmt_num(e.AICc, 2), fmt_num(e.dAICc, 2), fmt_num(e.AICcwt, 3),
                         str(e.Mt1), fmt_num(e.Nhat, 2), fmt_num(e.seNhat, 2),
                         f"{fmt_num(e.lclNhat, 2)} – {fmt_num(e.uclNhat, 2)}" if _f(e.lclNhat) is not None and _f(e.uclNhat) is not None else DASH]
                        + ([f'<span class="wrap">{note}</span>'] if any_note else []))
        title = f"<h3>Session {esc(sess)}</h3>" if result.multisession else ""
        parts.append(title + _table(head, rows, f"closed-{esc(sess)}", "Closed-population estimates", left={1, 11}))
    return "".join(parts)


def _methods_html(result) -> str:
    m = result.masks[0]
    area = len(m) * m.area_ha
    lik = ("the full likelihood (secr's <code>CL = FALSE</code>: the number of animals detected is Poisson, "
           "with D estimated directly)" if result.likelihood == "full" else
           "the conditional likelihood (secr's <code>CL = TRUE</code>), with density derived as "
           "D = n / a and its variance as in secr's <code>derived()</code>")
    det = {"multi": "multi-catch traps (competing hazards)",
           "single": "single-catch traps, fitted with the multi-catch likelihood as secr.fit does",
           "proximity": "binary proximity detectors (independent Bernoulli detections; secr's fastproximity = FALSE)",
           "count": "count detectors (Poisson counts, secr's binomN = 0)"}.get(result.detector, esc(result.detector))
    if result.buffer is not None:
        mask = (f"built as secr's <code>make.mask(traps, buffer = {result.buffer:g}, nx = {result.nx}, "
                f"type = \"trapbuffer\")</code>")
    else:
        mask = f"read from <code>{esc(result.mask_path or 'the mask given')}</code>"
    return (
        "<p>Density was estimated by maximum likelihood in the spatially explicit capture–recapture (SECR) "
        "model of Borchers &amp; Efford (2008), following the method of secr 5.5.0's <code>secr.fit</code> "
        "(Efford, R package secr). Activity centres are a homogeneous Poisson process of density D over the "
        "habitat mask; the probability that a detector at distance d detects an animal on one occasion is the "
        "detection function g(d): half-normal (HN) g0·exp(−d²/2σ²), negative exponential (EX) g0·exp(−d/σ) or "
        f"hazard rate (HR) g0·(1 − exp(−(d/σ)<sup>−z</sup>)). The fits use {lik}; the detectors are {det}. "
        f"The mask has {len(m):,} points of spacing {m.spacing:.4g} m ({m.area_ha:.4g} ha each, {area:,.1f} ha in all), "
        f"{mask}. Standard errors come from the inverse of the Hessian on the link scale (log D, logit g0, log σ), "
        "and the 95 % intervals are Wald intervals on that scale back-transformed, as in secr's "
        "<code>predict()</code>. Models are compared by AICc with n = the number of animals detected, as secr's "
        "<code>AIC(..., criterion = \"AICc\")</code> (secr 5.5.0 sorts by AIC unless asked); Akaike weights are "
        "computed over the models within 10 units of the best. The closed-population estimates are secr's "
        "<code>closedN</code> estimators (Otis et al. 1978; Chao 1987; Pledger 2000) from who was caught on which "
        "occasion. This implementation reproduces secr 5.5.0's <code>secr.fit</code> on the data sets shipped with "
        "secr (captdata, stoatCH) — a statement of the method followed, not a check made on this run.</p>"
        "<p class=\"note\">References: Borchers, D. L. &amp; Efford, M. G. (2008) Spatially explicit maximum "
        "likelihood methods for capture–recapture studies. Biometrics 64, 377–385. Efford, M. G. secr: spatially "
        "explicit capture–recapture models, R package version 5.5.0. Otis, D. L., Burnham, K. P., White, G. C. &amp; "
        "Anderson, D. R. (1978) Wildlife Monographs 62. Chao, A. (1987) Biometrics 43, 783–791. Pledger, S. (2000) "
        "Biometrics 56, 434–442.</p>"
    )


_EXTRA_CSS = """
.bad { color: #a1262b; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
.problems { border: 1px solid #e3b4b6; background: #fdf3f3; border-radius: 6px; padding: 10px 16px; }
.problems li { margin: 4px 0; }
.headline { font-size: 1.08em; }
span.wrap { display: inline-block; white-space: normal; min-width: 18em; max-width: 36em; text-align: left; }
"""


def _figure_html(fig: FigureSpec) -> str:
    b64 = base64.b64encode(fig.png).decode("ascii")
    w, h = fig.size_px
    return (f'<figure id="fig-{esc(fig.name)}"><img src="data:image/png;base64,{b64}" alt="{esc(fig.title)}" '
            f'width="{w}" height="{h}" style="width:{fig.css_width}px">'
            f"<figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)}</figcaption></figure>")


def _headline(result) -> str:
    best = next((r for r in result.selection if r["rank"] == 1), None)
    if best is None:
        return "<p class=\"headline\">No model converged: there is no density estimate.</p>"
    row = next((r for r in result.parameters if r["model"] == best["model"] and r["detectfn"] == best["detectfn"]
                and r["parameter"] == "D_100km2"), None)
    if row is None or row["estimate"] is None:
        return ""
    per_ha = row["estimate"] / 1e4
    return (f'<p class="headline">Best model by AICc: <b>{esc(best["model"])} {esc(best["detectfn"])}</b> — density '
            f"<b>{esc(_sig(row['estimate']))} animals per 100 km²</b> (95 % interval {esc(_ci(row['lcl'], row['ucl']))}; "
            f"{esc(_sig(per_ha))} per ha).</p>")


def secr_report_html(result, figures: Sequence[FigureSpec] | None = None, *, title: str | None = None,
                     csv_path: str | None = None, command: str | None = None) -> str:
    """The report page (figures embedded) of an :class:`~pardus.secr.estimate.EstimateResult`."""
    from .. import __version__

    figures = secr_figures(result) if figures is None else list(figures)
    css = Path(__file__).with_name("style.css").read_text(encoding="utf-8") + _EXTRA_CSS
    title = title or "SECR density estimate"
    src = result.captures_path or "capture histories given"
    n_an = sum(s.n for s in result.sessions)
    subtitle = (f"{Path(src).name if result.captures_path else src} — {n_an:,} animals, "
                f"{len(result.sessions)} session{'s' if len(result.sessions) != 1 else ''}, "
                f"{len(result.fits)} model fit{'s' if len(result.fits) != 1 else ''} — pardus {__version__}")
    m = result.masks[0]
    meta = [
        ("Capture file", result.captures_path or "—"),
        ("Detector file", result.traps_path or "—"),
        ("Detector type", result.detector),
        ("Sessions", ", ".join(s.session for s in result.sessions)),
        ("Mask", f"{len(m):,} points, spacing {m.spacing:.4g} m; {result.mask_source}"),
        ("Likelihood", "full (CL = FALSE)" if result.likelihood == "full" else "conditional (CL = TRUE)"),
        ("Models", ", ".join(dict.fromkeys(f.model for f in result.fits))),
        ("Detection functions", ", ".join(dict.fromkeys(f.detectfn for f in result.fits))),
        ("pardus version", __version__),
        ("Report created", datetime.now(timezone.utc).replace(microsecond=0).isoformat()),
    ]
    if csv_path:
        meta.insert(-2, ("Table (CSV)", csv_path))
    if command:
        meta.insert(0, ("Command", command))
    meta_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta)
    sections = []
    toc = [("run", "Run")]
    sections.append(f'<section id="run"><h2>Run</h2><dl class="meta">{meta_html}</dl></section>')
    if result.problems:
        toc.append(("problems", "Problems"))
        items = "".join(f"<li>{esc(p)}</li>" for p in result.problems)
        sections.append('<section id="problems"><h2>Problems</h2><div class="problems"><p>These models are missing '
                        f"from the estimates below:</p><ul>{items}</ul></div></section>")
    toc += [("captures", "Captures"), ("estimates", "Estimates"), ("selection", "Model selection"),
            ("closed", "Closed population"), ("figures", "Figures"), ("methods", "Methods")]
    sections.append(f'<section id="captures"><h2>Captures</h2>{_summary_html(result)}</section>')
    notes = "".join(f'<p class="note">{esc(n.rstrip("."))}.</p>' for n in result.notes)
    sections.append(f'<section id="estimates"><h2>Estimates</h2>{_headline(result)}{_parameter_html(result)}'
                    '<p class="note">D is in animals per hectare as secr reports it, and again per 100 km² '
                    "(× 10,000). SE and intervals are missing where the Hessian is not positive definite.</p>"
                    f"{notes}</section>")
    sections.append(f'<section id="selection"><h2>Model selection</h2>{_selection_html(result)}'
                    '<p class="note">Sorted by AICc; models that did not converge or were skipped have no numbers. '
                    "Compare only models fitted to the same data with the same likelihood and mask.</p></section>")
    sections.append(f'<section id="closed"><h2>Closed-population estimates of N</h2>{_closed_html(result)}</section>')
    figs = "".join(_figure_html(f) for f in figures) or "<p>No figures.</p>"
    sections.append(f'<section id="figures"><h2>Figures</h2>{figs}</section>')
    sections.append(f'<section id="methods"><h2>Methods</h2>{_methods_html(result)}</section>')
    nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t in toc)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="pardus">'
        f"<title>{esc(title)}</title><style>{css}</style></head><body>"
        f'<header class="top"><div><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></div></header>'
        f'<main><nav class="toc">{nav}</nav>{"".join(sections)}'
        "<footer>Generated by <code>pardus estimate</code>. Estimates are conditional on the model, the mask and "
        "the assumptions of SECR (closed population, independent detections, activity centres fixed during the "
        "survey).</footer></main></body></html>\n"
    )


def write_secr_report(result, path, *, csv_path: str | None = None, command: str | None = None) -> Path:
    """Write the report to ``path`` atomically (temporary file, then rename); returns the path."""
    from ..fileio import atomic_write

    path = Path(path)
    text = secr_report_html(result, csv_path=csv_path, command=command)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
