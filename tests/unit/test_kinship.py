"""Kinship and inbreeding of the engine's pedigree kernel against Wright's path counting.

The engine keeps a dense kinship matrix updated at every birth by the recursion
f(o, x) = ½[f(m, x) + f(p, x)], f(o, o) = ½(1 + f(m, p)), F(o) = f(m, p)
(:func:`pardus.population.genetics.add_births`). Here an independent implementation by path
counting computes the same quantities for a known pedigree:

    F_X = Σ over common ancestors A of X's parents, and over all pairs of ancestral paths
          sire → … → A and dam → … → A that share no individual but A,
          of (½)^(n1 + n2 + 1) · (1 + F_A)

and the kinship of x and y is the F of a hypothetical offspring of x and y (so f(x, x) =
½(1 + F_x), and f(x, y) for an ancestor x of y counts the path of length 0 from x).
All these numbers are sums of powers of ½, exact in floating point: compared to 1e-12.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from pardus.population.genetics import add_births

# founders: A, B, C, D, E (unrelated, non-inbred)
FOUNDERS = ["A", "B", "C", "D", "E"]
# births, in batches (a batch is one call of the kernel, as within one simulated year; parents
# must be born in an earlier batch); child: (mother, father)
BATCHES = [
    {"X1": ("A", "B"), "X2": ("A", "B"), "X3": ("C", "B"), "X4": ("C", "D")},  # X1, X2 full sibs; X3 half sib via B
    {
        "P1": ("X1", "B"),  # parent–offspring (father × daughter): F = 1/4
        "S1": ("X1", "X2"),  # full sibs: F = 1/4
        "S2": ("X1", "X2"),
        "H1": ("X3", "X2"),  # paternal half sibs: F = 1/8
        "Y": ("E", "X4"),  # outbred: F = 0
    },
    {
        "Z1": ("S1", "S2"),  # full sibs, themselves inbred
        "Z2": ("P1", "H1"),
        "Z3": ("S1", "X4"),
        "Z4": ("P1", "B"),  # B × his daughter-granddaughter
        "Z5": ("H1", "Y"),
        "Z6": ("X1", "S2"),  # mother × (inbred) son
    },
    {"W1": ("Z1", "Z2"), "W2": ("Z4", "Z3"), "W3": ("Z5", "Z6"), "W4": ("Z1", "Z6")},
]
PARENTS = {c: mp for batch in BATCHES for c, mp in batch.items()}
TEXTBOOK_F = {
    "P1": 0.25,  # parent–offspring
    "S1": 0.25,  # full sibs
    "S2": 0.25,
    "H1": 0.125,  # half sibs
    "Y": 0.0,
    "X1": 0.0,
    "X3": 0.0,
    "Z1": 0.375,  # second generation of full-sib mating (0, 1/4, 3/8, 1/2, …)
    "Z4": 0.375,  # second backcross to the same sire: ½(¼ + ½)
    "Z6": 0.375,  # mother × son from a full-sib mating: ½(½ + ¼)
}


# ------------------------------------------------------------------ independent path counting
@lru_cache(maxsize=None)
def paths_up(x: str) -> tuple[tuple[str, ...], ...]:
    """Every path from x upwards through its ancestry, x itself included (the path (x,))."""
    out = [(x,)]
    for parent in PARENTS.get(x, ()):
        out.extend((x,) + p for p in paths_up(parent))
    return tuple(out)


@lru_cache(maxsize=None)
def wright_kinship(x: str, y: str) -> float:
    total = 0.0
    for p1 in paths_up(x):
        for p2 in paths_up(y):
            a = p1[-1]
            if p2[-1] != a or set(p1) & set(p2) != {a}:
                continue
            n1, n2 = len(p1) - 1, len(p2) - 1
            total += 0.5 ** (n1 + n2 + 1) * (1.0 + wright_F(a))
    return total


@lru_cache(maxsize=None)
def wright_F(x: str) -> float:
    if x not in PARENTS:
        return 0.0
    m, p = PARENTS[x]
    return wright_kinship(m, p)


# ------------------------------------------------------------------ the engine's kernel
def engine_pedigree(n_neutral: int = 3, n_lethal: int = 0, seed: int = 1):
    names = list(FOUNDERS)
    n_total = len(FOUNDERS) + len(PARENTS)
    n_loci = n_neutral + n_lethal
    # the kernel reads and writes kinship through each animal's slot in the store: a shuffled
    # slot per row checks that indirection (the table's rows move, the store does not)
    slot = np.random.default_rng(seed + 100).permutation(n_total).astype(np.int32)
    store = np.zeros((n_total, n_total))
    F = np.zeros(n_total)
    geno = np.zeros((n_total, n_loci, 2), dtype=np.int32)
    nf = len(FOUNDERS)
    store[slot[:nf], slot[:nf]] = 0.5
    geno[:nf] = np.arange(nf * n_loci * 2, dtype=np.int32).reshape(nf, n_loci, 2)  # unique founder alleles
    is_lethal = np.zeros(nf * n_loci * 2, dtype=bool)
    rng = np.random.default_rng(seed)
    row = {n: i for i, n in enumerate(names)}
    n0 = nf
    for batch in BATCHES:
        kids = list(batch)
        mothers = np.array([row[batch[k][0]] for k in kids], dtype=np.int64)
        fathers = np.array([row[batch[k][1]] for k in kids], dtype=np.int64)
        lethal = np.zeros(len(kids), dtype=np.bool_)
        add_births(store, slot, F, geno, is_lethal, n0, mothers, fathers, n_neutral, lethal, rng.random((len(kids), n_loci, 2)))
        for i, k in enumerate(kids):
            row[k] = n0 + i
            names.append(k)
        n0 += len(kids)
    kin = store[np.ix_(slot, slot)]  # by row
    return names, row, kin, F, geno


def test_textbook_inbreeding_coefficients():
    for x, f in TEXTBOOK_F.items():
        assert wright_F(x) == f, x  # the independent implementation itself
    _names, row, _kin, F, _geno = engine_pedigree()
    for x, f in TEXTBOOK_F.items():
        assert F[row[x]] == pytest.approx(f, abs=1e-12), x
    # a few kinships: full sibs ¼, half sibs ⅛, parent–offspring ¼, self ½
    _n, row, kin, _F, _g = engine_pedigree()
    assert kin[row["X1"], row["X2"]] == pytest.approx(0.25, abs=1e-12)  # born in the same batch
    assert kin[row["X1"], row["X3"]] == pytest.approx(0.125, abs=1e-12)
    assert kin[row["B"], row["X1"]] == pytest.approx(0.25, abs=1e-12)
    assert kin[row["A"], row["A"]] == 0.5


def test_kinship_matrix_equals_path_counting():
    names, row, kin, F, _geno = engine_pedigree()
    n = len(names)
    np.testing.assert_array_equal(kin[:n, :n], kin[:n, :n].T)
    worst = 0.0
    for x in names:
        assert F[row[x]] == pytest.approx(wright_F(x), abs=1e-12), f"F({x})"
        for y in names:
            expected = wright_kinship(x, y)
            worst = max(worst, abs(kin[row[x], row[y]] - expected))
            assert kin[row[x], row[y]] == pytest.approx(expected, abs=1e-12), f"f({x}, {y})"
        assert kin[row[x], row[x]] == pytest.approx(0.5 * (1.0 + wright_F(x)), abs=1e-12)
    # the pedigree does exercise deeper inbreeding than the textbook cases
    assert max(wright_F(x) for x in names) > 0.3 and len({round(wright_F(x), 12) for x in names}) >= 6
    assert worst < 1e-12


def test_gene_drop_is_mendelian_and_flags_lethal_homozygotes():
    """Every allele of a newborn is one of the two alleles of the corresponding parent at that
    locus (first of the pair from the mother, second from the father); a newborn is flagged
    exactly when it is homozygous for a lethal allele at a lethal locus."""
    n_neutral, n_lethal = 2, 2
    names, row, _kin, _F, geno = engine_pedigree(n_neutral, n_lethal, seed=5)
    for x, (m, p) in PARENTS.items():
        g = geno[row[x]]
        for locus in range(n_neutral + n_lethal):
            assert g[locus, 0] in geno[row[m], locus]
            assert g[locus, 1] in geno[row[p], locus]

    # lethal flag: two carriers of the same lethal allele (id 7) at the lethal locus 1
    kin = np.zeros((6, 6))
    kin[[0, 1], [0, 1]] = 0.5
    F = np.zeros(6)
    geno = np.zeros((6, 2, 2), dtype=np.int32)
    geno[0] = [[1, 2], [7, 3]]  # mother: lethal 7 on her first copy of locus 1
    geno[1] = [[4, 5], [6, 7]]  # father: lethal 7 on his second copy
    is_lethal = np.zeros(10, dtype=bool)
    is_lethal[7] = True
    # u < 0.5 takes the parent's second allele, u ≥ 0.5 the first
    u = np.array(
        [
            [[0.9, 0.9], [0.9, 0.1]],  # mother's 1st (7), father's 2nd (7) at locus 1: lethal homozygote
            [[0.9, 0.9], [0.1, 0.1]],  # 3 and 7: carrier
            [[0.9, 0.9], [0.9, 0.9]],  # 7 and 6: carrier
            [[0.1, 0.1], [0.1, 0.9]],  # 3 and 6
        ]
    )
    lethal = np.zeros(4, dtype=np.bool_)
    add_births(kin, np.arange(6, dtype=np.int32), F, geno, is_lethal, 2, np.zeros(4, np.int64), np.ones(4, np.int64), 1, lethal, u)
    assert lethal.tolist() == [True, False, False, False]
    assert geno[2, 1].tolist() == [7, 7] and geno[5, 1].tolist() == [3, 6]
    # a neutral-locus homozygote is not lethal even for a flagged allele id
    is_lethal[:] = True
    lethal[:] = False
    geno2 = geno.copy()
    add_births(kin, np.arange(6, dtype=np.int32), F, geno2, is_lethal, 2, np.zeros(1, np.int64), np.ones(1, np.int64), 2, lethal[:1], u[:1])
    assert not lethal[0]


def test_add_births_returns_what_the_births_add_to_the_pair_sum():
    """Mean kinship is kept as a running Σ over ordered pairs: each batch of births must add
    exactly 2·Σ(new × earlier) + Σ(new × new) (earlier = every row before it, newborn or not)."""
    rng = np.random.default_rng(3)
    n_old, nb = 9, 7
    n = n_old + nb
    slot = rng.permutation(n).astype(np.int32)
    store = np.zeros((n, n))
    base = rng.uniform(0.0, 0.2, (n_old, n_old))
    base = (base + base.T) / 2
    base[np.arange(n_old), np.arange(n_old)] = 0.5 + rng.uniform(0, 0.1, n_old)
    store[np.ix_(slot[:n_old], slot[:n_old])] = base
    geno = np.zeros((n, 1, 2), dtype=np.int32)
    geno[:n_old] = np.arange(2 * n_old).reshape(n_old, 1, 2)
    mothers = rng.integers(0, 4, nb)
    fathers = rng.integers(4, n_old, nb)
    added = add_births(store, slot, np.zeros(n), geno, np.zeros(2 * n_old, bool), n_old, mothers, fathers, 1, np.zeros(nb, np.bool_), rng.random((nb, 1, 2)))
    kin = store[np.ix_(slot, slot)]
    np.testing.assert_allclose(kin, kin.T)
    assert added == pytest.approx(kin.sum() - base.sum(), rel=1e-12)
