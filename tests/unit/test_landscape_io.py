"""GeoTIFF layers in and out, the checks of the reader, and the embedded default landscape."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pardus.landscape import LAYERS
from pardus.landscape.default import default_landscape
from pardus.landscape.io import LandscapeError, read_landscape, write_landscape


@pytest.fixture(scope="module")
def land():
    return default_landscape()


def _write(path, values, *, crs="EPSG:32652", origin=(470_000.0, 4_840_000.0), size=1000.0, nodata=None, dtype=None):
    values = np.asarray(values)
    with rasterio.open(
        path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1, dtype=dtype or values.dtype.name, crs=crs,
        transform=rasterio.Affine(size, 0.0, origin[0], 0.0, -size, origin[1]), nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(values, 1)


def test_default_landscape_is_reproducible_and_has_what_the_source_texts_name(land):
    again = default_landscape()
    for k in land.layers:
        np.testing.assert_array_equal(land.layers[k], again.layers[k])
    assert not np.array_equal(default_landscape(seed=7).layers["cover"], land.layers["cover"])
    g = land.grid
    assert g.shape == (120, 100) and g.cell_size == 1000.0 and g.crs == "EPSG:32652" and g.neighbours == 8
    cover = land.layers["cover"]
    code = LAYERS["cover"].code
    share = {name: float(np.mean(cover == code(name))) for name in LAYERS["cover"].codes.values()}
    assert 0.15 < share["water"] < 0.5  # the sea to the east and south
    assert share["mixed_forest"] > 0.15 and share["oak_forest"] > 0.15  # forest dominates the land
    assert share["settlement"] > 0 and share["grassland"] > 0 and share["agriculture"] > 0
    road = land.layers["road"]
    assert (road == LAYERS["road"].code("highway")).sum() > 80  # the coastal highway runs the whole coast
    assert (road == LAYERS["road"].code("railway")).sum() > 80
    assert land.layers["deer_farm"].sum() >= 3
    zone = land.layers["zone"]
    core = zone == LAYERS["zone"].code("core")
    assert 800 < core.sum() < 2500  # a national-park core of 1,000-2,000 km²
    assert (cover[core] != code("water")).all() and (cover[core] != code("settlement")).all()
    country = land.regions["country"]
    assert set(country.names) == {"russia", "china"} and (country.codes == 1).sum() > 1000
    assert (country.codes[cover == code("water")] == -1).all()
    # human access is highest at settlements and the highway, low in the core
    acc = land.layers["human_access"]
    assert acc[cover == code("settlement")].min() > 0.9 and acc[core].mean() < acc[cover != code("water")].mean()
    # prey capacity follows cover: forest highest, none at sea or in villages
    cap = land.layers["prey_capacity"]
    assert cap[cover == code("oak_forest")].min() > cap[cover == code("grassland")].max()
    assert (cap[(cover == code("water")) | (cover == code("settlement"))] == 0).all()


def test_geotiff_round_trip_keeps_every_layer_and_region(land, tmp_path):
    paths = write_landscape(land, tmp_path / "out")
    assert {p.name for p in paths} == {f"{n}.tif" for n in land.layers} | {f"region_{n}.tif" for n in land.regions}
    assert not list((tmp_path / "out").glob(".*part"))  # nothing half-written left behind
    back = read_landscape(tmp_path / "out")
    assert back.grid.shape == land.grid.shape and back.grid.crs == land.grid.crs
    np.testing.assert_allclose(back.grid.transform, land.grid.transform)
    for k, v in land.layers.items():
        np.testing.assert_array_equal(back.layers[k], v)
        assert back.layers[k].dtype == v.dtype
    for k, reg in land.regions.items():
        np.testing.assert_array_equal(back.regions[k].codes, reg.codes)
        assert back.regions[k].names == reg.names


def test_reader_names_every_layer_that_does_not_fit_and_how_to_fix_it(tmp_path):
    good = np.ones((4, 5))
    _write(tmp_path / "prey.tif", good)
    _write(tmp_path / "human_access.tif", good * 0.5, crs="EPSG:4326")  # another CRS
    _write(tmp_path / "prey_capacity.tif", good * 9, size=500.0)  # another resolution
    _write(tmp_path / "elevation.tif", np.ones((4, 6)))  # another extent
    _write(tmp_path / "patrol_effort.tif", good, origin=(471_000.0, 4_840_000.0))  # shifted
    nod = good.copy()
    nod[1, 2] = -9999
    _write(tmp_path / "road_exposure.tif", nod, nodata=-9999)
    _write(tmp_path / "cover.tif", np.array([[1, 2, 9, 1, 1]] * 4, dtype=np.int8))  # 9 is no cover code
    _write(tmp_path / "rainfall.tif", good)  # no such layer
    (tmp_path / "deer_farm.tif").write_bytes(b"this is not a GeoTIFF")
    with pytest.raises(LandscapeError) as exc:
        read_landscape(tmp_path)
    msg = str(exc.value)
    assert "human_access' has CRS EPSG:4326, the landscape EPSG:32652 — reproject it (gdalwarp -t_srs EPSG:32652)" in msg
    assert "prey_capacity' has cells of 500, the landscape 1000 — resample it" in msg
    assert "elevation' covers 4 × 6 cells" in msg and "clip or extend it to the same extent" in msg
    assert "patrol_effort' covers" in msg
    assert "road_exposure' has 1 nodata cell(s) (first at row 1, column 2)" in msg
    assert "'cover' has unknown code(s) [9]" in msg
    assert "'rainfall' is no known layer" in msg
    assert "deer_farm.tif: cannot be read as a GeoTIFF" in msg
    assert "prey.tif" not in msg  # the good layer is not blamed


def test_reader_refuses_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(LandscapeError, match="no such folder"):
        read_landscape(tmp_path / "nothing")
    with pytest.raises(LandscapeError, match=r"holds no GeoTIFF"):
        read_landscape(tmp_path)


def test_a_nonspatial_landscape_has_nothing_to_export(tmp_path):
    from pardus.landscape import Landscape
    from pardus.scenario import resolve_scenario

    sc = resolve_scenario("amur-2015-nonspatial").scenario
    with pytest.raises(LandscapeError, match="non-spatial"):
        write_landscape(Landscape.nonspatial(sc, list(sc.populations)), tmp_path)
