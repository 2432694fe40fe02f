"""Benchmark: this engine against an older revision, in one sitting (issue #6).

Checks out REV (default: the last commit before the batched engine) into a temporary folder
with ``git worktree``, compiles its kernels once, then alternates old and new:

1. ``pardus run amur-2015-nonspatial -n 1000 -w 2`` through the CLI, as a user runs it: start-up,
   simulation, writing the results file (wall and CPU seconds of the whole process, medians);
2. µs per replicate-year by process, in one process (each process's ``step`` timed);
3. a cold first run: the new revision's kernels removed from numba's cache, then run.

    .venv/bin/python benchmarks/bench_engine.py [--old REV] [--rounds 5] [--replicates 1000]

Timing lives here, never in the tests; the machine is shared, so compare figures of one sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OLD = "9ced4ef"  # the per-replicate engine, before batches

PROFILE = r"""
import json, sys, time
from pardus.engine import prepare
import pardus.engine as E
from pardus.scenario import load_scenario
prep = prepare(load_scenario("amur-2015-nonspatial"))
n = int(sys.argv[1])
tim = {}
def wrapped(obj):
    for proc in obj.schedule:
        step = proc.step
        def timed(state, rng, _step=step, _name=proc.name):
            t0 = time.perf_counter(); _step(state, rng); tim[_name] = tim.get(_name, 0.0) + time.perf_counter() - t0
        proc.step = timed
    return obj
batched = hasattr(E, "Batch")
E.Replicate(prep, 1, 0).run()  # kernels loaded
t0 = time.perf_counter()
if batched:
    size = E.batch_size(prep)
    for a in range(0, n, size):
        wrapped(E.Batch(prep, 1, range(a, min(a + size, n)))).run()
else:
    for r in range(n):
        wrapped(E.Replicate(prep, 1, r)).run()
total = time.perf_counter() - t0
ry = n * prep.scenario.run.years
print(json.dumps({"total": total / ry * 1e6, **{k: v / ry * 1e6 for k, v in tim.items()}}))
"""


def _env(src: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def _timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default=DEFAULT_OLD, help="git revision of the engine to compare with")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--profile-replicates", type=int, default=256)
    args = ap.parse_args()
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="pardus-bench-"))
    old = tmp / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.old], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sides = {"old": old / "src", "new": ROOT / "src"}
        out = tmp / "out.nc"
        run = ["-m", "pardus.cli", "run", "amur-2015-nonspatial", "-n", str(args.replicates), "-w", "2", "-o", str(out)]
        for name, src in sides.items():  # compile each side's kernels once, untimed
            subprocess.run([py, "-m", "pardus.cli", "run", "amur-2015-nonspatial", "-n", "2", "-w", "1", "-o", str(out)], env=_env(src), cwd=tmp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
        for _ in range(args.rounds):
            for name, src in sides.items():
                times[name].append(_timed([py, *run], _env(src), tmp))
        print(f"1. pardus run amur-2015-nonspatial -n {args.replicates} -w 2 (whole process, {args.rounds} rounds, alternating; old = {args.old})")
        med = {}
        for name in sides:
            walls = [w for w, _ in times[name]]
            cpus = [c for _, c in times[name]]
            med[name] = statistics.median(walls)
            print(f"   {name}: wall median {med[name]:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s")
        ratios = sorted(o[0] / n[0] for o, n in zip(times["old"], times["new"]))
        print(f"   speed-up old/new: median {statistics.median(ratios):.2f}× (pairs {ratios[0]:.2f}–{ratios[-1]:.2f})")

        print(f"2. µs per replicate-year by process ({args.profile_replicates} replicates, one process)")
        prof = {}
        for name, src in sides.items():
            res = subprocess.run([py, "-c", PROFILE, str(args.profile_replicates)], env=_env(src), cwd=tmp, check=True, capture_output=True, text=True)
            prof[name] = json.loads(res.stdout.strip().splitlines()[-1])
        keys = [k for k in prof["old"] if k != "total"] + ["total"]
        print(f"   {'process':24s} {'old':>8s} {'new':>8s}")
        for k in keys:
            print(f"   {k:24s} {prof['old'].get(k, float('nan')):8.1f} {prof['new'].get(k, float('nan')):8.1f}")

        print("3. cold first run of the new engine (its numba cache removed), then warm")
        cache = tmp / "numba-cache"
        env = _env(sides["new"])
        env["NUMBA_CACHE_DIR"] = str(cache)
        short = [py, "-m", "pardus.cli", "run", "amur-2015-nonspatial", "-n", "200", "-w", "2", "-o", str(out)]
        cold = _timed(short, env, tmp)
        warm = _timed(short, env, tmp)
        print(f"   amur-2015-nonspatial -n 200 -w 2: cold {cold[0]:.2f} s wall / {cold[1]:.2f} CPU-s, warm {warm[0]:.2f} s / {warm[1]:.2f} CPU-s")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
