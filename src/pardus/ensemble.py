"""Many replicates of one or more scenarios: local processes or a Dask distributed cluster.

Work is cut into chunks of replicates; each chunk runs in a worker and returns its records.
Replicate *i* always uses the seed child *i* of the run seed (for every scenario: common random
numbers), so results are identical for any number of workers and any scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from .engine import Prepared, Replicate, prepare
from .scenario.schema import Scenario


@dataclass(frozen=True)
class Task:
    scenario_index: int
    start: int
    stop: int


def run_chunk(scenario_json: str, names: list[str], seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
    """Run replicates start … stop−1; records stacked on a new leading replicate axis."""
    sc = Scenario.model_validate_json(scenario_json)
    prep = _prepared(sc, tuple(names), scenario_json)
    recs = [Replicate(prep, seed, r).run() for r in range(start, stop)]
    return {k: np.stack([r[k] for r in recs]) for k in recs[0]}


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
    """Chunk size: several chunks per worker for load balance and a smooth progress bar."""
    per = max(1, n // max(1, workers * 8 // max(1, scenarios)))
    return min(per, 50)


def run_ensemble(
    scenarios: list[Scenario],
    *,
    replicates: int,
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Run every scenario for ``replicates`` replicates.

    Returns the population names (union over scenarios, in order of appearance) and, per
    scenario, the records stacked as (replicate, year, ...). ``progress`` is called with the
    number of replicates just finished. ``KeyboardInterrupt`` cancels outstanding work and
    propagates.
    """
    names = population_names(scenarios)
    jsons = [sc.model_dump_json() for sc in scenarios]
    workers = workers or os.cpu_count() or 1
    size = _chunks(replicates, workers, len(scenarios))
    tasks = [Task(i, a, min(a + size, replicates)) for i in range(len(scenarios)) for a in range(0, replicates, size)]
    parts: dict[Task, dict[str, np.ndarray]] = {}

    def done(task: Task, rec: dict[str, np.ndarray]) -> None:
        parts[task] = rec
        if progress:
            progress(task.stop - task.start)

    if scheduler:
        _run_dask(tasks, jsons, names, seed, scheduler, done)
    elif workers == 1:
        for t in tasks:
            done(t, run_chunk(jsons[t.scenario_index], names, seed, t.start, t.stop))
    else:
        _run_local(tasks, jsons, names, seed, workers, done)

    out = []
    for i in range(len(scenarios)):
        mine = [parts[t] for t in tasks if t.scenario_index == i]
        out.append({k: np.concatenate([m[k] for m in mine]) for k in mine[0]})
    return names, out


def _run_local(tasks, jsons, names, seed, workers, done) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # numba and threads are not fork-safe
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    futures = {}
    try:
        for t in tasks:
            futures[pool.submit(run_chunk, jsons[t.scenario_index], names, seed, t.start, t.stop)] = t
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                done(futures[f], f.result())
    except BaseException:
        for f in futures:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            p.terminate()
        raise
    pool.shutdown(wait=True)


def _run_dask(tasks, jsons, names, seed, scheduler, done) -> None:
    from dask.distributed import Client, as_completed

    with Client(scheduler, timeout="10s") as client:
        futures = {}
        for t in tasks:
            fut = client.submit(run_chunk, jsons[t.scenario_index], names, seed, t.start, t.stop, pure=False)
            futures[fut] = t
        try:
            for fut in as_completed(list(futures)):
                done(futures[fut], fut.result())
        except BaseException:
            client.cancel(list(futures))
            raise


def simulate(
    *scenarios,
    replicates: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    scheduler: str | None = None,
):
    """Run scenarios and return the results Dataset (see docs/outputs.md).

    Each scenario may be a :class:`~pardus.scenario.Scenario`, a preset name or a scenario file
    path (a file with a ``[sweep]`` gives several). ``replicates`` defaults to the largest
    ``run.replicates`` of the scenarios. Same arguments → identical results, for any
    ``workers`` or ``scheduler``.

    >>> ds = simulate("nonspatial-vortex", replicates=20, seed=1, workers=1)  # doctest: +SKIP
    """
    from .results import build_dataset
    from .scenario.loader import load_scenarios

    resolved: list[Scenario] = []
    for sc in scenarios:
        resolved.extend([sc] if isinstance(sc, Scenario) else [r.scenario for r in load_scenarios(sc)])
    if not resolved:
        raise ValueError("simulate() needs at least one scenario")
    n = replicates or max(s.run.replicates for s in resolved)
    names, records = run_ensemble(resolved, replicates=n, seed=seed, workers=workers, scheduler=scheduler)
    return build_dataset(resolved, names, records, seed)
