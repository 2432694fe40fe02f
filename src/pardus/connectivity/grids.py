"""File formats of Circuitscape: grids, point lists, pair lists, graphs; atomic writers.

Readers return NumPy arrays with NaN where a grid has NODATA. Every reader refuses bad input
with one :class:`ConnectivityError` that names the file (and line or key) and the fix.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

__all__ = [
    "ConnectivityError", "GridHeader", "Grid", "read_grid", "write_grid", "check_same_header",
    "read_table", "read_point_list", "points_to_cells", "read_pairs_file", "PairsSpec",
    "read_graph", "read_node_values", "read_node_list", "atomic_write_text", "OutputStage",
    "format_number",
]

NODATA_OUT = -9999.0


class ConnectivityError(ValueError):
    """Bad input for a connectivity job: the message names the file, key or line, and the fix."""


@dataclass(frozen=True)
class GridHeader:
    """Geometry of a north-up raster: lower-left corner, square cells."""

    ncols: int
    nrows: int
    xllcorner: float
    yllcorner: float
    cellsize: float
    nodata: Optional[float] = NODATA_OUT
    crs: Optional[str] = None

    def differences(self, other: "GridHeader") -> list[str]:
        """Which of ncols, nrows, xllcorner, yllcorner, cellsize differ (floats to 1e-9 of a cell)."""
        out = []
        for k in ("ncols", "nrows"):
            if getattr(self, k) != getattr(other, k):
                out.append(f"{k} {getattr(self, k)} vs {getattr(other, k)}")
        tol = 1e-9 * max(abs(self.cellsize), 1e-300)
        for k in ("xllcorner", "yllcorner", "cellsize"):
            if abs(getattr(self, k) - getattr(other, k)) > tol:
                out.append(f"{k} {getattr(self, k)!r} vs {getattr(other, k)!r}")
        return out


@dataclass
class Grid:
    """A raster read from ``path``: ``data`` (float64, NaN = NODATA) and its header."""

    data: np.ndarray
    header: GridHeader
    path: Path


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("latin-1")


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as g:
            head = g.read(4)
    return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


_HEADER_KEYS = {"ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter", "cellsize", "nodata_value", "nodata"}


def _check_file(path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ConnectivityError(f"{what}: {p} does not exist — correct the path (relative paths are taken from the current folder)")
    if p.is_dir():
        raise ConnectivityError(f"{what}: {p} is a folder, not a file — give the file's path")
    if not os.access(p, os.R_OK):
        raise ConnectivityError(f"{what}: {p} cannot be read (permission denied) — make it readable")
    return p


def read_grid(path, what: str = "grid") -> Grid:
    """Read an Arc/Info ASCII grid (``.asc``, gzip-compressed or not; header keys in any case,
    ``xllcenter``/``yllcenter`` converted to corners, any whitespace and line ends) or a GeoTIFF
    (plain or gzip, via rasterio). NODATA cells (and NaN) become NaN. ``what`` names the ini key
    in messages."""
    p = _check_file(path, what)
    if _is_tiff(p):
        return _read_tiff(p, what)
    try:
        text = _open_text(p)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConnectivityError(f"{what}: {p} cannot be read — {exc}") from None
    tokens = text.split()
    hdr: dict[str, float] = {}
    i = 0
    while i + 1 < len(tokens) and tokens[i].lower() in _HEADER_KEYS:
        try:
            hdr[tokens[i].lower()] = float(tokens[i + 1])
        except ValueError:
            raise ConnectivityError(f"{what}: {p}: header value {tokens[i]} {tokens[i + 1]!r} is not a number — fix the grid header") from None
        i += 2
    for k in ("ncols", "nrows", "cellsize"):
        if k not in hdr:
            raise ConnectivityError(f"{what}: {p} is not an ASCII grid or GeoTIFF (no {k} in its header) — give an .asc grid with the 6 header lines ncols, nrows, xllcorner, yllcorner, cellsize, NODATA_value")
    ncols, nrows, cs = int(hdr["ncols"]), int(hdr["nrows"]), hdr["cellsize"]
    if ncols <= 0 or nrows <= 0 or not cs > 0:
        raise ConnectivityError(f"{what}: {p}: ncols, nrows and cellsize must be positive")
    xll = hdr["xllcorner"] if "xllcorner" in hdr else hdr.get("xllcenter", 0.0) - cs / 2 if "xllcenter" in hdr else 0.0
    yll = hdr["yllcorner"] if "yllcorner" in hdr else hdr.get("yllcenter", 0.0) - cs / 2 if "yllcenter" in hdr else 0.0
    nod = hdr.get("nodata_value", hdr.get("nodata"))
    body = tokens[i:]
    if len(body) != ncols * nrows:
        raise ConnectivityError(f"{what}: {p}: the header says {nrows} rows × {ncols} columns = {nrows * ncols} values but the file has {len(body)} — fix the header or the data")
    try:
        data = np.array(body, dtype=np.float64).reshape(nrows, ncols)
    except ValueError:
        bad = next(t for t in body if not _isfloat(t))
        raise ConnectivityError(f"{what}: {p}: value {bad!r} is not a number — grids hold numbers only") from None
    if nod is not None:
        data[data == nod] = np.nan
    return Grid(data, GridHeader(ncols, nrows, xll, yll, cs, nod), p)


def _isfloat(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _read_tiff(p: Path, what: str) -> Grid:
    import rasterio

    src_name = str(p)
    with open(p, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            src_name = "/vsigzip/" + str(p)
    try:
        with rasterio.open(src_name) as ds:
            data = ds.read(1).astype(np.float64)
            t = ds.transform
            nod = ds.nodata
            crs = ds.crs.to_wkt() if ds.crs else None
    except Exception as exc:  # rasterio raises its own RasterioIOError
        raise ConnectivityError(f"{what}: {p} cannot be read as GeoTIFF — {exc}") from None
    if t.b != 0 or t.d != 0 or not math.isclose(abs(t.a), abs(t.e), rel_tol=1e-9) or t.e >= 0:
        raise ConnectivityError(f"{what}: {p} is not a north-up raster with square cells — resample it (e.g. gdalwarp) first")
    nrows, ncols = data.shape
    if nod is not None:
        data[data == nod] = np.nan
    data[~np.isfinite(data)] = np.nan
    hdr = GridHeader(ncols, nrows, t.c, t.f + nrows * t.e, t.a, NODATA_OUT if nod is None else nod, crs)
    return Grid(data, hdr, p)


def check_same_header(ref: Grid, other: Grid, ref_key: str, other_key: str) -> None:
    """Refuse grids whose geometry differs from the habitat grid's (Circuitscape only warns)."""
    d = ref.header.differences(other.header)
    if d:
        raise ConnectivityError(
            f"{other_key}: {other.path} does not line up with {ref_key} {ref.path}: {'; '.join(d)} — "
            "every grid of a job needs the same ncols, nrows, xllcorner, yllcorner and cellsize (resample or clip it)")


