"""The self-contained HTML report and its atomic writing.

:func:`build_report` renders the figures (see :mod:`pardus.report.figures`),
formats the summary and comparison tables for humans, embeds every figure as a
base64 ``data:`` URI (so the single HTML file works when mailed) and also saves
the PNGs in ``figures/`` next to it.  Everything is first written to a temporary
directory next to the output directory and then renamed into place, so an
interrupted run never leaves a half-written report behind.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import tempfile
import uuid
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..fileio import current_umask
from .. import results
from .figures import (
    EXTINCTION_RULES,
    FigureSpec,
    extinction_definitions,
    extinction_rule as figures_rule,
    make_figures,
    report_currency,
    scenario_colors,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_report", "render_html", "REPORT_FILENAME", "FIGURES_DIRNAME"]

REPORT_FILENAME = "report.html"
FIGURES_DIRNAME = "figures"
DASH = "—"
MINUS = "\u2212"
UNKNOWN_CURRENCY = "currency units"  # results written before pardus stored run.currency

# --------------------------------------------------------------------------- formatting


def esc(value: object) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too)."""
    return escape(str(value), quote=True)


def _float(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _ok(x: Any) -> bool:
    return math.isfinite(_float(x))


def fmt_num(x: Any, digits: int = 3, *, signed: bool = False, thousands: bool = False) -> str:
    """Number with *digits* decimals; NaN/None → "—"; a real minus sign."""
    v = _float(x)
    if not math.isfinite(v):
        return DASH
    if v == 0:
        v = 0.0  # no "-0.000"
    spec = f"{'+' if signed else ''}{',' if thousands else ''}.{digits}f"
    s = format(v, spec)
    if s.lstrip("+-").strip("0.,") == "" and signed:
        s = s.lstrip("+-")  # "+0.000" / "-0.000" → "0.000"
    return s.replace("-", MINUS)


def fmt_int(x: Any) -> str:
    v = _float(x)
    return DASH if not math.isfinite(v) else f"{int(round(v)):,}"


def fmt_pm(x: Any, se: Any, digits: int = 3, *, signed: bool = False) -> str:
    """"0.123 ± 0.010" (the ± part left out when the SE is unknown)."""
    if not _ok(x):
        return DASH
    s = fmt_num(x, digits, signed=signed)
    return f"{s} ± {fmt_num(se, digits)}" if _ok(se) else s


def fmt_mean_sd(mean: Any, sd: Any, digits: int = 1) -> str:
    """"45.2 (12.3)" = mean (SD)."""
    if not _ok(mean):
        return DASH
    s = fmt_num(mean, digits, thousands=True)
    return f"{s} ({fmt_num(sd, digits, thousands=True)})" if _ok(sd) else s


def fmt_ci(lo: Any, hi: Any, digits: int = 3) -> str:
    if not (_ok(lo) and _ok(hi)):
        return DASH
    return f"[{fmt_num(lo, digits, signed=True)}, {fmt_num(hi, digits, signed=True)}]"


def fmt_money(x: Any, currency: str | None = None) -> str:
    """"USD 4,500,000": whole units with thousands separators, after the currency when one is
    known ("currency units" or None: the number alone)."""
    v = _float(x)
    if not math.isfinite(v):
        return DASH
    s = fmt_num(v, 0, thousands=True)
    return f"{currency} {s}" if currency and currency != UNKNOWN_CURRENCY else s


def _sort_key(x: Any) -> str:
    """data-sort value: the raw number ("" when missing, sorted last)."""
    v = _float(x)
    return repr(v) if math.isfinite(v) else ""


# --------------------------------------------------------------------------- tables

Row = Mapping[str, Any]
# (header, tooltip, cell(row) -> (text, sort key))
Column = tuple[str, str, Callable[[Row], tuple[str, str]]]


def _g(row: Row, key: str) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError):
        return math.nan


def _num_col(key: str, digits: int) -> Callable[[Row], tuple[str, str]]:
    return lambda r: (fmt_num(_g(r, key), digits), _sort_key(_g(r, key)))


