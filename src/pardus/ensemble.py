"""Many replicates of one or more scenarios: local processes or a Dask distributed cluster.

Work is cut into chunks of replicates; each chunk runs in a worker and returns its records.
Replicate *i* always uses the seed child *i* of the run seed (for every scenario: common random
numbers), so results are identical for any number of workers and any scheduler.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .engine import MAX_BATCH, Prepared, batch_size, prepare, run_batch
from .scenario.schema import Scenario

MAX_SEED = 2**64 - 1
_SCHEDULER = re.compile(r"^((tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}/?$")


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT or SIGTERM); ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def run_option_problems(*, replicates: object = 1, seed: object = 1, workers: object = None, scheduler: object = None, flags: bool = False) -> list[str]:
    """What is wrong with the options of a run, one line each (empty when they are fine).

    ``flags`` names the problems as command-line options (``--replicates``) rather than as
    keyword arguments (``replicates=``).
    """

    def given(kw: str, value: object) -> str:
        return f"--{kw} {value!r}" if flags else f"{kw}={value!r}"

    def whole(v: object) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    out = []
    if not whole(replicates) or replicates < 1:  # type: ignore[operator]
        out.append(f"{given('replicates', replicates)} — must be a whole number of at least 1")
    if not whole(seed) or not 0 <= seed <= MAX_SEED:  # type: ignore[operator]
        out.append(f"{given('seed', seed)} — must be a whole number from 0 to 2**64 − 1 ({MAX_SEED})")
    if workers is not None and (not whole(workers) or workers < 1):  # type: ignore[operator]
        out.append(f"{given('workers', workers)} — must be a whole number of at least 1 (leave it out to use every core)")
    if scheduler is not None and (not isinstance(scheduler, str) or not _SCHEDULER.match(scheduler)):
        out.append(f"{given('scheduler', scheduler)} — not a Dask scheduler address; give one like tcp://host:8786")
    return out


@dataclass(frozen=True)
class Task:
    scenario_index: int
    start: int
    stop: int
    replicates: tuple[int, ...] | None = None  # explicit replicate numbers (else start … stop−1)


def run_chunk(
    scenario_json: str,
    names: list[str],
    seed: int,
    start: int,
    stop: int,
    *,
    on_replicate: Callable[[], None] | None = None,
    stop_event: str | None = None,
    replicates: tuple[int, ...] | None = None,
) -> dict[str, np.ndarray] | None:
    """Run replicates start … stop−1 (or the replicate numbers given); records stacked on a new
    leading replicate axis.

    The replicates run in batches (:func:`pardus.engine.batch_size` at a time), each batch
    advanced together; a replicate's result does not depend on its batch. ``on_replicate`` is
    called once per replicate finished. ``stop_event`` names a Dask ``distributed.Event``: when
    it is set, the chunk stops before its next batch and returns None (the run was cancelled).
    """
    sc = Scenario.model_validate_json(scenario_json)
    prep = _prepared(sc, tuple(names), scenario_json)
    cancelled = _dask_event(stop_event) if stop_event else None
    size = batch_size(prep)
    numbers = list(range(start, stop)) if replicates is None else list(replicates)
    recs = []
    for a in range(0, len(numbers), size):
        if cancelled is not None and cancelled.is_set():
            return None
        b = min(a + size, len(numbers))
        recs.append(run_batch(prep, seed, numbers[a:b]))
        if on_replicate:
            for _ in range(b - a):
                on_replicate()
    return {k: np.concatenate([r[k] for r in recs]) for k in recs[0]}


def _run_numbered(scenario_json, names, seed, start, stop, replicates, *, on_replicate=None):
    """run_chunk for a task with explicit replicate numbers (positional, for the local pool)."""
    return run_chunk(scenario_json, names, seed, start, stop, on_replicate=on_replicate, replicates=replicates)


def _dask_event(name: str):
    from distributed import Event

    return Event(name)


_PREP_CACHE: dict[tuple[str, tuple[str, ...]], Prepared] = {}


def _prepared(sc: Scenario, names: tuple[str, ...], key: str) -> Prepared:
    hit = _PREP_CACHE.get((key, names))
    if hit is None:
        hit = prepare(sc, list(names))
        _PREP_CACHE.clear()
        _PREP_CACHE[(key, names)] = hit
    return hit


def population_names(scenarios: list[Scenario]) -> list[str]:
    names: list[str] = []
    for sc in scenarios:
        for n in sc.populations:
            if n not in names:
                names.append(n)
    return names


def _chunks(n: int, workers: int, scenarios: int) -> int:
    """Chunk size: several chunks per worker for load balance, each at most one full batch."""
    per = max(1, n // max(1, workers * 4 // max(1, scenarios)))
    return min(per, MAX_BATCH)


def kernels_compiled() -> bool:
    """Whether the engine's numba kernels are in the on-disk cache (False on a first run)."""
    from importlib import import_module

    from numba.core.registry import CPUDispatcher

    modules = [
        "pardus.engine", "pardus.rng", "pardus.population.genetics", "pardus.population.table", "pardus.population.pedigree", "pardus.population.breeders",
        "pardus.landscape.regions", "pardus.landscape.ranges",
    ] + [
        f"pardus.processes.{m}" for m in (
            "base", "census", "ceiling", "conflict", "dispersal", "mortality", "poaching", "prey", "reproduction",
            "fire", "succession", "prey_cells", "territories", "map_dispersal",
        )
    ]  # fmt: skip
    for mod in modules:
        for obj in vars(import_module(mod)).values():
            inlined = isinstance(obj, CPUDispatcher) and obj.targetoptions.get("inline") == "always"  # compiled into callers
            if isinstance(obj, CPUDispatcher) and not inlined and getattr(obj, "_cache", None) is not None:
                try:
                    if not os.path.exists(obj._cache._cache_file._index_path):
                        return False
                except AttributeError:  # a numba without these internals: assume compiled
                    return True
    return True


