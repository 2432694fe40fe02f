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

Masks from a raster habitat layer and the buffer-adequacy check (secr's ``suggest.buffer`` /
``esa.plot``, which need the fitted detection model) are not here yet.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass

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
    half = mask.spacing / 2 * (1 + 1e-9)
    ok = np.zeros(len(txy), dtype=bool)
    for a in range(0, len(m), 4096):
        p = m[a:a + 4096]
        near = (np.abs(txy[:, None, 0] - p[None, :, 0]) <= half) & \
               (np.abs(txy[:, None, 1] - p[None, :, 1]) <= half)
        ok |= near.any(axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        listed = ", ".join(f"{tl[k]} ({txy[k, 0]:g}, {txy[k, 1]:g})" for k in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise MaskError(f"the mask ({len(m)} points, spacing {mask.spacing:g} m) does not cover "
                        f"{len(bad)} of {len(txy)} detectors: {listed}{more}. Fix: build the mask "
                        "around these detectors (make_mask(traps, buffer=...)), or widen the "
                        "habitat polygon to include them")
    return True