def summary_outcome_columns(currency: str = UNKNOWN_CURRENCY, extinction: str = EXTINCTION_RULES["one_sex"]) -> list[Column]:
    """The columns of the extinction-risk and population-size table; *currency* names the
    money, *extinction* says what counts as extinct."""
    return [
        ("Replicates", "Number of replicate runs", lambda r: (fmt_int(_g(r, "replicates")), _sort_key(_g(r, "replicates")))),
        ("Years", "Number of simulated years", lambda r: (fmt_int(_g(r, "years")), _sort_key(_g(r, "years")))),
        ("P(extinction) ± SE", f"Probability that the population went extinct ({extinction}) at some point by the last year, ± its standard error",
         lambda r: (fmt_pm(_g(r, "PE"), _g(r, "PE_se")), _sort_key(_g(r, "PE")))),
        ("P(quasi-extinction)", "Probability of falling below the quasi-extinction threshold (shown in brackets, individuals) at least once",
         lambda r: (
             fmt_num(_g(r, "quasi_PE"))
             + (f" (N < {fmt_int(_g(r, 'quasi_threshold'))})" if _ok(_g(r, "quasi_threshold")) and _ok(_g(r, "quasi_PE")) else ""),
             _sort_key(_g(r, "quasi_PE")))),
        ("Median time to extinction (years)", "Median years until extinction; — when fewer than half of the replicates went extinct",
         _num_col("median_TE", 1)),
        ("Mean time to extinction (years)", "Mean years until extinction among the replicates that went extinct; — when none did",
         _num_col("mean_TE", 1)),
        ("Final N, all runs: mean (SD)", "Population size in the last year over all replicates, extinct ones included: mean (standard deviation)",
         lambda r: (fmt_mean_sd(_g(r, "N_mean"), _g(r, "N_sd")), _sort_key(_g(r, "N_mean")))),
        ("Final N, surviving runs: mean (SD)", "Population size in the last year over the replicates still extant: mean (standard deviation)",
         lambda r: (fmt_mean_sd(_g(r, "N_extant_mean"), _g(r, "N_extant_sd")), _sort_key(_g(r, "N_extant_mean")))),
        ("Mean total cost", f"Mean money spent on interventions over the whole run, in {currency}",
         lambda r: (fmt_money(_g(r, "total_cost_mean"), currency), _sort_key(_g(r, "total_cost_mean")))),
    ]


SUMMARY_OUTCOME_COLUMNS: list[Column] = summary_outcome_columns()

SUMMARY_GROWTH_COLUMNS: list[Column] = [
    ("Stochastic r: mean (SD)", "Mean (standard deviation) of the realised yearly growth rate r = ln(N(t+1)/N(t)), before carrying-capacity truncation",
     lambda r: (fmt_mean_sd(_g(r, "r_stoch"), _g(r, "r_stoch_sd"), 3), _sort_key(_g(r, "r_stoch")))),
    ("Deterministic r", "Growth rate expected from the mean vital rates alone (no randomness, no density effects)", _num_col("r_det", 3)),
    ("Deterministic λ", "Yearly growth factor λ = e^r from the mean vital rates", _num_col("lambda_det", 3)),
    ("R0", "Net reproductive rate: female offspring per female per generation", _num_col("R0", 2)),
    ("Generation time (years)", "Mean age of parents at the birth of their offspring", _num_col("generation_time", 1)),
    ("Gene diversity, start", "Expected heterozygosity at the start (0–1)", _num_col("GD_initial", 3)),
    ("Gene diversity, end", "Expected heterozygosity in the last year, mean over surviving replicates (0–1)", _num_col("GD_final", 3)),
    ("Gene diversity retained", "Final gene diversity as a share of the initial one", _num_col("GD_retained", 3)),
]

