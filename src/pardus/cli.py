"""The `pardus` command."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="pardus: Amur leopard population viability, threats and conservation actions.")
from .cli_base import UserError, err, out  # noqa: E402, F401 — shared with the command groups

# Help texts shared by the verbs that run simulations.
H_REPLICATES = "replicates per scenario (default: the largest run.replicates of the scenarios)"
H_SEED = "root random seed, a whole number from 0 to 2**64 − 1; same seed → identical results"
H_WORKERS = "local worker processes (default: every core; 1 runs in this process)"
H_SCHEDULER = "address of a Dask distributed scheduler, e.g. tcp://host:8786 (replaces --workers)"
H_POSTERIOR = "posterior file of `pardus calibrate`: each replicate draws one calibrated parameter set (the same draw in every scenario)"
H_BASELINE = "scenario name that the others are compared with (default: the first scenario)"



def _load_all(files: list[str]):
    from .scenario.loader import ScenarioError, resolve_scenarios

    resolved, problems = [], []
    for f in files:
        try:
            resolved.extend(resolve_scenarios(f))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise UserError(problems)
    names = [r.scenario.name for r in resolved]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError([f"two scenarios are named '{d}' — give each file its own `name = \"…\"`" for d in dup])
    for r in resolved:
        for w in r.warnings:
            err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    return resolved


def _without_dask() -> None:
    """A local run builds numpy-backed results, but xarray imports dask (and with it
    distributed: about 1.5 CPU-s) whenever it is installed, only to test whether an array is a
    dask array. Marking it unavailable for this process (``sys.modules`` entry None, Python's
    own way of saying a module cannot be imported) makes xarray skip it; the workers and a
    ``--scheduler`` run are not affected. Only before xarray is imported: it decides at import
    whether dask is there."""
    if "dask" not in sys.modules and "xarray" not in sys.modules:
        sys.modules["dask"] = None  # type: ignore[assignment]


def _import_for_results() -> None:
    """Import the modules that build, write and summarise the results while the workers run."""
    import importlib

    for mod in ("pardus.results", "h5netcdf"):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass
    try:
        import numpy as np
        import xarray as xr

        xr.Variable(("x",), np.zeros(1))  # xarray looks up its duck-array modules on first use
    except Exception:  # noqa: BLE001 — only a warm-up
        pass


def _read_posterior(path: Optional[Path], resolved):
    """The posterior file of --posterior, checked against every scenario (None without one)."""
    if path is None:
        return None
    from .calibration import CalibrationError, posterior_fit, read_posterior

    try:
        post = read_posterior(path)
        for r in resolved:
            _use, missing = posterior_fit(r.scenario, post)
            if missing:
                err.print(f"note: {escape(r.scenario.name)} has no {', '.join(missing)} — those calibrated parameters of {escape(post.scenario_name)} are left out", highlight=False)
    except CalibrationError as exc:
        raise UserError(str(exc).splitlines()) from None
    return post


def _run(resolved, replicates: Optional[int], seed: int, workers: Optional[int], scheduler: Optional[str], output: Optional[Path], posterior=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .ensemble import run_ensemble, start_workers

    scenarios = [r.scenario for r in resolved]
    starts = {(s.run.start_year, s.run.years) for s in scenarios}
    if len(starts) > 1:
        raise UserError(["scenarios compared in one run must share run.start_year and run.years — found " + ", ".join(f"{a}+{b}" for a, b in sorted(starts))])
    n = max(s.run.replicates for s in scenarios) if replicates is None else replicates
    if scheduler and workers:
        err.print(f"warning: --workers {workers} is ignored with --scheduler: the cluster's workers run the replicates", highlight=False, markup=False)
    from .scenario.checks import common_currency, common_landscape

    try:
        common_currency(scenarios)
        common_landscape(scenarios)
    except ValueError as exc:
        raise UserError([str(exc)]) from None
    if output is not None:
        if output.exists() and output.is_dir():
            raise UserError([f"{output}: is a folder — give a file name such as {output / 'results.nc'}"])
        _check_writable(output)
    from .ensemble import kernels_compiled

    if not kernels_compiled():
        err.print("compiling the simulation kernels (first run after installation: about a minute; later runs start at once)", highlight=False, markup=False)
    if not scheduler:
        start_workers(n, workers, len(scenarios))  # before any thread: the workers are forked ready to run
        _without_dask()
    # what is needed after the simulation is imported meanwhile, while the workers compute
    threading.Thread(target=_import_for_results, daemon=True, name="pardus-imports").start()
    total = n * len(scenarios)
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("replicates"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("run", total=total)
        done = [0, 0]  # replicates finished, last tenth reported (when stderr is a log, not a terminal)

        def advance(k: int) -> None:
            bar.advance(task, k)
            done[0] += k
            if not err.is_terminal and 10 * done[0] // total > done[1]:
                done[1] = 10 * done[0] // total
                err.print(f"simulating: {done[0]}/{total} replicates", highlight=False)

        try:
            if posterior is None:
                names, records = run_ensemble(scenarios, replicates=n, seed=seed, workers=workers, scheduler=scheduler, progress=advance)
            else:
                from .calibration import merge_projection, posterior_scenarios

                runs, assignment, origin, draw, used = posterior_scenarios(scenarios, posterior, n, seed)
                names, parts = run_ensemble(runs, replicates=n, seed=seed, workers=workers, scheduler=scheduler, progress=advance, assignment=assignment)
                records = merge_projection(parts, assignment, origin, len(scenarios), n)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            raise UserError([f"{_interrupted(signum)} after {done[0]} of {total} replicates — stopped all workers; no results file was written"], code=128 + signum) from None
        except OSError as exc:
            if scheduler:
                raise UserError([f"--scheduler {scheduler}: cannot use the Dask cluster — {exc}"]) from None
            raise
    from .results import build_dataset, save_results

    sweeps = [r.sweep for r in resolved]
    ds = build_dataset(scenarios, names, records, seed, sweeps=sweeps)
    if posterior is not None:
        from .calibration import add_posterior_draws

        ds = add_posterior_draws(ds, posterior, draw, sorted({i for u in used for i in u}))
    if output is None:
        return ds
    try:
        save_results(ds, output)
    except OSError as exc:
        raise UserError([f"{output}: cannot be written — {exc.strerror or exc}"]) from None
    err.print(f"wrote {escape(str(output))} ({len(scenarios)} scenario(s) × {n} replicates × {scenarios[0].run.years} years)", highlight=False)
    return ds


def _check_writable(path: Path) -> None:
    """Fail before any work when the output cannot be created: a file is really created (and
    removed) beside it, which catches a parent that is a file, no permission, a read-only or
    special file system such as /proc."""
    import tempfile

    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError([f"{path}: its folder {parent} cannot be created — {exc.strerror or exc}; choose another -o/--output"]) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise UserError([f"{path}: cannot be written in {parent} — {exc.strerror or exc}; choose another -o/--output"]) from None
    os.close(fd)
    os.unlink(probe)


def _interrupted(signum: int) -> str:
    return "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


def _fmt(x, digits=3):
    import math

    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


SUMMARY_ROWS = (
    ("probability of extinction ± SE", lambda r: f"{r.PE:.3f} ± {r.PE_se:.3f}"),
    ("median / mean time to extinction (y)", lambda r: f"{_fmt(r.median_TE, 0)} / {_fmt(r.mean_TE, 1)}"),
    ("final N, all runs: mean (SD)", lambda r: f"{r.N_mean:.1f} ({_fmt(r.N_sd, 1)})"),
    ("final N, extant runs: mean (SD)", lambda r: f"{_fmt(r.N_extant_mean, 1)} ({_fmt(r.N_extant_sd, 1)})"),
    ("stochastic r (SD)", lambda r: f"{_fmt(r.r_stoch)} ({_fmt(r.r_stoch_sd)})"),
    ("deterministic r / λ", lambda r: f"{_fmt(r.r_det)} / {_fmt(r.lambda_det)}"),
    ("R0 / generation time (y)", lambda r: f"{_fmt(r.R0, 2)} / {_fmt(r.generation_time, 1)}"),
    ("gene diversity: start → end (kept)", lambda r: f"{_fmt(r.GD_initial)} → {_fmt(r.GD_final)} ({_fmt(r.GD_retained)})"),
    ("P(N below quasi-extinction)", lambda r: f"{r.quasi_PE:.3f} (N < {int(r.quasi_threshold)})"),
    ("mean cost of interventions", lambda r: f"{r.total_cost_mean:,.0f}"),
)


def _print_summary(summary) -> None:
    first = summary.iloc[0]
    t = Table(title=f"Population viability: {int(first.replicates)} replicates × {int(first.years)} years")
    t.add_column("")
    for name in summary.index:
        t.add_column(escape(str(name)), justify="right", overflow="fold")
    for label, fmt in SUMMARY_ROWS:
        t.add_row(label, *(fmt(r) for _, r in summary.iterrows()))
    out.print(t)


def _print_comparison(cmp, baseline: str) -> None:
    if cmp.empty:
        return
    t = Table(title=f"Difference from '{escape(baseline)}' (paired replicates, common random numbers)")
    for col in ("scenario", "ΔPE [95 % CI]", "ΔN final ± SE", "ΔGD ± SE", "extra cost", "ΔPE per million"):
        t.add_column(col, justify="right" if col != "scenario" else "left", overflow="fold")
    for name, r in cmp.sort_values("dPE").iterrows():
        t.add_row(
            escape(str(name)),
            escape(f"{r.dPE:+.3f} [{r.dPE_ci_low:+.3f}, {r.dPE_ci_high:+.3f}]"),
            f"{r.dN_mean:+.1f} ± {_fmt(r.dN_se, 1)}",
            f"{_fmt(r.dGD, 4)} ± {_fmt(r.dGD_se, 4)}",
            f"{r.extra_cost:,.0f}",
            _fmt(r.dPE_per_million, 4),
        )
    out.print(t)
    best = cmp.sort_values("dPE").iloc[0]
    if best.dPE_ci_high < 0:
        out.print(f"Lowest extinction risk: [bold]{escape(str(cmp.sort_values('dPE').index[0]))}[/] (ΔPE {best.dPE:+.3f}, CI excludes 0).")
    else:
        out.print("No scenario lowers the extinction risk with a 95 % CI that excludes 0; see ΔN and ΔGD, or run more replicates.")
    per = cmp[cmp.dPE_per_million.notna() & (cmp.dPE_ci_high < 0)]
    if not per.empty:
        out.print(f"Most risk bought down per million spent: [bold]{escape(str(per.sort_values('dPE_per_million').index[0]))}[/].")


def _csv_atomic(df, path: Path) -> None:
    from .fileio import atomic_write

    try:
        atomic_write(path, df.to_csv)
    except OSError as exc:
        raise UserError([f"{path}: cannot be written — {exc.strerror or exc}"]) from None


@app.command()
def check(files: list[str] = typer.Argument(..., help="scenario files or preset names")) -> None:
    """Validate scenario files: every problem at once, warnings for suspicious values."""
    resolved = _load_all(files)
    for r in resolved:
        out.print(f"{r.path}: scenario '{r.scenario.name}' is valid ({len(r.warnings)} warning(s))", highlight=False, markup=False)


@app.command()
def explain(file: str = typer.Argument(..., help="scenario file or preset name")) -> None:
    """Print the resolved parameters with their sources and the intervention schedule."""
    from .scenario.explain import derived_lines, parameter_rows, schedule_lines

    for r in _load_all([file]):
        sc = r.scenario
        out.print(f"[bold]{escape(sc.name)}[/] — {escape(sc.description)}", highlight=False)
        t = Table(title="Resolved parameters")
        for col in ("parameter", "value", "set by", "source"):
            t.add_column(col, overflow="fold")
        for key, value, set_by, source in parameter_rows(r):
            t.add_row(escape(key), escape(str(value)), escape(set_by), escape(source))
        out.print(t)
        out.print("[bold]Derived[/]")
        for line in derived_lines(sc):
            out.print(f"  {line}", highlight=False, markup=False)
        out.print(f"[bold]Schedule[/] ({sc.run.start_year + 1}–{sc.run.start_year + sc.run.years})")
        for line in schedule_lines(sc):
            out.print(f"  {line}", highlight=False, markup=False)


def _check_options(replicates, seed, workers, scheduler) -> None:
    from .ensemble import run_option_problems

    problems = run_option_problems(replicates=1 if replicates is None else replicates, seed=seed, workers=workers, scheduler=scheduler, flags=True)
    if problems:
        raise UserError(problems)


@app.command()
def run(
    scenario: list[str] = typer.Argument(..., help="scenario file(s) or preset name(s); a [sweep] gives several"),
    replicates: Optional[int] = typer.Option(None, "--replicates", "-n", help=H_REPLICATES),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=H_WORKERS),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=H_SCHEDULER),
    output: Path = typer.Option(Path("results.nc"), "--output", "-o", help="results file (NetCDF)"),
    posterior: Optional[Path] = typer.Option(None, "--posterior", help=H_POSTERIOR),
) -> None:
    """Run replicates of one or more scenarios and save the results."""
    _check_options(replicates, seed, workers, scheduler)
    resolved = _load_all(scenario)
    post = _read_posterior(posterior, resolved)
    ds = _run(resolved, replicates, seed, workers, scheduler, output, post)
    from .results import summarize

    _print_summary(summarize(ds))


@app.command()
def compare(
    scenarios: list[str] = typer.Argument(..., help="two or more scenario files (the first is the baseline), or one file with a [sweep]"),
    replicates: Optional[int] = typer.Option(None, "--replicates", "-n", help=H_REPLICATES),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=H_WORKERS),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=H_SCHEDULER),
    output: Path = typer.Option(Path("compare.nc"), "--output", "-o", help="results file (NetCDF)"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help=H_BASELINE),
    posterior: Optional[Path] = typer.Option(None, "--posterior", help=H_POSTERIOR),
) -> None:
    """Run scenarios with common random numbers and report differences with their uncertainty."""
    _check_options(replicates, seed, workers, scheduler)
    resolved = _load_all(scenarios)
    post = _read_posterior(posterior, resolved)
    if len(resolved) < 2:
        raise UserError([f"{scenarios[0]}: compare needs at least two scenarios (two files, or a file with a [sweep])"])
    names = [r.scenario.name for r in resolved]
    if baseline is not None and baseline not in names:
        raise UserError([f"--baseline {baseline!r} — not one of the scenarios: {', '.join(names)}"])
    ds = _run(resolved, replicates, seed, workers, scheduler, output, post)
    from .results import compare_to_baseline, summarize

    _print_summary(summarize(ds))
    base = baseline or names[0]
    _print_comparison(compare_to_baseline(ds, base), base)


@app.command()
def validate(
    scenario: str = typer.Argument(..., help="scenario file or preset name"),
    record: str = typer.Option(..., "--record", help="census record: a CSV file, or a shipped record such as 'amur'"),
    replicates: Optional[int] = typer.Option(None, "--replicates", "-n", help=H_REPLICATES),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=H_WORKERS),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=H_SCHEDULER),
    output: Path = typer.Option(Path("validation.csv"), "--output", "-o", help="the table, one row per count (CSV)"),
    results: Optional[Path] = typer.Option(None, "--results", help="also keep the simulation's results file (NetCDF)"),
    posterior: Optional[Path] = typer.Option(None, "--posterior", help=H_POSTERIOR),
) -> None:
    """Place every count of a census record in the scenario's simulated distribution."""
    from .validation import LEVEL, RecordError, coverage, place, read_record, reporting_units, table_rows

    _check_options(replicates, seed, workers, scheduler)
    resolved = _load_all([scenario])
    if len(resolved) != 1:
        raise UserError([f"{scenario}: validate takes one scenario — this file is a [sweep] of {len(resolved)}"])
    sc = resolved[0].scenario
    try:
        units = reporting_units(sc)
        counts = read_record(record, units, (sc.run.start_year, sc.run.start_year + sc.run.years))
    except RecordError as exc:
        raise UserError(str(exc).splitlines()) from None
    _check_writable(output)
    post = _read_posterior(posterior, resolved)
    ds = _run(resolved, replicates, seed, workers, scheduler, results, post)
    names = [str(p) for p in ds.population.values]
    N = ds["N"].isel(scenario=0).transpose("replicate", "year", "population", "sex", "stage").values
    placed = place(N, names, sc.run.start_year, counts, units)
    import pandas as pd

    df = pd.DataFrame(table_rows(placed))
    _csv_atomic(df.set_index("year"), output)
    pct = int(round(100 * LEVEL))
    t = Table(title=f"{escape(sc.name)} against the record {escape(record)} ({len(ds.replicate)} replicates)")
    for col in ("year", "counted", "populations", "observed", f"simulated median [{pct} %]", "position", f"inside {pct} %"):
        t.add_column(col, justify="left" if col in ("counted", "populations") else "right", overflow="fold")
    for p in placed:
        c = p.count
        if p.in_run:
            lo, med, hi = p.quantiles()
            sim, pos, ins = f"{med:g} [{lo:g}, {hi:g}]", f"{p.position:.2f}", "yes" if p.inside else "[bold red]no[/]"
        else:
            sim, pos, ins = "not in the run", "", ""
        t.add_row(str(c.year), c.counted, "+".join(c.populations), c.observed(), sim, pos, ins)
    out.print(t)
    k, m = coverage(placed)
    if m == 0:
        out.print(f"No count of the record falls in the run ({sc.run.start_year}–{sc.run.start_year + sc.run.years}).")
    else:
        se = (LEVEL * (1 - LEVEL) / m) ** 0.5
        out.print(f"Coverage: {k} of {m} counts inside the simulated {pct} % interval ({k / m:.0%}; nominal {pct} %, binomial SE {se:.0%}).")
    err.print(f"wrote {escape(str(output))}", highlight=False)


