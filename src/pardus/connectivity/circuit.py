"""Circuit theory on conductance graphs: graph construction, components, solvers, currents.

The semantics are Circuitscape.jl's (``src/raster/pairwise.jl``, ``src/core.jl``,
``src/out.jl``):

- nodes are the cells with conductance > 0 numbered column-major; all cells of a
  short-circuit polygon share one node (the polygon's first habitat cell, column-major) —
  also the polygon's cells without habitat, as in Circuitscape;
- an edge joins 4 (or 8) neighbouring node cells; weights are the average conductance
  ``(g1+g2)/2`` or the conductance of the average resistance ``2/(1/g1+1/g2)``; diagonal
  edges are divided by sqrt(2); parallel edges between merged nodes add up, edges inside a
  merged node are dropped;
- a pair's effective resistance is the voltage difference when 1 A enters one node and
  leaves at the other; node currents are ``max(inflow, outflow)`` of branch currents
  ``|g_ij (V_i - V_j)|``, after zeroing branch currents below 1e-8 of the largest one.

Solvers work on *grounded* systems: one node of each component (or the grounded nodes of
advanced mode) is removed, which leaves a symmetric positive definite matrix and the same
voltages as Circuitscape's regularised singular solve.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = [
    "edge_weight", "node_map", "raster_edges", "Graph", "raster_graph", "network_graph",
    "GroundedSolver", "make_solver", "SOLVERS", "DEFAULT_RTOL",
    "pairwise_resistances", "PairwiseSolution", "solve_advanced", "branch_flows", "node_currents",
    "node_currents_from_flows",
]

log = logging.getLogger("pardus.connectivity")

#: Relative residual of the CG + AMG solver (Circuitscape.jl uses 1e-6; pardus is tighter so
#: that resistances agree to 1e-3 and current maps to 1e-6 also on ill-conditioned grids).
DEFAULT_RTOL = 1e-9
SOLVERS = ("cg+amg", "cholmod")
_SQRT2 = math.sqrt(2.0)


def edge_weight(g1, g2, avg_resistances: bool, diagonal: bool):
    """Conductance of the edge between two cells of conductances ``g1``, ``g2``
    (Circuitscape's ``cond_avg``/``res_avg``/``weird_avg``/``weirder_avg``): average
    conductance ``(g1+g2)/2`` or the inverse of the average resistance ``1/((1/g1+1/g2)/2)``;
    a diagonal edge is ``sqrt(2)`` times longer, so its conductance is divided by ``sqrt(2)``.
    A cell with g = 0 (a polygon cell without habitat) gives 0 with average resistance."""
    g1 = np.asarray(g1, dtype=np.float64)
    g2 = np.asarray(g2, dtype=np.float64)
    if avg_resistances:
        with np.errstate(divide="ignore"):
            w = np.where((g1 > 0) & (g2 > 0), 2.0 / (1.0 / np.where(g1 > 0, g1, 1) + 1.0 / np.where(g2 > 0, g2, 1)), 0.0)
    else:
        w = (g1 + g2) / 2.0
    return w / _SQRT2 if diagonal else w


def node_map(g: np.ndarray, polygons: Optional[np.ndarray] = None) -> tuple[np.ndarray, int]:
    """Node index (0-based, -1 = no node) of every cell, and the number of nodes.

    Cells with conductance > 0 are numbered column-major; every cell of a polygon id (> 0)
    that has at least one habitat cell takes the node of that polygon's first habitat cell,
    and the numbers are then made consecutive in the order of first appearance
    (Circuitscape's ``construct_node_map`` + ``relabel!``)."""
    nrows, ncols = g.shape
    habitat = g > 0
    flat_h = habitat.ravel(order="F")
    nm = np.full(g.size, -1, dtype=np.int64)
    nm[flat_h] = np.arange(int(flat_h.sum()))
    if polygons is not None:
        pf = np.asarray(polygons).ravel(order="F")
        pf = np.where(np.isfinite(pf), pf, 0)
        ids = pf.astype(np.int64)
        sel = ids > 0
        if sel.any():
            cells = np.flatnonzero(sel)
            pid = ids[cells]
            # first habitat cell (column-major) of each polygon
            hab_cells = cells[flat_h[cells]]
            hab_pid = ids[hab_cells]
            uniq, first = np.unique(hab_pid, return_index=True)
            rep = dict(zip(uniq.tolist(), nm[hab_cells[first]].tolist()))
            has = np.isin(pid, uniq)
            lookup = np.vectorize(rep.__getitem__, otypes=[np.int64]) if has.any() else None
            if lookup is not None:
                nm[cells[has]] = lookup(pid[has])
        used = nm >= 0
        if used.any():
            _, inv = np.unique(nm[used], return_inverse=True)
            nm[used] = inv
    n = int(nm.max()) + 1 if (nm >= 0).any() else 0
    return nm.reshape((nrows, ncols), order="F"), n


def raster_edges(g: np.ndarray, nm: np.ndarray, four_neighbors: bool, avg_resistances: bool):
    """Edges (i, j, w) between node cells: horizontal, vertical and (with 8 neighbours) both
    diagonals, weights by :func:`edge_weight`; edges inside one node and zero weights dropped."""
    gz = np.where(np.isfinite(g) & (g > 0), g, 0.0)
    I, J, W = [], [], []

    def add(a_sl, b_sl, diagonal):
        na, nb = nm[a_sl], nm[b_sl]
        ok = (na >= 0) & (nb >= 0) & (na != nb)
        if ok.any():
            w = edge_weight(gz[a_sl][ok], gz[b_sl][ok], avg_resistances, diagonal)
            keep = w > 0
            I.append(na[ok][keep]); J.append(nb[ok][keep]); W.append(w[keep])

    add((slice(None), slice(None, -1)), (slice(None), slice(1, None)), False)
    add((slice(None, -1), slice(None)), (slice(1, None), slice(None)), False)
    if not four_neighbors:
        add((slice(None, -1), slice(None, -1)), (slice(1, None), slice(1, None)), True)
        add((slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None)), True)
    if not I:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    return np.concatenate(I), np.concatenate(J), np.concatenate(W)


@dataclass
class Graph:
    """A conductance graph on nodes 0..n-1: symmetric adjacency ``A`` (CSR, no diagonal),
    component label of every node."""

    n: int
    A: sp.csr_matrix
    labels: np.ndarray
    ncomp: int

    @classmethod
    def from_edges(cls, n: int, i, j, w) -> "Graph":
        i = np.asarray(i, dtype=np.int64); j = np.asarray(j, dtype=np.int64); w = np.asarray(w, dtype=np.float64)
        keep = (i != j) & (w > 0)
        i, j, w = i[keep], j[keep], w[keep]
        A = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)).tocsr()
        A.sum_duplicates()
        ncomp, labels = connected_components(A, directed=False) if n else (0, np.zeros(0, dtype=np.int64))
        return cls(n, A, labels.astype(np.int64), int(ncomp))

    def laplacian(self) -> sp.csr_matrix:
        """L = D - A (Circuitscape's ``laplacian!``)."""
        d = np.asarray(self.A.sum(axis=1)).ravel()
        return (sp.diags(d) - self.A).tocsr()

    def component_nodes(self, c: int) -> np.ndarray:
        return np.flatnonzero(self.labels == c)