def comparison_columns(currency: str = UNKNOWN_CURRENCY) -> list[Column]:
    """The columns of the comparison table; *currency* names the money."""
    return [
        ("ΔP(extinction) ± SE", "Scenario minus baseline probability of extinction, ± standard error (negative = safer)",
         lambda r: (fmt_pm(_g(r, "dPE"), _g(r, "dPE_se"), signed=True), _sort_key(_g(r, "dPE")))),
        ("95 % CI of ΔP(extinction)", "95 % confidence interval of the difference; if it contains 0 the difference is not clear",
         lambda r: (fmt_ci(_g(r, "dPE_ci_low"), _g(r, "dPE_ci_high")), _sort_key(_g(r, "dPE_ci_low")))),
        ("ΔN final ± SE", "Difference in mean final population size (individuals), ± standard error",
         lambda r: (fmt_pm(_g(r, "dN_mean"), _g(r, "dN_se"), 1, signed=True), _sort_key(_g(r, "dN_mean")))),
        ("Δ gene diversity ± SE", "Difference in final gene diversity, ± standard error",
         lambda r: (fmt_pm(_g(r, "dGD"), _g(r, "dGD_se"), 4, signed=True), _sort_key(_g(r, "dGD")))),
        ("Extra cost", f"Mean extra money spent compared with the baseline, in {currency}",
         lambda r: (fmt_money(_g(r, "extra_cost"), currency), _sort_key(_g(r, "extra_cost")))),
        (f"ΔP(extinction) per million {currency}", f"Change in probability of extinction per million {currency} of extra cost (more negative = better value); — without extra cost",
         lambda r: (fmt_num(_g(r, "dPE_per_million"), 4, signed=True), _sort_key(_g(r, "dPE_per_million")))),
    ]


COMPARISON_COLUMNS: list[Column] = comparison_columns()


def _sweep_cell(key: str) -> Callable[[Row], tuple[str, str]]:
    def cell(r: Row) -> tuple[str, str]:
        v = _g(r, key)
        if isinstance(v, str):
            return (v or DASH, v)
        return (f"{_float(v):g}" if _ok(v) else DASH, _sort_key(v))

    return cell


def sweep_columns(keys: Sequence[str]) -> list[Column]:
    """One column per swept dotted key (results of a ``[sweep]``): the scenario's value."""
    return [(k, f"Swept parameter {k}: its value in this scenario ([sweep] of the scenario file); — = not part of the sweep", _sweep_cell(k)) for k in keys]


def _scenario_cell(name: str, colors: Mapping[str, str], baseline: str | None) -> str:
    sw = f'<span class="swatch" style="background:{esc(colors.get(name, "#888888"))}"></span>'
    tag = ' <span class="baseline-tag">(baseline)</span>' if baseline is not None and name == baseline else ""
    return f"{sw}{esc(name)}{tag}"


