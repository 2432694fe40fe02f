"""End-to-end tests of the `pardus` command, run as a user would: in a subprocess.

Flows: check / explain / run / compare / summary / report, determinism (same seed, workers,
a Dask cluster), sweeps, common random numbers, bad input files, bad results files, usage
errors, Ctrl-C and atomic output. Scenarios are tiny (one population of 8 leopards, 15 years,
16 replicates), so the whole module runs in well under a minute on two cores.
"""

from __future__ import annotations

import json
import math
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pardus
from pardus.results import compare_to_baseline, load_results, save_results, summarize
from pardus.scenario import resolve_scenario
from pardus.scenario.explain import parameter_rows

_here = Path(sys.executable).parent / "pardus"
PARDUS = str(_here) if _here.exists() else (shutil.which("pardus") or "pardus")
ENV = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}

SEED = 11
N_REP = 16

FRAGILE = """
extends = "nonspatial-vortex"
name = "fragile"
description = "a small population that often dies out"

[run]
years = 15
replicates = 10

[populations.main]
initial_size = 8
carrying_capacity = 30

[sources]
"populations.main.initial_size" = "assumption: small enough that some replicates die out"
"""

# documented in docs/outputs.md
DOC_DIMS = {
    "N": ("scenario", "replicate", "year", "population", "sex", "stage"),
    "N_before_truncation": ("scenario", "replicate", "year", "population"),
    "breeding_females": ("scenario", "replicate", "year", "population"),
    "births": ("scenario", "replicate", "year", "population"),
    "deaths": ("scenario", "replicate", "year", "population", "cause"),
    "released": ("scenario", "replicate", "year", "population"),
    "gene_diversity": ("scenario", "replicate", "year"),
    "heterozygosity": ("scenario", "replicate", "year"),
    "alleles": ("scenario", "replicate", "year"),
    "mean_inbreeding": ("scenario", "replicate", "year"),
    "mean_kinship": ("scenario", "replicate", "year"),
    "founder_genome_equivalents": ("scenario", "replicate", "year"),
    "prey": ("scenario", "replicate", "year", "population"),
    "cost": ("scenario", "replicate", "year"),
    "occupied_years": ("scenario", "replicate", "cell"),
}
CAUSES = [
    "natural", "starvation", "poaching", "conflict", "road", "disease", "dispersal",
    "senescence", "inbreeding_lethal", "inbreeding_depression", "carrying_capacity",
]


# --------------------------------------------------------------------------- helpers