def raster_graph(g: np.ndarray, polygons: Optional[np.ndarray], four_neighbors: bool, avg_resistances: bool) -> tuple[Graph, np.ndarray]:
    """The graph of a conductance grid (NaN or <= 0 = no habitat) and its node map."""
    gz = np.where(np.isfinite(g) & (g > 0), g, 0.0)
    nm, n = node_map(gz, polygons)
    i, j, w = raster_edges(gz, nm, four_neighbors, avg_resistances)
    return Graph.from_edges(n, i, j, w), nm


def network_graph(a, b, w) -> tuple[Graph, np.ndarray]:
    """The graph of an edge list with arbitrary integer node ids; returns it and the sorted
    node ids (node k of the graph is ``ids[k]``)."""
    ids, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    m = len(a)
    return Graph.from_edges(len(ids), inv[:m], inv[m:], w), ids


# ---------------------------------------------------------------- solvers


class GroundedSolver:
    """Solves ``M x = b`` for the SPD matrix ``M`` (a grounded Laplacian) with many right-hand
    sides: a sparse LU factorisation (SuperLU, computed once and reused) for ``cholmod``, or
    conjugate gradients preconditioned by a smoothed-aggregation AMG hierarchy (built once)
    for ``cg+amg``."""

    def __init__(self, M: sp.spmatrix, kind: str = "cg+amg", rtol: float = DEFAULT_RTOL):
        self.kind = kind
        self.rtol = rtol
        self.M = M.tocsr()
        self.n = M.shape[0]
        self.iterations: list[int] = []
        if self.n == 0:
            return
        if kind == "cholmod":
            from scipy.sparse.linalg import splu

            self._lu = splu(self.M.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            self._direct = True
        elif kind == "cg+amg":
            import pyamg

            self._ml = pyamg.smoothed_aggregation_solver(self.M, symmetry="symmetric", strength="symmetric",
                                                         max_coarse=500)
            self._P = self._ml.aspreconditioner(cycle="V")
            self._direct = False
        else:
            raise ValueError(f"unknown solver {kind!r}")

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.zeros(0)
        b = np.asarray(b, dtype=np.float64)
        if self._direct:
            x = self._lu.solve(b)
            nb = np.linalg.norm(b)
            if nb > 0 and np.linalg.norm(self.M @ x - b) / nb > 1e-6:
                from .grids import ConnectivityError

                raise ConnectivityError("solver = cholmod lost accuracy (relative residual above 1e-6) — "
                                        "the conductances may span too many orders of magnitude; try solver = cg+amg")
            return x
        from scipy.sparse.linalg import cg

        nb = np.linalg.norm(b)
        if nb == 0:
            return np.zeros_like(b)
        it = [0]

        def cb(_x):
            it[0] += 1

        x, info = cg(self.M, b, rtol=self.rtol, atol=0.0, maxiter=10000, M=self._P, callback=cb)
        self.iterations.append(it[0])
        res = np.linalg.norm(self.M @ x - b) / nb
        if info != 0 or res > max(1e-4, 10 * self.rtol):
            from .grids import ConnectivityError

            raise ConnectivityError(f"solver = cg+amg did not converge (relative residual {res:.2e} after {it[0]} iterations) — "
                                    "the conductances may span too many orders of magnitude; try solver = cholmod")
        return x


def make_solver(M: sp.spmatrix, kind: str, rtol: float = DEFAULT_RTOL) -> GroundedSolver:
    return GroundedSolver(M, kind, rtol)


# ---------------------------------------------------------------- currents


def branch_flows(A_upper: tuple[np.ndarray, np.ndarray, np.ndarray], v: np.ndarray) -> np.ndarray:
    """Signed branch currents ``w (V_i - V_j)`` of edges (i, j, w)."""
    i, j, w = A_upper
    return w * (v[i] - v[j])


def _zero_small(b: np.ndarray) -> np.ndarray:
    if b.size == 0:
        return b
    m = b.max()
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.abs(b / m) < 1e-8
    b = b.copy()
    b[small] = 0.0
    return b


def node_currents_from_flows(n: int, i: np.ndarray, j: np.ndarray, f: np.ndarray,
                             v: Optional[np.ndarray] = None, finite_grounds: Optional[np.ndarray] = None) -> np.ndarray:
    """Node currents ``max(inflow, outflow)`` from signed branch flows ``f`` (i -> j positive),
    with branch currents below 1e-8 of the largest zeroed separately for the two directions,
    and currents into finite grounds counted (Circuitscape's ``get_node_currents``)."""
    pos = _zero_small(f)   # currents i -> j
    neg = _zero_small(-f)  # currents j -> i
    inflow = np.zeros(n)
    outflow = np.zeros(n)
    # pass "pos": entry (i, j) = pos > 0 feeds column j; entry (j, i) = -pos > 0 feeds column i
    np.add.at(inflow, j, np.where(pos > 0, pos, 0.0))
    np.add.at(inflow, i, np.where(pos < 0, -pos, 0.0))
    np.add.at(outflow, j, np.where(neg > 0, neg, 0.0))
    np.add.at(outflow, i, np.where(neg < 0, -neg, 0.0))
    if finite_grounds is not None and v is not None:
        fg = finite_grounds * v
        inflow += np.where(fg < 0, -fg, 0.0)
        outflow += np.where(fg > 0, fg, 0.0)
    return np.maximum(inflow, outflow)


def upper_edges(A: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges (i < j, w) of a symmetric adjacency matrix."""
    U = sp.triu(A, k=1).tocoo()
    return U.row.astype(np.int64), U.col.astype(np.int64), U.data.astype(np.float64)


def node_currents(A: sp.csr_matrix, v: np.ndarray, finite_grounds: Optional[np.ndarray] = None, edges=None) -> np.ndarray:
    """Node currents of voltages ``v`` on adjacency ``A`` (see :func:`node_currents_from_flows`)."""
    i, j, w = edges if edges is not None else upper_edges(A)
    return node_currents_from_flows(A.shape[0], i, j, w * (v[i] - v[j]), v, finite_grounds)


def branch_currents(A: sp.csr_matrix, v: np.ndarray, edges=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|branch currents| (i < j) with those below 1e-8 of the largest zeroed (Circuitscape's
    ``_get_branch_currents(..., true)`` followed by ``abs``)."""
    i, j, w = edges if edges is not None else upper_edges(A)
    f = _zero_small(w * (v[i] - v[j]))
    return i, j, np.abs(f)


# ---------------------------------------------------------------- pairwise


@dataclass
class PairwiseSolution:
    """Solutions of one component: ``nodes`` (global node ids of the component, sorted),
    ``focal`` (component-local indices of its distinct focal nodes), ``ground`` (= focal[0]),
    ``X`` (columns: voltages with 1 A into focal[k] and out at the ground, for k >= 1; the
    ground column is 0) or ``None`` if only the focal-node values were kept, and ``Gf`` the
    k × k matrix of those voltages at the focal nodes."""

    nodes: np.ndarray
    focal: np.ndarray
    Gf: np.ndarray
    X: Optional[np.ndarray]

    def resistance(self, a: int, b: int) -> float:
        """R between focal entries a, b: G_aa + G_bb - 2 G_ab."""
        G = self.Gf
        return float(G[a, a] + G[b, b] - 2 * G[a, b])

    def voltages(self, a: int, b: int) -> np.ndarray:
        """Voltages of the component when 1 A enters at focal[b] and leaves at focal[a],
        shifted so that V(focal[a]) = 0 (Circuitscape's sign convention)."""
        v = self.X[:, b] - self.X[:, a]
        return v - v[self.focal[a]]


def pairwise_resistances(L: sp.csr_matrix, comp_nodes: np.ndarray, focal_local: np.ndarray, kind: str,
                         keep_voltages: bool, rtol: float = DEFAULT_RTOL, workers: int = 1) -> tuple[PairwiseSolution, GroundedSolver]:
    """Ground focal node 0 of a component and solve one system per other focal node
    (k - 1 solves for k focal nodes); every pair's resistance and voltages follow by
    superposition."""
    Lc = L[comp_nodes][:, comp_nodes].tocsr()
    m = len(comp_nodes)
    g = int(focal_local[0])
    keep = np.ones(m, dtype=bool)
    keep[g] = False
    M = Lc[keep][:, keep]
    solver = make_solver(M, kind, rtol)
    pos = np.cumsum(keep) - 1  # reduced index of kept nodes
    k = len(focal_local)
    Gf = np.zeros((k, k))
    X = np.zeros((m, k)) if keep_voltages else None

    def one(c: int):
        b = np.zeros(m - 1)
        b[pos[focal_local[c]]] = 1.0
        x = solver.solve(b)
        full = np.zeros(m)
        full[keep] = x
        return c, full

    cols = range(1, k)
    if workers > 1 and k > 2 and solver.n:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(one, cols))
    else:
        results = [one(c) for c in cols]
    for c, full in results:
        Gf[:, c] = full[focal_local]
        if X is not None:
            X[:, c] = full
    Gf = (Gf + Gf.T) / 2  # symmetric up to the solver tolerance
    return PairwiseSolution(comp_nodes, np.asarray(focal_local), Gf, X), solver


# ---------------------------------------------------------------- advanced


def solve_advanced(L: sp.csr_matrix, comp_nodes: np.ndarray, sources: np.ndarray, grounds: np.ndarray, kind: str,
                   rtol: float = DEFAULT_RTOL) -> tuple[np.ndarray, str]:
    """Voltages of one component with current ``sources`` (A) and ``grounds`` (conductances to
    ground; ``inf`` = direct ground, V = 0), both indexed like ``comp_nodes``: finite grounds
    are added to the diagonal and direct grounds removed from the system (Circuitscape's
    ``multiple_solver``)."""
    Lc = L[comp_nodes][:, comp_nodes].tocsr()
    finite = np.where(np.isfinite(grounds), grounds, 0.0)
    M = (Lc + sp.diags(finite)).tocsr()
    direct = np.isinf(grounds)
    keep = ~direct
    Mr = M[keep][:, keep]
    v = np.zeros(len(comp_nodes))
    if keep.any():
        solver = make_solver(Mr, kind, rtol)
        v[keep] = solver.solve(sources[keep])
        used = "direct (SuperLU)" if solver._direct else f"CG+AMG (rtol {rtol:g})"
    else:
        used = "none (every node grounded)"
    return v, used