def render_table(
    frame, columns: Sequence[Column], *, table_id: str, caption: str,
    colors: Mapping[str, str], baseline: str | None = None,
) -> str:
    """A sortable HTML table: one row per index entry of *frame* (scenario names)."""
    head = ['<th scope="col" title="Scenario name">Scenario</th>']
    head += [f'<th scope="col" title="{esc(tip)}">{esc(h)}</th>' for h, tip, _ in columns]
    body = []
    for name, row in frame.iterrows():
        name = str(name)
        cells = [f'<th scope="row" data-sort="{esc(name)}">{_scenario_cell(name, colors, baseline)}</th>']
        for _, _, fn in columns:
            text, key = fn(row)
            cells.append(f'<td data-sort="{esc(key)}">{esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table-wrap"><table class="data sortable" id="{esc(table_id)}">'
        f"<caption class=\"visually-hidden\">{esc(caption)}</caption>"
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- page

_SCRIPT = r"""
(function () {
  "use strict";
  function num(v) { return (v !== null && v.trim() !== "" && !isNaN(Number(v))) ? Number(v) : null; }
  function cmp(a, b, asc) {
    var va = a ? a.getAttribute("data-sort") : null, vb = b ? b.getAttribute("data-sort") : null;
    if (va === null && a) { va = a.textContent; }
    if (vb === null && b) { vb = b.textContent; }
    va = va || ""; vb = vb || "";
    if (va === "" && vb === "") { return 0; }
    if (va === "") { return 1; }          /* missing values always last */
    if (vb === "") { return -1; }
    var na = num(va), nb = num(vb), r;
    if (na !== null && nb !== null) { r = na - nb; } else { r = va.localeCompare(vb); }
    return asc ? r : -r;
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, idx) {
      th.tabIndex = 0;
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) { return cmp(a.cells[idx], b.cells[idx], asc); });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
})();
"""

_HOWTO_TEMPLATE = """
<ul class="howto">
<li><b>What was simulated.</b> Every scenario was run many times (<i>replicates</i>) with the
same starting animals and rules but different chance events: births, deaths, poaching, disease
outbreaks, bad prey years. The spread of the replicates shows how uncertain the future is;
a single replicate is one possible future, not a forecast.</li>
<li><b>Extinction.</b> {extinction} <i>P(extinction)</i> is the share of replicates that went extinct at some
point during the run (a population later re-founded by releases still counts), with its standard error (± SE); the true value lies, with about 95 % confidence, within ±2 SE of it.
<i>Quasi-extinction</i> uses a higher threshold: the population fell below that many animals at
least once, which already means it is in deep trouble.</li>
<li><b>Population size.</b> <i>N</i> is the number of animals of all ages. “mean (SD)” is the
mean over replicates followed by the standard deviation, which measures how much the replicates
differ. “Surviving runs” leaves out replicates that went extinct.</li>
<li><b>Growth.</b> <i>r</i> is the yearly growth rate (0 = stable, &gt; 0 growing, &lt; 0
declining); the deterministic values come from average vital rates, the stochastic one from the
simulated years, and is usually lower because bad years hurt more than good years help.</li>
<li><b>Genetics.</b> <i>Gene diversity</i> (0–1) is lost in small populations and with it the
ability to adapt; <i>inbreeding F</i> is how related an animal’s parents are, and inbred animals
survive and breed less.</li>
<li><b>Comparing scenarios.</b> Replicate <i>i</i> of every scenario faced the same random events,
so differences to the baseline are computed replicate by replicate and are much more precise
than comparing two separate summary numbers. A difference whose 95 % interval contains 0 is not
clearly different from the baseline.</li>
<li><b>Money.</b> Every cost is in {currency}. <i>Mean total cost</i> is what the
interventions of a scenario cost over the whole run, averaged over replicates; <i>extra cost</i>
is that minus the baseline's.</li>
<li><b>Tables.</b> Click a column heading to sort; hover over it for an explanation.
“—” means a value is undefined (for example, time to extinction when no replicate went extinct).</li>
</ul>
"""


_RULE_SENTENCES = {
    "one_sex": ("as soon as no animals, or animals of only one sex, are left (<code>run.extinction = "
                "\"one_sex\"</code>, Vortex’s rule: one sex alone cannot breed)"),
    "no_animals": ("only when no animal at all is left; animals of one sex alone still count as a "
                   "population (<code>run.extinction = \"no_animals\"</code>)"),
}


def extinction_sentence(ds: xr.Dataset) -> str:
    """The HTML sentence that says when a replicate counts as extinct, following each
    scenario's ``run.extinction`` (names the scenarios when they use different rules)."""
    defs = extinction_definitions(ds)
    kinds = list(dict.fromkeys(defs.values())) or ["one_sex"]
    if len(kinds) == 1:
        return f"A replicate counts as extinct {_RULE_SENTENCES[kinds[0]]}."
    parts = []
    for k in kinds:
        names = [n for n, v in defs.items() if v == k]
        label = "scenario" if len(names) == 1 else "scenarios"
        parts.append(f"in {label} {', '.join('“' + esc(n) + '”' for n in names)} a replicate counts as "
                     f"extinct {_RULE_SENTENCES[k]}")
    return "The scenarios use different extinction rules: " + "; ".join(parts) + "."


def _howto(ds: xr.Dataset, currency: str) -> str:
    money = "the currency the scenarios name (not stored in this results file)" if currency == UNKNOWN_CURRENCY else f"<b>{esc(currency)}</b>"
    text = _HOWTO_TEMPLATE.format(extinction=extinction_sentence(ds), currency=money)
    if int(ds.attrs.get("spatial", 0) or 0):
        text = text.replace("</ul>", _HOWTO_MAP + "</ul>")
    return text


_HOWTO_MAP = """<li><b>The map.</b> These scenarios ran on a landscape: fires, forest succession, prey in
every cell, home ranges, dispersal over roads. The maps show, for each cell over all replicates
and years, how likely it is to lie in a leopard's home range, to burn, how much prey it holds and
whether its forest was lost; the small multiples follow one replicate year by year. The
presets on the map are calibrated on the map (amur-history against the census record); a
scenario on the map compares with another on the map, not with the numbers of the non-spatial
form, whose populations are well mixed and capped by a carrying capacity. The deterministic
growth rates come from the vital rates alone, before prey and home ranges limit the population.</li>
"""


def _attr(ds: xr.Dataset, key: str, default: str = "unknown") -> str:
    v = ds.attrs.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    return str(v)


def _year_range(ds: xr.Dataset) -> str:
    years = np.asarray(ds["year"].values) if "year" in ds.coords else np.array([])
    if years.size == 0:
        return "unknown"
    n_sim = max(0, years.size - 1)
    return f"{n_sim} simulated year{'s' if n_sim != 1 else ''} ({years[0]}–{years[-1]}; {years[0]} is the initial census)"


def _scenario_definitions(ds: xr.Dataset) -> str:
    raw = ds.attrs.get("scenarios")
    if raw is None:
        return ""
    try:
        parsed = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (TypeError, ValueError):
        return f"<pre>{esc(raw)}</pre>"
    if not isinstance(parsed, dict):
        return f"<pre>{esc(json.dumps(parsed, indent=2, default=str))}</pre>"
    parts = []
    for name, spec in parsed.items():
        text = json.dumps(spec, indent=2, ensure_ascii=False, default=str)
        parts.append(f"<details><summary>{esc(name)}</summary><pre>{esc(text)}</pre></details>")
    return "".join(parts)


def _calibration_section(ds: xr.Dataset, figures: Sequence[FigureSpec]) -> str:
    """Parameter uncertainty: which calibration the replicates drew from, its parameters and
    its fit to the census record (for results of ``run --posterior``)."""
    from ..calibration import embedded_posterior, summary_rows

    post = embedded_posterior(ds)
    if post is None:
        return ""
    def g(x: float) -> str:
        return esc(f"{x:.4g}")

    rows = "".join(
        f"<tr><td><code>{esc(r['parameter'])}</code></td><td class='num'>{g(r['prior_low'])}–{g(r['prior_high'])}</td>"
        f"<td class='num'>{g(r['median'])}</td><td class='num'>{g(r['q05'])}–{g(r['q95'])}</td>"
        f"<td class='num'>{r['narrowing']:.2f}</td></tr>"
        for r in summary_rows(post)
    )
    eps = post["epsilon"].values
    w = post["weight"].values
    ess = 1.0 / float(np.sum(w**2))
    inside = int(post["count_inside"].values.sum()) if "count_inside" in post else None
    fit = f" The posterior predictive holds {inside} of {post.sizes['count']} counts in its 90 % band." if inside is not None else ""
    intro = (
        f"<p>Every replicate drew one parameter set from the posterior of <b>{esc(post.attrs.get('scenario_name', '?'))}</b> "
        f"calibrated to the census record <b>{esc(post.attrs.get('record', '?'))}</b> (ABC-SMC, {post.sizes['particle']} particles, "
        f"final tolerance ε = {eps[-1]:.3g}; {esc(post.attrs.get('stopped', ''))}; effective sample size {ess:.0f}), so the extinction risk and its interval above carry "
        f"both the chance events of each replicate and what the record leaves unknown.{fit}</p>"
    )
    table = (
        '<div class="table-wrap"><table class="data" id="calibration-table">'
        '<caption class="visually-hidden">Calibrated parameters: uniform prior over the range, posterior median and 90 % interval</caption>'
        "<thead><tr><th>Parameter</th><th title='uniform over this range'>Prior</th><th>Posterior median</th><th>90 % interval</th>"
        "<th title='width of the 90 % posterior interval over that of the prior: 1 = the record says nothing about it'>Interval / prior</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    figs = "".join(_figure_html(f) for f in figures)
    return f'<section id="calibration"><h2>Calibration and parameter uncertainty</h2>{intro}{table}{figs}</section>'


def _figure_html(fig: FigureSpec) -> str:
    b64 = base64.b64encode(fig.png).decode("ascii")
    w, h = fig.size_px
    return (
        f'<figure id="fig-{esc(fig.name)}">'
        f'<img src="data:image/png;base64,{b64}" alt="{esc(fig.title)}" '
        f'width="{w}" height="{h}" style="width:{fig.css_width}px" '
        f'data-file="{esc(FIGURES_DIRNAME + "/" + fig.filename)}">'
        f"<figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)} "
        f'<span class="note">(also saved as <code>{esc(FIGURES_DIRNAME + "/" + fig.filename)}</code>)</span>'
        f"</figcaption></figure>"
    )


def render_html(
    ds: xr.Dataset,
    summary,
    comparison,
    figures: Sequence[FigureSpec],
    *,
    colors: Mapping[str, str],
    baseline: str | None = None,
    title: str | None = None,
    connectivity: dict | None = None,
) -> str:
    """The complete report page as a string (figures embedded); ``connectivity`` (from
    :func:`pardus.report.connectivity.load_for_report`) adds the Connectivity section."""
    title = title or "Amur leopard population viability report"
    scen = [str(s) for s in ds["scenario"].values] if "scenario" in ds.coords else []
    pops = [str(p) for p in ds["population"].values] if "population" in ds.coords else []
    n_rep = int(ds.sizes.get("replicate", 0))
    css = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")

    currency = report_currency(ds, summary, comparison)
    keys = results.sweep_keys(ds)
    defs = extinction_definitions(ds)
    rules = sorted(set(defs.values()))
    meta_items = [
        ("pardus version", _attr(ds, "pardus_version")),
        ("Random seed", _attr(ds, "seed")),
        ("Replicates per scenario", f"{n_rep:,}"),
        ("Years", _year_range(ds)),
        ("Scenarios", ", ".join(scen) if scen else "none"),
        ("Populations", ", ".join(pops) if pops else "none"),
        ("Results created", _attr(ds, "created")),
        ("Report created", datetime.now(timezone.utc).replace(microsecond=0).isoformat()),
    ]
    meta_items.insert(5, ("Extinction rule (run.extinction)",
                          rules[0] if len(rules) == 1 else ", ".join(f"{n}: {v}" for n, v in defs.items())))
    meta_items.insert(6, ("Currency of costs", currency))
    if keys:
        meta_items.insert(5, ("Swept parameters", ", ".join(keys)))
    if baseline:
        meta_items.insert(5, ("Baseline scenario", baseline))
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta_items)

    has_comp = comparison is not None and len(comparison) > 0
    sections: list[str] = []
    toc = [("metadata", "Run"), ("how-to-read", "How to read this report"), ("summary", "Summary")]
    if has_comp:
        toc.append(("comparison", "Comparison"))
    toc.append(("figures", "Figures"))
    spec_html = _scenario_definitions(ds)
    if spec_html:
        toc.append(("scenario-definitions", "Scenario definitions"))

    sections.append(f'<section id="metadata"><h2>Run</h2><dl class="meta">{meta}</dl></section>')
    sections.append(f'<section id="how-to-read"><h2>How to read this report</h2>{_howto(ds, currency)}</section>')

    if summary is not None and len(summary) > 0:
        summary_html = (
            "<h3>Extinction risk and population size</h3>"
            + render_table(summary, sweep_columns(keys) + summary_outcome_columns(currency, figures_rule(ds)),
                           table_id="summary-table",
                           caption="Extinction risk and population size per scenario",
                           colors=colors, baseline=baseline)
            + "<h3>Growth and genetics</h3>"
            + render_table(summary, SUMMARY_GROWTH_COLUMNS, table_id="summary-growth-table",
                           caption="Growth rates and genetics per scenario",
                           colors=colors, baseline=baseline)
            + '<p class="note">Values refer to the last simulated year unless stated otherwise. '
            "Hover over a column heading for its definition.</p>"
        )
    else:
        summary_html = '<p id="summary-table">No summary available.</p>'
    sections.append(f'<section id="summary"><h2>Summary</h2>{summary_html}</section>')

    if has_comp:
        base_txt = f"baseline “{esc(baseline)}”" if baseline else "the baseline scenario"
        sections.append(
            '<section id="comparison"><h2>Comparison with the baseline</h2>'
            f"<p>Differences are scenario minus {base_txt}, computed replicate by replicate "
            "(common random numbers). Negative ΔP(extinction) means the scenario is safer.</p>"
            + render_table(comparison, sweep_columns(keys) + comparison_columns(currency), table_id="comparison-table",
                           caption="Differences to the baseline", colors=colors, baseline=baseline)
            + "</section>"
        )

    calibration_html = _calibration_section(ds, [f for f in figures if f.name.startswith("posterior-")])
    if calibration_html:
        toc.insert(toc.index(("figures", "Figures")), ("calibration", "Calibration"))
        sections.append(calibration_html)
    figs_html = "".join(_figure_html(f) for f in figures if not f.name.startswith("posterior-") and f.name != "connectivity") or "<p>No figures.</p>"
    sections.append(f'<section id="figures"><h2>Figures</h2>{figs_html}</section>')
    if connectivity is not None:
        from .connectivity import report_section

        conn_html, _fig = report_section(connectivity, esc, _figure_html)
        toc.insert(toc.index(("figures", "Figures")) + 1, ("connectivity", "Connectivity"))
        sections.append(conn_html)
    if spec_html:
        sections.append(
            '<section id="scenario-definitions"><h2>Scenario definitions</h2>'
            "<p>The fully resolved parameters of every scenario, as stored in the results file.</p>"
            f"{spec_html}</section>"
        )

    nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t in toc)
    subtitle = f"{len(scen)} scenario{'s' if len(scen) != 1 else ''} × {n_rep:,} replicates — simulated with pardus {_attr(ds, 'pardus_version')}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="pardus">'
        f"<title>{esc(title)}</title><style>{css}</style></head><body>"
        f'<header class="top"><div><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></div></header>'
        f'<main><nav class="toc">{nav}</nav>{"".join(sections)}'
        "<footer>Generated by pardus, an individual-based population viability model of the Amur "
        "leopard. Results are model projections under the stated assumptions, not predictions.</footer>"
        f"</main><script>{_SCRIPT}</script></body></html>\n"
    )


