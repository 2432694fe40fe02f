"""GeoTIFF layers in and out (rasterio).

A landscape on disk is a folder of single-band GeoTIFFs aligned to one grid: ``<layer>.tif``
for each named layer (:mod:`pardus.landscape.layers`) and ``region_<name>.tif`` for each region
layer (integer codes, −1 for none; the names of the codes in the file's ``pardus_names`` tag).
Reading checks every file against the first (or against a given grid): CRS, cell size, extent,
rotation, nodata, then the values against the layer's definition, and reports every layer that
does not fit in one message, each with what to do. Writing goes through a temporary name per
file, so an interrupted export leaves no half-written GeoTIFF.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from .core import Landscape
from .grid import Grid
from .layers import LAYERS, LayerError, check_layer
from .regions import RegionLayer

REGION_PREFIX = "region_"


class LandscapeError(ValueError):
    """Landscape files that cannot be used; the message names each file and the fix."""


def _grid_of(src, path: Path, problems: list[str]) -> Grid | None:
    t = src.transform
    if t.b != 0 or t.d != 0:
        problems.append(f"{path}: the raster is rotated (transform {tuple(t)[:6]}) — warp it to a north-up grid (gdalwarp)")
        return None
    if abs(abs(t.a) - abs(t.e)) > 1e-9 * abs(t.a):
        problems.append(f"{path}: cells are {abs(t.a):g} × {abs(t.e):g}, not square — resample to square cells (gdalwarp -tr {abs(t.a):g} {abs(t.a):g})")
        return None
    crs = src.crs.to_string() if src.crs else None
    return Grid(src.height, src.width, float(abs(t.a)), crs, (t.a, t.b, t.c, t.d, t.e, t.f), 4)


def _describe(g: Grid) -> str:
    a, _b, c, _d, e, f = g.transform
    return f"{g.rows} × {g.cols} cells of {g.cell_size:g} from ({c:g}, {f:g}), CRS {g.crs or 'none'}"


def _aligned(g: Grid, ref: Grid, path: Path, layer: str) -> list[str]:
    out = []
    if (g.crs or None) != (ref.crs or None):
        out.append(f"{path}: layer '{layer}' has CRS {g.crs or 'none'}, the landscape {ref.crs or 'none'} — reproject it (gdalwarp -t_srs {ref.crs})")
    elif abs(g.cell_size - ref.cell_size) > 1e-9 * ref.cell_size:
        out.append(f"{path}: layer '{layer}' has cells of {g.cell_size:g}, the landscape {ref.cell_size:g} — resample it (gdalwarp -tr {ref.cell_size:g} {ref.cell_size:g})")
    else:
        a, _b, c, _d, e, f = ref.transform
        same_origin = abs(g.transform[2] - c) <= 1e-6 * ref.cell_size and abs(g.transform[5] - f) <= 1e-6 * ref.cell_size
        if not same_origin or g.shape != ref.shape:
            x1, y1 = c + ref.cols * a, f + ref.rows * e
            out.append(
                f"{path}: layer '{layer}' covers {_describe(g)}, the landscape {_describe(ref)} — clip or extend it to the same extent "
                f"(gdalwarp -te {min(c, x1):g} {min(f, y1):g} {max(c, x1):g} {max(f, y1):g} -tr {ref.cell_size:g} {ref.cell_size:g})"
            )
    return out


def read_landscape(folder: str | Path, grid: Grid | None = None, neighbours: int = 8) -> Landscape:
    """The landscape of a folder of GeoTIFFs (see the module docstring). ``grid``: the grid they
    must fit (default: the first file's, with ``neighbours``)."""
    import rasterio
    from rasterio.errors import RasterioIOError

    folder = Path(folder)
    if not folder.is_dir():
        raise LandscapeError(f"{folder}: no such folder — give a folder of GeoTIFF layers (<layer>.tif, region_<name>.tif)")
    files = sorted(folder.glob("*.tif")) + sorted(folder.glob("*.tiff"))
    if not files:
        raise LandscapeError(f"{folder}: holds no GeoTIFF (.tif) — write one file per layer, named after the layer (e.g. cover.tif)")
    problems: list[str] = []
    ref = grid
    layers: dict[str, np.ndarray] = {}
    regions: dict[str, RegionLayer] = {}
    for path in files:
        stem = path.stem
        is_region = stem.startswith(REGION_PREFIX)
        name = stem[len(REGION_PREFIX):] if is_region else stem
        if not is_region and name not in LAYERS:
            problems.append(f"{path}: '{name}' is no known layer — name the file after one of {', '.join(sorted(LAYERS))}, or region_<name>.tif for a region layer")
            continue
        try:
            with rasterio.open(path) as src:
                if src.count != 1:
                    problems.append(f"{path}: has {src.count} bands — give one band per file")
                    continue
                g = _grid_of(src, path, problems)
                if g is None:
                    continue
                data = src.read(1, masked=True)
                tags = src.tags()
        except RasterioIOError as exc:
            problems.append(f"{path}: cannot be read as a GeoTIFF ({exc}) — give a valid single-band GeoTIFF")
            continue
        if ref is None:
            ref = Grid(g.rows, g.cols, g.cell_size, g.crs, g.transform, neighbours)
        bad = _aligned(g, ref, path, name)
        if bad:
            problems += bad
            continue
        mask = np.ma.getmaskarray(data)
        if mask.any():
            r, c = np.argwhere(mask)[0]
            problems.append(f"{path}: layer '{name}' has {int(mask.sum())} nodata cell(s) (first at row {r}, column {c}) — every cell needs a value: fill them (gdal_fillnodata) or give the area outside the study region a value (e.g. cover 0 = water)")
            continue
        values = np.asarray(data).ravel()
        if is_region:
            names = json.loads(tags.get("pardus_names", "null") or "null")
            codes = values.astype(np.int64)
            if names is None:
                names = [str(k) for k in range(int(codes.max()) + 1 if codes.size else 0)]
            try:
                regions[name] = RegionLayer(name, codes.astype(np.int32), tuple(names))
            except ValueError as exc:
                problems.append(f"{path}: {exc}")
            continue
        spec = LAYERS[name]
        if spec.codes is not None and "pardus_codes" in tags:
            given = {int(k): v for k, v in json.loads(tags["pardus_codes"]).items()}
            if given != dict(spec.codes):
                problems.append(f"{path}: layer '{name}' codes {given} differ from pardus's {dict(spec.codes)} — recode the raster")
                continue
        try:
            layers[name] = check_layer(name, values, ref.n_cells, str(path))
        except LayerError as exc:
            problems += exc.problems
    if problems:
        raise LandscapeError("; ".join(problems))
    return Landscape(ref, layers, regions)


def _write_tif(path: Path, values: np.ndarray, grid: Grid, tags: dict[str, str]) -> None:
    import rasterio

    arr = np.asarray(values).reshape(grid.shape)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    transform = rasterio.Affine(*grid.transform) if grid.transform else rasterio.Affine(grid.cell_size or 1.0, 0, 0, 0, -(grid.cell_size or 1.0), 0)

    def write(tmp: str) -> None:
        with rasterio.open(
            tmp, "w", driver="GTiff", width=grid.cols, height=grid.rows, count=1, dtype=arr.dtype.name, crs=grid.crs, transform=transform, compress="deflate"
        ) as dst:
            dst.write(arr, 1)
            dst.update_tags(**tags)

    atomic_write(path, write)


def write_landscape(landscape: Landscape, folder: str | Path) -> list[Path]:
    """Every layer and region layer of a spatial landscape as GeoTIFF in ``folder``; the paths."""
    if not landscape.spatial:
        raise LandscapeError("a non-spatial landscape (one cell per population) has no map to export — give a spatial landscape")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, values in landscape.layers.items():
        spec = LAYERS.get(name)
        tags = {"pardus_layer": name, "units": spec.units if spec else ""}
        if spec is not None and spec.codes is not None:
            tags["pardus_codes"] = json.dumps({str(k): v for k, v in spec.codes.items()})
        out.append(folder / f"{name}.tif")
        _write_tif(out[-1], values, landscape.grid, tags)
    for name, reg in landscape.regions.items():
        out.append(folder / f"{REGION_PREFIX}{name}.tif")
        _write_tif(out[-1], reg.codes, landscape.grid, {"pardus_region": name, "pardus_names": json.dumps(list(reg.names))})
    return out
