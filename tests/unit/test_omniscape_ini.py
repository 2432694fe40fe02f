"""`pardus connectivity OMNISCAPE.ini`: Omniscape configurations read as Omniscape.jl reads them,
run, and written under Omniscape's names; every mistake named with its key and fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pardus.connectivity.grids import ConnectivityError, GridHeader, read_grid, write_grid
from pardus.connectivity.omniscape_ini import is_omniscape, load_omniscape_ini, run_omniscape_job


def _ini(folder: Path, **keys) -> Path:
    base = {"resistance_file": "r.asc", "radius": "3", "block_size": "1", "project_name": "proj", "source_from_resistance": "true",
            "calc_flow_potential": "true", "calc_normalized_current": "true", "write_as_tif": "false", "parallelize": "false"}
    base.update({k: v for k, v in keys.items() if v is not None})
    for k in [k for k, v in keys.items() if v is None]:
        base.pop(k)
    text = "[Required]\n" + "".join(f"{k} = {v}\n" for k, v in base.items())
    p = folder / "omni.ini"
    p.write_text(text)
    return p


@pytest.fixture
def folder(tmp_path):
    write_grid(tmp_path / "r", np.ones((12, 12)), GridHeader(12, 12, 0.0, 0.0, 1.0))
    return tmp_path


def test_an_omniscape_ini_runs_from_its_folder_and_writes_omniscapes_files(folder, monkeypatch):
    monkeypatch.chdir(folder)
    job = load_omniscape_ini(_ini(folder))
    assert job.project == folder / "proj"
    result, files = run_omniscape_job(job)
    assert sorted(p.name for p in files) == ["config.ini", "cum_currmap.asc", "flow_potential.asc", "normalized_cum_currmap.asc"]
    cum = read_grid(folder / "proj" / "cum_currmap.asc").data
    np.testing.assert_allclose(cum, result.cumulative_current, rtol=1e-9)
    # the normalised current is the current over the flow potential, as written
    norm = read_grid(folder / "proj" / "normalized_cum_currmap.asc").data
    fp = read_grid(folder / "proj" / "flow_potential.asc").data
    np.testing.assert_allclose(norm[fp > 0], cum[fp > 0] / fp[fp > 0], rtol=1e-6)
    # a second run does not overwrite the first: proj_1, as Omniscape.jl does
    again = load_omniscape_ini(_ini(folder))
    assert again.project == folder / "proj_1"


def test_omniscape_and_circuitscape_inis_are_told_apart_by_their_keys():
    assert is_omniscape({"resistance_file": "r.asc", "radius": "10", "project_name": "p"})
    assert not is_omniscape({"habitat_file": "r.asc", "scenario": "pairwise", "data_type": "raster"})


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"radius": None}, "radius is missing"),
        ({"block_size": "2"}, "block_size = 2 — Omniscape's block size is odd"),
        ({"conditional": "true"}, "conditional connectivity is not implemented"),
        ({"radiuss": "3"}, "unknown Omniscape option(s) radiuss"),
        ({"mask_nodata": "perhaps"}, "mask_nodata = 'perhaps' is not true or false"),
        ({"source_from_resistance": "false"}, "source_file is missing and source_from_resistance = false"),
        ({"solver": "pardiso"}, "Omniscape's solvers are cg+amg and cholmod"),
    ],
)
def test_bad_omniscape_options_are_refused_by_key(folder, keys, message):
    with pytest.raises(ConnectivityError, match=None) as exc:
        load_omniscape_ini(_ini(folder, **keys))
    assert message in str(exc.value) and "omni.ini" in str(exc.value)


def test_the_command_runs_an_omniscape_ini_and_leaves_nothing_on_a_bad_grid(folder):
    exe = str(Path(sys.executable).with_name("pardus"))
    run = lambda *a: subprocess.run([exe, *map(str, a)], capture_output=True, text=True, cwd=folder, env={**os.environ, "COLUMNS": "200"})  # noqa: E731
    r = run("connectivity", _ini(folder), "-o", "out")
    assert r.returncode == 0, r.stderr
    assert "cumulative current" in r.stdout and (folder / "out" / "cum_currmap.asc").exists()
    (folder / "bad.asc").write_text("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 1 1\n1 1\n")
    bad = run("connectivity", _ini(folder, resistance_file="bad.asc", project_name="badproj"))
    assert bad.returncode == 2 and "bad.asc" in bad.stderr
    assert not (folder / "badproj").exists() or not list((folder / "badproj").iterdir())


def test_r_cutoff_with_a_source_file_is_not_used_as_in_omniscape(folder, monkeypatch):
    monkeypatch.chdir(folder)
    write_grid(folder / "s", np.ones((12, 12)), GridHeader(12, 12, 0.0, 0.0, 1.0))
    with_cut = load_omniscape_ini(_ini(folder, source_from_resistance="false", source_file="s.asc", r_cutoff="0.5", project_name="a"))
    plain = load_omniscape_ini(_ini(folder, source_from_resistance="false", source_file="s.asc", project_name="b"))
    a, _ = run_omniscape_job(with_cut)
    b, _ = run_omniscape_job(plain)
    np.testing.assert_array_equal(a.cumulative_current, b.cumulative_current)
