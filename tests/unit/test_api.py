"""The Python API: one Scenario type flows from load_scenario through replace to simulate, which
gives the same Dataset for any worker count, refuses bad arguments before running, and works from
a script without a ``__main__`` guard or from code piped on stdin."""

import os
import subprocess
import sys

import numpy as np
import pytest

import pardus
from pardus.scenario import Scenario, ScenarioError


def small(years: int = 8) -> Scenario:
    return pardus.load_scenario("nonspatial-vortex").replace({"run.years": years})


def test_simulate_accepts_presets_and_scenarios_and_is_deterministic():
    sc = small()
    a = pardus.simulate(sc, replicates=6, seed=4, workers=1)
    b = pardus.simulate(sc, replicates=6, seed=4, workers=2)
    c = pardus.simulate(sc, replicates=6, seed=5, workers=1)
    assert a.sizes == {"scenario": 1, "replicate": 6, "year": 9, "population": 1, "cell": 1, "sex": 2, "stage": 3, "cause": 11}
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)
    assert not np.array_equal(a["N"].values, c["N"].values)
    table = pardus.summarize(a)
    assert list(table.index) == ["nonspatial-vortex"] and table.loc["nonspatial-vortex", "replicates"] == 6
    assert a.attrs["seed"] == 4 and a.attrs["pardus_version"] == pardus.__version__


def test_load_scenario_gives_a_scenario_that_simulate_takes():
    sc = pardus.load_scenario("amur-2015-nonspatial")
    assert isinstance(sc, Scenario)
    ds = pardus.simulate(sc.replace({"run.years": 3}), replicates=2, seed=1, workers=1)
    assert ds.sizes["year"] == 4 and list(ds.scenario.values) == ["amur-2015-nonspatial"]


def test_replace_and_overrides_are_validated_like_a_file():
    sc = pardus.load_scenario("amur-2015-nonspatial", overrides={"demography.survival.female.adult": 0.85, "name": "better"})
    assert sc.demography.survival.female.adult == 0.85 and sc.name == "better"
    assert sc.demography.survival.male.adult == pardus.load_scenario("amur-2015-nonspatial").demography.survival.male.adult
    # a table merges key by key, as in a file that extends another
    merged = sc.replace({"demography.survival.female": {"cub": 0.5}})
    assert merged.demography.survival.female.cub == 0.5 and merged.demography.survival.female.adult == 0.85
    with pytest.raises(ScenarioError) as info:
        sc.replace({"demography.p_breed": 1.5, "run.years": True, "demography.p_bread": 0.5})
    text = str(info.value)
    assert "overrides: demography.p_breed = 1.5 — must be a probability in [0, 1]" in text
    assert "overrides: run.years = true — must be a whole number (no quotes, no decimal point), not a boolean" in text
    assert "overrides: demography.p_bread = 0.5 — unknown key; did you mean 'demography.p_breed'?" in text
    with pytest.raises(ScenarioError, match=r"run\.years\.x — run\.years is a value, not a table"):
        sc.replace({"run.years.x": 1})
    assert sc.demography.p_breed != 1.5  # the original is unchanged (scenarios are frozen)


def test_load_scenarios_applies_overrides_to_every_scenario_of_a_sweep(tmp_path):
    f = tmp_path / "sweep.toml"
    f.write_text('extends = "nonspatial-vortex"\nname = "s"\n[sweep]\n"demography.p_breed" = [0.3, 0.4]\n')
    got = pardus.load_scenarios(f, overrides={"run.years": 4})
    assert [s.demography.p_breed for s in got] == [0.3, 0.4] and {s.run.years for s in got} == {4}


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"replicates": 0}, r"replicates=0 — must be a whole number of at least 1"),
        ({"workers": 0}, r"workers=0 — must be a whole number of at least 1"),
        ({"seed": -1}, r"seed=-1 — must be a whole number from 0 to 2\*\*64"),
        ({"seed": 2**64}, r"seed=18446744073709551616 — must be"),
        ({"scheduler": "notaurl"}, r"scheduler='notaurl' — not a Dask scheduler address"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        pardus.simulate(small(), **{"replicates": 2, **kwargs})


def test_dir_lists_the_public_api():
    names = dir(pardus)
    for name in ("simulate", "load_scenario", "load_scenarios", "summarize", "compare_to_baseline", "save_results", "load_results", "Scenario", "__version__"):
        assert name in names
    assert all(callable(getattr(pardus, n)) for n in pardus.__all__ if n != "__version__")


SCRIPT = """
import pardus
sc = pardus.load_scenario("nonspatial-vortex").replace({"run.years": 5})
ds = pardus.simulate(sc, replicates=4, seed=3, workers=2)
print("N", int(ds["N"].sum()))
"""


@pytest.mark.parametrize("how", ["script without a main guard", "code on stdin"])
def test_simulate_with_workers_needs_no_main_guard(tmp_path, how):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if how == "code on stdin":
        proc = subprocess.run([sys.executable, "-"], input=SCRIPT, text=True, capture_output=True, cwd=tmp_path, env=env)
    else:
        (tmp_path / "script.py").write_text(SCRIPT)
        proc = subprocess.run([sys.executable, "script.py"], text=True, capture_output=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("N ") == 1  # the script ran once, not again in each worker
    expected = int(pardus.simulate(pardus.load_scenario("nonspatial-vortex").replace({"run.years": 5}), replicates=4, seed=3, workers=1)["N"].sum())
    assert proc.stdout.strip() == f"N {expected}"


def test_repeated_runs_reuse_the_warm_workers_and_a_failed_run_leaves_none():
    import pardus.ensemble as ens

    sc = small(5)
    first = pardus.simulate(sc, replicates=6, seed=2, workers=2)
    pids = [p.pid for p in ens._POOL.procs]
    second = pardus.simulate(sc, replicates=6, seed=2, workers=2)
    assert [p.pid for p in ens._POOL.procs] == pids  # the same worker processes
    alone = pardus.simulate(sc, replicates=6, seed=2, workers=1)
    for var in first.data_vars:
        np.testing.assert_array_equal(first[var].values, second[var].values, err_msg=var)
        np.testing.assert_array_equal(first[var].values, alone[var].values, err_msg=var)

    class Stop(Exception):
        pass

    def stop(_k):
        raise Stop

    procs = list(ens._POOL.procs)
    with pytest.raises(Stop):
        pardus.simulate(sc, replicates=6, seed=2, workers=2, progress=stop)
    assert ens._POOL is None and all(p.returncode is not None for p in procs)  # stopped and reaped
    pardus.simulate(sc, replicates=4, seed=2, workers=2)  # a new pool starts when needed
    procs = list(ens._POOL.procs)
    ens.close_pool()
    assert ens._POOL is None and all(p.returncode is not None for p in procs)
