"""The breeder store: exact kinship among the animals that can still pass on genes, for the
pedigree mode of populations of thousands.

A newborn's F is the kinship of its parents, and kin avoidance asks for the kinship of an
adult pair: only breeders' kinship is ever looked up (mean kinship of the living comes from the
pedigree by Colleau's method, :mod:`pardus.population.pedigree`). The store keeps one dense
symmetric matrix per replicate over its *members*:

- every metafounder of the replicate (a founder group, its captive population), as a
  pseudo-animal with self-kinship θ, unrelated to every other group (Legarra et al. 2015);
- every animal from its first breeding on (or from the first time a kinship query asks for it);
- a dead member for as long as some offspring of it lives without being a member, since that
  offspring's row will be computed from its parents' rows.

A new member x with parents a and b (a founder or a released animal: both are its group's
metafounder) gets the tabular method's row (Emik & Terrill 1949; Falconer & Mackay 1996 §5.1)

    f(x, y) = ½ (f(a, y) + f(b, y))   for every member y,   f(x, x) = ½ (1 + f(a, b)),

exact because no member descends from x (x has not bred before it enters). The store's size is
the number of living and recently dead breeders, not the population's: at K = 10,000 about a
fifth of the dense store of all living animals, and a year's new members are about a third of
its births. New members enter together: their rows are filled first (reads and writes along
rows), then their columns in one pass over the rows, so that no column is walked alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FLOAT32_ABOVE = 4096  # slots: float32 entries beyond this (as the dense store)


@njit(cache=True)
def _fill(K, r, slots, pa, pb, hw, entrant):
    """Rows and columns of the new members in ``slots`` of replicate r's store (parents' slots
    pa, pb; a metafounder has pa = pb = -1 and self-kinship given in its K entry already)."""
    Kr = K[r]
    E = slots.shape[0]
    for i in range(E):
        s = slots[i]
        a = pa[i]
        if a < 0:  # a metafounder: unrelated to every member, θ set by the caller
            row = Kr[s]
            theta = row[s]
            for x in range(hw):
                row[x] = 0.0
            row[s] = theta
            continue
        b = pb[i]
        row, ra, rb = Kr[s], Kr[a], Kr[b]
        for x in range(hw):
            row[x] = 0.5 * (ra[x] + rb[x])
        for j in range(i):  # earlier new members: their entries are in their own rows, not yet in a's and b's
            sj = slots[j]
            row[sj] = 0.5 * (Kr[sj, a] + Kr[sj, b])
        row[s] = 0.5 * (1.0 + Kr[a, b])
    for x in range(hw):  # the columns, row by row
        if entrant[x]:
            continue
        rx = Kr[x]
        for i in range(E):
            s = slots[i]
            rx[s] = Kr[s, x]
    for k in range(E):  # pairs of new members: the later one's row holds the entry
        sk = slots[k]
        for i in range(k):
            Kr[slots[i], sk] = Kr[sk, slots[i]]


@njit(cache=True)
def _move(K, r, live):
    """Rows and columns live[0] < live[1] < … of replicate r's store to 0, 1, … in place
    (ascending order never overwrites a source not yet read)."""
    Kr = K[r]
    m = live.shape[0]
    for k in range(m):
        src = Kr[live[k]]
        dst = Kr[k]
        for j in range(m):
            dst[j] = src[live[j]]


@njit(cache=True)
def _deaths(nodes, alive, pos, pending, sire, dam, rep_of, used, node_of):
    """Nodes died: members without pending offspring leave the store, and so do dead parents
    whose last pending offspring this was."""
    for k in range(nodes.shape[0]):
        x = nodes[k]
        alive[x] = False
        if pos[x] >= 0:
            if pending[x] == 0:
                _evict(x, pos, rep_of, used, node_of)
        else:
            _settled(x, alive, pos, pending, sire, dam, rep_of, used, node_of)


@njit(cache=True)
def _settled(x, alive, pos, pending, sire, dam, rep_of, used, node_of):
    """Offspring x no longer needs its parents' rows (it entered the store or died outside it)."""
    for q in (sire[x], dam[x]):
        if q >= 0:
            pending[q] -= 1
            if pending[q] == 0 and not alive[q] and pos[q] >= 0:
                _evict(q, pos, rep_of, used, node_of)


@njit(cache=True)
def _evict(x, pos, rep_of, used, node_of):
    r = rep_of[x]
    s = pos[x]
    used[r, s] = False
    node_of[r, s] = -1
    pos[x] = -1