def pardus_cmd(*args, cwd: Path) -> subprocess.CompletedProcess:
    """Run pardus to its end: no time limit, since how fast a loaded machine runs it is no test."""
    return subprocess.run([PARDUS, *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True)


def _tail(text: str, n: int = 1500) -> str:
    return re.sub(r"[ ─]{4,}", "  ", text)[-n:]


def _traceback_gist(text: str) -> str:
    """The exception lines at the end of a (rich or plain) traceback."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("│", "╭", "╰", "File ", "^"))]
    return " | ".join(lines[-3:])


def assert_clean_failure(r: subprocess.CompletedProcess, *patterns: str) -> str:
    """Non-zero exit, no Python traceback, and every pattern in the output."""
    text = r.stdout + r.stderr
    if r.returncode == 0:
        pytest.fail(f"exit 0 for bad input:\n{_tail(text)}")
    if "Traceback" in text:
        pytest.fail(f"exit {r.returncode} with a Python traceback instead of a message; it ends: {_traceback_gist(text)}")
    for p in patterns:
        if not re.search(p, text):
            pytest.fail(f"{p!r} not in the output:\n{_tail(text)}")
    return text


def assert_ok(r: subprocess.CompletedProcess) -> None:
    text = r.stdout + r.stderr
    if r.returncode != 0 or "Traceback" in text:
        pytest.fail(f"exit {r.returncode}: {_traceback_gist(text) if 'Traceback' in text else _tail(text)}")


def open_results(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def assert_same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every variable, coordinate and attribute equal (except the `created` time stamp)."""
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert a[v].dims == b[v].dims, v
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    for c in a.coords:
        np.testing.assert_array_equal(a[c].values, b[c].values, err_msg=c)
    strip = lambda attrs: {k: v for k, v in attrs.items() if k != "created"}  # noqa: E731
    assert strip(a.attrs) == strip(b.attrs)


def stray_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    write(d, "fragile.toml", FRAGILE)
    write(d, "fragile-copy.toml", FRAGILE.replace('name = "fragile"', 'name = "fragile-copy"'))
    write(
        d,
        "fragile-release.toml",
        """
extends = "fragile.toml"
name = "fragile-release"

[interventions.rel]
type = "release"
population = "main"
start = 5
females = 2
males = 2
unit_cost = 1000
""",
    )
    write(
        d,
        "sweep.toml",
        """
extends = "fragile.toml"
name = "sw"

[run]
replicates = 3

[sweep]
"demography.p_breed" = [0.5, 0.7]
""",
    )
    return d


@pytest.fixture(scope="module")
def runs(work) -> dict[str, Path]:
    """The same scenario run with seed 11 (twice, 1 worker), with 2 workers, and seed 12."""
    out = {}
    for key, seed, workers in (("a", SEED, 1), ("a_again", SEED, 1), ("two_workers", SEED, 2), ("other_seed", SEED + 1, 1)):
        path = work / f"{key}.nc"
        r = pardus_cmd("run", "fragile.toml", "--replicates", N_REP, "--seed", seed, "--workers", workers, "--output", path, cwd=work)
        assert_ok(r)
        assert path.exists()
        out[key] = path
        out[key + "_stdout"] = r.stdout
        out[key + "_stderr"] = r.stderr
    return out


# --------------------------------------------------------------------------- pardus check


def test_check_valid_file_with_warnings_exits_0(work):
    r = pardus_cmd("check", "fragile.toml", cwd=work)
    assert_ok(r)
    assert "scenario 'fragile' is valid" in r.stdout
    assert re.search(r"warning: \S*fragile\.toml: run\.replicates = 10 — fewer than 100 replicates", r.stderr), r.stderr


def test_check_presets_and_examples_are_valid(work):
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
    if not examples:
        pytest.skip("no examples/ folder next to tests/")
    presets = ("amur-2015", "amur-history", "amur-2015-nonspatial", "amur-history-nonspatial", "nonspatial-vortex")
    r = pardus_cmd("check", *presets, *examples, cwd=work)
    assert_ok(r)
    from pardus.scenario.loader import resolve_scenarios

    scenarios = sum(len(resolve_scenarios(e)) for e in examples)  # a file with a [sweep] gives several
    assert r.stdout.count("is valid") == len(presets) + scenarios and "warning(s))" in r.stdout and "(1 warning" not in r.stdout


def test_presets_command_lists_the_shipped_presets(work):
    r = pardus_cmd("presets", cwd=work)
    assert_ok(r)
    for name in ("amur-2015", "amur-history", "amur-2015-nonspatial", "amur-history-nonspatial", "nonspatial-vortex"):
        assert f"{name}: " in r.stdout


def test_check_reports_every_problem_at_once_one_line_each(work):
    bad = write(
        work,
        "bad.toml",
        """
extends = "nonspatial-vortex"
name = "bad"
[run]
years = 10
replicats = 5
[demography]
female_breeding_age = 20
litter_size = [0.5, 0.4]
[dispersal]
destinations = { main = { nowhere = 1.0 } }
[interventions.rel]
type = "release"
population = "mian"
start = 5
end = 3
females = 2
[interventions.x]
type = "anti_poachng"
population = "main"
start = 2
""",
    )
    broken = write(work, "broken.toml", 'name = "x"\n[run]\nyears = = 3\n')
    r = pardus_cmd("check", bad.name, broken.name, "nonspatial-vortx", cwd=work)
    text = assert_clean_failure(r)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    expected = [
        r"bad\.toml: run\.replicats = 5 — unknown key; did you mean 'run\.replicates'\?",
        r"bad\.toml: demography\.female_breeding_age = 20 — above demography\.max_age = 15",
        r"bad\.toml: demography\.litter_size = \[0\.5, 0\.4\] — .*must sum to 1",
        r"bad\.toml: dispersal\.destinations\.main\.nowhere — no population of that name",
        r'bad\.toml: interventions\.rel\.population = "mian" — no population of that name.*did you mean \'main\'\?',
        r"bad\.toml: interventions\.rel\.end = 3 — before start = 5",
        r'bad\.toml: interventions\.x\.type = "anti_poachng" — must be one of .*did you mean \'anti_poaching\'\?',
        r"broken\.toml: not valid TOML — .*line 3",
        r"unknown preset 'nonspatial-vortx' — .*did you mean 'nonspatial-vortex'\?",
    ]
    for pattern in expected:
        hits = [e for e in errors if re.search(pattern, e)]
        assert len(hits) == 1, f"{pattern!r}: {hits}\n{text}"
    assert len(errors) == len(expected), text
    assert "is valid" not in r.stdout


@pytest.mark.parametrize(
    "name, text, pattern",
    [
        ("cycle.toml", 'extends = "cycle.toml"\n', r"cycle\.toml: extends itself through .* — break the cycle"),
        ("syntax.toml", "[run\nyears = 3\n", r"syntax\.toml: not valid TOML — .*line 1"),
        (None, None, r"missing\.toml: no such scenario file"),
        ("typo-preset.toml", 'extends = "amur2015"\n', r"unknown preset 'amur2015' — .*did you mean 'amur-2015'\?"),
    ],
)
def test_check_bad_files_give_one_clear_message(work, name, text, pattern):
    if name:
        write(work, name, text)
    r = pardus_cmd("check", name or "missing.toml", cwd=work)
    assert_clean_failure(r, pattern)
    assert len([line for line in r.stderr.splitlines() if line.startswith("error: ")]) == 1, r.stderr


def test_intervention_after_the_last_year_is_rejected(work):
    late = write(
        work,
        "late.toml",
        """
extends = "fragile.toml"
name = "late"
[interventions.rel]
type = "release"
population = "main"
start = 16
females = 2
""",
    )
    r = pardus_cmd("check", late.name, cwd=work)
    assert_clean_failure(r, r"late\.toml: interventions\.rel\.start = 16 — after the last simulated year 15; it would never act")
    out = work / "late-compare.nc"
    r = pardus_cmd("compare", "fragile.toml", late.name, "-n", 2, "-w", 1, "-o", out, cwd=work)
    assert_clean_failure(r, r"interventions\.rel\.start = 16 — after the last simulated year 15")
    assert not out.exists()


# --------------------------------------------------------------------------- pardus explain


def test_explain_prints_parameters_origin_sources_derived_and_schedule(work):
    write(
        work,
        "explained.toml",
        """
extends = "amur-2015-nonspatial"
name = "explained"
[run]
years = 20
[interventions.rel]
type = "release"
population = "lazovsky"
start = 2022
end = 2030
every = 4
females = 3
males = 2
unit_cost = 50000
[interventions.patrols]
type = "anti_poaching"
population = "china"
start = 2020
end = 2024
effort = 2.0
[sources]
"run.years" = "assumption: 20 years for the test"
"interventions.rel" = "MODEL.md §5: planned release"
""",
    )
    r = pardus_cmd("explain", "explained.toml", cwd=work)
    assert_ok(r)
    out = r.stdout
    res = resolve_scenario(work / "explained.toml")
    # every resolved parameter is listed
    for key, *_ in parameter_rows(res):
        assert re.search(rf"│ {re.escape(key)} +│", out), f"{key} not listed"
    row = lambda key: next(line for line in out.splitlines() if re.search(rf"│ {re.escape(key)} +│", line))  # noqa: E731
    assert re.search(r"│ 20 +│ \S*explained\.toml +│ assumption: 20 years for the test", row("run.years")), row("run.years")
    assert re.search(r"│ 0\.92 +│ preset:amur-2015-nonspatial +│ posterior median of amur-history-nonspatial", row("demography.survival.female.adult"))
    assert re.search(r"│ 3 +│ \S*explained\.toml +│ MODEL\.md §5: planned release", row("interventions.rel.females"))
    # derived values
    assert re.search(r"λ = \d\.\d{4}, r = -?\d\.\d{4}, R0 = \d\.\d{3}, generation time = \d+\.\d{2} years", out)
    # year-by-year schedule in plain language
    for line in (
        "2020: starts: anti-poaching patrols 'patrols' in china: 2 patrol-days/km²/yr",
        "2022: release 'rel' in lazovsky: 3 females + 2 males aged 1 from the captive population (cost 50,000 per animal released)",
        "2025: ends: 'patrols' (last active year 2024)",
        "2026: release 'rel'",
        "2030: release 'rel'",
    ):
        assert line in out, line
    assert out.index("2020: starts") < out.index("2022: release") < out.index("2025: ends") < out.index("2026: release")


def test_explain_of_a_bad_file_fails_cleanly(work):
    write(work, "bad-explain.toml", 'extends = "nonspatial-vortex"\n[demography]\nlitter_size = [0.2]\n')
    r = pardus_cmd("explain", "bad-explain.toml", cwd=work)
    assert_clean_failure(r, r"bad-explain\.toml: demography\.litter_size = \[0\.2\] — .*must sum to 1")


# --------------------------------------------------------------------------- pardus run


def test_results_file_follows_docs_outputs(runs, work):
    ds = open_results(runs["a"])
    assert set(ds.data_vars) == set(DOC_DIMS)
    for var, dims in DOC_DIMS.items():
        assert ds[var].dims == dims, var
    assert list(ds.scenario.values) == ["fragile"]
    assert list(ds.replicate.values) == list(range(N_REP))
    assert list(ds.year.values) == list(range(0, 16))  # start_year 0 (nonspatial-vortex), 15 years
    assert list(ds.population.values) == ["main"]
    assert list(ds.cell.values) == ["main"]  # the non-spatial landscape: one cell per population
    n_alive = ds["N"].isel(year=slice(1, None)).sum(("population", "sex", "stage")) > 0
    np.testing.assert_array_equal(ds["occupied_years"].sum("cell"), n_alive.sum("year"))
    assert list(ds.sex.values) == ["female", "male"]
    assert list(ds.stage.values) == ["cub", "subadult", "adult"]
    assert list(ds.cause.values) == CAUSES
    assert ds["N"].attrs["units"] == "individuals"
    # attributes
    assert ds.attrs["seed"] == SEED
    assert ds.attrs["pardus_version"] == pardus.__version__
    assert int(ds.attrs["pardus_results"]) == 1
    datetime.fromisoformat(ds.attrs["created"])
    scenarios = json.loads(ds.attrs["scenarios"])
    assert scenarios == {"fragile": resolve_scenario(work / "fragile.toml").scenario.model_dump(mode="json")}
    # the first year is the initial census: 8 animals in every replicate
    assert (ds["N"].isel(year=0).sum(("population", "sex", "stage")) == 8).all()
    # the run printed the PVA table and said where it wrote the file
    assert "fragile" in runs["a_stdout"]
    assert "a.nc" in runs["a_stderr"]


def test_same_seed_gives_identical_results(runs):
    assert_same_data(open_results(runs["a"]), open_results(runs["a_again"]))


def test_one_or_two_workers_give_identical_results(runs):
    assert_same_data(open_results(runs["a"]), open_results(runs["two_workers"]))


def test_different_seeds_give_different_results(runs):
    a, b = open_results(runs["a"]), open_results(runs["other_seed"])
    assert b.attrs["seed"] == SEED + 1
    assert not np.array_equal(a["N"].values, b["N"].values)
    assert not np.array_equal(a["births"].values, b["births"].values)


def test_dask_cluster_gives_identical_results(runs, work):
    distributed = pytest.importorskip("dask.distributed")
    out = work / "dask.nc"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = pardus_cmd(
            "run", "fragile.toml", "--replicates", N_REP, "--seed", SEED, "--scheduler", cluster.scheduler_address, "--output", out,
            cwd=work,
        )
    assert_ok(r)
    assert_same_data(open_results(runs["a"]), open_results(out))


def test_output_into_a_folder_is_refused(work):
    folder = work / "a-folder"
    folder.mkdir(exist_ok=True)
    r = pardus_cmd("run", "fragile.toml", "-n", 2, "-w", 1, "-o", folder, cwd=work)
    assert_clean_failure(r, r"is a folder")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "summary"])