@contextmanager
def signals_as_exceptions():
    """SIGTERM raises :class:`Interrupted` in the main thread while the block runs.

    Left alone when another handler is installed (the CLI installs its own) or when not called
    from the main thread (signals are only delivered there).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_interrupted(signum, _frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_ensemble(
    scenarios: list[Scenario],
    *,
    replicates: int,
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    assignment: list[list[int]] | None = None,
) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Run every scenario for ``replicates`` replicates.

    Returns the population names (union over scenarios, in order of appearance) and, per
    scenario, the records stacked as (replicate, year, ...). ``progress`` is called with the
    number of replicates just finished (1 per replicate, locally). Ctrl-C (KeyboardInterrupt) or
    SIGTERM (:class:`Interrupted`) stops every worker at once, reaps it and propagates.
    ``assignment`` gives each scenario its own replicate numbers instead (a projection with
    parameter uncertainty: one scenario per parameter set, each for the replicates that drew
    it); a replicate's result depends only on its number, scenario and seed.
    """
    problems = run_option_problems(replicates=replicates, seed=seed, workers=workers, scheduler=scheduler)
    if problems:
        raise ValueError("; ".join(problems))
    names = population_names(scenarios)
    jsons = [sc.model_dump_json() for sc in scenarios]
    workers = workers or os.cpu_count() or 1
    if assignment is None:
        size = _chunks(replicates, workers, len(scenarios))
        tasks = [Task(i, a, min(a + size, replicates)) for i in range(len(scenarios)) for a in range(0, replicates, size)]
    else:
        size = _chunks(sum(len(a) for a in assignment), workers, 1)
        tasks = [
            Task(i, 0, 0, tuple(int(r) for r in reps[a : a + size]))
            for i, reps in enumerate(assignment)
            for a in range(0, len(reps), size)
        ]
    parts: dict[Task, dict[str, np.ndarray]] = {}
    tick = (lambda: progress(1)) if progress else None

    with signals_as_exceptions():
        if scheduler:
            _run_dask(tasks, jsons, names, seed, scheduler, parts, progress)
        elif workers == 1 or len(tasks) == 1:
            for t in tasks:
                parts[t] = run_chunk(jsons[t.scenario_index], names, seed, t.start, t.stop, on_replicate=tick, replicates=t.replicates)  # type: ignore[assignment]
        else:
            _run_local(tasks, jsons, names, seed, workers, parts, tick)

    out = []
    for i in range(len(scenarios)):
        mine = [parts[t] for t in tasks if t.scenario_index == i]
        out.append({k: np.concatenate([m[k] for m in mine]) for k in mine[0]})
    return names, out


