"""Unit tests of the yearly processes against what docs/model.md says they compute.

Every process is driven directly on a hand-made state (individual table and per-cell layers
set by hand), so that the expected result can be written out from the documented equations:

1. competing risks (``mark_deaths`` / ``Mortality``), hazard modifiers, the newborn cohort;
2. environmental variation (beta EV), its interpolated quantile table;
3. Vortex density-dependent breeding;
4. the hazard tables (poaching, conflict, road, starvation, disease, natural, inbreeding);
5. prey dynamics;
6. dispersal;
7. management: layers, costs, captive releases, translocations;
8. resolve (deaths, ageing, senescence, K truncation) and census.

Statistical assertions use fixed seeds. Proportions are checked as |p̂ − p| ≤ Z·SE with the
binomial SE √(p(1−p)/n) of the *expected* p, means as |x̄ − μ| ≤ Z·σ/√n with the known σ, and
categorical distributions by a chi-square goodness-of-fit test at α = 0.001. Z = 4 (two-sided
chance 6.3e-5 per assertion): with ~40 statistical assertions the chance that one fails by
sampling error alone is about 3e-3, and the seeds are fixed, so a pass is reproducible.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr

from pardus.rng import as_streams, Streams
from pardus.engine import Replicate, build_layers, new_tally, prepare
from pardus.population.table import ALIVE, FEMALE, MALE, ORIGIN_BORN, ORIGIN_FOUNDER, ORIGIN_RELEASED, Population
from pardus.processes.base import CAUSE_INDEX, Hazard, State, patrol_effect, stage_of_age
from pardus.processes.ceiling import Ageing, Ceiling, DensityDependence, Resolve
from pardus.processes.census import Census
from pardus.processes.conflict import Conflict
from pardus.processes.disease import Disease
from pardus.processes.dispersal import Dispersal
from pardus.processes.environment import Environment, beta_parameters, beta_quantile_z
from pardus.processes.management import MANAGED_LAYERS, Management
from pardus.processes.mortality import Mortality, hazard_rates, mark_deaths
from pardus.processes.poaching import Poaching
from pardus.processes.prey import PreyDynamics
from pardus.processes.reproduction import Reproduction, vortex_breeding
from pardus.processes.road import Road
from pardus.processes.survival import InbreedingDepression, NaturalMortality, Starvation
from pardus.scenario import resolve_scenario, scenario_from_dict
from pardus.scenario.schema import CAUSES

Z = 4.0  # multiple of the standard error in every statistical assertion
ALPHA = 0.001  # significance level of the chi-square goodness-of-fit tests
CUB, SUBADULT, ADULT = 0, 1, 2
N_CAUSES = len(CAUSES)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def amur_raw() -> dict:
    """The amur-2015-nonspatial preset as a plain dict (callers modify it)."""
    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw.pop("sources", None)
    return raw


def scenario(modify=None):
    raw = amur_raw()
    if modify is not None:
        modify(raw)
    return scenario_from_dict(raw)


def hand_layers(n_cells: int, **values) -> dict[str, np.ndarray]:
    """Every per-cell layer the processes read, neutral defaults, overridden by ``values``."""
    z = np.zeros(n_cells)
    layers = {
        "carrying_capacity": np.full(n_cells, 1e9),
        "area_km2": np.full(n_cells, 1000.0),
        "prey": np.ones(n_cells),
        "prey_capacity": np.ones(n_cells),
        "human_access": z.copy(),
        "deer_farm_exposure": z.copy(),
        "road_exposure": z.copy(),
        "patrol_effort": z.copy(),
        "outbreak": np.zeros(n_cells, dtype=bool),
    }
    for name in MANAGED_LAYERS:
        layers.setdefault(name, z.copy())
    for k, v in values.items():
        dtype = bool if k == "outbreak" else float
        layers[k] = np.array(np.broadcast_to(np.asarray(v, dtype=dtype), (n_cells,)))
    return layers


def make_pop(sex, age, cell=0, *, origin=ORIGIN_FOUNDER, F=0.0, protected=False, cause=ALIVE, n_loci=1, spare=0):
    """A table of unrelated animals (kinship 0, self-kinship 1/2, unique alleles) with the
    given columns (scalars broadcast)."""
    sex, age, cell, origin, F, protected, cause = np.broadcast_arrays(
        np.asarray(sex), np.asarray(age), np.asarray(cell), np.asarray(origin), np.asarray(F, dtype=float),
        np.asarray(protected), np.asarray(cause),
    )  # fmt: skip
    n = sex.size
    pop = Population(n_loci=n_loci, capacity=max(64, n + spare))
    pop.id[:n] = pop.new_ids(n)
    pop.sex[:n], pop.age[:n], pop.cell[:n] = sex, age, cell
    pop.origin[:n], pop.F[:n], pop.protected[:n], pop.cause[:n] = origin, F, protected, cause
    pop.mother[:n] = -1
    pop.father[:n] = -1
    pop.kin[:n, :n] = 0.0
    pop.kin[np.arange(n), np.arange(n)] = 0.5
    pop.geno[:n] = pop.new_alleles(n * n_loci * 2).reshape(n, n_loci, 2)
    pop.n = n
    return pop


def make_state(pop: Population, layers: dict, year: int = 2016) -> State:
    return State(
        year=year, t=1, pop=pop, layers=layers, tally=new_tally(len(layers["carrying_capacity"])),
        is_lethal=np.zeros(max(pop.next_allele, 1) + 1, dtype=bool),
    )  # fmt: skip


class FixedHazard(Hazard):
    """A hazard whose table is given: (cells, sex, stage)."""

    def __init__(self, cause: str, table: np.ndarray, modifier: str = "none", adult_age: int = 2):
        self.cause = cause
        self._table = np.asarray(table, dtype=float)
        self.modifier = modifier
        self.adult_age = adult_age

    def table(self, state: State) -> np.ndarray:
        return self._table


def const_table(p: float, n_cells: int = 1) -> np.ndarray:
    return np.full((n_cells, 2, 3), float(p))


def binom_ok(k: int, n: int, p: float) -> tuple[bool, str]:
    """|k/n − p| ≤ Z·√(p(1−p)/n); returns (ok, message)."""
    se = math.sqrt(p * (1 - p) / n)
    ok = abs(k / n - p) <= Z * se
    return ok, f"observed {k}/{n} = {k / n:.5f}, expected {p:.5f} ± {Z}·SE (SE {se:.5f})"


def chisq_ok(observed, probs) -> tuple[bool, str]:
    observed = np.asarray(observed, dtype=float)
    probs = np.asarray(probs, dtype=float)
    expected = observed.sum() * probs / probs.sum()
    res = stats.chisquare(observed, expected)
    return res.pvalue > ALPHA, f"observed {observed.astype(int).tolist()}, expected {np.round(expected, 1).tolist()}, p = {res.pvalue:.2e}"


def lam(p):
    return -np.log1p(-np.asarray(p, dtype=float))


# ------------------------------------------------------------------------------------------
# 1. competing risks
# ------------------------------------------------------------------------------------------


def kernel_deaths(tables, cause_names, sex, age, cell=0, F=0.0, protected=False, modifiers=None, adult_age=2, seed=0):
    """Run the competing-risks kernels ``hazard_rates`` and ``mark_deaths`` on plain columns (no individual table, so
    that 10⁵ animals need no kinship matrix); returns the cause column."""
    sex, age, cell, F, protected = (np.ascontiguousarray(x) for x in np.broadcast_arrays(
        np.asarray(sex, np.int8), np.asarray(age, np.int32), np.asarray(cell, np.int32), np.asarray(F, float), np.asarray(protected, bool)))
    n = sex.size
    cause = np.full(n, ALIVE, dtype=np.int8)
    k = len(cause_names)
    mods = np.zeros(k, np.int64) if modifiers is None else np.asarray(modifiers, np.int64)
    u = np.random.default_rng(seed).random((n, 2))
    mark_deaths(cause, cell, sex, age, F, protected, np.arange(n), hazard_rates(np.asarray(tables, float), mods), mods,
                np.array([CAUSE_INDEX[c] for c in cause_names], np.int8), adult_age, u)
    return cause


def _mortality_run(hazards, pop, layers=None, cohort="independent", adult_age=2, seed=0):
    layers = layers if layers is not None else hand_layers(int(pop.cell[: pop.n].max()) + 1)
    state = make_state(pop, layers)
    Mortality(hazards, cohort=cohort, adult_age=adult_age).step(state, np.random.default_rng(seed))
    return state


def test_competing_risks_total_death_share_and_cause_shares():
    """MODEL.md §4.5: P(dies) = 1 − Π(1 − p_k); P(cause k | dies) = λ_k/Σλ, λ_k = −ln(1 − p_k).
    100 000 identical adults, three causes with p = 0.1, 0.2, 0.3: P(dies) = 0.496,
    binomial SE 0.0016; the cause split (0.154, 0.326, 0.521) by chi-square."""
    n = 100_000
    ps = {"natural": 0.1, "poaching": 0.2, "road": 0.3}
    cause = kernel_deaths([const_table(p) for p in ps.values()], list(ps), np.arange(n) % 2, 5, seed=1)
    q = 1 - np.prod([1 - p for p in ps.values()])
    ok, msg = binom_ok(int((cause != ALIVE).sum()), n, q)
    assert ok, msg
    counts = np.bincount(cause[cause != ALIVE], minlength=N_CAUSES)
    others = np.delete(counts, [CAUSE_INDEX[c] for c in ps])
    assert others.sum() == 0, f"deaths of causes without a hazard: {dict(zip(CAUSES, counts))}"
    ok, msg = chisq_ok([counts[CAUSE_INDEX[c]] for c in ps], lam(list(ps.values())))
    assert ok, "cause shares are not λ_k/Σλ: " + msg


def test_competing_risks_do_not_depend_on_the_order_of_the_hazards():
    """MODEL.md §4.5: 'the share of deaths per cause does not depend on the order in which the
    causes are listed'. With the same random numbers, the same animals die (P(dies) depends only
    on Σλ) and the cause split fits λ_k/Σλ in either order."""
    n = 60_000
    ps = {"natural": 0.05, "starvation": 0.4, "conflict": 0.15, "disease": 0.25}
    tables = [const_table(p) for p in ps.values()]
    a = kernel_deaths(tables, list(ps), np.arange(n) % 2, 3, seed=7)
    b = kernel_deaths(tables[::-1], list(ps)[::-1], np.arange(n) % 2, 3, seed=7)
    np.testing.assert_array_equal(a != ALIVE, b != ALIVE)
    for cause in (a, b):
        counts = np.bincount(cause[cause != ALIVE], minlength=N_CAUSES)
        ok, msg = chisq_ok([counts[CAUSE_INDEX[c]] for c in ps], lam(list(ps.values())))
        assert ok, msg


def test_a_certain_hazard_always_kills_and_certain_causes_share_equally():
    """p_k = 1 kills every animal, of that cause; with two certain causes each is chosen with
    probability 1/2 (MODEL.md §4.5), and the uncertain causes never."""
    n = 20_000
    sex, age = np.arange(n) % 2, np.arange(n) % 10
    cause = kernel_deaths([const_table(0.6), const_table(1.0)], ["natural", "road"], sex, age, seed=3)
    assert np.all(cause == CAUSE_INDEX["road"])
    tables = [const_table(0.6), const_table(1.0), const_table(1.0)]
    cause = kernel_deaths(tables, ["natural", "road", "poaching"], sex, age, seed=4)
    assert np.all(np.isin(cause, [CAUSE_INDEX["road"], CAUSE_INDEX["poaching"]]))
    ok, msg = binom_ok(int((cause == CAUSE_INDEX["road"]).sum()), n, 0.5)
    assert ok, msg


def test_hazard_tables_are_indexed_by_cell_sex_and_stage():
    """Deterministic: a table that is 1 in exactly one (cell, sex, stage) kills exactly the
    animals of that class; the stage is cub for age 0, subadult for 1 … adult_age − 1, adult
    from adult_age (here adult_age = 3, so age 2 is still subadult)."""
    cells, sexes, ages = np.meshgrid(np.arange(3), [FEMALE, MALE], np.arange(6), indexing="ij")
    cells, sexes, ages = (np.repeat(x.ravel(), 4) for x in (cells, sexes, ages))
    n = cells.size
    for c, s, st in [(1, MALE, SUBADULT), (2, FEMALE, CUB), (0, MALE, ADULT)]:
        table = np.zeros((3, 2, 3))
        table[c, s, st] = 1.0
        pop = make_pop(sexes, ages, cells)
        cause = _mortality_run([FixedHazard("poaching", table)], pop, layers=hand_layers(3), adult_age=3).pop.cause[:n]
        stage = np.where(ages == 0, CUB, np.where(ages < 3, SUBADULT, ADULT))
        expect = (cells == c) & (sexes == s) & (stage == st)
        np.testing.assert_array_equal(cause != ALIVE, expect, err_msg=f"class {(c, s, st)}")
    np.testing.assert_array_equal(stage_of_age(np.arange(6), 3), [0, 1, 1, 2, 2, 2])


def test_unprotected_modifier_spares_protected_animals():
    """'unprotected': the table value, or 0 for a protected animal — exactly through
    Hazard.probability and through the kernel (p = 1: all unprotected die, no protected)."""
    n = 400
    prot = np.arange(n) % 3 == 0
    pop = make_pop(np.arange(n) % 2, np.arange(n) % 8, 0, protected=prot)
    state = make_state(pop, hand_layers(1))
    h = FixedHazard("disease", const_table(0.37), modifier="unprotected")
    np.testing.assert_array_equal(h.probability(state, np.arange(n)), np.where(prot, 0.0, 0.37))
    cause = _mortality_run([FixedHazard("disease", const_table(1.0), modifier="unprotected")], pop, seed=5).pop.cause[:n]
    np.testing.assert_array_equal(cause == CAUSE_INDEX["disease"], ~prot)
    assert np.all(cause[prot] == ALIVE)


def test_inbreeding_modifier_is_one_minus_exp_minus_b_f():
    """'inbreeding': the table holds b and p = 1 − exp(−b·F): exactly through
    Hazard.probability, and the death share per F group through the kernel (20 000 animals
    per group, binomial SE ≤ 0.0035). F = 0 never dies of it."""
    b = 2.0
    Fs = np.array([0.0, 0.0625, 0.25, 0.5])
    per = 20_000
    F = np.repeat(Fs, per)
    few = np.arange(0, F.size, 100)  # a table of 800 animals for Hazard.probability
    pop = make_pop(few % 2, 0, 0, F=F[few], origin=ORIGIN_BORN)
    h = FixedHazard("inbreeding_depression", const_table(b), modifier="inbreeding")
    state = make_state(pop, hand_layers(1))
    np.testing.assert_allclose(h.probability(state, np.arange(few.size)), 1 - np.exp(-b * F[few]), rtol=0, atol=1e-15)
    cause = kernel_deaths([const_table(b)], ["inbreeding_depression"], np.arange(F.size) % 2, 0, F=F, modifiers=[2], seed=6)
    for i, f in enumerate(Fs):
        dead = int((cause[i * per : (i + 1) * per] != ALIVE).sum())
        if f == 0:
            assert dead == 0
        else:
            ok, msg = binom_ok(dead, per, 1 - math.exp(-b * f))
            assert ok, f"F = {f}: {msg}"


def test_newborn_cohort_touches_only_cubs_born_this_year():
    """MODEL.md §4.5 step 6: the newborn mortality acts on living cubs born this year (age 0,
    origin born); a cub released this year (age 0, origin released) and older animals already
    met the year's risks; animals already marked dead keep their cause. The independent step
    acts on every living animal."""
    groups = {  # (age, origin, cause)
        "born_cub": (0, ORIGIN_BORN, ALIVE),
        "released_cub": (0, ORIGIN_RELEASED, ALIVE),
        "born_yearling": (1, ORIGIN_BORN, ALIVE),
        "born_adult": (4, ORIGIN_BORN, ALIVE),
        "founder": (3, ORIGIN_FOUNDER, ALIVE),
        "released_adult": (2, ORIGIN_RELEASED, ALIVE),
        "born_cub_dead": (0, ORIGIN_BORN, CAUSE_INDEX["inbreeding_lethal"]),
    }
    per = 10
    age = np.repeat([g[0] for g in groups.values()], per)
    origin = np.repeat([g[1] for g in groups.values()], per)
    cause0 = np.repeat([g[2] for g in groups.values()], per)
    n = age.size
    label = np.repeat(list(groups), per)
    hz = [FixedHazard("natural", const_table(1.0))]

    cause = _mortality_run(hz, make_pop(np.arange(n) % 2, age, 0, origin=origin, cause=cause0), cohort="newborn").pop.cause[:n]
    np.testing.assert_array_equal(cause[label == "born_cub"], CAUSE_INDEX["natural"])
    np.testing.assert_array_equal(cause[label == "born_cub_dead"], CAUSE_INDEX["inbreeding_lethal"])
    others = ~np.isin(label, ["born_cub", "born_cub_dead"])
    assert np.all(cause[others] == ALIVE), sorted(set(label[others & (cause != ALIVE)]))

    cause = _mortality_run(hz, make_pop(np.arange(n) % 2, age, 0, origin=origin, cause=cause0), cohort="independent").pop.cause[:n]
    np.testing.assert_array_equal(cause[label == "born_cub_dead"], CAUSE_INDEX["inbreeding_lethal"])
    assert np.all(cause[label != "born_cub_dead"] == CAUSE_INDEX["natural"])


def test_mortality_draws_two_uniforms_per_animal_at_risk_whatever_the_hazards():
    """MODEL.md 'Random numbers': two uniforms per animal at risk, whether or not they change
    anything — so the stream after the step is the same for any hazards (common random numbers)."""
    n = 500
    ends = []
    for p in (0.0, 0.3, 1.0):
        streams = Streams.from_seeds([np.random.SeedSequence(11)])
        pop = make_pop(np.arange(n) % 2, np.arange(n) % 6, 0, cause=np.where(np.arange(n) < 50, 0, ALIVE))
        Mortality([FixedHazard("natural", const_table(p))], "independent", 2).step(make_state(pop, hand_layers(1)), streams)
        ends.append(streams.random(0))
    ref = Streams.from_seeds([np.random.SeedSequence(11)])
    ref.random(0, (n - 50, 2))  # the 450 living animals are at risk, the 50 marked dead are not
    assert ends == [ref.random(0)] * 3


# ------------------------------------------------------------------------------------------
# 2. environmental variation
# ------------------------------------------------------------------------------------------

EV_MEAN = np.array([[0.60, 0.75, 0.85], [0.55, 0.70, 0.80]])  # (sex, stage), sexes differ
EV_SD = np.array([0.10, 0.08, 0.05])  # per stage (cub, subadult, adult)


def _ev_scenario(sd=EV_SD, rho=0.5, breeding_sd=0.1):
    def mod(raw):
        raw["demography"]["environmental_variation"] = {
            "survival_sd": {"cub": float(sd[0]), "subadult": float(sd[1]), "adult": float(sd[2])},
            "breeding_sd": breeding_sd,
            "correlation": rho,
        }

    return scenario(mod)


def _ev_years(sc, years, seed, mean=EV_MEAN):
    env = Environment(Environment.Params.from_scenario(sc, mean))
    state = make_state(make_pop(FEMALE, 1, 0), hand_layers(1))
    rng = np.random.default_rng(seed)
    surv = np.empty((years, 2, 3))
    breed = np.empty(years)
    for y in range(years):
        env.step(state, rng)
        surv[y] = state.fields["natural_survival"][0]  # (replicates, sex, stage): one replicate
        breed[y] = state.fields["breeding_deviate"][0]
    return surv, breed


def _beta_ab(m, s):
    common = m * (1 - m) / s**2 - 1
    return m * common, (1 - m) * common


@pytest.fixture(scope="module")
def ev_run():
    years = 20_000
    surv, breed = _ev_years(_ev_scenario(rho=0.5), years, seed=2024)
    return years, surv, breed


def test_environmental_variation_mean_and_sd_per_class(ev_run):
    """MODEL.md §4.3: each class's yearly natural survival is Beta with the class mean m and
    SD s. Over 20 000 years: |mean − m| ≤ 4·s/√n; |SD − s| ≤ 4·SE(SD) with
    SE(SD) = √((μ4 − s⁴)/n)/(2s) from the exact beta kurtosis (about s/√(2n))."""
    years, surv, _ = ev_run
    for sex in (0, 1):
        for st in range(3):
            m, s = EV_MEAN[sex, st], EV_SD[st]
            x = surv[:, sex, st]
            assert abs(x.mean() - m) <= Z * s / math.sqrt(years), f"class {(sex, st)}: mean {x.mean():.5f} vs {m}"
            a, b = _beta_ab(m, s)
            kurt = float(stats.beta.stats(a, b, moments="k")) + 3.0
            se_sd = math.sqrt((kurt - 1.0) * s**4 / years) / (2 * s)
            assert abs(x.std(ddof=1) - s) <= Z * se_sd, f"class {(sex, st)}: SD {x.std(ddof=1):.5f} vs {s} (SE {se_sd:.5f})"
            assert x.min() > 0 and x.max() < 1


def test_one_survival_deviate_moves_every_class(ev_run):
    """MODEL.md §4.3: one z_s per year moves all classes: inverting each class's beta CDF
    gives the same z in every class (to the 1e-5 accuracy of the quantile table)."""
    _years, surv, _ = ev_run
    zs = np.empty(surv.shape)
    for sex in (0, 1):
        for st in range(3):
            a, b = _beta_ab(EV_MEAN[sex, st], EV_SD[st])
            zs[:, sex, st] = stats.norm.ppf(stats.beta.cdf(surv[:, sex, st], a, b))
    central = np.abs(zs[:, 0, 2]) < 3  # where the CDF is not flat, so the inversion is well conditioned
    spread = zs[central].reshape(-1, 6).max(axis=1) - zs[central].reshape(-1, 6).min(axis=1)
    assert spread.max() < 1e-2, spread.max()


@pytest.mark.parametrize("rho", [0.5, -0.6])
def test_breeding_deviate_is_standard_normal_with_the_configured_correlation(rho, ev_run):
    """z_b = ρ·z_s + √(1−ρ²)·ε (MODEL.md §4.3): mean 0 (SE 1/√n), SD 1 (SE ≈ 1/√(2n)) and
    corr(z_b, z_s) = ρ, z_s recovered from the adult female survival by the beta CDF; the SE of
    a Pearson correlation is (1 − ρ²)/√n."""
    if rho == 0.5:
        years, surv, breed = ev_run
    else:
        years = 20_000
        surv, breed = _ev_years(_ev_scenario(rho=rho), years, seed=77)
    a, b = _beta_ab(EV_MEAN[0, 2], EV_SD[2])
    zs = stats.norm.ppf(stats.beta.cdf(surv[:, 0, 2], a, b))
    assert abs(breed.mean()) <= Z / math.sqrt(years)
    assert abs(breed.std(ddof=1) - 1) <= Z / math.sqrt(2 * years)
    r = np.corrcoef(zs, breed)[0, 1]
    assert abs(r - rho) <= Z * (1 - rho**2) / math.sqrt(years), f"corr {r:.4f} vs {rho}"


def test_zero_sd_gives_exactly_the_mean_every_year():
    """SD 0 → no variation: exactly the mean in every year, for every class; a class with
    SD 0 stays at its mean while the others vary."""
    surv, breed = _ev_years(_ev_scenario(sd=np.zeros(3), rho=0.5), 200, seed=5)
    assert np.all(surv == EV_MEAN[None])
    assert np.std(breed) > 0.5  # the breeding deviate is still drawn
    surv, _ = _ev_years(_ev_scenario(sd=np.array([0.0, 0.08, 0.0])), 200, seed=5)
    assert np.all(surv[:, :, CUB] == EV_MEAN[None, :, CUB])
    assert np.all(surv[:, :, ADULT] == EV_MEAN[None, :, ADULT])
    assert np.all(surv[:, :, SUBADULT].std(axis=0) > 0.03)
    # mean 1 (or 0) cannot vary either
    mean = EV_MEAN.copy()
    mean[:, ADULT] = 1.0
    surv, _ = _ev_years(_ev_scenario(), 100, seed=5, mean=mean)
    assert np.all(surv[:, :, ADULT] == 1.0)


def test_beta_parameters_follow_the_documented_moment_match_and_cap():
    """MODEL.md §4.3: v = min(s², 0.999·m(1−m)), a = m(m(1−m)/v − 1), b = (1−m)(m(1−m)/v − 1)."""
    m = np.array([0.6, 0.85, 0.5, 0.3, 1.0, 0.0, 0.7])
    s = np.array([0.1, 0.05, 0.6, 0.2, 0.1, 0.1, 0.0])
    a, b, varies = beta_parameters(m, s)
    v = np.minimum(s**2, 0.999 * m * (1 - m))
    ok = v > 0
    common = m[ok] * (1 - m[ok]) / v[ok] - 1
    np.testing.assert_allclose(a[ok], m[ok] * common, rtol=1e-12)
    np.testing.assert_allclose(b[ok], (1 - m[ok]) * common, rtol=1e-12)
    np.testing.assert_array_equal(varies, [True, True, True, True, False, False, False])
    np.testing.assert_allclose(stats.beta.mean(a[ok], b[ok]), m[ok], rtol=1e-12)
    np.testing.assert_allclose(stats.beta.std(a[ok], b[ok]), np.sqrt(v[ok]), rtol=1e-10)


def _exact_beta_quantile_z(z, a, b):
    """F⁻¹_Beta(Φ(z)) computed without cancellation: from the lower tail for z < 0 and from the
    upper tail (isf of Φ(−z)) for z ≥ 0, where 1 − Φ(z) is lost in double precision."""
    return np.where(z < 0, stats.beta.ppf(ndtr(z), a, b), stats.beta.isf(ndtr(-z), a, b))


# bell-shaped betas (a, b > 1) over the survival and breeding values a scenario can have
_BELL = [(m, s) for m in (0.3, 0.5, 0.6, 0.75, 0.85, 0.9, 0.95) for s in (0.01, 0.03, 0.05, 0.08, 0.1, 0.15) if min(_beta_ab(m, s)) > 1]


def test_interpolated_beta_quantile_agrees_with_scipy_where_years_fall():
    """MODEL.md §4.3: the quantile is interpolated in a table (z step 0.01) with error below
    1e-5. Checked against scipy.stats.beta for every bell-shaped class of the grid above at
    20 001 grid and 5 000 off-grid deviates with |z| ≤ 7 (P(|z| > 7) ≈ 2.6e-12)."""
    rng = np.random.default_rng(0)
    z = np.r_[np.linspace(-7, 7, 20_001), rng.uniform(-7, 7, 5_000)]
    a, b = np.array([_beta_ab(m, s) for m, s in _BELL]).T
    q = beta_quantile_z(a, b, z)
    worst = 0.0
    for j in range(a.size):
        err = np.abs(q[:, j] - _exact_beta_quantile_z(z, a[j], b[j]))
        worst = max(worst, err.max())
    assert worst < 1e-5, worst


def test_interpolated_beta_quantile_agrees_with_scipy_over_the_documented_table_range():
    """MODEL.md §4.3: the table covers z from −8.5 to 8.5 with 'error below 10⁻⁵'. Checked on
    the whole documented range against the exact quantile (upper tail computed from
    Φ(−z), see _exact_beta_quantile_z)."""
    rng = np.random.default_rng(0)
    z = np.r_[np.linspace(-8.5, 8.5, 17_001), rng.uniform(-8.5, 8.5, 5_000)]
    a, b = np.array([_beta_ab(m, s) for m, s in _BELL]).T
    q = beta_quantile_z(a, b, z)
    bad = []
    for j in range(a.size):
        err = np.abs(q[:, j] - _exact_beta_quantile_z(z, a[j], b[j]))
        if err.max() >= 1e-5:
            i = int(err.argmax())
            bad.append(f"m={_BELL[j][0]} s={_BELL[j][1]}: z={z[i]:.3f} table {q[i, j]:.6f} exact {_exact_beta_quantile_z(z[i], a[j], b[j]):.6f}")
    assert not bad, f"{len(bad)}/{a.size} classes off by ≥ 1e-5, e.g. " + "; ".join(bad[:3])


# U- and J-shaped betas: a large SD for the mean (amur-2015-nonspatial's breeding: mean 0.9, SD 0.1 gives
# a = 7.2, b = 0.8), and the extreme U shape a = b = 0.03 that no table can follow
_SKEWED = [(7.2, 0.8), (0.8, 7.2), (0.5, 0.5), (0.1, 3.0), (0.9, 0.2), (30.0, 0.4), (0.3, 0.3)]


def test_beta_quantile_tables_for_u_and_j_shaped_betas_keep_1e6():
    """BetaQuantile (the yearly breeding deviate) interpolates each tail of a U- or J-shaped
    beta on its log scale, checked within 1e-6 when the table is built: here against scipy at
    17 001 grid and 5 000 off-grid deviates over the whole table range, both tails included."""
    from pardus.processes.environment import _Z_FINE, BetaQuantile, _LazyTails

    rng = np.random.default_rng(1)
    z = np.r_[np.linspace(-8.5, 8.5, 17_001), rng.uniform(-8.5, 8.5, 5_000)]
    for a, b in _SKEWED:
        q = BetaQuantile(a, b)
        assert q.tails is not None, (a, b)
        got = q.many(z)
        err = np.abs(got - _exact_beta_quantile_z(z, a, b))
        assert err.max() < 1e-6, (a, b, float(err.max()), float(z[err.argmax()]))
        q = BetaQuantile(a, b)
        got = np.array([q(float(x)) for x in z])
        err = np.abs(got - _exact_beta_quantile_z(z, a, b))
        assert err.max() < 1e-6, (a, b, float(err.max()), float(z[err.argmax()]))
    # the extreme U shape a = b = 0.03: where an interval's midpoint check fails, that interval
    # is evaluated exactly, so the whole range still keeps 1e-6
    extreme = BetaQuantile(0.03, 0.03)
    err = np.abs(extreme.many(z) - _exact_beta_quantile_z(z, 0.03, 0.03))
    assert err.max() < 1e-6, float(err.max())
    refused = np.flatnonzero(extreme.tails.verdict == 2)
    assert refused.size > 0  # some intervals could not be interpolated
    x = 0.5 * (_Z_FINE[refused[0]] + _Z_FINE[refused[0] + 1]) + 1e-4
    assert extreme(x) == pytest.approx(float(_exact_beta_quantile_z(np.array(x), 0.03, 0.03)), abs=1e-15)
    # each interval's verdict and nodes are its own: the same values whichever deviates came first
    zs = rng.uniform(-8.5, 8.5, 2_000)
    for a, b in _SKEWED[:3] + [(0.03, 0.03)]:
        first, second = _LazyTails(a, b), _LazyTails(a, b)
        one_by_one = np.array([first.values(np.array([x]))[0] for x in zs])
        np.testing.assert_array_equal(second.values(zs), one_by_one)


# ------------------------------------------------------------------------------------------
# 3. Vortex density-dependent breeding
# ------------------------------------------------------------------------------------------


def test_vortex_breeding_formula_exact_values():
    """P(N) = [P(0) − (P(0) − P(K))·(N/K)^B]·N/(N + A), clipped to [0, 1]; A = 0 → no Allee term."""
    p0, pk, B, K = 0.7, 0.2, 2.0, 100.0
    n = np.array([0.0, 50.0, 100.0, 200.0])
    k = np.full(4, K)
    no_allee = vortex_breeding(p0, pk, B, 0.0, n, k)
    np.testing.assert_allclose(no_allee[:3], [0.7, 0.7 - 0.5 * 0.25, 0.2], rtol=0, atol=1e-15)
    assert no_allee[3] == 0.0  # 0.7 − 0.5·4 < 0 → clipped
    A = 5.0
    allee = vortex_breeding(p0, pk, B, A, n, k)
    np.testing.assert_allclose(allee[:3], [0.0, 0.575 * 50 / 55, 0.2 * 100 / 105], rtol=0, atol=1e-15)
    # steeper B keeps breeding high longer below K
    np.testing.assert_allclose(vortex_breeding(p0, pk, 8.0, 0.0, np.array([50.0]), np.array([K])), [0.7 - 0.5 * 0.5**8], atol=1e-15)


def _dd_scenario(sd_b=0.0, required=0.0, disease_breeding=1.0):
    def mod(raw):
        d = raw["demography"]
        d["p_breed"] = 0.8
        d["density_dependence"] = {"enabled": True, "p_breed_at_k": 0.3, "steepness_b": 3.0, "allee_a": 4.0}
        d["environmental_variation"]["breeding_sd"] = sd_b
        raw["prey"]["required_density"] = required
        raw["prey"]["breeding_exponent"] = 2.0
        raw["threats"]["disease"]["breeding"] = disease_breeding

    return scenario(mod)


def test_density_dependent_breeding_probability_per_population():
    """Reproduction.breeding_probability with density dependence (MODEL.md §4.6): p₀(N_c) with
    N_c the living animals of the population (marked-dead ones do not count), × prey factor
    min(P/P_req, 1)^β × D_c (outbreak). Far below K it breeds more than near K."""
    sc = _dd_scenario(required=3.0, disease_breeding=0.6)
    K = np.array([100.0, 100.0, 100.0])
    sizes = [10, 95, 30]
    cell = np.repeat([0, 1, 2], sizes)
    dead = np.zeros(cell.size, dtype=int) + ALIVE
    dead[np.flatnonzero(cell == 2)[:20]] = CAUSE_INDEX["poaching"]  # population 2: 10 living of 30
    pop = make_pop(np.arange(cell.size) % 2, 5, cell, cause=dead)
    layers = hand_layers(3, carrying_capacity=K, prey=[1.5, 6.0, 3.0], outbreak=[False, False, True])
    state = make_state(pop, layers)
    state.fields["breeding_deviate"] = 0.0
    DensityDependence(DensityDependence.Params.from_scenario(sc)).step(state, None)
    p = Reproduction.from_scenario(sc, Disease.from_scenario(sc)).breeding_probability(state)
    n_living = np.array([10.0, 95.0, 10.0])
    p0 = vortex_breeding(0.8, 0.3, 3.0, 4.0, n_living, K)
    expect = p0 * np.array([0.5**2, 1.0, 1.0]) * np.array([1.0, 1.0, 0.6])
    np.testing.assert_allclose(p, expect, rtol=1e-12)
    # the same populations without prey shortage or outbreak: near K breeds less than far below
    layers = hand_layers(2, carrying_capacity=100.0, prey=10.0)
    pop = make_pop(np.arange(105) % 2, 5, np.repeat([0, 1], [10, 95]))
    state = make_state(pop, layers)
    state.fields["breeding_deviate"] = 0.0
    DensityDependence(DensityDependence.Params.from_scenario(sc)).step(state, None)
    p = Reproduction.from_scenario(sc, Disease.from_scenario(sc)).breeding_probability(state)
    assert p[1] < p[0], p
    np.testing.assert_allclose(p, vortex_breeding(0.8, 0.3, 3.0, 4.0, np.array([10.0, 95.0]), np.array([100.0, 100.0])), rtol=1e-12)


@pytest.mark.parametrize("dd", [False, True])
def test_breeding_probability_moves_with_the_breeding_deviate(dd):
    """p_EV is the quantile Φ(z_b) of a beta with mean p₀ and SD breeding_sd (MODEL.md §4.6),
    with and without density dependence; compared with scipy to 1e-5."""
    if dd:
        sc = _dd_scenario(sd_b=0.12)
    else:
        sc = scenario(lambda raw: raw["demography"].update(p_breed=0.8, environmental_variation={"breeding_sd": 0.12}))
    repro = Reproduction.from_scenario(sc, Disease.from_scenario(sc))
    pop = make_pop(np.arange(40) % 2, 5, np.repeat([0, 1], [10, 30]))
    state = make_state(pop, hand_layers(2, carrying_capacity=60.0, prey=10.0))
    p0 = vortex_breeding(0.8, 0.3, 3.0, 4.0, np.array([10.0, 30.0]), np.array([60.0, 60.0])) if dd else np.array([0.8, 0.8])
    for z in (-2.5, -1.0, 0.0, 0.4, 1.7):
        state.fields["breeding_deviate"] = z
        if dd:
            DensityDependence(DensityDependence.Params.from_scenario(sc)).step(state, None)
        p = repro.breeding_probability(state)
        expect = [stats.beta.ppf(ndtr(z), *_beta_ab(m, 0.12)) for m in p0]
        np.testing.assert_allclose(p, expect, rtol=0, atol=1e-5, err_msg=f"z = {z}")


# ------------------------------------------------------------------------------------------
# 4. hazard tables
# ------------------------------------------------------------------------------------------


def _threat_scenario(**over):
    def mod(raw):
        t = raw["threats"]
        t["poaching"] = {
            "hazard": {"cub": 0.02, "subadult": 0.15, "adult": 0.06}, "dogs": 0.04,
            "patrol_max_effect": 0.8, "patrol_half_effort": 1.5, "prey_patrol_max_effect": 0.6,
        }  # fmt: skip
        t["conflict"] = {"hazard": 0.3, "gamma": 2.0}
        t["road"] = {"hazard": {"cub": 0.01, "subadult": 0.06, "adult": 0.03}}
        t["disease"] = {"probability": 0.3, "survival": 0.7, "breeding": 0.6, "vaccine_efficacy": 0.9}
        t["starvation"] = {"max_hazard": 0.2}
        raw["prey"]["required_density"] = 3.0
        for path, v in over.items():
            d = raw
            keys = path.split(".")
            for k in keys[:-1]:
                d = d[k]
            d[keys[-1]] = v

    return scenario(mod)


THREAT_LAYERS = dict(
    human_access=[0.3, 0.5, 1.0, 0.0, 0.8],
    patrol_effort=[1.0, 0.3, 0.0, 5.0, 2.0],
    hunting_ban=[0.0, 0.5, 1.0, 0.2, 0.0],
    deer_farm_exposure=[0.15, 0.2, 1.0, 0.5, 0.7],
    prey=[4.2, 1.5, 0.0, 20.0, 2.9],
    prey_capacity=[15.0, 12.0, 10.0, 10.0, 3.0],
    conflict_mitigation=[0.0, 0.5, 0.0, 0.3, 0.25],
    road_exposure=[0.3, 0.2, 1.0, 0.1, 0.6],
    road_reduction=[0.0, 0.8, 0.0, 0.5, 0.3],
)


def _threat_state():
    ages = np.tile(np.arange(6), 20)
    pop = make_pop(np.arange(ages.size) % 2, ages, np.arange(ages.size) % 5)
    return make_state(pop, hand_layers(5, **THREAT_LAYERS))


def _expect_table(per_cell_stage):
    """(cells, 2, 3) from a function (c, stage) → value, the same for both sexes."""
    out = np.empty((5, 2, 3))
    for c in range(5):
        for st in range(3):
            out[c, :, st] = per_cell_stage(c, st)
    return out


def _check_probability_matches_table(h, state):
    """Per animal, Hazard.probability is the table entry of its cell, sex and stage."""
    pop = state.pop
    rows = np.arange(pop.n)
    st = np.where(pop.age[rows] == 0, 0, np.where(pop.age[rows] < h.adult_age, 1, 2))
    np.testing.assert_array_equal(h.probability(state, rows), h.table(state)[pop.cell[rows], pop.sex[rows], st])


def test_poaching_table():
    """MODEL.md §4.5: min(A·(1 − e(E))·(h_st + d·(1 − ban)·[st ≠ cub]), 1),
    e(E) = patrol_max_effect·E/(E + E½)."""
    sc = _threat_scenario()
    state = _threat_state()
    L = THREAT_LAYERS
    h = (0.02, 0.15, 0.06)

    def f(c, st):
        e = 0.8 * L["patrol_effort"][c] / (L["patrol_effort"][c] + 1.5)
        dog = 0.04 * (1 - L["hunting_ban"][c]) if st > 0 else 0.0
        return min(L["human_access"][c] * (1 - e) * (h[st] + dog), 1.0)

    hz = Poaching.from_scenario(sc)
    np.testing.assert_allclose(hz.table(state), _expect_table(f), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(patrol_effect(np.array([0.0, 1.5, 3.0]), 0.8, 1.5), [0.0, 0.4, 0.8 * 2 / 3])
    _check_probability_matches_table(hz, state)
    # capped at 1
    sc = _threat_scenario(**{"threats.poaching.hazard": {"cub": 0.9, "subadult": 0.9, "adult": 0.9}, "threats.poaching.dogs": 0.5})
    t = Poaching.from_scenario(sc).table(make_state(make_pop(0, 1), hand_layers(1, human_access=1.0)))
    np.testing.assert_allclose(t[0, :, :], [[0.9, 1.0, 1.0]] * 2)


def test_conflict_table():
    """MODEL.md §4.5: min(h·X·clip(1 − P/K^P, 0, 1)^γ·(1 − m), 1) for subadults and adults, 0 for cubs."""
    sc = _threat_scenario()
    state = _threat_state()
    L = THREAT_LAYERS

    def f(c, st):
        if st == CUB:
            return 0.0
        scarcity = min(max(1 - L["prey"][c] / L["prey_capacity"][c], 0.0), 1.0) ** 2
        return min(0.3 * L["deer_farm_exposure"][c] * scarcity * (1 - L["conflict_mitigation"][c]), 1.0)

    hz = Conflict.from_scenario(sc)
    table = hz.table(state)
    np.testing.assert_allclose(table, _expect_table(f), rtol=1e-12, atol=1e-15)
    assert table[3, :, :].max() == 0.0  # prey above capacity: no scarcity
    assert np.all(table[:, :, CUB] == 0.0)
    np.testing.assert_allclose(hz.cell_hazard(state.layers), table[:, 0, ADULT], rtol=1e-12)
    _check_probability_matches_table(hz, state)


def test_road_table():
    """MODEL.md §4.5: R·(1 − ρ_road)·h^road_st."""
    sc = _threat_scenario()
    state = _threat_state()
    L = THREAT_LAYERS
    h = (0.01, 0.06, 0.03)
    hz = Road.from_scenario(sc)
    np.testing.assert_allclose(hz.table(state), _expect_table(lambda c, st: L["road_exposure"][c] * (1 - L["road_reduction"][c]) * h[st]), rtol=1e-12)
    _check_probability_matches_table(hz, state)


def test_starvation_table():
    """MODEL.md §4.5: S_max·max(1 − P/P_req, 0), every stage; 0 when S_max = 0 or P_req = 0."""
    state = _threat_state()
    L = THREAT_LAYERS
    t = Starvation.from_scenario(_threat_scenario()).table(state)
    np.testing.assert_allclose(t, _expect_table(lambda c, st: 0.2 * max(1 - L["prey"][c] / 3.0, 0.0)), rtol=1e-12)
    np.testing.assert_allclose(t[:, 0, 0], [0.0, 0.1, 0.2, 0.0, 0.2 * (1 - 2.9 / 3)], rtol=1e-12)
    assert np.all(Starvation.from_scenario(_threat_scenario(**{"threats.starvation.max_hazard": 0.0})).table(state) == 0)
    assert np.all(Starvation.from_scenario(_threat_scenario(**{"prey.required_density": 0.0})).table(state) == 0)


def test_disease_table_only_in_outbreak_populations():
    """MODEL.md §4.5: 1 − disease.survival in an outbreak year in c, else 0, every stage;
    0 for a protected animal; breeding factor disease.breeding in outbreak populations."""
    sc = _threat_scenario()
    state = _threat_state()
    state.layers["outbreak"][:] = [True, False, True, False, False]
    hz = Disease.from_scenario(sc)
    np.testing.assert_allclose(hz.table(state), _expect_table(lambda c, st: 0.3 if c in (0, 2) else 0.0), rtol=1e-12)
    np.testing.assert_allclose(hz.breeding_factor(state.layers), [0.6, 1, 0.6, 1, 1])
    assert hz.modifier == "unprotected"


def test_disease_draw_outbreaks_and_vaccine_protection():
    """MODEL.md §4.4: an outbreak in each population independently with probability p; every
    animal protected with probability v_c × efficacy, drawn anew each draw. 4 000 populations:
    outbreak share 0.3 ± 4·0.0072; 600 animals per coverage level: protected share
    v·0.9 ± 4·√(q(1−q)/600)."""
    sc = _threat_scenario()
    hz = Disease.from_scenario(sc)
    n_cells = 4000
    state = make_state(make_pop(0, 1, 0), hand_layers(n_cells))
    hz.prepare(state, np.random.default_rng(8))
    ok, msg = binom_ok(int(state.layers["outbreak"].sum()), n_cells, 0.3)
    assert ok, msg
    for p, expect in ((1.0, True), (0.0, False)):
        state = make_state(make_pop(0, 1, 0), hand_layers(7))
        Disease.from_scenario(_threat_scenario(**{"threats.disease.probability": p})).prepare(state, np.random.default_rng(1))
        assert np.all(state.layers["outbreak"] == expect)

    cov = [0.0, 0.5, 1.0]
    per = 600
    cell = np.repeat([0, 1, 2], per)
    pop = make_pop(np.arange(cell.size) % 2, 3, cell, protected=True)
    state = make_state(pop, hand_layers(3, vaccination=cov))
    hz.prepare(state, np.random.default_rng(9))
    first = pop.protected[: pop.n].copy()
    for c, v in enumerate(cov):
        k = int(first[cell == c].sum())
        if v == 0:
            assert k == 0  # the stale protection of last year is cleared
        elif v * 0.9 < 1:
            ok, msg = binom_ok(k, per, v * 0.9)
            assert ok, f"coverage {v}: {msg}"
    hz.prepare(state, np.random.default_rng(10))
    assert not np.array_equal(first, pop.protected[: pop.n])  # drawn anew


def test_natural_and_inbreeding_depression_tables():
    """natural: 1 − s_nat(sex, stage, year) in every population; inbreeding depression: the
    coefficient b_ID = (LE/2)·(1 − lethal_share) for cubs, 0 for older animals, modifier
    'inbreeding' (MODEL.md §4.5)."""
    sc = scenario(lambda raw: raw["genetics"].update(lethal_equivalents=6.0, lethal_share=0.3))
    state = _threat_state()
    surv = np.array([[0.6, 0.7, 0.8], [0.5, 0.65, 0.9]])
    state.fields["natural_survival"] = surv
    t = NaturalMortality.from_scenario(sc).table(state)
    np.testing.assert_allclose(t, np.broadcast_to(1 - surv, (5, 2, 3)), rtol=1e-15)
    _check_probability_matches_table(NaturalMortality.from_scenario(sc), state)
    ib = InbreedingDepression.from_scenario(sc)
    assert ib.modifier == "inbreeding"
    np.testing.assert_allclose(ib.table(state), np.broadcast_to([3.0 * 0.7, 0.0, 0.0], (5, 2, 3)), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# 5. prey
# ------------------------------------------------------------------------------------------


class LitePop:
    """The columns a process reads, without a kinship matrix (for 10⁴–10⁵ animals)."""

    def __init__(self, sex, age, cell, cause=ALIVE, origin=ORIGIN_FOUNDER):
        sex, age, cell, cause, origin = np.broadcast_arrays(*(np.atleast_1d(x) for x in (sex, age, cell, cause, origin)))
        self.n = sex.size
        self.sex = sex.astype(np.int8)
        self.age = age.astype(np.int32)
        self.cell = cell.astype(np.int32)
        self.cause = cause.astype(np.int8)
        self.origin = origin.astype(np.int8)
        self.F = np.zeros(self.n)
        self.protected = np.zeros(self.n, dtype=bool)
        self.id = np.arange(self.n, dtype=np.int64)
        self.rep = np.zeros(self.n, dtype=np.int32)  # one replicate


def lite_state(pop, layers, year=2016):
    return State(year=year, t=1, pop=pop, layers=layers, tally=new_tally(len(layers["carrying_capacity"])), is_lethal=np.zeros(1, bool))


def _prey_scenario(sd=0.0):
    def mod(raw):
        ones = {"subadult": 1.0, "adult": 1.0}  # every animal aged ≥ 1 eats an adult female's share (need: the next test)
        raw["prey"].update(growth_rate=0.4, growth_sd=sd, offtake=0.15, kills_per_leopard=55.0, need={"female": ones, "male": ones})
        raw["threats"]["poaching"].update(patrol_max_effect=0.8, patrol_half_effort=1.5, prey_patrol_max_effect=0.6)

    return scenario(mod)


def test_prey_step_is_the_documented_update():
    """MODEL.md §4.2 with σ = 0: P + rP(1 − P/K) − h·A·(1 − e_prey(E))·(1 − ban)·P
    − kills·L/area + feed, floored at 0; L = living leopards aged ≥ 1 (cubs and marked-dead
    animals do not eat); e_prey uses prey_patrol_max_effect (0.6), not patrol_max_effect."""
    L = dict(
        prey=[4.2, 3.0, 0.5, 8.0],
        prey_capacity=[15.0, 12.0, 10.0, 8.0],
        human_access=[0.3, 0.5, 1.0, 0.2],
        patrol_effort=[1.0, 0.3, 0.0, 2.0],
        hunting_ban=[0.0, 0.5, 0.0, 1.0],
        feeding=[0.0, 0.2, 0.0, 0.1],
        area_km2=[4000.0, 5000.0, 1.0, 1200.0],
    )
    groups = [  # (cell, age, cause, count)
        (0, 3, ALIVE, 30), (0, 1, ALIVE, 4), (0, 0, ALIVE, 5), (0, 5, CAUSE_INDEX["poaching"], 4),
        (1, 2, ALIVE, 10), (1, 0, ALIVE, 3), (2, 6, ALIVE, 5),
    ]  # fmt: skip
    cell = np.concatenate([[c] * k for c, _a, _d, k in groups])
    age = np.concatenate([[a] * k for _c, a, _d, k in groups])
    cause = np.concatenate([[d] * k for _c, _a, d, k in groups])
    state = lite_state(LitePop(np.arange(cell.size) % 2, age, cell, cause), hand_layers(4, **L))
    PreyDynamics.from_scenario(_prey_scenario()).step(state, np.random.default_rng(0))
    leopards = np.array([34.0, 10.0, 5.0, 0.0])
    P, K = np.array(L["prey"]), np.array(L["prey_capacity"])
    E = np.array(L["patrol_effort"])
    expect = (
        P + 0.4 * P * (1 - P / K)
        - 0.15 * np.array(L["human_access"]) * (1 - 0.6 * E / (E + 1.5)) * (1 - np.array(L["hunting_ban"])) * P
        - 55.0 * leopards / np.array(L["area_km2"]) + np.array(L["feeding"])
    )  # fmt: skip
    expect = np.maximum(expect, 0.0)
    assert expect[2] == 0.0  # 5 leopards on 1 km² eat everything: floored at 0
    np.testing.assert_allclose(state.layers["prey"], expect, rtol=1e-12)


def test_prey_eaten_follows_each_animals_need_by_sex_and_stage():
    """kills_per_leopard is an adult female's yearly kills; every other living animal aged ≥ 1
    eats prey.need[sex][stage] times that (subadult below adult_age, adult from it)."""
    need = {"female": {"subadult": 0.8, "adult": 1.0}, "male": {"subadult": 0.9, "adult": 1.25}}

    def mod(raw):
        raw["prey"].update(growth_rate=0.0, offtake=0.0, kills_per_leopard=50.0, need=need)

    sc = scenario(mod)
    A = sc.demography.adult_age
    groups = [(0, A, 10), (1, A, 6), (0, A - 1, 4), (1, A - 1, 3), (0, 0, 9)]  # (sex, age, count); age 0 does not eat
    sex = np.concatenate([[x] * k for x, _a, k in groups])
    age = np.concatenate([[a] * k for _x, a, k in groups])
    state = lite_state(LitePop(sex, age, np.zeros(sex.size, int), np.full(sex.size, ALIVE)), hand_layers(1, prey=10.0, prey_capacity=10.0, area_km2=1000.0))
    PreyDynamics.from_scenario(sc).step(state, np.random.default_rng(0))
    equivalents = 10 * 1.0 + 6 * 1.25 + (4 * 0.8 if A - 1 >= 1 else 0.0) + (3 * 0.9 if A - 1 >= 1 else 0.0)
    np.testing.assert_allclose(state.layers["prey"], [10.0 - 50.0 * equivalents / 1000.0], rtol=1e-12)


def test_prey_growth_noise_is_lognormal_with_mean_one():
    """MODEL.md §4.2: growth × exp(σε − σ²/2), mean 1. 20 000 populations with growth 1 per
    step: the realised factor has mean 1 (SE √(e^{σ²} − 1)/√n ≈ 0.0022 at σ = 0.3) and its
    log has SD σ (SE σ/√(2n))."""
    n, sigma = 20_000, 0.3
    layers = hand_layers(n, prey=5.0, prey_capacity=10.0)
    state = lite_state(LitePop(0, 1, 0, cause=CAUSE_INDEX["natural"]), layers)
    PreyDynamics.from_scenario(_prey_scenario(sd=sigma)).step(state, np.random.default_rng(12))
    factor = (state.layers["prey"] - 5.0) / (0.4 * 5.0 * 0.5)
    sd = math.sqrt(math.exp(sigma**2) - 1)
    assert abs(factor.mean() - 1) <= Z * sd / math.sqrt(n), factor.mean()
    assert abs(np.log(factor).std(ddof=1) - sigma) <= Z * sigma / math.sqrt(2 * n)


# ------------------------------------------------------------------------------------------
# 6. dispersal
# ------------------------------------------------------------------------------------------


def _dispersal_scenario(female=1.0, male=1.0, mortality=0.3, lo=1, hi=3):
    def mod(raw):
        raw["populations"] = {name: {"initial_size": 0, "carrying_capacity": 100} for name in ("a", "b", "c", "d")}
        raw["dispersal"] = {
            "min_age": lo, "max_age": hi, "female": female, "male": male, "mortality": mortality,
            "destinations": {"a": {"b": 1.0, "c": 3.0}, "b": {"a": 1.0}, "d": {"b": 2.0}},
        }  # fmt: skip

    return scenario(mod)


def _dispersal_pop():
    """a (0): 30 000 animals of ages 0–4, 10 % marked dead; b (1): 4 000 of ages 1–3;
    c (2, no destinations): 2 000 of ages 1–3; d (3): empty."""
    na, nb, nc = 30_000, 4_000, 2_000
    cell = np.repeat([0, 1, 2], [na, nb, nc])
    age = np.r_[np.arange(na) % 5, 1 + np.arange(nb) % 3, 1 + np.arange(nc) % 3]
    cause = np.where((cell == 0) & (np.arange(cell.size) % 10 == 7), CAUSE_INDEX["natural"], ALIVE)
    return LitePop(np.arange(cell.size) % 2, age, cell, cause)


def test_dispersal_deaths_destinations_and_who_moves():
    """MODEL.md §4.7 with leave probability 1 and mortality 0.3: among the living animals of
    dispersal age of a population with destinations, 0.3 die (binomial SE ≈ 0.003) and stay
    counted in their population; the rest settle in the destinations in proportion to the
    weights (a → b:c = 1:3, chi-square); animals outside min_age … max_age, marked-dead animals
    and populations without destinations do not move."""
    pop = _dispersal_pop()
    before = {k: getattr(pop, k).copy() for k in ("cell", "cause", "age")}
    state = lite_state(pop, hand_layers(4))
    Dispersal.from_scenario(_dispersal_scenario(), ["a", "b", "c", "d"]).step(state, np.random.default_rng(21))
    cand = (before["cause"] == ALIVE) & (before["age"] >= 1) & (before["age"] <= 3) & (before["cell"] != 2)
    died = pop.cause == CAUSE_INDEX["dispersal"]
    assert not np.any(died & ~cand)
    assert np.all(pop.cell[died] == before["cell"][died])  # counted in the population left
    for src, dests, weights in ((0, [1, 2], [1.0, 3.0]), (1, [0], [1.0])):
        c = cand & (before["cell"] == src)
        ok, msg = binom_ok(int((died & c).sum()), int(c.sum()), 0.3)
        assert ok, f"population {src}: {msg}"
        moved = c & ~died
        assert np.all(np.isin(pop.cell[moved], dests)), np.unique(pop.cell[moved])
        if len(dests) > 1:
            ok, msg = chisq_ok([(pop.cell[moved] == d).sum() for d in dests], weights)
            assert ok, msg
    stay = ~cand
    np.testing.assert_array_equal(pop.cell[stay], before["cell"][stay])
    np.testing.assert_array_equal(pop.cause[stay], before["cause"][stay])


def test_dispersal_mortality_reduced_by_crossings():
    """MODEL.md §4.7: a leaver dies with probability mortality·(1 − ρ_disp) of the population
    it leaves: ρ = 0.5 in a → 0.15; b unchanged 0.3 (binomial SEs 0.0025 and 0.0072)."""
    pop = _dispersal_pop()
    before = {k: getattr(pop, k).copy() for k in ("cell", "cause", "age")}
    state = lite_state(pop, hand_layers(4, dispersal_mortality_reduction=[0.5, 0.0, 0.0, 0.0]))
    Dispersal.from_scenario(_dispersal_scenario(), ["a", "b", "c", "d"]).step(state, np.random.default_rng(22))
    cand = (before["cause"] == ALIVE) & (before["age"] >= 1) & (before["age"] <= 3)
    died = pop.cause == CAUSE_INDEX["dispersal"]
    for src, p in ((0, 0.15), (1, 0.3)):
        c = cand & (before["cell"] == src)
        ok, msg = binom_ok(int((died & c).sum()), int(c.sum()), p)
        assert ok, f"population {src}: {msg}"


def test_dispersal_leave_probability_by_sex_and_streams():
    """Each candidate leaves with its sex's probability (female 0.2, male 0.6; no mortality);
    three uniforms are drawn per candidate (MODEL.md 'Random numbers')."""
    pop = _dispersal_pop()
    before = {k: getattr(pop, k).copy() for k in ("cell", "cause", "age", "sex")}
    rng = Streams.from_seeds([np.random.SeedSequence(23)])
    Dispersal.from_scenario(_dispersal_scenario(female=0.2, male=0.6, mortality=0.0), ["a", "b", "c", "d"]).step(lite_state(pop, hand_layers(4)), rng)
    cand = (before["cause"] == ALIVE) & (before["age"] >= 1) & (before["age"] <= 3) & (before["cell"] != 2)
    assert not np.any(pop.cause == CAUSE_INDEX["dispersal"])
    left = pop.cell != before["cell"]
    for sex, p in ((FEMALE, 0.2), (MALE, 0.6)):
        c = cand & (before["sex"] == sex)
        ok, msg = binom_ok(int((left & c).sum()), int(c.sum()), p)
        assert ok, f"sex {sex}: {msg}"
    ref = Streams.from_seeds([np.random.SeedSequence(23)])
    ref.random(0, (3 * int(cand.sum()),))
    assert rng.random(0) == ref.random(0)


# ------------------------------------------------------------------------------------------
# 7. management
# ------------------------------------------------------------------------------------------

MGMT_POPS = {
    "a": {"initial_size": 40, "carrying_capacity": 100, "area_km2": 4000, "prey_capacity": 15.0, "patrol_effort": 1.0,
          "human_access": 0.3, "deer_farm_exposure": 0.15, "road_exposure": 0.3, "initial_prey": 4.2},
    "b": {"initial_size": 20, "carrying_capacity": 60, "area_km2": 5000, "prey_capacity": 12.0, "patrol_effort": 0.3,
          "human_access": 0.5, "deer_farm_exposure": 0.2, "road_exposure": 0.2, "initial_prey": 3.0},
    "c": {"initial_size": 0, "carrying_capacity": 50, "area_km2": 1200, "prey_capacity": 10.0, "patrol_effort": 1.0,
          "human_access": 0.2, "road_exposure": 0.1, "initial_prey": 3.5},
}  # fmt: skip
NAMES = ["a", "b", "c"]
UNMANAGED = ("carrying_capacity", "area_km2", "prey", "human_access", "deer_farm_exposure", "road_exposure", "outbreak")


def _mgmt_scenario(interventions, gene_diversity=0.88):
    def mod(raw):
        raw["run"]["start_year"] = 2015
        raw["populations"] = copy.deepcopy(MGMT_POPS)
        raw["dispersal"] = {"destinations": {}}
        raw["captive"] = {"founders": 14, "gene_diversity": gene_diversity}
        raw["interventions"] = interventions

    return scenario(mod)


def _replicate(interventions, seed=5, **kw):
    rep = Replicate(prepare(_mgmt_scenario(interventions, **kw)), seed=seed, replicate=0)
    mgmt = next(p for p in rep.schedule if p.name == "management")
    return rep, mgmt


def _mgmt_year(rep, mgmt, year, rng, dirty=True):
    """One management step in ``year`` on the replicate's state (managed layers dirtied first,
    to see that they are reset to the baseline); returns the state."""
    if dirty:
        for name in MANAGED_LAYERS:
            rep.layers[name][:] = 0.777
    state = State(year=year, t=year - 2015, pop=rep.pop, layers=rep.layers, tally=new_tally(3), is_lethal=rep._lethal)
    mgmt.step(state, rng)
    return state


def _baseline(sc):
    layers = build_layers(sc, NAMES)
    return {k: layers[k].copy() for k in MANAGED_LAYERS}


LAYER_CASES = {
    # type: (intervention, {(layer, population index): value when active}, cost per active year)
    "anti_poaching": ({"population": "a", "effort": 3.0, "unit_cost": 2.0}, {("patrol_effort", 0): 3.0}, 2.0 * (3.0 - 1.0) * 4000),
    "anti_poaching_below_baseline": ({"population": "a", "effort": 0.5, "unit_cost": 2.0}, {("patrol_effort", 0): 0.5}, 0.0),
    "prey_recovery": (
        {"population": "b", "hunting_ban": 0.4, "capacity_factor": 1.5, "feeding": 0.2, "unit_cost": 3.0},
        {("hunting_ban", 1): 0.4, ("prey_capacity", 1): 18.0, ("feeding", 1): 0.2},
        3.0 * 5000,
    ),
    "conflict_mitigation": ({"population": "a", "reduction": 0.5, "unit_cost": 7.0}, {("conflict_mitigation", 0): 0.5}, 7.0),
    "vaccination": ({"population": "b", "coverage": 0.6, "unit_cost": 10.0}, {("vaccination", 1): 0.6}, 10.0 * 0.6 * 15),
    "crossing": (
        {"population": "b", "road_reduction": 0.8, "dispersal_mortality_reduction": 0.5, "unit_cost": 4.0},
        {("road_reduction", 1): 0.8, ("dispersal_mortality_reduction", 1): 0.5},
        4.0,
    ),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_intervention_changes_its_layer_in_its_years_and_costs_per_docs(case):
    """MODEL.md §4.1: every managed layer is reset to the baseline each year; an intervention
    with start ≤ year ≤ end changes exactly its layer in its population (nothing else, no
    unmanaged layer), and costs unit_cost × its unit per active year plus fixed_cost in the
    start year: anti-poaching (effort − baseline)⁺ × area, prey recovery area, mitigation and
    crossing per year, vaccination coverage × living animals (here 15 of 20: 5 marked dead)."""
    iv, changes, unit_cost = LAYER_CASES[case]
    itype = case.removesuffix("_below_baseline")
    ivs = {"x": {"type": itype, "start": 2017, "end": 2019, "fixed_cost": 100.0, **iv}}
    rep, mgmt = _replicate(ivs)
    pop = rep.pop
    in_b = np.flatnonzero(pop.cell[: pop.n] == 1)
    pop.cause[in_b[:5]] = CAUSE_INDEX["natural"]  # marked dead: not vaccinated nor paid for
    base = _baseline(rep.prep.scenario)
    rng = np.random.default_rng(0)
    for year in range(2016, 2021):
        unmanaged = {k: rep.layers[k].copy() for k in UNMANAGED}
        state = _mgmt_year(rep, mgmt, year, rng)
        on = 2017 <= year <= 2019
        for name in MANAGED_LAYERS:
            expect = base[name].copy()
            if on:
                for (layer, c), v in changes.items():
                    if layer == name:
                        expect[c] = v
            np.testing.assert_allclose(state.layers[name], expect, rtol=1e-12, err_msg=f"{case}, {year}: layer {name}")
        for k in UNMANAGED:
            np.testing.assert_array_equal(state.layers[k], unmanaged[k], err_msg=f"{case}, {year}: {k}")
        cost = (unit_cost if on else 0.0) + (100.0 if year == 2017 else 0.0)
        assert state.tally["cost"][0] == pytest.approx(cost, rel=1e-12), f"{case}, {year}"
        assert state.tally["released"].sum() == 0


def test_interventions_on_the_same_population_combine_as_documented():
    """MODEL.md §4.1: hunting ban max, capacity factors multiply, feeding adds; mitigation and
    road/dispersal reductions combine as 1 − Π(1 − r); vaccination coverage is the max; an
    intervention without end stays active."""
    ivs = {
        "p1": {"type": "prey_recovery", "population": "a", "start": 2016, "hunting_ban": 0.3, "capacity_factor": 1.2, "feeding": 0.1},
        "p2": {"type": "prey_recovery", "population": "a", "start": 2016, "hunting_ban": 0.6, "capacity_factor": 1.5, "feeding": 0.2},
        "m1": {"type": "conflict_mitigation", "population": "a", "start": 2016, "reduction": 0.5},
        "m2": {"type": "conflict_mitigation", "population": "a", "start": 2016, "reduction": 0.4},
        "c1": {"type": "crossing", "population": "c", "start": 2016, "road_reduction": 0.5, "dispersal_mortality_reduction": 0.2},
        "c2": {"type": "crossing", "population": "c", "start": 2016, "road_reduction": 0.6, "dispersal_mortality_reduction": 0.5},
        "v1": {"type": "vaccination", "population": "b", "start": 2016, "coverage": 0.7},
        "v2": {"type": "vaccination", "population": "b", "start": 2016, "coverage": 0.4},
    }
    rep, mgmt = _replicate(ivs)
    rng = np.random.default_rng(0)
    for year in (2016, 2030, 2090):
        L = _mgmt_year(rep, mgmt, year, rng).layers
        assert L["hunting_ban"][0] == pytest.approx(0.6)
        assert L["prey_capacity"][0] == pytest.approx(15.0 * 1.2 * 1.5)  # not compounded over years
        assert L["feeding"][0] == pytest.approx(0.3)
        assert L["conflict_mitigation"][0] == pytest.approx(1 - 0.5 * 0.6)
        assert L["road_reduction"][2] == pytest.approx(1 - 0.5 * 0.4)
        assert L["dispersal_mortality_reduction"][2] == pytest.approx(1 - 0.8 * 0.5)
        assert L["vaccination"][1] == pytest.approx(0.7)


def _pool(captive):
    """The captive allele pool (alleles[locus, j], cumulative frequencies[locus, j])."""
    pool = captive.pools[0] if hasattr(captive, "pools") else captive  # replicate 0's pool
    return pool.alleles, pool.cum


def test_releases_every_n_years_with_captive_pedigree_values():
    """MODEL.md §4.1 and §5.4: a release acts in start and every `every` years up to end;
    each time `females` then `males` animals of age `age` join population c: origin released,
    no parents, captive_share 1, F = MK_c = 1 − GD, kinship MK_c to each other (also to
    earlier releases, g = 1), (1 + MK_c)/2 to themselves, 0 to wild founders (g = 0); alleles
    from the captive pool, never homozygous for a lethal; released counted; cost
    unit_cost × animals + fixed_cost in the start year."""
    ivs = {"r": {"type": "release", "population": "c", "start": 2017, "end": 2021, "every": 2, "females": 3, "males": 2,
                 "age": 2, "unit_cost": 5.0, "fixed_cost": 50.0}}  # fmt: skip
    rep, mgmt = _replicate(ivs)
    pop = rep.pop
    mk = 1 - 0.88
    n_wild = pop.n
    alleles, _cum = _pool(rep.captive)
    rng = np.random.default_rng(1)
    batches = []
    for year in range(2016, 2024):
        n0 = pop.n
        state = _mgmt_year(rep, mgmt, year, rng)
        acts = year in (2017, 2019, 2021)
        k = pop.n - n0
        assert k == (5 if acts else 0), year
        np.testing.assert_array_equal(state.tally["released"], [0, 0, k])
        assert state.tally["cost"][0] == pytest.approx(5.0 * k + (50.0 if year == 2017 else 0.0)), year
        if acts:
            batches.append(np.arange(n0, pop.n))
    new = np.concatenate(batches)
    for rows in batches:
        np.testing.assert_array_equal(pop.sex[rows], [FEMALE] * 3 + [MALE] * 2)
    assert np.all(pop.age[new] == 2) and np.all(pop.cell[new] == 2)
    assert np.all(pop.origin[new] == ORIGIN_RELEASED) and np.all(pop.cause[new] == ALIVE)
    assert np.all(pop.mother[new] == -1) and np.all(pop.father[new] == -1)
    assert np.all(pop.captive_share[new] == 1.0) and not pop.protected[new].any()
    np.testing.assert_allclose(pop.F[new], mk, rtol=1e-12)
    assert np.all(np.diff(pop.id[: pop.n]) > 0)  # new, increasing ids
    kin = pop.kinship(new)
    np.testing.assert_allclose(np.diag(kin), (1 + mk) / 2, rtol=1e-12)
    np.testing.assert_allclose(kin[~np.eye(new.size, dtype=bool)], mk, rtol=1e-12)
    assert np.all(pop.kinship(new, np.arange(n_wild)) == 0.0)
    assert np.all(pop.kinship(np.arange(n_wild), new) == 0.0)
    geno = pop.geno[new]
    for locus in range(pop.n_loci):
        assert np.all(np.isin(geno[:, locus, :], alleles[locus])), f"locus {locus}: allele not from the captive pool"


def test_released_genotypes_follow_the_pool_without_lethal_homozygotes():
    """MODEL.md §5.4: alleles drawn independently from the pool frequencies, an animal
    homozygous for a lethal redrawn. 1 000 released animals: no lethal homozygote although
    the pool would give one in a share q (asserted > 5 %, so the check has power); neutral
    allele counts fit the pool frequencies (chi-square over all neutral loci, alleles with
    expected count < 5 pooled, α = 0.001)."""
    rep, mgmt = _replicate({"r": {"type": "release", "population": "c", "start": 2016, "females": 500, "males": 500}})
    pop = rep.pop
    n0 = pop.n
    _mgmt_year(rep, mgmt, 2016, np.random.default_rng(2))
    geno = pop.geno[n0 : pop.n]
    assert geno.shape[0] == 1000
    alleles, cum = _pool(rep.captive)
    freqs = np.diff(np.c_[np.zeros(cum.shape[0]), cum], axis=1)
    n_neutral = rep.prep.scenario.genetics.neutral_loci
    lethal_loci = range(n_neutral, pop.n_loci)
    assert len(lethal_loci) > 0
    homo = np.zeros(geno.shape[0], dtype=bool)
    p_ok = 1.0
    for locus in lethal_loci:
        homo |= (geno[:, locus, 0] == geno[:, locus, 1]) & rep._lethal[geno[:, locus, 0]]
        p_ok *= 1 - np.sum(freqs[locus][rep._lethal[alleles[locus]]] ** 2)
    assert 1 - p_ok > 0.05, 1 - p_ok
    assert not homo.any(), f"{homo.sum()} released animals homozygous for a lethal"
    chi2, df = 0.0, 0
    for locus in range(n_neutral):
        counts = np.array([(geno[:, locus, :] == a).sum() for a in alleles[locus]], dtype=float)
        expected = 2 * geno.shape[0] * freqs[locus]
        small = expected < 5
        obs = np.r_[counts[~small], counts[small].sum()] if small.any() else counts
        exp = np.r_[expected[~small], expected[small].sum()] if small.any() else expected
        keep = exp > 0
        chi2 += float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum())
        df += int(keep.sum()) - 1
    p = stats.chi2.sf(chi2, df)
    assert p > ALPHA, f"chi2 = {chi2:.1f} on {df} df, p = {p:.2e}"


def test_vaccination_is_paid_for_animals_present_after_releases():
    """MODEL.md §4.1: vaccination costs unit_cost × coverage × living animals in c, counted
    after this year's releases (5 released into the empty population c)."""
    ivs = {
        "v": {"type": "vaccination", "population": "c", "start": 2016, "coverage": 0.5, "unit_cost": 8.0},
        "r": {"type": "release", "population": "c", "start": 2016, "females": 3, "males": 2, "unit_cost": 1.0},
    }
    rep, mgmt = _replicate(ivs)
    state = _mgmt_year(rep, mgmt, 2016, np.random.default_rng(3))
    assert state.tally["cost"][0] == pytest.approx(8.0 * 0.5 * 5 + 1.0 * 5)


