"""Calibration of a scenario to a census record by ABC-SMC (`pardus calibrate`).

Approximate Bayesian computation with sequential Monte Carlo (Toni et al. 2009, J. R. Soc.
Interface 6: 187–202; Beaumont et al. 2009, Biometrika 96: 983–990), sampled by pyabc
(Schälte et al. 2022, Journal of Open Source Software 7: 4304) — pardus supplies the prior, the
simulator, the observation model and a seeded sampler:

- **prior** — every parameter the scenario lists under ``[calibration] uncertain`` (or that the
  command line adds) is uniform over the range its source gives (``assumption (range LO–HI)``),
  or over ``--param KEY=LO:HI``; a key with ``*`` is one parameter for all it matches
  (``demography.survival.*.adult``: females and males together); whole-number parameters are
  rounded;
- **simulator** — one replicate of the scenario with those values, from its start to the last
  count of the record that falls in the run;
- **observation model** — like with like: each count is compared with the simulated number of
  the class it counted (all ages, independent animals or adults), summed over the populations
  or countries it covers, in its year (:func:`pardus.validation.simulated_counts`). A count is
  an interval: a range (snow tracks: the animals the surveyors could tell apart) or an
  estimate's confidence interval. The distance of a simulation is the sum, over the counts, of
  how far each simulated count lies outside its interval on the log scale (of count + ½): a
  particle accepted at tolerance ε misses the intervals by log-factors that add up to at most
  ε (ε = 0.2: e.g. two counts each 10 % outside, or one 22 %); at ε = 0 every count lies inside
  its interval, which is exact ABC for an observation model in which the count interval holds
  the true number;
- **sampler** — pyabc's mapping sampler, each task seeded from (seed, generation call, task), so
  that a calibration gives the same posterior on any number of local workers or on a Dask
  cluster;
- **stopping rule** — ε reaches ``tolerance``, or a generation's acceptance rate falls below
  ``min_acceptance``, or ``generations`` generations are done, or ``max_simulations`` are spent.

The result is a posterior file (NetCDF): the particles of the last generation with their
weights and distances, the prior, the record, the scenario, seed, version and the history of ε
and acceptance rates. ``pardus run SCENARIO --posterior FILE`` projects with it.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .scenario.loader import Resolved
from .sensitivity import Problem, SensitivityError, problem
from .validation import Count, read_record, reporting_units, simulated_counts

POSTERIOR_KIND = "pardus-posterior"


class CalibrationError(ValueError):
    """A calibration that cannot run; the message says the fix."""


# ------------------------------------------------------------------------- observation model


def intervals(counts: list[Count]) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of each count."""
    return np.array([c.low for c in counts], dtype=float), np.array([c.high for c in counts], dtype=float)


