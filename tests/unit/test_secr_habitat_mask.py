# SPDX-License-Identifier: GPL-3.0-or-later
"""Habitat masks from a raster (pardus.secr.mask.mask_from_habitat)."""

from __future__ import annotations

import numpy as np
import pytest

from pardus.landscape.grid import Grid
from pardus.secr.mask import MaskError, covers_detectors, make_mask, mask_from_habitat

TRAPS = np.array([(x, y) for y in np.arange(10) * 30.0 for x in np.arange(10) * 30.0])


def _frame(cell=10.0, buffer=90.0):
    """A north-up grid whose cells are exactly make_mask's cells for TRAPS, buffer and spacing."""
    x0, y1 = -buffer, 270.0 + buffer
    n = int(round((270.0 + 2 * buffer) / cell))
    return Grid.regular(n, n, cell, origin=(x0, y1), crs="EPSG:32652")


def _as_set(xy):
    return {(round(float(x), 6), round(float(y), 6)) for x, y in xy}


def test_cell_centres_of_habitat_cells():
    g = Grid.regular(3, 4, 100.0, origin=(1000.0, 5000.0), crs="EPSG:32652")
    hab = np.array([[1, 0, 0, 1],
                    [0, 1, 0, 0],
                    [0, 0, 0, 1]], dtype=bool)
    m = mask_from_habitat(hab, g)
    assert m.spacing == 100.0 and m.area_ha == 1.0
    # row 0 is the top (y = 5000 - 50), column 0 the left (x = 1000 + 50)
    assert _as_set(m.xy) == {(1050, 4950), (1350, 4950), (1150, 4850), (1350, 4750)}
    # y ascending, x fastest, as make_mask orders points
    assert np.all(np.diff(m.xy[:, 1]) >= 0)


def test_flat_layer_landscape_and_transform_inputs_agree():
    g = Grid.regular(3, 4, 100.0, origin=(1000.0, 5000.0), crs="EPSG:32652")
    rng = np.random.default_rng(1)
    suit = rng.random((3, 4))
    a = mask_from_habitat(suit, g, threshold=0.4)
    b = mask_from_habitat(suit.ravel(), g, threshold=0.4)  # a pardus layer: flat, C order
    c = mask_from_habitat(suit, g.transform, threshold=0.4)  # bare transform (no CRS known)

    class _Land:  # anything carrying a .grid, as pardus's Landscape does
        grid = g

    d = mask_from_habitat(suit, _Land(), threshold=0.4)
    assert len(a) == int((suit >= 0.4).sum())
    for m in (b, c, d):
        assert np.array_equal(m.xy, a.xy)


def test_threshold_and_missing_values():
    g = Grid.regular(2, 3, 50.0, origin=(0.0, 100.0))
    suit = np.array([[0.2, 0.5, np.nan], [0.9, 0.49, 1.0]])
    m = mask_from_habitat(suit, g)
    assert len(m) == 3  # 0.5, 0.9, 1.0; NaN is no habitat
    assert len(mask_from_habitat(suit, g, threshold=0.1)) == 5
    masked = np.ma.masked_array(suit, mask=[[False, True, False], [False, False, False]])
    assert len(mask_from_habitat(masked, g)) == 2


def test_south_up_raster_gives_the_same_points():
    g = Grid.regular(3, 4, 100.0, origin=(1000.0, 5000.0))
    hab = np.random.default_rng(3).random((3, 4)) > 0.4
    north_up = mask_from_habitat(hab, g)
    # the same cells stored bottom row first, with a positive y step from the bottom edge
    south_up = mask_from_habitat(hab[::-1], (100.0, 0.0, 1000.0, 0.0, 100.0, 4700.0))
    assert np.array_equal(north_up.xy, south_up.xy)


def test_all_habitat_within_buffer_is_make_masks_trapbuffer_mask():
    g = _frame()
    hab = np.ones(g.shape, dtype=bool)
    m = mask_from_habitat(hab, g, TRAPS, 90.0)
    ref = make_mask(TRAPS, buffer=90.0, spacing=10.0, type="trapbuffer")
    assert m.spacing == ref.spacing
    assert _as_set(m.xy) == _as_set(ref.xy)
    # without a buffer the whole raster's habitat is kept
    assert len(mask_from_habitat(hab, g, TRAPS)) == g.n_cells


