"""The individual table: one row per animal, columns not objects.

Rows are kept sorted by ``id`` (births and releases are appended with new, larger ids and
removal keeps order), so a parent's row is found by binary search. Deaths are *marked*
(``cause >= 0``) by the processes and removed in one place (:meth:`Population.remove_dead`),
together with the matching rows and columns of the kinship matrix.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FEMALE, MALE = 0, 1
ALIVE = -1  # value of ``cause`` for a living animal
ORIGIN_FOUNDER, ORIGIN_BORN, ORIGIN_RELEASED = 0, 1, 2

# (name, dtype, units, meaning) of every column; the contract tests check processes against it
COLUMNS: dict[str, tuple[str, str, str]] = {
    "id": ("int64", "-", "unique id, increasing with time of entry"),
    "sex": ("int8", "-", "0 female, 1 male"),
    "age": ("int32", "years", "age in completed years during the current year"),
    "cause": ("int8", "-", "-1 alive, else index into CAUSES: marked dead this year"),
    "mother": ("int64", "-", "id of the mother, -1 for founders and releases"),
    "father": ("int64", "-", "id of the father, -1 for founders and releases"),
    "cell": ("int32", "-", "population (non-spatial) or landscape cell the animal lives in"),
    "F": ("float64", "-", "pedigree inbreeding coefficient"),
    "origin": ("int8", "-", "0 wild founder, 1 born in the simulation, 2 released from captivity"),
    "protected": ("bool", "-", "vaccinated and protected against disease this year"),
    "captive_share": ("float64", "-", "expected share of the genome from captive founders"),
}


@njit(cache=True)
def _compact(n, cause, cols_i64, cols_i32, cols_f64, cols_small, kin, geno):
    """Move the living rows (cause == -1) of the first n to the front, in order; returns their
    number. Columns are grouped by dtype so that one compiled function moves them all."""
    k = 0
    keep = np.empty(n, dtype=np.int64)
    for r in range(n):
        if cause[r] == -1:
            keep[k] = r
            k += 1
    if k == n:
        return n
    for i in range(k):
        src = keep[i]
        for j in range(k):
            kin[i, j] = kin[src, keep[j]]
        if src != i:
            cause[i] = -1
            geno[i] = geno[src]
            for c in cols_i64:
                c[i] = c[src]
            for c in cols_i32:
                c[i] = c[src]
            for c in cols_f64:
                c[i] = c[src]
            for c in cols_small:
                c[i] = c[src]
    for r in range(k, n):
        cause[r] = -1
    return k


class Population:
    """Columns of the living (and this year's marked-dead) animals plus their kinship matrix."""

    def __init__(self, n_loci: int, capacity: int = 256):
        self.n_loci = n_loci
        self.n = 0
        self._alloc(capacity)
        self.next_id = 0
        self.next_allele = 0

    # -- storage ------------------------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        self.cap = cap
        for name, (dtype, _u, _m) in COLUMNS.items():
            setattr(self, name, np.zeros(cap, dtype=dtype))
        self.cause[:] = ALIVE
        self.geno = np.zeros((cap, self.n_loci, 2), dtype=np.int32)
        self.kin = np.zeros((cap, cap), dtype=np.float64)

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows (amortised doubling)."""
        need = self.n + extra
        if need <= self.cap:
            return
        cap = max(need, 2 * self.cap)
        old = {name: getattr(self, name) for name in COLUMNS}
        old_geno, old_kin, n = self.geno, self.kin, self.n
        self._alloc(cap)
        for name, arr in old.items():
            getattr(self, name)[:n] = arr[:n]
        self.geno[:n] = old_geno[:n]
        self.kin[:n, :n] = old_kin[:n, :n]

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.n]

    def alive_mask(self) -> np.ndarray:
        return self.cause[: self.n] == ALIVE

    def row_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the given ids (-1 where the animal is no longer in the table)."""
        ids = np.asarray(ids)
        rows = np.searchsorted(self.id[: self.n], ids)
        rows = np.clip(rows, 0, max(self.n - 1, 0))
        ok = (self.n > 0) & (self.id[rows] == ids) & (ids >= 0)
        return np.where(ok, rows, -1)

    def new_ids(self, k: int) -> np.ndarray:
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        self.next_id += k
        return ids

    def new_alleles(self, k: int) -> np.ndarray:
        a = np.arange(self.next_allele, self.next_allele + k, dtype=np.int32)
        self.next_allele += k
        return a

    def _groups(self):
        """Columns grouped by storage type (numba needs homogeneous tuples); one-byte columns
        (int8, bool) are viewed as int8."""
        by = {"int64": [], "int32": [], "float64": [], "small": []}
        for name, (dtype, _u, _m) in COLUMNS.items():
            if name == "cause":
                continue
            col = getattr(self, name)
            key = dtype if dtype in ("int64", "int32", "float64") else "small"
            by[key].append(col.view(np.int8) if key == "small" else col)
        return tuple(by[k] for k in ("int64", "int32", "float64")) + (by["small"],)

    def remove_dead(self) -> None:
        """Drop every marked-dead row (and its kinship row and column), keeping id order."""
        i64, i32, f64, small = self._groups()
        self.n = int(_compact(self.n, self.cause, tuple(i64), tuple(i32), tuple(f64), tuple(small), self.kin, self.geno))