def distance_of(sim: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Sum over the counts of each simulated count's miss of its interval on the log scale
    (counts + ½, so that a population that died out is far, not infinitely far). A sum, not
    the largest miss: replicates that die out early and late then differ, so the tolerance
    schedule does not stall on ties."""
    x = np.log(np.asarray(sim, dtype=float) + 0.5)
    over = np.maximum(0.0, np.maximum(np.log(lo + 0.5) - x, x - np.log(hi + 0.5)))
    return float(over.sum())


@dataclass
class Distance:
    """pyabc distance: (simulated, observed) summary dicts → float."""

    lo: np.ndarray
    hi: np.ndarray

    def __call__(self, x: dict, x0: dict) -> float:
        return distance_of(x["counts"], self.lo, self.hi)


# ----------------------------------------------------------------------------------- simulator


def truncated(sc, years: int):
    """The scenario simulated for ``years`` years only, without the interventions that would
    start later (they cannot act)."""
    from .scenario.loader import scenario_from_dict

    data = sc.model_dump(mode="python")
    data["run"]["years"] = years
    last = data["run"]["start_year"] + years
    data["interventions"] = {k: iv for k, iv in data["interventions"].items() if iv["start"] <= last}
    return scenario_from_dict(data, f"{sc.name} to {last}")


class Simulator:
    """One replicate of the scenario with a parameter set → the simulated counts.

    Picklable (the scenario travels as JSON); the replicate's seed comes from numpy's global
    generator, which the sampler seeds per task."""

    def __init__(self, scenario_json: str, prob: Problem, counts: list[Count], years: int):
        self.scenario_json = scenario_json
        self.prob = prob
        self.counts = counts
        self.years = years
        self._base = None

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_base"] = None
        return d

    def base(self):
        if self._base is None:
            from .scenario.schema import Scenario

            self._base = truncated(Scenario.model_validate_json(self.scenario_json), self.years)
        return self._base

    def scenario(self, theta: np.ndarray):
        return self.base().replace(self.prob.overrides(theta))

    def counts_of(self, theta: np.ndarray, seed: int) -> np.ndarray:
        from .engine import prepare, run_batch

        sc = self.scenario(theta)
        names = list(sc.populations)
        rec = run_batch(prepare(sc, names), int(seed), [0])
        units = reporting_units(sc)
        return np.array([simulated_counts(rec["N"], names, sc.run.start_year, c, units)[0] for c in self.counts])

    def __call__(self, par: dict) -> dict:
        theta = np.array([par[f"p{i}"] for i in range(len(self.prob.keys))], dtype=float)
        seed = int(np.random.randint(0, 2**31 - 1))
        return {"counts": self.counts_of(theta, seed)}


# ------------------------------------------------------------------------------------ sampler


def _task_seed(seed: int, call: int, task: int) -> int:
    return int(np.random.SeedSequence([seed, call, task]).generate_state(1)[0])


def _sampler_class():
    """pyabc's MappingSampler with every task seeded from (seed, call, task) instead of the
    operating system, so that the result does not depend on how the tasks are spread (defined
    before local workers are forked, so that they know it)."""
    from pyabc.sampler import MappingSampler

    global SeededMappingSampler
    if "SeededMappingSampler" not in globals():

        class _Seeded(MappingSampler):
            def __init__(self, seed: int, map_, progress=None):
                super().__init__(map_=map_)
                self.seed = seed
                self.calls = 0
                self.progress = progress

            def __getstate__(self):  # what the workers need: no map, no progress callback
                return (super().__getstate__(), self.seed, self.calls)

            def __setstate__(self, state):
                base, self.seed, self.calls = state
                super().__setstate__(base)

            def map_function(self, simulate_one, task_seed):
                simulate_one = self.unpickle(simulate_one)
                np.random.seed(task_seed)
                random.seed(task_seed)
                n = 0
                sample = self._create_empty_sample()
                while True:
                    new = simulate_one()
                    n += 1
                    sample.append(new)
                    if new.accepted:
                        break
                return sample, n

            def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
                call = self.calls
                self.calls += 1
                fn = functools.partial(self.map_function, self.pickle(simulate_one))
                results = list(self.map_(fn, [_task_seed(self.seed, call, i) for i in range(n)]))
                samples, evals = zip(*results)
                self.nr_evaluations_ = int(sum(evals))
                out = self._create_empty_sample()
                for s in samples:
                    out += s
                if self.progress is not None:
                    self.progress(call, self.nr_evaluations_)
                return out

        _Seeded.__name__ = _Seeded.__qualname__ = "SeededMappingSampler"
        SeededMappingSampler = _Seeded
    return SeededMappingSampler


def _defensive_class():
    """pyabc's multivariate normal kernel mixed with the prior (defensive importance sampling,
    Hesterberg 1995, Technometrics 37: 185–194): a share ``prior_share`` of the proposals is
    drawn from the uniform prior, and the proposal density is the same mixture. A particle's
    importance weight prior/proposal is then at most 1/prior_share, so one accepted far from
    the others — with a noisy simulator a lucky run fits from anywhere — cannot take the whole
    posterior (its effective sample size collapsing to a few particles)."""
    import pandas as pd
    from pyabc import Parameter
    from pyabc.transition import MultivariateNormalTransition

    global DefensiveTransition
    if "DefensiveTransition" not in globals():

        class _Defensive(MultivariateNormalTransition):
            def __init__(self, bounds, prior_share: float):
                super().__init__()
                self.lo = np.array([a for a, _ in bounds], dtype=float)
                self.hi = np.array([b for _, b in bounds], dtype=float)
                self.prior_share = float(prior_share)
                self.prior_density = float(1.0 / np.prod(self.hi - self.lo))

            def rvs_single(self):
                if np.random.uniform() < self.prior_share:
                    x = self.lo + np.random.uniform(size=self.lo.size) * (self.hi - self.lo)
                    return Parameter(pd.Series(x, index=self.X.columns))
                return super().rvs_single()

            def rvs(self, size=None):
                if size is None:
                    return self.rvs_single()
                return pd.DataFrame([self.rvs_single() for _ in range(size)], columns=self.X.columns)

            def pdf(self, x):
                q = super().pdf(x)
                arr = np.array([x[k] for k in self.X.columns], dtype=float) if isinstance(x, (Parameter, pd.Series)) else x[self.X.columns].to_numpy(dtype=float)
                inside = np.all((arr >= self.lo) & (arr <= self.hi), axis=-1)
                return (1.0 - self.prior_share) * q + self.prior_share * self.prior_density * inside

        _Defensive.__name__ = _Defensive.__qualname__ = "DefensiveTransition"
        DefensiveTransition = _Defensive
    return DefensiveTransition


def __getattr__(name: str):
    """The sampler and kernel classes are made on first use (pyabc is imported only to
    calibrate); a worker that unpickles one (a Dask worker, say) makes it here."""
    if name == "SeededMappingSampler":
        return _sampler_class()
    if name == "DefensiveTransition":
        return _defensive_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _worker_start() -> None:
    """A forked worker leaves Ctrl-C to its parent and stops quietly when told to."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _local_map(workers: int):
    """A map over a pool of forked local processes (ordered), or the built-in map for one."""
    if workers <= 1:
        return map, (lambda: None)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from .kernels import warm_kernels

    warm_kernels()  # the forked workers inherit the loaded kernels
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_worker_start)

    def close():
        for p in list(getattr(pool, "_processes", {}).values()):
            p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    return (lambda f, xs: list(pool.map(f, list(xs)))), close