@app.command()
def calibrate(
    scenario: str = typer.Argument(..., help="scenario file or preset name (its [calibration] uncertain = [...] lists what to calibrate)"),
    record: str = typer.Option(..., "--record", help="census record: a CSV file, or a shipped record such as 'amur'"),
    param: list[str] = typer.Option([], "--param", "-p", help="add or re-range a parameter: KEY (its source's range) or KEY=LO:HI; repeat for more"),
    particles: int = typer.Option(300, "--particles", help="particles per generation"),
    generations: int = typer.Option(10, "--generations", help="at most this many generations"),
    tolerance: float = typer.Option(0.0, "--tolerance", help="stop when ε (the summed log-scale misses of the counts' intervals) is at most this; 0: every count inside"),
    min_acceptance: float = typer.Option(0.03, "--min-acceptance", help="stop when a generation accepts fewer than this share of its simulations"),
    max_simulations: int = typer.Option(200_000, "--max-simulations", help="stop after this many simulations"),
    stable: float = typer.Option(0.0, "--stable", help="stop when every parameter's posterior median moved less than this share of its prior range in each of the last two generations (e.g. 0.02; 0: off)"),
    prior_share: float = typer.Option(0.1, "--prior-share", help="share of each generation's proposals drawn from the prior (defensive importance sampling: no particle's weight exceeds 1/share of the prior's; 0: off)"),
    predictive_n: int = typer.Option(200, "--predictive", help="replicates of the posterior predictive (figure and coverage; 0: none)"),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=H_WORKERS),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=H_SCHEDULER),
    output: Path = typer.Option(Path("posterior.nc"), "--output", "-o", help="posterior file (NetCDF)"),
    figures: Optional[Path] = typer.Option(None, "--figures", help="folder for the figures (default: beside the posterior file, named after it)"),
) -> None:
    """Calibrate a scenario to a census record (ABC-SMC with pyabc) and write the posterior."""
    from .calibration import CalibrationError, Settings, add_predictive, calibrate as run_abc, read_posterior, setup, summary_rows, to_dataset, write_posterior
    from .validation import RecordError

    _check_options(1, seed, workers, scheduler)
    problems = []
    for name, value, low in (("--particles", particles, 10), ("--generations", generations, 1), ("--max-simulations", max_simulations, 1), ("--predictive", predictive_n, 0)):
        if value < low:
            problems.append(f"{name} {value}: give a whole number ≥ {low}")
    if not 0.0 <= min_acceptance < 1.0:
        problems.append(f"--min-acceptance {min_acceptance}: give a share from 0 to below 1, e.g. 0.02")
    if not 0.0 <= stable < 1.0:
        problems.append(f"--stable {stable}: give a share of the prior range from 0 (off) to below 1, e.g. 0.02")
    if tolerance < 0.0:
        problems.append(f"--tolerance {tolerance}: give ε ≥ 0 (0: every count inside its interval)")
    if not 0.0 <= prior_share < 1.0:
        problems.append(f"--prior-share {prior_share}: give a share from 0 (off) to below 1, e.g. 0.1")
    if problems:
        raise UserError(problems)
    resolved = _load_all([scenario])
    if len(resolved) != 1:
        raise UserError([f"{scenario}: calibrate takes one scenario — this file is a [sweep] of {len(resolved)}"])
    res = resolved[0]
    try:
        prob, counts, years = setup(res, record, param)
    except (CalibrationError, RecordError) as exc:
        raise UserError(str(exc).splitlines()) from None
    _check_writable(output)
    err.print(
        f"calibrating {len(prob.keys)} parameters of {escape(res.scenario.name)} to {len(counts)} counts of {escape(record)}"
        f" ({res.scenario.run.start_year}–{res.scenario.run.start_year + years}); {particles} particles",
        highlight=False,
    )
    spent = [0]

    def generation(call: int, n: int) -> None:
        spent[0] += n
        err.print(f"generation {call}: {n} simulations ({spent[0]} in all)", highlight=False)

    settings = Settings(particles, generations, tolerance, min_acceptance, max_simulations, seed, workers, scheduler, stable, prior_share)
    try:
        result = run_abc(res, record, param, settings, progress=generation)
    except CalibrationError as exc:
        raise UserError(str(exc).splitlines()) from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        raise UserError([f"{_interrupted(signum)} during the calibration — no posterior file was written"], code=128 + signum) from None
    ds = to_dataset(result, res, record)
    tmp_post = output.with_name(f".{output.name}.draws.nc")
    if predictive_n:
        from .calibration import predictive

        write_posterior(ds, tmp_post)
        try:
            err.print(f"posterior predictive: {predictive_n} replicates", highlight=False)
            years_, labels, bands, placed = predictive(res, read_posterior(tmp_post), counts, predictive_n, seed, workers, scheduler)
        finally:
            tmp_post.unlink(missing_ok=True)
        ds = add_predictive(ds, years_, labels, bands, placed)
        ds.attrs["predictive_replicates"] = predictive_n
    write_posterior(ds, output)
    from .fileio import atomic_write
    from .report.calibration import calibration_figures

    written = [output]
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
    for fig in calibration_figures(ds):
        path = figures / f"{ds.attrs['scenario_name']}-{fig.name}.png" if figures is not None else output.with_name(f"{output.stem}-{fig.name}.png")
        atomic_write(path, lambda tmp, png=fig.png: Path(tmp).write_bytes(png))
        written.append(path)
    ess = 1.0 / float((result.weights**2).sum())
    t = Table(
        title=f"Posterior of {escape(res.scenario.name)} (ε = {result.epsilons[-1]:.3g}; {sum(result.simulations)} simulations; {escape(result.stopped)};"
        f" effective sample size {ess:.0f} of {len(result.weights)} particles)"
    )
    for col in ("parameter", "prior", "median [90 %]", "interval / prior"):
        t.add_column(col, justify="left" if col == "parameter" else "right", overflow="fold")
    for r in summary_rows(ds):
        t.add_row(escape(r["parameter"]), f"{r['prior_low']:g}–{r['prior_high']:g}", f"{r['median']:.4g} [{r['q05']:.4g}, {r['q95']:.4g}]", f"{r['narrowing']:.2f}")
    out.print(t)
    if predictive_n:
        k = int(ds["count_inside"].values.sum())
        out.print(f"Posterior predictive: {k} of {len(counts)} counts inside the simulated 90 % interval.")
    for path in written:
        err.print(f"wrote {escape(str(path))}", highlight=False)


