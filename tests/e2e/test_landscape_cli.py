"""`pardus landscape show` and `pardus landscape export`, run as a user runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from test_cli import pardus_cmd


def test_show_draws_the_default_landscape_and_lists_its_layers(tmp_path: Path):
    res = pardus_cmd("landscape", "show", "default", "-o", "map.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    png = (tmp_path / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    for name in ("cover", "human_access", "prey_capacity", "region country", "region zone"):
        assert name in res.stdout
    res = pardus_cmd("landscape", "show", "-l", "rainfall", "-o", "x.png", cwd=tmp_path)
    assert res.returncode == 2 and "--layer rainfall: the landscape has no such layer" in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_export_writes_geotiffs_that_show_reads_back(tmp_path: Path):
    import rasterio

    res = pardus_cmd("landscape", "export", "-o", "layers", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    files = sorted(p.name for p in (tmp_path / "layers").iterdir())
    assert "cover.tif" in files and "region_country.tif" in files and len(files) >= 12
    with rasterio.open(tmp_path / "layers" / "cover.tif") as src:
        assert src.crs.to_string() == "EPSG:32652" and (src.width, src.height) == (100, 120) and src.res == (1000.0, 1000.0)
        assert set(np.unique(src.read(1))) <= set(range(8))
    res = pardus_cmd("landscape", "show", "layers", "-o", "again.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (tmp_path / "layers" / "prey.tif").write_bytes(b"broken")
    res = pardus_cmd("landscape", "show", "layers", "-o", "broken.png", cwd=tmp_path)
    assert res.returncode == 2 and "prey.tif: cannot be read as a GeoTIFF" in res.stderr
    assert "Traceback" not in res.stderr


def test_fire_prints_the_regime_and_draws_the_burn_probability(tmp_path: Path):
    res = pardus_cmd("landscape", "fire", "-n", "2", "--years", "3", "-o", "burn.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "share of the land" in res.stdout and "share of the park core" in res.stdout and "fires a year" in res.stdout
    assert (tmp_path / "burn.png").read_bytes()[:4] == b"\x89PNG"
    res = pardus_cmd("landscape", "fire", "-n", "2", "--years", "3", "--succession", cwd=tmp_path)
    assert res.returncode == 0 and "share of the land by cover" in res.stdout and "grassland" in res.stdout
    res = pardus_cmd("landscape", "fire", "-n", "2", "--years", "3", "-o", "burn.jpg", cwd=tmp_path)
    assert res.returncode == 2 and "give a .png file" in res.stderr and not (tmp_path / "burn.jpg").exists()


def test_run_puts_a_scenario_on_the_map_with_its_interventions(tmp_path: Path):
    res = pardus_cmd("landscape", "run", "amur-2015-nonspatial", "-n", "2", "--years", "4", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "russia" in res.stdout and "adults / 100 km²" in res.stdout and "deaths by cause" in res.stdout
    root = Path(__file__).resolve().parents[2]
    res = pardus_cmd("landscape", "run", str(root / "examples/spatial-crossing.toml"), "-n", "1", "--years", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_pardus_run_on_the_map_writes_maps_and_refuses_an_area_off_the_map(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "short.toml").write_text(f'extends = "{root / "examples/spatial-firebreaks.toml"}"\n[run]\nyears = 3\n')
    res = pardus_cmd("run", "short.toml", "-n", "2", "-w", "1", "-o", "out.nc", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    import xarray as xr

    with xr.open_dataset(tmp_path / "out.nc") as ds:
        assert ds.attrs["spatial"] == 1 and ds["burn_probability"].dims == ("scenario", "y", "x")
        assert float(ds["cost"].sum()) > 0  # the firebreak's upkeep
    (tmp_path / "far.geojson").write_text('{"type": "Polygon", "coordinates": [[[0, 0], [1000, 0], [1000, 1000], [0, 0]]]}')
    (tmp_path / "bad.toml").write_text(
        f'extends = "{root / "examples/spatial-baseline.toml"}"\n[interventions.p]\ntype = "anti_poaching"\npopulation = "russia"\nstart = 2016\neffort = 2.0\narea = "far.geojson"\n'
    )
    res = pardus_cmd("run", "bad.toml", "-n", "1", "-o", "bad.nc", cwd=tmp_path)
    assert res.returncode == 2
    assert "bad.toml: interventions.p.area" in res.stderr and "lies outside the landscape" in res.stderr
    assert not (tmp_path / "bad.nc").exists()


def test_fire_takes_firebreaks_as_geometry_or_a_ring_and_refuses_bad_ones(tmp_path: Path):
    import json

    line = {"type": "LineString", "coordinates": [[480_000.0, 4_790_000.0], [520_000.0, 4_790_000.0]]}
    (tmp_path / "breaks.geojson").write_text(json.dumps(line))
    res = pardus_cmd("landscape", "fire", "-n", "1", "--years", "2", "--firebreak", "breaks.geojson", "--firebreak-width", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "firebreaks on" in res.stdout
    res = pardus_cmd("landscape", "fire", "-n", "1", "--years", "2", "--firebreak-ring", "park:2", cwd=tmp_path)
    assert res.returncode == 2 and "--firebreak-ring park:2: give ZONE:WIDTH" in res.stderr
    far = {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]}
    (tmp_path / "far.geojson").write_text(json.dumps(far))
    res = pardus_cmd("landscape", "fire", "-n", "1", "--years", "2", "--firebreak", "far.geojson", cwd=tmp_path)
    assert res.returncode == 2 and "lies outside the landscape" in res.stderr


def test_show_draws_the_map_of_a_scenario_file_and_refuses_one_without(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    res = pardus_cmd("landscape", "show", str(root / "examples/spatial-baseline.toml"), "-o", "map.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "map.png").stat().st_size > 10_000
    res = pardus_cmd("landscape", "show", str(root / "examples/amur-2015-baseline.toml"), "-o", "none.png", cwd=tmp_path)
    assert res.returncode == 2 and "has no [landscape]" in res.stderr and not (tmp_path / "none.png").exists()
