"""Benchmark of pardus's Circuitscape core: pairwise resistances on a synthetic grid.

A seeded lognormal resistance surface with a few straight barriers (high resistance, one gap
each), 10 focal nodes, 8 neighbours, average conductance, pairwise mode; prints wall time,
solver, tolerance and peak memory. ``--sizes 250,500,1000,2000`` prints a scaling table.

    python benchmarks/bench_connectivity.py                 # 1,000 x 1,000
    python benchmarks/bench_connectivity.py --sizes 250,500,1000 --solver cg+amg
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from pardus.connectivity import load_ini, run_config
from pardus.connectivity.grids import GridHeader, write_grid


def landscape(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.lognormal(mean=1.0, sigma=1.0, size=(n, n))
    for k in range(3):  # barriers with one gap each
        row = int(n * (k + 1) / 4)
        r[row, :] = 1e4
        gap = int(rng.integers(n // 10, n - n // 10))
        r[row, gap:gap + max(2, n // 100)] = 1.0
    return r


def run(n: int, solver: str, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        hdr = GridHeader(n, n, 0.0, 0.0, 1.0)
        write_grid(d / "res", landscape(n), hdr)
        rng = np.random.default_rng(7)
        pts = np.zeros((n, n))
        rows = rng.integers(0, n, 10)
        cols = rng.integers(0, n, 10)
        for k, (r, c) in enumerate(zip(rows, cols), 1):
            pts[r, c] = k
        write_grid(d / "pts", np.where(pts > 0, pts, np.nan), hdr)
        (d / "job.ini").write_text(f"""[Circuitscape mode]
data_type = raster
scenario = pairwise
[Habitat raster or graph]
habitat_file = {d / 'res.asc'}
habitat_map_is_resistances = True
[Connection scheme for raster habitat data]
connect_four_neighbors_only = False
connect_using_avg_resistances = False
[Options for pairwise and one-to-all and all-to-one modes]
point_file = {d / 'pts.asc'}
[Calculation options]
solver = {solver}
[Output options]
output_file = {d / 'out' / 'bench.out'}
write_cur_maps = False
""")
        cfg = load_ini(d / "job.ini")
        t0 = time.perf_counter()
        res = run_config(cfg, workers=workers)
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"n": n, "cells": n * n, "wall_s": wall, "solver": res.solver, "solves": res.solves, "peak_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000", help="comma-separated grid sides, e.g. 250,500,1000,2000")
    ap.add_argument("--solver", default="cg+amg", choices=["cg+amg", "cholmod"])
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        r = run(n, a.solver, a.workers)
        rows.append(r)
        print(f"{n} x {n}: {r['wall_s']:.1f} s, {r['solves']} solves, peak memory {r['peak_mb']:.0f} MB (process so far), solver: {r['solver']}", flush=True)
    if len(rows) > 1:
        print("\n| grid | cells | wall (s) | solves | peak memory (MB) |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['n']}² | {r['cells']:,} | {r['wall_s']:.1f} | {r['solves']} | {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
