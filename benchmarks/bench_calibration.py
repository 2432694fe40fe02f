"""Benchmark: ABC-SMC calibration of the amur-history-nonspatial preset to the shipped census record
(records/amur.csv), as `make posterior` runs it.

Settings (the defaults of `pardus calibrate`): 300 particles per generation; stopping rule:
ε ≤ 0 (every count inside its interval), or a generation accepting fewer than 3 % of its
simulations, or 10 generations, or 200,000 simulations. Prints the wall time, the number of
simulations, simulations per second, the tolerance schedule and the stability of the
posterior (change of each parameter's median between the last two generations, in units of
its prior range). Target (issue 7): ≤ 10 min on the 2-core reference machine.

    python benchmarks/bench_calibration.py [--particles 300] [--generations 10] [--workers N] [--seed 1970]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--particles", type=int, default=300)
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--min-acceptance", type=float, default=0.03)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1970)
    ap.add_argument("--prior-share", type=float, default=0.0, help="as `make posterior` calibrates the non-spatial hindcast")
    args = ap.parse_args()

    from pardus.calibration import Settings, calibrate
    from pardus.engine import prepare, run_batch
    from pardus.scenario import resolve_scenario

    res = resolve_scenario("amur-history-nonspatial")
    sc = res.scenario
    run_batch(prepare(sc, list(sc.populations)), 0, [0])  # kernels loaded outside the timing

    t0 = time.perf_counter()
    result = calibrate(
        res, "amur", settings=Settings(args.particles, args.generations, 0.0, args.min_acceptance, 200_000, args.seed, args.workers, prior_share=args.prior_share),
        progress=lambda call, n: print(f"  generation {call}: {n} simulations, {time.perf_counter() - t0:.0f} s", flush=True),
    )
    wall = time.perf_counter() - t0
    sims = sum(result.simulations)
    print(f"preset=amur-history-nonspatial particles={args.particles} workers={args.workers} seed={args.seed}")
    print(f"stopped: {result.stopped}")
    print("epsilon: " + " ".join(f"{e:.3g}" for e in result.epsilons))
    print("acceptance: " + " ".join(f"{a:.3f}" for a in result.acceptance))
    print("median drift over the last generation (share of the prior range): " + " ".join(f"{k.split('.')[-1]}={d:.3f}" for k, d in zip(result.prob.keys, result.drift())))
    print(f"wall_s={wall:.1f} simulations={sims} simulations_per_s={sims / wall:.1f}")


if __name__ == "__main__":
    main()