@app.command()
def sensitivity(
    scenario: str = typer.Argument(..., help="scenario file or preset name"),
    param: list[str] = typer.Option(..., "--param", "-p", help="a parameter to vary: KEY (its source's range) or KEY=LO:HI; repeat for more"),
    method: str = typer.Option("sobol", "--method", help="sobol (first- and total-order indices) or morris (elementary effects)"),
    samples: int = typer.Option(64, "--samples", "-N", help="Sobol': base samples (a power of 2; N·(k+2) runs); Morris: trajectories (N·(k+1) runs)"),
    replicates: int = typer.Option(20, "--replicates", "-n", help="replicates per sample (all with the same seed: common random numbers)"),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=H_WORKERS),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=H_SCHEDULER),
    output: Path = typer.Option(Path("sensitivity.csv"), "--output", "-o", help="the indices, one row per outcome and parameter (CSV); their figure goes beside it (.png)"),
) -> None:
    """Global sensitivity (SALib): which uncertain parameters drive PE, final N, gene diversity and growth."""
    from .sensitivity import METHODS, OUTCOMES, SensitivityError, design, problem, run

    _check_options(replicates, seed, workers, scheduler)
    if method not in METHODS:
        raise UserError([f"--method {method}: one of {', '.join(METHODS)}"])
    resolved = _load_all([scenario])
    if len(resolved) != 1:
        raise UserError([f"{scenario}: sensitivity takes one scenario — this file is a [sweep] of {len(resolved)}"])
    res = resolved[0]
    try:
        prob = problem(res, param)
        runs = len(design(prob, method, samples, seed))
    except SensitivityError as exc:
        raise UserError(str(exc).splitlines()) from None
    _check_writable(output)
    err.print(f"{runs} scenarios × {replicates} replicates ({method}, {len(prob.keys)} parameters)", highlight=False)
    total, done = runs * replicates, [0]

    def advance(k: int) -> None:
        done[0] += k
        if 10 * done[0] // total > 10 * (done[0] - k) // total:
            err.print(f"simulating: {done[0]}/{total} replicates", highlight=False)

    _prob, _X, _table, rows = run(res, param, method, samples, replicates, seed, workers, scheduler, progress=advance)
    import pandas as pd

    df = pd.DataFrame(rows)
    _csv_atomic(df.set_index(["outcome", "parameter"]), output)
    from .fileio import atomic_write
    from .report.calibration import plot_sensitivity

    fig = plot_sensitivity(rows, method, res.scenario.name, runs, replicates)
    figure = output.with_suffix(".png")
    if fig is not None:
        atomic_write(figure, lambda tmp: Path(tmp).write_bytes(fig.png))
    cols = ("S1", "ST") if method == "sobol" else ("mu_star", "sigma")
    t = Table(title=f"Sensitivity of {escape(res.scenario.name)} ({method}, {runs} runs × {replicates} replicates; ± 95 % bootstrap interval)")
    t.add_column("outcome")
    t.add_column("parameter", overflow="fold")
    for c in cols:
        t.add_column(c, justify="right")
    for r in rows:
        if not r["varies"]:
            t.add_row(OUTCOMES[r["outcome"]], escape(r["parameter"]), *([r["note"]] + [""] * (len(cols) - 1)))
            continue
        if method == "sobol":
            t.add_row(OUTCOMES[r["outcome"]], escape(r["parameter"]), f"{r['S1']:.2f} ± {r['S1_conf']:.2f}", f"{r['ST']:.2f} ± {r['ST_conf']:.2f}")
        else:
            t.add_row(OUTCOMES[r["outcome"]], escape(r["parameter"]), f"{r['mu_star']:.3g} ± {r['mu_star_conf']:.2g}", f"{r['sigma']:.3g}")
    out.print(t)
    err.print(f"wrote {escape(str(output))}" + (f" and {escape(str(figure))}" if fig is not None else ""), highlight=False)


@app.command()
def summary(
    results: Path = typer.Argument(..., help="results file written by `pardus run` or `pardus compare`"),
    csv: Optional[Path] = typer.Option(None, "--csv", "--output", "-o", help="CSV file for the table (default: RESULTS with -summary.csv)"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help=H_BASELINE),
    timeseries: Optional[Path] = typer.Option(
        None, "--timeseries", help="also write the yearly table per scenario (N, PE(t), genetics, births, deaths by cause) to this CSV file"
    ),
) -> None:
    """Print and save the standard PVA table of a results file (and, on request, the yearly table)."""
    from .results import compare_to_baseline, summarize

    ds = _load_results(results)
    names = [str(n) for n in ds.scenario.values]
    if baseline is not None and baseline not in names:
        raise UserError([f"--baseline {baseline!r} — not one of the scenarios in {results}: {', '.join(names)}"])
    table = summarize(ds)
    path = csv or results.with_name(results.stem + "-summary.csv")
    cmp = _results_call(compare_to_baseline, ds, baseline or names[0]) if len(names) > 1 else None
    if timeseries is not None:
        from .results import timeseries as yearly

        series = yearly(ds)
    else:
        series = None
    targets = [path] + ([path.with_name(path.stem + "-comparison.csv")] if cmp is not None else []) + ([timeseries] if timeseries is not None else [])
    for target in targets:
        _check_writable(target)
    _print_summary(table)
    if cmp is not None:
        _print_comparison(cmp, baseline or names[0])
    _csv_atomic(table, path)
    if cmp is not None:
        _csv_atomic(cmp, targets[1])
    if series is not None:
        _csv_atomic(series, timeseries)
    err.print("wrote " + ", ".join(str(t) for t in targets), highlight=False, markup=False)


@app.command()
def report(
    results: Path = typer.Argument(..., help="results file written by `pardus run` or `pardus compare`"),
    output: Path = typer.Option(Path("report"), "--output", "-o", help="folder for report.html and figures/"),
    baseline: Optional[str] = typer.Option(None, "--baseline"),
    connectivity: Optional[Path] = typer.Option(
        None, "--connectivity", help="prefix written by `pardus connectivity SCENARIO -o PREFIX`: adds its maps, pairs and ranked candidates"
    ),
) -> None:
    """Write a self-contained HTML report with PNG figures."""
    from .report import build_report
    from .report.connectivity import ConnectivityInputError
    from .results import compare_to_baseline, summarize

    ds = _load_results(results)
    table = summarize(ds)
    base = baseline or str(ds.scenario.values[0])
    cmp = _results_call(compare_to_baseline, ds, base) if ds.sizes["scenario"] > 1 else None
    try:
        path = build_report(ds, table, cmp, output, baseline=base if cmp is not None else None, connectivity=connectivity)
    except ConnectivityInputError as exc:
        raise UserError([str(exc)]) from None
    except (NotADirectoryError, FileExistsError):
        raise UserError([f"{output}: is a file — give a folder for report.html and figures/"]) from None
    except OSError as exc:
        raise UserError([f"{output}: the report cannot be written there — {exc.strerror or exc}"]) from None
    err.print(f"wrote {path}", highlight=False)


@app.command()
def presets() -> None:
    """List the shipped presets."""
    from .scenario.loader import list_presets, resolve_scenario

    for name in list_presets():
        out.print(f"{name}: {resolve_scenario(name).scenario.description}", highlight=False, markup=False)


landscape_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Look at a landscape and write its layers as GeoTIFF.")
app.add_typer(landscape_app, name="landscape")
H_LANDSCAPE = "`default` (the embedded schematic of southwest Primorye), a folder of GeoTIFF layers (<layer>.tif, region_<name>.tif), or a scenario file with [landscape]"


def _landscape(source: str, seed: int):
    from .landscape.default import default_landscape
    from .landscape.io import LandscapeError, read_landscape

    if source == "default":
        return default_landscape(seed=seed)
    if source.endswith(".toml"):  # a scenario file: the map of its [landscape]
        from .spatial import load_landscape

        found = _load_all([source])
        sc = found[0].scenario
        if sc.landscape is None:
            raise UserError([f"{source}: has no [landscape] — give a scenario on a map, `default` or a folder of GeoTIFF layers"])
        return load_landscape(sc.landscape)
    try:
        return read_landscape(source)
    except LandscapeError as exc:
        raise UserError(str(exc).split("; ")) from None