def test_unwritable_output_path_gives_a_message_not_a_traceback(runs, work, command):
    """An output whose parent is a regular file cannot be created: say so, no traceback,
    no stray temporary file."""
    blocker = work / f"not-a-folder-{command}"
    blocker.write_text("I am a file")
    if command == "run":
        r = pardus_cmd("run", "fragile.toml", "-n", 2, "-w", 1, "-o", blocker / "out.nc", cwd=work)
    else:
        r = pardus_cmd("summary", runs["a"], "--csv", blocker / "out.csv", cwd=work)
    assert_clean_failure(r, re.escape(blocker.name))
    assert blocker.read_text() == "I am a file"


def test_sweep_runs_one_scenario_per_value_together(work):
    out = work / "sweep.nc"
    r = pardus_cmd("run", "sweep.toml", "--seed", 3, "--workers", 1, "--output", out, cwd=work)
    assert_ok(r)
    ds = open_results(out)
    names = [str(s) for s in ds.scenario.values]
    assert len(names) == 2 and len(set(names)) == 2
    assert "p_breed=0.5" in names[0] and "p_breed=0.7" in names[1]
    assert ds.sizes["replicate"] == 3  # run.replicates of the file when --replicates is not given
    scenarios = json.loads(ds.attrs["scenarios"])
    assert [scenarios[n]["demography"]["p_breed"] for n in names] == [0.5, 0.7]
    # both members come from the same file and start from its 8 founders
    assert (ds["N"].isel(year=0).sum(("population", "sex", "stage")) == 8).all()
    # the swept values travel with the results: as a coordinate, and as columns of every table
    np.testing.assert_array_equal(ds["sweep:demography.p_breed"].values, [0.5, 0.7])
    r = pardus_cmd("summary", out, "-o", work / "sweep-summary.csv", "--timeseries", work / "sweep-series.csv", cwd=work)
    assert_ok(r)
    table = pd.read_csv(work / "sweep-summary.csv", index_col=0)
    assert list(table["demography.p_breed"]) == [0.5, 0.7]
    cmp = pd.read_csv(work / "sweep-summary-comparison.csv", index_col=0)
    assert list(cmp["demography.p_breed"]) == [0.7]
    series = pd.read_csv(work / "sweep-series.csv")
    assert list(series.columns[:3]) == ["scenario", "year", "demography.p_breed"]
    assert len(series) == 2 * ds.sizes["year"]
    first = series[series.scenario == names[0]]
    np.testing.assert_allclose(first.N_mean, ds["N"].isel(scenario=0).sum(("population", "sex", "stage")).mean("replicate"))
    assert (np.diff(first.PE) >= 0).all() and {"deaths_poaching_mean", "F_mean", "Ho_mean", "births_mean"} <= set(series.columns)


