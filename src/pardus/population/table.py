"""The individual table: one row per animal, columns not objects.

Rows are kept sorted by ``id`` (births and releases are appended with new, larger ids and
removal keeps order), so a parent's row is found by binary search. Deaths are *marked*
(``cause >= 0``) by the processes and removed in one place (:meth:`Population.remove_dead`).

One table holds the animals of every replicate of a batch (the engine advances several
replicates together); the ``rep`` column says whose an animal is, and nothing ever relates
animals of different replicates.

Kinship of the living is a dense symmetric store per replicate, ``kin[rep]``, indexed by each
animal's ``slot``, not by its row: removing the dead moves table rows but never the store (a
dead animal's slot is reused by a later one of its replicate), so a year costs
O(N · (births + deaths)) kinship work, not O(N²). The sum of kinship over all ordered pairs of
each replicate is kept up to date by the same events, so mean kinship costs nothing at the
census. The store holds float64 while it has at most ``KIN_FLOAT32_ABOVE`` slots and float32
beyond (≈ 7 significant digits; a population of 10,000 then needs about 0.7 GiB instead of 1.4).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..landscape.ranges import DEPENDENT, NO_RANGE, RESIDENT, TRANSIENT  # noqa: F401 (the range_id and status columns)
from .breeders import BreederStore
from .pedigree import Pedigree

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
    "slot": ("int32", "-", "index of the animal in its replicate's kinship store (reused after its death)"),
    "range_id": ("int32", "-", "the animal's home range in the landscape's range table, -1 none (non-spatial model, cubs, transients)"),
    "status": ("int8", "-", "0 resident, 1 dependent on its mother, 2 transient (looking for a range)"),
    "rep": ("int32", "-", "replicate of the batch the animal belongs to"),
}
KIN_FLOAT32_ABOVE = 4096  # slots


def _kin_dtype(cap: int):
    return np.float32 if cap > KIN_FLOAT32_ABOVE else np.float64


NO_SLOT = -1  # a marked-dead animal whose slot was already given up (see release_dead_slots)


@njit(cache=True)
def held_mask(slot, rep, n, n_reps, size):
    """held[r, s]: slot s of replicate r belongs to one of the rows 0 … n−1."""
    held = np.zeros((n_reps, size), dtype=np.bool_)
    for i in range(n):
        if slot[i] >= 0:
            held[rep[i], slot[i]] = True
    return held


@njit(cache=True)
def held_lists(slot, rep, n, n_reps, size):
    """(lists, counts): lists[r, :counts[r]] are the slots held by replicate r's rows among
    rows 0 … n−1, in row order (room for ``size`` per replicate)."""
    lists = np.empty((n_reps, size), dtype=np.int64)
    counts = np.zeros(n_reps, dtype=np.int64)
    for i in range(n):
        if slot[i] >= 0:
            r = rep[i]
            lists[r, counts[r]] = slot[i]
            counts[r] += 1
    return lists, counts


@njit(cache=True)
def _pair_sums(kin, slot, rep, n, out):
    """out[r] = Σ kin over ordered pairs of rows 0 … n−1 of replicate r that hold a slot."""
    n_reps, size = kin.shape[0], kin.shape[1]
    held = held_mask(slot, rep, n, n_reps, size)
    idx = np.empty(size, dtype=np.int64)
    for r in range(n_reps):
        k = 0
        for s in range(size):
            if held[r, s]:
                idx[k] = s
                k += 1
        tot = 0.0
        for a in range(k):
            row = kin[r, idx[a]]
            for b in range(k):
                tot += row[idx[b]]
        out[r] = tot
    return out


@njit(cache=True)
def _removed_sums(kin, slot, rep, cause, n, out):
    """out[r] = Σ over ordered pairs of replicate r's rows holding a slot that involve at least
    one marked-dead row (what their removal takes from the pair sum)."""
    n_reps, size = kin.shape[0], kin.shape[1]
    held, count = held_lists(slot, rep, n, n_reps, size)
    dead = np.empty((n_reps, size), dtype=np.int64)
    n_dead = np.zeros(n_reps, dtype=np.int64)
    for i in range(n):
        if cause[i] != -1 and slot[i] >= 0:
            r = rep[i]
            dead[r, n_dead[r]] = slot[i]
            n_dead[r] += 1
    for r in range(n_reps):
        tot = 0.0
        hr = held[r]
        for a in range(n_dead[r]):
            row = kin[r, dead[r, a]]
            for j in range(count[r]):
                tot += 2.0 * row[hr[j]]
            for b in range(n_dead[r]):
                tot -= row[dead[r, b]]
        out[r] = tot
    return out


@njit(cache=True)
def _appended_sums(kin, slot, rep, n0, n, out):
    """out[r] = what rows n0 … n−1 of replicate r add to its pair sum."""
    n_reps, size = kin.shape[0], kin.shape[1]
    held = held_mask(slot, rep, n, n_reps, size)
    for i in range(n0, n):
        if slot[i] < 0:
            continue
        r = rep[i]
        row = kin[r, slot[i]]
        tot = 0.0
        for s in range(size):
            if held[r, s]:
                tot += 2.0 * row[s]
        for j in range(n0, n):
            if slot[j] >= 0 and rep[j] == r:
                tot -= row[slot[j]]
        out[r] += tot
    return out


@njit(cache=True)
def _assign(slot, rep, n, rows, n_reps, size):
    """Give ``rows`` the lowest free slots of their replicates; returns the largest number of
    slots a replicate needs (> size: nothing was assigned, the store must grow)."""
    used = held_mask(slot, rep, n, n_reps, size)
    count = np.zeros(n_reps, dtype=np.int64)
    for r in range(n_reps):
        for s in range(size):
            if used[r, s]:
                count[r] += 1
    for i in range(rows.shape[0]):
        count[rep[rows[i]]] += 1
    need = 0
    for r in range(n_reps):
        need = max(need, count[r])
    if need > size:
        return need
    nxt = np.zeros(n_reps, dtype=np.int64)
    for i in range(rows.shape[0]):
        r = rep[rows[i]]
        s = nxt[r]
        while used[r, s]:
            s += 1
        used[r, s] = True
        slot[rows[i]] = s
        nxt[r] = s + 1
    return need


@njit(cache=True)
def _compact(n, cause, cols_i64, cols_i32, cols_f64, cols_small, geno):
    """Move the living rows (cause == -1) of the first n to the front, in order; returns their
    number. Columns are grouped by dtype so that one compiled function moves them all, one
    column at a time (the ``slot`` column moves with its row; the kinship store itself does not
    move); ``geno`` is the genotype array viewed as (rows, loci · 2)."""
    k = 0
    keep = np.empty(n, dtype=np.int64)
    for r in range(n):
        if cause[r] == -1:
            keep[k] = r
            k += 1
    if k == n:
        return n
    first = 0  # rows before the first dead one stay where they are
    while first < k and keep[first] == first:
        first += 1
    width = geno.shape[1]
    for i in range(first, k):
        src = keep[i]
        for j in range(width):
            geno[i, j] = geno[src, j]
    for c in cols_i64:
        for i in range(first, k):
            c[i] = c[keep[i]]
    for c in cols_i32:
        for i in range(first, k):
            c[i] = c[keep[i]]
    for c in cols_f64:
        for i in range(first, k):
            c[i] = c[keep[i]]
    for c in cols_small:
        for i in range(first, k):
            c[i] = c[keep[i]]
    for r in range(first, n):
        cause[r] = -1
    return k


class Population:
    """Columns of the living (and this year's marked-dead) animals of a batch of replicates,
    plus each replicate's kinship store."""

    def __init__(self, n_loci: int, capacity: int = 256, kin_capacity: int | None = None, n_reps: int = 1, kinship: str = "dense", breeders: bool = True, breeder_dtype=np.float64, breeder_capacity: int = 64):
        self.n_loci = n_loci
        self.n_reps = n_reps
        self.n = 0
        self._alloc(capacity)
        # "dense": a kinship store per replicate (fast for small populations); "pedigree": every
        # animal a node of the stored pedigree, F and mean kinship computed from it
        # (:mod:`pardus.population.pedigree`; memory O(animals ever), for large populations)
        self.dense = kinship == "dense"
        if kinship not in ("dense", "pedigree"):
            raise ValueError(f"kinship must be 'dense' or 'pedigree', not {kinship!r}")
        k = (capacity if kin_capacity is None else kin_capacity) if self.dense else 1
        self.kin3 = np.zeros((n_reps, k, k), dtype=_kin_dtype(k))
        self.ped = None if self.dense else Pedigree(max(1024, 4 * capacity))
        # pedigree mode: the breeders' kinship kept dense (:mod:`pardus.population.breeders`),
        # unless too large, then walked from the pedigree for every pair
        self.breeders = BreederStore(n_reps, self.ped.sire.size, capacity=breeder_capacity, dtype=breeder_dtype) if (self.ped is not None and breeders) else None
        self._captive_groups: dict[int, int] = {}
        # Σ kin over ordered pairs of each replicate's rows; None = not known (recomputed once)
        self.kin_sums: np.ndarray | None = None
        self.next_id = 0
        self.next_allele = 0

    @property
    def kin(self) -> np.ndarray:
        """The kinship store: (slots, slots) for a single replicate, else (reps, slots, slots)."""
        return self.kin3[0] if self.n_reps == 1 else self.kin3

    @property
    def kin_sum(self) -> float | None:
        return None if self.kin_sums is None else float(self.kin_sums.sum())

    # -- storage ------------------------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        self.cap = cap
        for name, (dtype, _u, _m) in COLUMNS.items():
            setattr(self, name, np.zeros(cap, dtype=dtype))
        self.cause[:] = ALIVE
        self.range_id[:] = NO_RANGE
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
    # -- pedigree mode ----------------------------------------------------------------------------
    def add_founder_rows(self, rows: np.ndarray, theta: float, group: int | None = None) -> int:
        """Rows (at or beyond ``n``) are founders with kinship θ among them (pedigree mode):
        below a new metafounder, or below ``group``; returns the group."""
        g = self.ped.metafounder(theta) if group is None else group
        nodes = self.ped.add_founders(len(rows), g)
        self.slot[rows] = nodes
        if self.breeders is not None and len(rows):
            r = int(self.rep[rows[0]])
            self.breeders.reserve_nodes(self.ped.sire.size)
            if group is None:
                self.breeders.add_metafounder(r, g, theta)
            self.breeders.founded(nodes, r)
        return g

    def captive_group(self, r: int, theta: float) -> int:
        """The metafounder of replicate r's captive population (made on first use)."""
        if r not in self._captive_groups:
            self._captive_groups[r] = self.ped.metafounder(theta)
            if self.breeders is not None:
                self.breeders.add_metafounder(r, self._captive_groups[r], theta)
        return self._captive_groups[r]

    def add_born_rows(self, n0: int, mothers: np.ndarray, fathers: np.ndarray) -> None:
        """Rows n0 … are newborns of the given parent rows (pedigree mode): their nodes and F."""
        m, p = self.slot[mothers].astype(np.int64), self.slot[fathers].astype(np.int64)
        if self.breeders is not None:  # F from the breeders' store (the parents become members)
            self.breeders.enter(np.r_[m, p], self.ped.sire, self.ped.dam)
            nodes, F = self.ped.add_born(m, p, self.breeders.F_of(m, p))
            self.breeders.reserve_nodes(self.ped.sire.size)
            self.breeders.born(nodes, m, p)
        else:
            nodes, F = self.ped.add_born(m, p)
        k = len(mothers)
        self.slot[n0 : n0 + k] = nodes
        self.F[n0 : n0 + k] = F

    def assign_slots(self, rows: np.ndarray) -> np.ndarray:
        """Give new rows (at or beyond ``n``, their ``rep`` set) free slots of their replicate's
        kinship store; returns them.

        The store grows when needed: doubling while small, by an eighth once it is large, so
        that a big population does not pay for twice the memory it needs."""
        rows = np.asarray(rows, dtype=np.int64)
        while True:
            size = self.kin3.shape[1]
            need = int(_assign(self.slot, self.rep, self.n, rows, self.n_reps, size))
            if need <= size:
                return self.slot[rows]
            grown = max(need, 2 * size if size < KIN_FLOAT32_ABOVE else size + size // 8)
            kin = np.zeros((self.n_reps, grown, grown), dtype=_kin_dtype(grown))
            kin[:, :size, :size] = self.kin3
            self.kin3 = kin

    def kinship(self, rows_a: np.ndarray, rows_b: np.ndarray | None = None) -> np.ndarray:
        """Kinship of the animals in ``rows_a`` with those in ``rows_b`` (default: the same);
        NaN for a dead animal that has given up its slot, or for animals of two replicates."""
        rows_a = np.asarray(rows_a)
        rows_b = rows_a if rows_b is None else np.asarray(rows_b)
        a, b = self.slot[rows_a], self.slot[rows_b]
        ra, rb = self.rep[rows_a], self.rep[rows_b]
        if not self.dense:
            out = np.array([[self.ped.kinship(x, y) if qa == qb else np.nan for y, qb in zip(b, rb)] for x, qa in zip(a, ra)])
            return out.reshape(len(a), len(b))
        out = self.kin3[ra[:, None], np.maximum(a, 0)[:, None], np.maximum(b, 0)[None, :]].astype(np.float64)
        out[a < 0, :] = np.nan
        out[:, b < 0] = np.nan
        out[ra[:, None] != rb[None, :]] = np.nan
        return out

    def release_dead_slots(self) -> None:
        """Give up the slots of the animals marked dead so far this year, so that the year's
        newborns can take them: the store then needs room for survivors and newborns, not for
        the year's dead as well. Their pairs leave the running sum now instead of at removal."""
        n = self.n
        if not self.dense:
            return  # pedigree nodes are kept for good
        dead = (self.cause[:n] != ALIVE) & (self.slot[:n] >= 0)
        if not dead.any():
            return
        if self.kin_sums is not None:
            self.kin_sums -= _removed_sums(self.kin3, self.slot, self.rep, self.cause, n, np.zeros(self.n_reps))
        self.slot[:n][dead] = NO_SLOT

    def set_kinship(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Write the kinship among ``rows`` of one replicate (a square matrix; for tests and
        set-ups; dense store only)."""
        if not self.dense:
            raise ValueError("kinship can be written only into a dense store; a pedigree derives it")
        rows = np.asarray(rows)
        s = self.slot[rows]
        r = int(self.rep[rows[0]]) if rows.size else 0
        self.kin3[r][np.ix_(s, s)] = values
        self.kin_sums = None

    def appended(self, n0: int, added: np.ndarray | float | None = None) -> None:
        """Rows n0 … n−1 were added with their kinship filled: update the pair sums (by
        ``added`` per replicate when the caller summed their pairs while writing them)."""
        if self.kin_sums is None or not self.dense:
            return
        if added is None:
            added = _appended_sums(self.kin3, self.slot, self.rep, n0, self.n, np.zeros(self.n_reps))
        self.kin_sums += added

    def mean_kinship_by_rep(self) -> np.ndarray:
        """Mean kinship over all ordered pairs of each replicate's rows, self-pairs included
        (NaN for a replicate without animals)."""
        n = self.n
        if not self.dense:
            self.kin_sums = self.ped.pair_sums(self.slot[:n], self.rep[:n], self.n_reps, prune=True)
        elif self.kin_sums is None:
            self.kin_sums = _pair_sums(self.kin3, self.slot, self.rep, n, np.zeros(self.n_reps))
        size = np.bincount(self.rep[:n], minlength=self.n_reps).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(size > 0, self.kin_sums / (size * size), np.nan)

    def mean_kinship(self) -> float:
        """Mean kinship over all ordered pairs of the table (a single replicate)."""
        return float(self.mean_kinship_by_rep()[0])

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

    def home_range_of(self, rows: np.ndarray) -> np.ndarray:
        """The home range each animal of ``rows`` lives in: its own, or for a young animal that
        depends on its mother, hers (−1: none, e.g. a transient)."""
        rows = np.asarray(rows, dtype=np.int64)
        rid = self.range_id[rows].astype(np.int64)
        dep = np.flatnonzero((self.status[rows] == DEPENDENT) & (rid < 0))
        if dep.size:
            m = self.row_of(self.mother[rows[dep]])
            rid[dep] = np.where(m >= 0, self.range_id[np.maximum(m, 0)], -1)
        return rid

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

    def enter_breeders(self, rows: np.ndarray) -> None:
        """Pedigree mode with a breeder store: make the animals in ``rows`` members (e.g. every
        candidate pair of kin avoidance), so that their kinship is a lookup."""
        if self.breeders is not None:
            self.breeders.enter(self.slot[rows].astype(np.int64), self.ped.sire, self.ped.dam)

    def remove_dead(self) -> None:
        """Drop every marked-dead row, keeping id order; their kinship slots become free."""
        if self.breeders is not None:
            n = self.n
            self.breeders.died(self.slot[:n][self.cause[:n] != ALIVE].astype(np.int64), self.ped.sire, self.ped.dam)
        if self.kin_sums is not None and self.dense:
            self.kin_sums -= _removed_sums(self.kin3, self.slot, self.rep, self.cause, self.n, np.zeros(self.n_reps))
        i64, i32, f64, small = self._groups()
        geno = self.geno.reshape(self.geno.shape[0], -1)
        self.n = int(_compact(self.n, self.cause, tuple(i64), tuple(i32), tuple(f64), tuple(small), geno))
