"""pardus: individual-based simulation of the Amur leopard, its threats and the actions that save it.

The Python API in a few verbs::

    import pardus
    sc = pardus.load_scenario("amur-2015")                 # a Scenario (validated)
    better = sc.replace({"threats.poaching.patrol_max_effect": 0.9, "name": "more patrols"})
    ds = pardus.simulate(sc, better, replicates=200, seed=1)
    pardus.summarize(ds)                       # the standard PVA table (pandas)
    pardus.compare_to_baseline(ds)             # paired differences from the first scenario
    pardus.save_results(ds, "results.nc")      # NetCDF, read back with pardus.load_results
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pardus")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

_API = {
    "simulate": "ensemble",
    "summarize": "results",
    "compare_to_baseline": "results",
    "load_results": "results",
    "save_results": "results",
    "load_scenario": "scenario",
    "load_scenarios": "scenario",
    "list_presets": "scenario",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
}


def __getattr__(name: str):
    """Import the API lazily, so that `pardus check` does not load numba and xarray."""
    if name in _API:
        from importlib import import_module

        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pardus' has no attribute {name!r}")


__all__ = ["__version__", *sorted(_API)]


def __dir__() -> list[str]:
    return sorted(set(__all__) | {k for k in globals() if k.startswith("__")})
