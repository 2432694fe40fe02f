"""Figures of a calibration (`pardus calibrate`): posterior marginals and the posterior
predictive against the census record. Both take the posterior Dataset
(:func:`pardus.calibration.to_dataset` with :func:`~pardus.calibration.add_predictive`)."""

from __future__ import annotations

import json

import numpy as np
import matplotlib as mpl

from .figures import SCENARIO_PALETTE, FigureSpec, _grid, _new_figure, _render, _RC, plain


def _short(key: str) -> str:
    parts = key.split(".")
    return ".".join(parts[-3:]) if len(parts) > 3 else key


def plot_marginals(ds) -> FigureSpec:
    """One panel per parameter: the weighted posterior histogram over its prior range."""
    from ..calibration import weighted_quantiles

    keys = [str(k) for k in ds.parameter.values]
    w = ds["weight"].values
    nrows, ncols = _grid(len(keys), 4)
    with mpl.rc_context(_RC):
        fig = _new_figure(2.6 * ncols, 2.0 * nrows + 0.3)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for j, key in enumerate(keys):
            ax = axes.flat[j]
            x = ds["value"].values[:, j]
            a, b = float(ds["prior_low"].values[j]), float(ds["prior_high"].values[j])
            integer = bool(ds["integer"].values[j])
            bins = np.arange(np.floor(a) - 0.5, np.ceil(b) + 1.0) if integer and b - a <= 40 else np.linspace(a, b, 13)
            ax.hist(x, bins=bins, weights=w, density=True, color=SCENARIO_PALETTE[0], alpha=0.75, label="posterior")
            ax.axhline(1.0 / (b - a), color="#555555", lw=1.2, ls="--", label="prior")
            lo, med, hi = weighted_quantiles(x, w, [0.05, 0.5, 0.95])
            ax.axvline(med, color=SCENARIO_PALETTE[1], lw=1.5, label="posterior median")
            ax.axvspan(lo, hi, color=SCENARIO_PALETTE[1], alpha=0.12, lw=0, label="90 % interval")
            ax.set_xlim(a, b)
            ax.set_title(plain(_short(key), 34), fontsize=9)
            ax.set_yticks([])
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=4))
        for ax in list(axes.flat)[len(keys):]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False)
        png = _render(fig)
    eps = ds["epsilon"].values
    caption = (
        f"Posterior of {ds.attrs['scenario_name']} calibrated to {ds.attrs['record']}: weighted histogram of the "
        f"{ds.sizes['particle']} particles of the last generation (ε = {eps[-1]:.3g}), median (line) and 90 % interval (shaded); "
        f"the dashed line is the uniform prior over the parameter's range. Stopped: {ds.attrs['stopped']}."
    )
    return FigureSpec("posterior-marginals", "Calibrated parameters", caption, png)


def plot_predictive(ds) -> FigureSpec | None:
    """Per counted series: simulated bands over the years with the record's counts."""
    if "predictive" not in ds:
        return None
    labels = [str(s) for s in ds.series.values]
    years = ds.predictive_year.values
    q = ds["predictive"].values  # series × year × quantile
    nrows, ncols = _grid(len(labels), 2)
    with mpl.rc_context(_RC):
        fig = _new_figure(4.6 * ncols, 3.0 * nrows + 0.3)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for s, label in enumerate(labels):
            ax = axes.flat[s]
            c = SCENARIO_PALETTE[0]
            ax.fill_between(years, q[s, :, 0], q[s, :, 4], color=c, alpha=0.15, lw=0, label="90 % of replicates")
            ax.fill_between(years, q[s, :, 1], q[s, :, 3], color=c, alpha=0.3, lw=0, label="50 %")
            ax.plot(years, q[s, :, 2], color=c, lw=1.8, label="median")
            mine = np.flatnonzero(ds["count_series"].values == s)
            for i in mine:
                y = float(ds["count_year"].values[i])
                lo, hi = float(ds["count_low"].values[i]), float(ds["count_high"].values[i])
                mid = float(ds["count_value"].values[i])
                inside = bool(ds["count_inside"].values[i])
                color = "#000000" if inside else SCENARIO_PALETTE[1]
                ax.errorbar([y], [mid], yerr=[[mid - lo], [hi - mid]], fmt="o", ms=4, color=color, capsize=3, lw=1.4)
            ax.set_title(plain(label, 50))
            ax.set_xlabel("Year")
            ax.set_ylabel("Animals")
            ax.set_xlim(years[0], years[-1])
            ax.set_ylim(bottom=0)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=6, integer=True))
        for ax in list(axes.flat)[len(labels):]:
            ax.set_visible(False)
        from matplotlib.lines import Line2D

        handles, labs = axes.flat[0].get_legend_handles_labels()
        handles.append(Line2D([], [], marker="o", color="#000000", ls="", label="count (inside the 90 % band)"))
        handles.append(Line2D([], [], marker="o", color=SCENARIO_PALETTE[1], ls="", label="count (outside)"))
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
        png = _render(fig)
    inside = int(ds["count_inside"].values.sum())
    caption = (
        f"Posterior predictive of {ds.attrs['scenario_name']}: {ds.attrs.get('predictive_replicates', '?')} replicates, each with a parameter "
        f"set drawn from the posterior; the counted class (all ages, independent animals or adults) summed over what each count covers. "
        f"Counts of {ds.attrs['record']} with their range or interval: {inside} of {ds.sizes['count']} inside the simulated 90 % band."
    )
    return FigureSpec("posterior-predictive", "Calibrated history against the record", caption, png)