def _dask_map(scheduler: str):
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler} — {exc}; check the address and that the scheduler is running") from None
    return (lambda f, xs: client.gather(client.map(f, list(xs), pure=False))), client.close


# ---------------------------------------------------------------------------------- calibrate


@dataclass
class Settings:
    particles: int = 300
    generations: int = 10
    tolerance: float = 0.0
    min_acceptance: float = 0.03
    max_simulations: int = 200_000
    seed: int = 1
    workers: int | None = None
    scheduler: str | None = None
    stable: float = 0.0  # stop when every median moved less than this share of its prior range, twice running (0: off)
    prior_share: float = 0.1  # share of each generation's proposals drawn from the prior (defensive importance sampling; 0: off)


@dataclass
class Result:
    prob: Problem
    counts: list[Count]
    theta: np.ndarray  # particle × parameter (as used: whole numbers rounded)
    weights: np.ndarray
    distances: np.ndarray
    sims: np.ndarray  # particle × count: the accepted particles' simulated counts
    epsilons: list[float]
    acceptance: list[float]
    simulations: list[int]
    stopped: str
    settings: Settings
    years: int
    medians: np.ndarray  # generation × parameter: the weighted posterior median after each generation

    def drift(self) -> np.ndarray:
        """Change of each parameter's median over the last generation, in units of its prior
        range (how far from stable the posterior still is)."""
        if len(self.medians) < 2:
            return np.full(len(self.prob.keys), np.nan)
        width = np.array([b - a for a, b in self.prob.bounds])
        return np.abs(self.medians[-1] - self.medians[-2]) / width


def _stable_abc(pyabc):
    """pyabc's ABCSMC with one more stopping rule: the posterior is stable when the weighted
    median of every parameter moved less than ``stable`` of its prior range over each of the
    last two generations."""

    class StableABCSMC(pyabc.ABCSMC):
        def check_terminate(self, t: int, acceptance_rate: float) -> bool:
            if super().check_terminate(t=t, acceptance_rate=acceptance_rate):
                return True
            if self.stable <= 0:
                return False
            df, w = self.history.get_distribution(m=0, t=t)
            x = df[[f"p{i}" for i in range(len(self.widths))]].to_numpy(dtype=float)
            w = np.asarray(w, dtype=float) / np.sum(w)
            self.medians_seen.append(np.array([weighted_quantiles(x[:, j], w, [0.5])[0] for j in range(x.shape[1])]))
            m = self.medians_seen
            if len(m) >= 3 and max(np.max(np.abs(m[-1] - m[-2]) / self.widths), np.max(np.abs(m[-2] - m[-3]) / self.widths)) < self.stable:
                self.stopped_stable = True
                return True
            return False

    return StableABCSMC


