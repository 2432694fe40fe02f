"""Reproduction (MODEL.md §4.6): mating, litters, sex of cubs, pedigree and gene drop.

An *eligible* female is alive, of breeding age, in her population, and has no dependent cubs
(a cub of hers younger than ``dependence_years`` that is still alive) — so the interbirth
interval emerges from cub survival. She breeds with probability

    p_breed(N) · prey_factor · exp(−fertility_b·F) · outbreak_factor,

moved by the year's breeding deviate (beta EV), if at least one sire is available in her
population. ``p_breed(N)`` is the Vortex density-dependence formula when enabled:
``[P(0) − (P(0) − P(K))·(N/K)^B] · N/(N + A)``. Sires are drawn uniformly from the males of
breeding age in the year's breeding pool (polygyny), avoiding close kin only if configured.
Litter size follows the given distribution; each cub is male with probability ``sex_ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numba import njit
from scipy.special import ndtr

from ..population.genetics import births
from ..population.pedigree import pair_kinship
from ..population.table import ALIVE, ORIGIN_BORN
from ..rng import as_streams, uniform
from ..scenario.schema import Scenario
from .base import CAUSE_INDEX, Field, Process, State
from .disease import Disease
from .ceiling import vortex_breeding  # noqa: F401 (the formula, where it is used)
from .environment import BetaQuantile, beta_parameters, beta_quantile


@njit(cache=True)
def mate(s, n, ids, cause, age, sex, cell, mother, rep, F, kin, slot, n_cells, fba, last, dep, mba, pool_share, p_cell, b_fert, avoid, litter_cum, sex_ratio, ped):
    """Choose breeding females, their sires and litters; returns per cub (mother row, father
    row, sex) and the number of breeding females per cell.

    Each draw comes from the stream of the animal's replicate (row of ``s``), in a fixed order
    over rows (pool membership of every adult male, one uniform per eligible female, then sire,
    litter size and cub sexes per breeder), so that scenarios share their random numbers as far
    as their populations agree. Mates are always in the same cell, hence the same replicate.
    """
    blocked = np.zeros(n, dtype=np.bool_)
    for r in range(n):
        if cause[r] == -1 and age[r] < dep and mother[r] >= 0:
            m = np.searchsorted(ids[:n], mother[r])
            if m < n and ids[m] == mother[r]:
                blocked[m] = True
    in_pool = np.zeros(n, dtype=np.bool_)
    sires_per_cell = np.zeros(n_cells, dtype=np.int64)
    for r in range(n):
        if cause[r] == -1 and sex[r] == 1 and age[r] >= mba:
            if uniform(s, rep[r]) < pool_share:
                in_pool[r] = True
                sires_per_cell[cell[r]] += 1
    breeders = np.empty(n, dtype=np.int64)
    nb = 0
    for r in range(n):
        if cause[r] == -1 and sex[r] == 0 and age[r] >= fba and age[r] <= last and not blocked[r]:
            u = uniform(s, rep[r])
            if sires_per_cell[cell[r]] > 0 and u < p_cell[cell[r]] * np.exp(-b_fert * F[r]):
                breeders[nb] = r
                nb += 1
    # the sires of each cell, in row order, listed once (not searched again for every breeder)
    start = np.zeros(n_cells + 1, dtype=np.int64)
    for c in range(n_cells):
        start[c + 1] = start[c] + sires_per_cell[c]
    pool_rows = np.empty(start[n_cells], dtype=np.int64)
    fill = start[:n_cells].copy()
    for r in range(n):
        if in_pool[r]:
            pool_rows[fill[cell[r]]] = r
            fill[cell[r]] += 1
    per_cell = np.zeros(n_cells, dtype=np.int64)
    max_litter = litter_cum.shape[0]
    mothers = np.empty(nb * max_litter, dtype=np.int64)
    fathers = np.empty(nb * max_litter, dtype=np.int64)
    cub_sex = np.empty(nb * max_litter, dtype=np.int8)
    cand = np.empty(n, dtype=np.int64)
    total = 0
    for i in range(nb):
        f = breeders[i]
        c = cell[f]
        per_cell[c] += 1
        total = _litter(s, f, pool_rows[start[c] : start[c + 1]], avoid, kin, slot, rep, ped, cand, litter_cum, sex_ratio, mothers, fathers, cub_sex, total)
    return mothers[:total], fathers[:total], cub_sex[:total], per_cell


@njit(cache=True)
def _litter(s, f, sires, avoid, kin, slot, rep, ped, cand, litter_cum, sex_ratio, mothers, fathers, cub_sex, total):
    """Female row f's litter: a sire drawn uniformly among ``sires`` (rows; those related above
    ``avoid`` left out unless all are), the litter size and each cub's sex, from her replicate's
    stream; the cubs are written from index ``total`` on; returns the new total."""
    k = sires.shape[0]
    if avoid >= 0.0 and k > 1:
        k2 = 0
        dense = ped[0].shape[0] == 0
        kf = kin[rep[f], slot[f]] if dense else kin[0, 0]
        for j in range(k):
            if dense:
                fk = kf[slot[sires[j]]]
            else:  # only the candidate pairs are computed, from the pedigree
                sire_, dam_, D_, gamma_, La, Lb, ta, tb, heap, ma, mb = ped
                fk = pair_kinship(slot[f], slot[sires[j]], sire_, dam_, D_, gamma_, La, Lb, ta, tb, heap, ma, mb)
            if fk <= avoid:
                cand[k2] = sires[j]
                k2 += 1
        if k2 > 0:  # else every sire is too close: she takes one anyway
            sires = cand[:k2]
            k = k2
    rf = rep[f]
    sire = sires[min(int(uniform(s, rf) * k), k - 1)]
    u = uniform(s, rf)
    size = 1
    max_litter = litter_cum.shape[0]
    while size < max_litter and u >= litter_cum[size - 1]:
        size += 1
    for j in range(size):
        mothers[total] = f
        fathers[total] = sire
        cub_sex[total] = 1 if uniform(s, rf) < sex_ratio else 0
        total += 1
    return total


@njit(cache=True)
def _overlapping_sires(rid, range_start, range_cells, male_owner, row_of_range, out):
    """The rows of the pool males whose ranges share a cell with female range ``rid``, each once
    (in ``out``); returns how many."""
    k = 0
    for j in range(range_start[rid], range_start[rid + 1]):
        m = male_owner[range_cells[j]]
        if m >= 0 and row_of_range[m] >= 0:
            row = row_of_range[m]
            new = True
            for q in range(k):
                if out[q] == row:
                    new = False
                    break
            if new:
                out[k] = row
                k += 1
    return k


@njit(cache=True)
def mate_on_map(s, n, ids, cause, age, sex, mother, rep, F, kin, slot, range_id, status, fba, last, dep, mba, pool_share, p_row, b_fert, avoid,
                litter_cum, sex_ratio, ped, range_start, range_cells, male_owner):  # fmt: skip
    """:func:`mate` on the map: a resident female (her own range) of breeding age without
    dependent cubs breeds with probability ``p_row[f]`` × exp(−b_fert·F); her sire is drawn
    among the resident males of breeding age in the year's breeding pool whose ranges overlap
    hers (``male_owner``: male range id per global cell; candidates in row order). The draws
    follow :func:`mate`'s order (pool membership of every adult male, one uniform per eligible
    female, then per breeder the sire, litter size and cub sexes). Returns (mother rows, father
    rows, cub sexes, breeder rows)."""
    blocked = np.zeros(n, dtype=np.bool_)
    for r in range(n):
        if cause[r] == -1 and age[r] < dep and mother[r] >= 0:
            m = np.searchsorted(ids[:n], mother[r])
            if m < n and ids[m] == mother[r]:
                blocked[m] = True
    n_ranges = range_start.shape[0] - 1
    row_of_range = np.full(max(n_ranges, 1), -1, dtype=np.int64)
    for r in range(n):
        if cause[r] == -1 and sex[r] == 1 and age[r] >= mba:
            if uniform(s, rep[r]) < pool_share and range_id[r] >= 0 and status[r] == 0:
                row_of_range[range_id[r]] = r
    breeders = np.empty(n, dtype=np.int64)
    nb = 0
    sires = np.empty(n, dtype=np.int64)
    for r in range(n):
        if cause[r] == -1 and sex[r] == 0 and age[r] >= fba and age[r] <= last and not blocked[r] and range_id[r] >= 0 and status[r] == 0:
            u = uniform(s, rep[r])
            if _overlapping_sires(range_id[r], range_start, range_cells, male_owner, row_of_range, sires) > 0 and u < p_row[r] * np.exp(-b_fert * F[r]):
                breeders[nb] = r
                nb += 1
    cand = np.empty(n, dtype=np.int64)
    max_litter = litter_cum.shape[0]
    mothers = np.empty(nb * max_litter, dtype=np.int64)
    fathers = np.empty(nb * max_litter, dtype=np.int64)
    cub_sex = np.empty(nb * max_litter, dtype=np.int8)
    total = 0
    for i in range(nb):
        f = breeders[i]
        k = _overlapping_sires(range_id[f], range_start, range_cells, male_owner, row_of_range, sires)
        total = _litter(s, f, np.sort(sires[:k]), avoid, kin, slot, rep, ped, cand, litter_cum, sex_ratio, mothers, fathers, cub_sex, total)
    return mothers[:total], fathers[:total], cub_sex[:total], breeders[:nb]


class Reproduction(Process):
    name = "reproduction"
    reads = (
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cell", "individual"),
        Field("mother", "individual"),
        Field("F", "individual"),
        Field("prey", "cell", "roe-deer eq./km²"),
        Field("outbreak", "cell"),
        Field("breeding_deviate", "year", "standard normal"),
    )
    writes = (
        Field("id", "individual"),
        Field("sex", "individual"),
        Field("age", "individual", "years"),
        Field("cause", "individual"),
        Field("mother", "individual"),
        Field("father", "individual"),
        Field("cell", "individual"),
        Field("F", "individual"),
        Field("origin", "individual"),
        Field("protected", "individual"),
        Field("captive_share", "individual"),
        Field("genotype", "individual"),
        Field("kinship", "individual"),
        Field("slot", "individual"),
        Field("rep", "individual"),
        Field("range_id", "individual"),
        Field("status", "individual"),
        Field("births", "year", "individuals"),
        Field("breeding_females", "year", "individuals"),
    )

    @dataclass(frozen=True)
    class Params:
        female_breeding_age: int
        female_last_breeding_age: int
        male_breeding_age: int
        dependence_years: int
        p_breed: float
        density_dependence: bool  # Vortex's P(N) from the density_dependence process
        breeding_sd: float
        litter_size: tuple[float, ...]
        sex_ratio: float
        male_breeding_pool: float
        avoid_kinship_above: float | None
        fertility_b: float
        required_prey: float
        prey_breeding_exponent: float
        neutral_loci: int

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Reproduction.Params":
            d = sc.demography
            last = d.female_last_breeding_age if d.female_last_breeding_age is not None else d.max_age
            return cls(
                d.female_breeding_age, last, d.male_breeding_age, d.dependence_years, d.p_breed, d.density_dependence.enabled,
                d.environmental_variation.breeding_sd, tuple(d.litter_size), d.sex_ratio, d.male_breeding_pool, d.avoid_kinship_above,
                sc.genetics.fertility_b, sc.prey.required_density, sc.prey.breeding_exponent, sc.genetics.neutral_loci,
            )  # fmt: skip

    def __init__(self, params: "Reproduction.Params", disease: Disease):
        p = self.params = params
        self.fba, self.mba = p.female_breeding_age, p.male_breeding_age
        self.last = p.female_last_breeding_age
        self.dep = p.dependence_years
        self.p0 = p.p_breed
        self.density_dependence = p.density_dependence
        if p.density_dependence:  # Vortex's P(N), from the density_dependence process
            self.reads = type(self).reads + (Field("density_breeding", "year", "probability"),)
        self.sd_b = p.breeding_sd
        a, b, varies = beta_parameters(np.array([self.p0]), np.array([self.sd_b]))
        self._quantile = BetaQuantile(a[0], b[0]) if varies[0] else None
        self.litter_cum = np.cumsum(p.litter_size)
        self.litter_cum[-1] = 1.0
        self.sex_ratio = p.sex_ratio
        self.pool = p.male_breeding_pool
        self.avoid = -1.0 if p.avoid_kinship_above is None else p.avoid_kinship_above
        self.b_fert = p.fertility_b
        self.required = p.required_prey
        self.prey_exp = p.prey_breeding_exponent
        self.n_neutral = p.neutral_loci
        self.disease = disease

    def breeding_probability(self, state: State) -> np.ndarray:
        """Per-cell breeding probability of an eligible, non-inbred female this year."""
        L = state.layers
        return self.base_probability(state) * self.prey_factor(L["prey"]) * self.disease.breeding_factor(L)

    def prey_factor(self, prey: np.ndarray) -> np.ndarray:
        """Breeding relative to a female with enough prey: (prey / required)^exponent, at most 1."""
        if self.required > 0:
            return np.minimum(prey / self.required, 1.0) ** self.prey_exp
        return np.ones_like(prey, dtype=float)

    def base_probability(self, state: State) -> np.ndarray:
        """Per-cell breeding probability before prey and disease: the year's deviate, or density dependence."""
        z = state.per_rep(state.fields["breeding_deviate"])  # one deviate per replicate
        if self.density_dependence:  # the density_dependence process's P(N) of each population
            p = state.fields["density_breeding"]
            if self.sd_b > 0:
                p = beta_quantile(p, np.full_like(p, self.sd_b), ndtr(z)[state.rep_of_cell])
        elif self._quantile is not None:
            p = self._quantile.many(z)[state.rep_of_cell]
        else:
            p = np.full(state.n_cells, self.p0)
        return p

    def step(self, state: State, rng) -> None:
        streams = as_streams(rng, state.n_reps)
        pop = state.pop
        n = pop.n
        p_cell = self.breeding_probability(state)
        kin, slot, ped = pop.kin3, pop.slot, (_NO_PEDIGREE if pop.dense else pop.ped.arrays())
        if pop.breeders is not None and self.avoid >= 0.0:
            # kin avoidance asks for candidate pairs: every animal of breeding age becomes a
            # member of the breeder store, and the pairs are lookups there
            age, cause = pop.age[:n], pop.cause[:n]
            pop.enter_breeders(np.flatnonzero((cause == ALIVE) & (age >= min(self.fba, self.mba))))
            kin, slot, ped = pop.breeders.K, pop.breeders.pos[pop.slot[:n]], _NO_PEDIGREE
        mothers_rows, fathers_rows, cub_sex = self.choose(state, streams, p_cell, kin, slot, ped)
        self.give_birth(state, streams, mothers_rows, fathers_rows, cub_sex)

    def choose(self, state: State, streams, p_cell, kin, slot, ped):
        """The year's breeding females, their sires and litters (:func:`mate`: mates in one
        cell); the breeding females are tallied per cell."""
        pop = state.pop
        mothers_rows, fathers_rows, cub_sex, per_cell = mate(
            streams.s, pop.n, pop.id, pop.cause, pop.age, pop.sex, pop.cell, pop.mother, pop.rep, pop.F, kin, slot,
            state.n_cells, self.fba, self.last, self.dep, self.mba, self.pool, p_cell, self.b_fert, self.avoid, self.litter_cum,
            self.sex_ratio, ped,
        )  # fmt: skip
        state.tally["breeding_females"] += per_cell
        return mothers_rows, fathers_rows, cub_sex

    def give_birth(self, state: State, streams, mothers_rows, fathers_rows, cub_sex) -> None:
        """Rows for the cubs, with their kinship, F and genotypes; lethal homozygotes marked."""
        pop = state.pop
        total = mothers_rows.size
        if total == 0:
            return
        pop.reserve(total)
        n0 = pop.n
        _append_cubs(
            n0, pop.next_id, mothers_rows, fathers_rows, cub_sex, pop.id, pop.sex, pop.age, pop.cause, pop.mother, pop.father,
            pop.cell, pop.rep, pop.origin, pop.protected, pop.captive_share, pop.range_id, pop.status, ORIGIN_BORN, state.tally["births"],
        )  # fmt: skip
        pop.next_id += total
        if pop.dense:
            pop.release_dead_slots()  # the year's dead need no kinship: newborns reuse their slots
            pop.assign_slots(np.arange(n0, n0 + total))
        else:
            pop.add_born_rows(n0, mothers_rows, fathers_rows)  # F from the pedigree
        pop.n = n0 + total
        lethal = np.zeros(total, dtype=np.bool_)
        added = births(
            pop.kin3, pop.slot, pop.rep, pop.F, pop.geno, state.is_lethal, n0, mothers_rows, fathers_rows, self.n_neutral, lethal,
            _NO_BITS, streams.s, np.zeros(pop.n_reps), pop.dense,
        )  # fmt: skip
        pop.appended(n0, added)
        pop.cause[n0 : n0 + total][lethal] = CAUSE_INDEX["inbreeding_lethal"]


_NO_BITS = np.zeros((0, 1, 2))
_I0, _F0 = np.zeros(0, dtype=np.int64), np.zeros(0)
_NO_PEDIGREE = (_I0, _I0, _F0, _F0, _F0, _F0, _I0, _I0, _I0, _F0, _F0)


@njit(cache=True)
def _append_cubs(n0, first_id, mothers, fathers, cub_sex, ids, sex, age, cause, mother, father, cell, rep, origin, protected, captive_share, range_id, status, born, births):
    """Write the table rows of newborn cubs n0 … and count births per cell."""
    for i in range(mothers.shape[0]):
        r = n0 + i
        m = mothers[i]
        f = fathers[i]
        ids[r] = first_id + i
        sex[r] = cub_sex[i]
        age[r] = 0
        cause[r] = -1
        mother[r] = ids[m]
        father[r] = ids[f]
        cell[r] = cell[m]
        rep[r] = rep[m]
        origin[r] = born
        protected[r] = False
        captive_share[r] = 0.5 * (captive_share[m] + captive_share[f])
        range_id[r] = -1  # no range of its own: it lives with its mother
        status[r] = 1  # dependent
        births[cell[m]] += 1
