"""Regions: integer label layers over the cells, and the one way to aggregate by them.

A region layer gives every cell a code 0 … n − 1 (−1: in no region of that layer) and names
its codes: ``population`` (the reporting unit of the non-spatial model, one cell each),
``country``, protection ``zone``, a reporting region, an intervention's mask. Counts, tallies
and costs are recorded per region with :func:`aggregate`; nothing else sums cells by hand.

In a batch of R replicates the cells of replicate r are r·C … r·C + C − 1 (C cells per
replicate) and its regions r·n … r·n + n − 1: :meth:`RegionLayer.batch_codes` gives that map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class RegionLayer:
    """Cell → region code (int32, −1 for none) and the regions' names."""

    name: str
    codes: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValueError(f"region layer '{self.name}': codes must be one integer per cell")
        if codes.size and (codes.max() >= len(self.names) or codes.min() < -1):
            raise ValueError(f"region layer '{self.name}': codes must lie in −1 … {len(self.names) - 1} (one name per code)")
        object.__setattr__(self, "codes", codes.astype(np.int32))

    @property
    def n_regions(self) -> int:
        return len(self.names)

    @property
    def identity(self) -> bool:
        """Each cell its own region, in order (the non-spatial reporting unit)."""
        return self.codes.size == self.n_regions and bool(np.array_equal(self.codes, np.arange(self.n_regions)))

    def batch_codes(self, n_reps: int) -> np.ndarray:
        """Codes over the cells of a batch of ``n_reps`` replicates (replicate r's regions are
        r·n … r·n + n − 1; −1 stays −1)."""
        c = np.tile(self.codes.astype(np.int64), n_reps)
        offset = np.repeat(np.arange(n_reps, dtype=np.int64) * self.n_regions, self.codes.size)
        return np.where(c >= 0, c + offset, -1)

    def mask(self, name: str) -> np.ndarray:
        """Cells of the region called ``name``."""
        try:
            code = self.names.index(name)
        except ValueError:
            raise KeyError(f"region layer '{self.name}' has no region '{name}'; its regions are {', '.join(self.names)}") from None
        return self.codes == code


@njit(cache=True)
def _sum_rows(values, codes, out):
    for c in range(values.shape[0]):
        g = codes[c]
        if g >= 0:
            for j in range(values.shape[1]):
                out[g, j] += values[c, j]
    return out


def aggregate(values: np.ndarray, codes: np.ndarray, n_out: int) -> np.ndarray:
    """Sum per-cell values (cells first, any trailing shape) into ``n_out`` regions by the
    cells' region ``codes`` (−1: left out). Integer values stay integer."""
    values = np.asarray(values)
    codes = np.asarray(codes, dtype=np.int64)
    if values.shape[0] != codes.size:
        raise ValueError(f"{values.shape[0]} cell values but {codes.size} region codes")
    tail = values.shape[1:]
    if codes.size == n_out and np.array_equal(codes, np.arange(n_out)):
        return values.copy()  # each cell its own region
    flat = values.reshape(values.shape[0], -1)
    dtype = np.int64 if values.dtype.kind in "iub" else np.float64
    out = _sum_rows(flat.astype(dtype, copy=False), codes, np.zeros((n_out, flat.shape[1]), dtype=dtype))
    return out.reshape((n_out,) + tail)