def _transloc_setup(iv, per=10):
    """Management alone on a hand-made table: population a holds `per` animals of each sex
    and age 0–5 (one of each sex and age 2 marked dead)."""
    sex, age = np.meshgrid([FEMALE, MALE], np.arange(6), indexing="ij")
    sex, age = np.repeat(sex.ravel(), per), np.repeat(age.ravel(), per)
    cause = np.full(sex.size, ALIVE)
    for s in (FEMALE, MALE):
        cause[np.flatnonzero((sex == s) & (age == 2))[0]] = CAUSE_INDEX["poaching"]
    pop = LitePop(sex, age, 0, cause)
    sc = _mgmt_scenario({"t": {"type": "translocation", "source": "a", "population": "c", **iv}})
    mgmt = Management.from_scenario(sc, NAMES, _baseline(sc), None)
    return pop, mgmt, sc


def _transloc_year(pop, mgmt, sc, year, rng):
    layers = build_layers(sc, NAMES)
    state = lite_state(pop, layers, year=year)
    mgmt.bind_streams({name: as_streams(rng, 1) for name in mgmt.substreams})  # the translocation's own stream
    mgmt.step(state, rng)
    return state


def test_translocation_moves_only_requested_animals_of_the_right_sex_and_age():
    """MODEL.md §4.1: in an action year up to `females` and `males` living animals of
    min_age … max_age are drawn from the source and moved to c; nobody else moves; cost is
    unit_cost × animals taken (+ fixed_cost in the start year); not more than available."""
    iv = {"start": 2017, "end": 2018, "females": 3, "males": 2, "min_age": 1, "max_age": 3, "unit_cost": 10.0, "fixed_cost": 7.0}
    pop, mgmt, sc = _transloc_setup(iv)
    before = {k: getattr(pop, k).copy() for k in ("cell", "cause", "age", "sex")}
    rng = np.random.default_rng(4)
    st = _transloc_year(pop, mgmt, sc, 2016, rng)  # before start
    np.testing.assert_array_equal(pop.cell, before["cell"])
    assert st.tally["cost"][0] == 0
    st = _transloc_year(pop, mgmt, sc, 2017, rng)
    moved = pop.cell != before["cell"]
    assert np.all(pop.cell[moved] == 2)
    assert (moved & (before["sex"] == FEMALE)).sum() == 3 and (moved & (before["sex"] == MALE)).sum() == 2
    assert np.all((before["age"][moved] >= 1) & (before["age"][moved] <= 3)) and np.all(before["cause"][moved] == ALIVE)
    np.testing.assert_array_equal(pop.cause, before["cause"])  # mortality 0: nobody dies
    assert st.tally["cost"][0] == pytest.approx(10.0 * 5 + 7.0)

    # more requested than available: all living candidates of that sex, no more
    iv = {"start": 2017, "females": 1000, "males": 0, "min_age": 1, "max_age": 3, "unit_cost": 1.0}
    pop, mgmt, sc = _transloc_setup(iv)
    before = {k: getattr(pop, k).copy() for k in ("cell", "cause", "age", "sex")}
    st = _transloc_year(pop, mgmt, sc, 2017, np.random.default_rng(5))
    cand = (before["sex"] == FEMALE) & (before["age"] >= 1) & (before["age"] <= 3) & (before["cause"] == ALIVE)
    np.testing.assert_array_equal(pop.cell != before["cell"], cand)
    assert st.tally["cost"][0] == pytest.approx(cand.sum())
    st = _transloc_year(pop, mgmt, sc, 2018, np.random.default_rng(6))  # once: no `every`
    assert st.tally["cost"][0] == 0