def format_number(x: float) -> str:
    """Numbers as Circuitscape writes them: integers without a decimal point, else 10
    significant digits."""
    if x == -1 or x == 0 or x == NODATA_OUT:
        return str(int(x))
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def _grid_text(data: np.ndarray, header: GridHeader) -> str:
    buf = io.StringIO()
    buf.write(f"ncols         {header.ncols}\n")
    buf.write(f"nrows         {header.nrows}\n")
    buf.write(f"xllcorner     {header.xllcorner!r}\n")
    buf.write(f"yllcorner     {header.yllcorner!r}\n")
    buf.write(f"cellsize      {header.cellsize!r}\n")
    buf.write(f"NODATA_value  {int(NODATA_OUT)}\n")
    arr = np.where(np.isnan(data), NODATA_OUT, data)
    for row in arr:
        buf.write(" ".join(format_number(float(v)) for v in row))
        buf.write("\n")
    return buf.getvalue()


def _grid_text_fast(data: np.ndarray, header: GridHeader) -> str:
    """Same as :func:`_grid_text` for large grids: %.10g for every value."""
    if data.size < 40000:
        return _grid_text(data, header)
    head = _grid_text(np.zeros((0, header.ncols)), header)
    arr = np.where(np.isnan(data), NODATA_OUT, data)
    buf = io.StringIO()
    np.savetxt(buf, arr, fmt="%.10g", delimiter=" ")
    return head + buf.getvalue()


