"""Benchmark: the amur-2015-nonspatial preset (non-spatial, full pedigree kinship, 20 neutral loci plus
lethal loci) for 1,000 replicates × 100 years on all local cores.

Prints replicate-years per second, wall time and peak memory (this process + its workers).
Target (issue #2): whole run ≤ 10 s on the 2-core reference machine (≥ 10,000
replicate-years/s), memory ≤ 1 GiB.

    python benchmarks/bench_nonspatial.py [--replicates 1000] [--workers N] [--preset amur-2015-nonspatial]
"""

from __future__ import annotations

import argparse
import os
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--preset", default="amur-2015-nonspatial")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from pardus.ensemble import run_ensemble
    from pardus.results import build_dataset
    from pardus.scenario import resolve_scenario

    sc = resolve_scenario(args.preset).scenario
    # warm-up outside the timing: numba kernels compiled and cached, worker pool not reused
    run_ensemble([sc], replicates=2, seed=0, workers=1)
    t0 = time.perf_counter()
    names, recs = run_ensemble([sc], replicates=args.replicates, seed=args.seed, workers=args.workers)
    build_dataset([sc], names, recs, args.seed)
    wall = time.perf_counter() - t0
    rep_years = args.replicates * sc.run.years
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"preset={args.preset} replicates={args.replicates} years={sc.run.years} workers={args.workers}")
    print(f"wall_s={wall:.2f}")
    total = self_kb + (args.workers if args.workers > 1 else 0) * child_kb
    print(f"peak_rss_main_MiB={self_kb / 1024:.0f} peak_rss_largest_worker_MiB={child_kb / 1024:.0f}")
    print(f"peak_rss_total_upper_bound_MiB={total / 1024:.0f}")
    print(f"replicate_years_per_s={rep_years / wall:.0f}")


if __name__ == "__main__":
    main()
