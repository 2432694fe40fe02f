"""The individual table: one row per animal, columns not objects.

Rows are kept sorted by ``id`` (births and releases are appended with new, larger ids and
removal keeps order), so a parent's row is found by binary search. Deaths are *marked*
(``cause >= 0``) by the processes and removed in one place (:meth:`Population.remove_dead`).

Kinship of the living is a dense symmetric store ``kin`` indexed by each animal's ``slot``, not
by its row: removing the dead moves table rows but never the store (a dead animal's slot is
reused by a later one), so a year costs O(N · (births + deaths)) kinship work, not O(N²). The
sum of kinship over all ordered pairs of the table is kept up to date by the same events, so
mean kinship costs nothing at the census. The store holds float64 while it has at most
``KIN_FLOAT32_ABOVE`` slots and float32 beyond (≈ 7 significant digits; a population of 10,000
then needs about 0.7 GiB instead of 1.4).
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
    "slot": ("int32", "-", "index of the animal in the kinship store (reused after its death)"),
}
KIN_FLOAT32_ABOVE = 4096  # slots


def _kin_dtype(cap: int):
    return np.float32 if cap > KIN_FLOAT32_ABOVE else np.float64


NO_SLOT = -1  # a marked-dead animal whose slot was already given up (see release_dead_slots)


@njit(cache=True)
def _pair_sum(kin, slot, a0, a1, b0, b1):
    """Σ kin over rows a0 … a1−1 × rows b0 … b1−1 that hold a slot (float64 accumulation)."""
    tot = 0.0
    for i in range(a0, a1):
        if slot[i] < 0:
            continue
        row = kin[slot[i]]
        for j in range(b0, b1):
            if slot[j] >= 0:
                tot += row[slot[j]]
    return tot


@njit(cache=True)
def _removed_sum(kin, slot, cause, n):
    """Σ over ordered pairs of rows holding a slot that involve at least one marked-dead row."""
    dead = np.empty(n, dtype=np.int64)
    k = 0
    for r in range(n):
        if cause[r] != -1 and slot[r] >= 0:
            dead[k] = r
            k += 1
    tot = 0.0
    for a in range(k):
        row = kin[slot[dead[a]]]
        for j in range(n):
            if slot[j] >= 0:
                tot += 2.0 * row[slot[j]]
        for b in range(k):
            tot -= row[slot[dead[b]]]
    return tot


@njit(cache=True)
def _compact(n, cause, cols_i64, cols_i32, cols_f64, cols_small, geno):
    """Move the living rows (cause == -1) of the first n to the front, in order; returns their
    number. Columns are grouped by dtype so that one compiled function moves them all (the
    ``slot`` column moves with its row; the kinship store itself does not move)."""
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
    """Columns of the living (and this year's marked-dead) animals plus their kinship store."""

    def __init__(self, n_loci: int, capacity: int = 256, kin_capacity: int | None = None):
        self.n_loci = n_loci
        self.n = 0
        self._alloc(capacity)
        k = capacity if kin_capacity is None else kin_capacity
        self.kin = np.zeros((k, k), dtype=_kin_dtype(k))
        self.kin_sum: float | None = None  # Σ kin over ordered pairs of rows 0 … n−1; None = not known
        self.next_id = 0
        self.next_allele = 0

    # -- storage ------------------------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        self.cap = cap
        for name, (dtype, _u, _m) in COLUMNS.items():
            setattr(self, name, np.zeros(cap, dtype=dtype))
        self.cause[:] = ALIVE
        self.slot[:] = np.arange(cap)  # rows set up by hand (tests) use the slot of their row
        self.geno = np.zeros((cap, self.n_loci, 2), dtype=np.int32)

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows (amortised doubling)."""
        need = self.n + extra
        if need <= self.cap:
            return
        cap = max(need, 2 * self.cap)
        old = {name: getattr(self, name) for name in COLUMNS}
        old_geno, n = self.geno, self.n
        self._alloc(cap)
        for name, arr in old.items():
            getattr(self, name)[:n] = arr[:n]
        self.geno[:n] = old_geno[:n]

    # -- kinship ------------------------------------------------------------------------------
    def assign_slots(self, rows: np.ndarray) -> np.ndarray:
        """Give new rows (at or beyond ``n``) free slots of the kinship store; returns them.

        The store grows when needed: doubling while small, by an eighth once it is large, so
        that a big population does not pay for twice the memory it needs."""
        rows = np.asarray(rows)
        used = np.zeros(self.kin.shape[0], dtype=bool)
        held = self.slot[: self.n]
        used[held[held >= 0]] = True
        free = np.flatnonzero(~used)
        if free.size < rows.size:
            need = self.n + rows.size
            size = self.kin.shape[0]
            grown = max(need, 2 * size if size < KIN_FLOAT32_ABOVE else size + size // 8)
            kin = np.zeros((grown, grown), dtype=_kin_dtype(grown))
            kin[:size, :size] = self.kin
            self.kin = kin
            free = np.r_[free, np.arange(size, grown)]
        self.slot[rows] = free[: rows.size]
        return self.slot[rows]

    def kinship(self, rows_a: np.ndarray, rows_b: np.ndarray | None = None) -> np.ndarray:
        """Kinship of the animals in ``rows_a`` with those in ``rows_b`` (default: the same);
        NaN for a dead animal that has given up its slot."""
        a = self.slot[np.asarray(rows_a)]
        b = a if rows_b is None else self.slot[np.asarray(rows_b)]
        out = self.kin[np.ix_(a, b)].astype(np.float64)
        out[a < 0, :] = np.nan
        out[:, b < 0] = np.nan
        return out

    def release_dead_slots(self) -> None:
        """Give up the slots of the animals marked dead so far this year, so that the year's
        newborns can take them: the store then needs room for survivors and newborns, not for
        the year's dead as well. Their pairs leave the running sum now instead of at removal."""
        n = self.n
        dead = (self.cause[:n] != ALIVE) & (self.slot[:n] >= 0)
        if not dead.any():
            return
        if self.kin_sum is not None:
            self.kin_sum -= _removed_sum(self.kin, self.slot, self.cause, n)
        self.slot[:n][dead] = NO_SLOT

    def set_kinship(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Write the kinship among ``rows`` (a square matrix; for tests and set-ups)."""
        s = self.slot[np.asarray(rows)]
        self.kin[np.ix_(s, s)] = values
        self.kin_sum = None

    def appended(self, n0: int, added: float | None = None) -> None:
        """Rows n0 … n−1 were added with their kinship filled: update the pair sum (by
        ``added`` when the caller summed their pairs while writing them)."""
        if self.kin_sum is not None:
            n = self.n
            if added is None:
                added = 2.0 * _pair_sum(self.kin, self.slot, n0, n, 0, n0) + _pair_sum(self.kin, self.slot, n0, n, n0, n)
            self.kin_sum += added

    def mean_kinship(self) -> float:
        """Mean kinship over all ordered pairs of the table, self-pairs included."""
        n = self.n
        if n == 0:
            return float("nan")
        if self.kin_sum is None:
            self.kin_sum = _pair_sum(self.kin, self.slot, 0, n, 0, n)
        return self.kin_sum / (n * n)

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
        """Drop every marked-dead row, keeping id order; their kinship slots become free."""
        if self.kin_sum is not None:
            self.kin_sum -= _removed_sum(self.kin, self.slot, self.cause, self.n)
        i64, i32, f64, small = self._groups()
        self.n = int(_compact(self.n, self.cause, tuple(i64), tuple(i32), tuple(f64), tuple(small), self.geno))