def test_translocation_transport_mortality_and_repeats():
    """Each animal taken dies in transport with probability `mortality` (cause dispersal,
    staying in the source); it is still paid for. Every year for 30 years, 40 + 40 taken of
    60 + 60 candidates: 2 400 animals, death share 0.35 ± 4·0.0097; with every = 3 the action
    years are start, start + 3, … ≤ end only."""
    iv = {"start": 2017, "end": 2046, "every": 1, "females": 40, "males": 40, "min_age": 1, "max_age": 3, "mortality": 0.35, "unit_cost": 2.0}
    pop, mgmt, sc = _transloc_setup(iv, per=20)
    home = pop.cell.copy()
    alive0 = pop.cause.copy()
    rng = np.random.default_rng(7)
    taken = dead = 0
    for year in range(2017, 2047):
        st = _transloc_year(pop, mgmt, sc, year, rng)
        died = pop.cause == CAUSE_INDEX["dispersal"]
        moved = pop.cell != home
        assert np.all(pop.cell[died] == 0)
        assert not np.any(died & moved)
        k = int(died.sum() + moved.sum())
        assert k == 80  # 60 living candidates of each sex (ages 1–3, one dead), 40 of each taken
        assert st.tally["cost"][0] == pytest.approx(2.0 * k)
        taken += k
        dead += int(died.sum())
        pop.cell[:] = home  # put everybody back for the next round
        pop.cause[:] = alive0
    ok, msg = binom_ok(dead, taken, 0.35)
    assert ok, msg

    iv = {"start": 2017, "end": 2026, "every": 3, "females": 1, "males": 1, "min_age": 1, "max_age": 3, "unit_cost": 1.0}
    pop, mgmt, sc = _transloc_setup(iv)
    acted = []
    for year in range(2015, 2032):
        st = _transloc_year(pop, mgmt, sc, year, np.random.default_rng(year))
        if st.tally["cost"][0] > 0:
            acted.append(year)
    assert acted == [2017, 2020, 2023, 2026]


