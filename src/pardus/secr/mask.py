"""Habitat masks for SECR, as the R package secr builds them (``make.mask``, secr 5.5.0).

A mask is a set of points (cell centres) on a square grid of cell side ``spacing`` metres;
each point stands for ``spacing**2 / 1e4`` hectares of habitat (secr's ``attr(mask, "area")``).

:func:`make_mask` follows ``make.mask(traps, buffer, nx, type)`` step by step:

* the grid's frame is the detectors' bounding box widened by ``buffer`` on every side
  (``type="polygon"``: the polygon's bounding box widened by ``buffer``);
* ``spacing = (x extent of that frame) / nx`` unless given (secr divides the *x* extent only;
  for a square detector array this equals the shared README's ``max(xrange, yrange)`` rule);
* cell centres ``x = seq(xmin + spacing/2, xmax, by = spacing)`` and likewise for y, with R's
  ``seq`` rounding (``floor(n + 1e-10)`` steps, clipped at the end), combined as
  ``expand.grid(x, y)`` (x varying fastest);
* ``type="trapbuffer"`` keeps points whose distance to the nearest detector is ``<= buffer``
  (secr's ``distancetotrap``); ``"traprect"`` keeps the whole rectangle;
* a habitat polygon (``poly``) keeps the points whose centre lies inside it (secr's
  ``cell.overlap = "centre"``).

``MASK_TYPES`` lists the ``type`` values of :func:`make_mask` (secr's ``make.mask`` types
``"trapbuffer"``, ``"traprect"``, ``"polygon"``). A mask from a habitat *raster* is not one more
``type`` but its own builder, :func:`mask_from_habitat`: the points are the centres of the
raster's habitat cells (value ``>= threshold``; or of a regular grid of another ``spacing``,
each point taking the value of the cell it falls in), optionally kept only within ``buffer`` of
a detector -- i.e. a ``"trapbuffer"`` (with ``traps`` and ``buffer``) or whole-raster mask
clipped to habitat, as secr's ``make.mask(..., poly = <habitat>)`` clips to a habitat polygon.
The raster comes as a 2-D array with its grid (a :class:`pardus.landscape.grid.Grid`, a
:class:`~pardus.landscape.core.Landscape`, a rasterio ``Affine`` or the six coefficients
``(a, b, c, d, e, f)``) or as a GeoTIFF path (read with rasterio; it must carry a projected CRS
in metres).

Whether a mask is wide enough for a fitted detection model (secr's ``suggest.buffer``,
``bias.D``, ``esaPlot``) is :mod:`pardus.secr.buffer`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Mask",
    "MaskError",
    "make_mask",
    "read_mask_csv",
    "write_mask_csv",
    "polygon_rings",
    "points_in_polygon",
    "covers_detectors",
    "mask_from_habitat",
    "MASK_TYPES",
]

MASK_TYPES = ("trapbuffer", "traprect", "polygon")


class MaskError(ValueError):
    """A mask that cannot be built, read or used as asked (message says why and how to fix)."""


@dataclass(frozen=True, eq=False)
class Mask:
    """Mask points ``xy`` (M × 2, metres), cell side ``spacing`` (m); ``area_ha`` per cell."""

    xy: np.ndarray
    spacing: float

    @property
    def area_ha(self) -> float:
        """Area of one cell in hectares (secr ``attr(mask, "area") = spacing^2 * 0.0001``)."""
        return self.spacing ** 2 * 1e-4

    @property
    def total_area_ha(self) -> float:
        return self.area_ha * len(self.xy)

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def _xy_of(traps):
    """(K × 2 coordinates, labels) from an array, a Traps or a CaptHist."""
    if hasattr(traps, "trap_ids") and hasattr(traps, "traps"):  # CaptHist
        return np.asarray(traps.traps, dtype=float), list(traps.trap_ids)
    if hasattr(traps, "xy") and hasattr(traps, "ids"):  # Traps
        return np.asarray(traps.xy, dtype=float), list(traps.ids)
    xy = np.asarray(traps, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise MaskError(f"detector coordinates have shape {xy.shape}. Fix: give a K x 2 array of "
                        "x, y (m), a Traps or a CaptHist")
    return xy, [str(k + 1) for k in range(len(xy))]


def _r_seq(start: float, stop: float, by: float) -> np.ndarray:
    """R's ``seq(from, to, by)`` for by > 0: ``from + (0:n) * by``, n = floor((to-from)/by + 1e-10),
    values clipped at ``to``."""
    n = (stop - start) / by
    if n < 0:
        return np.zeros(0)
    k = int(math.floor(n + 1e-10))
    x = start + np.arange(k + 1, dtype=float) * by
    return np.minimum(x, stop)


def _distance_to_nearest(points: np.ndarray, targets: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Euclidean distance from each point to the nearest target (secr ``distancetotrap``)."""
    out = np.empty(len(points))
    for a in range(0, len(points), chunk):
        p = points[a:a + chunk]
        dx = p[:, None, 0] - targets[None, :, 0]
        dy = p[:, None, 1] - targets[None, :, 1]
        out[a:a + chunk] = np.sqrt(dx * dx + dy * dy).min(axis=1)
    return out