def write_grid(path, data: np.ndarray, header: GridHeader, compress: bool = False, geotiff: bool = False) -> Path:
    """Write a grid atomically: ``.asc`` (``.asc.gz`` when ``compress``) with Circuitscape's
    header layout and NODATA -9999, or GeoTIFF (``.tif``, LZW) when ``geotiff``. ``path`` is
    given without extension. Returns the written path."""
    base = str(path)
    if geotiff:
        out = Path(base + ".tif")
        _write_tiff(out, data, header)
        return out
    out = Path(base + (".asc.gz" if compress else ".asc"))
    text = _grid_text_fast(data, header).encode("ascii")
    if compress:
        text = gzip.compress(text, mtime=0)
    _atomic_bytes(out, text)
    return out


def _write_tiff(out: Path, data: np.ndarray, header: GridHeader) -> None:
    import rasterio
    from affine import Affine

    arr = np.where(np.isnan(data), NODATA_OUT, data).astype(np.float64)
    transform = Affine(header.cellsize, 0.0, header.xllcorner, 0.0, -header.cellsize, header.yllcorner + header.nrows * header.cellsize)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    _usual_mode(tmp)
    try:
        with rasterio.open(tmp, "w", driver="GTiff", height=header.nrows, width=header.ncols, count=1, dtype="float64",
                           nodata=NODATA_OUT, transform=transform, crs=header.crs, compress="lzw") as ds:
            ds.write(arr, 1)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _usual_mode(path) -> None:
    """Give a temporary file the permissions of a file written directly (0666 less the umask),
    not the private 0600 of ``mkstemp``, before it is renamed into place."""
    from ..fileio import current_umask

    os.chmod(path, 0o666 & ~current_umask())