@landscape_app.command("show")
def landscape_show(
    source: str = typer.Argument("default", help=H_LANDSCAPE),
    output: Path = typer.Option(Path("landscape.png"), "--output", "-o", help="the map figure (PNG, SVG or PDF by its suffix)"),
    layer: Optional[list[str]] = typer.Option(None, "--layer", "-l", help="numeric layer to draw beside the cover map (repeat; default: human access, prey capacity, elevation)"),
    seed: int = typer.Option(2015, "--seed", "-s", help="seed of the default landscape"),
) -> None:
    """Draw a landscape's layers as a map figure, and list them."""
    from .landscape.layers import LAYERS
    from .landscape.maps import plot_landscape

    land = _landscape(source, seed)
    unknown = [n for n in (layer or []) if n not in land.layers]
    if unknown:
        raise UserError([f"--layer {n}: the landscape has no such layer; it has {', '.join(land.layers)}" for n in unknown])
    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError([f"{output}: give a .png, .svg or .pdf file"])
    if output.parent and not output.parent.exists():
        raise UserError([f"{output}: the folder {output.parent} does not exist"])
    plot_landscape(land, output, layers=layer, title=f"{source} landscape: {land.grid.describe()}")
    t = Table(box=None)
    for col in ("layer", "units", "min", "mean", "max"):
        t.add_column(col, justify="left" if col in ("layer", "units") else "right")
    for name, v in land.layers.items():
        spec = LAYERS.get(name)
        vf = v.astype(float)
        t.add_row(name, spec.units if spec else "", f"{vf.min():.3g}", f"{vf.mean():.3g}", f"{vf.max():.3g}")
    for name, reg in land.regions.items():
        counts = ", ".join(f"{n} {int((reg.codes == i).sum())}" for i, n in enumerate(reg.names))
        t.add_row(f"region {name}", "cells", "", counts, "")
    out.print(t)
    err.print(f"wrote {output}", highlight=False)


@landscape_app.command("fire")
def landscape_fire(
    source: str = typer.Argument("default", help=H_LANDSCAPE),
    replicates: int = typer.Option(8, "--replicates", "-n", min=1, help="independent fire histories"),
    years: int = typer.Option(30, "--years", min=1, help="years of each history (cover held fixed)"),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="map of the yearly burn probability per cell (PNG)"),
    landscape_seed: int = typer.Option(2015, "--landscape-seed", help="seed of the default landscape"),
    succession: bool = typer.Option(False, "--succession", help="let the cover change after the fires (succession, MODEL.md §4.3) instead of holding it fixed; prints the cover at the start and the end"),
    firebreak: Optional[Path] = typer.Option(None, "--firebreak", help="GeoJSON file of firebreak lines or areas in the landscape's CRS"),
    firebreak_ring: Optional[str] = typer.Option(None, "--firebreak-ring", help="a firebreak ring around a zone, ZONE:WIDTH in cells, e.g. core:2"),
    firebreak_width: int = typer.Option(1, "--firebreak-width", min=1, help="width of firebreak lines in cells"),
    firebreak_strength: float = typer.Option(1.0, "--firebreak-strength", min=0.0, max=1.0, help="share of fire spread a firebreak stops (1: impassable)"),
) -> None:
    """The fire regime of a landscape under the default fire parameters: the share that burns a
    year, region-wide and in the park core, with its spread, and a burn-probability map."""
    import numpy as np

    from .landscape.maps import plot_cell_map
    from .processes.fire import simulate_fire

    land = _landscape(source, landscape_seed)
    missing = [n for n in ("cover", "human_access", "firebreak", "years_since_fire", "zone") if n not in land.layers]
    if missing:
        raise UserError([f"{source}: the landscape has no layer '{n}', which fire needs" for n in missing])
    if output is not None and output.suffix.lower() != ".png":
        raise UserError([f"{output}: give a .png file"])
    from .processes.succession import SuccessionParams

    from .landscape.geometry import GeometryError, mask_from_geometry, ring_around
    from .landscape.layers import LAYERS

    breaks = None
    try:
        if firebreak is not None:
            breaks = mask_from_geometry(land.grid, firebreak, width=firebreak_width)
        if firebreak_ring is not None:
            zone, _, width = firebreak_ring.partition(":")
            try:
                code, w = LAYERS["zone"].code(zone), int(width or 1)
            except (KeyError, ValueError):
                raise UserError([f"--firebreak-ring {firebreak_ring}: give ZONE:WIDTH with ZONE one of {', '.join(LAYERS['zone'].codes.values())} and WIDTH a whole number of cells"]) from None
            ring = ring_around(land.grid, land.layers["zone"] == code, w)
            breaks = ring if breaks is None else breaks | ring
    except GeometryError as exc:
        raise UserError([str(exc)]) from None
    if breaks is not None:
        breaks = np.where(breaks & (land.layers["cover"] != 0), firebreak_strength, 0.0)
        out.print(f"firebreaks on {int((breaks > 0).sum())} cells", highlight=False, markup=False)
    r = simulate_fire(land, years=years, replicates=replicates, seed=seed, succession=SuccessionParams() if succession else None, firebreak=breaks)
    t = Table(box=None)
    for col in ("burned a year", "mean", "SD over years", "5 %", "95 %"):
        t.add_column(col, justify="left" if col == "burned a year" else "right")
    once = (r["burn_count"] > 0)
    for label, x in (("share of the land", r["burned_share"]), ("share of the park core", r["burned_share_zone"])):
        t.add_row(label, f"{x.mean():.3f}", f"{x.std():.3f}", f"{np.quantile(x, 0.05):.3f}", f"{np.quantile(x, 0.95):.3f}")
    t.add_row("fires a year", f"{r['fires'].mean():.1f}", f"{r['fires'].std():.1f}", f"{np.quantile(r['fires'], 0.05):.0f}", f"{np.quantile(r['fires'], 0.95):.0f}")
    out.print(t)
    land_cells = land.layers["cover"] != 0
    out.print(f"burned at least once in {years} years: {once[:, land_cells].mean():.2f} of the land ({replicates} replicates)", highlight=False, markup=False)
    if succession:
        from .landscape.layers import COVER_CODES

        c = Table(box=None, title="share of the land by cover (mean over replicates)")
        c.add_column("cover")
        for label in ("start", f"year {years}"):
            c.add_column(label, justify="right")
        start = np.array([(land.layers["cover"][land_cells] == k).mean() for k in sorted(COVER_CODES)])
        end = r["cover_share"][:, -1].mean(axis=0)
        for k in sorted(COVER_CODES):
            if k and (start[k] > 0 or end[k] > 0):
                c.add_row(COVER_CODES[k], f"{start[k]:.3f}", f"{end[k]:.3f}")
        out.print(c)
        first, last = r["burned_share"][:, : min(10, years)].mean(), r["burned_share"][:, -min(10, years) :].mean()
        out.print(f"burned a year: {first:.3f} in the first 10 years, {last:.3f} in the last 10", highlight=False, markup=False)
    if output is not None:
        prob = r["burn_count"].mean(axis=0) / years
        plot_cell_map(land, prob, output, f"yearly burn probability ({replicates} × {years} years)", "probability a year")
        err.print(f"wrote {output}", highlight=False)


@landscape_app.command("run")
def landscape_run(
    scenario: str = typer.Argument(..., help="scenario file or preset whose populations are regions of the landscape (russia, china on the default one)"),
    source: Optional[str] = typer.Option(None, "--landscape", help=H_LANDSCAPE + " (default: the scenario's [landscape], else the default landscape)"),
    replicates: int = typer.Option(8, "--replicates", "-n", min=1, help="replicates"),
    years: Optional[int] = typer.Option(None, "--years", min=1, help="years (default: the scenario's run.years)"),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    landscape_seed: int = typer.Option(2015, "--landscape-seed", help="seed of the default landscape"),
) -> None:
    """A quick look at a scenario on the map (territories, mates from overlapping ranges,
    dispersal over roads, fire, succession, prey per cell, distemper from dogs, interventions on
    areas): N by population every ten years, adults per 100 km² and the deaths by cause, without
    a results file (`pardus run` on a scenario with [landscape] writes one). Uncalibrated."""
    import numpy as np

    from .scenario.schema import CAUSES
    from .spatial import simulate_spatial

    resolved = _load_all([scenario])
    if len(resolved) != 1:
        raise UserError([f"{scenario}: holds {len(resolved)} scenarios — give one"])
    sc_resolved = resolved[0].scenario
    land = None if source is None and sc_resolved.landscape is not None else _landscape(source or "default", landscape_seed)
    try:
        rec = simulate_spatial(sc_resolved, land=land, replicates=replicates, seed=seed, years=years)
    except ValueError as exc:
        raise UserError([f"{scenario}: {exc}"]) from None
    names = list(rec["names"])
    N = rec["N"].sum(axis=(3, 4))  # (replicates, years, populations)
    T = N.shape[1] - 1
    t = Table(box=None, title=f"mean N over {replicates} replicates (on the map)")
    t.add_column("year", justify="right")
    for name in names:
        t.add_column(name, justify="right")
    t.add_column("adults / 100 km² (russia, china)", justify="right")
    y0 = sc_resolved.run.start_year
    for yr in sorted(set(list(range(0, T + 1, 10)) + [T])):
        dens = rec["adults_per_100km2"][:, yr]
        t.add_row(str(y0 + yr), *[f"{N[:, yr, i].mean():.1f}" for i in range(len(names))], ", ".join(f"{np.nanmean(dens[:, names.index(n)]):.2f}" for n in ("russia", "china") if n in names))
    out.print(t)
    d = rec["deaths"][:, 1:].sum(axis=(0, 1, 2))
    total = max(int(d.sum()), 1)
    out.print("deaths by cause: " + ", ".join(f"{c} {100 * v / total:.0f} %" for c, v in zip(CAUSES, d) if v), highlight=False, markup=False)
    ext = (N[:, -1].sum(axis=1) == 0).mean()
    out.print(f"no animal left after {T} years: {ext:.2f} of the replicates", highlight=False, markup=False)


@landscape_app.command("export")
def landscape_export(
    source: str = typer.Argument("default", help=H_LANDSCAPE),
    output: Path = typer.Option(Path("landscape"), "--output", "-o", help="folder for the GeoTIFF files (created if needed)"),
    seed: int = typer.Option(2015, "--seed", "-s", help="seed of the default landscape"),
) -> None:
    """Write every layer and region layer as a GeoTIFF (one band each, aligned to one grid)."""
    from .landscape.io import LandscapeError, write_landscape

    land = _landscape(source, seed)
    if output.exists() and not output.is_dir():
        raise UserError([f"{output}: is a file — give a folder for the GeoTIFF layers"])
    try:
        paths = write_landscape(land, output)
    except LandscapeError as exc:
        raise UserError([str(exc)]) from None
    err.print(f"wrote {len(paths)} GeoTIFF files to {output}", highlight=False)


def _load_results(path: Path):
    from .results import ResultsError, load_results

    try:
        return load_results(path)
    except ResultsError as exc:
        raise UserError([str(exc)]) from None


def _results_call(fn, *args):
    from .results import ResultsError

    try:
        return fn(*args)
    except ResultsError as exc:
        raise UserError([str(exc)]) from None


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"pardus {__version__}", highlight=False, markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="print the version of pardus and exit", callback=_version, is_eager=True),
) -> None:
    """pardus: Amur leopard population viability, threats and conservation actions."""


def _raise_interrupted(signum, _frame):
    from .ensemble import Interrupted

    raise Interrupted(signum)


def _exit_interrupted(exc: BaseException) -> None:
    signum = getattr(exc, "signum", signal.SIGINT)
    err.print(f"{_interrupted(signum)} — nothing was written", highlight=False, markup=False)
    _stop_helpers()
    sys.exit(128 + signum)


