"""Kinship from the stored pedigree, for populations too large for a dense kinship store.

Every animal that ever lived is a node of the pedigree (index = its ``slot``; parents always
have smaller indices than their young). Founders descend from *metafounders* (Legarra et al.
2015, *Genetics* 200: 455–468): one per founder group — the starting animals of one population
with ``founder_kinship`` θ, or a replicate's captive population with mean kinship MK — with
self-relationship γ = 2θ. Two founders of a group then have kinship θ, each has F = θ, and
founders of different groups are unrelated: exactly the founder kinship of the dense store.

With the relationship matrix A = 2 × kinship written as A = L D Lᵀ (Henderson 1976), where row
x of L holds the contribution of every ancestor to x (1 for x itself, halved at each generation)
and D_j is the Mendelian sampling variance of node j —

    D_j = 1 − (a_ss + a_dd)/4 = 1/2 − (F_s + F_d)/4   (parents s, d; 1 − θ below a metafounder),

the kinship of two animals is f(x, y) = ½ Σ_j L_xj L_yj D_j + ½ Σ_g L_xg L_yg γ_g. The ancestors
of x are visited youngest first with a heap (Meuwissen & Luo 1992, *Genet. Sel. Evol.* 24:
305–313), so f(x, y) costs O(|ancestors of x| + |ancestors of y|) and the memory is O(nodes).
A newborn's F is the kinship of its parents, exact.

Mean kinship of the living, every year, is Colleau's (2002, *Genet. Sel. Evol.* 34: 409–421)
indirect method: xᵀ A x = xᵀ T D Tᵀ x with one backward and one forward pass over the pedigree,
O(nodes) — x marks the living of one replicate; nodes of different replicates are never linked,
so one pass serves a whole batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _push(heap, size, v):
    i = size
    heap[i] = v
    while i > 0:
        p = (i - 1) >> 1
        if heap[p] >= heap[i]:
            break
        heap[p], heap[i] = heap[i], heap[p]
        i = p
    return size + 1


@njit(cache=True)
def _pop(heap, size):
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        if left + 1 < size and heap[left + 1] > heap[left]:
            c = left + 1
        if heap[i] >= heap[c]:
            break
        heap[i], heap[c] = heap[c], heap[i]
        i = c
    return top, size


@njit(cache=True)
def _contributions(x, sire, dam, L, touched, heap, meta):
    """Fill L[j] (ancestor j's contribution to x, x included) and meta[g]; returns the number
    of nodes touched (listed in ``touched``). L must be zero where not touched."""
    n_t = 0
    size = _push(heap, 0, x)
    L[x] = 1.0
    touched[n_t] = x
    n_t += 1
    while size > 0:
        j, size = _pop(heap, size)
        half = 0.5 * L[j]
        for parent in (sire[j], dam[j]):
            if parent >= 0:
                if L[parent] == 0.0:
                    size = _push(heap, size, parent)
                    touched[n_t] = parent
                    n_t += 1
                L[parent] += half
            else:
                meta[-1 - parent] += half
    return n_t


@njit(cache=True)
def pair_kinship(x, y, sire, dam, D, gamma, La, Lb, ta, tb, heap, ma, mb):
    """Kinship f(x, y) of two pedigree nodes (x == y gives (1 + F_x)/2). The scratch arrays
    (La, Lb: zeros of the pedigree's size; ta, tb, heap: as long; ma, mb: zeros per
    metafounder) are left as they were found."""
    na = _contributions(x, sire, dam, La, ta, heap, ma)
    nb = _contributions(y, sire, dam, Lb, tb, heap, mb)
    a = 0.0
    for k in range(nb):
        j = tb[k]
        if La[j] != 0.0:
            a += La[j] * Lb[j] * D[j]
    for g in range(gamma.shape[0]):
        a += ma[g] * mb[g] * gamma[g]
    for k in range(na):
        La[ta[k]] = 0.0
    for k in range(nb):
        Lb[tb[k]] = 0.0
    ma[:] = 0.0
    mb[:] = 0.0
    return 0.5 * a


@njit(cache=True)
def link_born(sire, dam, D, F, first, mothers, fathers, Fvals):
    """Nodes first … are newborns of the given parent nodes with F already known (from the
    breeder store): their parents, F and D."""
    for i in range(mothers.shape[0]):
        m = mothers[i]
        p = fathers[i]
        node = first + i
        sire[node] = p
        dam[node] = m
        F[node] = Fvals[i]
        D[node] = 0.5 - 0.25 * (F[m] + F[p])


@njit(cache=True)
def add_born(sire, dam, D, F, first, mothers, fathers, gamma, La, Lb, ta, tb, heap, ma, mb):
    """Nodes first … first + len(mothers) − 1 are newborns of the given parent nodes: set their
    parents, F (the parents' kinship) and D; returns their F.

    The litters are taken sire by sire: a sire's ancestors are walked once for all his mates,
    each mother's once for her litter (litter mates follow each other)."""
    nb = mothers.shape[0]
    out = np.empty(nb)
    # the first newborn of each litter, grouped by sire (stable)
    lit = np.empty(nb, dtype=np.int64)
    n_lit = 0
    for i in range(nb):
        if i == 0 or mothers[i] != mothers[i - 1] or fathers[i] != fathers[i - 1]:
            lit[n_lit] = i
            n_lit += 1
    lit = lit[:n_lit]
    order = lit[np.argsort(fathers[lit], kind="mergesort")]
    k = 0
    while k < n_lit:
        p = fathers[order[k]]
        nb_p = _contributions(p, sire, dam, Lb, tb, heap, mb)
        while k < n_lit and fathers[order[k]] == p:
            i = order[k]
            m = mothers[i]
            na = _contributions(m, sire, dam, La, ta, heap, ma)
            a = 0.0
            for t in range(na):
                j = ta[t]
                if Lb[j] != 0.0:
                    a += La[j] * Lb[j] * D[j]
            for g in range(gamma.shape[0]):
                a += ma[g] * mb[g] * gamma[g]
            for t in range(na):
                La[ta[t]] = 0.0
            ma[:] = 0.0
            f = 0.5 * a
            j = i
            while j < nb and mothers[j] == m and fathers[j] == p:  # the litter (one a year per mother)
                out[j] = f
                j += 1
            k += 1
        for t in range(nb_p):
            Lb[tb[t]] = 0.0
        mb[:] = 0.0
    link_born(sire, dam, D, F, first, mothers, fathers, out)
    return out


@njit(cache=True)
def colleau_pruned(sire, dam, D, gamma, active, n_active, living, rep, out, v, u):
    """:func:`colleau_sums` over the ``active`` nodes only (ascending: every living node and
    every ancestor of one), then drops from ``active`` the nodes that are neither — they have
    no living descendant, so they never will again (a newborn's parents are alive). Returns the
    new number of active nodes. A dropped node had weight zero in both passes: the sums are
    those of the full pedigree, to the bit. ``v`` and ``u`` are scratch arrays of the
    pedigree's size, zero on entry and left zero."""
    for k in range(living.shape[0]):
        v[living[k]] += 1.0
    vm = np.zeros(gamma.shape[0])
    for idx in range(n_active - 1, -1, -1):
        j = active[idx]
        h = 0.5 * v[j]
        if h != 0.0:
            for parent in (sire[j], dam[j]):
                if parent >= 0:
                    v[parent] += h
                else:
                    vm[-1 - parent] += h
    um = gamma * vm
    for idx in range(n_active):
        j = active[idx]
        s = sire[j]
        d = dam[j]
        us = u[s] if s >= 0 else um[-1 - s]
        ud = u[d] if d >= 0 else um[-1 - d]
        u[j] = D[j] * v[j] + 0.5 * (us + ud)
    out[:] = 0.0
    for k in range(living.shape[0]):
        out[rep[k]] += 0.5 * u[living[k]]
    m = 0
    for idx in range(n_active):
        j = active[idx]
        if v[j] != 0.0:
            active[m] = j
            m += 1
        v[j] = 0.0
        u[j] = 0.0
    return m


@njit(cache=True)
def colleau_sums(sire, dam, D, gamma, n_nodes, living, rep, n_reps, out):
    """out[r] = Σ over ordered pairs of replicate r's living nodes of their kinship
    (½ xᵀ A x, x the indicator of the living), by Colleau's indirect method: v = Tᵀ x (the
    youngest pass half their weight to each parent), then u = T (D v) (oldest first), and the
    sum of u over the living."""
    colleau_pruned(sire, dam, D, gamma, np.arange(n_nodes), n_nodes, living, rep, out, np.zeros(n_nodes), np.zeros(n_nodes))
    return out


class Pedigree:
    """Every node of a batch's pedigree and its metafounders, with the scratch space of the
    kinship computations."""

    def __init__(self, capacity: int = 1024):
        self.n = 0
        # the nodes that can still matter for the mean kinship of the living (see colleau_pruned):
        # active[:n_active], then every node from n_checked on
        self.active = np.empty(0, dtype=np.int64)
        self.n_active = 0
        self.n_checked = 0
        self.sire = np.full(capacity, -1, dtype=np.int64)
        self.dam = np.full(capacity, -1, dtype=np.int64)
        self.D = np.zeros(capacity)
        self.F = np.zeros(capacity)
        self.gamma = np.zeros(0)
        self._scratch(capacity)

    def _scratch(self, cap: int) -> None:
        self.La = np.zeros(cap)
        self.Lb = np.zeros(cap)
        self.ta = np.empty(cap, dtype=np.int64)
        self.tb = np.empty(cap, dtype=np.int64)
        self.heap = np.empty(cap, dtype=np.int64)
        self.ma = np.zeros(self.gamma.size)
        self.mb = np.zeros(self.gamma.size)

    def _reserve(self, k: int) -> None:
        need = self.n + k
        cap = self.sire.size
        if need <= cap:
            return
        cap = max(need, 2 * cap)
        for name, fill in (("sire", -1), ("dam", -1), ("D", 0.0), ("F", 0.0)):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self._scratch(cap)

    def metafounder(self, theta: float) -> int:
        """A new founder group with kinship θ among its founders; returns its code (< 0)."""
        self.gamma = np.r_[self.gamma, 2.0 * theta]
        self.ma = np.zeros(self.gamma.size)
        self.mb = np.zeros(self.gamma.size)
        return -self.gamma.size

    def add_founders(self, k: int, group: int) -> np.ndarray:
        """k founders below metafounder ``group``; returns their nodes."""
        self._reserve(k)
        nodes = np.arange(self.n, self.n + k)
        theta = 0.5 * self.gamma[-1 - group]
        self.sire[nodes] = group
        self.dam[nodes] = group
        self.F[nodes] = theta
        self.D[nodes] = 1.0 - theta
        self.n += k
        return nodes

    def add_born(self, mothers: np.ndarray, fathers: np.ndarray, F: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Newborns of the given parent nodes; returns (their nodes, their F). F is walked from
        the pedigree unless given (the parents' kinship from a breeder store)."""
        k = mothers.size
        self._reserve(k)
        first = self.n
        if F is not None:
            link_born(self.sire, self.dam, self.D, self.F, first, np.asarray(mothers, np.int64), np.asarray(fathers, np.int64), np.asarray(F, np.float64))
            self.n += k
            return np.arange(first, first + k), F
        F = add_born(self.sire, self.dam, self.D, self.F, first, np.asarray(mothers, np.int64), np.asarray(fathers, np.int64), self.gamma, *self._work())
        self.n += k
        return np.arange(first, first + k), F

    def arrays(self):
        """(sire, dam, D, gamma, scratch…) for a kernel that calls :func:`pair_kinship`."""
        return (self.sire, self.dam, self.D, self.gamma) + self._work()

    def _work(self):
        return self.La, self.Lb, self.ta, self.tb, self.heap, self.ma, self.mb

    def kinship(self, x: int, y: int) -> float:
        return float(pair_kinship(int(x), int(y), self.sire, self.dam, self.D, self.gamma, *self._work()))

    def pair_sums(self, living: np.ndarray, rep: np.ndarray, n_reps: int, prune: bool = False) -> np.ndarray:
        """Σ kinship over ordered pairs of each replicate's living nodes. With ``prune`` (only
        for the living of a simulation: a node left out once is never living again, nor a
        parent) the passes skip the nodes without living descendants, and forget them."""
        living = np.asarray(living, np.int64)
        rep = np.asarray(rep, np.int64)
        if prune:
            fresh = np.arange(self.n_checked, self.n, dtype=np.int64)
            act = np.concatenate((self.active[: self.n_active], fresh))
            out = np.zeros(n_reps)
            self.n_active = int(colleau_pruned(self.sire, self.dam, self.D, self.gamma, act, act.size, living, rep, out, self.La, self.Lb))
            self.active = act
            self.n_checked = self.n
            return out
        return colleau_sums(self.sire, self.dam, self.D, self.gamma, self.n, living, rep, n_reps, np.zeros(n_reps))
