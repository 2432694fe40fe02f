"""`pardus connectivity SCENARIO`: circuit and least-cost connectivity between habitat cores on a
scenario's map, and candidate crossings ranked by the fall of the effective resistance."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pardus.connectivity.analysis import analyse
from pardus.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CORES = ["zone:core", str(EXAMPLES / "coastal-strip.geojson")]


def _box(path: Path, x0, y0, x1, y1) -> Path:
    """A GeoJSON polygon (EPSG:32652, the default landscape's CRS)."""
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}))
    return path


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(str(EXAMPLES / "spatial-baseline.toml"))


@pytest.fixture(scope="module")
def stretch(tmp_path_factory):
    # a few km of the coastal highway near the park's north-east corner
    return _box(tmp_path_factory.mktemp("areas") / "stretch.geojson", 524_000, 4_806_000, 532_000, 4_814_000)


@pytest.fixture(scope="module")
def ranked(baseline, stretch):
    return analyse(baseline, CORES, year=2015, candidates=str(stretch))


def test_every_candidate_lowers_the_resistance_and_the_ranking_is_by_that_fall(ranked):
    # Rayleigh's monotonicity law: raising a conductance never raises an effective resistance
    c = ranked.candidates
    assert len(c) > 5 and all(k.delta_r >= -1e-9 * ranked.R[(1, 2)] for k in c)
    assert [k.delta_r for k in c] == sorted((k.delta_r for k in c), reverse=True)
    assert {k.kind for k in c} >= {"crossing on a highway", "restored forest"}
    assert 0 < ranked.R[(1, 2)] < math.inf
    # the current is 1 A between two cores: what leaves a core crosses every cut around it
    assert np.nanmax(ranked.current[ranked.cores == 0]) <= 1.0 + 1e-9


def test_the_fall_of_a_candidate_is_what_a_crossing_intervention_on_its_cell_gives(baseline, ranked, tmp_path):
    best = next(k for k in ranked.candidates if k.kind == "crossing on a highway")
    area = _box(tmp_path / "one-cell.geojson", best.x - 400, best.y - 400, best.x + 400, best.y + 400)
    sc = baseline.replace({"interventions": {"tunnel": {"type": "crossing", "population": "russia", "start": 2016, "area": str(area), "road_reduction": 0.5}}})
    after = analyse(sc, CORES, year=2016)
    assert after.state.layers["crossing"].sum() == 1
    assert ranked.R[(1, 2)] - after.R[(1, 2)] == pytest.approx(best.delta_r, rel=1e-6)


def test_the_written_circuitscape_ini_reruns_the_same_resistance(ranked, tmp_path):
    from pardus.connectivity import load_ini, run_config
    from pardus.connectivity.analysis import write_outputs

    files = write_outputs(ranked, tmp_path / "demo")
    names = sorted(p.name for p in files)
    from pardus.fileio import current_umask

    assert all((p.stat().st_mode & 0o777) == 0o666 & ~current_umask() for p in files)  # not the 0600 of a temporary file
    for suffix in ("_resistance.asc", "_cores.asc", "_cum_curmap.asc", "_corridors.asc", "_resistances.out", "_links.csv", "_candidates.csv", ".ini", ".png"):
        assert f"demo{suffix}" in names
    cfg = load_ini(tmp_path / "demo.ini")
    out = run_config(cfg)
    R = np.loadtxt(tmp_path / "demo_circuitscape_resistances.out")
    assert R[1, 2] == pytest.approx(ranked.R[(1, 2)], rel=1e-6)
    # the cumulative current map of Circuitscape's own run is the analysis's
    from pardus.connectivity.grids import read_grid

    cum = read_grid(tmp_path / "demo_circuitscape_cum_curmap.asc").data
    outside = ranked.cores == 0
    np.testing.assert_allclose(np.nan_to_num(cum[outside]), np.nan_to_num(ranked.current[outside]), rtol=1e-6, atol=1e-9)
    assert out is not None


def _pardus(*args, cwd=None):
    exe = Path(sys.executable).with_name("pardus")
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})


def test_the_command_writes_its_files_and_refuses_bad_cores_with_exit_2(tmp_path, stretch):
    base = EXAMPLES / "spatial-baseline.toml"
    r = _pardus("connectivity", base, "--core", CORES[0], "--core", CORES[1], "--candidates", stretch, "-o", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c_candidates.csv").exists() and (tmp_path / "c.png").exists()
    assert "effective resistance" in r.stdout and "candidate cells" in r.stdout
    bad = _pardus("connectivity", base, "--core", "zone:core", "--core", "zone:nowhere", "-o", tmp_path / "bad")
    assert bad.returncode == 2
    assert "zone:nowhere" in bad.stderr and "its regions are" in bad.stderr
    assert not list(tmp_path.glob("bad*")) and not list(tmp_path.glob(".bad*"))
    ns = _pardus("connectivity", "amur-2015-nonspatial", "--core", "zone:core", "--core", "country:china", "-o", tmp_path / "ns")
    assert ns.returncode == 2 and "[landscape]" in ns.stderr
    ini = _pardus("connectivity", tmp_path / "c.ini", "--core", "zone:core")
    assert ini.returncode == 2 and "only for a scenario" in ini.stderr


def test_a_run_of_the_scenario_puts_the_simulated_dispersal_beside_each_candidate(baseline, stretch, tmp_path):
    short = tmp_path / "short.toml"
    short.write_text(f'extends = "{EXAMPLES / "spatial-baseline.toml"}"\nname = "map-baseline"\n[run]\nyears = 6\n')
    run = _pardus("run", short, "-n", "2", "-w", "1", "-o", tmp_path / "run.nc")
    assert run.returncode == 0, run.stderr
    from pardus.results import load_results

    ds = load_results(tmp_path / "run.nc")
    passage = ds["dispersal_passage"].sel(scenario="map-baseline").values
    water = ds["landscape_cover"].values == 0
    assert (passage >= 0).all() and (passage[water] == 0).all() and passage.sum() > 0  # dispersers walked, never on water
    by_r = analyse(baseline, CORES, candidates=str(stretch), passage=passage, passage_source="run.nc")
    by_d = analyse(baseline, CORES, candidates=str(stretch), passage=passage, passage_source="run.nc", rank_by="dispersal")
    for c in by_r.candidates:
        assert c.passage == passage[c.row, c.col]
    assert [c.passage for c in by_d.candidates] == sorted((c.passage for c in by_d.candidates), reverse=True)
    assert sorted((c.row, c.col) for c in by_d.candidates) == sorted((c.row, c.col) for c in by_r.candidates)
    with pytest.raises(ValueError, match="needs a population run"):
        analyse(baseline, CORES, candidates=str(stretch), rank_by="dispersal")
    other = _pardus("connectivity", "amur-2015", "--core", "zone:core", "--core", CORES[1], "--results", tmp_path / "run.nc", "-o", tmp_path / "x")
    assert other.returncode == 2 and "has no scenario 'amur-2015'" in other.stderr