def test_habitat_clips_the_buffer():
    g = _frame()
    hab = np.ones(g.shape, dtype=bool)
    x, _ = g.centres()
    hab.ravel()[x > 320] = False  # a river east of the grid: no habitat beyond x = 320
    m = mask_from_habitat(hab, g, TRAPS, 90.0)
    ref = make_mask(TRAPS, buffer=90.0, spacing=10.0, type="trapbuffer")
    assert m.xy[:, 0].max() < 320
    assert _as_set(m.xy) == {p for p in _as_set(ref.xy) if p[0] < 320}


@pytest.mark.parametrize("spacing", [5.0, 20.0])
def test_resampling_to_another_spacing_takes_the_cell_a_point_falls_in(spacing):
    g = Grid.regular(4, 4, 10.0, origin=(0.0, 40.0))
    hab = np.zeros((4, 4), dtype=bool)
    hab[0, 0] = True  # top-left cell: x 0-10, y 30-40
    hab[2:, 2:] = True  # bottom-right 20 x 20 m block: x 20-40, y 0-20
    m = mask_from_habitat(hab, g, spacing=spacing)
    assert m.spacing == spacing
    if spacing == 5.0:
        assert len(m) == 4 + 16  # 4 points per 10 m cell
        assert (2.5, 37.5) in _as_set(m.xy)
    else:
        # 20 m points at x, y in {10, 30} lie on cell corners; the tie goes to the cell whose
        # column and row index floor() gives (east and, north-up, south of the corner): only
        # (30, 10) then falls in the habitat block, the top-left cell gets no point
        assert _as_set(m.xy) == {(30.0, 10.0)}
    assert m.total_area_ha == pytest.approx(len(m) * spacing ** 2 / 1e4)