def test_sweep_scenario_names_are_shown_in_full(work):
    """Sweep members are named 'sw [demography.p_breed=0.5]'; the CLI must not swallow the
    bracketed part (rich markup), or the members become indistinguishable."""
    r = pardus_cmd("check", "sweep.toml", cwd=work)
    assert_ok(r)
    assert "sw [demography.p_breed=0.5]" in r.stdout and "sw [demography.p_breed=0.7]" in r.stdout, r.stdout
    r = pardus_cmd("run", "sweep.toml", "--seed", 3, "--workers", 1, "--output", work / "sweep-names.nc", cwd=work)
    assert_ok(r)
    assert "p_breed=0.5" in r.stdout and "p_breed=0.7" in r.stdout, r.stdout


# --------------------------------------------------------------------------- pardus compare


@pytest.fixture(scope="module")
def compared(work, runs) -> dict:
    out = work / "compare.nc"
    r = pardus_cmd(
        "compare", "fragile.toml", "fragile-copy.toml", "fragile-release.toml",
        "--replicates", N_REP, "--seed", SEED, "--workers", 2, "--output", out, cwd=work,
    )
    assert_ok(r)
    return {"path": out, "ds": open_results(out), "stdout": r.stdout}


def test_compare_identical_copy_gives_zero_difference(compared):
    ds = compared["ds"]
    assert [str(s) for s in ds.scenario.values] == ["fragile", "fragile-copy", "fragile-release"]
    # common random numbers: replicate i of both is the same simulation
    for var in ds.data_vars:
        np.testing.assert_array_equal(ds[var].sel(scenario="fragile").values, ds[var].sel(scenario="fragile-copy").values, err_msg=var)
    cmp = compare_to_baseline(ds, "fragile")
    assert cmp.loc["fragile-copy", "dPE"] == 0.0
    assert cmp.loc["fragile-copy", "dN_mean"] == 0.0
    assert cmp.loc["fragile-copy", "dPE_se"] == 0.0
    # the printed comparison says so, with its uncertainty
    line = next(line for line in compared["stdout"].splitlines() if "fragile-copy" in line and "+0.000" in line)
    assert "[+0.000, +0.000]" in line