# --------------------------------------------------------------------------------------------
# polygons (GeoJSON rings; no shapely)
# --------------------------------------------------------------------------------------------


def polygon_rings(poly) -> list[list[np.ndarray]]:
    """Polygons as lists of rings (first the exterior, then holes), from GeoJSON or arrays.

    Accepts a GeoJSON ``Polygon``/``MultiPolygon`` geometry, ``Feature`` or
    ``FeatureCollection`` (as a dict, JSON text or a path to a ``.geojson``/``.json`` file), an
    N × 2 array of vertices (one ring), or a list of rings (first exterior, then holes).
    """
    if isinstance(poly, str) and not poly.lstrip().startswith("{"):
        with open(poly, encoding="utf-8") as fh:
            poly = json.load(fh)
    elif isinstance(poly, str):
        poly = json.loads(poly)
    if isinstance(poly, dict):
        t = poly.get("type")
        if t == "FeatureCollection":
            return [r for f in poly.get("features", []) for r in polygon_rings(f)]
        if t == "Feature":
            return polygon_rings(poly.get("geometry") or {})
        if t == "Polygon":
            return [[_ring(r) for r in poly["coordinates"]]]
        if t == "MultiPolygon":
            return [[_ring(r) for r in p] for p in poly["coordinates"]]
        raise MaskError(f"GeoJSON type {t!r} is not a polygon. Fix: give a Polygon or MultiPolygon "
                        "(or a Feature/FeatureCollection of them)")
    try:
        a = np.asarray(poly, dtype=float)
        if a.ndim == 2 and a.shape[1] == 2:
            return [[_ring(a)]]
    except (ValueError, TypeError):  # ragged: a list of rings
        pass
    if isinstance(poly, (list, tuple)) or (isinstance(poly, np.ndarray) and poly.ndim == 3):
        return [[_ring(r) for r in poly]]
    raise MaskError("polygon not recognised. Fix: give GeoJSON, an N x 2 vertex array or a list of rings")


def _ring(r) -> np.ndarray:
    a = np.asarray(r, dtype=float)
    if a.ndim != 2 or a.shape[1] < 2 or len(a) < 3:
        raise MaskError(f"polygon ring of shape {a.shape}. Fix: give at least 3 vertices (x, y)")
    a = a[:, :2]
    if not np.array_equal(a[0], a[-1]):
        a = np.vstack([a, a[:1]])  # close the ring, as secr closes polygons
    return a


def points_in_polygon(xy, poly) -> np.ndarray:
    """Boolean per point: inside the polygon(s) (even–odd rule per polygon, so holes are
    excluded; union over polygons). Points exactly on an edge may fall either way."""
    xy = np.asarray(xy, dtype=float)
    inside_any = np.zeros(len(xy), dtype=bool)
    x, y = xy[:, 0], xy[:, 1]
    for rings in polygon_rings(poly):
        inside = np.zeros(len(xy), dtype=bool)
        for ring in rings:
            x0, y0 = ring[:-1, 0], ring[:-1, 1]
            x1, y1 = ring[1:, 0], ring[1:, 1]
            for a0, b0, a1, b1 in zip(x0, y0, x1, y1):
                crosses = (b0 > y) != (b1 > y)
                if not crosses.any():
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    xint = a0 + (y - b0) * (a1 - a0) / (b1 - b0)
                inside ^= crosses & (x < xint)
        inside_any |= inside
    return inside_any


def _poly_bbox(poly):
    pts = np.vstack([r for rings in polygon_rings(poly) for r in rings])
    return pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max()


# --------------------------------------------------------------------------------------------
# make / read / write
# --------------------------------------------------------------------------------------------


