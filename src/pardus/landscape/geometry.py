"""Where a spatial intervention acts: cell masks from geometry (MODEL.md §5).

An intervention on the map — a firebreak line, a patrol zone, a crossing, a prey recovery
zone — is given as a cell mask (a GeoTIFF of 0/1), as simple geometry in the landscape's CRS
(GeoJSON: ``LineString``, ``MultiLineString``, ``Polygon``, ``MultiPolygon``, or a
``FeatureCollection`` of them; lines are drawn one cell wide and may be widened with
``width`` cells), or as a ring of a given width around a zone (e.g. a firebreak around the park
core). Geometry that reaches outside the grid is refused with the grid's extent, rather than
cut silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from .grid import Grid


class GeometryError(ValueError):
    """Geometry that does not fit the landscape; the message says where and what to do."""


def _extent(grid: Grid) -> tuple[float, float, float, float]:
    a, _b, c, _d, e, f = grid.transform
    x0, x1 = sorted((c, c + grid.cols * a))
    y0, y1 = sorted((f, f + grid.rows * e))
    return x0, y0, x1, y1


def _coords(geom: dict):
    t = geom.get("type")
    c = geom.get("coordinates")
    if t == "LineString":
        yield from c
    elif t in ("MultiLineString", "Polygon"):
        for part in c:
            yield from part
    elif t == "MultiPolygon":
        for poly in c:
            for ring in poly:
                yield from ring
    else:
        raise GeometryError(f"geometry type {t!r} is not supported — give a LineString, MultiLineString, Polygon or MultiPolygon")


def _geometries(obj: dict, where: str) -> list[dict]:
    t = obj.get("type")
    if t == "FeatureCollection":
        return [g for f in obj.get("features", []) for g in _geometries(f, where)]
    if t == "Feature":
        return _geometries(obj.get("geometry") or {}, where)
    if t in ("LineString", "MultiLineString", "Polygon", "MultiPolygon"):
        return [obj]
    raise GeometryError(f"{where}: {t!r} is no geometry pardus reads — give GeoJSON LineString, MultiLineString, Polygon, MultiPolygon, Feature or FeatureCollection")


def mask_from_geometry(grid: Grid, geometry: dict | str | Path, width: int = 1, where: str = "geometry") -> np.ndarray:
    """The cells a geometry covers (bool per cell). ``geometry``: a GeoJSON dict or the path of a
    GeoJSON file, in the landscape's CRS; lines are ``width`` cells wide."""
    from rasterio import Affine
    from rasterio.features import rasterize

    if not grid.spatial or grid.transform is None:
        raise GeometryError(f"{where}: the landscape has no map (non-spatial) — geometry needs a spatial landscape")
    if isinstance(geometry, (str, Path)):
        path = Path(geometry)
        try:
            geometry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeometryError(f"{path}: cannot be read as GeoJSON ({exc}) — give a GeoJSON file in the landscape's CRS") from None
        where = str(path)
    geoms = _geometries(geometry, where)
    if not geoms:
        raise GeometryError(f"{where}: holds no geometry")
    if width < 1:
        raise GeometryError(f"{where}: width must be at least one cell")
    x0, y0, x1, y1 = _extent(grid)
    for g in geoms:
        pts = np.asarray(list(_coords(g)), dtype=float)
        if pts.ndim != 2 or pts.shape[1] < 2:
            raise GeometryError(f"{where}: coordinates must be [x, y] pairs")
        out = (pts[:, 0] < x0) | (pts[:, 0] > x1) | (pts[:, 1] < y0) | (pts[:, 1] > y1)
        if out.any():
            x, y = pts[np.argmax(out), :2]
            raise GeometryError(
                f"{where}: point ({x:.10g}, {y:.10g}) lies outside the landscape ({x0:.10g}–{x1:.10g}, {y0:.10g}–{y1:.10g} in {grid.crs or 'its CRS'}) — "
                "give coordinates in the landscape's CRS, inside its extent"
            )
    lines = [g for g in geoms if "LineString" in g["type"]]
    areas = [g for g in geoms if "Polygon" in g["type"]]
    shape = grid.shape
    mask = np.zeros(shape, dtype=bool)
    if lines:
        drawn = rasterize([(g, 1) for g in lines], out_shape=shape, transform=Affine(*grid.transform), all_touched=True, dtype="uint8").astype(bool)
        if width > 1:
            drawn = ndimage.binary_dilation(drawn, iterations=width - 1)
        mask |= drawn
    if areas:
        mask |= rasterize([(g, 1) for g in areas], out_shape=shape, transform=Affine(*grid.transform), all_touched=False, dtype="uint8").astype(bool)
    return mask.ravel()


def ring_around(grid: Grid, inside: np.ndarray, width: int) -> np.ndarray:
    """The cells within ``width`` cells outside a region (4-neighbour steps): e.g. a firebreak
    around the park core."""
    if width < 1:
        raise GeometryError("a ring is at least one cell wide")
    region = np.asarray(inside, dtype=bool).reshape(grid.shape)
    grown = ndimage.binary_dilation(region, iterations=width)
    return (grown & ~region).ravel()