def test_compare_uses_the_seeds_of_a_plain_run(compared, runs):
    """Replicate i of every scenario uses seed child i: the baseline of the comparison is the
    very same simulation as `pardus run` of that scenario with the same seed."""
    ds = compared["ds"]
    single = open_results(runs["a"])
    for var in single.data_vars:
        np.testing.assert_array_equal(ds[var].sel(scenario="fragile").values, single[var].sel(scenario="fragile").values, err_msg=var)


def test_compare_intervention_changes_nothing_before_it_starts(compared):
    ds = compared["ds"]
    n = ds["N"].sum(("population", "sex", "stage"))
    base, rel = n.sel(scenario="fragile"), n.sel(scenario="fragile-release")
    before = ds.year < 5
    np.testing.assert_array_equal(base.sel(year=before).values, rel.sel(year=before).values)
    assert int(ds["released"].sel(scenario="fragile-release").sel(year=5).sum()) > 0
    assert int(ds["released"].sel(scenario="fragile-release").sum()) == int(ds["released"].sel(scenario="fragile-release", year=5).sum())
    cost = ds["cost"].sel(scenario="fragile-release").sum("year")
    assert (cost.values == 1000 * ds["released"].sel(scenario="fragile-release").sum(("year", "population")).values).all()
    cmp = compare_to_baseline(ds, "fragile")
    assert cmp.loc["fragile-release", "extra_cost"] == pytest.approx(float(cost.mean()))


def test_compare_needs_two_scenarios_with_distinct_names(work):
    r = pardus_cmd("compare", "fragile.toml", "-n", 2, cwd=work)
    assert_clean_failure(r, r"compare needs at least two scenarios")
    r = pardus_cmd("compare", "fragile.toml", "fragile.toml", "-n", 2, "-o", work / "dup.nc", cwd=work)
    assert_clean_failure(r, r"two scenarios are named 'fragile'")
    assert not (work / "dup.nc").exists()


# --------------------------------------------------------------------------- pardus summary / report


def _independent_pe(ds: xr.Dataset) -> np.ndarray:
    """Per scenario: share of replicates in which one sex (or both) is gone in some year ≥ 1."""
    by_sex = ds["N"].sum(("population", "stage")).isel(year=slice(1, None)).values  # (s, r, y, sex)
    extinct = (by_sex == 0).any(axis=-1).any(axis=-1)  # (s, r)
    return extinct.mean(axis=1)


def test_summary_pe_and_se_from_the_file(runs, work):
    csv = work / "summary-a.csv"
    r = pardus_cmd("summary", runs["a"], "--csv", csv, cwd=work)
    assert_ok(r)
    assert csv.exists()
    table = pd.read_csv(csv, index_col=0)
    ds = open_results(runs["a"])
    assert list(table.columns) == list(summarize(load_results(runs["a"])).columns)
    pe = _independent_pe(ds)[0]
    n = ds.sizes["replicate"]
    assert 0 < pe < 1, "the test scenario should give some extinctions and some survivors"
    assert table.loc["fragile", "PE"] == pytest.approx(pe, abs=1e-12)
    assert table.loc["fragile", "PE_se"] == pytest.approx(math.sqrt(pe * (1 - pe) / n), abs=1e-12)
    assert table.loc["fragile", "replicates"] == n
    assert table.loc["fragile", "years"] == 15
    final = ds["N"].isel(year=-1).sum(("population", "sex", "stage")).values[0]
    assert table.loc["fragile", "N_mean"] == pytest.approx(final.mean())
    assert table.loc["fragile", "quasi_threshold"] == 20
    assert f"{pe:.3f} ± {math.sqrt(pe * (1 - pe) / n):.3f}" in r.stdout
    assert stray_files(work) == []


def test_summary_of_a_comparison_writes_both_tables_next_to_the_results(compared):
    path = compared["path"]
    r = pardus_cmd("summary", path, cwd=path.parent)
    assert_ok(r)
    table = pd.read_csv(path.with_name(path.stem + "-summary.csv"), index_col=0)
    cmp = pd.read_csv(path.with_name(path.stem + "-summary-comparison.csv"), index_col=0)
    np.testing.assert_allclose(table["PE"].values, _independent_pe(compared["ds"]), atol=1e-12)
    assert list(cmp.index) == ["fragile-copy", "fragile-release"]
    assert cmp.loc["fragile-copy", "dPE"] == 0.0


def test_report_smoke(compared, work):
    out = work / "report"
    r = pardus_cmd("report", compared["path"], "--output", out, cwd=work)
    assert_ok(r)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower()
    assert "fragile-release" in html


# --------------------------------------------------------------------------- bad results files


@pytest.fixture(scope="module")
def bad_results(work) -> dict[str, Path]:
    text = work / "not-netcdf.nc"
    text.write_text("this is not a NetCDF file\n")
    foreign = work / "foreign.nc"
    xr.Dataset({"temperature": ("time", np.arange(4.0))}, attrs={"title": "weather"}).to_netcdf(foreign, engine="h5netcdf")
    return {"text": text, "foreign": foreign, "missing": work / "no-such-results.nc"}


