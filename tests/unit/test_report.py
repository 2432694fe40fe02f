"""Unit tests of the HTML report (pardus.report)."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/report_fixtures.py
import report_fixtures as rf  # noqa: E402

from pardus.report import build_report  # noqa: E402
from pardus.report import figures as rfig  # noqa: E402
from pardus.report import html as rhtml  # noqa: E402

BASE_FIGURES = {"trajectories", "extinction", "genetics", "deaths_by_cause"}
NASTY = "Lazovsky <b>release</b> & \"$5M\""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ds():
    return rf.make_dataset(n_rep=20, n_years=30)


@pytest.fixture(scope="module")
def report(ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    summary = rf.make_summary(ds)
    comparison = rf.make_comparison(ds, "baseline")
    path = build_report(ds, summary, comparison, out)
    return {"path": path, "out": out, "html": path.read_text(encoding="utf-8"),
            "ds": ds, "summary": summary, "comparison": comparison}


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """Two populations, a nasty scenario name, comparison given."""
    ds = rf.make_dataset(
        {"baseline": (-0.03, 0.0), NASTY: (0.02, 250_000.0)},
        n_rep=12, n_years=20, populations=("Land of the Leopard", "Lazovsky"),
    )
    out = tmp_path_factory.mktemp("multi") / "out"
    path = build_report(ds, rf.make_summary(ds), rf.make_comparison(ds, "baseline"), out)
    return {"path": path, "out": out, "html": path.read_text(encoding="utf-8"), "ds": ds}


def _figure_stems(out: Path) -> set[str]:
    return {p.stem for p in (out / "figures").glob("*.png")}


# --------------------------------------------------------------------------- the synthetic data


def test_synthetic_data_is_interesting(ds):
    """The fixture must really contain extinctions (else several checks are vacuous)."""
    ext = rfig.cumulative_extinction(ds).values[:, :, -1]
    assert ext.any() and not ext.all()
    assert set(ds.dims) >= {"scenario", "replicate", "year", "population", "sex", "stage", "cause"}
    for v in ("N", "N_before_truncation", "breeding_females", "births", "deaths", "released",
              "gene_diversity", "heterozygosity", "alleles", "mean_inbreeding", "mean_kinship",
              "founder_genome_equivalents", "prey", "cost"):
        assert v in ds


# --------------------------------------------------------------------------- build_report output


def test_report_files_exist(report):
    path, out = report["path"], report["out"]
    assert path == out / "report.html"
    assert path.is_file() and path.stat().st_size > 10_000
    assert _figure_stems(out) == BASE_FIGURES | {"comparison"}
    # nothing but the report and its figures, and no temporary directories next to it
    assert sorted(p.name for p in out.iterdir()) == ["figures", "report.html"]
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_every_img_is_a_valid_png(report):
    page = rf.parse_page(report["html"])
    assert rf.img_problems(report["html"]) == []
    assert len(page.imgs) == len(BASE_FIGURES) + 1
    saved = {p.read_bytes() for p in (report["out"] / "figures").glob("*.png")}
    for img in page.imgs:
        data = base64.b64decode(img["src"].split(",", 1)[1])
        assert data in saved  # the embedded figure is the one saved alongside
        # decode completely with an independent decoder too
        import matplotlib.image as mpimg
        import io

        arr = mpimg.imread(io.BytesIO(data), format="png")
        assert arr.ndim == 3 and 300 <= arr.shape[0] <= 3000 and 600 <= arr.shape[1] <= 3000
        assert arr[..., :3].std() > 0.05  # not a blank image
        assert img.get("alt")


def test_page_is_self_contained(report):
    page = rf.parse_page(report["html"])
    assert page.external == []
    low = report["html"].lower()
    for bad in ("http://", "https://", "@import", "url(", "<link"):
        assert bad not in low, bad


def test_tables_contain_scenarios(report):
    page = rf.parse_page(report["html"])
    assert {"summary-table", "summary-growth-table", "comparison-table"} <= set(page.tables)
    names = [str(n) for n in report["ds"]["scenario"].values]
    assert page.row_names["summary-table"][0] == "baseline (baseline)"
    assert [n.replace(" (baseline)", "") for n in page.row_names["summary-table"]] == names
    assert [n.replace(" (baseline)", "") for n in page.row_names["summary-growth-table"]] == names
    # the baseline is not compared with itself
    assert page.row_names["comparison-table"] == ["anti-poaching", "vaccination"]


def test_summary_is_formatted_for_humans(report):
    page = rf.parse_page(report["html"])
    table = page.tables["summary-table"]
    row = report["summary"].loc["baseline"]
    assert f"{row.PE:.3f} ± {row.PE_se:.3f}" in table
    assert f"{row.N_mean:.1f} ({row.N_sd:.1f})" in table
    assert "4,500,000" in table  # thousands separators for money
    assert "—" in table  # undefined median time to extinction
    comp_row = report["comparison"].loc["anti-poaching"]
    assert f"{comp_row.dPE:+.3f}".replace("-", "\u2212") in page.tables["comparison-table"]


def test_metadata_and_captions(report):
    text = report["html"]
    for needle in ("pardus version", "0.1.0", "2015", "2025-01-02T03:04:05+00:00",
                   "How to read this report", "30 simulated years"):
        assert needle in text
    page = rf.parse_page(text)
    assert page.tags.count("figcaption") == page.tags.count("img") == len(page.imgs)


def test_script_is_inline_and_small(report):
    page = rf.parse_page(report["html"])
    assert page.tags.count("script") == 1
    assert 0 < sum(len(s) for s in page.scripts) < 5000


def test_scenario_name_is_escaped(multi):
    text = multi["html"]
    assert "<b>release</b>" not in text
    assert "&lt;b&gt;release&lt;/b&gt; &amp; &quot;$5M&quot;" in text
    page = rf.parse_page(text)
    assert "b" not in page.table_tags  # no markup leaked from the name into the tables
    # ... but the name itself is shown verbatim
    assert NASTY in page.row_names["summary-table"]
    assert page.row_names["comparison-table"] == [NASTY]


def test_multi_population_has_population_figure(multi):
    assert _figure_stems(multi["out"]) == BASE_FIGURES | {"comparison", "populations"}
    assert rf.img_problems(multi["html"]) == []


def test_single_population_has_no_population_figure(report):
    assert report["ds"].sizes["population"] == 1
    assert "populations" not in _figure_stems(report["out"])
    assert 'id="fig-populations"' not in report["html"]


def test_no_comparison(ds, tmp_path):
    for comparison in (None, pd.DataFrame(columns=rf.COMPARISON_COLUMNS)):
        out = tmp_path / ("none" if comparison is None else "empty")
        path = build_report(ds, rf.make_summary(ds), comparison, out)
        text = path.read_text(encoding="utf-8")
        assert _figure_stems(out) == BASE_FIGURES
        assert 'id="comparison-table"' not in text
        assert rf.img_problems(text) == []


def test_no_costs_gives_single_panel_comparison(tmp_path):
    ds = rf.make_dataset({"baseline": (-0.03, 0.0), "other": (0.02, 0.0)}, n_rep=8, n_years=10)
    comp = rf.make_comparison(ds, "baseline")
    assert (comp["extra_cost"] == 0).all()
    spec = rfig.plot_comparison(comp, rfig.scenario_colors(["baseline", "other"]), "baseline")
    with_cost = comp.assign(extra_cost=1e6, dPE_per_million=comp["dPE"])
    spec2 = rfig.plot_comparison(with_cost, rfig.scenario_colors(["baseline", "other"]), "baseline")
    w1, w2 = spec.size_px[0], spec2.size_px[0]
    assert w2 > w1  # the cost panel makes the figure wider
    assert "per million" in spec2.caption and "per million" not in spec.caption


def test_missing_summary_columns_render_dashes(ds, tmp_path):
    summary = rf.make_summary(ds).drop(columns=["r_det", "lambda_det", "median_TE"])
    summary.loc["baseline", "PE"] = np.nan
    path = build_report(ds, summary, None, tmp_path / "out")
    page = rf.parse_page(path.read_text(encoding="utf-8"))
    assert "—" in page.tables["summary-growth-table"]


# --------------------------------------------------------------------------- derived quantities


def test_extinction_includes_single_sex_and_is_cumulative():
    ds = rf.make_dataset({"a": (0.0, 0.0)}, n_rep=3, n_years=4)
    n = ds["N"].values
    n[0, 0, 2:, :, 0, :] = 0  # replicate 0: females gone from year index 2, males remain
    n[0, 1, 2, ...] = 0  # replicate 1: empty in year 2 only, "recovers" later (e.g. releases)
    n[0, 1, 3:, 0, :, 2] = 5
    n[0, 2] = np.maximum(n[0, 2], 1)  # replicate 2: always alive
    ds["N"] = (ds["N"].dims, n)
    now = rfig.extinct_mask(ds).values[0]
    cum = rfig.cumulative_extinction(ds).values[0]
    assert now[0].tolist() == [False, False, True, True, True]
    assert now[1].tolist() == [False, False, True, False, False]
    assert cum[1].tolist() == [False, False, True, True, True]
    assert not cum[2].any()


def test_extinction_definition_and_initial_census():
    ds = rf.make_dataset({"a": (0.0, 0.0), "b": (0.0, 0.0)}, n_rep=2, n_years=3)
    n = ds["N"].values
    n[:, 0, 0] = 0  # replicate 0 starts empty (e.g. filled by releases later): not extinct
    n[:, 1, 2:, :, 0, :] = 0  # replicate 1: only males from year index 2
    n[:, 1, 2:, :, 1, :] = np.maximum(n[:, 1, 2:, :, 1, :], 1)
    ds["N"] = (ds["N"].dims, n)
    ds.attrs["scenarios"] = '{"a": {"run": {"extinction": "one_sex"}}, "b": {"run": {"extinction": "no_animals"}}}'
    assert rfig.extinction_definitions(ds) == {"a": "one_sex", "b": "no_animals"}
    cum = rfig.cumulative_extinction(ds)
    assert not cum.sel(scenario="a").values[0].any()  # empty initial census ignored
    assert cum.sel(scenario="a").values[1].tolist() == [False, False, True, True]
    assert not cum.sel(scenario="b").values[1].any()  # males left: not extinct under no_animals
    ds.attrs["scenarios"] = "not json"
    assert rfig.extinction_definitions(ds) == {"a": "one_sex", "b": "one_sex"}


def test_total_n_sums_everything(ds):
    tot = rfig.total_n(ds)
    assert tot.dims == ("scenario", "replicate", "year")
    assert float(tot.sum()) == pytest.approx(float(ds["N"].sum()))


def test_colors_are_distinct_and_stable():
    names = [f"s{i}" for i in range(10)]
    c = rfig.scenario_colors(names)
    assert len(set(c.values())) == 10
    assert rfig.scenario_colors(names[:3]) == {k: c[k] for k in names[:3]}


def test_dollar_in_names_does_not_break_matplotlib():
    assert rfig.plain("a $x$ b") == r"a \$x\$ b"


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    "value, expected",
    [
        (rhtml.fmt_pm(0.1234, 0.0101), "0.123 ± 0.010"),
        (rhtml.fmt_pm(float("nan"), 0.1), "—"),
        (rhtml.fmt_pm(-0.05, 0.01, signed=True), "\u22120.050 ± 0.010"),
        (rhtml.fmt_pm(-0.0001, 0.01, signed=True), "0.000 ± 0.010"),
        (rhtml.fmt_mean_sd(1234.56, 12.34), "1,234.6 (12.3)"),
        (rhtml.fmt_mean_sd(5.0, float("nan")), "5.0"),
        (rhtml.fmt_num(None), "—"),
        (rhtml.fmt_money(4.5e6), "4,500,000"),
        (rhtml.fmt_ci(-0.2, 0.01), "[\u22120.200, +0.010]"),
        (rhtml.fmt_int(20.0), "20"),
    ],
)
def test_formatting(value, expected):
    assert value == expected


def test_baseline_inference(ds):
    summary = rf.make_summary(ds)
    comp = rf.make_comparison(ds, "baseline")
    assert rhtml._infer_baseline(summary, comp, None) == "baseline"
    assert rhtml._infer_baseline(summary, comp, "x") == "x"
    assert rhtml._infer_baseline(summary, None, None) is None
    # a comparison that includes the baseline as an all-zero row
    zero = pd.DataFrame([[0.0] * len(rf.COMPARISON_COLUMNS)], index=["baseline"],
                        columns=rf.COMPARISON_COLUMNS)
    with_base = pd.concat([zero, comp])
    assert rhtml._infer_baseline(summary, with_base, None) == "baseline"
    with_base.attrs["baseline"] = "vaccination"
    assert rhtml._infer_baseline(summary, with_base, None) == "vaccination"


# --------------------------------------------------------------------------- atomic writing


def test_rewrite_keeps_other_files_and_replaces_report(ds, tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "stale.png").write_bytes(b"old")
    (out / "report.html").write_text("old report")
    (out / "results.nc").write_text("user data")
    build_report(ds, rf.make_summary(ds), None, out)
    assert (out / "results.nc").read_text() == "user data"
    assert (out / "report.html").read_text() != "old report"
    assert _figure_stems(out) == BASE_FIGURES  # stale figure gone with the old figures/
    assert sorted(p.name for p in out.iterdir()) == ["figures", "report.html", "results.nc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupted_build_leaves_nothing(ds, tmp_path, monkeypatch):
    out = tmp_path / "new"

    def boom(*a, **k):
        raise KeyboardInterrupt

    # fail while files are being written (after the temporary directory exists)
    monkeypatch.setattr(rhtml, "_write_tree", lambda tmp, html, figs: (
        (tmp / "figures").mkdir(), (tmp / "report.html").write_text(html[:100]), boom()))
    with pytest.raises(KeyboardInterrupt):
        build_report(ds, rf.make_summary(ds), None, out)
    assert list(tmp_path.iterdir()) == []  # no half-written report, no temp dir

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "report.html").write_text("old report")
    with pytest.raises(KeyboardInterrupt):
        build_report(ds, rf.make_summary(ds), None, existing)
    assert (existing / "report.html").read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_output_path_that_is_a_file_is_an_error(ds, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError):
        build_report(ds, rf.make_summary(ds), None, target)
    assert target.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# --------------------------------------------------------------------------- the checkers can fail


def test_png_checker_catches_broken_images(report):
    data = (report["out"] / "figures" / "extinction.png").read_bytes()
    assert rf.png_problems(data) == []
    assert rf.png_problems(b"GIF89a" + data[6:])  # wrong signature
    assert rf.png_problems(data[: len(data) // 2])  # truncated
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    assert rf.png_problems(bytes(flipped))  # corrupted image data -> CRC mismatch
    tiny = rfig._render(rfig._new_figure(0.5, 0.5))
    assert any("implausible size" in p for p in rf.png_problems(tiny))


def test_page_checkers_catch_problems(report):
    text = report["html"]
    i = text.index("data:image/png;base64,") + len("data:image/png;base64,")
    corrupted = text[:i] + "AAAA" + text[i + 4:]
    assert rf.img_problems(corrupted)
    assert rf.img_problems(text.replace("data:image/png;base64,", "figures/x.png#", 1))
    assert rf.img_problems("<html><body>no images</body></html>") == ["page has no images"]
    leaked = rf.parse_page("<table id='t'><tr><th scope='row'><b>x</b> y</th></tr></table>")
    assert "b" in leaked.table_tags
    assert leaked.row_names["t"] == ["x y"]
    assert rf.parse_page('<script src="https://cdn.example/x.js"></script>').external


# --------------------------------------------------------------------------- deaths as rates


def test_death_rates_by_hand():
    """One replicate, one simulated year: 8 animals at its end, 2 poached and 1 run over
    during it: 3 of the 11 animals present died — poaching 2/11, road 1/11 per animal-year."""
    ds = rf.make_dataset({"a": (0.0, 0.0)}, n_rep=1, n_years=1)
    n = np.zeros(ds["N"].shape)
    n[0, 0, :, 0, :, 2] = 4  # 4 adult females and 4 adult males, both years
    ds["N"] = (ds["N"].dims, n)
    d = np.zeros(ds["deaths"].shape)
    d[0, 0, 1, 0, rf.CAUSES.index("poaching")] = 2
    d[0, 0, 1, 0, rf.CAUSES.index("road")] = 1
    d[0, 0, 0, 0, rf.CAUSES.index("natural")] = 5  # the initial census has no deaths: ignored
    ds["deaths"] = (ds["deaths"].dims, d)
    causes, rate, share = rfig.death_rates(ds)
    got = dict(zip(causes, rate[0]))
    assert got["poaching"] == pytest.approx(2 / 11)
    assert got["road"] == pytest.approx(1 / 11)
    assert got["natural"] == 0
    assert dict(zip(causes, share[0]))["poaching"] == pytest.approx(2 / 3)
    assert np.nansum(share[0]) == pytest.approx(1.0)


def test_more_animals_do_not_mean_a_higher_death_rate():
    """A scenario with twice the animals and twice the deaths has the same rates (raw counts
    would show it twice as deadly)."""
    ds = rf.make_dataset({"small": (0.0, 0.0), "big": (0.0, 0.0)}, n_rep=6, n_years=12)
    for var in ("N", "deaths"):
        v = ds[var].values.copy()
        v[1] = 2 * v[0]
        ds[var] = (ds[var].dims, v)
    causes, rate, share = rfig.death_rates(ds)
    assert np.nansum(rate[0]) > 0
    np.testing.assert_allclose(rate[1], rate[0])
    np.testing.assert_allclose(share[1], share[0])
    spec = rfig.plot_deaths_by_cause(ds, rfig.scenario_colors(["small", "big"]))
    assert "per 100 animals" in spec.caption and "share" in spec.caption
    assert rf.png_problems(spec.png) == []


# --------------------------------------------------------------------------- sweeps

SWEEP = {f"s{i}": (0.02 * i - 0.05, 0.0) for i in range(6)}
SWEEP_VALUES = [{"demography.p_breed": p, "threats.disease.probability": q}
                for p in (0.5, 0.7, 0.9) for q in (0.05, 0.1)]


def test_wilson_interval():
    lo, hi = rfig.wilson_interval(np.array([0.0, 0.5, 1.0]), 20)
    assert lo[0] == 0 and hi[0] == pytest.approx(0.1611, abs=1e-4)  # not empty at p = 0
    assert lo[1] == pytest.approx(0.2993, abs=1e-4) and hi[1] == pytest.approx(0.7007, abs=1e-4)
    assert hi[2] == 1 and lo[2] == pytest.approx(1 - 0.1611, abs=1e-4)
    p = np.linspace(0, 1, 61)
    for n in (7, 20, 60, 200, 1000):  # p = 1 from 60 runs once gave hi = 0.9999999999999999
        lo, hi = rfig.wilson_interval(p, n)
        assert (lo <= p).all() and (hi >= p).all() and (lo >= 0).all() and (hi <= 1).all()


def test_sweep_figure_and_columns(tmp_path):
    ds = rf.make_dataset(SWEEP, n_rep=10, n_years=15, sweeps=SWEEP_VALUES)
    # x: the key with the most values; one line per value of the other key
    assert rfig.sweep_axis(ds) == ("demography.p_breed", ["threats.disease.probability"])
    summary, comp = rf.make_summary(ds), rf.make_comparison(ds, "s0")
    out = tmp_path / "out"
    text = build_report(ds, summary, comp, out).read_text(encoding="utf-8")
    assert _figure_stems(out) == BASE_FIGURES | {"comparison", "sweep"}
    assert rf.img_problems(text) == []
    spec = rfig.plot_sweep(ds, rfig.scenario_colors(list(SWEEP)))
    assert "demography.p_breed" in spec.caption and "Wilson" in spec.caption
    assert "threats.disease.probability" in spec.caption
    page = rf.parse_page(text)
    head = page.tables["summary-table"]
    assert head.index("demography.p_breed") < head.index("P(extinction)")  # swept values first
    assert "Swept parameters" in text
    assert "demography.p_breed" in page.tables["comparison-table"]


def test_sweep_figure_only_for_numeric_sweeps():
    colors = rfig.scenario_colors(list(SWEEP))
    text_only = rf.make_dataset(SWEEP, n_rep=4, n_years=5,
                                sweeps=[{"run.extinction": v} for v in ("one_sex", "no_animals") * 3])
    assert rfig.sweep_axis(text_only) is None and rfig.plot_sweep(text_only, colors) is None
    one_value = rf.make_dataset(SWEEP, n_rep=4, n_years=5, sweeps=[{"demography.p_breed": 0.5}] * 6)
    assert rfig.plot_sweep(one_value, colors) is None
    assert rfig.plot_sweep(rf.make_dataset(SWEEP, n_rep=4, n_years=5), colors) is None
    # a baseline file run beside a one-key sweep: drawn, the baseline as a reference line
    mixed = rf.make_dataset(SWEEP, n_rep=4, n_years=5,
                            sweeps=[{}] + [{"demography.p_breed": p} for p in (0.5, 0.6, 0.7, 0.8, 0.9)])
    assert rfig.sweep_axis(mixed) == ("demography.p_breed", [])
    spec = rfig.plot_sweep(mixed, colors)
    assert "“s0”" in spec.caption and rf.png_problems(spec.png) == []


# --------------------------------------------------------------------------- currency

DEFAULT_NAMES = ("baseline", "anti-poaching", "vaccination")



def test_costs_name_their_currency(report, tmp_path):
    assert rhtml.fmt_money(4.5e6, "USD") == "USD 4,500,000"
    assert rhtml.fmt_money(-1500, "EUR") == "EUR \u22121,500"
    assert rhtml.fmt_money(4.5e6, "currency units") == "4,500,000"
    page = rf.parse_page(report["html"])
    assert "USD 4,500,000" in page.tables["summary-table"]
    assert "per million USD" in page.tables["comparison-table"]
    assert "USD 4,500,000" in page.tables["comparison-table"]  # extra cost of anti-poaching

    ds = rf.make_dataset(n_rep=6, n_years=30, currency="EUR")
    comp = rf.make_comparison(ds, "baseline")
    text = build_report(ds, rf.make_summary(ds), comp, tmp_path / "eur").read_text(encoding="utf-8")
    page = rf.parse_page(text)
    assert "EUR 4,500,000" in page.tables["summary-table"]
    assert "USD" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # (base64 may spell anything)
    spec = rfig.plot_comparison(comp, rfig.scenario_colors(list(DEFAULT_NAMES)), "baseline",
                                currency=rfig.report_currency(ds))
    assert "per million EUR" in spec.caption


# --------------------------------------------------------------------------- the extinction rule


def _how_to(text: str) -> str:
    i = text.index('id="how-to-read"')
    return text[i:text.index("</section>", i)]


def test_extinction_text_follows_run_extinction(tmp_path):
    sc = {"a": (-0.03, 0.0), "b": (0.02, 0.0)}
    texts = {}
    for rule in ("one_sex", "no_animals", "mixed"):
        ext = {"a": "one_sex", "b": "no_animals"} if rule == "mixed" else rule
        ds = rf.make_dataset(sc, n_rep=4, n_years=6, extinction=ext)
        path = build_report(ds, rf.make_summary(ds), None, tmp_path / rule)
        texts[rule] = path.read_text(encoding="utf-8")
        page = rf.parse_page(texts[rule])
        assert rf.img_problems(texts[rule]) == []
        assert page.tables["summary-table"]
    one, none, mixed = (_how_to(texts[k]) for k in ("one_sex", "no_animals", "mixed"))
    assert "animals of only one sex, are left" in one and "no animal at all" not in one
    assert "no animal at all is left" in none and "only one sex, are left" not in none
    assert "different extinction rules" in mixed
    assert "scenario “a” a replicate counts as extinct as soon as" in mixed
    assert "scenario “b” a replicate counts as extinct only when no animal at all" in mixed
    # the tooltip of P(extinction) says the same
    assert 'went extinct (no animal at all left)' in texts["no_animals"]
    assert 'went extinct (no animals, or animals of only one sex, left)' in texts["one_sex"]
