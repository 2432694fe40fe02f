"""Benchmark: cost per replicate-year and peak memory against population size.

The `nonspatial-vortex` preset with carrying capacity K and K founders (exact F of every newborn
and mean kinship every year — from the dense store of living pairs or from the stored pedigree,
as `genetics.kinship` = auto picks by size — and gene diversity), one replicate per K in a fresh
process so that each peak memory is its own. Prints one line per K:

    K  years  kinship  ms_per_replicate_year  setup_s  peak_rss_MiB

    python benchmarks/bench_scale.py [--sizes 100 500 2000 10000 100000] [--years 0]   # 0: by size
    python benchmarks/bench_scale.py --kinship pedigree            # force one kinship mode
    python benchmarks/bench_scale.py --src /tmp/old/src            # another revision, same sizes
    python benchmarks/bench_scale.py --slim path/to/slim [--peer ../shared/peers/slim/pva.slim]

The kinship column: dense; ped+store = the pedigree with its breeder store; ped-walk = the
pedigree walked for every litter (populations too large for the store).

`--years 0` runs 100 years up to K = 10,000 and 10 above (the time per year is what compares;
for the pedigree walk of K = 100,000 it grows with the years).
With `--slim` the SLiM peer model (100 years, whole process, see the peer's README for the
build) runs beside each size: without its census (`-d CENSUS=0`: no relatedness computed) and,
up to `--slim-census-max` (default 2,000; its all-pairs relatedness is O(N²) per year), with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import pardus
from pardus.engine import Replicate, prepare
K, years, kinship = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sc = pardus.load_scenario("nonspatial-vortex")
if kinship != "auto":  # (an engine before genetics.kinship knows only its dense store)
    sc = sc.replace({"genetics.kinship": kinship})
pop = next(iter(sc.populations))
warm = sc.replace({"run.years": 2, f"populations.{pop}.carrying_capacity": 50, f"populations.{pop}.initial_size": 50})
Replicate(prepare(warm), 1, 0).run()  # kernels loaded (or compiled) outside the timing
sc = sc.replace({"run.years": years, f"populations.{pop}.carrying_capacity": K, f"populations.{pop}.initial_size": K})
t0 = time.perf_counter()
rep = Replicate(prepare(sc), 1, 0)
t1 = time.perf_counter()
rep.run()
t2 = time.perf_counter()
import pardus.engine as E
mode = E.kinship_mode(sc) if hasattr(E, "kinship_mode") else "dense"
if mode == "pedigree" and hasattr(E, "breeder_store"):
    mode = "ped+store" if E.breeder_store(sc)[0] else "ped-walk"
print(json.dumps({"K": K, "years": years, "mode": mode, "ms_per_year": 1000 * (t2 - t1) / years, "setup_s": t1 - t0,
                  "peak_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def default_years(k: int) -> int:
    return 100 if k <= 10000 else 10


def slim_run(slim: str, peer: str, k: int, census: int) -> tuple[float, float]:
    """(ms per year, peak MiB) of one 100-year SLiM replicate, whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([slim, "-s", "1", "-d", f"K={k}", "-d", f"CENSUS={census}", peer], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{slim} exited with {proc.returncode}")
    return 1000 * wall / 100, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000, 10000, 100000])
    ap.add_argument("--src", help="run pardus from this source tree (e.g. an older revision checked out with git worktree)")
    ap.add_argument("--years", type=int, default=0)
    ap.add_argument("--slim", help="a SLiM 5 binary: run the peer model beside each size")
    ap.add_argument("--peer", default=str(Path(__file__).resolve().parents[2] / "shared/peers/slim/pva.slim"))
    ap.add_argument("--slim-census-max", type=int, default=2000)
    ap.add_argument("--kinship", choices=("auto", "dense", "pedigree"), default="auto", help="genetics.kinship of the pardus runs")
    args = ap.parse_args()
    head = f"{'K':>7} {'years':>5} {'kinship':>9} {'ms/replicate-year':>18} {'setup s':>8} {'peak MiB':>9}"
    if args.slim:
        head += f" | {'SLiM ms/y':>9} {'MiB':>5} | {'SLiM+census ms/y':>16} {'MiB':>5}"
    print(head)
    for k in args.sizes:
        years = args.years or default_years(k)
        env = dict(os.environ, PYTHONPATH=args.src) if args.src else None
        out = subprocess.run([sys.executable, "-c", CHILD, str(k), str(years), args.kinship], capture_output=True, text=True, check=True, env=env)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        line = f"{r['K']:>7} {r['years']:>5} {r['mode']:>9} {r['ms_per_year']:>18.2f} {r['setup_s']:>8.2f} {r['peak_MiB']:>9.0f}"
        if args.slim:
            ms, mib = slim_run(args.slim, args.peer, k, 0)
            line += f" | {ms:>9.2f} {mib:>5.0f}"
            if k <= args.slim_census_max:
                ms, mib = slim_run(args.slim, args.peer, k, 1)
                line += f" | {ms:>16.2f} {mib:>5.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
