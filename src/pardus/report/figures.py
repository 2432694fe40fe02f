"""Figures of the pardus report.

Every figure is drawn with matplotlib's object-oriented API on a bare
:class:`matplotlib.figure.Figure` rendered by the Agg canvas, so building a
report never touches ``pyplot``'s global state or the user's interactive
backend.  Each ``plot_*`` function returns a :class:`FigureSpec` (file name,
title, caption and the PNG bytes) or ``None`` when the figure does not apply.

Derived quantities (total N, extinction, …) are computed here from the
results :class:`xarray.Dataset` described in ``docs/outputs.md``.
"""

from __future__ import annotations

import io
import json
import struct
import textwrap
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
import matplotlib as mpl

from .. import results
from ..results import total_n

__all__ = [
    "DPI",
    "FigureSpec",
    "SCENARIO_PALETTE",
    "CAUSE_COLORS",
    "scenario_colors",
    "total_n",
    "extinct_mask",
    "cumulative_extinction",
    "report_currency",
    "extinction_rule",
    "make_figures",
    "plot_trajectories",
    "plot_extinction",
    "plot_genetics",
    "plot_deaths_by_cause",
    "plot_sweep",
    "plot_comparison",
    "death_rates",
    "wilson_interval",
    "plot_populations",
]

DPI = 150
CSS_PX_PER_INCH = 112  # on-screen size of the figures in the page

#: Colour-blind-safe qualitative palette: Okabe & Ito (2008) ordered for lines on
#: white (yellow last), continued with Paul Tol's "muted" scheme for runs with
#: many scenarios.
SCENARIO_PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#332288",  # indigo (Tol)
    "#117733",  # green (Tol)
    "#882255",  # wine (Tol)
    "#44AA99",  # teal (Tol)
    "#999933",  # olive (Tol)
    "#AA4499",  # purple (Tol)
    "#F0E442",  # yellow (hard to see on white: last)
)

#: Fixed colours per cause of death (Paul Tol's muted scheme plus greys), so that
#: a cause has the same colour in every report.
CAUSE_COLORS: dict[str, str] = {
    "natural": "#BBBBBB",
    "starvation": "#DDCC77",
    "poaching": "#882255",
    "conflict": "#CC6677",
    "road": "#332288",
    "disease": "#117733",
    "dispersal": "#88CCEE",
    "senescence": "#44AA99",
    "inbreeding_lethal": "#AA4499",
    "inbreeding_depression": "#999933",
    "carrying_capacity": "#555555",
}
_EXTRA_CAUSE_COLORS = ("#E69F00", "#56B4E9", "#0072B2", "#D55E00", "#009E73", "#CC79A7")

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}

N_REPLICATE_LINES = 5
#: with more scenarios than this, uncertainty bands of overlaid lines are left out (unreadable)
MAX_BANDED = 5


@dataclass(frozen=True)
class FigureSpec:
    """One rendered figure of the report."""

    name: str  # file stem, e.g. "trajectories" -> figures/trajectories.png
    title: str
    caption: str
    png: bytes

    @property
    def filename(self) -> str:
        return f"{self.name}.png"

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) in pixels, read from the PNG header."""
        return struct.unpack(">II", self.png[16:24])

    @property
    def css_width(self) -> int:
        """Display width in CSS pixels: a little larger than print size (96 px/inch)."""
        return int(round(self.size_px[0] * CSS_PX_PER_INCH / DPI))


# --------------------------------------------------------------------------- helpers


def scenario_colors(names: Iterable[str]) -> dict[str, str]:
    """Map scenario names to palette colours, in the order given (first seen wins)."""
    out: dict[str, str] = {}
    for name in names:
        name = str(name)
        if name not in out:
            out[name] = SCENARIO_PALETTE[len(out) % len(SCENARIO_PALETTE)]
    return out


def _linestyle(index: int) -> str:
    """Line style for scenario *index*: solid until the palette runs out."""
    return ("-", "--", ":", "-.")[(index // len(SCENARIO_PALETTE)) % 4]


def plain(text: object, width: int | None = None) -> str:
    """Text safe for matplotlib: no mathtext (``$``), optionally wrapped."""
    s = str(text).replace("$", r"\$")
    if width is not None and len(s) > width:
        s = "\n".join(textwrap.wrap(s, width=width, break_long_words=True)) or s
    return s


def _sum_dims(da: xr.DataArray, keep: Sequence[str]) -> xr.DataArray:
    """Sum over every dimension not in *keep*, NaN counted as 0."""
    drop = [d for d in da.dims if d not in keep]
    return da.sum(dim=drop, skipna=True) if drop else da.fillna(0)


def extinction_definitions(ds: xr.Dataset) -> dict[str, str]:
    """Per scenario, ``"one_sex"`` (default) or ``"no_animals"``.

    Read from the resolved scenarios in ``ds.attrs["scenarios"]`` (``run.extinction``);
    anything missing or unreadable falls back to ``"one_sex"``.
    """
    names = _scenario_names(ds)
    out = {n: "one_sex" for n in names}
    try:
        raw = ds.attrs.get("scenarios")
        parsed = json.loads(raw) if isinstance(raw, (str, bytes)) else (raw or {})
        for n in names:
            spec = parsed.get(n) if isinstance(parsed, dict) else None
            run = spec.get("run") if isinstance(spec, dict) else None
            value = run.get("extinction") if isinstance(run, dict) else None
            if value in ("one_sex", "no_animals"):
                out[n] = value
    except (TypeError, ValueError, AttributeError):
        pass
    return out


def report_currency(ds: xr.Dataset, *frames) -> str:
    """The currency of the costs: :func:`pardus.results.currency` of *ds*, else the
    ``currency`` column of the first of *frames* (summary, comparison) that has one, else
    "currency units"."""
    cur = results.currency(ds)
    if cur != "currency units":
        return cur
    for f in frames:
        if f is not None and "currency" in getattr(f, "columns", ()) and len(f):
            return str(f["currency"].iloc[0])
    return cur


#: what counts as extinct under each ``run.extinction`` setting
EXTINCTION_RULES = {
    "one_sex": "no animals, or animals of only one sex, left",
    "no_animals": "no animal at all left",
}


def extinction_rule(ds: xr.Dataset) -> str:
    """What counts as extinct in *ds*, as a phrase: the rule of ``run.extinction`` when all
    scenarios share it, else each rule followed by the scenarios that use it."""
    defs = extinction_definitions(ds)
    kinds = list(dict.fromkeys(defs.values()))
    if len(kinds) <= 1:
        return EXTINCTION_RULES[kinds[0] if kinds else "one_sex"]
    return "; ".join(
        f"{EXTINCTION_RULES[k]} in {', '.join(n for n, v in defs.items() if v == k)}" for k in kinds
    )


def extinct_mask(ds: xr.Dataset) -> xr.DataArray:
    """True where a replicate is extinct in that year (not cumulative), by each scenario's rule."""
    return results.extinct_mask(ds, extinction_definitions(ds))