# ------------------------------------------------------------------------------------------
# 8. resolve and census
# ------------------------------------------------------------------------------------------


def _resolve_scenario():
    return scenario(lambda raw: (raw["demography"].update(max_age=15, adult_age=2), raw["genetics"].update(neutral_loci=2)))


def end_of_year(sc, state, rng) -> None:
    """The year's end as the schedule runs it: ageing, the non-spatial ceiling, resolve."""
    Ageing(Ageing.Params.from_scenario(sc)).step(state, None)
    Ceiling().step(state, rng)
    Resolve().step(state, None)


def test_resolve_tallies_deaths_removes_the_dead_ages_and_applies_senescence():
    """MODEL.md §4.8: animals of age ≥ max_age die of senescence; all deaths counted by
    (population, cause) and removed with their kinship rows; the others age by one;
    N_before_truncation = animals per population; no truncation while N ≤ K (N = K included)."""
    rows = [  # (cell, age, cause)
        *[(0, a, ALIVE) for a in range(10)],
        (0, 3, CAUSE_INDEX["natural"]), (0, 4, CAUSE_INDEX["poaching"]), (0, 7, CAUSE_INDEX["poaching"]),
        (0, 15, ALIVE), (0, 16, ALIVE), (0, 14, ALIVE), (0, 15, CAUSE_INDEX["road"]),
        *[(1, 1 + a % 5, CAUSE_INDEX["road"]) for a in range(4)], *[(1, 2, ALIVE)] * 6,
        (2, 0, CAUSE_INDEX["inbreeding_lethal"]), (2, 1, CAUSE_INDEX["dispersal"]),
    ]  # fmt: skip
    cell, age, cause = (np.array(x) for x in zip(*rows))
    n = cell.size
    pop = make_pop(np.arange(n) % 2, age, cell, cause=cause)
    pop.set_kinship(np.arange(n), np.arange(n)[:, None] * 1000.0 + np.arange(n)[None, :])
    ids = pop.id[:n].copy()
    state = make_state(pop, hand_layers(3, carrying_capacity=[100.0, 6.0, 5.0]))
    end_of_year(_resolve_scenario(), state, np.random.default_rng(0))

    expect = np.zeros((3, N_CAUSES), dtype=int)
    for c, a, d in rows:
        if d != ALIVE:
            expect[c, d] += 1
        elif a >= 15:
            expect[c, CAUSE_INDEX["senescence"]] += 1
    np.testing.assert_array_equal(state.tally["deaths"], expect)
    assert expect[0, CAUSE_INDEX["senescence"]] == 2
    keep = np.flatnonzero((cause == ALIVE) & (age < 15))
    assert pop.n == keep.size
    np.testing.assert_array_equal(pop.id[: pop.n], ids[keep])
    np.testing.assert_array_equal(pop.age[: pop.n], age[keep] + 1)
    assert np.all(pop.cause[: pop.n] == ALIVE)
    # the survivors keep their kinship (read through their slots: the store itself does not move)
    np.testing.assert_array_equal(pop.kinship(np.arange(pop.n)), keep[:, None] * 1000.0 + keep[None, :])
    np.testing.assert_array_equal(state.tally["N_before_truncation"], [11, 6, 0])


