"""The grid: where cells are (MODEL.md §2).

A landscape is a raster of square cells with a coordinate reference system and an affine
transform (rasterio's order: x = a·col + b·row + c, y = d·col + e·row + f), and a neighbourhood
rule (4 or 8 neighbours) for the processes that spread or move. The non-spatial model is the
special case of k cells without geometry and without neighbours: one cell per population.
Cells are numbered row by row (C order), the order of every layer array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# (row, col) offsets of a cell's neighbours: the four edge neighbours first, then the corners
_EDGE = ((-1, 0), (0, -1), (0, 1), (1, 0))
_CORNER = ((-1, -1), (-1, 1), (1, -1), (1, 1))


@dataclass(frozen=True)
class Grid:
    """Shape, cell size, CRS, transform and neighbourhood of a landscape.

    ``cell_size`` is the side of a cell in the CRS's units (metres for a projected CRS); None
    for a non-spatial landscape, whose cells are places without geometry (``neighbours`` 0).
    """

    rows: int
    cols: int
    cell_size: float | None = None
    crs: str | None = None
    transform: tuple[float, float, float, float, float, float] | None = None
    neighbours: int = 4

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"a grid needs at least one row and one column, not {self.rows} × {self.cols}")
        if self.neighbours not in (0, 4, 8):
            raise ValueError(f"neighbours must be 4 or 8 (0 for a landscape without adjacency), not {self.neighbours}")
        if self.cell_size is not None and not self.cell_size > 0:
            raise ValueError(f"cell_size must be positive, not {self.cell_size}")
        if self.cell_size is None and self.neighbours != 0:
            raise ValueError("a grid without a cell size (non-spatial) has no neighbours: give neighbours = 0")
        if self.transform is not None and len(self.transform) != 6:
            raise ValueError("transform must have six coefficients (a, b, c, d, e, f) as rasterio writes them")

    @classmethod
    def nonspatial(cls, n_cells: int) -> "Grid":
        """k places without geometry: the non-spatial model (one cell per population)."""
        return cls(rows=1, cols=max(int(n_cells), 1), cell_size=None, neighbours=0)

    @classmethod
    def regular(cls, rows: int, cols: int, cell_size: float, origin: tuple[float, float] = (0.0, 0.0), crs: str | None = None, neighbours: int = 4) -> "Grid":
        """A north-up grid whose top-left corner is ``origin`` (x, y)."""
        x0, y0 = origin
        return cls(rows, cols, float(cell_size), crs, (float(cell_size), 0.0, float(x0), 0.0, -float(cell_size), float(y0)), neighbours)

    @property
    def spatial(self) -> bool:
        return self.cell_size is not None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def n_cells(self) -> int:
        return self.rows * self.cols

    @property
    def cell_area_km2(self) -> float | None:
        """Area of one cell in km² (the CRS's unit taken as metres), None without geometry."""
        return None if self.cell_size is None else (self.cell_size / 1000.0) ** 2

    def index(self, row, col) -> np.ndarray:
        """Cell numbers of (row, col) pairs (C order)."""
        return np.asarray(row, dtype=np.int64) * self.cols + np.asarray(col, dtype=np.int64)

    def row_col(self, cell) -> tuple[np.ndarray, np.ndarray]:
        cell = np.asarray(cell, dtype=np.int64)
        return cell // self.cols, cell % self.cols

    @cached_property
    def neighbour_table(self) -> np.ndarray:
        """(cells, 4 or 8) cell numbers of each cell's neighbours, −1 beyond the edge; edge
        neighbours first (north, west, east, south), then the corners. Empty without adjacency."""
        offsets = _EDGE + (_CORNER if self.neighbours == 8 else ()) if self.neighbours else ()
        table = np.full((self.n_cells, len(offsets)), -1, dtype=np.int64)
        r, c = np.divmod(np.arange(self.n_cells), self.cols)
        for j, (dr, dc) in enumerate(offsets):
            rr, cc = r + dr, c + dc
            inside = (rr >= 0) & (rr < self.rows) & (cc >= 0) & (cc < self.cols)
            table[inside, j] = rr[inside] * self.cols + cc[inside]
        return table

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every cell's centre in the CRS (cell units where there is no transform)."""
        r, c = np.divmod(np.arange(self.n_cells, dtype=float), self.cols)
        if self.transform is None:
            size = 1.0 if self.cell_size is None else self.cell_size
            return (c + 0.5) * size, -(r + 0.5) * size
        a, b, x0, d, e, y0 = self.transform
        return a * (c + 0.5) + b * (r + 0.5) + x0, d * (c + 0.5) + e * (r + 0.5) + y0

    def describe(self) -> str:
        if not self.spatial:
            return f"{self.n_cells} cell(s) without geometry (non-spatial)"
        return f"{self.rows} × {self.cols} cells of {self.cell_size:g} m, {self.neighbours} neighbours, CRS {self.crs or 'none'}"