def _atomic_bytes(out: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    _usual_mode(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    out = Path(path)
    _atomic_bytes(out, text.encode("utf-8"))
    return out


class OutputStage:
    """Collects a job's outputs in hidden temporary files beside their final names and moves
    them into place only when :meth:`commit` is called; :meth:`discard` (on any error) removes
    them, so that a failed job leaves nothing half-written."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.pending: list[tuple[Path, Path]] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConnectivityError(f"output_file: its folder {self.folder} cannot be created — {exc.strerror or exc}; choose another output prefix") from None

    def _tmp(self, final: Path) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        os.close(fd)
        _usual_mode(tmp)
        return Path(tmp)

    def text(self, final, text: str) -> Path:
        final = Path(final)
        tmp = self._tmp(final)
        tmp.write_text(text, encoding="utf-8")
        self.pending.append((tmp, final))
        return final

    def grid(self, base, data: np.ndarray, header: GridHeader, compress: bool = False, geotiff: bool = False) -> Path:
        base = str(base)
        final = Path(base + (".tif" if geotiff else ".asc.gz" if compress else ".asc"))
        tmp = self._tmp(final)
        if geotiff:
            tmp.unlink()
            written = write_grid(str(tmp) + ".stage", data, header, geotiff=True)
            os.replace(written, tmp)
        else:
            raw = _grid_text_fast(data, header).encode("ascii")
            tmp.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
        self.pending.append((tmp, final))
        return final

    def commit(self) -> list[Path]:
        done = []
        for tmp, final in self.pending:
            os.replace(tmp, final)
            done.append(final)
        self.pending = []
        return done

    def discard(self) -> None:
        for tmp, _final in self.pending:
            try:
                tmp.unlink()
            except OSError:
                pass
        self.pending = []


# ---------------------------------------------------------------- text tables


def read_table(path, what: str, ncols_min: int, ncols_max: Optional[int] = None, header_words: tuple[str, ...] = ()) -> tuple[np.ndarray, list[int]]:
    """Whitespace-separated numbers, one record per line; blank lines and lines starting with
    ``#`` or ``;`` skipped. Returns the values (rows × ncols) and each row's line number.
    A line with a non-number or the wrong number of fields is refused with its line number."""
    p = _check_file(path, what)
    try:
        text = _open_text(p)
    except OSError as exc:
        raise ConnectivityError(f"{what}: {p} cannot be read — {exc}") from None
    rows, lines = [], []
    width = None
    for ln, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        parts = s.split()
        if ln == 1 and parts[0].lower() in header_words:
            continue
        n = len(parts)
        hi = ncols_max if ncols_max is not None else ncols_min
        if n < ncols_min or n > hi:
            want = f"{ncols_min}" if hi == ncols_min else f"{ncols_min} to {hi}"
            raise ConnectivityError(f"{what}: {p}: line {ln}: {s!r} has {n} field(s), expected {want} — fix that line")
        try:
            vals = [float(t) for t in parts]
        except ValueError:
            raise ConnectivityError(f"{what}: {p}: line {ln}: {s!r} is not all numbers — fix that line") from None
        if width is None:
            width = n
        elif n != width:
            raise ConnectivityError(f"{what}: {p}: line {ln}: {n} fields where the lines above have {width} — fix that line")
        rows.append(vals)
        lines.append(ln)
    if not rows:
        raise ConnectivityError(f"{what}: {p} holds no data lines — give at least one record")
    return np.array(rows, dtype=np.float64), lines


def _as_int(v: float, what: str, p, ln: int, name: str) -> int:
    if not float(v).is_integer():
        raise ConnectivityError(f"{what}: {p}: line {ln}: {name} {v!r} is not a whole number — ids are integers")
    return int(v)


def is_text_list(path) -> bool:
    """True when ``path`` is neither an ASCII grid nor a GeoTIFF (Circuitscape's file sniffing)."""
    p = Path(path)
    if _is_tiff(p):
        return False
    head = _open_text(p)[:64].lstrip().lower()
    return not head.startswith(("ncols", "nrows", "xllcorner", "yllcorner", "cellsize"))


def read_point_list(path, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """A text list ``value x y`` (map coordinates): returns values, x, y and line numbers."""
    t, lines = read_table(path, what, 3)
    return t[:, 0], t[:, 1], t[:, 2], lines


def points_to_cells(x: np.ndarray, y: np.ndarray, header: GridHeader, what: str, path, lines: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """0-based (row, col) of map coordinates as Circuitscape computes them:
    ``row = ceil(nrows - (y - yll)/cellsize)``, ``col = ceil((x - xll)/cellsize)`` (1-based).
    A point outside the grid is refused (Circuitscape: "falls outside of habitat map")."""
    r = np.ceil(header.nrows - (y - header.yllcorner) / header.cellsize).astype(np.int64) - 1
    c = np.ceil((x - header.xllcorner) / header.cellsize).astype(np.int64) - 1
    bad = (r < 0) | (r >= header.nrows) | (c < 0) | (c >= header.ncols)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConnectivityError(
            f"{what}: {path}: line {lines[k]}: point ({x[k]!r}, {y[k]!r}) falls outside the habitat grid "
            f"(x {header.xllcorner}..{header.xllcorner + header.ncols * header.cellsize}, y {header.yllcorner}..{header.yllcorner + header.nrows * header.cellsize}) — fix its coordinates or remove it")
    return r, c


@dataclass
class PairsSpec:
    """Included/excluded focal-node pairs. ``mode`` is ``include`` or ``exclude``; ``ids`` the
    point ids the file names; ``matrix[i, j]`` is 1 where pair (ids[i], ids[j]) is listed."""

    mode: str
    ids: np.ndarray
    matrix: np.ndarray


def read_pairs_file(path, what: str = "included_pairs_file", zero_is_id: bool = False) -> PairsSpec:
    """Circuitscape's two pair-file formats:

    - ``mode include|exclude`` then one ``id id`` pair per line;
    - ``min v`` / ``max v`` then a matrix whose first row and column are ids: pair (i, j) is
      included when ``min <= value <= max`` (Circuitscape's ``read_included_pairs``).

    An id 0 in a pair list is dropped (raster focal ids start at 1; Circuitscape drops it the
    same way) unless ``zero_is_id`` (network nodes may be numbered from 0)."""
    p = _check_file(path, what)
    text = _open_text(p)
    lines = [(i, ln.split()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.strip().startswith(("#", ";"))]
    if not lines:
        raise ConnectivityError(f"{what}: {p} is empty — start it with 'mode include' (or exclude) and list id pairs")
    first = lines[0][1][0].lower()
    if first == "mode":
        if len(lines[0][1]) != 2 or lines[0][1][1].lower() not in ("include", "exclude"):
            raise ConnectivityError(f"{what}: {p}: line {lines[0][0]}: write 'mode include' or 'mode exclude'")
        mode = lines[0][1][1].lower()
        pairs = []
        for ln, parts in lines[1:]:
            if len(parts) != 2:
                raise ConnectivityError(f"{what}: {p}: line {ln}: {' '.join(parts)!r} — each line after the mode line is one pair 'id id'")
            try:
                a, b = (float(t) for t in parts)
            except ValueError:
                raise ConnectivityError(f"{what}: {p}: line {ln}: {' '.join(parts)!r} is not two numbers — fix that line") from None
            pairs.append((_as_int(a, what, p, ln, "id"), _as_int(b, what, p, ln, "id")))
        ids = np.array(sorted({v for pr in pairs for v in pr if v != 0 or zero_is_id}), dtype=np.int64)
        pos = {v: i for i, v in enumerate(ids)}
        mat = np.zeros((len(ids), len(ids)), dtype=np.int8)
        for a, b in pairs:
            if a in pos and b in pos:
                mat[pos[a], pos[b]] = mat[pos[b], pos[a]] = 1
        return PairsSpec(mode, ids, mat)
    if first == "min":
        try:
            lo = float(lines[0][1][1])
            if lines[1][1][0].lower() != "max":
                raise IndexError
            hi = float(lines[1][1][1])
        except (IndexError, ValueError):
            raise ConnectivityError(f"{what}: {p}: the matrix form starts with two lines 'min <value>' and 'max <value>'") from None
        rows = lines[2:]
        if not rows:
            raise ConnectivityError(f"{what}: {p}: no matrix after the min/max lines")
        try:
            ids = np.array([float(t) for t in rows[0][1][1:]])
            mat_rows = []
            for ln, parts in rows[1:]:
                vals = [float(t) for t in parts]
                if len(vals) != len(ids) + 1:
                    raise ConnectivityError(f"{what}: {p}: line {ln}: {len(vals)} fields, expected {len(ids) + 1} (the id and one value per column)")
                mat_rows.append(vals)
        except ValueError:
            raise ConnectivityError(f"{what}: {p}: the matrix holds a non-number — fix it") from None
        m = np.array(mat_rows)
        row_ids = m[:, 0]
        vals = m[:, 1:]
        if len(row_ids) != len(ids) or not np.array_equal(row_ids, ids):
            raise ConnectivityError(f"{what}: {p}: the first column ids {row_ids.astype(int).tolist()} differ from the first row ids {ids.astype(int).tolist()} — make the matrix square with the same ids")
        vals = np.where(vals > hi, 0, vals)
        inc = (vals >= lo).astype(np.int8)
        return PairsSpec("include", ids.astype(np.int64), inc)
    raise ConnectivityError(f"{what}: {p}: not a pairs file — start it with 'mode include' / 'mode exclude' and id pairs, or with 'min'/'max' lines and a matrix")


# ---------------------------------------------------------------- network files


def read_graph(path, what: str = "habitat_file", is_resistance: bool = False):
    """A network file ``node_a node_b value`` (one edge a line). Returns (ids_a, ids_b,
    conductances) with integer node ids as written. Resistances are inverted; a resistance 0,
    a negative value or a non-integer node id is refused with its line number."""
    t, lines = read_table(path, what, 3)
    a, b, v = t[:, 0], t[:, 1], t[:, 2]
    for arr, name in ((a, "node id"), (b, "node id")):
        bad = (arr != np.floor(arr)) | (arr < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ConnectivityError(f"{what}: {path}: line {lines[k]}: {name} {arr[k]!r} is not a whole number >= 0 — node ids are integers")
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConnectivityError(f"{what}: {path}: line {lines[k]}: value {v[k]!r} — {'resistances' if is_resistance else 'conductances'} must be finite and >= 0")
    if is_resistance:
        if (v == 0).any():
            k = int(np.flatnonzero(v == 0)[0])
            raise ConnectivityError(f"{what}: {path}: line {lines[k]}: resistance 0 is not supported — merge the two nodes into one, or give a small positive resistance")
        v = 1.0 / v
    return a.astype(np.int64), b.astype(np.int64), v, lines


def read_node_list(path, what: str = "point_file") -> np.ndarray:
    """Focal nodes of network mode: one node id per line (the first column if there are more)."""
    t, lines = read_table(path, what, 1, 3)
    ids = t[:, 0]
    bad = ids != np.floor(ids)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConnectivityError(f"{what}: {path}: line {lines[k]}: node id {ids[k]!r} is not a whole number")
    return ids.astype(np.int64)


def read_node_values(path, what: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``node value`` lines (network sources, grounds; variable source strengths ``id strength``)."""
    t, lines = read_table(path, what, 2)
    ids = t[:, 0]
    bad = ids != np.floor(ids)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConnectivityError(f"{what}: {path}: line {lines[k]}: id {ids[k]!r} is not a whole number")
    return ids.astype(np.int64), t[:, 1], lines