def test_carrying_capacity_truncation():
    """MODEL.md §4.8: in a population with N > K each animal survives with probability K/N
    (cause carrying_capacity otherwise), recorded after N_before_truncation; populations with
    N ≤ K untouched. 1 500 animals over K = 500 (plus 60 marked dead, not counted): survivors
    500 ± 4·√(1500·(1/3)(2/3)) = ± 73; equal shares by sex and stage."""
    n_over, n_dead = 1500, 60
    cell = np.r_[np.zeros(n_over, int), np.zeros(n_dead, int), np.ones(40, int)]
    age = np.r_[np.arange(n_over) % 10, np.full(n_dead, 3), np.arange(40) % 10]
    cause = np.r_[np.full(n_over, ALIVE), np.full(n_dead, CAUSE_INDEX["natural"]), np.full(40, ALIVE)]
    pop = make_pop(np.arange(cell.size) % 2, age, cell, cause=cause)
    sex0 = pop.sex[: pop.n].copy()
    ids0 = pop.id[: pop.n].copy()
    state = make_state(pop, hand_layers(2, carrying_capacity=[500.0, 40.0]))
    end_of_year(_resolve_scenario(), state, np.random.default_rng(31))
    np.testing.assert_array_equal(state.tally["N_before_truncation"], [n_over, 40])
    kept = np.isin(ids0, pop.id[: pop.n])
    k0 = int(kept[:n_over].sum())
    ok, msg = binom_ok(k0, n_over, 500 / n_over)
    assert ok, msg
    assert kept[n_over + n_dead :].all()  # N = K: no truncation
    d = state.tally["deaths"]
    assert d[0, CAUSE_INDEX["carrying_capacity"]] == n_over - k0 and d[1].sum() == 0
    assert d[0, CAUSE_INDEX["natural"]] == n_dead
    # all ages and both sexes equally affected (chi-square of survivors against the shares)
    for groups in (sex0[:n_over], age[:n_over] >= 2):
        table = np.array([[np.sum(kept[:n_over] & (groups == g)), np.sum(~kept[:n_over] & (groups == g))] for g in (False, True)])
        assert stats.chi2_contingency(table).pvalue > ALPHA