@pytest.mark.parametrize("command", ["summary", "report"])
@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("text", r"not-netcdf\.nc: not a readable NetCDF-4 results file"),
        ("foreign", r"foreign\.nc: a NetCDF file, but not pardus results"),
        ("missing", r"no-such-results\.nc: no such file"),
    ],
)
def test_bad_results_file_gives_one_clear_message(bad_results, work, command, kind, pattern):
    path = bad_results[kind]
    out = work / f"bad-{command}-{kind}"
    args = ["--csv", out.with_suffix(".csv")] if command == "summary" else ["--output", out]
    r = pardus_cmd(command, path, *args, cwd=work)
    assert_clean_failure(r, pattern)
    assert len([line for line in r.stderr.splitlines() if line.startswith("error: ")]) == 1, r.stderr
    assert not out.exists() and not out.with_suffix(".csv").exists()


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["run", "fragile.toml", "--replicates", "many"], r"--replicates"),
        (["summary", "a.nc", "--csv"], r"--csv"),
        (["frobnicate"], r"frobnicate"),
    ],
)
def test_usage_errors_give_a_message_not_a_traceback(work, args, pattern):
    r = pardus_cmd(*args, cwd=work)
    assert_clean_failure(r, pattern)


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize(
    "options, message",
    [
        (["-n", "0"], r"--replicates 0 — must be a whole number of at least 1"),
        (["-w", "0"], r"--workers 0 — must be a whole number of at least 1"),
        (["-w", "-2"], r"--workers -2 — must be a whole number of at least 1"),
        (["--seed", "-1"], r"--seed -1 — must be a whole number from 0 to 2\*\*64 − 1"),
        (["--seed", str(2**64)], r"--seed 18446744073709551616 — must be a whole number from 0 to 2\*\*64 − 1"),
        (["--scheduler", "notaurl"], r"--scheduler 'notaurl' — not a Dask scheduler address; give one like tcp://host:8786"),
        (["-o", "/proc/res.nc"], r"/proc/res\.nc: cannot be written in /proc — .*; choose another -o/--output"),
    ],
)
def test_bad_options_are_refused_before_any_simulation(work, command, options, message):
    """One line, exit 2, no traceback — and nothing simulated: no progress line was printed."""
    files = ["fragile.toml"] if command == "run" else ["fragile.toml", "fragile-copy.toml"]
    r = pardus_cmd(command, *files, "-n", 4, "-o", work / "never.nc", *options, cwd=work)
    assert_clean_failure(r, message)
    assert r.returncode == 2
    assert "simulating" not in r.stderr
    assert not (work / "never.nc").exists()


def test_scenarios_in_two_currencies_are_refused_before_simulating(work):
    write(work, "euro.toml", 'extends = "fragile.toml"\nname = "euro"\n[run]\ncurrency = "EUR"\n')
    r = pardus_cmd("compare", "fragile.toml", "euro.toml", "-n", 4, "-o", work / "never.nc", cwd=work)
    assert_clean_failure(r, r"scenarios of one run must share run\.currency — found USD \(fragile\); EUR \(euro\)")
    assert r.returncode == 2 and "simulating" not in r.stderr and not (work / "never.nc").exists()


def test_every_option_of_every_command_has_help_text():
    import click
    import typer.main

    from pardus.cli import app

    group = typer.main.get_command(app)
    missing = []
    commands = dict(group.commands)
    for sub in ("landscape", "id"):  # command groups: their commands too
        commands.update({f"{sub} {n}": c for n, c in group.commands[sub].commands.items()})
    for name, cmd in commands.items():
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, f"options without help text: {missing}"
    assert sorted(group.commands) == ["calibrate", "check", "compare", "connectivity", "corridors", "design", "estimate", "explain", "id", "landscape", "presets", "report", "run", "sensitivity", "summary", "validate"]
    assert sorted(group.commands["landscape"].commands) == ["export", "fire", "run", "show"]
    assert sorted(group.commands["id"].commands) == ["export-captures", "import", "migrate"]


def test_version_option_prints_the_package_version(work):
    r = pardus_cmd("--version", cwd=work)
    assert r.returncode == 0 and r.stdout.strip() == f"pardus {pardus.__version__}"


def test_summary_with_an_unknown_baseline_writes_nothing(compared, work):
    target = work / "nothing.csv"
    r = pardus_cmd("summary", compared["path"], "--csv", target, "--baseline", "nosuch", cwd=work)
    assert_clean_failure(r, r"--baseline 'nosuch' — not one of the scenarios in .*compare\.nc: fragile, fragile-copy, fragile-release")
    assert not target.exists() and not target.with_name("nothing-comparison.csv").exists()