def test_geotiff_is_read_with_its_grid(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    g = _frame()
    hab = np.ones(g.shape, dtype=np.uint8)
    hab[:5, :] = 0  # the northern strip is no habitat
    hab[10, 10] = 255  # nodata: no habitat
    path = tmp_path / "habitat.tif"
    with rasterio.open(path, "w", driver="GTiff", width=g.cols, height=g.rows, count=1, dtype="uint8",
                       crs="EPSG:32652", transform=rasterio.Affine(10.0, 0.0, -90.0, 0.0, -10.0, 360.0),
                       nodata=255) as dst:
        dst.write(hab, 1)
    m = mask_from_habitat(path, traps=TRAPS, buffer=90.0)
    expect = hab.astype(bool) & (hab != 255)
    ref = mask_from_habitat(expect, g, TRAPS, 90.0)
    assert np.array_equal(m.xy, ref.xy) and m.spacing == 10.0
    assert len(m) < len(make_mask(TRAPS, buffer=90.0, spacing=10.0, type="trapbuffer"))
    with pytest.raises(MaskError, match="leave transform_or_grid out"):
        mask_from_habitat(str(path), g)


@pytest.mark.parametrize("crs,match", [("EPSG:4326", "geographic"), (None, "no coordinate reference system"),
                                        ("EPSG:2272", "not metres")])
def test_geotiff_without_a_metric_projected_crs_is_refused(tmp_path, crs, match):
    rasterio = pytest.importorskip("rasterio")
    path = tmp_path / "hab.tif"
    with rasterio.open(path, "w", driver="GTiff", width=3, height=3, count=1, dtype="uint8", crs=crs,
                       transform=rasterio.Affine(1.0, 0.0, 0.0, 0.0, -1.0, 3.0)) as dst:
        dst.write(np.ones((3, 3), np.uint8), 1)
    with pytest.raises(MaskError, match=match) as exc:
        mask_from_habitat(path)
    assert str(path) in str(exc.value) and "Fix" in str(exc.value)


def test_unreadable_geotiff(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_text("not a raster")
    with pytest.raises(MaskError, match="broken.tif.*cannot be read"):
        mask_from_habitat(bad)


def test_errors_name_the_problem_and_the_fix():
    g = _frame()
    hab = np.ones(g.shape, dtype=bool)
    with pytest.raises(MaskError, match="no habitat cell lies within 90 m.*CRS"):
        mask_from_habitat(hab, g, TRAPS + 1e5, 90.0)  # detectors in another CRS / place
    with pytest.raises(MaskError, match="no habitat cell \\(value >= 0.5\\)"):
        mask_from_habitat(np.zeros(g.shape), g)
    holed = hab.copy()
    x, y = g.centres()
    # detector (0, 0) sits on the corner of four cells: all four non-habitat
    holed.ravel()[(np.abs(x) <= 5) & (np.abs(y) <= 5)] = False
    with pytest.raises(MaskError, match="does not cover 1 of 100 detectors: 1 \\(0, 0\\).*non-habitat.*CRS"):
        mask_from_habitat(holed, g, TRAPS, 90.0)
    with pytest.raises(MaskError, match="needs its grid geometry"):
        mask_from_habitat(hab)
    with pytest.raises(MaskError, match="buffer= needs the detectors"):
        mask_from_habitat(hab, g, buffer=50.0)
    with pytest.raises(MaskError, match="shape"):
        mask_from_habitat(hab[:-1], g)
    with pytest.raises(MaskError, match="not metres"):
        mask_from_habitat(hab, Grid.regular(*g.shape, 10.0, crs="EPSG:2272"))
    with pytest.raises(MaskError, match="geographic"):
        mask_from_habitat(hab, Grid.regular(*g.shape, 10.0, crs="EPSG:4326"))
    with pytest.raises(MaskError, match="rotated"):
        mask_from_habitat(hab, (10.0, 1.0, 0.0, 0.0, -10.0, 0.0))
    with pytest.raises(MaskError, match="not square.*spacing="):
        mask_from_habitat(hab, (10.0, 0.0, 0.0, 0.0, -20.0, 0.0))
    # non-square cells are fine when resampled to a square spacing
    assert len(mask_from_habitat(hab, (10.0, 0.0, 0.0, 0.0, -20.0, 0.0), spacing=10.0)) > 0


def test_default_landscape_forest_as_habitat():
    """The shipped schematic landscape's forest cover (leopard habitat) as the mask around a
    camera-trap grid placed in the forest."""
    from pardus.landscape.default import default_landscape
    from pardus.landscape.layers import LAYERS

    land = default_landscape(rows=60, cols=50)
    cover = LAYERS["cover"]
    forest = np.isin(land.layers["cover"], [cover.code("mixed_forest"), cover.code("oak_forest")])
    x, y = land.grid.centres()
    # a 4 x 4 camera grid at 2 km on forest cell centres near the middle of the forest
    fx, fy = x[forest], y[forest]
    k = np.argmin(np.abs(fx - np.median(fx)) + np.abs(fy - np.median(fy)))
    cx, cy = fx[k], fy[k]  # a forest cell centre near the forest's middle
    cand = [(xx, yy) for xx, yy in zip(fx, fy)
            if abs(xx - cx) <= 4000 and abs(yy - cy) <= 4000 and (xx - cx) % 2000 == 0 and (yy - cy) % 2000 == 0]
    traps = np.array(cand[:16])
    assert len(traps) >= 4
    m = mask_from_habitat(forest, land, traps, buffer=8000.0)  # a Landscape: its grid
    assert m.spacing == 1000.0 and m.area_ha == 100.0
    assert covers_detectors(m, traps)
    # every point is a forest cell centre within the buffer
    cells = {(round(a), round(b)) for a, b in zip(fx, fy)}
    assert all((round(a), round(b)) in cells for a, b in m.xy)
    d = np.sqrt(((m.xy[:, None] - traps[None]) ** 2).sum(axis=2)).min(axis=1)
    assert d.max() <= 8000.0
    # the flat layer with the grid gives the same mask; non-forest is left out
    assert np.array_equal(mask_from_habitat(forest, land.grid, traps, 8000.0).xy, m.xy)
    full = make_mask(traps, buffer=8000.0, spacing=1000.0, type="trapbuffer")
    assert len(m) <= len(full)