def make_mask(traps=None, buffer: float = 100.0, nx: int = 64, type: str = "trapbuffer", *,
              spacing: float | None = None, poly=None) -> Mask:
    """A habitat mask as secr's ``make.mask(traps, buffer, spacing, nx, type, poly)``.

    ``traps``: K × 2 coordinates, a :class:`~pardus.secr.capthist.Traps` or a
    :class:`~pardus.secr.capthist.CaptHist` (not needed for ``type="polygon"``). ``type``:
    ``"trapbuffer"`` (points within ``buffer`` of a detector), ``"traprect"`` (the buffered
    rectangle) or ``"polygon"`` (points inside ``poly``). ``poly`` with the other types also
    clips to the polygon (secr's ``poly.habitat = TRUE``, cell centres). See the module
    docstring for the grid rule.
    """
    if type not in MASK_TYPES:
        raise MaskError(f"mask type {type!r} not supported. Fix: use one of {', '.join(MASK_TYPES)}")
    if not (isinstance(nx, (int, np.integer)) and nx >= 1):
        raise MaskError(f"nx = {nx!r}. Fix: give a whole number of cells across (>= 1)")
    buffer = float(buffer)
    if not math.isfinite(buffer) or buffer < 0:
        raise MaskError(f"buffer = {buffer}. Fix: give a buffer width >= 0 in metres")
    if type == "polygon":
        if poly is None:
            raise MaskError("type='polygon' needs a habitat polygon. Fix: pass poly= (GeoJSON or rings)")
        xmin, xmax, ymin, ymax = _poly_bbox(poly)
    else:
        if traps is None:
            raise MaskError(f"type={type!r} needs detector locations. Fix: pass traps, or use "
                            "type='polygon' with poly=")
        txy, _ = _xy_of(traps)
        if len(txy) == 0:
            raise MaskError("no detectors. Fix: give at least one detector location")
        xmin, xmax = txy[:, 0].min(), txy[:, 0].max()
        ymin, ymax = txy[:, 1].min(), txy[:, 1].max()
    xl = (xmin - buffer, xmax + buffer)
    yl = (ymin - buffer, ymax + buffer)
    if spacing is None:
        spacing = (xl[1] - xl[0]) / nx
    spacing = float(spacing)
    if not (spacing > 0 and math.isfinite(spacing)):
        raise MaskError(f"mask spacing {spacing} m (frame of zero width). Fix: give buffer > 0 or "
                        "spacing=")
    x = _r_seq(xl[0] + spacing / 2, xl[1], spacing)
    y = _r_seq(yl[0] + spacing / 2, yl[1], spacing)
    gx, gy = np.meshgrid(x, y)  # rows = y: flattening gives x fastest, as expand.grid
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    if type == "trapbuffer":
        xy = xy[_distance_to_nearest(xy, txy) <= buffer]
    if poly is not None:
        xy = xy[points_in_polygon(xy, poly)]
    if len(xy) == 0:
        raise MaskError("the mask has no points. Fix: widen the buffer, or check that the polygon "
                        "and the detectors overlap")
    return Mask(xy=xy, spacing=spacing)


def read_mask_csv(path, spacing: float | None = None) -> Mask:
    """Read mask points from a CSV with columns ``x,y`` (secr ``write.mask``/``read.mask``).

    ``spacing`` defaults to the smallest positive difference between distinct x (or y)
    coordinates, as secr's ``read.mask`` infers it.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise MaskError(f"{path}: empty mask file. Fix: give a CSV with a header x,y and one point per line")
    header = [h.strip().strip('"').lower() for h in rows[0]]
    if "x" in header and "y" in header:
        ix, iy = header.index("x"), header.index("y")
        body, first = rows[1:], 2
    else:
        ix, iy, body, first = 0, 1, rows, 1
    pts = []
    for n, r in enumerate(body, start=first):
        try:
            pts.append((float(r[ix]), float(r[iy])))
        except (ValueError, IndexError):
            raise MaskError(f"{path}:{n}: {','.join(r)!r} is not a point x,y. Fix: give two numbers "
                            "(metres) per line") from None
    xy = np.asarray(pts, dtype=float).reshape(-1, 2)
    if spacing is None:
        cand = []
        for col in (xy[:, 0], xy[:, 1]):
            d = np.diff(np.unique(col))
            d = d[d > 0]
            if d.size:
                cand.append(d.min())
        if not cand:
            raise MaskError(f"{path}: cannot infer the spacing from a single point. Fix: pass spacing=")
        spacing = float(min(cand))
    return Mask(xy=xy, spacing=float(spacing))


def write_mask_csv(mask: Mask, path) -> None:
    """Write mask points as secr's ``write.mask`` CSV (``"x","y"`` header, full precision)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('"x","y"\n')
        for x, y in mask.xy:
            fh.write(f"{float(x)!r},{float(y)!r}\n")


