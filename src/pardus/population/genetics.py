"""Pedigree kinship, Mendelian gene drop, recessive lethals and diversity statistics
(MODEL.md §4.10).

Kinship of the living is a dense store beside the individual table, indexed by each animal's
kinship slot (:mod:`pardus.population.table`). At each birth of ``o`` to mother ``m`` and
father ``p``::

    f(o, x) = (f(m, x) + f(p, x)) / 2      for every animal x already in the table
    f(o, o) = (1 + f(m, p)) / 2
    F(o)    = f(m, p)

Genotypes: ``neutral_loci`` neutral loci followed by the lethal loci; every founder brings two
unique alleles per locus. Founders (wild or captive) carry one recessive lethal allele at each
of ``LE·lethal_share`` lethal loci (the fractional rest as a chance of a lethal at one more
locus): a cub identical by state for a lethal allele dies (Vortex's recessive-lethal model, which
gives survival ≈ exp(−(LE/2)·lethal_share·F)).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..rng import next_u64
from .table import held_lists


def lethal_layout(lethal_equivalents: float, lethal_share: float) -> tuple[int, float]:
    """(number of lethal loci, chance that the last locus carries a lethal)."""
    x = lethal_equivalents * lethal_share
    n = int(math.ceil(x - 1e-12))
    frac = x - (n - 1) if n > 0 else 0.0
    return n, frac


@njit(cache=True)
def births(kin, slot, rep, F, geno, is_lethal, n0, mothers, fathers, n_neutral, lethal_mask_out, u_bits, streams, added, dense=True):
    """Fill kinship, F and genotypes of newborn rows n0 … n0+len(mothers)-1 of a batch (their
    ``rep`` and slots already assigned); ``mothers`` and ``fathers`` are rows, ``kin`` is the
    (replicates, slots, slots) store. With ``dense`` False (kinship from the pedigree, F
    already set) only the genotypes are drawn.

    The Mendelian draws are one fair coin per (newborn, locus, parent): from ``u_bits`` (a
    uniform each, < 0.5 picks the parent's second allele) when it has a row per newborn, else
    two bits per locus of 64-bit draws from the newborn's replicate stream in ``streams``.
    ``lethal_mask_out[i]`` is set True for a newborn homozygous for a lethal allele;
    ``added[r]`` grows by what the births add to replicate r's sum of kinship over ordered pairs.
    """
    nb = mothers.shape[0]
    n_loci = geno.shape[1]
    if dense:
        held, count = held_lists(slot, rep, n0, kin.shape[0], kin.shape[1])
    else:
        held, count = np.empty((0, 0), dtype=np.int64), np.empty(0, dtype=np.int64)
    given = u_bits.shape[0] == nb
    # newborns replicate by replicate (each replicate's store stays in cache), in row order
    # within a replicate: the same work and draws as in row order
    n_reps = added.shape[0]
    start = np.zeros(n_reps + 1, dtype=np.int64)
    for i in range(nb):
        start[rep[n0 + i] + 1] += 1
    for r in range(n_reps):
        start[r + 1] += start[r]
    order = np.empty(nb, dtype=np.int64)
    for i in range(nb):
        r = rep[n0 + i]
        order[start[r]] = i
        start[r] += 1
    for k in range(nb):
        i = order[k]
        o = n0 + i
        r = rep[o]
        if dense:
            so = slot[o]
            K = kin[r]
            km = K[slot[mothers[i]]]
            kp = K[slot[fathers[i]]]
            ko = K[so]
            row = 0.0
            hr = held[r]
            for j in range(count[r]):  # the living animals of the replicate and earlier newborns
                sx = hr[j]
                v = 0.5 * (km[sx] + kp[sx])
                ko[sx] = v
                K[sx, so] = v
                row += v
            fmp = km[slot[fathers[i]]]
            ko[so] = 0.5 * (1.0 + fmp)
            hr[count[r]] = so
            count[r] += 1
            F[o] = fmp
            added[r] += 2.0 * row + ko[so]
        m = mothers[i]
        p = fathers[i]
        dead = False
        bits = np.uint64(0)
        for locus in range(n_loci):
            if given:
                ca = np.int64(1) if u_bits[i, locus, 0] < 0.5 else np.int64(0)
                cb = np.int64(1) if u_bits[i, locus, 1] < 0.5 else np.int64(0)
            else:  # two fair coins per locus from the bits of one 64-bit draw per 32 loci
                if locus % 32 == 0:
                    bits = next_u64(streams, r)
                ca = np.int64(bits & np.uint64(1))
                cb = np.int64((bits >> np.uint64(1)) & np.uint64(1))
                bits >>= np.uint64(2)
            a = geno[m, locus, ca]
            b = geno[p, locus, cb]
            geno[o, locus, 0] = a
            geno[o, locus, 1] = b
            if locus >= n_neutral and a == b and is_lethal[a]:
                dead = True
        lethal_mask_out[i] = dead
    return added


_NO_STREAMS = np.ones((1, 4), dtype=np.uint64)


def add_births(kin, slot, F, geno, is_lethal, n0, mothers, fathers, n_neutral, lethal_mask_out, u_bits) -> float:
    """:func:`births` for a single population with a (slots, slots) store and given uniforms;
    returns what the births add to the pair sum."""
    rep = np.zeros(max(slot.shape[0], n0 + mothers.shape[0]), dtype=np.int32)
    added = births(
        kin[None], slot, rep, F, geno, is_lethal, n0, np.asarray(mothers, np.int64), np.asarray(fathers, np.int64), n_neutral,
        lethal_mask_out, np.asarray(u_bits, dtype=np.float64), _NO_STREAMS, np.zeros(1),
    )  # fmt: skip
    return float(added[0])


def diversity(geno, n, n_neutral, n_alleles):
    """(gene diversity 1 − Σp², observed heterozygosity, alleles per locus) over the neutral
    loci of rows 0 … n−1 of one population. ``n_alleles`` bounds the allele ids."""
    counts, touched = np.zeros(max(int(n_alleles), 1), dtype=np.int32), np.empty(2 * n_neutral * max(n, 1), dtype=np.int64)
    out = diversity_by_rep(geno, np.zeros(n, np.int32), n, 1, n_neutral, counts, touched, np.empty((1, 3)))
    return float(out[0, 0]), float(out[0, 1]), float(out[0, 2])


@njit(cache=True)
def diversity_by_rep(geno, rep, n, n_reps, n_neutral, counts, touched, out):
    """:func:`diversity` of each replicate's rows among rows 0 … n−1: out[r] = (GD, Ho, A).

    Every allele id belongs to one locus and one replicate (founders and captive pools get
    fresh ids, gene drop copies them), so one count per id serves all loci and replicates, and
    the genotypes are read once, in the order they are stored: a copy that raises an allele's
    count c → c + 1 adds 2c + 1 to its replicate's Σ count² at that locus. ``counts`` (one per
    allele id) is zero on entry and left zero; ``touched`` has room for 2 · n_neutral · n ids
    (both kept by the caller from year to year: a fresh array of every allele ever made, each
    year, would cost more than the count)."""
    sum_sq = np.zeros((n_reps, n_neutral), dtype=np.int64)
    het = np.zeros(n_reps, dtype=np.int64)
    distinct = np.zeros(n_reps, dtype=np.int64)
    size = np.zeros(n_reps, dtype=np.int64)
    n_touched = 0
    for i in range(n):
        r = rep[i]
        g = geno[i]
        size[r] += 1
        for locus in range(n_neutral):
            a = g[locus, 0]
            b = g[locus, 1]
            if a != b:
                het[r] += 1
            c = counts[a]
            if c == 0:
                touched[n_touched] = a
                n_touched += 1
                distinct[r] += 1
            sum_sq[r, locus] += 2 * c + 1
            counts[a] = c + 1
            c = counts[b]
            if c == 0:
                touched[n_touched] = b
                n_touched += 1
                distinct[r] += 1
            sum_sq[r, locus] += 2 * c + 1
            counts[b] = c + 1
    for r in range(n_reps):
        k = size[r]
        if k == 0:
            out[r, 0] = np.nan
            out[r, 1] = np.nan
            out[r, 2] = np.nan
            continue
        two_n_sq = (2.0 * k) * (2.0 * k)
        gd = 0.0
        for locus in range(n_neutral):
            gd += 1.0 - sum_sq[r, locus] / two_n_sq
        out[r, 0] = gd / n_neutral
        out[r, 1] = het[r] / (k * n_neutral)
        out[r, 2] = distinct[r] / n_neutral
    for k in range(n_touched):
        counts[touched[k]] = 0
    return out


def founder_genotypes(pop, rows: np.ndarray, n_lethal: int, frac_last: float, is_lethal_grow, rng) -> None:
    """Give founders unique alleles; mark their lethal alleles via ``is_lethal_grow(ids, flags)``."""
    n_loci = pop.n_loci
    k = rows.size
    if k == 0:
        return
    alleles = pop.new_alleles(k * n_loci * 2).reshape(k, n_loci, 2)
    pop.geno[rows] = alleles
    flags = np.zeros(alleles.shape, dtype=bool)
    n_neutral = n_loci - n_lethal
    if n_lethal:
        flags[:, n_neutral:, 0] = True  # first allele at each lethal locus is lethal
        if frac_last < 1.0:
            flags[:, n_loci - 1, 0] = rng.random(k) < frac_last
    is_lethal_grow(alleles.ravel(), flags.ravel())


def captive_pool(n_founders: int, gene_diversity: float, n_loci: int, n_lethal: int, frac_last: float, pop, is_lethal_grow, rng):
    """Allele pool of a captive population: per locus 2·n_founders founder alleles whose
    frequencies are drawn from a symmetric Dirichlet chosen so that the expected gene diversity
    equals ``gene_diversity`` (capped at the maximum 1 − 1/(2·n_founders)).

    Returns (alleles[locus, j], cumulative frequencies[locus, j]).
    """
    k = 2 * n_founders
    alleles = pop.new_alleles(n_loci * k).reshape(n_loci, k)
    flags = np.zeros(alleles.shape, dtype=bool)
    n_neutral = n_loci - n_lethal
    if n_lethal:
        flags[n_neutral:, 0::2] = True  # each founder: one lethal, one normal allele per lethal locus
        if frac_last < 1.0:
            flags[n_loci - 1, 0::2] = rng.random(n_founders) < frac_last
    is_lethal_grow(alleles.ravel(), flags.ravel())
    gd_max = 1.0 - 1.0 / k
    if gene_diversity >= gd_max - 1e-9 or k == 1:
        freqs = np.full((n_loci, k), 1.0 / k)
    else:
        alpha = gene_diversity / ((1.0 - gene_diversity) * k - 1.0)
        freqs = rng.dirichlet(np.full(k, alpha), size=n_loci)
    return alleles, np.cumsum(freqs, axis=1)


class AllelePool:
    """An ancestral population known only by its allele frequencies (a captive population, or
    the unknown ancestors of related wild founders): genotypes are drawn under random mating
    from :func:`captive_pool` frequencies, never homozygous for a lethal allele (such an animal
    would not have lived to be counted or released)."""

    def __init__(self, n_founders: int, gene_diversity: float, pop, n_neutral: int, n_lethal: int, frac_last: float, is_lethal_grow, rng):
        self.alleles, self.cum = captive_pool(n_founders, gene_diversity, pop.n_loci, n_lethal, frac_last, pop, is_lethal_grow, rng)
        self.n_neutral = n_neutral
        self.mean_kinship = captive_mean_kinship(gene_diversity)

    def draw(self, k: int, random, is_lethal: np.ndarray) -> np.ndarray:
        """Genotypes (k, loci, 2) drawn from the pool; ``random(shape)`` gives uniforms (a
        Generator's ``random`` or a replicate stream's)."""
        n_loci = self.alleles.shape[0]
        out = np.empty((k, n_loci, 2), dtype=np.int32)
        todo = np.arange(k)
        loci = np.arange(n_loci)[:, None]
        while todo.size:
            u = random((todo.size, n_loci, 2))
            j = np.empty(u.shape, dtype=np.int64)
            for locus in range(n_loci):
                j[:, locus, :] = np.searchsorted(self.cum[locus], u[:, locus, :], side="right")
            g = self.alleles[loci, np.minimum(j, self.cum.shape[1] - 1)]
            lethal = g[:, self.n_neutral :, :]
            bad = ((lethal[..., 0] == lethal[..., 1]) & is_lethal[lethal[..., 0]]).any(axis=1)
            out[todo[~bad]] = g[~bad]
            todo = todo[bad]
        return out


def captive_mean_kinship(gene_diversity: float) -> float:
    """Mean kinship of a captive population with the given gene diversity (GD = 1 − MK)."""
    return 1.0 - gene_diversity