def test_census_counts_by_population_sex_and_stage_of_the_year():
    """MODEL.md §4.9: after resolve, N by (population, sex, stage) with the stage of the year
    (cub = born this year, i.e. age 1 after ageing); mean F, mean kinship over all ordered
    pairs incl. self, FGE = 1/(2·MK); gene diversity, heterozygosity and alleles per locus at
    the neutral loci."""
    sc = _resolve_scenario()
    spec = {  # (cell, sex, age during the year): count
        (0, FEMALE, 0): 3, (0, MALE, 0): 2, (0, FEMALE, 1): 4, (0, MALE, 3): 5,
        (1, FEMALE, 2): 6, (1, MALE, 1): 1, (1, MALE, 14): 2,
    }  # fmt: skip
    keys = [k for k, v in spec.items() for _ in range(v)]
    cell, sex, age = (np.array(x) for x in zip(*keys))
    n = cell.size
    F = np.linspace(0, 0.2, n)
    pop = make_pop(sex, age, cell, F=F, origin=np.where(age == 0, ORIGIN_BORN, ORIGIN_FOUNDER), n_loci=2)
    kin = np.full((n, n), 0.05)
    kin[np.arange(n), np.arange(n)] = 0.5 * (1 + F)
    pop.set_kinship(np.arange(n), kin)
    # locus 0: everyone heterozygous 1/2; locus 1: everyone homozygous 3/3
    pop.geno[:n, 0, :] = [1, 2]
    pop.geno[:n, 1, :] = [3, 3]
    state = make_state(pop, hand_layers(2))
    end_of_year(sc, state, np.random.default_rng(0))
    census = Census.from_scenario(sc)
    census.step(state, np.random.default_rng(0))
    m = state.fields["census"]
    N = np.zeros((2, 2, 3), dtype=int)
    for (c, s, a), k in spec.items():
        N[c, s, 0 if a == 0 else (1 if a < 2 else 2)] += k
    np.testing.assert_array_equal(m["N"], N)
    mk = kin.mean()
    assert m["mean_kinship"] == pytest.approx(mk, rel=1e-12)
    assert m["mean_inbreeding"] == pytest.approx(F.mean(), rel=1e-12)
    assert m["founder_genome_equivalents"] == pytest.approx(1 / (2 * mk), rel=1e-12)
    assert m["gene_diversity"] == pytest.approx(0.25)
    assert m["heterozygosity"] == pytest.approx(0.5)
    assert m["alleles"] == pytest.approx(1.5)