def _in_mask_cells(mask: Mask, txy: np.ndarray) -> np.ndarray:
    """Per detector: does it fall in a mask cell (within spacing/2 of a point in x and y)?"""
    m = np.asarray(mask.xy, dtype=float)
    half = mask.spacing / 2 * (1 + 1e-9)
    ok = np.zeros(len(txy), dtype=bool)
    for a in range(0, len(m), 4096):
        p = m[a:a + 4096]
        near = (np.abs(txy[:, None, 0] - p[None, :, 0]) <= half) & \
               (np.abs(txy[:, None, 1] - p[None, :, 1]) <= half)
        ok |= near.any(axis=1)
    return ok


def covers_detectors(mask: Mask, traps, *, labels=None) -> bool:
    """Check that every detector lies in a mask cell; raise :class:`MaskError` otherwise.

    A detector is covered when some mask point is within ``spacing/2`` of it in both x and y
    (its location falls in that point's cell). secr has no such check (it silently fits with
    detectors outside the habitat); the error names the detectors and says how to fix the mask.
    Returns True when all are covered.
    """
    txy, tl = _xy_of(traps)
    if labels is not None:
        tl = list(labels)
    m = np.asarray(mask.xy, dtype=float)
    if len(m) == 0:
        raise MaskError("the mask has no points. Fix: build it with make_mask(traps, buffer=...)")
    ok = _in_mask_cells(mask, txy)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        listed = ", ".join(f"{tl[k]} ({txy[k, 0]:g}, {txy[k, 1]:g})" for k in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise MaskError(f"the mask ({len(m)} points, spacing {mask.spacing:g} m) does not cover "
                        f"{len(bad)} of {len(txy)} detectors: {listed}{more}. Fix: build the mask "
                        "around these detectors (make_mask(traps, buffer=...)), or widen the "
                        "habitat polygon to include them")
    return True


# --------------------------------------------------------------------------------------------
# masks from a habitat raster
# --------------------------------------------------------------------------------------------


def _raster_geometry(transform_or_grid, shape, source):
    """(rows, cols, (a, b, c, d, e, f), crs) of a raster grid given as a pardus Grid or
    Landscape, a rasterio Affine or six coefficients (rasterio order)."""
    g = getattr(transform_or_grid, "grid", transform_or_grid)  # a Landscape carries its Grid
    if hasattr(g, "rows") and hasattr(g, "cols") and hasattr(g, "cell_size"):  # pardus Grid
        if g.cell_size is None:
            raise MaskError(f"{source}: the landscape has no map (non-spatial grid). Fix: give a "
                            "spatial landscape or a GeoTIFF of the habitat")
        t = g.transform
        if t is None:  # Grid.centres' convention without a transform: north-up from (0, 0)
            t = (g.cell_size, 0.0, 0.0, 0.0, -g.cell_size, 0.0)
        return int(g.rows), int(g.cols), tuple(float(v) for v in t), getattr(g, "crs", None)
    if transform_or_grid is None:
        raise MaskError(f"{source}: a habitat array needs its grid geometry. Fix: pass the landscape's "
                        "Grid, a rasterio Affine or (a, b, c, d, e, f) as transform_or_grid, or give "
                        "the path of a GeoTIFF")
    try:
        t = tuple(float(v) for v in tuple(transform_or_grid)[:6])
    except (TypeError, ValueError):
        raise MaskError(f"{source}: {type(transform_or_grid).__name__} is no grid geometry. Fix: give a "
                        "Grid, a rasterio Affine or (a, b, c, d, e, f)") from None
    if len(t) != 6:
        raise MaskError(f"{source}: a transform needs six coefficients (a, b, c, d, e, f), rasterio's order")
    if len(shape) != 2:
        raise MaskError(f"{source}: with a bare transform the habitat must be a 2-D array (rows x cols), "
                        f"not of shape {shape}")
    return int(shape[0]), int(shape[1]), t, None


def _check_metric_crs(crs, source, required: bool):
    """MaskError unless ``crs`` is a projected CRS in metres (None passes unless required)."""
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        if required:
            raise MaskError(f"{source}: the raster has no coordinate reference system, so its cell size "
                            "has no known unit. Fix: assign its projected CRS in metres (gdal_edit.py "
                            "-a_srs EPSG:<code>), or reproject it (gdalwarp -t_srs EPSG:<UTM zone>)")
        return
    try:
        from rasterio.crs import CRS

        c = CRS.from_user_input(crs)
        projected = bool(c.is_projected)
        unit, factor = c.linear_units_factor if projected else (c.linear_units, None)
    except Exception as exc:  # rasterio's CRSError and friends
        raise MaskError(f"{source}: CRS {crs!s} cannot be read ({exc}). Fix: give an EPSG code or WKT "
                        "of a projected CRS in metres") from None
    if not projected:
        raise MaskError(f"{source}: CRS {crs!s} is geographic (degrees), not projected, so cells have no "
                        "size in metres. Fix: reproject the raster to a projected CRS in metres, e.g. "
                        "gdalwarp -t_srs EPSG:<UTM zone> -tr <cell m> <cell m>")
    if factor is None or abs(float(factor) - 1.0) > 1e-9:
        raise MaskError(f"{source}: CRS {crs!s} measures in {unit}, not metres; SECR masks and detector "
                        "coordinates are in metres. Fix: reproject the raster to a projected CRS in "
                        "metres (gdalwarp -t_srs EPSG:<code>)")


def _read_habitat_tif(path):
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            if src.count < 1:
                raise MaskError(f"{path}: the GeoTIFF has no band. Fix: give a single-band habitat raster")
            values = src.read(1, masked=True)
            t = src.transform
            crs = src.crs
    except RasterioIOError as exc:
        raise MaskError(f"{path}: cannot be read as a GeoTIFF ({exc}). Fix: give the path of a valid "
                        "single-band GeoTIFF of habitat (0/1 or suitability)") from None
    return values, (t.a, t.b, t.c, t.d, t.e, t.f), crs


def mask_from_habitat(habitat, transform_or_grid=None, traps=None, buffer=None, *, threshold: float = 0.5,
                      spacing: float | None = None) -> Mask:
    """A mask of the habitat cells of a raster (see the module docstring).

    ``habitat``: a 2-D array (rows x cols; boolean habitat or suitability, NaN and masked cells
    are non-habitat), a flat pardus layer of ``rows * cols`` cells (C order, with a Grid), or
    the path of a GeoTIFF (band 1, nodata = non-habitat; then ``transform_or_grid`` is not
    given). A cell is habitat when its value is ``>= threshold``. ``traps``/``buffer``: keep
    only points within ``buffer`` m of a detector; with ``traps`` every detector must lie in a
    habitat cell of the mask. ``spacing`` (m) defaults to the raster's cell size (one point per
    cell centre); another spacing lays a regular grid from the raster's corner and gives each
    point the value of the cell it falls in (nearest-cell resampling).
    """
    if isinstance(habitat, (str, Path)):
        source = str(habitat)
        if transform_or_grid is not None:
            raise MaskError(f"{source}: a GeoTIFF carries its own grid. Fix: leave transform_or_grid out")
        values, t, crs = _read_habitat_tif(habitat)
        rows, cols = values.shape
        _check_metric_crs(crs, source, required=True)
        arr = values
    else:
        source = "habitat raster"
        arr = habitat if isinstance(habitat, np.ma.MaskedArray) else np.asarray(habitat)
        rows, cols, t, crs = _raster_geometry(transform_or_grid, arr.shape, source)
        if arr.ndim == 1 and arr.size == rows * cols:
            arr = arr.reshape(rows, cols)
        if arr.shape != (rows, cols):
            raise MaskError(f"{source}: the habitat array has shape {arr.shape}, the grid {rows} x {cols}. "
                            "Fix: give one value per cell of the grid (rows x cols, or a flat layer)")
        _check_metric_crs(crs, source, required=False)
    a, b, c, d, e, f = t
    if b != 0 or d != 0:
        raise MaskError(f"{source}: the raster is rotated (transform {t}). Fix: warp it to a north-up "
                        "grid (gdalwarp)")
    if a == 0 or e == 0:
        raise MaskError(f"{source}: the transform {t} has a zero cell size. Fix: give the raster's real transform")
    # habitat cells
    if arr.dtype == np.bool_:
        hab = np.ma.filled(arr, False).astype(bool)
    else:
        vals = np.ma.filled(np.ma.asarray(arr, dtype=float), np.nan)
        with np.errstate(invalid="ignore"):
            hab = np.asarray(vals >= float(threshold))
    if not hab.any():
        raise MaskError(f"{source}: no habitat cell (value >= {threshold:g}) in the {rows} x {cols} raster. "
                        "Fix: lower threshold=, or give a habitat layer with 1 (or high suitability) "
                        "where animals can live")
    if spacing is None:
        if abs(abs(a) - abs(e)) > 1e-9 * abs(a):
            raise MaskError(f"{source}: cells are {abs(a):g} x {abs(e):g} m, not square, so they cannot be "
                            f"mask cells. Fix: give spacing= (e.g. spacing={min(abs(a), abs(e)):g}) to "
                            "resample to a square grid")
        spacing = abs(a)
        r, k = np.nonzero(hab)
        xy = np.column_stack([c + a * (k + 0.5), f + e * (r + 0.5)])
    else:
        spacing = float(spacing)
        if not (spacing > 0 and math.isfinite(spacing)):
            raise MaskError(f"spacing = {spacing}. Fix: give a positive mask spacing in metres")
        x0, x1 = sorted((c, c + a * cols))
        y0, y1 = sorted((f, f + e * rows))
        x = x0 + spacing / 2 + spacing * np.arange(int(math.floor((x1 - x0) / spacing + 1e-9)))
        y = y0 + spacing / 2 + spacing * np.arange(int(math.floor((y1 - y0) / spacing + 1e-9)))
        if len(x) == 0 or len(y) == 0:
            raise MaskError(f"{source}: spacing {spacing:g} m exceeds the raster's extent "
                            f"({x1 - x0:g} x {y1 - y0:g} m). Fix: give a smaller spacing")
        gx, gy = np.meshgrid(x, y)
        gx, gy = gx.ravel(), gy.ravel()
        col = np.floor((gx - c) / a).astype(np.int64)
        row = np.floor((gy - f) / e).astype(np.int64)
        inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
        keep = np.zeros(len(gx), dtype=bool)
        keep[inside] = hab[row[inside], col[inside]]
        xy = np.column_stack([gx[keep], gy[keep]])
        if len(xy) == 0:
            raise MaskError(f"{source}: no point of a {spacing:g} m grid falls in a habitat cell. Fix: give a "
                            "smaller spacing (at most the size of the habitat patches)")
    # y ascending, x fastest (secr's expand.grid order, as make_mask)
    order = np.lexsort((xy[:, 0], xy[:, 1]))
    xy = xy[order]
    if buffer is not None:
        if traps is None:
            raise MaskError("buffer= needs the detectors. Fix: pass traps (coordinates, Traps or CaptHist), "
                            "or leave buffer out to keep all habitat in the raster")
        buffer = float(buffer)
        if not (math.isfinite(buffer) and buffer >= 0):
            raise MaskError(f"buffer = {buffer}. Fix: give a buffer width >= 0 in metres")
    if traps is not None:
        txy, _ = _xy_of(traps)
        if len(txy) == 0:
            raise MaskError("no detectors. Fix: give at least one detector location")
        if buffer is not None:
            lo, hi = txy.min(axis=0) - buffer, txy.max(axis=0) + buffer
            box = np.all((xy >= lo) & (xy <= hi), axis=1)
            xy = xy[box]
            if len(xy):
                xy = xy[_distance_to_nearest(xy, txy) <= buffer]
            if len(xy) == 0:
                raise MaskError(f"{source}: no habitat cell lies within {buffer:g} m of a detector (detectors span "
                                f"x {txy[:, 0].min():.0f}..{txy[:, 0].max():.0f}, y {txy[:, 1].min():.0f}..{txy[:, 1].max():.0f} m). "
                                "Fix: check that the detector coordinates are in the raster's CRS, widen "
                                "buffer=, or lower threshold=")
        mask = Mask(xy=xy, spacing=float(spacing))
        ok = _in_mask_cells(mask, txy)
        if not ok.all():
            _, labels = _xy_of(traps)
            bad = np.flatnonzero(~ok)
            listed = ", ".join(f"{labels[k]} ({txy[k, 0]:.10g}, {txy[k, 1]:.10g})" for k in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            where = f" ({crs})" if crs is not None else ""
            raise MaskError(f"{source}: the habitat mask does not cover {len(bad)} of {len(txy)} detectors: "
                            f"{listed}{more} -- they stand on non-habitat or outside the raster. Fix: check "
                            f"that the detector coordinates are in the raster's CRS{where}, extend the raster "
                            "over them, or mark the cells where they stand as habitat (value >= "
                            f"{threshold:g})")
        return mask
    return Mask(xy=xy, spacing=float(spacing))
