"""Cell masks from geometry for interventions on the map, and firebreaks in the fire regime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pardus.landscape import Grid
from pardus.landscape.geometry import GeometryError, mask_from_geometry, ring_around

G = Grid.regular(10, 10, 1000.0, origin=(500_000.0, 4_800_000.0), crs="EPSG:32652")  # x 500–510 km, y 4790–4800 km


def test_a_line_marks_the_cells_it_crosses_and_can_be_widened():
    line = {"type": "LineString", "coordinates": [[500_500.0, 4_795_500.0], [509_500.0, 4_795_500.0]]}  # along row 4
    m = mask_from_geometry(G, line).reshape(10, 10)
    assert m[4].all() and m.sum() == 10
    wide = mask_from_geometry(G, line, width=2).reshape(10, 10)
    assert wide[3:6].all() and wide.sum() == 30


def test_a_polygon_marks_the_cells_whose_centres_it_holds():
    square = {"type": "Polygon", "coordinates": [[[502_000.0, 4_798_000.0], [505_000.0, 4_798_000.0], [505_000.0, 4_795_000.0], [502_000.0, 4_795_000.0], [502_000.0, 4_798_000.0]]]}
    m = mask_from_geometry(G, {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": square, "properties": {}}]}).reshape(10, 10)
    assert m[2:5, 2:5].all() and m.sum() == 9


def test_geometry_outside_the_grid_or_unreadable_is_refused(tmp_path):
    far = {"type": "LineString", "coordinates": [[400_000.0, 4_795_000.0], [505_000.0, 4_795_000.0]]}
    with pytest.raises(GeometryError, match=r"point \(400000, 4795000\) lies outside the landscape \(500000–510000, 4790000–4800000"):
        mask_from_geometry(G, far)
    bad = tmp_path / "breaks.geojson"
    bad.write_text("{not json")
    with pytest.raises(GeometryError, match="breaks.geojson: cannot be read as GeoJSON"):
        mask_from_geometry(G, bad)
    (tmp_path / "p.geojson").write_text(json.dumps({"type": "Point", "coordinates": [505_000.0, 4_795_000.0]}))
    with pytest.raises(GeometryError, match="'Point' is no geometry pardus reads"):
        mask_from_geometry(G, tmp_path / "p.geojson")
    with pytest.raises(GeometryError, match="non-spatial"):
        mask_from_geometry(Grid.nonspatial(3), far)


def test_a_ring_surrounds_a_region_at_its_width():
    inside = np.zeros((10, 10), bool)
    inside[4:6, 4:6] = True
    ring = ring_around(G, inside.ravel(), 1).reshape(10, 10)
    assert ring.sum() == 8 and not (ring & inside).any()  # 4-neighbour steps: the plus-shaped ring
    assert ring_around(G, inside.ravel(), 2).sum() > ring.sum()


def test_a_firebreak_ring_around_the_core_lowers_its_burned_share():
    """Common random numbers: the same fire streams with and without the ring. An impassable
    two-cell ring stops fires from outside; the core burns less; with a ring that lets most
    spread through (strength 0.1) little changes."""
    from pardus.landscape.default import default_landscape
    from pardus.landscape.layers import LAYERS
    from pardus.processes.fire import simulate_fire

    land = default_landscape()
    ring = ring_around(land.grid, land.layers["zone"] == LAYERS["zone"].code("core"), 2) & (land.layers["cover"] != 0)
    base = simulate_fire(land, years=20, replicates=6, seed=4)
    full = simulate_fire(land, years=20, replicates=6, seed=4, firebreak=np.where(ring, 1.0, 0.0))
    weak = simulate_fire(land, years=20, replicates=6, seed=4, firebreak=np.where(ring, 0.1, 0.0))
    b, f, w = (r["burned_share_zone"].mean() for r in (base, full, weak))
    assert f < 0.6 * b and w > f
