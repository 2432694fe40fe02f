"""Replicates: the state, the yearly schedule and the random streams.

The engine advances a *batch* of replicates together (:class:`Batch`); one replicate alone is
a batch of one (:class:`Replicate`), with the same result.

Random numbers: the run's root ``SeedSequence`` gives one child per replicate (the same child
for replicate *i* of every scenario, so scenarios are compared with common random numbers), and
each named process draws from its own stream seeded from that child with a fixed key derived
from the process name (:mod:`pardus.rng`). Adding a process therefore never shifts another
process's draws, and a replicate's result does not depend on which worker or batch runs it.
"""

from __future__ import annotations

import math
import zlib
from time import perf_counter
from dataclasses import dataclass

import numpy as np
from numba import njit

from .population.breeders import FLOAT32_ABOVE as BREEDER_FLOAT32_ABOVE
from .population.genetics import _NO_STREAMS, AllelePool, births, founder_genotypes, lethal_layout
from .population.lifetable import life_table, natural_survival
from .population.table import ALIVE, DEPENDENT, FEMALE, KIN_FLOAT32_ABOVE, MALE, NO_RANGE, RESIDENT, Population
from .processes.base import Fields, State
from .landscape import Landscape, aggregate
from .processes.management import MANAGED_LAYERS, CaptiveSource
from .scenario.schema import CAUSES, Scenario
from .rng import Streams
from .schedule import build_schedule

def build_layers(scenario: Scenario, names: list[str]) -> dict[str, np.ndarray]:
    """Per-cell layers of the non-spatial landscape: one cell per population of ``names``."""
    return Landscape.nonspatial(scenario, names).layers


def new_tally(n_cells: int, n_reps: int = 1) -> dict[str, np.ndarray]:
    """Zeroed counters of one year: what the processes add to and the census records (per
    cell of the batch; ``cost`` per replicate)."""
    return {
        "births": np.zeros(n_cells, np.int64),
        "breeding_females": np.zeros(n_cells, np.int64),
        "deaths": np.zeros((n_cells, len(CAUSES)), np.int64),
        "released": np.zeros(n_cells, np.int64),
        "N_before_truncation": np.zeros(n_cells, np.int64),
        "cost": np.zeros(n_reps),
    }


def stream_key(name: str) -> int:
    """A fixed 32-bit key per process name (independent of the order of the schedule)."""
    return zlib.crc32(name.encode())