def setup(res: Resolved, record: str, params: list[str] | None = None) -> tuple[Problem, list[Count], int]:
    """The prior (scenario's uncertain parameters, then ``params`` adding or re-ranging) and
    the counts of the record inside the run; the years to simulate (to the last count)."""
    sc = res.scenario
    specs = list(sc.calibration.uncertain)
    for p in params or []:
        key = p.partition("=")[0].strip()
        specs = [s for s in specs if s.partition("=")[0].strip() != key] + [p]
    if not specs:
        raise CalibrationError(
            f"{sc.name}: nothing to calibrate — list the uncertain parameters under [calibration] uncertain = [...] in the scenario, or give --param KEY[=LO:HI]"
        )
    try:
        prob = problem(res, specs)
    except SensitivityError as exc:
        raise CalibrationError(str(exc)) from None
    first, last = sc.run.start_year, sc.run.start_year + sc.run.years
    counts = [c for c in read_record(record, reporting_units(sc), (first, last)) if first <= c.year <= last]
    if not counts:
        raise CalibrationError(f"{record}: no count falls in the run of {sc.name} ({first}–{last}) — nothing to calibrate to")
    years = max(c.year for c in counts) - first
    return prob, counts, max(years, 1)


def calibrate(res: Resolved, record: str, params: list[str] | None = None, settings: Settings | None = None, progress=None) -> Result:
    import logging
    import os
    import tempfile

    import pyabc

    for name in ("ABC", "pyabc", "Sampler", "Epsilon", "Distance", "Acceptor", "History", "Population", "Transition"):
        logging.getLogger(name).setLevel(logging.WARNING)
    st = settings or Settings()
    prob, counts, years = setup(res, record, params)
    lo, hi = intervals(counts)
    sim = Simulator(res.scenario.model_dump_json(), prob, counts, years)
    prior = pyabc.Distribution(**{f"p{i}": pyabc.RV("uniform", a, b - a) for i, (a, b) in enumerate(prob.bounds)})
    cls = _sampler_class()
    if st.scheduler:
        map_, close = _dask_map(st.scheduler)
    else:
        map_, close = _local_map(st.workers or os.cpu_count() or 1)
    np.random.seed(st.seed % (2**32))  # what pyabc draws outside the tasks (population sizes, KDE bandwidths) is seeded too
    random.seed(st.seed)
    sampler = cls(st.seed, map_, progress)
    transition = _defensive_class()(prob.bounds, st.prior_share) if st.prior_share > 0 else pyabc.MultivariateNormalTransition()
    abc = _stable_abc(pyabc)(sim, prior, Distance(lo, hi), population_size=st.particles, sampler=sampler, eps=pyabc.MedianEpsilon(), transitions=transition)
    abc.stable, abc.widths, abc.medians_seen, abc.stopped_stable = st.stable, np.array([b - a for a, b in prob.bounds]), [], False
    tmp = tempfile.mkdtemp(prefix="pardus-abc-")
    db = Path(tmp) / "abc.db"
    try:
        abc.new(f"sqlite:///{db}", {"counts": 0.5 * (lo + hi)})
        history = abc.run(
            minimum_epsilon=st.tolerance,
            max_nr_populations=st.generations,
            min_acceptance_rate=st.min_acceptance,
            max_total_nr_simulations=st.max_simulations,
        )
        pops = history.get_all_populations()
        pops = pops[pops.t >= 0]
        med = []
        for t in range(history.max_t + 1):
            dft, wt = history.get_distribution(m=0, t=t)
            xt = dft[[f"p{i}" for i in range(len(prob.keys))]].to_numpy(dtype=float)
            wt = np.asarray(wt, dtype=float)
            med.append([weighted_quantiles(xt[:, j], wt / wt.sum(), [0.5])[0] for j in range(xt.shape[1])])
        df, w = history.get_distribution(m=0)
        theta = df[[f"p{i}" for i in range(len(prob.keys))]].to_numpy(dtype=float).copy()
        _w, stats = history.get_weighted_sum_stats()
        sims = np.array([s["counts"] for s in stats], dtype=float)
        dists = np.array([distance_of(s, lo, hi) for s in sims])
    finally:
        close()
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)
    for j, integer in enumerate(prob.integer):
        if integer:
            theta[:, j] = np.round(theta[:, j])
    eps = [float(e) for e in pops.epsilon]
    acc = [float(p) / float(s) if s else 0.0 for p, s in zip(pops.particles, pops.samples)]
    nsim = [int(s) for s in pops.samples]
    if abc.stopped_stable:
        stopped = f"posterior stable (every median moved less than {st.stable:g} of its prior range in each of the last two generations)"
    elif eps[-1] <= st.tolerance:
        stopped = f"tolerance reached (ε = {eps[-1]:.3g} ≤ {st.tolerance:g})"
    elif acc[-1] < st.min_acceptance:
        stopped = f"acceptance rate {acc[-1]:.3%} below {st.min_acceptance:.1%}"
    elif len(eps) >= st.generations:
        stopped = f"{st.generations} generations done"
    else:
        stopped = f"{sum(nsim)} simulations spent (budget {st.max_simulations})"
    return Result(prob, counts, theta, np.asarray(w, dtype=float) / np.sum(w), dists, sims, eps, acc, nsim, stopped, st, years, np.array(med))