def test_tables_are_not_cut_at_80_columns_when_stdout_is_not_a_terminal(runs, work):
    """`make demo` writes to a log: the table keeps its full width there."""
    env = {k: v for k, v in ENV.items() if k != "COLUMNS"}
    r = subprocess.run([PARDUS, "summary", runs["a"], "--csv", work / "wide.csv"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "probability of extinction" in line]
    assert len(rows) == 1, r.stdout  # one row, not folded over several lines
    assert "…" not in r.stdout


def test_first_run_says_it_is_compiling(tmp_path):
    """Numba's cache empty (a fresh install): kernels_compiled() is False; `python -m
    pardus.kernels` fills the cache, and then it is True."""
    code = "from pardus.ensemble import kernels_compiled; print(kernels_compiled())"
    env = {**ENV, "NUMBA_CACHE_DIR": str(tmp_path)}
    fresh = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert fresh.stdout.strip() == "False", fresh.stderr
    # what `make` runs after installing: compiles every kernel into the cache, once
    warm = subprocess.run([sys.executable, "-m", "pardus.kernels"], env=env, capture_output=True, text=True)
    assert warm.returncode == 0 and "compiling the simulation kernels once" in warm.stderr, warm.stderr
    after = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert after.stdout.strip() == "True", after.stderr
    again = subprocess.run([sys.executable, "-m", "pardus.kernels"], env=env, capture_output=True, text=True)
    assert "already compiled" in again.stderr


def test_run_prints_the_compiling_notice_when_kernels_are_not_cached(work, monkeypatch):
    from typer.testing import CliRunner

    import pardus.ensemble
    from pardus.cli import app

    monkeypatch.setattr(pardus.ensemble, "kernels_compiled", lambda: False)
    monkeypatch.chdir(work)
    res = CliRunner().invoke(app, ["run", "fragile.toml", "-n", "1", "-w", "1", "-o", str(work / "notice.nc")], catch_exceptions=False)
    assert "compiling the simulation kernels (first run after installation" in res.output


# --------------------------------------------------------------------------- atomic output


def test_results_are_written_atomically(runs, tmp_path, monkeypatch):
    ds = open_results(runs["a"])
    target = tmp_path / "results.nc"
    target.write_bytes(b"previous results")

    def crash(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(OSError, match="disk full"):
        save_results(ds, target)
    assert target.read_bytes() == b"previous results"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]  # no *.part left
    monkeypatch.undo()
    fresh = tmp_path / "fresh.nc"
    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(OSError):
        save_results(ds, fresh)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]


# --------------------------------------------------------------------------- Ctrl-C


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _read_until(fd: int, buf: bytearray, pattern: bytes) -> bool:
    """Read the terminal until ``pattern`` (a regex) appears; False if the output ended first.

    Blocking reads, no clock: how long the program takes to get there does not matter."""
    while not re.search(pattern, bytes(buf)):
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        buf.extend(chunk)
    return True


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize(
    "how, signum, code",
    [("terminal", signal.SIGINT, 130), ("kill", signal.SIGINT, 130), ("kill", signal.SIGTERM, 143), ("terminal", signal.SIGTERM, 143)],
)
def test_a_signal_stops_everything_and_writes_nothing(tmp_path, how, signum, code):
    """SIGINT or SIGTERM while simulating: exit 130 / 143, one message, no results file, no
    temporary file, no worker process left. 'terminal' sends it to the whole process group, as
    Ctrl-C in a terminal does; 'kill' only to the pardus process, as `kill` and `timeout` do.

    Nothing here is timed: the test waits (blocking) for the progress bar to show finished
    replicates, signals, waits for the exit, and then checks the states. Worker processes must be
    gone the moment pardus has exited, because pardus reaps them before it exits."""
    write(tmp_path, "big.toml", 'extends = "amur-2015-nonspatial"\nname = "big"\n[run]\nyears = 100\n')
    outdir = tmp_path / "out"
    outdir.mkdir()
    master, slave = pty.openpty()  # a terminal, so that the progress bar is drawn live
    env = {**ENV, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [PARDUS, "run", "big.toml", "--replicates", "100000", "--workers", "2", "--seed", "1", "--output", str(outdir / "res.nc")],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, start_new_session=True,
    )
    os.close(slave)
    buf = bytearray()
    workers: set[int] = set()
    try:
        # the workers are simulating once the progress bar shows finished replicates
        started = _read_until(master, buf, rb"simulating.*\b[1-9]\d*/100000")
        assert started, f"pardus ended before it was interrupted:\n{_tail(bytes(buf).decode(errors='replace'))}"
        workers = _descendants(proc.pid)
        assert len(workers) >= 2, f"expected worker processes, found {workers}"
        if how == "terminal":
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        rc = proc.wait()
        left = sorted(p for p in workers if _alive(p))
        stdout = proc.stdout.read().decode(errors="replace")
        _read_until(master, buf, rb"(?!)")  # the rest of the terminal output, until it closes
        term = bytes(buf).decode(errors="replace")

        problems = []
        if rc != code:
            problems.append(f"exit code {rc} (expected {code})")
        said = re.search(r"(interrupted \(Ctrl-C\)|stopped by SIGTERM) after (\d+) of 100000 replicates — stopped all workers; no results file was written", term)
        if not said:
            problems.append("no message saying it was stopped")
        elif ("Ctrl-C" in said.group(1)) != (signum == signal.SIGINT):
            problems.append(f"the message names the wrong signal: {said.group(0)}")
        if "Traceback" in term + stdout:
            problems.append("a traceback was printed")
        files = sorted(p.name for p in outdir.iterdir())
        if files:
            problems.append(f"files left in the output folder: {files}")
        if left:
            problems.append(f"processes still running after pardus exited: {left}")
        assert not problems, "; ".join(problems) + f"\n--- terminal output (tail) ---\n{term[-3000:]}\n--- stdout ---\n{stdout[-2000:]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        os.close(master)