def start_workers(replicates: int, workers: int | None, scenarios: int = 1) -> None:
    """Start the local worker pool that :func:`run_ensemble` with these arguments will use, now
    (the CLI does this before it starts any thread, so that the workers can be forked with the
    kernels loaded); nothing happens when the run would not use a pool."""
    workers = workers or os.cpu_count() or 1
    size = _chunks(replicates, workers, scenarios)
    if workers > 1 and scenarios * -(-replicates // size) > 1:
        _warm_pool(workers)


_POOL = None  # the warm local pool, kept between runs of this process (see _warm_pool)


def _warm_pool(workers: int):
    """The local worker pool of this process, started on first use and kept for later runs
    (a script or notebook that simulates again and again pays the start of the workers, about
    a second, once). A pool of another size, or with a worker that died, is replaced. Closed at
    exit, and thrown away (every worker stopped and reaped) when a run fails or is interrupted.
    """
    import atexit

    from .workers import Pool, can_fork

    global _POOL
    if _POOL is not None and (len(_POOL.procs) != workers or any(p.poll() is not None for p in _POOL.procs)):
        close_pool()
    if _POOL is None:
        fork = can_fork()
        if fork:
            from .kernels import warm_kernels

            warm_kernels()  # the forked workers inherit the loaded kernels
        _POOL = Pool(workers, fork=fork)
        atexit.register(close_pool)
    return _POOL


def close_pool() -> None:
    """Stop and reap the warm local workers, if any (runs at exit by itself)."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()


def _run_local(tasks, jsons, names, seed, workers, parts, tick) -> None:
    args = [(jsons[t.scenario_index], names, seed, t.start, t.stop) for t in tasks]
    pool = _warm_pool(workers)
    fn = run_chunk if all(t.replicates is None for t in tasks) else _run_numbered
    if fn is _run_numbered:
        args = [a + (t.replicates,) for a, t in zip(args, tasks)]
    try:
        for i, rec in pool.map_unordered(fn, args, on_replicate=(lambda _i: tick()) if tick else None):
            parts[tasks[i]] = rec
    except BaseException:
        close_pool()  # a failed or interrupted run leaves no worker behind
        raise


def _run_dask(tasks, jsons, names, seed, scheduler, parts, progress) -> None:
    import uuid

    from dask.distributed import Client, Event, as_completed

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler} — {exc}; check the address and that the scheduler is running") from None
    with client:
        stop = f"pardus-stop-{uuid.uuid4().hex}"
        futures = {}
        for t in tasks:
            fut = client.submit(run_chunk, jsons[t.scenario_index], names, seed, t.start, t.stop, stop_event=stop, replicates=t.replicates, pure=False)
            futures[fut] = t
        try:
            for fut in as_completed(list(futures)):
                t = futures[fut]
                parts[t] = fut.result()
                if progress:
                    progress(t.stop - t.start if t.replicates is None else len(t.replicates))
        except BaseException:
            Event(stop, client=client).set()  # running chunks stop before their next replicate
            client.cancel(list(futures))
            raise


def simulate(
    *scenarios,
    replicates: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
):
    """Run scenarios and return the results Dataset (see docs/outputs.md).

    Each scenario may be a :class:`~pardus.scenario.Scenario` (from :func:`pardus.load_scenario`,
    optionally changed with ``Scenario.replace``), a preset name or a scenario file path (a file
    with a ``[sweep]`` gives several). ``replicates`` defaults to the largest
    ``run.replicates`` of the scenarios; ``workers`` to every core (1 runs in this process);
    ``scheduler`` is the address of a Dask scheduler. Same arguments → identical results, for
    any ``workers`` or ``scheduler``. Bad arguments raise ValueError before anything runs.

    >>> ds = simulate("nonspatial-vortex", replicates=20, seed=1, workers=1)  # doctest: +SKIP
    """
    from pathlib import Path

    from .results import build_dataset, common_currency
    from .scenario.checks import common_landscape
    from .scenario.loader import Resolved, resolve_scenarios

    resolved: list[Scenario] = []
    sweeps: list[dict] = []
    for sc in scenarios:
        if isinstance(sc, Scenario):
            found = [Resolved(scenario=sc, raw={})]
        elif isinstance(sc, Resolved):
            found = [sc]
        elif isinstance(sc, (str, Path)):
            found = resolve_scenarios(sc)
        else:
            raise TypeError(f"simulate() takes Scenario objects, preset names or file paths, not {type(sc).__name__}")
        resolved.extend(r.scenario for r in found)
        sweeps.extend(r.sweep for r in found)
    if not resolved:
        raise ValueError("simulate() needs at least one scenario")
    if len({(s.run.start_year, s.run.years) for s in resolved}) > 1:
        raise ValueError("scenarios simulated together must share run.start_year and run.years")
    n = max(s.run.replicates for s in resolved) if replicates is None else replicates
    problems = run_option_problems(replicates=n, seed=seed, workers=workers, scheduler=scheduler)
    if problems:
        raise ValueError("; ".join(problems))
    common_currency(resolved)  # before simulating: costs in two currencies cannot be compared
    common_landscape(resolved)  # and the cells of two maps cannot be stacked
    names, records = run_ensemble(resolved, replicates=n, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    return build_dataset(resolved, names, records, seed, sweeps=sweeps)
