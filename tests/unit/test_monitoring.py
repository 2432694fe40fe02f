# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated camera-trap surveys on the map (pardus.processes.monitoring)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from pardus.processes.monitoring import SURVEY_RECORDS, Monitoring, MonitoringParams, camera_layout
from pardus.scenario import load_scenario
from pardus.spatial import SpatialParams, load_landscape, simulate_spatial, spatial_params


@lru_cache(maxsize=None)
def _land():
    return load_landscape(load_scenario("amur-2015").landscape)


def _scenario(years=4, **mon):
    sc = load_scenario("amur-2015").replace({"run.years": years})
    return sc.replace({"landscape.monitoring": {"every": 2, "replicates": 2, **mon}})


def test_monitoring_is_off_unless_its_table_is_given():
    assert spatial_params(load_scenario("amur-2015")).monitoring is None
    p = spatial_params(_scenario()).monitoring
    assert isinstance(p, MonitoringParams) and p.every == 2 and p.replicates == 2
    assert spatial_params(_scenario(enabled=False)).monitoring is None


def test_bad_monitoring_values_name_the_key():
    sc = load_scenario("amur-2015")
    from pardus.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="landscape.monitoring.g00 — no such parameter; did you mean 'g0'"):
        sc.replace({"landscape.monitoring": {"g00": 0.1}})
    with pytest.raises(ScenarioError, match="g0 = 1.5"):
        sc.replace({"landscape.monitoring": {"g0": 1.5}})
    with pytest.raises(ValueError, match="landscape.monitoring"):
        camera_layout(MonitoringParams(area="zone:core", spacing_km=500.0), _land())


def test_cameras_form_a_grid_on_land_inside_the_area():
    from pardus.landscape.targets import area_mask
    from pardus.processes.monitoring import _cells_of

    land = _land()
    xy = camera_layout(MonitoringParams(spacing_km=3.0), land)
    cells = _cells_of(land, xy)
    assert np.all(cells >= 0)
    assert np.all(area_mask(land, "zone:core")[cells]) and np.all(land.layers["cover"][cells] != 0)
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert d.min(axis=1).min() == pytest.approx(3000.0)


def test_survey_records_only_in_survey_years_and_surveyed_replicates():
    rec = simulate_spatial(_scenario(years=4), replicates=3, seed=1)
    for name in SURVEY_RECORDS:
        assert rec[name].shape == rec["N"].shape[:2]
    t = rec["survey_N_true"]
    assert np.isnan(t[:, [0, 2, 4]]).all()  # the start, and years between surveys
    assert np.isfinite(t[:2, [1, 3]]).all() and np.isnan(t[2]).all()  # replicate 2 is not surveyed
    ok = np.isfinite(rec["survey_N_hat"])
    assert ok.any()
    assert np.all(rec["survey_N_lcl"][ok] < rec["survey_N_hat"][ok]) and np.all(rec["survey_N_hat"][ok] < rec["survey_N_ucl"][ok])
    assert np.all(rec["survey_photographed"][:2, [1, 3]] <= rec["survey_N_true"][:2, [1, 3]] + rec["N"][:2, [1, 3]].sum(axis=(2, 3, 4)))


def test_surveys_change_nothing_else_and_do_not_depend_on_the_batch():
    """The surveys draw from their own stream: the population is the same with and without
    them, and a replicate's survey is the same whichever batch it runs in."""
    with_ = simulate_spatial(_scenario(years=3, every=1), replicates=2, seed=4)
    without = simulate_spatial(load_scenario("amur-2015").replace({"run.years": 3}), replicates=2, seed=4)
    assert np.array_equal(with_["N"], without["N"]) and np.array_equal(with_["deaths"], without["deaths"])
    from pardus.engine import prepare
    from pardus.spatial import SpatialBatch

    sc = _scenario(years=3, every=1)
    alone = SpatialBatch(prepare(sc), 4, [1]).run()
    for name in SURVEY_RECORDS:
        np.testing.assert_array_equal(alone[name][0], with_[name][1])


def _monitor(**kw):
    return Monitoring(MonitoringParams(**kw), _land(), [0], 2015)


def _uniform_centres(m, n, rng):
    idx = rng.integers(len(m.mask.xy), size=n)
    return m.mask.xy[idx] + rng.uniform(-0.5, 0.5, (n, 2)) * m.mask.spacing


def test_photo_id_errors_split_and_merge_identities():
    rng = np.random.default_rng(3)
    centres = _uniform_centres(_monitor(), 60, rng)
    exact = _monitor(missed_match=0.0, false_match=0.0).survey(centres, np.random.default_rng(1))
    assert exact["survey_detected"] == exact["survey_photographed"] <= exact["survey_N_true"] == 60
    # every photograph unmatched: each detection its own animal, no recaptures, no estimate
    split = _monitor(missed_match=1.0, false_match=0.0).survey(centres, np.random.default_rng(1))
    assert split["survey_detected"] == split["survey_detections"] == exact["survey_detections"]
    assert np.isnan(split["survey_N_hat"])
    # every photograph given to another animal: the identities never exceed the animals
    merged = _monitor(missed_match=0.0, false_match=1.0).survey(centres, np.random.default_rng(1))
    assert merged["survey_detected"] <= exact["survey_photographed"]
    assert merged["survey_detections"] <= exact["survey_detections"]


def test_no_animal_no_estimate():
    res = _monitor().survey(np.zeros((0, 2)), np.random.default_rng(1))
    assert res["survey_N_true"] == 0 and res["survey_photographed"] == 0 and np.isnan(res["survey_N_hat"])


def test_a_detector_file_gives_the_stations_relative_to_the_scenario(tmp_path):
    grid = camera_layout(MonitoringParams(spacing_km=6.0), _land())
    lines = [f"{i + 1} {x:.1f} {y:.1f}" for i, (x, y) in enumerate(grid)] + ["99 -1e9 -1e9"]  # one off the map
    (tmp_path / "cams.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.toml").write_text('extends = "amur-2015"\nname = "cams"\n[landscape.monitoring]\nlayout = "cams.txt"\n')
    sc = load_scenario(str(tmp_path / "s.toml"))
    p = spatial_params(sc).monitoring
    xy = camera_layout(p, _land())
    np.testing.assert_allclose(xy, np.round(grid, 1))