def test_validate_places_every_count_and_writes_the_table(work):
    """`pardus validate`: one row per count, with the simulated interval of what was counted,
    where the count falls and whether it is inside; counts outside the run are listed as such;
    a coverage line; the table as CSV under -o."""
    import csv

    start = resolve_scenario(work / "fragile.toml").scenario.run.start_year
    write(
        work,
        "record.csv",
        "year,low,high,estimate,ci_low,ci_high,counted,populations,method,source\n"
        f"{start - 5},10,12,,,,all_ages,main,track count,a report\n"
        f"{start + 5},,,100000,,,independent,main,camera traps,a paper\n"
        f"{start},,,1,0,2,adults,main,camera traps,a paper\n",
    )
    out = work / "validation.csv"
    r = pardus_cmd("validate", "fragile.toml", "--record", "record.csv", "-n", N_REP, "-s", SEED, "-w", 1, "-o", out, cwd=work)
    assert_ok(r)
    assert "not in the run" in r.stdout and "Coverage: 0 of 2 counts inside the simulated 90 % interval" in r.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [int(x["year"]) for x in rows] == [start - 5, start + 5, start]
    assert rows[0]["inside"] == "" and rows[1]["inside"] == "False" and float(rows[1]["position"]) == 1.0
    assert float(rows[1]["sim_median"]) < 100000 and rows[1]["source"] == "a paper"


def test_validate_refuses_a_bad_record_before_simulating(work):
    year = resolve_scenario(work / "fragile.toml").scenario.run.start_year + 2  # a count in the run
    write(work, "bad.csv", f"year,low,high,estimate,ci_low,ci_high,counted,populations,method,source\n{year},1,2,,,,all_ages,nowhere,x,y\n")
    r = pardus_cmd("validate", "fragile.toml", "--record", "bad.csv", "-n", 4, "-o", work / "never.csv", cwd=work)
    assert_clean_failure(r, r"bad\.csv: line 2: populations nowhere not in the scenario — it has the populations and countries main")
    assert r.returncode == 2 and "simulating" not in r.stderr and not (work / "never.csv").exists()


def test_calibrate_writes_a_posterior_that_run_projects_with(work):
    """`pardus calibrate`: the posterior file and its two figures, a table per parameter; the
    same seed gives the same posterior with 1 or 2 workers; `run --posterior` draws one
    parameter set per replicate and keeps it in the results; bad options and a scenario with
    nothing to calibrate are user errors (exit 2) that write nothing."""
    start = resolve_scenario(work / "fragile.toml").scenario.run.start_year
    write(
        work,
        "record.csv",
        "year,low,high,estimate,ci_low,ci_high,counted,populations,method,source\n"
        f"{start + 5},4,14,,,,all_ages,main,track count,a report\n"
        f"{start + 10},,,10,3,25,all_ages,main,camera traps,a paper\n",
    )
    common = ("calibrate", "fragile.toml", "--record", "record.csv", "-p", "demography.p_breed=0.3:0.9", "-p", "demography.survival.*.adult=0.7:0.95",
              "--particles", 20, "--generations", 2, "--predictive", 8, "-s", SEED)
    r = pardus_cmd(*common, "-w", 1, "-o", work / "post.nc", cwd=work)
    assert_ok(r)
    assert "demography.survival.*.adult" in r.stdout and "median [90 %]" in r.stdout and "Posterior predictive:" in r.stdout
    for name in ("post.nc", "post-posterior-marginals.png", "post-posterior-predictive.png"):
        assert (work / name).stat().st_size > 1000, name
    r2 = pardus_cmd(*common, "-w", 2, "-o", work / "post2.nc", cwd=work)
    assert_ok(r2)
    a, b = xr.open_dataset(work / "post.nc"), xr.open_dataset(work / "post2.nc")
    assert np.array_equal(a["value"].values, b["value"].values) and np.array_equal(a["weight"].values, b["weight"].values)
    assert a.attrs["kind"] == "pardus-posterior" and a.attrs["seed"] == SEED and "record_csv" in a.attrs
    r = pardus_cmd("run", "fragile.toml", "--posterior", work / "post.nc", "-n", N_REP, "-s", SEED, "-w", 1, "-o", work / "proj.nc", cwd=work)
    assert_ok(r)
    proj = xr.open_dataset(work / "proj.nc")
    assert proj["posterior_value"].shape == (N_REP, 2) and set(proj["posterior_particle"].values) <= set(range(20))
    assert np.array_equal(proj["posterior_value"].values, a["value"].values[proj["posterior_particle"].values])
    r = pardus_cmd("report", work / "proj.nc", "-o", work / "rep", cwd=work)
    assert_ok(r)
    html = (work / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'id="calibration-table"' in html and "posterior-marginals.png" in html
    # user errors
    r = pardus_cmd("calibrate", "fragile.toml", "--record", "record.csv", "--particles", 3, "-o", work / "never.nc", cwd=work)
    assert_clean_failure(r, r"--particles 3: give a whole number ≥ 10")
    r = pardus_cmd("calibrate", "fragile.toml", "--record", "record.csv", "-o", work / "never.nc", cwd=work)
    assert_clean_failure(r, r"nothing to calibrate — list the uncertain parameters under \[calibration\] uncertain")
    r = pardus_cmd("run", "fragile.toml", "--posterior", work / "proj.nc", "-n", 2, "-o", work / "never.nc", cwd=work)
    assert_clean_failure(r, r"proj\.nc: not a posterior file of pardus calibrate")
    assert not (work / "never.nc").exists()

