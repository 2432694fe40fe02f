"""Unit tests of pardus.results: the yearly table, sweeps and currency in the Dataset, summary
and comparison columns — on tiny hand-built results whose every number is worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pardus import results
from pardus.scenario.loader import load_scenario
from pardus.scenario.schema import CAUSES

YEARS = [2000, 2001, 2002, 2003]
F, M = 0, 1  # sex index
ADULT = 2  # stage index
# (females, males) per replicate and year of the first population, scenarios alike
SEXES_BY_REP = [
    [(2, 2), (3, 2), (1, 1), (2, 1)],  # r0: never extinct; totals 4 5 2 3
    [(2, 2), (1, 1), (0, 1), (0, 0)],  # r1: one sex in 2002, none in 2003; totals 4 2 1 0
    [(2, 2), (2, 1), (1, 0), (1, 1)],  # r2: one sex in 2002, both again in 2003 (a release); totals 4 3 1 2
]
GD = np.array([  # replicate x year
    [0.95, 0.92, 0.90, 0.88],
    [0.95, 0.80, 0.50, np.nan],  # no animals in 2003: NaN as the engine writes it
    [0.95, 0.85, 0.60, 0.70],
])


def scenario(name: str, extinction: str, currency: str = "USD"):
    sc = load_scenario("nonspatial-vortex")
    sc = getattr(sc, "scenario", sc)  # a Scenario (or, in older versions, a Resolved holding one)
    run = sc.run.model_copy(update={"start_year": YEARS[0], "years": len(YEARS) - 1, "extinction": extinction, "currency": currency})
    return sc.model_copy(update={"name": name, "run": run})


def records(second_population: bool = False) -> dict[str, np.ndarray]:
    R, Y, P = 3, len(YEARS), 2 if second_population else 1
    C = len(CAUSES)
    N = np.zeros((R, Y, P, 2, 3), dtype=np.int32)
    for r, row in enumerate(SEXES_BY_REP):
        for y, (f, m) in enumerate(row):
            N[r, y, 0, F, ADULT], N[r, y, 0, M, ADULT] = f, m
    births = np.zeros((R, Y, P), dtype=np.int32)
    births[:, 1, 0] = [3, 0, 1]
    deaths = np.zeros((R, Y, P, C), dtype=np.int32)
    poaching, road = CAUSES.index("poaching"), CAUSES.index("road")
    deaths[:, 1, 0, poaching] = [1, 2, 0]
    deaths[:, 2, 0, road] = [3, 1, 2]
    released = np.zeros((R, Y, P), dtype=np.int32)
    released[2, 3, 0] = 1
    cost = np.zeros((R, Y))
    cost[:, 1:] = 100.0
    return {
        "N": N,
        "N_before_truncation": N.sum(axis=(3, 4)),
        "births": births,
        "deaths": deaths,
        "released": released,
        "gene_diversity": GD.copy(),
        "heterozygosity": GD * 1.1,
        "mean_inbreeding": 1 - GD,
        "cost": cost,
    }


def tiny(*, sweeps=None, currencies=("USD", "USD"), second_population=False):
    """Scenario "a" (run.extinction = one_sex) and "b" (no_animals) with the same animals; "a"
    costs 100 a year from the first simulated year, "b" nothing."""
    scs = [scenario("a", "one_sex", currencies[0]), scenario("b", "no_animals", currencies[1])]
    ra, rb = records(second_population), records(second_population)
    rb["cost"][:] = 0.0
    if second_population:  # "b" founds a second population in 2002 (two animals); "a" never has it
        rb["N"][:, 2:, 1, F, ADULT] = 1
        rb["N"][:, 2:, 1, M, ADULT] = 1
        rb["N"][0, 3, 1, M, ADULT] = 0  # ... whose males die out in replicate 0 in 2003
        rb["N_before_truncation"] = rb["N"].sum(axis=(3, 4))
    pops = ["main", "east"] if second_population else ["main"]
    return results.build_dataset(scs, pops, [ra, rb], seed=5, **({} if sweeps is None else {"sweeps": sweeps}))


# --------------------------------------------------------------------------- the yearly table


def test_timeseries_layout():
    ds = tiny()
    ts = results.timeseries(ds)
    assert ts.index.names == ["scenario", "year"]
    assert ts.index.tolist() == [(s, y) for s in ("a", "b") for y in YEARS]
    causes = [f"deaths_{c}_mean" for c in CAUSES]
    assert list(ts.columns) == [
        "replicates", "n_extant", "PE", "PE_se", "N_mean", "N_sd", "N_extant_mean", "N_extant_sd",
        "GD_mean", "GD_sd", "Ho_mean", "Ho_sd", "F_mean", "F_sd",
        "births_mean", "released_mean", "deaths_mean", *causes, "cost_mean", "currency",
    ]
    assert (ts["replicates"] == 3).all()


def test_timeseries_by_hand_one_sex():
    a = results.timeseries(tiny()).loc["a"]
    # extinct (one sex or none): r1 and r2 in 2002; r1 in 2003 (r2 has both sexes again)
    assert a["n_extant"].tolist() == [3, 3, 1, 2]
    assert a["PE"].tolist() == pytest.approx([0, 0, 2 / 3, 2 / 3])  # r2 stays counted once extinct
    se = np.sqrt(2 / 3 * (1 - 2 / 3) / 3)
    assert a["PE_se"].tolist() == pytest.approx([0, 0, se, se])
    assert a["N_mean"].tolist() == pytest.approx([4, 10 / 3, 4 / 3, 5 / 3])
    assert a.loc[2001, "N_sd"] == pytest.approx(np.std([5, 2, 3], ddof=1))
    # over extant replicates only: 2002 only r0 (2 animals), 2003 r0 and r2 (3 and 2)
    assert a.loc[2002, "N_extant_mean"] == 2
    assert np.isnan(a.loc[2002, "N_extant_sd"])  # one replicate: no SD
    assert a.loc[2003, "N_extant_mean"] == 2.5
    assert a.loc[2003, "N_extant_sd"] == pytest.approx(np.sqrt(0.5))
    # genetics over the extant replicates: in 2002 r0 alone, although r1 and r2 have values
    assert a.loc[2002, "GD_mean"] == pytest.approx(0.90)
    assert a.loc[2003, "GD_mean"] == pytest.approx((0.88 + 0.70) / 2)
    assert a.loc[2003, "GD_sd"] == pytest.approx(np.std([0.88, 0.70], ddof=1))
    assert a.loc[2003, "Ho_mean"] == pytest.approx(1.1 * (0.88 + 0.70) / 2)
    assert a.loc[2001, "F_mean"] == pytest.approx(1 - (0.92 + 0.80 + 0.85) / 3)
    # flows: means per replicate over all replicates
    assert a.loc[2001, "births_mean"] == pytest.approx(4 / 3)
    assert a.loc[2001, "deaths_poaching_mean"] == pytest.approx(1.0)
    assert a.loc[2002, "deaths_road_mean"] == pytest.approx(2.0)
    assert a.loc[2002, "deaths_mean"] == pytest.approx(2.0)
    assert a.loc[2001, "deaths_mean"] == pytest.approx(1.0)
    assert a.loc[2003, "released_mean"] == pytest.approx(1 / 3)
    assert a["cost_mean"].tolist() == [0, 100, 100, 100]
    assert (a["currency"] == "USD").all()


def test_timeseries_follows_each_scenarios_extinction_rule():
    b = results.timeseries(tiny()).loc["b"]
    # no_animals: only r1 in 2003 is extinct; one sex left still counts as extant
    assert b["n_extant"].tolist() == [3, 3, 3, 2]
    assert b["PE"].tolist() == pytest.approx([0, 0, 0, 1 / 3])
    assert b.loc[2002, "N_extant_mean"] == pytest.approx(4 / 3)
    assert b.loc[2002, "GD_mean"] == pytest.approx((0.90 + 0.50 + 0.60) / 3)
    assert b["cost_mean"].tolist() == [0, 0, 0, 0]


def test_timeseries_agrees_with_summary_in_the_last_year():
    ds = tiny()
    ts = results.timeseries(ds).xs(YEARS[-1], level="year")
    summary = results.summarize(ds)
    for col in ("PE", "PE_se", "N_mean", "N_sd", "N_extant_mean"):
        assert ts[col].to_numpy() == pytest.approx(summary[col].to_numpy(), nan_ok=True), col
    assert ts["GD_mean"].to_numpy() == pytest.approx(summary["GD_final"].to_numpy())


def test_pe_is_monotone_and_extant_means_only_count_extant_runs():
    """On a larger random Dataset: PE(t) never decreases, and the extant mean is the mean of
    exactly the replicates that extinct_mask calls extant."""
    ds = tiny()
    rng = np.random.default_rng(11)
    n = rng.poisson(0.25, size=ds["N"].shape).astype(np.int32)
    big = ds.copy()
    big["N"] = (ds["N"].dims, n)
    ts = results.timeseries(big)
    defs = {"a": "one_sex", "b": "no_animals"}
    alive = ~results.extinct_mask(big, defs).values
    tot = results.total_n(big).values.astype(float)
    for s, name in enumerate(("a", "b")):
        pe = ts.loc[name, "PE"].to_numpy()
        assert np.all(np.diff(pe) >= 0)
        for y, year in enumerate(YEARS):
            keep = tot[s, alive[s, :, y], y]
            got = ts.loc[(name, year), "N_extant_mean"]
            if keep.size:
                assert got == pytest.approx(keep.mean())
            else:
                assert np.isnan(got)
            assert ts.loc[(name, year), "n_extant"] == keep.size
    assert (ts["PE"] > 0).any()  # the random data do go extinct: the checks above are not vacuous


def test_timeseries_by_population():
    ds = tiny(second_population=True)
    tp = results.timeseries(ds, by_population=True)
    assert tp.index.names == ["scenario", "population", "year"]
    # "a" never has the second population: no rows for it
    assert sorted(set(tp.index.droplevel("year"))) == [("a", "main"), ("b", "east"), ("b", "main")]
    assert tp.index.tolist()[:4] == [("a", "main", y) for y in YEARS]
    assert not {"GD_mean", "cost_mean", "currency"} & set(tp.columns)
    east = tp.loc[("b", "east")]
    # founded in 2002: not extinct before it had animals; in 2003 replicate 0 has only females,
    # which under "no_animals" still counts as extant
    assert east["PE"].tolist() == [0, 0, 0, 0]
    assert east["N_mean"].tolist() == pytest.approx([0, 0, 2, 5 / 3])
    main_b = tp.loc[("b", "main")]
    metapop_a = results.timeseries(ds).loc["a"]
    # the first population alone under one_sex is the whole of "a"
    assert tp.loc[("a", "main"), "PE"].tolist() == metapop_a["PE"].tolist()
    assert tp.loc[("a", "main"), "N_extant_mean"].to_numpy() == pytest.approx(metapop_a["N_extant_mean"].to_numpy(), nan_ok=True)
    assert main_b["deaths_road_mean"].tolist() == pytest.approx([0, 0, 2, 0])


def test_population_founded_later_counts_extinct_only_after_it_existed():
    ds = tiny(second_population=True)
    # under one_sex, the second population of "b" loses its males in replicate 0 in 2003
    sc = json.loads(ds.attrs["scenarios"])
    sc["b"]["run"]["extinction"] = "one_sex"
    ds.attrs["scenarios"] = json.dumps(sc)
    east = results.timeseries(ds, by_population=True).loc[("b", "east")]
    assert east["PE"].tolist() == pytest.approx([0, 0, 0, 1 / 3])
    assert east["n_extant"].tolist() == [0, 0, 3, 2]


# --------------------------------------------------------------------------- sweeps


def test_sweeps_are_coordinates_that_survive_a_round_trip(tmp_path):
    ds = tiny(sweeps=[
        {"demography.p_breed": 0.4, "run.extinction": "one_sex", "demography.litter_size": [0.5, 0.5]},
        {"demography.p_breed": 1},
    ])
    assert ds["sweep:demography.p_breed"].dims == ("scenario",)
    assert ds["sweep:demography.p_breed"].dtype == float
    assert ds["sweep:demography.p_breed"].values.tolist() == [0.4, 1.0]
    assert ds["sweep:run.extinction"].values.tolist() == ["one_sex", ""]
    assert ds["sweep:demography.litter_size"].values.tolist() == ["[0.5, 0.5]", ""]
    back = results.load_results(results.save_results(ds, tmp_path / "r.nc"))
    assert results.sweep_keys(back) == ["demography.p_breed", "run.extinction", "demography.litter_size"]
    table = results.sweep_table(back)
    assert table["demography.p_breed"].tolist() == [0.4, 1.0]
    assert table["run.extinction"].tolist() == ["one_sex", ""]
    assert table.index.tolist() == ["a", "b"]


def test_missing_numeric_sweep_value_is_nan():
    ds = tiny(sweeps=[{}, {"threats.disease.probability": 0.1}])
    vals = ds["sweep:threats.disease.probability"].values
    assert np.isnan(vals[0]) and vals[1] == 0.1


def test_no_sweep_means_no_coordinates():
    for sweeps in (None, [{}, {}]):
        ds = tiny(sweeps=sweeps)
        assert not [c for c in ds.coords if str(c).startswith("sweep:")]
        assert results.sweep_keys(ds) == []
        assert results.sweep_table(ds).shape == (2, 0)
        assert "PE" == results.summarize(ds).columns[2]  # replicates, years, PE: nothing before


def test_sweeps_need_one_dict_per_scenario():
    with pytest.raises(ValueError, match="1 dict.* for 2 scenario"):
        tiny(sweeps=[{"demography.p_breed": 0.4}])


def test_summary_comparison_and_timeseries_carry_the_swept_values():
    ds = tiny(sweeps=[{"demography.p_breed": 0.4}, {"demography.p_breed": 0.9}])
    summary = results.summarize(ds)
    assert summary.columns[0] == "demography.p_breed"
    assert summary["demography.p_breed"].tolist() == [0.4, 0.9]
    comp = results.compare_to_baseline(ds, "a")
    assert comp.columns[0] == "demography.p_breed"
    assert comp.loc["b", "demography.p_breed"] == 0.9
    ts = results.timeseries(ds)
    assert ts.columns[0] == "demography.p_breed"
    assert ts.loc["b", "demography.p_breed"].tolist() == [0.9] * len(YEARS)
    tp = results.timeseries(ds, by_population=True)
    assert tp.loc[("a", "main"), "demography.p_breed"].tolist() == [0.4] * len(YEARS)
    # the CSV a planner opens has the column, with the value
    csv = summary.to_csv()
    assert csv.splitlines()[0].startswith("scenario,demography.p_breed,replicates")
    assert csv.splitlines()[1].startswith("a,0.4,3,")


# --------------------------------------------------------------------------- currency


def test_currency_is_the_units_of_cost_and_a_column():
    ds = tiny(currencies=("EUR", "EUR"))
    assert ds["cost"].attrs["units"] == "EUR"
    assert results.currency(ds) == "EUR"
    summary = results.summarize(ds)
    assert summary.loc["a", "total_cost_mean"] == 300.0
    assert summary["currency"].tolist() == ["EUR", "EUR"]
    comp = results.compare_to_baseline(ds, "b")
    assert comp.loc["a", "extra_cost"] == 300.0 and comp.loc["a", "currency"] == "EUR"
    assert results.timeseries(ds)["currency"].unique().tolist() == ["EUR"]
    assert tiny()["cost"].attrs["units"] == "USD"  # the default


def test_mixed_currencies_are_refused_naming_both():
    with pytest.raises(ValueError, match=r"run\.currency.*USD \(a\); EUR \(b\)"):
        tiny(currencies=("USD", "EUR"))


def test_currency_of_an_old_results_file():
    ds = tiny()
    ds["cost"].attrs["units"] = "currency units"
    del ds.attrs["currency"]
    assert results.currency(ds) == "USD"  # from the stored scenarios' run.currency
    sc = json.loads(ds.attrs["scenarios"])
    for spec in sc.values():
        del spec["run"]["currency"]
    ds.attrs["scenarios"] = json.dumps(sc)
    assert results.currency(ds) == "currency units"  # nothing says which: say so
    assert isinstance(results.summarize(ds), pd.DataFrame)
