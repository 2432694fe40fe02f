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


def _installed_version() -> str:
    """The version recorded when pardus was installed (stale in an editable install after new
    commits: then :func:`_checkout_version` answers first)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pardus")
    except PackageNotFoundError:  # a source tree that was never installed and is not a git checkout
        return "0.0.0+unknown"


def _checkout_version() -> str | None:
    """The version setuptools-scm derives from the git checkout this file belongs to, or None.

    Only for a source tree (``<root>/src/pardus/__init__.py`` with ``<root>/.git`` a folder):
    there the installed metadata is that of the last ``pip install -e .``, which does not move
    with later commits, while the engine does. Asking setuptools-scm costs about 150 ms, so its
    answer is cached in ``<root>/.git/pardus-version.json`` under a key made of what the answer
    depends on — the commit and the nearest tag (``git describe``), whether tracked files differ
    from it (``git status``), the date for a dirty tree (setuptools-scm adds it), the pyproject
    file and setuptools-scm's override variables — which costs two quick git calls per import.
    None (use the installed metadata) when git fails or setuptools-scm is needed but missing.
    """
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    git_dir, pyproject = root / ".git", root / "pyproject.toml"
    if not (git_dir.is_dir() and pyproject.is_file()):
        return None
    import json
    import subprocess

    def git(*args: str) -> str:
        # GIT_OPTIONAL_LOCKS=0: never take the index lock, so that importing pardus cannot make
        # a concurrent `git commit` in the same checkout fail
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env, timeout=10)
        return f"{done.returncode}:{done.stdout.strip()}"

    try:
        described = git("describe", "--tags", "--long", "--always", "--abbrev=40", "--match", "*[0-9]*")
        status = git("status", "--porcelain", "--untracked-files=no")
        stat = pyproject.stat()
    except (OSError, subprocess.SubprocessError):
        return None
    if not described.startswith("0:") or not status.startswith("0:"):
        return None
    dirty = status != "0:"
    day = ""  # setuptools-scm dates a dirty tree (by SOURCE_DATE_EPOCH when set)
    if dirty:
        from datetime import datetime, timezone

        epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
        when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch.isdigit() else datetime.now(timezone.utc)
        day = when.strftime("%Y%m%d")
    overrides = sorted((k, v) for k, v in os.environ.items() if k.startswith("SETUPTOOLS_SCM_") or k == "SOURCE_DATE_EPOCH")
    key = json.dumps([described, dirty, day, stat.st_mtime_ns, stat.st_size, overrides])
    cache = git_dir / "pardus-version.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key and isinstance(cached.get("version"), str):
            return cached["version"]
    except (OSError, ValueError, AttributeError):
        pass
    try:
        from setuptools_scm import Configuration, _get_version
    except ImportError:  # not installed in this environment (it is a build requirement and in [dev])
        return None
    import warnings

    try:
        with warnings.catch_warnings():  # its API is in flux: deprecation notes are not for pardus users
            warnings.simplefilter("ignore", DeprecationWarning)
            found = _get_version(Configuration.from_file(pyproject, dist_name="pardus", root=str(root)), force_write_version_files=False)
    except Exception:  # noqa: BLE001 — any failure of the tool means: use the installed metadata
        return None
    if not found:
        return None
    try:
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "version": found}), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:  # a read-only checkout: no cache, the answer is still right
        pass
    return found


__version__ = _checkout_version() or _installed_version()

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
