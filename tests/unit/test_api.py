"""The Python API: simulate() gives the same Dataset as the CLI path, for any worker count."""

import numpy as np

import pardus
from pardus.scenario import load_scenario


def test_simulate_accepts_presets_and_scenarios_and_is_deterministic():
    sc = load_scenario("nonspatial-vortex").scenario.model_copy(update={"run": load_scenario("nonspatial-vortex").scenario.run.model_copy(update={"years": 8})})
    a = pardus.simulate(sc, replicates=6, seed=4, workers=1)
    b = pardus.simulate(sc, replicates=6, seed=4, workers=2)
    c = pardus.simulate(sc, replicates=6, seed=5, workers=1)
    assert a.sizes == {"scenario": 1, "replicate": 6, "year": 9, "population": 1, "sex": 2, "stage": 3, "cause": 11}
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)
    assert not np.array_equal(a["N"].values, c["N"].values)
    table = pardus.summarize(a)
    assert list(table.index) == ["nonspatial-vortex"] and table.loc["nonspatial-vortex", "replicates"] == 6
    assert a.attrs["seed"] == 4 and a.attrs["pardus_version"] == pardus.__version__