# --------------------------------------------------------------------------- writing


def _infer_baseline(summary, comparison, explicit: str | None) -> str | None:
    if explicit is not None:
        return str(explicit)
    if comparison is None or len(comparison) == 0:
        return None
    attr = getattr(comparison, "attrs", {}).get("baseline")
    if attr:
        return str(attr)
    comp_idx = {str(s) for s in comparison.index}
    if summary is not None:
        missing = [str(s) for s in summary.index if str(s) not in comp_idx]
        if len(missing) == 1:
            return missing[0]
    cols = [c for c in ("dPE", "dPE_se", "dN_mean", "dGD", "extra_cost") if c in comparison.columns]
    if cols:
        zero = (comparison[cols].fillna(0).abs() == 0).all(axis=1)
        if int(zero.sum()) == 1:
            return str(zero[zero].index[0])
    return None


def _write_tree(tmp: Path, html_text: str, figures: Sequence[FigureSpec]) -> None:
    fig_dir = tmp / FIGURES_DIRNAME
    fig_dir.mkdir()
    for fig in figures:
        (fig_dir / fig.filename).write_bytes(fig.png)
    with open(tmp / REPORT_FILENAME, "w", encoding="utf-8") as fh:
        fh.write(html_text)
        fh.flush()
        os.fsync(fh.fileno())