@njit(cache=True)
def _enter_all(K, used, node_of, hw, pos, sire, dam, meta_slot, nodes, counts, alive, pending, rep_of):
    """New members ``nodes`` (grouped by replicate, ``counts`` per replicate, in node order
    within one; each replicate's store has room after its last used slot): their slots, rows
    and columns; then their parents are released from waiting for them."""
    start = 0
    for r in range(counts.shape[0]):
        c = counts[r]
        if c == 0:
            continue
        a = hw[r]
        slots = np.arange(a, a + c)
        pa = np.empty(c, dtype=np.int64)
        pb = np.empty(c, dtype=np.int64)
        for i in range(c):
            x = nodes[start + i]
            s = slots[i]
            used[r, s] = True
            node_of[r, s] = x
            pos[x] = s
            q = sire[x]
            pa[i] = pos[q] if q >= 0 else meta_slot[-1 - q]
            q = dam[x]
            pb[i] = pos[q] if q >= 0 else meta_slot[-1 - q]
        hw[r] = a + c
        entrant = np.zeros(a + c, dtype=np.bool_)
        entrant[a:] = True
        _fill(K, r, slots, pa, pb, a + c, entrant)
        start += c
    for k in range(nodes.shape[0]):
        _settled(nodes[k], alive, pos, pending, sire, dam, rep_of, used, node_of)


@njit(cache=True)
def _born(mothers, fathers, pending):
    for i in range(mothers.shape[0]):
        pending[mothers[i]] += 1
        pending[fathers[i]] += 1


@njit(cache=True)
def pair_F(K, pos, rep_of, mothers, fathers, out):
    for i in range(mothers.shape[0]):
        m = mothers[i]
        out[i] = K[rep_of[m], pos[m], pos[fathers[i]]]
    return out