def calibration_figures(ds) -> list[FigureSpec]:
    return [f for f in (plot_marginals(ds), plot_predictive(ds)) if f is not None]


def summary_json(ds) -> str:
    """What a results file keeps of its posterior (for its report): the parameter summary."""
    from ..calibration import summary_rows

    return json.dumps({"scenario": ds.attrs["scenario_name"], "record": ds.attrs["record"], "stopped": ds.attrs["stopped"], "parameters": summary_rows(ds)})


def plot_sensitivity(rows: list[dict], method: str, scenario: str, runs: int, replicates: int) -> FigureSpec | None:
    """Tornado-style bars per outcome: Sobol' total-order (and first-order) indices with their
    95 % bootstrap intervals, or Morris μ* with its interval; parameters sorted by their
    largest index."""
    from ..sensitivity import OUTCOMES

    outcomes = [o for o in OUTCOMES if any(r["outcome"] == o and r["varies"] for r in rows)]
    if not outcomes:
        return None
    keys = list(dict.fromkeys(r["parameter"] for r in rows))
    main, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    top = {k: max((abs(r.get(main, 0.0)) for r in rows if r["parameter"] == k and r["varies"]), default=0.0) for k in keys}
    order = sorted(keys, key=lambda k: top[k])
    ncols = min(len(outcomes), 2)
    nrows = -(-len(outcomes) // ncols)
    height = 0.32 * len(keys) + 1.0
    with mpl.rc_context(_RC):
        fig = _new_figure(5.2 * ncols, height * nrows + 0.5)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, outcome in enumerate(outcomes):
            ax = axes.flat[i]
            by = {r["parameter"]: r for r in rows if r["outcome"] == outcome and r["varies"]}
            y = np.arange(len(order))
            v = np.array([by[k][main] if k in by else 0.0 for k in order])
            e = np.array([by[k][conf] if k in by else 0.0 for k in order])
            ax.barh(y, v, xerr=e, color=SCENARIO_PALETTE[0], alpha=0.85, height=0.6, capsize=2, label="total order" if method == "sobol" else "μ*")
            if method == "sobol":
                s1 = np.array([by[k]["S1"] if k in by else 0.0 for k in order])
                ax.scatter(s1, y, color=SCENARIO_PALETTE[1], zorder=3, s=14, label="first order")
                ax.set_xlim(left=min(0.0, float(np.min(s1 - 0.05))), right=max(1.05, float(np.max(v + e)) + 0.05))
            ax.set_yticks(y)
            ax.set_yticklabels([plain(_short(k), 34) for k in order] if i % ncols == 0 else [])
            ax.set_title(OUTCOMES[outcome])
            ax.grid(axis="y", visible=False)
        for ax in list(axes.flat)[len(outcomes):]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
        png = _render(fig)
    what = "Sobol' total-order indices (bars) and first-order indices (dots)" if method == "sobol" else "Morris μ* (mean absolute elementary effect)"
    caption = f"Sensitivity of {scenario}: {what} with 95 % bootstrap intervals; {runs} parameter sets × {replicates} replicates (common random numbers)."
    return FigureSpec("sensitivity", "Which uncertain parameters matter", caption, png)