def _stop_helpers() -> None:
    """Stop multiprocessing's resource tracker if a library started one, so that nothing this
    process started outlives it (the local workers are reaped by the ensemble itself)."""
    if "multiprocessing.resource_tracker" in sys.modules:
        import gc
        from multiprocessing import resource_tracker

        gc.collect()
        stop = getattr(resource_tracker._resource_tracker, "_stop", None)
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001 — best effort at exit
                pass



@app.command()
def connectivity(
    config: str = typer.Argument(..., help="a Circuitscape or Omniscape .ini file (runs it unchanged), or a scenario file or preset with [landscape]"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="output prefix, e.g. out/run1 (replaces the ini's output_file; files are out/run1_resistances.out, …; for a scenario default SCENARIO-connectivity)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="threads solving focal nodes in parallel (default 1, or max_parallel with parallelize = True)"),
    geotiff: bool = typer.Option(False, "--geotiff", help="write grids as GeoTIFF (.tif) instead of ASCII (.asc)"),
    core: Optional[list[str]] = typer.Option(None, "--core", help="scenario form: a habitat core, as an area (zone:core, country:china, ring:core:2, a GeoJSON or GeoTIFF); repeat, at least two"),
    year: Optional[int] = typer.Option(None, "--year", help="scenario form: the landscape of this year, with the interventions in force then (default: the start year)"),
    candidates: Optional[str] = typer.Option(None, "--candidates", help="scenario form: cells to rank as crossings or corridor cells: roads, a road class (highway, road, railway) or an area"),
    corridor_width: float = typer.Option(10.0, "--corridor-width", help="scenario form: least-cost corridor width, km of undisturbed forest (cost-distance above the least-cost path)"),
    results: Optional[Path] = typer.Option(None, "--results", help="scenario form: a results file of a run of this scenario: each candidate gets the simulated dispersers' passage through it"),
    rank_by: str = typer.Option("resistance", "--rank-by", help="scenario form: rank candidates by the fall of effective resistance (resistance) or by simulated passage (dispersal; needs --results)"),
) -> None:
    """Connectivity: run a Circuitscape .ini unchanged (pairwise, one-to-all, all-to-one, advanced; raster or network)
    or an Omniscape .ini (moving window),
    or, for a scenario on a map, circuit theory and least-cost corridors between habitat cores and candidate crossings ranked."""
    if not config.lower().endswith(".ini"):
        return _connectivity_scenario(config, output, geotiff, core or [], year, candidates, corridor_width, workers, results, rank_by)
    given = [k for k, v in (("--core", core), ("--year", year), ("--candidates", candidates), ("--results", results)) if v]
    if given:
        raise UserError([f"{', '.join(given)}: only for a scenario — an .ini names its own inputs"])
    from .connectivity import ConnectivityError, load_ini, run_config

    if workers is not None and workers < 1:
        raise UserError([f"--workers {workers}: give 1 or more"])
    from .connectivity.config import parse_ini_text
    from .connectivity.omniscape_ini import is_omniscape

    try:
        raw = parse_ini_text(Path(config).read_text(encoding="utf-8-sig", errors="replace"), config)
    except OSError:
        raw = {}  # load_ini says what is wrong with the file
    except ConnectivityError as exc:
        raise UserError(str(exc).splitlines()) from None
    if is_omniscape(raw):
        return _omniscape_ini(config, raw, output, workers, geotiff)
    try:
        cfg = load_ini(config, output_prefix=str(output) if output is not None else None)
        prefix = cfg.output_prefix
        _check_writable(Path(str(prefix) + ".out"))
        result = run_config(cfg, workers=workers, geotiff=geotiff)
    except ConnectivityError as exc:
        raise UserError(str(exc).splitlines()) from None
    out.print(f"{escape(cfg.data_type)} {escape(result.mode)}: {escape(str(config))}", highlight=False)
    t = Table()
    R = result.resistances
    if R is not None and result.mode == "pairwise":
        t.add_column("pair")
        t.add_column("resistance", justify="right")
        ids = R[0, 1:]
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                v = R[i + 1, j + 1]
                t.add_row(f"{ids[i]:g} – {ids[j]:g}", "not connected" if v == -1 else f"{v:.6g}")
    elif R is not None:
        t.add_column("focal node")
        t.add_column("resistance" if result.mode == "one-to-all" else "result", justify="right")
        for node, v in R:
            t.add_row(f"{node:g}", "not solved (-1)" if v == -1 else f"{v:.6g}")
    else:
        t.add_column("advanced mode")
        t.add_column("value", justify="right")
        V = result.voltages
        vals = V[:, 1] if V.ndim == 2 and V.shape[1] == 2 and result.data_type == "network" else V.ravel()
        t.add_row("max voltage", f"{float(vals.max()) if vals.size else 0.0:.6g}")
    out.print(t)
    err.print(f"solver: {escape(result.solver)}; {result.solves} linear solve(s) in {result.seconds:.2f} s", highlight=False)
    err.print(f"wrote {len(result.files)} file(s) beside {escape(str(prefix))}", highlight=False)

@app.command()
def corridors(
    resistance: Path = typer.Argument(..., help="resistance grid (.asc, .asc.gz or GeoTIFF; nodata = impassable)"),
    cores: Path = typer.Argument(..., help="core areas: a grid of the same geometry with a positive id per core (0 or nodata = none)"),
    output: Path = typer.Option(Path("corridors"), "--output", "-o", help="output prefix: PREFIX_corridors.asc, PREFIX_cwd_<id>.asc, PREFIX_linkTable.csv"),
    width: Optional[float] = typer.Option(None, "--width", help="corridor width as a cost-weighted distance above the least-cost path (resistance × map units); default untruncated"),
    neighbours: int = typer.Option(8, "--neighbours", help="8 (ArcGIS / Linkage Mapper) or 4"),
    conductance: bool = typer.Option(False, "--conductance", help="the first grid holds conductances (1 / resistance)"),
    keep_through_cores: bool = typer.Option(False, "--keep-through-cores", help="keep links whose least-cost path crosses a third core (Linkage Mapper drops them)"),
    geotiff: bool = typer.Option(False, "--geotiff", help="write grids as GeoTIFF (.tif) instead of ASCII (.asc)"),
) -> None:
    """Least-cost corridors between cores, as Linkage Mapper maps them: cost-weighted distance from each core,
    least-cost paths, normalised corridors (CWD_a + CWD_b − LCD) and their mosaic, and the link table."""
    import numpy as np

    from .connectivity.grids import ConnectivityError, OutputStage, check_same_header, read_grid
    from .connectivity.leastcost import corridors as lc_corridors

    try:
        r = read_grid(resistance, "resistance")
        c = read_grid(cores, "cores")
        check_same_header(r, c, "resistance", "cores")
        data = r.data
        if conductance:
            with np.errstate(divide="ignore"):
                data = np.where(data > 0, 1.0 / np.where(data > 0, data, 1.0), np.nan)
        ids = np.where(np.isfinite(c.data), c.data, 0)
        if (ids != np.round(ids)).any():
            raise ConnectivityError(f"cores: {cores} has values that are not whole numbers — give one positive integer id per core")
        result = lc_corridors(data, ids.astype(np.int64), cellsize=r.header.cellsize, neighbours=neighbours, width=width, drop_through_cores=not keep_through_cores)
        _check_writable(Path(f"{output}_linkTable.csv"))
        stage = OutputStage(output.parent if str(output.parent) else Path("."))
        try:
            stage.grid(f"{output}_corridors", result.corridor, r.header, geotiff=geotiff)
            for k, grid in result.cwd.items():
                stage.grid(f"{output}_cwd_{k}", grid, r.header, geotiff=geotiff)
            lines = ["linkId,core1,core2,cwDist,euclideanDist,lcpLength,cwdToEucRatio,cwdToPathRatio,throughCores,active"]
            for i, ln in enumerate(result.links, 1):
                vals = [ln.lcd, ln.euclidean_distance, ln.path_length, ln.cwd_to_euclidean, ln.cwd_to_path_length]
                lines.append(f"{i},{ln.core_a},{ln.core_b}," + ",".join(f"{v:.10g}" for v in vals) + f",{' '.join(map(str, ln.through_cores))},{int(ln.active)}")
            stage.text(f"{output}_linkTable.csv", "\n".join(lines) + "\n")
            files = stage.commit()
        except BaseException:
            stage.discard()
            raise
    except (ConnectivityError, ValueError) as exc:
        raise UserError(str(exc).splitlines()) from None
    t = Table(title=f"Least-cost links between the cores of {escape(str(cores))} ({neighbours} neighbours)")
    for col in ("link", "cores", "cost-weighted distance", "Euclidean distance", "path length", "CWD / path length", "note"):
        t.add_column(col, justify="left" if col in ("cores", "note") else "right")
    for i, ln in enumerate(result.links, 1):
        note = "not connected" if not ln.connected else (f"through core {', '.join(map(str, ln.through_cores))}" + ("" if ln.active else " (dropped)") if ln.through_cores else "")
        t.add_row(str(i), f"{ln.core_a} – {ln.core_b}", f"{ln.lcd:.6g}", f"{ln.euclidean_distance:.6g}", f"{ln.path_length:.6g}", f"{ln.cwd_to_path_length:.4g}", note)
    out.print(t)
    err.print(f"wrote {len(files)} files beside {escape(str(output))}", highlight=False)


def _omniscape_ini(config: str, raw: dict, output, workers, geotiff: bool) -> None:
    from .connectivity.grids import ConnectivityError
    from .connectivity.omniscape_ini import load_omniscape_ini, run_omniscape_job

    def tick(done: int, total: int) -> None:
        if total and 10 * done // total > 10 * (done - 1) // total:
            err.print(f"targets: {done}/{total}", highlight=False)

    try:
        job = load_omniscape_ini(config, raw, output)
        if geotiff:
            job.write_as_tif = True
        result, files = run_omniscape_job(job, workers=workers, progress=tick)
    except ConnectivityError as exc:
        raise UserError(str(exc).splitlines()) from None
    import numpy as np

    out.print(f"Omniscape moving window: {escape(config)} (radius {job.kwargs['radius']}, block size {job.kwargs['block_size']})", highlight=False)
    t = Table()
    t.add_column("output")
    t.add_column("min", justify="right")
    t.add_column("mean", justify="right")
    t.add_column("max", justify="right")
    for name, grid in (("cumulative current", result.cumulative_current), ("flow potential", result.flow_potential), ("normalised current", result.normalized_current)):
        if grid is not None:
            v = grid[np.isfinite(grid)]
            t.add_row(name, *(f"{f(v):.4g}" if v.size else "–" for f in (np.min, np.mean, np.max)))
    out.print(t)
    err.print(f"{result.n_targets} targets, {result.n_solves} solves; solver: {escape(result.solver)}; wrote {len(files)} files in {escape(str(job.project))}", highlight=False)


def _passage_map(results: Path, name: str):
    """The dispersal_passage map of scenario ``name`` in a results file (rows × cols)."""
    ds = _load_results(results)
    if "dispersal_passage" not in ds:
        raise UserError([f"--results {results}: has no dispersal_passage map — give the results of a run on the map (`pardus run` of a scenario with [landscape]; files written before this version lack it)"])
    names = [str(n) for n in ds.scenario.values]
    if name not in names:
        raise UserError([f"--results {results}: has no scenario '{name}' (it has {', '.join(names)}) — give a run of this scenario"])
    return ds["dispersal_passage"].sel(scenario=name).values


def _connectivity_scenario(scenario: str, output, geotiff: bool, cores: list[str], year, candidates, width_km: float, workers, results=None, rank_by: str = "resistance") -> None:
    from .connectivity.analysis import analyse, write_outputs
    from .landscape.targets import TargetError

    if workers is not None:
        raise UserError([f"--workers {workers}: the scenario form solves in this process — leave it out"])
    resolved = _load_all([scenario])
    if len(resolved) != 1:
        raise UserError([f"{scenario}: connectivity takes one scenario — this file is a [sweep] of {len(resolved)}"])
    res = resolved[0]
    sc = res.scenario
    if sc.landscape is None:
        raise UserError([f"{scenario}: scenario '{sc.name}' has no [landscape] — connectivity on a scenario needs its map (give [landscape] source = \"default\"), or give a Circuitscape .ini"])
    prefix = Path(output) if output is not None else Path(f"{sc.name}-connectivity")
    _check_writable(Path(f"{prefix}.png"))
    total = [0]

    def tick(k: int, n: int) -> None:
        if 10 * k // n > 10 * (k - 1) // n:
            err.print(f"candidates: {k}/{n} solved", highlight=False)
        total[0] = n

    try:
        passage = _passage_map(results, sc.name) if results is not None else None
        result = analyse(sc, cores, year=year, candidates=candidates, width_km=width_km, progress=tick, passage=passage,
                         passage_source=str(results) if results else None, rank_by=rank_by)  # paths on the command line: from here
        files = write_outputs(result, prefix, geotiff=geotiff)
    except (TargetError, ValueError) as exc:
        raise UserError(str(exc).splitlines()) from None
    from .report.connectivity import core_label

    t = Table(title=f"Connectivity of {escape(sc.name)} in {result.state.year} (8 neighbours, average conductance; resistance of forest = 1)")
    t.add_column("cores")
    t.add_column("effective resistance", justify="right")
    t.add_column("least-cost distance (km of forest)", justify="right")
    t.add_column("least-cost path (km)", justify="right")
    links = {(lk.core_a, lk.core_b): lk for lk in result.links}
    for a, b in result.pairs:
        lk = links.get((a, b))
        r = result.R[(a, b)]
        t.add_row(
            f"{escape(core_label(cores[a - 1]))} – {escape(core_label(cores[b - 1]))}",
            f"{r:.4g}" if r != float("inf") else "not connected",
            f"{lk.lcd / 1000:.4g}" if lk and lk.connected else "–",
            f"{lk.path_length / 1000:.4g}" if lk and lk.connected else "–",
        )
    out.print(t)
    if result.candidates:
        by = "simulated dispersal through them" if rank_by == "dispersal" else "the fall of effective resistance"
        c = Table(title=f"Best of {len(result.candidates)} candidate cells ({escape(str(candidates))}), each improved alone, by {by}")
        cols = ["rank", "easting, northing (km)", "change", "fall of resistance", "current before (A)"] + (["dispersal steps / year"] if results is not None else [])
        for col in cols:
            c.add_column(col, justify="right" if col != "change" else "left")
        for i, k in enumerate(result.candidates[:10], 1):
            c.add_row(str(i), f"{k.x / 1000:.1f}, {k.y / 1000:.1f}", k.kind, f"{k.share * 100:.3f} %", f"{k.current:.3g}", *([f"{k.passage:.3g}"] if results is not None else []))
        out.print(c)
    if results is not None:
        out.print(f"current against simulated passage (cells outside the cores): Spearman's ρ = {result.current_passage_correlation():.2f}", highlight=False)
    err.print(f"solver: direct (SuperLU) on the grounded Laplacian; wrote {len(files)} files beside {escape(str(prefix))}", highlight=False)


H_ESTIMATE_MODEL = "a model formula to fit, e.g. g0~b or 'g0~b, sigma~sex' (terms of one model joined by ','); repeat for more models; null (D, g0, σ constant) is the default"


def _g4(x, digits: int = 4) -> str:
    """A number for the estimate tables: thousands separated from 1,000, else 4 significant digits."""
    import math

    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    s = f"{v:#.{digits}g}".rstrip(".")
    return f"{v:.{digits - 1}e}" if "e" in s else s


def _fixed(x, digits: int) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def _print_capture_summary(sessions, captures: Path) -> None:
    from .secr.capthist import COUNT_ROWS, summary as capture_summary

    for ch in sessions:
        sm = capture_summary(ch)
        sess = f" (session {ch.session})" if len(sessions) > 1 else ""
        out.print(f"Captures: {captures.name}{sess} — {sm.n} animals, {sm.ndetections} detections, {sm.ndetectors} detectors ({sm.detector}), {sm.noccasions} occasions", highlight=False, markup=False)
        t = Table(title="Counts by occasion (secr's summary)")
        t.add_column("")
        for s in range(sm.noccasions):
            t.add_column(str(s + 1), justify="right")
        t.add_column("Total", justify="right")
        for r in COUNT_ROWS:
            t.add_row(r, *(str(int(v)) for v in sm.counts[r]))
        out.print(t)
        extra = []
        if sm.RPSV is not None:
            extra.append(f"RPSV {_g4(sm.RPSV)} m")
        if sm.move_distance:
            extra.append(f"median move {_g4(sm.move_distance['Median'])} m")
        if extra:
            out.print("  " + ", ".join(extra), highlight=False, markup=False)


def _print_estimates(result) -> None:
    lik = "full likelihood" if result.likelihood == "full" else "conditional likelihood, D derived"
    t = Table(title=f"Estimates ({lik}; D per ha as secr, and per 100 km²)")
    for col in ("model", "detectfn", "parameter", "estimate", "SE", "95 % CI", "unit"):
        t.add_column(col, justify="right" if col in ("estimate", "SE", "95 % CI") else "left", overflow="fold")
    units = {"animals/100km2": "animals/100 km²"}
    for r in result.parameters:
        if r["parameter"] is None:
            t.add_row(escape(r["model"]), r["detectfn"], "", "skipped", "", "", "")
            continue
        p = str(r["parameter"])
        name = "D" + p[len("D_100km2"):] if p.startswith("D_100km2") else ("σ" if p == "sigma" else p)
        if r["status"] == "not converged":
            t.add_row(escape(r["model"]), r["detectfn"], escape(name), "not converged", "", "", "")
            continue
        ci = "—" if r["lcl"] is None or r["ucl"] is None else f"{_g4(r['lcl'])} – {_g4(r['ucl'])}"
        est = _g4(r["estimate"])
        t.add_row(escape(r["model"]), r["detectfn"], escape(name), f"[bold]{est}[/]" if p.startswith("D_100km2") else est,
                  _g4(r["SE"]), ci, escape(units.get(r["unit"], r["unit"] or "")))
    out.print(t)


def _print_selection(result) -> None:
    t = Table(title="Model selection (as secr's AIC(..., criterion = \"AICc\"): best first)")
    for col in ("rank", "model", "detectfn", "npar", "logLik", "AIC", "AICc", "dAICc", "AICcwt", "note"):
        t.add_column(col, justify="left" if col in ("model", "detectfn", "note") else "right", overflow="fold",
                     max_width=60 if col == "note" else None)
    for r in result.selection:
        note = r["note"] or ""
        if r["status"] in ("skipped", "not converged"):
            note = f"[bold red]{escape(r['status'])}[/]" + (f": {escape(note)}" if note else "")
        elif r["status"] != "ok":
            note = f"[yellow]{escape(r['status'])}[/]" + (f"; {escape(note)}" if note else "")
        else:
            note = escape(note)
        if r.get("buffer_adequate") is False:
            note = "; ".join(x for x in (note, "[yellow]buffer too narrow[/] (see the note below)") if x)
        t.add_row("" if r["rank"] is None else str(r["rank"]), escape(r["model"]), r["detectfn"],
                  "" if r["npar"] is None else str(int(r["npar"])), _fixed(r["logLik"], 3), _fixed(r["AIC"], 3),
                  _fixed(r["AICc"], 3), _fixed(r["dAICc"], 3), _fixed(r["AICcwt"], 4), note)
    out.print(t)


def _print_closed(result) -> None:
    for sess, res in result.closed.items():
        t = Table(title="Closed-population N (secr closedN)" + (f", session {escape(sess)}" if result.multisession else ""))
        for col in ("estimator", "model", "Mt1", "N", "SE", "95 % CI", "AICc", "dAICc", "AICcwt", "note"):
            t.add_column(col, justify="left" if col in ("estimator", "model", "note") else "right", overflow="fold")
        for e in res:
            ci = "—" if e.lclNhat != e.lclNhat or e.uclNhat != e.uclNhat else f"{e.lclNhat:.2f} – {e.uclNhat:.2f}"
            note = escape(e.note) if e.converged else "[yellow]no interior maximum[/]" + (f": {escape(e.note)}" if e.note else "")
            t.add_row(e.estimator, e.model, str(e.Mt1), _fixed(e.Nhat, 2), _fixed(e.seNhat, 2), ci, _fixed(e.AICc, 2),
                      _fixed(e.dAICc, 2), _fixed(e.AICcwt, 3), note)
        out.print(t)


@app.command()
def estimate(
    captures: Path = typer.Argument(..., help="capture file, one detection per line: Session ID Occasion Detector [covariates] (secr's text format, or .csv)"),
    traps: list[Path] = typer.Option(..., "--traps", help="detector file: Detector x y [usage] (secr's read.traps); repeat to give one per session"),
    detector: str = typer.Option("multi", "--detector", help="detector type: multi, single, proximity or count (secr's read.capthist)"),
    buffer: Optional[float] = typer.Option(None, "--buffer", help="habitat mask: this many metres around the detectors, built by secr's make.mask rule (about 4 σ)"),
    mask: Optional[Path] = typer.Option(None, "--mask", help="habitat mask file, CSV of x,y in metres (secr's write.mask), instead of --buffer"),
    nx: int = typer.Option(64, "--nx", help="mask cells across the buffered frame of the detectors (secr's nx; with --buffer)"),
    model: Optional[list[str]] = typer.Option(None, "--model", help=H_ESTIMATE_MODEL),
    detectfn: Optional[list[str]] = typer.Option(None, "--detectfn", help="detection function HN (half-normal, default), EX (exponential) or HR (hazard rate), or their hazard forms HHN, HEX, HHR (fitted with lambda0, the hazard at distance 0); repeat to fit each"),
    cl: bool = typer.Option(False, "--cl/--full", help="conditional likelihood (secr CL = TRUE; D derived) or the full likelihood (default)"),
    hcov: Optional[str] = typer.Option(None, "--hcov", help="individual covariate that gives known class membership in the full likelihood, e.g. sex (secr's hcov; class shares pmix estimated)"),
    closed: bool = typer.Option(True, "--closed/--no-closed", help="also the closed-population estimates of N of each session (secr's closedN)"),
    noccasions: Optional[int] = typer.Option(None, "--noccasions", help="number of occasions S (default: the usage columns of the detector file, else the last occasion with a detection)"),
    output: Path = typer.Option(Path("estimate.csv"), "--output", "-o", help="the parameter table with the model-selection columns (CSV), one row per model × parameter"),
    report: Optional[Path] = typer.Option(None, "--report", help="HTML report (default: beside the CSV, with .html)"),
    no_report: bool = typer.Option(False, "--no-report", help="write no HTML report"),
) -> None:
    """Estimate density by spatially explicit capture–recapture (SECR, as R's secr.fit): every --model × --detectfn,
    with the model-selection table and closed-population estimates of N; exit 1 if a model was skipped or did not converge."""
    import time

    from .secr.capthist import DETECTORS, CaptureDataError, read_capthist_sessions
    from .secr.estimate import EstimateError, buffer_hint, detectfn_name, estimate as run_estimate, parse_model_option
    from .secr.mask import MaskError

    problems = []
    if detector not in DETECTORS:
        problems.append(f"--detector {detector}: give one of {', '.join(DETECTORS)}")
    if buffer is not None and mask is not None:
        problems.append("--buffer and --mask: give one of them — --buffer builds the mask around the detectors, --mask reads one")
    if nx < 1:
        problems.append(f"--nx {nx}: give a whole number of cells ≥ 1, e.g. 64")
    if noccasions is not None and noccasions < 1:
        problems.append(f"--noccasions {noccasions}: give a whole number ≥ 1")
    models = list(model or ["null"])
    for m in models:
        try:
            parse_model_option(m)
        except EstimateError as exc:
            problems.append(f"--model {m}: {exc}")
    fns = list(detectfn or ["HN"])
    for f in fns:
        try:
            detectfn_name(f)
        except EstimateError as exc:
            problems.append(f"--detectfn {f}: {exc}")
    if output.exists() and output.is_dir():
        problems.append(f"{output}: is a folder — give a file name such as {output / 'estimate.csv'}")
    report_path = None if no_report else (report if report is not None else output.with_suffix(".html"))
    if report_path is not None and report_path.resolve() == output.resolve():
        problems.append(f"--report {report_path}: the same file as -o/--output — give the report its own name, e.g. {output.with_suffix('.html')}")
    if report is not None and no_report:
        problems.append("--report and --no-report: give one of them")
    if problems:
        raise UserError(problems)
    try:
        sessions = list(read_capthist_sessions(captures, [str(t) for t in traps] if len(traps) > 1 else str(traps[0]),
                                               detector, noccasions=noccasions).values())
    except CaptureDataError as exc:
        raise UserError(str(exc).splitlines()) from None
    if buffer is None and mask is None:
        raise UserError([f"no habitat mask: give --buffer M (metres around the detectors; the mask is built by secr's make.mask rule) or --mask MASK.csv{buffer_hint(sessions)}"])
    for target in [output] + ([report_path] if report_path is not None else []):
        _check_writable(target)
    _print_capture_summary(sessions, captures)
    t0 = [time.perf_counter()]

    def tick(done: int, n: int, label: str) -> None:
        now = time.perf_counter()
        if done == 0:
            err.print(f"fitting {n} model{'s' if n != 1 else ''} ({'conditional' if cl else 'full'} likelihood)", highlight=False)
            t0[0] = now
            return
        err.print(f"fitted {escape(label)} ({done}/{n}, {now - t0[0]:.1f} s)", highlight=False)
        t0[0] = now

    try:
        result = run_estimate(sessions, buffer=buffer, mask=mask, nx=nx, models=models, detectfns=fns,
                              likelihood="conditional" if cl else "full", closed=closed, hcov=hcov,
                              progress=tick)
    except (CaptureDataError, MaskError, EstimateError) as exc:
        raise UserError(str(exc).splitlines()) from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        raise UserError([f"{_interrupted(signum)} during the fits — no file was written"], code=128 + signum) from None
    result.captures_path = str(captures)
    result.traps_path = ", ".join(str(t) for t in traps)
    m0 = result.masks[0]
    out.print(f"mask: {len(m0)} points, spacing {_g4(m0.spacing)} m ({_g4(m0.area_ha)} ha per cell, {len(m0) * m0.area_ha:,.1f} ha in all); {result.mask_source}", highlight=False, markup=False)
    _print_estimates(result)
    _print_selection(result)
    if closed:
        _print_closed(result)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False, markup=False)
    for mf in result.fits:
        if mf.buffer_message:
            flag = "buffer too narrow" if mf.buffer_adequate is False else "buffer check"
            out.print(f"{flag}, {mf.model} {mf.detectfn}: {mf.buffer_message}", highlight=False, markup=False)
    frame = result.parameter_frame()
    _csv_atomic(frame.set_index(["model", "detectfn", "parameter"]), output)
    written = [output]
    if report_path is not None:
        from .report.secr import write_secr_report

        try:
            write_secr_report(result, report_path, csv_path=str(output), command=" ".join(["pardus", *sys.argv[1:]]) if sys.argv[0].endswith("pardus") else None)
        except OSError as exc:
            raise UserError([f"{report_path}: cannot be written — {exc.strerror or exc}"]) from None
        written.append(report_path)
    err.print("wrote " + ", ".join(escape(str(p)) for p in written), highlight=False)
    if result.problems:
        n_bad = len(result.problems)
        out.print(f"[bold red]{n_bad} of {len(result.fits)} model fits missing:[/]", highlight=False)
        for p in result.problems:
            out.print(f"  {escape(p)}", highlight=False)
        rest = f"{output} and the report hold the others" if n_bad < len(result.fits) else f"there is no estimate; {output} lists why"
        raise UserError([f"{n_bad} of {len(result.fits)} model fits {'was' if n_bad == 1 else 'were'} skipped or did not converge "
                         f"(listed above, with the reasons); {rest}"], code=1)