class BreederStore:
    """Kinship among each replicate's breeders and metafounders (see the module docstring).

    Nodes are the pedigree's; per node: its slot (``pos``, −1 if not a member), its replicate,
    whether it lives, and how many of its offspring live without being members (``pending``).
    A metafounder (code g < 0) holds slot ``meta_slot[−1 − g]`` of replicate ``meta_rep[−1 − g]``
    without being a node."""

    def __init__(self, n_reps: int, node_capacity: int = 1024, capacity: int = 64, dtype=np.float64):
        self.n_reps = n_reps
        # the entries' type is fixed for a scenario (float32 for large stores), never by the
        # batch a replicate runs in
        self.K = np.zeros((n_reps, capacity, capacity), dtype=dtype)
        self.used = np.zeros((n_reps, capacity), dtype=np.bool_)
        self.node_of = np.full((n_reps, capacity), -1, dtype=np.int64)
        self.hw = np.zeros(n_reps, dtype=np.int64)  # 1 + the highest slot ever used, per replicate
        self._nodes(node_capacity)
        # metafounder code g < 0 -> its replicate and its slot there (index −1 − g)
        self.meta_rep = np.zeros(0, dtype=np.int64)
        self.meta_slot = np.zeros(0, dtype=np.int64)

    def _nodes(self, cap: int) -> None:
        self.pos = np.full(cap, -1, dtype=np.int64)
        self.pending = np.zeros(cap, dtype=np.int32)
        self.alive = np.ones(cap, dtype=np.bool_)
        self.rep_of = np.zeros(cap, dtype=np.int64)

    def reserve_nodes(self, cap: int) -> None:
        """The pedigree can now hold ``cap`` nodes."""
        old = self.pos.size
        if cap <= old:
            return
        arrays = (self.pos, self.pending, self.alive, self.rep_of)
        self._nodes(cap)
        for new, a in zip((self.pos, self.pending, self.alive, self.rep_of), arrays):
            new[:old] = a

    @property
    def nbytes(self) -> int:
        return int(self.K.nbytes)

    def members(self, r: int) -> int:
        return int(self.used[r].sum())

    # -- slots --------------------------------------------------------------------------------
    def _room(self, r: int, k: int) -> None:
        """Room for k new slots after replicate r's last used slot, so that new members'
        columns are short runs of every row: when the store's end is reached its members move
        together to its front (:meth:`_compact`); the store grows (for the fullest replicate of
        a batch) when it would be more than two-thirds full."""
        cap = self.K.shape[1]
        if self.hw[r] + k <= cap:
            return
        m = self.members(r)
        if 3 * (m + k) > 2 * cap:  # less than a third would be free after compacting
            self._resize(max(3 * (m + k) // 2, 64))
        if self.hw[r] + k > self.K.shape[1]:
            self._compact(r)

    def _resize(self, size: int) -> None:
        old = self.K.shape[1]
        if size < old:
            raise AssertionError("the breeder store only grows")
        K = np.zeros((self.n_reps, size, size), dtype=self.K.dtype)
        K[:, :old, :old] = self.K
        self.K = K
        used = np.zeros((self.n_reps, size), dtype=np.bool_)
        used[:, :old] = self.used
        self.used = used
        node_of = np.full((self.n_reps, size), -1, dtype=np.int64)
        node_of[:, :old] = self.node_of
        self.node_of = node_of

    def _compact(self, r: int) -> None:
        """Move replicate r's members to slots 0 … m−1 (in slot order; the values are copied,
        never recomputed)."""
        live = np.flatnonzero(self.used[r, : self.hw[r]])
        _move(self.K, r, live)
        nodes = self.node_of[r, live]
        m = live.size
        self.node_of[r, :] = -1
        self.node_of[r, :m] = nodes
        self.used[r, :] = False
        self.used[r, :m] = True
        self.hw[r] = m
        self.pos[nodes[nodes >= 0]] = np.flatnonzero(nodes >= 0)
        mine = self.meta_rep == r
        self.meta_slot[mine] = np.searchsorted(live, self.meta_slot[mine])

    def add_metafounder(self, r: int, code: int, theta: float) -> None:
        self._room(r, 1)
        s = np.array([self.hw[r]])
        self.used[r, s] = True
        self.hw[r] += 1
        self.K[r, s[0], s[0]] = theta
        _fill(self.K, r, s, np.array([-1]), np.array([-1]), int(self.hw[r]), self._entrant_mask(r, s))
        g = -1 - code
        if g >= self.meta_slot.size:
            self.meta_rep = np.r_[self.meta_rep, np.zeros(g + 1 - self.meta_rep.size, np.int64)]
            self.meta_slot = np.r_[self.meta_slot, np.full(g + 1 - self.meta_slot.size, -1, np.int64)]
        self.meta_rep[g] = r
        self.meta_slot[g] = int(s[0])

    def _entrant_mask(self, r: int, slots: np.ndarray) -> np.ndarray:
        m = np.zeros(int(self.hw[r]), dtype=np.bool_)
        m[slots] = True
        return m

    # -- events -------------------------------------------------------------------------------
    def founded(self, nodes: np.ndarray, r: int) -> None:
        """New founder or released nodes of replicate r (not members until they breed)."""
        self.rep_of[nodes] = r
        self.alive[nodes] = True
        self.pending[nodes] = 0

    def born(self, nodes: np.ndarray, mothers: np.ndarray, fathers: np.ndarray) -> None:
        """Newborn nodes of the given parent nodes (members: the caller entered them)."""
        self.rep_of[nodes] = self.rep_of[mothers]
        self.alive[nodes] = True
        self.pending[nodes] = 0
        _born(mothers, fathers, self.pending)

    def died(self, nodes: np.ndarray, sire: np.ndarray, dam: np.ndarray) -> None:
        _deaths(np.asarray(nodes, np.int64), self.alive, self.pos, self.pending, sire, dam, self.rep_of, self.used, self.node_of)

    def enter(self, nodes: np.ndarray, sire: np.ndarray, dam: np.ndarray) -> None:
        """Make the given nodes members (those that are not yet), replicate by replicate in
        node order; a node's parents must be members (they bred) or metafounders."""
        nodes = np.unique(np.asarray(nodes, np.int64))
        nodes = nodes[self.pos[nodes] < 0]
        if nodes.size == 0:
            return
        parents = np.r_[sire[nodes], dam[nodes]]
        parents = parents[parents >= 0]
        if (self.pos[parents] < 0).any():
            bad = int(parents[self.pos[parents] < 0][0])
            raise RuntimeError(f"breeder store: parent node {bad} is not a member (it bred, so it should be)")
        reps = self.rep_of[nodes]
        order = np.argsort(reps, kind="stable")
        nodes, reps = nodes[order], reps[order]
        counts = np.bincount(reps, minlength=self.n_reps)
        for r in np.flatnonzero(self.hw + counts > self.K.shape[1]):  # room after the last used slot
            self._room(int(r), int(counts[r]))
        _enter_all(self.K, self.used, self.node_of, self.hw, self.pos, sire, dam, self.meta_slot, nodes, counts, self.alive, self.pending, self.rep_of)

    def F_of(self, mothers: np.ndarray, fathers: np.ndarray) -> np.ndarray:
        """Kinship of each (mother, father) pair of member nodes: their offspring's F."""
        return pair_F(self.K, self.pos, self.rep_of, np.asarray(mothers, np.int64), np.asarray(fathers, np.int64), np.empty(len(mothers)))


def exercise(dtype) -> None:
    """Run every kernel of the store once with entries of ``dtype`` (compiles them into the
    cache at installation): three founders, a mating, deaths and a compaction; with float64
    also the pedigree's ancestor walk and full Colleau pass."""
    from .pedigree import Pedigree

    ped = Pedigree(16)
    store = BreederStore(1, ped.sire.size, capacity=4, dtype=dtype)
    g = ped.metafounder(0.0)
    store.add_metafounder(0, g, 0.0)
    a, b, c = ped.add_founders(3, g)
    store.founded(np.array([a, b, c]), 0)
    mothers, fathers = np.array([a]), np.array([b])
    store.enter(np.r_[mothers, fathers, [c]], ped.sire, ped.dam)
    nodes, _ = ped.add_born(mothers, fathers, store.F_of(mothers, fathers))
    store.born(nodes, mothers, fathers)
    store.died(np.array([a, c]), ped.sire, ped.dam)
    store._compact(0)
    if dtype == np.float64:  # and the pedigree's own walks, for populations beyond a store
        ped.add_born(np.array([b]), np.array([c]))
        ped.pair_sums(nodes, np.zeros(nodes.size, np.int64), 1)
