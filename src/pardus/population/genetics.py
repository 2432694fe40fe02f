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


def lethal_layout(lethal_equivalents: float, lethal_share: float) -> tuple[int, float]:
    """(number of lethal loci, chance that the last locus carries a lethal)."""
    x = lethal_equivalents * lethal_share
    n = int(math.ceil(x - 1e-12))
    frac = x - (n - 1) if n > 0 else 0.0
    return n, frac


@njit(cache=True)
def add_births(kin, slot, F, geno, is_lethal, n0, mothers, fathers, n_neutral, lethal_mask_out, u_bits):
    """Fill kinship, F and genotypes of newborn rows n0 … n0+len(mothers)-1 (their slots
    already assigned); ``mothers`` and ``fathers`` are rows.

    ``u_bits`` holds one uniform per (newborn, locus, parent) for the Mendelian draws.
    ``lethal_mask_out[i]`` is set True for a newborn homozygous for a lethal allele. Returns
    what the births add to the sum of kinship over ordered pairs of the table.
    """
    nb = mothers.shape[0]
    n_loci = geno.shape[1]
    added = 0.0
    for i in range(nb):
        o = n0 + i
        so = slot[o]
        km = kin[slot[mothers[i]]]
        kp = kin[slot[fathers[i]]]
        ko = kin[so]
        row = 0.0
        for x in range(o):
            sx = slot[x]
            if sx < 0:  # a dead animal that gave up its slot this year: no kinship kept
                continue
            v = 0.5 * (km[sx] + kp[sx])
            ko[sx] = v
            kin[sx, so] = v
            row += ko[sx]
        fmp = km[slot[fathers[i]]]
        ko[so] = 0.5 * (1.0 + fmp)
        F[o] = fmp
        added += 2.0 * row + ko[so]
        m = mothers[i]
        p = fathers[i]
        dead = False
        for locus in range(n_loci):
            a = geno[m, locus, 1 if u_bits[i, locus, 0] < 0.5 else 0]
            b = geno[p, locus, 1 if u_bits[i, locus, 1] < 0.5 else 0]
            geno[o, locus, 0] = a
            geno[o, locus, 1] = b
            if locus >= n_neutral and a == b and is_lethal[a]:
                dead = True
        lethal_mask_out[i] = dead
    return added


@njit(cache=True)
def diversity(geno, n, n_neutral, n_alleles):
    """(gene diversity 1 − Σp², observed heterozygosity, alleles per locus) over the neutral
    loci of rows 0 … n−1. ``n_alleles`` bounds the allele ids (a scratch count per id)."""
    if n == 0:
        return np.nan, np.nan, np.nan
    counts = np.zeros(n_alleles, dtype=np.int32)
    gd = 0.0
    ho = 0.0
    na = 0.0
    two_n = 2.0 * n
    for locus in range(n_neutral):
        het = 0
        for i in range(n):
            a = geno[i, locus, 0]
            b = geno[i, locus, 1]
            counts[a] += 1
            counts[b] += 1
            if a != b:
                het += 1
        sumsq = 0.0
        distinct = 0
        for i in range(n):
            for c in range(2):
                a = geno[i, locus, c]
                k = counts[a]
                if k > 0:
                    f = k / two_n
                    sumsq += f * f
                    distinct += 1
                    counts[a] = 0
        ho += het / n
        gd += 1.0 - sumsq
        na += distinct
    return gd / n_neutral, ho / n_neutral, na / n_neutral


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

    def draw(self, k: int, rng: np.random.Generator, is_lethal: np.ndarray) -> np.ndarray:
        """Genotypes (k, loci, 2) drawn from the pool."""
        n_loci = self.alleles.shape[0]
        out = np.empty((k, n_loci, 2), dtype=np.int32)
        todo = np.arange(k)
        loci = np.arange(n_loci)[:, None]
        while todo.size:
            u = rng.random((todo.size, n_loci, 2))
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