# ------------------------------------------------------------------------------ posterior file


def record_text(record: str) -> str:
    from .validation import resolve_record

    return resolve_record(record).read_text(encoding="utf-8")


def to_dataset(result: Result, res: Resolved, record: str):
    import xarray as xr

    from . import __version__

    p = result.prob
    st = result.settings
    members = p.members or [(k,) for k in p.keys]
    ds = xr.Dataset(
        {
            "value": (("particle", "parameter"), result.theta),
            "weight": ("particle", result.weights),
            "distance": ("particle", result.distances),
            "simulated_count": (("particle", "count"), result.sims),
            "prior_low": ("parameter", np.array([b[0] for b in p.bounds])),
            "prior_high": ("parameter", np.array([b[1] for b in p.bounds])),
            "integer": ("parameter", np.array(p.integer, dtype=np.int8)),
            "epsilon": ("generation", np.array(result.epsilons)),
            "acceptance_rate": ("generation", np.array(result.acceptance)),
            "simulations": ("generation", np.array(result.simulations)),
            "generation_median": (("generation", "parameter"), result.medians),
            "count_year": ("count", np.array([c.year for c in result.counts])),
            "count_low": ("count", np.array([c.low for c in result.counts])),
            "count_high": ("count", np.array([c.high for c in result.counts])),
            "count_value": ("count", np.array([c.mid for c in result.counts])),
        },
        coords={
            "parameter": list(p.keys),
            "particle": np.arange(len(result.weights)),
            "generation": np.arange(len(result.epsilons)),
            "count": np.arange(len(result.counts)),
        },
        attrs={
            "kind": POSTERIOR_KIND,
            "pardus_version": __version__,
            "scenario_name": res.scenario.name,
            "scenario": res.scenario.model_dump_json(),
            "record": record,
            "record_csv": record_text(record),
            "count_covers": json.dumps(["+".join(c.populations) + ":" + c.counted for c in result.counts]),
            "members": json.dumps([list(m) for m in members]),
            "prior": "uniform over [prior_low, prior_high] per parameter (whole-number parameters rounded)",
            "observation_model": "a count is an interval (range or confidence interval); distance = sum over the counts of the simulated count's miss of its interval on the log scale of count + 1/2",
            "seed": st.seed,
            "particles": st.particles,
            "stopping_rule": f"ε ≤ {st.tolerance:g}, or acceptance rate < {st.min_acceptance:g}, or {st.generations} generations, or {st.max_simulations} simulations"
            + (f", or every median moving less than {st.stable:g} of its prior range in each of two generations" if st.stable > 0 else ""),
            "stopped": result.stopped,
            "effective_sample_size": float(1.0 / np.sum(result.weights**2)),
            "simulated_years": result.years,
            "sampler": "pyabc ABC-SMC, median ε schedule, multivariate normal kernel"
            + (f" mixed with the prior ({st.prior_share:g} of the proposals)" if st.prior_share > 0 else "")
            + ", seeded mapping sampler",
            "prior_share": st.prior_share,
        },
    )
    return ds