def process_seed(replicate_seq: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """The seed of a process's stream in one replicate."""
    return np.random.SeedSequence(replicate_seq.entropy, spawn_key=tuple(replicate_seq.spawn_key) + (stream_key(name),))


def process_rng(replicate_seq: np.random.SeedSequence, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(process_seed(replicate_seq, name)))


def replicate_seed(seed: int, replicate: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(replicate,))


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing to total, proportional to weights (largest remainder)."""
    if total == 0 or weights.sum() <= 0:
        return np.zeros(weights.size, dtype=int)
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(int)
    rest = total - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


@dataclass
class Prepared:
    """Everything about a scenario that does not change between replicates."""

    scenario: Scenario
    names: list[str]
    natural: np.ndarray
    n_lethal: int
    frac_last: float
    initial_ages: list[tuple[np.ndarray, np.ndarray]]  # per population: ages of females, of males
    # per population, for initial_age_distribution = "stable": the life table's stable age
    # distribution of females and of males, from which each replicate draws its ages (None
    # where the scenario gives the ages: then initial_ages, the same in every replicate)
    initial_weights: list[tuple[np.ndarray, np.ndarray] | None]
    breeding_rate: np.ndarray  # the life table's annual breeding rate of females by age 1 … max_age
    surviving_litter: np.ndarray  # [j − 1, k − 1]: P(k cubs of a litter alive j years after birth | k ≥ 1)
    mother_alive: np.ndarray  # [j − 1]: P(the mother of such a litter is still alive)

    @property
    def surviving_litter_cum(self) -> np.ndarray:
        cum = np.cumsum(self.surviving_litter, axis=1)
        return cum / np.maximum(cum[:, -1:], 1e-300)


def prepare(scenario: Scenario, names: list[str] | None = None) -> Prepared:
    names = list(scenario.populations) if names is None else names
    lt = life_table(scenario)
    d = scenario.demography
    n_lethal, frac = lethal_layout(scenario.genetics.lethal_equivalents, scenario.genetics.lethal_share)
    ages_all = np.arange(1, d.max_age + 1)
    initial, weights = [], []
    for name in names:
        p = scenario.populations.get(name)
        weights.append(None)
        if p is None:
            initial.append((np.zeros(0, np.int32), np.zeros(0, np.int32)))
            continue
        n_m = int(round(p.initial_size * p.initial_sex_ratio))
        n_f = p.initial_size - n_m
        if p.initial_age_distribution == "stable":
            wf, wm = lt.stable_female, lt.stable_male
            weights[-1] = (np.asarray(wf, float) / np.sum(wf), np.asarray(wm, float) / np.sum(wm))
        else:
            w = np.zeros(d.max_age)
            given = np.asarray(p.initial_age_distribution, dtype=float)
            w[: given.size] = given
            wf = wm = w
        af = np.repeat(ages_all, _allocate(n_f, np.asarray(wf, float)))
        am = np.repeat(ages_all, _allocate(n_m, np.asarray(wm, float)))
        initial.append((af.astype(np.int32), am.astype(np.int32)))
    return Prepared(scenario, names, natural_survival(scenario), n_lethal, frac, initial, weights, lt.breeding_rate, *dependent_litters(scenario, lt, natural_survival(scenario)))


@njit(cache=True)
def _dependent_young(af, am, D, rate, fba, last, mba, cum, alive, u):
    """The dependent young of one population's start (see :meth:`Batch._litters`), from the
    uniforms u. Returns (founder female ages, founder male ages, cub ages, cub sexes, mother
    index among the founder females, father index among the founder males, whether u sufficed).

    For each age j = 1 … D − 1 the young of that age are shuffled (Fisher–Yates); litter sizes
    k = 1, 2, … (cumulative probabilities ``cum[j − 1]``) are drawn until they reach their
    number, the whole draw repeated when they pass it (the sizes given their total: no cut-off
    last litter); a litter is orphaned with probability 1 − ``alive[j − 1]``, else its mother is
    drawn among the founder females not yet mothers with weight = the breeding rate at her age
    j years before, its father uniformly among the founder males of breeding age then; without a
    possible mother or father it is orphaned too. Orphans are founders."""
    f_found = af[af >= D]
    m_found = am[am >= D]
    nf = f_found.shape[0]
    free = np.ones(nf, dtype=np.bool_)
    n_young = np.sum(af < D) + np.sum(am < D)
    c_age = np.empty(n_young, dtype=np.int32)
    c_sex = np.empty(n_young, dtype=np.int8)
    c_mo = np.empty(n_young, dtype=np.int64)
    c_fa = np.empty(n_young, dtype=np.int64)
    o_f = np.empty(n_young, dtype=np.int32)
    o_m = np.empty(n_young, dtype=np.int32)
    n_c = 0
    n_of = 0
    n_om = 0
    k = 0
    base = np.empty(nf)
    fathers = np.empty(m_found.shape[0], dtype=np.int64)
    for j in range(1, D):
        n_f = np.sum(af == j)
        n = n_f + np.sum(am == j)
        if n == 0:
            continue
        if k + 5 * n + 8 > u.shape[0]:
            return f_found, m_found, c_age[:0], c_sex[:0], c_mo[:0], c_fa[:0], False
        young = np.empty(n, dtype=np.int8)
        for i in range(n):
            young[i] = 0 if i < n_f else 1
        for i in range(n - 1, 0, -1):  # shuffle
            x = min(int(u[k] * (i + 1)), i)
            k += 1
            young[i], young[x] = young[x], young[i]
        for f in range(nf):
            then = f_found[f] - j
            base[f] = rate[then - 1] if (then >= fba and then <= last) else 0.0
        n_fa = 0
        for m in range(m_found.shape[0]):
            if m_found[m] - j >= mba:
                fathers[n_fa] = m
                n_fa += 1
        sizes = np.empty(n, dtype=np.int64)
        count = 0
        while True:
            if k + n > u.shape[0]:
                return f_found, m_found, c_age[:0], c_sex[:0], c_mo[:0], c_fa[:0], False
            count = 0
            total = 0
            while total < n:
                size = 1
                while size < cum.shape[1] and u[k] >= cum[j - 1, size - 1]:
                    size += 1
                k += 1
                sizes[count] = size
                count += 1
                total += size
            if total == n:
                break
        if k + 3 * count > u.shape[0]:
            return f_found, m_found, c_age[:0], c_sex[:0], c_mo[:0], c_fa[:0], False
        at = 0
        for i in range(count):
            size = sizes[i]
            u_orphan, u_mother, u_father = u[k], u[k + 1], u[k + 2]
            k += 3
            w_total = 0.0
            for f in range(nf):
                if free[f]:
                    w_total += base[f]
            mo = -1
            if u_orphan < alive[j - 1] and w_total > 0.0 and n_fa > 0:
                target = u_mother * w_total
                for f in range(nf):
                    if free[f] and base[f] > 0.0:
                        mo = f
                        target -= base[f]
                        if target < 0.0:
                            break
                free[mo] = False
            fa = fathers[min(int(u_father * n_fa), n_fa - 1)] if mo >= 0 else -1
            for c in range(at, at + size):
                if mo >= 0:
                    c_age[n_c] = j
                    c_sex[n_c] = young[c]
                    c_mo[n_c] = mo
                    c_fa[n_c] = fa
                    n_c += 1
                elif young[c] == 0:
                    o_f[n_of] = j
                    n_of += 1
                else:
                    o_m[n_om] = j
                    n_om += 1
            at += size
    # orphans join the founders at the end of their sex (the parents' indices stay valid)
    f_out = np.concatenate((f_found, o_f[:n_of]))
    m_out = np.concatenate((m_found, o_m[:n_om]))
    return f_out, m_out, c_age[:n_c], c_sex[:n_c], c_mo[:n_c], c_fa[:n_c], True


def dependent_litters(scenario: Scenario, lt, natural: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The litters still dependent at the start of a year, in the life table's stable state:
    for j = 1 … D − 1 years after birth, (P(k cubs alive | k ≥ 1) for k = 1 … the largest
    litter; the probability that the mother is alive).

    A cub is alive j years after birth with the life table's survival of its first year and of
    ages 1 … j − 1 (the mean of the two sexes at the scenario's sex ratio). Littermates share
    the year's environment: the first-year survival is scaled by the year's natural-survival
    deviate and the binomial of each litter size averaged over it (Gauss–Hermite, 40 nodes;
    later years at their means). A mother bred at age a with weight (females of age a at the
    reproduction step) × (breeding rate at a); she is alive j years on if she passed the
    maximum age at none of the j year-ends and survived the j − 1 years' mortality between."""
    from scipy.special import ndtr

    from .processes.environment import beta_quantile

    d = scenario.demography
    D, M = d.dependence_years, d.max_age
    litter = np.asarray(d.litter_size, dtype=float)
    m = litter.size
    z, wz = np.polynomial.hermite_e.hermegauss(40)
    wz = wz / wz.sum()
    sd = d.environmental_variation.survival_sd.cub
    first = np.zeros((2, z.size))
    for sex in (0, 1):
        mean = float(natural[sex, 0])
        q = beta_quantile(np.full(z.size, mean), np.full(z.size, sd), ndtr(z)) if 0 < mean else np.zeros(z.size)
        first[sex] = lt.cub_survival[sex] * (q / mean if mean > 0 else 0.0)
    sizes = np.zeros((max(D - 1, 0), m))
    alive = np.ones(max(D - 1, 0))
    s_f, s_m = lt.survival_female, lt.survival_male
    ages = np.arange(1, M + 1)
    w_mother = lt.stable_female * s_f * lt.breeding_rate  # litters born by mother's age
    for j in range(1, D):
        later_f = float(np.prod(s_f[: j - 1]))  # ages 1 … j − 1
        later_m = float(np.prod(s_m[: j - 1]))
        s_year = np.clip((1.0 - d.sex_ratio) * first[0] * later_f + d.sex_ratio * first[1] * later_m, 0.0, 1.0)
        p = np.zeros(m)
        for s0, w in zip(s_year, wz):
            for k in range(1, m + 1):
                p[k - 1] += w * sum(litter[n - 1] * math.comb(n, k) * s0**k * (1.0 - s0) ** (n - k) for n in range(k, m + 1))
        sizes[j - 1] = p / p.sum() if p.sum() > 0 else np.r_[1.0, np.zeros(m - 1)]
        surv = np.array([0.0 if a + j - 1 >= M else float(np.prod(s_f[a : a + j - 1])) for a in ages])  # s_f[a] = survival at age a + 1
        alive[j - 1] = float((w_mother * surv).sum() / w_mother.sum()) if w_mother.sum() > 0 else 1.0
    return sizes, alive


class MissingLayerError(ValueError):
    """A process reads a cell layer the landscape does not have, or a field of the year that no
    earlier process writes."""


TALLIES = tuple(new_tally(1))  # year values the engine provides (zeroed each year)


def declared_fields(schedule) -> set[str]:
    """The year fields the schedule's processes write (``state.fields`` accepts only these)."""
    return {f.name for proc in schedule for f in proc.writes if f.where == "year" and f.name not in TALLIES}


def check_layers(schedule, layers: dict) -> None:
    """Every cell layer a process (or one of its hazards) declares as a read must exist, and
    every field of the year it reads must be written by an earlier process: a missing one is
    named with the process that needs it, before anything runs."""
    missing = []
    written_before: set[str] = set()
    for proc in schedule:
        fields = list(proc.reads) + [f for h in getattr(proc, "hazards", []) for f in h.reads]
        written = {f.name for f in proc.writes if f.where == "cell"}
        for f in fields:
            if f.where == "cell" and f.name not in layers and f.name not in written:
                missing.append(f"process '{proc.name}' reads the cell layer '{f.name}', which the landscape does not have — add the layer (or leave out what needs it)")
            if f.where == "year" and f.name not in TALLIES and f.name not in written_before:
                writers = [p.name for p in schedule if any(w.name == f.name and w.where == "year" for w in p.writes)]
                fix = f"the process that writes it ('{writers[0]}') runs after it — reorder the schedule" if writers else "no process of the schedule writes it — add the process that does"
                missing.append(f"process '{proc.name}' reads the field '{f.name}' of the year, but {fix}")
        written_before |= {f.name for f in proc.writes if f.where == "year"}
    if missing:
        raise MissingLayerError("; ".join(dict.fromkeys(missing)))


class Batch:
    """Replicates of a prepared scenario advanced together, year by year.

    Every process steps once a year over the whole batch: its numpy work and its compiled
    kernels see the animals and cells of all replicates at once, so the Python around them runs
    once per batch-year, not once per replicate-year. Replicate r of the batch owns cells
    r·k … r·k + k − 1 (k populations) and row r of every process's random streams
    (:mod:`pardus.rng`), so a replicate's result does not depend on the batch it ran in.
    """

    def __init__(self, prep: Prepared, seed: int, replicates: list[int] | range):
        self.prep = prep
        sc = prep.scenario
        if sc.landscape is not None and type(self) in (Batch, Replicate):
            raise ValueError(f"scenario '{sc.name}' runs on a map ([landscape]): use run_batch() or pardus.spatial.SpatialBatch, not the non-spatial Batch")
        self.replicates = list(replicates)
        R = len(self.replicates)
        self.n_reps = R
        self.seqs = [replicate_seed(seed, r) for r in self.replicates]
        n_loci = sc.genetics.neutral_loci + prep.n_lethal
        n0 = sum(p.initial_size for p in sc.populations.values())
        # each replicate's kinship store holds its living and the year's newborns (the year's
        # dead give their slots to the newborns): about 1.4 × N for leopard-like demography
        store, dtype = breeder_store(sc)
        self.pop = Population(
            n_loci=n_loci, capacity=max(64, 2 * n0 * R), kin_capacity=max(64, int(1.4 * population_size(sc))), n_reps=R, kinship=kinship_mode(sc),
            breeders=store, breeder_dtype=dtype, breeder_capacity=max(64, int(breeder_store_slots(sc))),
        )  # fmt: skip (the store's pages are touched only as it fills)
        self._lethal = np.zeros(1024, dtype=bool)
        self.landscape = Landscape.nonspatial(sc, prep.names)
        self.layers = self.landscape.batch_layers(R)
        self._report_codes = self.landscape.reporting().batch_codes(R)
        self.baseline = {k: self.layers[k].copy() for k in MANAGED_LAYERS}  # what management resets each year
        n_neutral = sc.genetics.neutral_loci
        pools = []
        for r, seq in enumerate(self.seqs):
            init_rng = process_rng(seq, "initial")
            self._founders(init_rng, r)
            pools.append(AllelePool(sc.captive.founders, sc.captive.gene_diversity, self.pop, n_neutral, prep.n_lethal, prep.frac_last, self._grow_lethal, init_rng))
        self.captive = CaptiveSource(pools)
        self.schedule = build_schedule(sc, prep.names, prep.natural, self.baseline, self.captive)
        check_layers(self.schedule, self.layers)
        self.rngs = {proc.name: Streams.from_seeds([process_seed(seq, proc.name) for seq in self.seqs]) for proc in self.schedule}
        for proc in self.schedule:
            if proc.substreams:
                proc.bind_streams({name: Streams.from_seeds([process_seed(seq, name) for seq in self.seqs]) for name in proc.substreams})

    def _grow_lethal(self, ids: np.ndarray, flags: np.ndarray) -> None:
        need = int(ids.max()) + 1 if ids.size else 0
        if need > self._lethal.size:
            grown = np.zeros(max(need, 2 * self._lethal.size), dtype=bool)
            grown[: self._lethal.size] = self._lethal
            self._lethal = grown
        self._lethal[ids] = flags

    def _founders(self, rng: np.random.Generator, r: int) -> None:
        """The starting animals of every population of replicate r. Unrelated founders
        (``founder_kinship`` 0) get unique alleles; related founders share kinship f with each
        other (F = f) and genotypes drawn from an ancestral pool with gene diversity 1 − f, one
        pool per population.

        With ``initial_age_distribution = "stable"`` each replicate draws its ages from the life
        table's stable age distribution, and the young that still depend on their mothers
        (ages below ``dependence_years``) are not founders but litters of founder parents
        (:meth:`_litters`), so that their mothers do not breed in the first year: the model's
        own stable state, without a first-year pulse of births. Ages given by the scenario are
        the same in every replicate and all founders."""
        pop = self.pop
        fk = self.prep.scenario.genetics.founder_kinship
        k_cells = len(self.prep.names)
        ages = np.arange(1, self.prep.scenario.demography.max_age + 1, dtype=np.int32)
        for c, (af_all, am_all) in enumerate(self.prep.initial_ages):
            if af_all.size + am_all.size == 0:
                continue
            if self.prep.initial_weights[c] is not None:  # the model's stable state
                wf, wm = self.prep.initial_weights[c]
                af_all = np.repeat(ages, rng.multinomial(af_all.size, wf))
                am_all = np.repeat(ages, rng.multinomial(am_all.size, wm))
                af, am, litters = self._litters(rng, af_all, am_all)
            else:  # ages given by the scenario: all founders, as given
                af, am, litters = af_all, am_all, ()
            k = af.size + am.size
            pop.reserve(k)
            rows = np.arange(pop.n, pop.n + k)
            pop.id[rows] = pop.new_ids(k)
            pop.sex[rows] = np.r_[np.full(af.size, FEMALE), np.full(am.size, MALE)]
            pop.age[rows] = np.r_[af, am]
            pop.cause[rows] = ALIVE
            pop.mother[rows] = -1
            pop.father[rows] = -1
            pop.cell[rows] = c + k_cells * r
            pop.rep[rows] = r
            pop.F[rows] = fk
            pop.origin[rows] = 0
            pop.captive_share[rows] = 0.0
            pop.range_id[rows] = NO_RANGE
            pop.status[rows] = np.where(pop.age[rows] < self.prep.scenario.demography.dependence_years, DEPENDENT, RESIDENT)
            if pop.dense:
                slots = pop.assign_slots(rows)
                kin = pop.kin3[r]
                a = int(slots[0])
                if np.array_equal(slots, np.arange(a, a + k)):  # a fresh store: one block, not a gather
                    kin[a : a + k, a : a + k] = fk
                else:
                    kin[np.ix_(slots, slots)] = fk
                kin[slots, slots] = 0.5 * (1.0 + fk)
            else:
                pop.add_founder_rows(rows, fk)  # one metafounder per population and replicate
            pop.n += k
            if fk > 0.0:
                n_neutral = pop.n_loci - self.prep.n_lethal
                ancestors = AllelePool(k, 1.0 - fk, pop, n_neutral, self.prep.n_lethal, self.prep.frac_last, self._grow_lethal, rng)
                pop.geno[rows] = ancestors.draw(k, rng.random, self._lethal)
            else:
                founder_genotypes(pop, rows, self.prep.n_lethal, self.prep.frac_last, self._grow_lethal, rng)
            if litters:
                self._add_cubs(rng, r, c + k_cells * r, rows[0], litters)  # the dependent young

    def _litters(self, rng: np.random.Generator, af: np.ndarray, am: np.ndarray):
        """Split a population's starting ages into founders and dependent litters
        (:func:`_dependent_young`): for each age j = 1 … D − 1 (D = ``dependence_years``) the
        young of that age are grouped into litters with the sizes of litters still alive j years
        after birth; a litter's mother is alive as often as in the stable state
        (``Prepared.mother_alive``) and then drawn among the founder females that could have bred
        j years ago, weighted by the life table's breeding rate at her age then, its father
        among the founder males of breeding age then; orphans are founders. Returns (founder
        female ages, founder male ages, dependent young as (ages, sexes, mother index among the
        founder females, father index among the founder males), or () if there are none)."""
        d = self.prep.scenario.demography
        D = d.dependence_years
        if D <= 1:
            return af, am, ()
        last = d.female_last_breeding_age if d.female_last_breeding_age is not None else d.max_age
        size = 8 * (af.size + am.size) + 64
        while True:
            f_out, m_out, *cubs, ok = _dependent_young(
                af.astype(np.int32), am.astype(np.int32), D, self.prep.breeding_rate, d.female_breeding_age, last,
                d.male_breeding_age, self.prep.surviving_litter_cum, self.prep.mother_alive, rng.random(size),
            )  # fmt: skip
            if ok:
                break
            size *= 4
        return f_out, m_out, (tuple(cubs) if cubs[0].size else ())

    def _add_cubs(self, rng: np.random.Generator, r: int, cell: int, first: int, cubs) -> None:
        """Rows for the dependent young of one population: born to founder parents (rows
        ``first`` + mother index and ``first`` + number of founder females + father index),
        with kinship, F and genotypes as at a birth; a cub homozygous for a lethal is drawn
        again (it is alive: it survived its birth)."""
        pop = self.pop
        ages, sexes, mo, fa = cubs
        n_f = int((pop.sex[first : pop.n] == FEMALE).sum())
        mothers = first + mo
        fathers = first + n_f + fa
        total = mothers.size
        pop.reserve(total)
        n0 = pop.n
        new = np.arange(n0, n0 + total)
        pop.id[new] = pop.new_ids(total)
        pop.sex[new] = sexes
        pop.age[new] = ages
        pop.cause[new] = ALIVE
        pop.mother[new] = pop.id[mothers]
        pop.father[new] = pop.id[fathers]
        pop.cell[new] = cell
        pop.rep[new] = r
        pop.origin[new] = 0
        pop.protected[new] = False
        pop.captive_share[new] = 0.0
        pop.range_id[new] = NO_RANGE
        pop.status[new] = DEPENDENT  # younger than dependence_years: with their mother
        if pop.dense:
            pop.assign_slots(new)
        else:
            pop.add_born_rows(n0, mothers, fathers)
        pop.n = n0 + total
        n_neutral = pop.n_loci - self.prep.n_lethal
        for _attempt in range(100):
            lethal = np.zeros(total, dtype=np.bool_)
            births(pop.kin3, pop.slot, pop.rep, pop.F, pop.geno, self._lethal, n0, mothers, fathers, n_neutral, lethal,
                   rng.random((total, pop.n_loci, 2)), _NO_STREAMS, np.zeros(pop.n_reps), pop.dense)  # fmt: skip
            if not lethal.any():
                break
        pop.appended(n0)

    def run(self, timings: dict[str, float] | None = None, on_year=None) -> dict[str, np.ndarray]:
        """Run every year; returns the records with a leading replicate axis. ``timings``, if
        given, collects the seconds spent in each process (for the benchmarks); ``on_year(t,
        state)``, if given, is called at the end of every simulated year (t = 1 … years)."""
        sc = self.prep.scenario
        T = sc.run.years
        k = self.landscape.reporting().n_regions  # results are reported by region
        R = self.n_reps
        rec = {
            "N": np.zeros((R, T + 1, k, 2, 3), np.int32),
            "N_before_truncation": np.zeros((R, T + 1, k), np.int32),
            "breeding_females": np.zeros((R, T + 1, k), np.int32),
            "births": np.zeros((R, T + 1, k), np.int32),
            "deaths": np.zeros((R, T + 1, k, len(CAUSES)), np.int32),
            "released": np.zeros((R, T + 1, k), np.int32),
            "prey": np.zeros((R, T + 1, k)),
            "cost": np.zeros((R, T + 1)),
            # per-cell results are running sums over the years, never a copy per year
            "occupied_years": np.zeros((R, self.landscape.n_cells), np.int32),
        }
        for v in GENETIC_RECORDS:
            rec[v] = np.full((R, T + 1), np.nan)
        census = next(p for p in self.schedule if p.name == "census")
        declared = declared_fields(self.schedule)
        state = State(year=sc.run.start_year, t=0, pop=self.pop, layers=self.layers, tally={}, is_lethal=self._lethal, n_reps=R, ranges=getattr(self, "ranges", None))
        self._record(rec, 0, census.measure(state, age_offset=1), state, initial=True)
        for t in range(1, T + 1):
            state.year = sc.run.start_year + t
            state.t = t
            state.tally = new_tally(self.landscape.n_cells * R, R)
            state.fields = Fields(declared)  # what the processes compute this year for each other
            if timings is None:
                for proc in self.schedule:
                    state.is_lethal = self._lethal
                    proc.step(state, self.rngs[proc.name])
            else:
                for proc in self.schedule:
                    state.is_lethal = self._lethal
                    t0 = perf_counter()
                    proc.step(state, self.rngs[proc.name])
                    timings[proc.name] = timings.get(proc.name, 0.0) + perf_counter() - t0
            self._record(rec, t, state.fields["census"], state)
            if on_year is not None:
                on_year(t, state)
        return rec

    def _by_region(self, per_cell: np.ndarray) -> np.ndarray:
        """Per-cell values of the batch summed by reporting region: (replicates, regions, …)."""
        reg = self.landscape.reporting()
        return aggregate(per_cell, self._report_codes, self.n_reps * reg.n_regions).reshape((self.n_reps, reg.n_regions) + per_cell.shape[1:])

    def _region_mean(self, per_cell: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """A density layer averaged over each reporting region's cells, weighted (by area)."""
        reg = self.landscape.reporting()
        if reg.identity:
            return per_cell.reshape(self.n_reps, reg.n_regions)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._by_region(per_cell * weight) / self._by_region(weight)

    def _record(self, rec: dict, t: int, m: dict, state: State, initial: bool = False) -> None:
        if not initial:  # a cell holds animals at the end of this simulated year
            rec["occupied_years"] += (m["N"].reshape(m["N"].shape[0], -1).sum(axis=1) > 0).reshape(self.n_reps, -1)
        rec["N"][:, t] = self._by_region(m["N"])
        for v in GENETIC_RECORDS:
            rec[v][:, t] = m[v]
        rec["prey"][:, t] = self._region_mean(state.layers["prey"], state.layers["area_km2"])
        if initial:
            rec["N_before_truncation"][:, t] = self._by_region(m["N"].reshape(m["N"].shape[0], 6).sum(axis=1))
            return
        for v in ("births", "breeding_females", "released", "N_before_truncation", "deaths"):
            rec[v][:, t] = self._by_region(state.tally[v])
        rec["cost"][:, t] = state.tally["cost"]


GENETIC_RECORDS = ("gene_diversity", "heterozygosity", "alleles", "mean_inbreeding", "mean_kinship", "founder_genome_equivalents")


class Replicate(Batch):
    """One replicate run of a prepared scenario (a batch of one)."""

    def __init__(self, prep: Prepared, seed: int, replicate: int):
        super().__init__(prep, seed, [replicate])

    def run(self) -> dict[str, np.ndarray]:
        return {key: v[0] for key, v in super().run().items()}


def run_replicate(scenario: Scenario, seed: int, replicate: int, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run one replicate of a scenario; returns the per-year records (see docs/outputs.md)."""
    return Replicate(prepare(scenario, names), seed, replicate).run()


# genetics.kinship = "auto": the dense store of all living pairs up to this many animals (the
# larger of the total initial size and total K), the pedigree with its breeder store beyond.
# Measured crossover (benchmarks/bench_scale.py, batches of replicates as an ensemble runs
# them): dense is 1.4-2x faster at K = 100 and amur-2015-nonspatial (K 210), the pedigree 1.3x at K = 300,
# 3x at K = 1,000 and 3.7x at K = 2,000.
AUTO_DENSE_MAX_ANIMALS = 250


def dense_kinship_bytes(sc: Scenario) -> float:
    """The expected size of one replicate's dense kinship store: about 1.4 × the larger of the
    initial size and total K slots, squared (float32 beyond KIN_FLOAT32_ABOVE slots)."""
    n0 = sum(p.initial_size for p in sc.populations.values())
    k = sum(p.carrying_capacity for p in sc.populations.values())
    slots = 1.4 * max(n0, k, 1)
    return slots * slots * (8 if slots <= KIN_FLOAT32_ABOVE else 4)


def population_size(sc: Scenario) -> int:
    """The larger of the total initial size and the total carrying capacity."""
    n0 = sum(p.initial_size for p in sc.populations.values())
    k = sum(p.carrying_capacity for p in sc.populations.values())
    return max(n0, k, 1)


def kinship_mode(sc: Scenario) -> str:
    """"dense" or "pedigree" for ``genetics.kinship`` (resolving "auto" by size)."""
    mode = sc.genetics.kinship
    if mode == "auto":
        mode = "dense" if population_size(sc) <= AUTO_DENSE_MAX_ANIMALS else "pedigree"
    return mode


PEDIGREE_STORE_MAX_BYTES = 768 * 2**20  # pedigree mode: a breeder store while it fits in this


def breeder_store_slots(sc: Scenario) -> float:
    """The expected size of one replicate's breeder store (pedigree mode): its members are
    about 0.6 × the larger of the initial size and total K for leopard-like demography (0.58
    at K = 10,000 after 30 years), and it runs up to twice its members before it compacts."""
    return 1.2 * population_size(sc)


def breeder_store(sc: Scenario) -> tuple[bool, type]:
    """(whether pedigree mode keeps the breeders' kinship dense, its entries' type): a store
    while it fits in PEDIGREE_STORE_MAX_BYTES (float32 beyond FLOAT32_ABOVE slots), else every
    pair is walked from the pedigree."""
    slots = breeder_store_slots(sc)
    dtype = np.float32 if slots > BREEDER_FLOAT32_ABOVE else np.float64
    return slots * slots * np.dtype(dtype).itemsize <= PEDIGREE_STORE_MAX_BYTES, dtype


MAX_BATCH = 64  # replicates advanced together: beyond this the Python per batch-year is negligible
SPATIAL_MAX_BATCH = 32  # on a map: a batch of 32 peaks near 0.5 GiB on the default landscape (64: 0.8 GiB)
BATCH_KINSHIP_BYTES = 128 * 2**20  # kinship stores of a batch, at most (estimated)


def batch_size(prep: Prepared) -> int:
    """How many replicates of a scenario to advance together: up to MAX_BATCH, fewer when
    their kinship stores (about 1.4 × the larger of the initial size and total K, squared, per
    replicate) would exceed BATCH_KINSHIP_BYTES, and one for a large population."""
    sc = prep.scenario
    if sc.landscape is not None:  # on a map each replicate holds every layer of every cell: ~10 MiB each
        return SPATIAL_MAX_BATCH
    if kinship_mode(sc) == "pedigree":  # batch small populations, not large ones
        store, dtype = breeder_store(sc)
        by_store = BATCH_KINSHIP_BYTES // (breeder_store_slots(sc) ** 2 * np.dtype(dtype).itemsize) if store else MAX_BATCH
        return int(max(1, min(MAX_BATCH, 20_000 // population_size(sc), by_store)))
    return int(max(1, min(MAX_BATCH, BATCH_KINSHIP_BYTES // dense_kinship_bytes(sc))))


def run_batch(prep: Prepared, seed: int, replicates: list[int] | range) -> dict[str, np.ndarray]:
    """Run replicates together; records with a leading replicate axis (identical to running
    each replicate alone). A scenario with [landscape] runs on its map (:mod:`pardus.spatial`)."""
    if prep.scenario.landscape is not None:
        from .spatial import SpatialBatch

        return SpatialBatch(prep, seed, replicates).run()
    return Batch(prep, seed, replicates).run()