def _install(tmp: Path, out_dir: Path) -> None:
    """Move the finished files from *tmp* into the existing *out_dir*.

    ``figures/`` is swapped as a whole (old one renamed away, new one renamed in)
    and ``report.html`` replaced last with an atomic ``os.replace``, so the page
    is always either the complete old or the complete new one.  Other files in
    *out_dir* are left alone.
    """
    dest_figs = out_dir / FIGURES_DIRNAME
    old = None
    try:
        if dest_figs.exists() or dest_figs.is_symlink():
            old = out_dir / f".{FIGURES_DIRNAME}.old-{uuid.uuid4().hex[:8]}"
            os.rename(dest_figs, old)
        os.rename(tmp / FIGURES_DIRNAME, dest_figs)
        os.replace(tmp / REPORT_FILENAME, out_dir / REPORT_FILENAME)
    finally:
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def write_report_files(out_dir: Path, html_text: str, figures: Sequence[FigureSpec]) -> Path:
    """Write ``report.html`` and ``figures/*.png`` into *out_dir* atomically."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp_parent = parent
    if out_dir.is_dir() and os.stat(out_dir).st_dev != os.stat(parent).st_dev:
        tmp_parent = out_dir  # out_dir is a mount point: renames must stay on its device
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.pardus-report-", dir=tmp_parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        _write_tree(tmp, html_text, figures)
        if not out_dir.exists():
            try:
                os.rename(tmp, out_dir)
                return out_dir / REPORT_FILENAME
            except OSError:
                if not out_dir.is_dir():  # not a race with someone creating it: real error
                    raise
        if not out_dir.is_dir():
            raise NotADirectoryError(f"report output {out_dir} exists and is not a directory")
        _install(tmp, out_dir)
        return out_dir / REPORT_FILENAME
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_report(
    ds: xr.Dataset,
    summary: pd.DataFrame,
    comparison: pd.DataFrame | None,
    out_dir: Path,
    *,
    baseline: str | None = None,
    title: str | None = None,
    connectivity=None,
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and ``out_dir/figures/*.png``.

    Parameters
    ----------
    ds:
        results dataset as described in ``docs/outputs.md``.
    summary:
        per-scenario summary (``pardus.results.summarize(ds)``), indexed by scenario.
    comparison:
        ``pardus.results.compare_to_baseline(ds, baseline)`` or ``None``; the comparison
        table and figure are left out when it is ``None`` or empty.
    out_dir:
        output directory, created if missing.  Other files in it are left alone;
        ``report.html`` and ``figures/`` are replaced atomically.
    baseline:
        name of the baseline scenario, for labels only.  When omitted it is taken
        from ``comparison.attrs["baseline"]``, else the single summary scenario not in
        the comparison index, else the single all-zero comparison row.
    title:
        page title (default: "Amur leopard population viability report").
    connectivity:
        prefix of the files of ``pardus connectivity SCENARIO -o PREFIX``: adds a Connectivity
        section with their figure, the pairs of cores and the ranked candidates.

    Returns the path of ``report.html``.
    """
    names = [str(s) for s in ds["scenario"].values]
    if summary is not None:
        names += [str(s) for s in summary.index]
    if comparison is not None:
        names += [str(s) for s in comparison.index]
    colors = scenario_colors(names)
    baseline = _infer_baseline(summary, comparison, baseline)
    figures = make_figures(ds, comparison, colors=colors, baseline=baseline)
    from ..calibration import embedded_posterior
    from .calibration import calibration_figures

    post = embedded_posterior(ds)
    if post is not None:
        figures = figures + calibration_figures(post)
    conn = None
    if connectivity is not None:
        from .connectivity import load_for_report, report_section

        conn = load_for_report(connectivity)
        figures = figures + [report_section(conn, esc, _figure_html)[1]]
    html_text = render_html(ds, summary, comparison, figures, colors=colors,
                            baseline=baseline, title=title, connectivity=conn)
    return write_report_files(Path(out_dir), html_text, figures)
