"""Benchmark: the spatial form (pardus.spatial) — examples/spatial-baseline.toml, amur-2015's
population on the default landscape (12,000 cells of 1 km²), in one process.

Prints replicate-years per second, cell-updates per second (cells × replicate-years), the
seconds per replicate-year spent in each process, and peak memory. Issue #8's target is the
spatial amur-2015 for 1,000 replicates × 100 years in ≤ 60 s on the 2-core machine (≥ 1,700
replicate-years/s) in ≤ 2 GiB; this measures how far the first form is from it.

    python benchmarks/bench_spatial.py [--replicates 8] [--years 30] [--scale 1]

``--scale 2`` runs a landscape with twice the rows and columns (4× the cells) for the scaling
row of docs/performance.md.
"""

from __future__ import annotations

import argparse
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--years", type=int, default=30)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from pathlib import Path

    from pardus.engine import prepare
    from pardus.landscape.default import default_landscape
    from pardus.scenario import load_scenario
    from pardus.spatial import SpatialBatch, spatial_params

    land = default_landscape(rows=120 * args.scale, cols=100 * args.scale)
    sc = load_scenario(str(Path(__file__).resolve().parents[1] / "examples" / "spatial-baseline.toml")).replace({"run.years": args.years, "landscape.monitoring.enabled": False})  # the surveys' SECR fits are not the engine
    import dataclasses

    prep, params = prepare(sc), spatial_params(sc)
    params = dataclasses.replace(params, start_radius_km=params.start_radius_km * args.scale)  # the design scales with the map
    SpatialBatch(prepare(sc.replace({"run.years": 2})), 0, range(1), land, params).run()  # kernels loaded, outside the timing
    t0 = time.perf_counter()
    b = SpatialBatch(prep, args.seed, range(args.replicates), land, params)
    setup = time.perf_counter() - t0
    timings: dict[str, float] = {}
    rec = b.run(timings)
    wall = time.perf_counter() - t0
    ry = args.replicates * args.years
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"spatial amur-2015 on the default landscape ×{args.scale} ({land.n_cells} cells): {args.replicates} replicates × {args.years} years")
    print(f"  wall {wall:.2f} s (set-up {setup:.2f} s): {ry / wall:.1f} replicate-years/s, {ry * land.n_cells / wall:.3g} cell-updates/s, peak memory {peak:.0f} MiB")
    print(f"  final N (mean over replicates): {rec['N'][:, -1].sum(axis=(1, 2, 3)).mean():.1f}")
    for name, sec in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:24s} {1e3 * sec / ry:8.2f} ms per replicate-year")


if __name__ == "__main__":
    main()