_DESIGN_UNITS = {"D": "animals/ha", "g0": "probability", "lambda0": "hazard", "sigma": "m", "z": "shape"}


def _pct(x, digits: int = 1, sign: bool = False) -> str:
    """A share as a percentage (``—`` when undefined, e.g. the Monte-Carlo SE of one survey)."""
    import math

    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:{'+' if sign else ''}.{digits}f} %"


class _KillPoolOnSignal:
    """While a design study runs with worker processes: SIGINT or SIGTERM kills the worker
    processes started meanwhile (SIGKILL: they inherit this process's handlers, so a politer
    signal would only stop the survey they are on) and then raises as the command's own handlers
    do, so that the interruption is not held up by the pool finishing its queued surveys."""

    def __enter__(self):
        import multiprocessing

        self._mp = multiprocessing
        self._before = set(multiprocessing.active_children())
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread():
            for s in self._old:
                signal.signal(s, self._handler)
        return self

    def _handler(self, signum, _frame):
        if self._old.get(signum) is signal.SIG_IGN:
            return
        for p in set(self._mp.active_children()) - self._before:
            try:
                p.kill()
            except OSError:
                pass
        exc = KeyboardInterrupt(signal.Signals(signum).name)  # as ensemble.Interrupted, without importing the engine
        exc.signum = signum
        raise exc

    def __exit__(self, *exc):
        if threading.current_thread() is threading.main_thread():
            for s, h in self._old.items():
                signal.signal(s, h)
        return False