def cumulative_extinction(ds: xr.Dataset) -> xr.DataArray:
    """True from the first simulated year a replicate went extinct onwards."""
    return results.cumulative_extinct(ds, extinction_definitions(ds))


def _render(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.08, h_pad=0.08, wspace=0.06, hspace=0.06)
    return fig


def _years(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["year"].values)


def _year_axis(ax, years: np.ndarray) -> None:
    ax.set_xlabel("Year")
    if years.size > 1:
        ax.set_xlim(years[0], years[-1])
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=6, integer=True))


def _n_replicates(ds: xr.Dataset) -> int:
    return int(ds.sizes.get("replicate", 0))


def _scenario_names(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds["scenario"].values]


def _legend_handles(names: Sequence[str], colors: Mapping[str, str]):
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=colors[n], lw=2.2, ls=_linestyle(i), label=plain(n, 40))
        for i, n in enumerate(names)
    ]


def _legend_below(fig: Figure, handles, ncols_max: int = 4) -> None:
    """A legend under the axes with as many columns as fit the figure's width."""
    if not handles:
        return
    longest = max(
        (max(len(line) for line in str(h.get_label()).split("\n")) for h in handles), default=1
    )
    entry_in = 0.65 + 0.068 * longest  # handle + padding + text at 9 pt, in inches
    fits = max(1, min(ncols_max, int((fig.get_figwidth() - 0.3) // entry_in)))
    rows = -(-len(handles) // fits)
    ncols = -(-len(handles) // rows)  # balanced: 4 entries in 2 x 2 rather than 3 + 1
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False)
    # the figure sizes leave room for one legend row: grow for the others
    lines = max(str(h.get_label()).count("\n") + 1 for h in handles)
    extra_lines = rows * lines - 1
    if extra_lines > 0:
        fig.set_figheight(fig.get_figheight() + 0.21 * extra_lines)


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    ncols = 2 if n == 4 else min(max_cols, max(1, n))
    nrows = int(np.ceil(n / ncols))
    return nrows, ncols


# --------------------------------------------------------------------------- figures


def plot_trajectories(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec:
    """Total N per scenario: median, 50 % and 90 % bands, a few replicate lines."""
    names = _scenario_names(ds)
    years = _years(ds)
    n_tot = total_n(ds)
    n_rep = _n_replicates(ds)
    show_overlay = len(names) > 1
    n_panels = len(names) + (1 if show_overlay else 0)
    nrows, ncols = _grid(n_panels)
    with mpl.rc_context(_RC):
        fig = _new_figure(max(6.5, 3.6 * ncols + 0.6), 2.9 * nrows + 0.7)
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
        ymax = float(np.nanmax(n_tot.values)) if n_tot.size else 1.0
        for i, name in enumerate(names):
            ax = axes[i]
            c = colors[name]
            vals = n_tot.sel(scenario=name).values.astype(float)  # replicate x year
            q05, q25, q50, q75, q95 = np.nanquantile(vals, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
            ax.fill_between(years, q05, q95, color=c, alpha=0.15, lw=0)
            ax.fill_between(years, q25, q75, color=c, alpha=0.32, lw=0)
            for r in range(min(N_REPLICATE_LINES, vals.shape[0])):
                ax.plot(years, vals[r], color=c, lw=0.6, alpha=0.55)
            ax.plot(years, q50, color=c, lw=2.2, ls=_linestyle(i))
            ax.set_title(plain(name, 38), color="#222222")
            _year_axis(ax, years)
        if show_overlay:
            ax = axes[len(names)]
            for i, name in enumerate(names):
                med = np.nanmedian(n_tot.sel(scenario=name).values.astype(float), axis=0)
                ax.plot(years, med, color=colors[name], lw=2.0, ls=_linestyle(i))
            ax.set_title("All scenarios (medians)")
            _year_axis(ax, years)
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        for k, ax in enumerate(axes[:n_panels]):
            if k % ncols == 0:
                ax.set_ylabel("Population size N\n(individuals)")
            # shared x: make sure every visible bottom-of-column panel shows tick labels
            ax.tick_params(labelbottom=True)
        axes[0].set_ylim(0, max(1.0, ymax * 1.05))
        from matplotlib.lines import Line2D

        key = [
            Line2D([], [], color="#444444", lw=2.2, label="median"),
            Patch(facecolor="#444444", alpha=0.45, label="50 % of replicates"),
            Patch(facecolor="#444444", alpha=0.18, label="90 % of replicates"),
            Line2D([], [], color="#444444", lw=0.6, alpha=0.7, label="single replicates"),
        ]
        _legend_below(fig, key)
        png = _render(fig)
    caption = (
        f"Total population size (all populations, sexes and ages) over time, one panel per "
        f"scenario. The thick line is the median of the {n_rep} replicates, the dark band "
        f"holds the middle 50 % and the light band the middle 90 % of replicates; thin lines "
        f"are {min(N_REPLICATE_LINES, n_rep)} individual replicates, showing how bumpy a single "
        f"possible future is."
    )
    if show_overlay:
        caption += " The last panel overlays the medians of all scenarios."
    return FigureSpec("trajectories", "Population size over time", caption, png)


def plot_extinction(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec:
    """Cumulative probability of extinction over time with a ±1.96·SE band."""
    names = _scenario_names(ds)
    years = _years(ds)
    cum = cumulative_extinction(ds)
    n_rep = max(1, _n_replicates(ds))
    with mpl.rc_context(_RC):
        fig = _new_figure(8.0, 4.2)
        ax = fig.add_subplot()
        top = 0.0
        banded = len(names) <= MAX_BANDED
        for i, name in enumerate(names):
            p = cum.sel(scenario=name).values.mean(axis=0).astype(float)
            se = np.sqrt(p * (1.0 - p) / n_rep)
            lo, hi = np.clip(p - 1.96 * se, 0, 1), np.clip(p + 1.96 * se, 0, 1)
            if banded:
                ax.fill_between(years, lo, hi, color=colors[name], alpha=0.13, lw=0, step="post")
            ax.step(years, p, where="post", color=colors[name], lw=2.0, ls=_linestyle(i))
            top = max(top, float(np.nanmax(hi)) if hi.size else 0.0)
        ax.set_ylim(0, min(1.0, max(0.05, top * 1.1)))
        ax.set_ylabel("Probability of extinction\n(share of replicates extinct)")
        _year_axis(ax, years)
        _legend_below(fig, _legend_handles(names, colors))
        png = _render(fig)
    what = extinction_rule(ds)
    if banded:
        band = (
            f"The shaded band is ±1.96 standard errors (about a 95 % interval) for {n_rep} "
            "replicates."
        )
    else:
        band = (
            "Uncertainty bands are left out because there are many scenarios; with "
            f"{n_rep} replicates a 95 % interval reaches at most ±{0.98 / np.sqrt(n_rep):.2f}."
        )
    caption = (
        f"Share of replicates that have gone extinct ({what}) by each year; once extinct, a "
        f"replicate counts as extinct for the rest of the run. {band} A lower curve means a "
        "safer scenario."
    )
    return FigureSpec("extinction", "Probability of extinction over time", caption, png)


def _extant_mean_sd(da: xr.DataArray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals = np.where(alive, da.values.astype(float), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(np.isfinite(vals), axis=0)
        mean = np.where(count > 0, np.nansum(vals, axis=0) / np.maximum(count, 1), np.nan)
        dev = np.where(np.isfinite(vals), (vals - mean) ** 2, 0.0)
        sd = np.where(count > 1, np.sqrt(dev.sum(axis=0) / np.maximum(count - 1, 1)), np.nan)
    return mean, sd


def _mark_isolated(ax, x: np.ndarray, y: np.ndarray, color: str) -> None:
    """Draw points that a line cannot show (finite values with no finite neighbour)."""
    ok = np.isfinite(y)
    prev = np.r_[False, ok[:-1]]
    nxt = np.r_[ok[1:], False]
    lone = ok & ~prev & ~nxt
    if lone.any():
        ax.plot(x[lone], y[lone], "o", color=color, ms=4, clip_on=False)


def plot_genetics(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Gene diversity and mean inbreeding over time, mean ± SD over extant replicates."""
    panels = [
        (v, label)
        for v, label in (
            ("gene_diversity", "Gene diversity\n(expected heterozygosity)"),
            ("mean_inbreeding", "Mean inbreeding\ncoefficient F"),
        )
        if v in ds
    ]
    if not panels:
        return None
    names = _scenario_names(ds)
    years = _years(ds)
    alive = ~extinct_mask(ds)
    banded = len(names) <= MAX_BANDED
    with mpl.rc_context(_RC):
        fig = _new_figure(10.0, 4.0)
        axes = fig.subplots(1, len(panels), squeeze=False).ravel()
        for ax, (var, label) in zip(axes, panels):
            lo_all, hi_all = [], []
            for i, name in enumerate(names):
                m, sd = _extant_mean_sd(
                    ds[var].sel(scenario=name).transpose("replicate", "year"),
                    alive.sel(scenario=name).values,
                )
                lo, hi = np.clip(m - sd, 0, 1), np.clip(m + sd, 0, 1)
                if banded:
                    ax.fill_between(years, lo, hi, color=colors[name], alpha=0.16, lw=0)
                ax.plot(years, m, color=colors[name], lw=2.0, ls=_linestyle(i))
                _mark_isolated(ax, years, m, colors[name])
                lo_all.append(np.nanmin(np.r_[lo, m]) if np.isfinite(m).any() else np.nan)
                hi_all.append(np.nanmax(np.r_[hi, m]) if np.isfinite(m).any() else np.nan)
            ax.set_ylabel(label)
            ax.set_title("Gene diversity" if var == "gene_diversity" else "Inbreeding")
            _year_axis(ax, years)
            lo_v, hi_v = np.nanmin(lo_all + [np.inf]), np.nanmax(hi_all + [-np.inf])
            if np.isfinite(lo_v) and np.isfinite(hi_v):
                pad = max(0.01, 0.08 * (hi_v - lo_v))
                ax.set_ylim(max(0.0, lo_v - pad), min(1.0, hi_v + pad))
        _legend_below(fig, _legend_handles(names, colors))
        png = _render(fig)
    caption = (
        "Left: gene diversity (expected heterozygosity, 1 = maximal) of the whole "
        "metapopulation; right: mean inbreeding coefficient F of the living animals. "
        "Lines are the mean over the replicates still extant in that year, bands ±1 standard "
        "deviation; losing gene diversity and rising F mean more inbreeding depression."
    )
    if not banded:
        caption = caption.replace(", bands ±1 standard deviation", " (bands left out: too many scenarios)")
    if len(panels) == 1:
        caption = (
            "Gene diversity over time: mean over extant replicates"
            if panels[0][0] == "gene_diversity"
            else "Mean inbreeding coefficient F over time: mean over extant replicates"
        ) + (", band ±1 standard deviation." if banded else ".")
    return FigureSpec("genetics", "Genetic diversity and inbreeding", caption, png)


def _cause_color(cause: str, k: int) -> str:
    return CAUSE_COLORS.get(cause, _EXTRA_CAUSE_COLORS[k % len(_EXTRA_CAUSE_COLORS)])


def death_rates(ds: xr.Dataset) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Causes, deaths per animal per year by cause and share of all deaths by cause.

    Returns ``(causes, rate, share)`` with ``rate`` and ``share`` of shape (scenario, cause).
    The rate pools all replicates and simulated years of a scenario: deaths from the cause
    divided by the animal-years at risk, where the animals at risk in a year are those
    present during it (alive at its end, or died during it; equal to those alive at its start
    plus those born or released in it), over the whole metapopulation. ``share`` is the
    cause's fraction of all deaths. NaN where a scenario had no animals (rate) or no deaths
    (share).
    """
    deaths = _sum_dims(ds["deaths"], ("scenario", "replicate", "year", "cause")).transpose(
        "scenario", "replicate", "year", "cause"
    )
    d = np.nan_to_num(deaths.values.astype(float))[:, :, 1:, :]  # the initial census has no deaths
    alive_end = np.nan_to_num(total_n(ds).transpose("scenario", "replicate", "year").values.astype(float))[:, :, 1:]
    at_risk = (alive_end + d.sum(axis=-1)).sum(axis=(1, 2))  # animal-years per scenario
    by_cause = d.sum(axis=(1, 2))  # scenario x cause
    total = by_cause.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(at_risk[:, None] > 0, by_cause / at_risk[:, None], np.nan)
        share = np.where(total > 0, by_cause / total, np.nan)
    return [str(c) for c in deaths["cause"].values], rate, share


def plot_deaths_by_cause(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Stacked horizontal bars per scenario: deaths per 100 animals per year by cause (left)
    and each cause's share of all deaths (right)."""
    if "deaths" not in ds or "cause" not in ds["deaths"].dims:
        return None
    names = _scenario_names(ds)
    causes, rate, share = death_rates(ds)
    rate100 = np.nan_to_num(rate) * 100.0
    share100 = np.nan_to_num(share) * 100.0
    keep = [j for j in range(len(causes)) if np.any(rate100[:, j] > 0)]
    if not keep:
        return None
    n_rep = _n_replicates(ds)
    hatches = {"carrying_capacity": "//"}
    with mpl.rc_context(_RC):
        height = 1.8 + 0.55 * len(names) + 0.25 * int(np.ceil(len(keep) / 4))
        fig = _new_figure(11.0, max(3.2, height))
        ax, ax2 = fig.subplots(1, 2, sharey=True, width_ratios=[1.15, 1.0])
        y = np.arange(len(names))[::-1]
        left = np.zeros(len(names))
        left2 = np.zeros(len(names))
        handles = []
        for k, j in enumerate(keep):
            cause = causes[j]
            color = _cause_color(cause, k)
            style = dict(color=color, edgecolor="white", linewidth=0.6, hatch=hatches.get(cause), height=0.62)
            ax.barh(y, rate100[:, j], left=left, **style)
            ax2.barh(y, share100[:, j], left=left2, **style)
            for yy, x0, w in zip(y, left2, share100[:, j]):
                if w >= 9.0:  # label the large shares inside their segment
                    dark = mpl.colors.rgb_to_hsv(mpl.colors.to_rgb(color))[2] < 0.6
                    ax2.text(x0 + w / 2, yy, f"{w:.0f} %", ha="center", va="center", fontsize=8,
                             color="white" if dark else "#222222")
            handles.append(
                Patch(facecolor=color, edgecolor="white", hatch=hatches.get(cause),
                      label=plain(cause.replace("_", " ")))
            )
            left += rate100[:, j]
            left2 += share100[:, j]
        for yy, tot, ok in zip(y, left, np.isfinite(rate).any(axis=1)):
            ax.text(tot, yy, f" {tot:.1f}" if ok else " no animals", va="center", ha="left",
                    fontsize=9, color="#222222")
        ax.set_yticks(y, [plain(n, 28) for n in names])
        for lbl, n in zip(ax.get_yticklabels(), names):
            lbl.set_color(colors[n])
            lbl.set_fontweight("bold")
        ax.set_xlim(0, max(1.0, float(left.max()) * 1.15))
        ax.set_xlabel("Deaths per 100 animals per year\n(pooled over replicates and years)")
        ax.set_title("Death rate by cause")
        ax2.set_xlim(0, 100)
        ax2.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(100, decimals=0))
        ax2.set_xlabel("Share of all deaths")
        ax2.set_title("Share of deaths by cause")
        ax2.tick_params(labelleft=False)
        for a in (ax, ax2):
            a.grid(axis="y", visible=False)
        _legend_below(fig, handles, ncols_max=6)
        png = _render(fig)
    caption = (
        "How animals died. Left: yearly death rate by cause — deaths from each cause per 100 "
        "animals present during a year (alive at its end, or died during it; cubs born that year "
        f"included), pooled over all {n_rep} replicates and all simulated years of the whole "
        "metapopulation; the number at the end of each bar is the total death rate. Rates, not "
        "counts, so scenarios with more animals do not show more deaths just for having them. "
        "Right: each cause's share of all deaths. Causes that never occurred are left out."
    )
    return FigureSpec("deaths_by_cause", "Deaths by cause", caption, png)


def wilson_interval(p: np.ndarray, n: int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion *p* from *n* trials (about 95 % for z = 1.96);
    unlike p ± z·SE it stays inside [0, 1] and is not empty at p = 0 or 1."""
    p = np.asarray(p, dtype=float)
    if n <= 0:
        return np.full(p.shape, np.nan), np.full(p.shape, np.nan)
    den = 1 + z**2 / n
    mid = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    # the interval holds p; rounding must not put p outside it (p = 1 gave hi = 0.99999…)
    return np.clip(np.minimum(mid - half, p), 0, 1), np.clip(np.maximum(mid + half, p), 0, 1)


def _fmt_value(v) -> str:
    """A swept value for people: numbers as short as exact (0.4, 1e-05), "—" for no value."""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}" if np.isfinite(v) else "—"
    return str(v) if str(v) != "" else "—"


def sweep_axis(ds: xr.Dataset) -> tuple[str, list[str]] | None:
    """(x key, other keys) of the sweep figure: the numeric swept key with the most distinct
    values (the first in sweep order on a tie) and the other swept keys that vary; None when
    no numeric swept key takes two or more values."""
    table = results.sweep_table(ds)
    numeric = [k for k in table.columns if table[k].dtype.kind == "f"]
    counts = {k: table[k].dropna().nunique() for k in numeric}
    candidates = [k for k in numeric if counts[k] >= 2]
    if not candidates:
        return None
    x_key = max(candidates, key=lambda k: (counts[k], -candidates.index(k)))
    others = [k for k in table.columns if k != x_key and table[k].replace("", np.nan).dropna().nunique() >= 2]
    return x_key, others


def plot_sweep(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Probability of extinction (Wilson 95 % interval) against the swept value; one line per
    combination of the other swept keys. None unless the results come from a numeric sweep."""
    axis = sweep_axis(ds)
    if axis is None:
        return None
    x_key, others = axis
    table = results.sweep_table(ds)
    names = _scenario_names(ds)
    n_rep = _n_replicates(ds)
    pe = cumulative_extinction(ds).isel(year=-1).mean("replicate").sel(scenario=names).values.astype(float)
    lo, hi = wilson_interval(pe, n_rep)
    x_all = table[x_key].to_numpy(dtype=float)
    swept = np.isfinite(x_all)
    groups: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(swept):
        groups.setdefault(tuple(_fmt_value(table.iloc[i][k]) for k in others), []).append(i)
    outside = [i for i in range(len(names)) if not swept[i]][:3]  # e.g. a baseline run beside the sweep
    xs = np.unique(x_all[swept])
    span = float(xs.max() - xs.min()) or 1.0
    last_year = int(np.asarray(ds["year"].values)[-1])
    with mpl.rc_context(_RC):
        fig = _new_figure(8.0, 4.6)
        ax = fig.add_subplot()
        handles = []
        from matplotlib.lines import Line2D

        g = len(groups)
        for k, (combo, idx) in enumerate(groups.items()):
            idx = sorted(idx, key=lambda i: x_all[i])
            c = SCENARIO_PALETTE[k % len(SCENARIO_PALETTE)]
            dodge = (k - (g - 1) / 2) * 0.012 * span if g > 1 else 0.0  # keep whiskers apart
            xx = x_all[idx] + dodge
            ax.errorbar(xx, pe[idx], yerr=[pe[idx] - lo[idx], hi[idx] - pe[idx]], marker="o",
                        color=c, ms=5, lw=1.8, capsize=3, elinewidth=1.1, ls=_linestyle(k))
            label = ", ".join(f"{key} = {v}" for key, v in zip(others, combo)) or "swept scenarios (95 % interval)"
            handles.append(Line2D([], [], color=c, lw=1.8, marker="o", ms=5, ls=_linestyle(k), label=plain(label, 60)))
        for m, i in enumerate(outside):
            ax.axhline(pe[i], color="#666666", lw=1.2, ls=("--", ":", "-.")[m])
            handles.append(Line2D([], [], color="#666666", lw=1.2, ls=("--", ":", "-.")[m],
                                  label=plain(f"{names[i]} (not in the sweep)", 60)))
        ax.set_xticks(xs, [_fmt_value(v) for v in xs])
        if xs.size > 8:
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=8))
            ax.xaxis.set_major_formatter(mpl.ticker.ScalarFormatter())
        ax.set_xlim(xs.min() - 0.05 * span, xs.max() + 0.05 * span)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(plain(f"{x_key} (swept value)"))
        ax.set_ylabel(f"Probability of extinction\nby {last_year}")
        if len(handles) > 1:
            _legend_below(fig, handles, ncols_max=3)
        png = _render(fig)
    what = extinction_rule(ds)
    caption = (
        f"Probability of extinction by the last year ({what}) for each value of the swept "
        f"parameter {x_key}; whiskers are 95 % Wilson intervals for {n_rep} replicates."
    )
    if others:
        caption += (
            f" Each line is one combination of the other swept parameter{'s' if len(others) > 1 else ''} "
            f"({', '.join(others)}); lines are shifted sideways a little so their whiskers do not overlap."
        )
    if outside:
        shown = ", ".join(f"“{names[i]}”" for i in outside)
        caption += (
            f" Grey horizontal {'lines show' if len(outside) > 1 else 'line shows'} {shown}, run "
            "alongside the sweep without a value of it (for reference)."
        )
    return FigureSpec("sweep", "Extinction risk across the sweep", caption, png)


def _finite(x) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def plot_comparison(
    comparison, colors: Mapping[str, str], baseline: str | None = None, *, currency: str | None = None
) -> FigureSpec | None:
    """dPE with 95 % CI per scenario vs the baseline; dPE per million spent if costs > 0.

    *currency* names the money (default: the ``currency`` column of *comparison*, else
    "currency units")."""
    if comparison is None or len(comparison) == 0 or "dPE" not in comparison.columns:
        return None
    comp = comparison
    if baseline is not None and len(comp) > 1:  # the baseline compared with itself says nothing
        comp = comp[[str(s) != str(baseline) for s in comp.index]]
    names = [str(s) for s in comp.index]
    colors = dict(colors)
    for n in names:  # scenarios absent from the dataset still need a colour
        if n not in colors:
            colors[n] = SCENARIO_PALETTE[len(colors) % len(SCENARIO_PALETTE)]

    def col(name: str) -> np.ndarray:
        if name not in comp.columns:
            return np.full(len(comp), np.nan)
        return np.asarray(comp[name].to_numpy(dtype=float, na_value=np.nan), dtype=float)

    dpe, lo, hi = col("dPE"), col("dPE_ci_low"), col("dPE_ci_high")
    se = col("dPE_se")
    lo = np.where(np.isfinite(lo), lo, dpe - 1.96 * se)
    hi = np.where(np.isfinite(hi), hi, dpe + 1.96 * se)
    cost = col("extra_cost")
    per_m = col("dPE_per_million")
    cost_rows = [i for i in range(len(names)) if cost[i] > 0 and np.isfinite(per_m[i])]
    two = len(cost_rows) > 0
    base = plain(baseline, 40) if baseline else "the baseline"
    if currency is None and "currency" in comp.columns and len(comp):
        currency = str(comp["currency"].iloc[0])
    money = plain(currency or "currency units", 16)
    with mpl.rc_context(_RC):
        fig = _new_figure(10.0 if two else 8.0, 1.5 + 0.5 * len(names))
        axes = fig.subplots(1, 2 if two else 1, squeeze=False, sharey=True).ravel()
        ax = axes[0]
        y = np.arange(len(names))[::-1]
        for i, n in enumerate(names):
            if not np.isfinite(dpe[i]):
                continue
            xerr = None
            if np.isfinite(lo[i]) and np.isfinite(hi[i]):
                xerr = [[max(0.0, dpe[i] - lo[i])], [max(0.0, hi[i] - dpe[i])]]
            ax.errorbar(dpe[i], y[i], xerr=xerr, fmt="o", color=colors[n], ms=7,
                        capsize=4, lw=1.8)
        ax.axvline(0, color="#444444", lw=1.0)
        ax.set_yticks(y, [plain(n, 28) for n in names])
        ax.set_ylim(-0.7, len(names) - 0.3)
        ax.set_xlabel(
            f"Change in probability of extinction vs {base}\n← lower risk          higher risk →"
        )
        ax.set_title("Δ extinction risk (95 % CI)")
        ax.grid(axis="y", visible=False)
        span = np.nanmax(np.abs(np.r_[lo, hi, dpe, 0.01][np.isfinite(np.r_[lo, hi, dpe, 0.01])]))
        ax.set_xlim(-span * 1.15, span * 1.15)
        if two:
            ax2 = axes[1]
            ax2.tick_params(labelleft=False)
            for i in cost_rows:
                # the 95 % CI of ΔPE scaled by the same cost
                scale = 1e6 / cost[i]
                xerr = None
                if np.isfinite(lo[i]) and np.isfinite(hi[i]):
                    xerr = [[max(0.0, per_m[i] - lo[i] * scale)], [max(0.0, hi[i] * scale - per_m[i])]]
                ax2.barh(y[i], per_m[i], color=colors[names[i]], height=0.55, xerr=xerr,
                         error_kw={"ecolor": "#333333", "capsize": 4, "lw": 1.2})
            ax2.axvline(0, color="#444444", lw=1.0)
            ax2.set_xlabel(
                f"Change in probability of extinction per million\n{money} of extra cost"
            )
            ax2.set_title(f"Δ extinction risk per million {money} spent")
            ax2.grid(axis="y", visible=False)
            ends = np.r_[per_m[cost_rows], (lo * 1e6 / np.where(cost > 0, cost, np.nan))[cost_rows],
                         (hi * 1e6 / np.where(cost > 0, cost, np.nan))[cost_rows]]
            m = np.nanmax(np.abs(ends[np.isfinite(ends)])) if cost_rows else 0.0
            m = m if np.isfinite(m) and m > 0 else 1.0
            ax2.set_xlim(-m * 1.15, m * 1.15)
        for a in axes:
            for lbl, n in zip(a.get_yticklabels(), names):
                lbl.set_color(colors[n])
        png = _render(fig)
    caption = (
        f"Each point is how much a scenario changes the probability of extinction compared "
        f"with {'baseline “' + str(baseline) + '”' if baseline else 'the baseline'}, with its "
        "95 % confidence interval (computed replicate by replicate, because replicates share "
        "random numbers). Left of the vertical line = safer than the baseline; an interval "
        "crossing the line means the difference is not clear."
    )
    if two:
        caption += (
            f" Right: change in extinction probability per million {currency or 'currency units'} of extra cost — the more negative, "
            "the more risk reduction each million buys (only scenarios with extra costs); the "
            "whiskers are the same 95 % interval divided by the cost."
        )
    return FigureSpec("comparison", "Scenario comparison", caption, png)


def _population_present(n_pop: np.ndarray) -> bool:
    """A population a scenario does not have is all 0 / NaN."""
    return bool(np.nansum(np.abs(n_pop)) > 0)


def plot_populations(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Median N per population per scenario, one panel per population."""
    if "population" not in ds["N"].dims or ds.sizes["population"] <= 1:
        return None
    names = _scenario_names(ds)
    pops = [str(p) for p in ds["population"].values]
    years = _years(ds)
    per_pop = _sum_dims(ds["N"], ("scenario", "replicate", "year", "population")).transpose(
        "scenario", "population", "replicate", "year"
    )
    nrows, ncols = _grid(len(pops))
    with mpl.rc_context(_RC):
        fig = _new_figure(3.6 * ncols + 0.6, 2.9 * nrows + 0.7)
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for k, pop in enumerate(pops):
            ax = axes[k]
            drawn = 0
            for i, name in enumerate(names):
                vals = per_pop.sel(scenario=name, population=pop).values.astype(float)
                raw = ds["N"].sel(scenario=name, population=pop).values
                if not _population_present(raw):
                    continue
                ax.plot(years, np.nanmedian(vals, axis=0), color=colors[name], lw=2.0,
                        ls=_linestyle(i))
                drawn += 1
            if not drawn:
                ax.text(0.5, 0.5, "no animals in any scenario", transform=ax.transAxes,
                        ha="center", va="center", color="#777777")
                ax.set_yticks([])
            ax.set_title(plain(pop, 38))
            ax.set_ylim(bottom=0)
            _year_axis(ax, years)
            ax.tick_params(labelbottom=True)
            if k % ncols == 0:
                ax.set_ylabel("Median N\n(individuals)")
        for ax in axes[len(pops):]:
            ax.set_visible(False)
        _legend_below(fig, _legend_handles(names, colors))
        png = _render(fig)
    caption = (
        "Median population size of each population (one panel per population) and scenario. "
        "A scenario that does not contain a population has no line in its panel; each panel "
        "has its own vertical scale."
    )
    return FigureSpec("populations", "Population size by population", caption, png)


MAP_PANELS = (
    ("occupancy", "Occupancy", "probability the cell is in\na leopard's home range", "YlOrBr", None),
    ("burn_probability", "Burn probability", "per year", "Reds", None),
    ("mean_prey", "Mean prey", "roe-deer eq. per km²", "Greens", None),
    ("forest_lost", "Forest lost", "probability forest at the start\nis gone at the end", "Purples", (0.0, 1.0)),
)
MAX_MAP_ROWS = 6  # scenarios drawn as rows of maps (the rest: see the results file)


def _map_extent(ds: xr.Dataset):
    x, y = np.asarray(ds["x"].values, float), np.asarray(ds["y"].values, float)
    dx = abs(x[1] - x[0]) if x.size > 1 else 1000.0
    dy = abs(y[1] - y[0]) if y.size > 1 else 1000.0
    return ((x.min() - dx / 2) / 1000, (x.max() + dx / 2) / 1000, (y.min() - dy / 2) / 1000, (y.max() + dy / 2) / 1000)


def _map_context(ax, ds: xr.Dataset, extent) -> None:
    """Water grey-blue, the border as a line, so that a map reads as the landscape."""
    if "landscape_cover" in ds:
        water = np.asarray(ds["landscape_cover"].values) == 0
        ax.imshow(np.where(water, 1.0, np.nan), cmap=mpl.colors.ListedColormap(["#cfe3ef"]), extent=extent, interpolation="nearest", origin="upper")
    if "landscape_country" in ds:
        c = np.asarray(ds["landscape_country"].values, float)
        xs = np.linspace(extent[0], extent[1], c.shape[1])
        ys = np.linspace(extent[3], extent[2], c.shape[0])
        if np.unique(c[c >= 0]).size > 1:
            ax.contour(xs, ys, c, levels=[0.5], colors="#444444", linewidths=0.8, linestyles="--")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def plot_maps(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Maps of a spatial run: per scenario (rows) occupancy, burn probability, mean prey and
    forest lost, each over replicates and years, on one colour scale per column."""
    if "occupancy" not in ds or "y" not in ds["occupancy"].dims:
        return None
    names = _scenario_names(ds)[:MAX_MAP_ROWS]
    extent = _map_extent(ds)
    water = np.asarray(ds["landscape_cover"].values) == 0 if "landscape_cover" in ds else None
    aspect = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-9)
    w = 2.6
    with mpl.rc_context(_RC):
        fig = _new_figure(w * len(MAP_PANELS) + 0.4, (w * aspect + 0.35) * len(names) + 0.9)
        axes = fig.subplots(len(names), len(MAP_PANELS), squeeze=False)
        for j, (var, title, unit, cmap, fixed) in enumerate(MAP_PANELS):
            vals = np.asarray(ds[var].sel(scenario=names).values, float)
            lo, hi = fixed if fixed else (0.0, float(np.nanmax(vals)) if np.isfinite(np.nanmax(vals)) and np.nanmax(vals) > 0 else 1.0)
            for i, name in enumerate(names):
                ax = axes[i, j]
                v = vals[i]
                if water is not None:
                    v = np.where(water, np.nan, v)
                im = ax.imshow(v, cmap=cmap, vmin=lo, vmax=hi, extent=extent, interpolation="nearest", origin="upper")
                _map_context(ax, ds, extent)
                if i == 0:
                    ax.set_title(title)
                if j == 0:
                    ax.set_ylabel(plain(name, 24), color=colors.get(name, "black"))
            cb = fig.colorbar(im, ax=axes[:, j], orientation="horizontal", shrink=0.85, pad=0.02)
            cb.set_label(unit, fontsize=8)
            cb.ax.tick_params(labelsize=8)
        png = _render(fig)
    T = ds.sizes["year"] - 1
    more = f" Only the first {MAX_MAP_ROWS} scenarios are drawn." if ds.sizes["scenario"] > MAX_MAP_ROWS else ""
    caption = (
        f"Per cell of the landscape, over {_n_replicates(ds)} replicates and {T} years: the probability that the cell lies "
        "in a resident leopard's home range at the end of a year, that it burns in a year, the mean prey density, and the probability that a "
        "forest cell (mixed or oak) at the start is no forest at the end (burned to shrub and grass, cleared, logged). "
        f"Light blue: water; dashed line: the border. Each column has one colour scale for all scenarios.{more}"
    )
    return FigureSpec("maps", "Maps: where the leopards live, what burns, prey and forest", caption, png)


def plot_frames(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Small multiples of one replicate of the first scenario: the cover with that year's
    fires, the prey and the home ranges in four years of the run (re-simulated from the stored
    scenario and seed: replicate 0 of the run, to the bit)."""
    if "occupancy" not in ds or "posterior" in ds.attrs:
        return None  # not a spatial run, or its replicates ran with drawn parameter sets
    from ..landscape.maps import COVER_COLOURS
    from ..landscape.layers import COVER_CODES
    from ..scenario.schema import Scenario
    from ..spatial import frames

    name = _scenario_names(ds)[0]
    try:
        sc = Scenario.model_validate(json.loads(ds.attrs["scenarios"])[name])
        fr = frames(sc, int(ds.attrs["seed"]), 0)
    except (KeyError, ValueError, OSError):
        return None  # e.g. a landscape folder that is not where it was when the run was made
    extent = _map_extent(ds)
    codes = sorted(COVER_CODES)
    cover_cmap = mpl.colors.ListedColormap([COVER_COLOURS[COVER_CODES[k]] for k in codes])
    cover_norm = mpl.colors.BoundaryNorm(np.arange(len(codes) + 1) - 0.5, cover_cmap.N)
    range_cmap = mpl.colors.ListedColormap(["#f4a582", "#92c5de", "#5e3c99"])
    prey_max = max(float(np.max(p)) for p in fr["prey"]) or 1.0
    aspect = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-9)
    k = len(fr["t"])
    w = 2.5
    with mpl.rc_context(_RC):
        fig = _new_figure(w * 3 + 0.4, (w * aspect + 0.35) * k + 1.0)
        axes = fig.subplots(k, 3, squeeze=False)
        for i in range(k):
            a0, a1, a2 = axes[i]
            a0.imshow(fr["cover"][i], cmap=cover_cmap, norm=cover_norm, extent=extent, interpolation="nearest")
            a0.imshow(np.where(fr["burned"][i], 1.0, np.nan), cmap=mpl.colors.ListedColormap(["#000000"]), extent=extent, interpolation="nearest")
            water = fr["cover"][i] == 0
            im = a1.imshow(np.where(water, np.nan, fr["prey"][i]), cmap="Greens", vmin=0, vmax=prey_max, extent=extent, interpolation="nearest")
            rg = np.where(fr["ranges"][i] < 0, np.nan, fr["ranges"][i]).astype(float)
            a2.imshow(np.where(water, 1.0, np.nan), cmap=mpl.colors.ListedColormap(["#cfe3ef"]), extent=extent, interpolation="nearest")
            a2.imshow(rg, cmap=range_cmap, vmin=-0.5, vmax=2.5, extent=extent, interpolation="nearest")
            for ax in (a0, a1, a2):
                _map_context(ax, ds, extent) if ax is not a0 else (ax.set_xticks([]), ax.set_yticks([]), ax.grid(False))
            a0.set_ylabel(f"{fr['year'][i]}\n{fr['animals'][i]} animals")
            if i == 0:
                a0.set_title("Cover, fires of the year (black)")
                a1.set_title("Prey")
                a2.set_title("Home ranges")
        cb = fig.colorbar(im, ax=axes[:, 1], orientation="horizontal", shrink=0.85, pad=0.02)
        cb.set_label("roe-deer eq. per km²", fontsize=8)
        handles = [Patch(color=COVER_COLOURS[COVER_CODES[c]], label=COVER_CODES[c].replace("_", " ")) for c in codes if c]
        handles += [Patch(color="#000000", label="burned this year"), Patch(color="#f4a582", label="female range"),
                    Patch(color="#92c5de", label="male range"), Patch(color="#5e3c99", label="female and male")]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False, fontsize=8)
        png = _render(fig)
    caption = (
        f"One replicate (replicate 0 of '{plain(name, 40)}', seed {int(ds.attrs['seed'])}) in {k} years of the run: the cover with the "
        "cells that burned that year, the prey at the year's end, and the home ranges of the residents (female ranges do not overlap "
        "each other, male ranges neither; a male's overlaps the females' he may sire with)."
    )
    return FigureSpec("one-replicate", "One replicate year by year: fires, prey, home ranges", caption, png)


def plot_landscape_series(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Area burned per year and forest area over time, median over replicates per scenario."""
    if "burned_km2" not in ds:
        return None
    names = _scenario_names(ds)
    years = _years(ds)
    with mpl.rc_context(_RC):
        fig = _new_figure(9.2, 3.4)
        axes = fig.subplots(1, 3, squeeze=False).ravel()
        series = (("burned_km2", "Area burned (km² per year)", True), ("forest_km2", "Forest (km²)", False), ("residents", "Leopards holding a range", False))
        for ax, (var, label, skip_first) in zip(axes, series):
            total = ds[var].sum("population")
            for i, name in enumerate(names):
                v = np.asarray(total.sel(scenario=name).values, float)
                med = np.median(v, axis=0)
                lo, hi = np.percentile(v, [10, 90], axis=0)
                sl = slice(1, None) if skip_first else slice(None)
                ax.plot(years[sl], med[sl], color=colors[name], lw=2.0, ls=_linestyle(i))
                if len(names) <= MAX_BANDED:
                    ax.fill_between(years[sl], lo[sl], hi[sl], color=colors[name], alpha=0.15, lw=0)
            ax.set_title(label)
            ax.set_ylim(bottom=0)
            _year_axis(ax, years)
        _legend_below(fig, _legend_handles(names, colors))
        png = _render(fig)
    caption = (
        "The landscape over time: area that burned each year, area of forest (mixed and oak), and leopards that hold a "
        "home range (residents), all populations together; median over replicates, band 10–90 %."
    )
    return FigureSpec("landscape-series", "The landscape over time: fire, forest, residents", caption, png)


def monitoring_summary(ds: xr.Dataset) -> dict[str, dict] | None:
    """Per scenario with simulated surveys ([landscape.monitoring]): the number of surveys,
    of those with an estimate, the mean N̂ / N and how many 95 % intervals covered N."""
    if "survey_N_true" not in ds:
        return None
    out = {}
    for name in _scenario_names(ds):
        t = np.asarray(ds["survey_N_true"].sel(scenario=name).values, float)
        h = np.asarray(ds["survey_N_hat"].sel(scenario=name).values, float)
        lo = np.asarray(ds["survey_N_lcl"].sel(scenario=name).values, float)
        hi = np.asarray(ds["survey_N_ucl"].sel(scenario=name).values, float)
        surveyed = np.isfinite(t)
        if not surveyed.any():
            continue
        est = surveyed & np.isfinite(h) & (t > 0)
        ci = est & np.isfinite(lo) & np.isfinite(hi)
        out[name] = {
            "surveys": int(surveyed.sum()),
            "estimates": int(est.sum()),
            "mean_ratio": float(np.mean(h[est] / t[est])) if est.any() else float("nan"),
            "covered": int(((lo <= t) & (t <= hi))[ci].sum()),
            "with_interval": int(ci.sum()),
        }
    return out or None


def plot_monitoring(ds: xr.Dataset, colors: Mapping[str, str]) -> FigureSpec | None:
    """Simulated camera-trap surveys: the SECR estimate N̂ with its 95 % interval beside the true
    number N on the survey's mask, year by year, for each surveyed replicate."""
    stats = monitoring_summary(ds)
    if stats is None:
        return None
    names = list(stats)
    years = _years(ds)
    nrow, ncol = _grid(len(names), max_cols=2)
    with mpl.rc_context(_RC):
        fig = _new_figure(4.8 * ncol + 0.6, 3.4 * nrow + 0.6)
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax, name in zip(axes, names):
            t = np.asarray(ds["survey_N_true"].sel(scenario=name).values, float)
            h = np.asarray(ds["survey_N_hat"].sel(scenario=name).values, float)
            lo = np.asarray(ds["survey_N_lcl"].sel(scenario=name).values, float)
            hi = np.asarray(ds["survey_N_ucl"].sel(scenario=name).values, float)
            reps = [r for r in range(t.shape[0]) if np.isfinite(t[r]).any()]
            step = float(np.median(np.diff(years))) if len(years) > 1 else 1.0
            width = 0.6 * step * max(1, int(np.nanmin(np.diff(np.flatnonzero(np.isfinite(t[reps[0]]))))) if np.isfinite(t[reps[0]]).sum() > 1 else 1)
            for j, r in enumerate(reps):
                dx = (j - (len(reps) - 1) / 2) * width / max(len(reps), 1)
                yr = np.isfinite(t[r])
                ax.plot(years[yr] + dx, t[r, yr], ls="none", marker="_", ms=9, mew=2.0, color="#333333",
                        label="true N on the mask" if j == 0 else None)
                ok = yr & np.isfinite(h[r])
                err = np.vstack([h[r, ok] - np.where(np.isfinite(lo[r, ok]), lo[r, ok], h[r, ok]),
                                 np.where(np.isfinite(hi[r, ok]), hi[r, ok], h[r, ok]) - h[r, ok]])
                ax.errorbar(years[ok] + dx, h[r, ok], yerr=err, fmt="o", ms=4, lw=1.2, capsize=2, color=colors[name],
                            label="SECR estimate N̂, 95 % interval" if j == 0 else None)
            st = stats[name]
            ax.set_title(plain(f"{name}: {len(reps)} surveyed replicate{'s' if len(reps) != 1 else ''}", 40))
            ax.set_ylabel("independent leopards on the mask")
            ax.set_ylim(bottom=0)
            _year_axis(ax, years)
            ax.text(0.02, 0.03, f"N̂/N mean {st['mean_ratio']:.2f}; interval covers N in {st['covered']} of {st['with_interval']}",
                    transform=ax.transAxes, fontsize=8, color="#444444")
        for ax in axes[len(names):]:
            ax.set_visible(False)
        axes[0].legend(loc="upper left", fontsize=8, frameon=False)
        png = _render(fig)
    caption = (
        "Simulated camera-trap surveys ([landscape.monitoring]): in each survey year the surveyed replicates are "
        "photographed at the camera stations, the photographs go through the photo-ID error model and the detection "
        "histories are fitted by SECR (null model, half-normal). Dots: the estimate N̂ = D̂ × mask area with its 95 % "
        "interval, one per surveyed replicate (offset sideways); bars: the true number of independent leopards whose "
        "activity centres lie on the mask. The estimate assumes one density over the whole mask: where leopards are "
        "denser under the cameras than at the mask's edge it overestimates N (docs/model.md)."
    )
    return FigureSpec("monitoring", "Camera-trap surveys: estimated against true numbers", caption, png)


def make_figures(
    ds: xr.Dataset,
    comparison=None,
    *,
    colors: Mapping[str, str] | None = None,
    baseline: str | None = None,
) -> list[FigureSpec]:
    """All figures that apply to *ds* (and *comparison*), in report order."""
    colors = dict(colors) if colors is not None else scenario_colors(_scenario_names(ds))
    figs: list[FigureSpec | None] = [
        plot_trajectories(ds, colors),
        plot_extinction(ds, colors),
        plot_populations(ds, colors),
        plot_genetics(ds, colors),
        plot_deaths_by_cause(ds, colors),
        plot_maps(ds, colors),
        plot_landscape_series(ds, colors),
        plot_frames(ds, colors),
        plot_monitoring(ds, colors),
        plot_sweep(ds, colors),
        plot_comparison(comparison, colors, baseline, currency=report_currency(ds, comparison)),
    ]
    return [f for f in figs if f is not None]
