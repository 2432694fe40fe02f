"""The local worker pool: results, per-replicate progress, and stopping without waiting.

No clock is read here. A task that never ends proves that stopping does not wait for a chunk to
finish: if it did, close() would never return.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pardus.workers import Pool, WorkerError

HERE = Path(__file__).parent


@pytest.fixture(params=[True, False], ids=["forked", "spawned"])
def fork(request):
    """Every test runs with forked workers (the default of a single-threaded process on Linux)
    and with fresh ``python -m pardus.workers`` interpreters (any other process)."""
    if request.param and not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    return request.param


@pytest.fixture(autouse=True)
def importable_tasks(monkeypatch):
    """Workers are fresh interpreters: let them import this module's task functions."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def squares(a: int, b: int, *, on_replicate) -> list[int]:
    out = []
    for i in range(a, b):
        out.append(i * i)
        on_replicate()
    return out


def forever(*, on_replicate) -> None:
    on_replicate()  # tell the parent we are running
    threading.Event().wait()  # and never finish


def fails(*, on_replicate) -> None:
    raise ValueError("a bug in a task")


class Stop(Exception):
    pass


def test_results_come_back_for_every_task_with_one_progress_call_per_replicate(fork):
    ticks: list[int] = []
    chunks = [(0, 5), (5, 7), (7, 20), (20, 21)]
    with Pool(2, fork=fork) as pool:
        got = dict(pool.map_unordered(squares, chunks, on_replicate=ticks.append))
    assert got == {i: [k * k for k in range(a, b)] for i, (a, b) in enumerate(chunks)}
    assert sorted(ticks) == sorted(i for i, (a, b) in enumerate(chunks) for _ in range(a, b))


def test_close_stops_a_worker_in_the_middle_of_a_task_and_reaps_it(fork):
    running: set[int] = set()

    def stop(task):
        running.add(task)
        if len(running) == 2:  # both workers are inside a task that never ends
            raise Stop

    with pytest.raises(Stop):
        with Pool(2, fork=fork) as pool:
            procs = list(pool.procs)
            for _ in pool.map_unordered(forever, [(), ()], on_replicate=stop):
                pass
    # close() returned although both tasks would run forever: the workers were stopped, not
    # awaited — by SIGTERM, or by their own exit when they saw the pipe close (whichever came first)
    assert all(p.returncode in (0, -signal.SIGTERM) for p in procs), [p.returncode for p in procs]
    assert not pool.procs


def test_a_failing_task_raises_with_the_workers_traceback(fork):
    with Pool(1, fork=fork) as pool:
        with pytest.raises(WorkerError, match=r"(?s)failed on task 0.*ValueError: a bug in a task"):
            list(pool.map_unordered(fails, [()]))


def test_a_worker_killed_from_outside_is_reported_with_its_signal(fork):
    def kill_it(_task):
        os.kill(pool.procs[0].pid, signal.SIGKILL)

    with Pool(1, fork=fork) as pool:
        with pytest.raises(WorkerError, match=r"died \(killed by signal 9 \(SIGKILL\) — out of memory\?\) while running task 0"):
            list(pool.map_unordered(forever, [()], on_replicate=kill_it))


PARENT = """
import sys
from pardus.workers import Pool
from test_workers import forever

pool = Pool(1, fork=sys.argv[1] == "fork")
for _ in pool.map_unordered(forever, [()], on_replicate=lambda t: print(pool.procs[0].pid, flush=True)):
    pass
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd (Linux)")
def test_workers_exit_when_their_parent_is_killed(fork):
    """SIGKILL leaves the parent no chance to clean up: the workers notice their pipe closing."""
    how = "fork" if fork else "spawn"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE, text=True, env=os.environ)
    worker = int(parent.stdout.readline())
    fd = os.pidfd_open(worker)
    try:
        parent.kill()
        parent.wait()
        select.select([fd], [], [])  # readable once the worker has exited; blocks until then
    finally:
        os.close(fd)
    try:
        state = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z")