def _print_design(study, traps_path: Path, per_100km2: bool) -> None:
    from .secr.estimate import D_PER_100KM2
    from .secr.simulate import _STATUS_TEXT, STATUSES

    s, sm = study.settings, study.summary
    z = f", z = {s['z']:g}" if s["detectfn"] in ("HR", "HHR") else ""
    p0 = "lambda0" if "lambda0" in s else "g0"
    dens = f"D = {s['D']:g} animals/ha ({s['D'] * D_PER_100KM2:,.6g} per 100 km²)"
    lik = "full likelihood" if s["likelihood"] == "full" else "conditional likelihood, D derived"
    out.print(f"Design: {traps_path.name} — {s['ndetectors']} {s['detector']} detectors, {s['noccasions']} occasions; "
              f"{dens}; detection {s['detectfn']}, {p0} = {s[p0]:g}, σ = {s['sigma']:g} m{z}; {lik}",
              highlight=False, markup=False)
    buf = f"buffer {s['buffer']:g} m" + (" (4 σ)" if s["buffer"] == 4.0 * s["sigma"] else "")
    out.print(f"mask: {s['mask_points']} points, spacing {_g4(s['mask_spacing'])} m; {buf} around the detectors, nx {s['nx']}; "
              f"{s['nsim']} simulated surveys, seed {s['seed']}", highlight=False, markup=False)
    out.print(f"per survey on average {sm.mean_n:.1f} animals detected and {sm.mean_r:.1f} recaptures", highlight=False, markup=False)
    t = Table(title=f"Design study: {sm.nsim} simulated surveys; bias, RMSE and coverage over the {sm.status_counts.get('ok', 0)} ok fits")
    for col in ("parameter", "unit", "true", "mean", "rel. bias ± SE", "RMSE", "rel. RMSE", "95 % coverage ± SE", "ok fits", "excluded"):
        t.add_column(col, justify="left" if col in ("parameter", "unit", "excluded") else "right", overflow="fold")
    excluded = ", ".join(f"{sm.status_counts[k]} {k}" for k in STATUSES[1:] if sm.status_counts.get(k)) or "none"
    for p in sm.params:
        # D as given: per 100 km² for --density-100km2 (the relative columns do not depend on the unit; the CSV keeps animals/ha)
        scale, unit = (D_PER_100KM2, "animals/100 km²") if p.param == "D" and per_100km2 else (1.0, _DESIGN_UNITS.get(p.param, ""))
        t.add_row("σ" if p.param == "sigma" else p.param, unit, f"{p.true * scale:,.6g}", _g4(p.mean * scale),
                  "—" if p.m == 0 else f"{_pct(p.rb, sign=True)} ± {_pct(p.rb_se)}", _g4(p.rrmse * p.true * scale), _pct(p.rrmse),
                  "—" if p.m == 0 else f"{_pct(p.coverage)} ± {_pct(p.coverage_se)}", str(p.m), excluded)
    out.print(t)
    for k in STATUSES[1:]:
        if sm.status_counts.get(k):
            out.print(f"excluded: {sm.status_counts[k]} × {k} — {_STATUS_TEXT[k]}", highlight=False, markup=False)
    d = next(p for p in sm.params if p.param == "D")
    n_excluded = sm.nsim - d.m
    if d.m == 0:
        hint = (" — fewer than 2 animals were detected in every survey: try more occasions or detectors, or check the density and g0"
                if sm.status_counts.get("no_estimate") == sm.nsim else f" ({excluded})")
        out.print(f"[bold]D: none of the {sm.nsim} surveys gave an estimate with an interval[/]{escape(hint)}", highlight=False)
        return
    over = f"over {sm.nsim} surveys" if n_excluded == 0 else f"over {d.m} of {sm.nsim} surveys ({n_excluded} excluded)"
    mean = f"mean estimate {_g4(d.mean * D_PER_100KM2)} per 100 km² (true {d.true * D_PER_100KM2:,.6g})" if per_100km2 else \
        f"mean estimate {_g4(d.mean)} animals/ha (true {d.true:g})"
    out.print(f"[bold]D: relative bias {_pct(d.rb, sign=True)} ± {_pct(d.rb_se)}, relative RMSE {_pct(d.rrmse)}, "
              f"95 % interval coverage {_pct(d.coverage)} (± {_pct(d.coverage_se)}) {over}[/]; {mean}", highlight=False)


