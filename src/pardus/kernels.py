"""Compile the engine's numba kernels into numba's on-disk cache, once, after installation.

``python -m pardus.kernels`` (run by ``make``'s install step) simulates a few years of every
shipped preset in this process, which compiles each kernel and stores it beside its module
(``cache=True``). Later runs and every worker process load the compiled code instead of
compiling it again: without this step the first run of a fresh installation compiles the same
kernels in each of its workers (tens of CPU-seconds), and says so.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def compile_kernels() -> float:
    """Run every preset for a few years; returns the seconds it took."""
    from .engine import run_replicate
    from .scenario import list_presets, load_scenario

    t0 = time.perf_counter()
    from .calibration import truncated

    for name in list_presets():
        sc = load_scenario(name)
        if sc.landscape is None:  # the spatial presets: below, on a small map
            run_replicate(truncated(sc, 3), 1, 0)
    sc = load_scenario("amur-2015-nonspatial")
    # releases use kernels no preset's baseline needs
    release = {"type": "release", "population": next(iter(sc.populations)), "start": sc.run.start_year + 1, "females": 1, "males": 1}
    run_replicate(sc.replace({"run.years": 3, "interventions": {"release": release}}), 1, 0)
    # pedigree kinship (large populations) with its breeder store, kin avoidance and releases
    ped = sc.replace({"run.years": 6, "genetics.kinship": "pedigree", "demography.avoid_kinship_above": 0.25, "interventions": {"release": release}})
    run_replicate(ped, 1, 0)
    from .population.breeders import exercise

    exercise(np.float32)  # the store's entries of populations of thousands
    exercise(np.float64)
    # the processes on the map: fire, succession, prey per cell, territories, mating, dispersal
    from .landscape.default import default_landscape
    from .landscape.regions import RegionLayer, aggregate
    from .spatial import simulate_spatial

    simulate_spatial("amur-2015", land=default_landscape(rows=30, cols=25), replicates=1, years=3)
    aggregate(np.ones((4, 2), np.int64), RegionLayer("r", np.array([0, 0, 1, 1]), ("a", "b")).codes, 2)
    from .landscape.ranges import RangeTable, exposure

    ranges = RangeTable()
    rid = ranges.add([0, 1])
    ranges.use(4)
    exposure(np.ones(4), np.array([0, 2], np.int32), np.array([rid, -1], np.int32), np.arange(2), ranges)
    return time.perf_counter() - t0


_WARM = False


def warm_kernels() -> None:
    """Load every kernel into this process (from the cache, or compiling it): done once before
    workers are forked, so that they start with the kernels loaded instead of each loading them
    again (numba's start-up costs about a second of CPU per process)."""
    global _WARM
    if _WARM:
        return
    from .engine import run_replicate
    from .scenario import list_presets, load_scenario

    sc = load_scenario("amur-2015-nonspatial")
    release = {"type": "release", "population": next(iter(sc.populations)), "start": sc.run.start_year + 1, "females": 1, "males": 1}
    run_replicate(sc.replace({"run.years": 2, "interventions": {"release": release}}), 1, 0)
    _WARM = True


def main() -> None:
    from .ensemble import kernels_compiled

    if kernels_compiled():
        print("pardus: simulation kernels already compiled", file=sys.stderr)
        return
    print("pardus: compiling the simulation kernels once (about a minute)…", file=sys.stderr, flush=True)
    took = compile_kernels()
    state = "done" if kernels_compiled() else "done, but some kernels are still not cached"
    print(f"pardus: {state} in {took:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
