"""Where an intervention acts on the map: its ``area`` and ``site`` as cells of a landscape.

An area is one of

* ``LAYER:NAME`` — the cells of region NAME of a region layer (``zone:core``, ``zone:buffer``,
  ``country:china``);
* ``ring:ZONE:W`` — the cells within W cells outside zone ZONE (e.g. a firebreak around the
  park core, ``ring:core:2``);
* the path of a GeoJSON file (``.geojson``/``.json``: lines W = ``width`` cells wide, polygons
  as they are, in the landscape's CRS) or of a GeoTIFF mask (``.tif``/``.tiff``, non-zero = in)
  aligned with the landscape.

It is intersected with the intervention's population region (an intervention is paid for and
reported in one population). A site is a point [x, y] in the landscape's CRS.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .core import Landscape
from .geometry import GeometryError, mask_from_geometry, ring_around

FILE_SUFFIXES = (".geojson", ".json", ".tif", ".tiff")


class TargetError(ValueError):
    """An area or site that does not fit the landscape; the message names it and the fix."""


def is_file_area(area: str) -> bool:
    return area.lower().endswith(FILE_SUFFIXES)


def area_form_problem(area: str) -> str | None:
    """What is wrong with the form of an area string (None: a well-formed one), before any
    landscape is loaded."""
    if is_file_area(area):
        return None
    parts = area.split(":")
    if parts[0] == "ring":
        if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 1:
            return f"'{area}' — a ring is 'ring:ZONE:WIDTH' with a zone name and a whole number of cells ≥ 1, e.g. 'ring:core:2'"
        return None
    if len(parts) != 2 or not all(parts):
        return (
            f"'{area}' — not an area: give 'LAYER:NAME' (e.g. 'zone:core', 'country:china'), 'ring:ZONE:WIDTH' (e.g. 'ring:core:2') "
            "or the path of a GeoJSON (.geojson) or GeoTIFF (.tif) file"
        )
    return None


def _region_mask(land: Landscape, layer: str, name: str, what: str) -> np.ndarray:
    reg = land.regions.get(layer)
    if reg is None:
        raise TargetError(f"{what}: the landscape has no region layer '{layer}' — its region layers are: {', '.join(sorted(land.regions)) or '(none)'}")
    if name not in reg.names:
        raise TargetError(f"{what}: region layer '{layer}' has no region '{name}' — its regions are: {', '.join(reg.names)}")
    return reg.codes == reg.names.index(name)


def _tif_mask(land: Landscape, path: Path, what: str) -> np.ndarray:
    import rasterio
    from rasterio.errors import RasterioIOError

    g = land.grid
    try:
        with rasterio.open(path) as src:
            shape, transform, crs = (src.height, src.width), tuple(src.transform)[:6], src.crs
            values = src.read(1, masked=True)
    except (RasterioIOError, OSError) as exc:
        raise TargetError(f"{what}: {path} cannot be read as GeoTIFF ({exc}) — give a GeoTIFF mask aligned with the landscape") from None
    if shape != g.shape or (g.transform is not None and not np.allclose(transform, g.transform[:6])):
        raise TargetError(
            f"{what}: {path} is {shape[0]} × {shape[1]} cells with transform {transform}; the landscape is {g.describe()} with transform "
            f"{tuple(g.transform or ())} — resample it onto the landscape's grid (e.g. gdalwarp -tr/-te, or `pardus landscape export` as a template)"
        )
    if g.crs and crs is not None and crs.to_string() != g.crs:
        raise TargetError(f"{what}: {path} is in {crs.to_string()}, the landscape in {g.crs} — reproject it")
    return (np.ma.filled(values, 0) != 0).ravel()


def area_mask(land: Landscape, area: str, width: int = 1, what: str = "area") -> np.ndarray:
    """The cells of ``area`` (bool per cell of one replicate); TargetError when it does not fit."""
    problem = area_form_problem(area)
    if problem:
        raise TargetError(f"{what} = {problem}")
    if is_file_area(area):
        path = Path(area)
        if not path.exists():
            raise TargetError(f"{what}: {path} — no such file; give the path of a GeoJSON or GeoTIFF file (relative to the scenario file)")
        if path.suffix.lower() in (".tif", ".tiff"):
            return _tif_mask(land, path, what)
        try:
            geometry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TargetError(f"{what}: {path} cannot be read as GeoJSON ({exc}) — give a GeoJSON file in the landscape's CRS") from None
        try:
            return mask_from_geometry(land.grid, geometry, width=width, where=f"{what} = \"{area}\"")
        except GeometryError as exc:
            raise TargetError(str(exc)) from None
    parts = area.split(":")
    if parts[0] == "ring":
        return ring_around(land.grid, _region_mask(land, "zone", parts[1], what), int(parts[2]))
    return _region_mask(land, parts[0], parts[1], what)


def site_cell(land: Landscape, site, what: str = "site") -> int:
    """The cell of point [x, y] (in the landscape's CRS); TargetError outside the grid or in water."""
    g = land.grid
    x, y = float(site[0]), float(site[1])
    a, b, c, d, e, f = g.transform[:6]
    col = int(np.floor((x - c) / a))
    row = int(np.floor((y - f) / e))
    if not (0 <= row < g.rows and 0 <= col < g.cols):
        x0, x1 = sorted((c, c + a * g.cols))
        y0, y1 = sorted((f, f + e * g.rows))
        raise TargetError(f"{what} = [{x:.10g}, {y:.10g}] — outside the landscape ({x0:.10g}–{x1:.10g}, {y0:.10g}–{y1:.10g} in {g.crs or 'its CRS'}); give a point inside it")
    cell = int(g.index(row, col))
    if "cover" in land.layers and int(land.layers["cover"][cell]) == 0:
        raise TargetError(f"{what} = [{x:.10g}, {y:.10g}] — in water (cell row {row}, column {col}); give a point on land")
    return cell


def central_cell(land: Landscape, mask: np.ndarray, acceptable: np.ndarray, what: str = "area") -> int:
    """The acceptable cell of ``mask`` nearest its centre (a release's default site)."""
    cand = np.flatnonzero(mask & acceptable)
    if cand.size == 0:
        raise TargetError(f"{what}: has no cell of a cover leopards accept — give a site or an area with forest")
    x, y = land.grid.centres()
    inside = np.flatnonzero(mask)
    cx, cy = x[inside].mean(), y[inside].mean()
    return int(cand[np.argmin(np.hypot(x[cand] - cx, y[cand] - cy))])