@app.command()
def design(
    traps: Path = typer.Argument(..., help="detector file: Detector x y [usage] (secr's read.traps; text or .csv); its usage, when it has one, is the effort of each detector on each occasion"),
    density: Optional[float] = typer.Option(None, "--density", help="true density in animals per hectare, as secr (give this or --density-100km2)"),
    density_100km2: Optional[float] = typer.Option(None, "--density-100km2", help="true density in animals per 100 km² (= 10,000 × animals/ha), instead of --density"),
    g0: Optional[float] = typer.Option(None, "--g0", help="true detection probability per occasion at distance 0, in (0, 1] (HN, EX, HR)"),
    lambda0: Optional[float] = typer.Option(None, "--lambda0", help="true detection hazard per occasion at distance 0, > 0, for the hazard forms HHN, HEX, HHR (instead of --g0)"),
    sigma: float = typer.Option(..., "--sigma", help="true spatial scale σ of the detection function, metres"),
    occasions: int = typer.Option(..., "--occasions", help="number of occasions S of each survey (the usage columns of the detector file, when it has them)"),
    detector: str = typer.Option("multi", "--detector", help="detector type: multi, single, proximity or count (secr's read.traps)"),
    detectfn: str = typer.Option("HN", "--detectfn", help="detection function HN (half-normal, default), EX (exponential) or HR (hazard rate; needs --z) with --g0, or their hazard forms HHN, HEX, HHR (HHR needs --z) with --lambda0; simulated and fitted"),
    z: Optional[float] = typer.Option(None, "--z", help="true shape z of the hazard-rate detection function (with --detectfn HR or HHR)"),
    buffer: Optional[float] = typer.Option(None, "--buffer", help="habitat mask: this many metres around the detectors (default 4 σ, as secrdesign); animals live and are fitted on it"),
    nx: int = typer.Option(32, "--nx", help="mask cells across the buffered frame of the detectors (secr's nx; 32 as secrdesign)"),
    replicates: int = typer.Option(100, "--replicates", "-n", help="simulated surveys, each fitted"),
    seed: int = typer.Option(1, "--seed", "-s", help=H_SEED),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="local worker processes (default: every core; 1 runs in this process); the results do not depend on it"),
    cl: bool = typer.Option(False, "--cl/--full", help="fit by the conditional likelihood (secr CL = TRUE; D derived) or the full likelihood (default)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write the simulated surveys as CSV, one row per survey (N, n, r, status, estimates and 95 % limits); default: none"),
) -> None:
    """Survey design by simulation (as secrdesign's run.scenarios): simulate surveys of a detector layout at a true
    density, fit each by SECR and report the relative bias, RMSE and 95 % interval coverage of the estimates."""
    import math
    import time

    from .secr.capthist import DETECTORS, CaptureDataError, read_traps
    from .secr.estimate import D_PER_100KM2, EstimateError, detectfn_name
    from .secr.mask import MaskError
    from .secr.simulate import design_study

    def positive(x) -> bool:
        return math.isfinite(x) and x > 0

    # as run_option_problems words them (not imported from .ensemble: it loads the population engine, a second and a half)
    problems = []
    if replicates < 1:
        problems.append(f"--replicates {replicates} — must be a whole number of at least 1")
    if not 0 <= seed <= 2**64 - 1:
        problems.append(f"--seed {seed} — must be a whole number from 0 to 2**64 − 1 ({2**64 - 1})")
    if workers is not None and workers < 1:
        problems.append(f"--workers {workers} — must be a whole number of at least 1 (leave it out to use every core)")
    if (density is None) == (density_100km2 is None):
        problems.append("--density and --density-100km2: give one of them — the true density in animals per hectare (--density 0.5) "
                        "or per 100 km² (--density-100km2 5000)")
    elif density is not None and not positive(density):
        problems.append(f"--density {density}: give a positive density in animals per hectare, e.g. 0.5")
    elif density_100km2 is not None and not positive(density_100km2):
        problems.append(f"--density-100km2 {density_100km2}: give a positive density in animals per 100 km², e.g. 5000")
    hazard_fn = str(detectfn).strip().upper() in ("HHN", "HEX", "HHR", "14", "15", "16")
    if hazard_fn:
        if g0 is not None:
            problems.append(f"--g0 {g0}: the hazard form {detectfn} has the intercept lambda0 — give --lambda0 (> 0), e.g. 0.3")
        elif lambda0 is None:
            problems.append(f"--detectfn {detectfn}: give the true hazard at distance 0, --lambda0 (> 0), e.g. 0.3")
        elif not positive(lambda0):
            problems.append(f"--lambda0 {lambda0}: give a positive detection hazard, e.g. 0.3")
    elif lambda0 is not None:
        problems.append(f"--lambda0 {lambda0}: lambda0 belongs to the hazard forms — give --detectfn HHN (or HEX, HHR), "
                        "or --g0 for HN, EX, HR")
    elif g0 is None:
        problems.append("--g0: give the true detection probability at distance 0, in (0, 1], e.g. 0.2")
    elif not (math.isfinite(g0) and 0 < g0 <= 1):
        problems.append(f"--g0 {g0}: give a detection probability in (0, 1], e.g. 0.2")
    if not positive(sigma):
        problems.append(f"--sigma {sigma}: give a positive spatial scale in metres, e.g. 30")
    if occasions < 1:
        problems.append(f"--occasions {occasions}: give a whole number of occasions ≥ 1, e.g. 5")
    if detector not in DETECTORS:
        problems.append(f"--detector {detector}: give one of {', '.join(DETECTORS)}")
    fn = None
    try:
        fn = detectfn_name(detectfn)
    except EstimateError as exc:
        problems.append(f"--detectfn {detectfn}: {exc}")
    if fn in ("HR", "HHR") and z is None:
        problems.append(f"--detectfn {fn}: the hazard-rate function needs its shape — give --z Z (> 0), e.g. --z 4")
    elif z is not None and fn is not None and fn not in ("HR", "HHR"):
        problems.append(f"--z {z}: the shape is only used by the hazard-rate function — give --detectfn HR (or HHR), or leave --z out")
    elif z is not None and not positive(z):
        problems.append(f"--z {z}: give a positive hazard-rate shape, e.g. 4")
    if buffer is not None and not positive(buffer):
        problems.append(f"--buffer {buffer}: give a positive width in metres, e.g. {4 * sigma:g} (4 σ)" if positive(sigma) else
                        f"--buffer {buffer}: give a positive width in metres")
    if nx < 1:
        problems.append(f"--nx {nx}: give a whole number of cells ≥ 1, e.g. 32")
    if output is not None and output.exists() and output.is_dir():
        problems.append(f"{output}: is a folder — give a file name such as {output / 'design.csv'}")
    if problems:
        raise UserError(problems)
    try:
        layout = read_traps(traps, detector)
    except CaptureDataError as exc:
        raise UserError(str(exc).splitlines()) from None
    if layout.usage is not None and layout.usage.shape[1] != occasions:
        raise UserError([f"{traps}: its usage has {layout.usage.shape[1]} occasions but --occasions is {occasions} — "
                         f"give --occasions {layout.usage.shape[1]}, or a detector file without usage (every detector used on every occasion)"])
    if output is not None:
        _check_writable(output)
    D = density if density is not None else density_100km2 / D_PER_100KM2
    n_workers = min(workers or os.cpu_count() or 1, replicates)
    err.print(f"simulating and fitting {replicates} survey{'s' if replicates != 1 else ''} "
              f"({n_workers} worker{'s' if n_workers != 1 else ''}; {'conditional' if cl else 'full'} likelihood)", highlight=False)
    t0 = time.perf_counter()
    try:
        with _KillPoolOnSignal():
            study = design_study(layout, D=D, detectfn=fn, g0=g0, lambda0=lambda0, sigma=sigma, z=z, noccasions=occasions, detector=detector,
                                 buffer=buffer, nx=nx, nsim=replicates, seed=seed, workers=n_workers,
                                 likelihood="conditional" if cl else "full")
    except (ValueError, MaskError) as exc:
        raise UserError([f"{traps}: {line}" for line in str(exc).splitlines()]) from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        stopped = " — stopped the workers;" if n_workers > 1 else " —"
        raise UserError([f"{_interrupted(signum)} during the design study{stopped} no file was written"], code=128 + signum) from None
    err.print(f"done: {replicates} surveys in {time.perf_counter() - t0:.1f} s", highlight=False)
    _print_design(study, traps, per_100km2=density_100km2 is not None)
    if output is not None:
        try:
            study.to_csv(output)
        except OSError as exc:
            raise UserError([f"{output}: cannot be written — {exc.strerror or exc}"]) from None
        err.print(f"wrote {escape(str(output))} ({replicates} surveys)", highlight=False)


from .cli_id import id_app  # noqa: E402 — the photo-ID commands (pardus id ...)

app.add_typer(id_app, name="id")


def main() -> None:
    """The ``pardus`` command. It ends without the interpreter's teardown, which takes about
    0.4 s once numba is loaded: by then every file the command writes is complete and closed,
    the workers are stopped and the output is flushed."""
    try:
        _main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    if "pardus.ensemble" in sys.modules:
        sys.modules["pardus.ensemble"].close_pool()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _main() -> None:
    # SIGINT stops a run even where it was inherited as ignored (a job started in the background
    # by a script, `timeout -s INT`); SIGTERM (kill, timeout, job schedulers) stops it the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        rv = app(standalone_mode=False)
    except UserError as exc:
        for line in exc.lines:
            err.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        _stop_helpers()
        sys.exit(exc.code)
    except KeyboardInterrupt as exc:
        _exit_interrupted(exc)
    except Exception as exc:
        # click turns a KeyboardInterrupt outside our own handling into Abort
        cause = exc.__cause__ or exc.__context__
        if type(exc).__name__ == "Abort" and isinstance(cause, KeyboardInterrupt):
            _exit_interrupted(cause)
        # click/typer usage errors (typer ships its own copy of click's exception classes)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ in ("Exit", "Abort"):
            sys.exit(getattr(exc, "exit_code", 1))
        raise
    _stop_helpers()
    if isinstance(rv, int) and rv:
        if rv == 130:  # typer turned a Ctrl-C outside our own handling into exit code 130
            err.print("interrupted — nothing was written")
        sys.exit(rv)


if __name__ == "__main__":
    main()