def write_posterior(ds, path: Path) -> None:
    from .fileio import atomic_write

    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


@dataclass
class Posterior:
    keys: list[str]
    members: list[list[str]]
    values: np.ndarray  # particle × parameter
    weights: np.ndarray
    integer: list[bool]
    scenario_name: str
    scenario_json: str
    path: str

    def draw(self, n: int, seed: int) -> np.ndarray:
        """Particle indices for n replicates, drawn by weight (reproducible from the seed)."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9057]))
        return rng.choice(len(self.weights), size=n, p=self.weights)

    def overrides(self, j: int) -> dict:
        out = {}
        for keys, v, integer in zip(self.members, self.values[j], self.integer):
            for k in keys:
                out[k] = int(round(float(v))) if integer else float(v)
        return out


def shipped_posteriors() -> list[str]:
    from importlib import resources

    return sorted(p.name[: -len(".posterior.nc")] for p in resources.files("pardus.records").iterdir() if p.name.endswith(".posterior.nc"))


def resolve_posterior(ref: str | Path) -> Path:
    """A posterior file path, or the name of a shipped posterior (e.g. ``amur-history``: the
    calibration of that preset to the shipped record, made by ``make posterior``)."""
    from importlib import resources

    p = Path(ref)
    if p.exists() or "/" in str(ref) or str(ref).endswith(".nc"):
        return p
    shipped = resources.files("pardus.records") / f"{ref}.posterior.nc"
    if shipped.is_file():
        return Path(str(shipped))
    names = shipped_posteriors()
    raise CalibrationError(f"{ref}: no such posterior file, and no shipped posterior of that name — shipped: {', '.join(names) or 'none'}; or make one with `pardus calibrate SCENARIO --record FILE -o post.nc`")


def read_posterior(path: str | Path) -> Posterior:
    import xarray as xr

    p = resolve_posterior(path)
    if not p.exists():
        raise CalibrationError(f"{p}: no such posterior file — make one with `pardus calibrate SCENARIO --record FILE -o {p}`")
    try:
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            ds.load()
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise CalibrationError(f"{p}: cannot be read as a posterior file ({type(exc).__name__}: {exc}) — give the file `pardus calibrate` wrote") from None
    if ds.attrs.get("kind") != POSTERIOR_KIND:
        raise CalibrationError(f"{p}: not a posterior file of pardus calibrate (kind = {ds.attrs.get('kind')!r}) — give the file `pardus calibrate -o` wrote")
    w = ds["weight"].values.astype(float)
    return Posterior(
        keys=[str(k) for k in ds.parameter.values],
        members=json.loads(ds.attrs["members"]),
        values=ds["value"].values.astype(float),
        weights=w / w.sum(),
        integer=[bool(i) for i in ds["integer"].values],
        scenario_name=str(ds.attrs["scenario_name"]),
        scenario_json=str(ds.attrs["scenario"]),
        path=str(p),
    )


def weighted_quantiles(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    cw /= cw[-1]
    return np.array([x[order][min(np.searchsorted(cw, qq), len(x) - 1)] for qq in np.atleast_1d(q)])


# ---------------------------------------------------------------- projection with a posterior


def posterior_fit(sc, post: Posterior) -> tuple[list[int], list[str]]:
    """Which posterior parameters apply to scenario ``sc``: (indices of the parameters whose
    every key the scenario has, keys it lacks). Survival rates calibrated on another basis
    (natural vs all_causes) would mean something else: an error."""
    from .scenario.loader import _flatten
    from .scenario.schema import Scenario

    flat = _flatten(sc.model_dump(mode="json"))
    use, missing = [], []
    for i, keys in enumerate(post.members):
        lacking = [k for k in keys if k not in flat]
        if lacking:
            missing.extend(lacking)
        else:
            use.append(i)
    if not use:
        raise CalibrationError(
            f"{post.path}: none of its parameters ({', '.join(post.keys)}) is a parameter of {sc.name} — give the scenario it was calibrated for ({post.scenario_name}) or one that shares its parameters"
        )
    source = Scenario.model_validate_json(post.scenario_json)
    if (source.landscape is None) != (sc.landscape is None):
        on, off = (post.scenario_name, sc.name) if sc.landscape is None else (sc.name, post.scenario_name)
        raise CalibrationError(
            f"{post.path}: calibrated {'on a map' if source.landscape is not None else 'without a map'} ({post.scenario_name}), but {sc.name} runs "
            f"{'on a map' if sc.landscape is not None else 'without one'}: the same parameters mean something else in the two forms ({on} on the map, {off} not)"
            f" — use a posterior calibrated in the scenario's own form (e.g. amur-history for amur-2015, amur-history-nonspatial for amur-2015-nonspatial)"
        )
    survival = any(k.startswith("demography.survival.") for i in use for k in post.members[i])
    if survival and source.demography.survival.basis != sc.demography.survival.basis:
        raise CalibrationError(
            f"{post.path}: its survival rates are {source.demography.survival.basis} rates ({post.scenario_name}), {sc.name} gives {sc.demography.survival.basis} rates"
            f" — set demography.survival.basis = \"{source.demography.survival.basis}\" in {sc.name} to use them"
        )
    return use, missing


def posterior_scenarios(scenarios: list, post: Posterior, replicates: int, seed: int):
    """One scenario per (scenario, drawn parameter set) and the replicate numbers of each.

    Every replicate draws one particle by weight (the same draw for every scenario: common
    random numbers over the parameter uncertainty too). Returns (the scenarios, their
    replicate numbers, their origin scenario index, the draw per replicate, applied parameter
    indices per scenario)."""
    draw = post.draw(replicates, seed)
    runs, assignment, origin, used = [], [], [], []
    for s, sc in enumerate(scenarios):
        use, _missing = posterior_fit(sc, post)
        used.append(use)
        for j in np.unique(draw):
            over = {}
            for i in use:
                v = post.values[j, i]
                for k in post.members[i]:
                    over[k] = int(round(float(v))) if post.integer[i] else float(v)
            runs.append(sc.replace(over))
            assignment.append([int(r) for r in np.flatnonzero(draw == j)])
            origin.append(s)
    return runs, assignment, origin, draw, used


def merge_projection(records: list[dict], assignment: list[list[int]], origin: list[int], n_scenarios: int, replicates: int) -> list[dict]:
    """Records of the per-parameter-set runs put back in replicate order, one dict per scenario."""
    out = []
    for s in range(n_scenarios):
        mine = [i for i, o in enumerate(origin) if o == s]
        first = records[mine[0]]
        merged = {k: np.empty((replicates,) + v.shape[1:], dtype=v.dtype) for k, v in first.items()}
        for i in mine:
            idx = np.asarray(assignment[i])
            for k, v in records[i].items():
                merged[k][idx] = v
        out.append(merged)
    return out


def add_posterior_draws(ds, post: Posterior, draw: np.ndarray, used: list[int]):
    """The parameter set each replicate drew, as variables of the results Dataset."""
    import xarray as xr

    keys = [post.keys[i] for i in used]
    ds["posterior_particle"] = xr.Variable(("replicate",), np.asarray(draw, dtype=np.int64), attrs={"units": "1", "description": f"particle of {Path(post.path).name} drawn by the replicate"})
    ds["posterior_value"] = xr.Variable(("replicate", "posterior_parameter"), post.values[np.asarray(draw)][:, used], attrs={"units": "1"})
    ds = ds.assign_coords(posterior_parameter=keys)
    ds.attrs["posterior"] = str(post.path)
    ds.attrs["posterior_scenario"] = post.scenario_name
    # the posterior itself travels with the results (its report shows the calibration)
    with xr.open_dataset(post.path, engine="h5netcdf") as full:
        full = full.load()
    for name, var in full.data_vars.items():
        dims = tuple(POSTERIOR_DIM.get(d, f"posterior_{d}") for d in var.dims)
        ds[f"calibration_{name}"] = xr.Variable(dims, var.values, attrs=var.attrs)
    ds = ds.assign_coords({POSTERIOR_DIM[c]: full[c].values for c in full.coords if c in POSTERIOR_DIM})
    ds.attrs["calibration"] = json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in full.attrs.items() if k not in ("scenario", "record_csv")})
    return ds


POSTERIOR_DIM = {"parameter": "calibration_parameter", "particle": "calibration_particle", "count": "calibration_count", "generation": "calibration_generation", "series": "calibration_series", "predictive_year": "calibration_year", "quantile": "calibration_quantile"}


def embedded_posterior(ds):
    """The posterior Dataset a results file carries (see :func:`add_posterior_draws`), or None."""
    import xarray as xr

    if "calibration" not in ds.attrs:
        return None
    back = {v: k for k, v in POSTERIOR_DIM.items()}
    data = {}
    for name in ds.data_vars:
        if name.startswith("calibration_"):
            var = ds[name]
            data[name[len("calibration_"):]] = xr.Variable(tuple(back[d] for d in var.dims), var.values, attrs=var.attrs)
    post = xr.Dataset(data, attrs=json.loads(ds.attrs["calibration"]))
    coords = {}
    for dim, full in POSTERIOR_DIM.items():
        if full in ds.coords:
            coords[dim] = ds[full].values
    return post.assign_coords(coords)


# ------------------------------------------------------------------- posterior predictive


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def series_of(counts: list[Count]) -> list[tuple[tuple[str, ...], str]]:
    """The distinct (populations, counted class) of the counts, in order of appearance."""
    out: list[tuple[tuple[str, ...], str]] = []
    for c in counts:
        key = (c.populations, c.counted)
        if key not in out:
            out.append(key)
    return out


def predictive(res: Resolved, post: Posterior, counts: list[Count], replicates: int, seed: int, workers=None, scheduler=None, progress=None):
    """Posterior predictive of the calibrated scenario over its whole run: ``replicates``
    replicates, each with a parameter set drawn from the posterior. Returns (years, series
    labels, quantiles array series × year × quantile, the placed counts)."""
    from .ensemble import run_ensemble
    from .validation import COUNTED, place

    sc = res.scenario
    runs, assignment, origin, _draw, _used = posterior_scenarios([sc], post, replicates, seed)
    names, parts = run_ensemble(runs, replicates=replicates, seed=seed, workers=workers, scheduler=scheduler, progress=progress, assignment=assignment)
    N = merge_projection(parts, assignment, origin, 1, replicates)[0]["N"]
    units = reporting_units(sc)
    years = sc.run.start_year + np.arange(N.shape[1])
    labels, bands = [], []
    for pops, counted in series_of(counts):
        members = sorted({names.index(m) for p in pops for m in units.get(p, (p,))})
        total = N[:, :, members][..., list(COUNTED[counted])].sum(axis=(2, 3, 4)).astype(float)
        bands.append(np.quantile(total, QUANTILES, axis=0).T)
        labels.append(f"{'+'.join(pops)} · {counted.replace('_', ' ')}")
    return years, labels, np.array(bands), place(N, names, sc.run.start_year, counts, units)


def add_predictive(ds, years, labels, bands, placed):
    import xarray as xr

    ds = ds.assign_coords(predictive_year=np.asarray(years), series=labels, quantile=list(QUANTILES))
    ds["predictive"] = xr.Variable(("series", "predictive_year", "quantile"), bands, attrs={"units": "individuals", "description": "posterior predictive quantiles of the counted class"})
    lab = {s: i for i, s in enumerate(labels)}
    ds["count_series"] = ("count", np.array([lab[f"{'+'.join(p.count.populations)} · {p.count.counted.replace('_', ' ')}"] for p in placed], dtype=np.int64))
    ds["count_position"] = ("count", np.array([p.position if p.in_run else np.nan for p in placed]))
    ds["count_inside"] = ("count", np.array([bool(p.inside) if p.in_run else False for p in placed]))
    return ds


def summary_rows(ds) -> list[dict]:
    """Per parameter: prior range, posterior median and 90 % interval (weighted)."""
    rows = []
    w = ds["weight"].values
    for j, key in enumerate(ds.parameter.values):
        x = ds["value"].values[:, j]
        lo, med, hi = weighted_quantiles(x, w, [0.05, 0.5, 0.95])
        a, b = float(ds["prior_low"].values[j]), float(ds["prior_high"].values[j])
        rows.append({"parameter": str(key), "prior_low": a, "prior_high": b, "median": float(med), "q05": float(lo), "q95": float(hi), "narrowing": float((hi - lo) / (0.9 * (b - a)))})
    return rows
