"""Calibration pieces (pardus.calibration): the observation model, countries in records, the
habitat_change history event, the seeded sampler and projections with a posterior."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pardus.calibration import (
    CalibrationError,
    Settings,
    calibrate,
    distance_of,
    merge_projection,
    posterior_fit,
    posterior_scenarios,
    read_posterior,
    to_dataset,
    truncated,
    write_posterior,
)
from pardus.engine import prepare, run_batch
from pardus.ensemble import run_ensemble
from pardus.scenario.loader import Resolved, resolve_scenario, scenario_from_dict
from pardus.validation import read_record, reporting_units, simulated_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stat_helpers.py
from stat_helpers import base_raw  # noqa: E402


def small(**over) -> Resolved:
    raw = base_raw()
    raw["run"] = {"start_year": 2000, "years": 12, "replicates": 10, "quasi_extinction": 5}
    raw["populations"] = {"main": {"initial_size": 30, "carrying_capacity": 200, "initial_age_distribution": "stable"}}
    for k, v in over.items():
        raw[k] = v
    sc = scenario_from_dict(raw, "test")
    return Resolved(scenario=sc, raw=raw, sources={})


def record(path, rows) -> str:
    lines = ["year,low,high,estimate,ci_low,ci_high,counted,populations,method,source"]
    lines += [f"{y},{lo},{hi},,,,all_ages,{pops},synthetic,this test" for y, lo, hi, pops in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_distance_adds_the_log_misses_of_the_intervals():
    lo, hi = np.array([10.0, 20.0]), np.array([12.0, 30.0])
    assert distance_of(np.array([11.0, 25.0]), lo, hi) == 0.0
    assert distance_of(np.array([10.0, 30.0]), lo, hi) == 0.0  # the ends are inside
    assert distance_of(np.array([11.0, 40.0]), lo, hi) == pytest.approx(np.log(40.5) - np.log(30.5))
    assert distance_of(np.array([5.0, 40.0]), lo, hi) == pytest.approx(np.log(10.5 / 5.5) + np.log(40.5 / 30.5))
    assert distance_of(np.array([0.0, 25.0]), lo, hi) == pytest.approx(np.log(10.5) - np.log(0.5))  # died out: far, finite


def test_a_record_may_name_a_country_for_all_its_populations(tmp_path):
    sc = resolve_scenario("amur-history-nonspatial").scenario
    units = reporting_units(sc)
    assert units["russia"] == ("southwest", "ussuriysk", "lazovsky") and units["china"] == ("china",) and units["southwest"] == ("southwest",)
    counts = read_record(record(tmp_path / "r.csv", [(1975, 30, 40, "russia"), (1975, 1, 9, "russia+china")]), units)
    rec = run_batch(prepare(truncated(sc, 6), list(sc.populations)), 3, range(4))
    names = list(sc.populations)
    N = rec["N"]
    by_pop = N[:, 5].sum(axis=(2, 3))  # replicate × population, all ages
    assert np.array_equal(simulated_counts(N, names, 1970, counts[0], units), by_pop[:, :3].sum(axis=1))
    assert np.array_equal(simulated_counts(N, names, 1970, counts[1], units), by_pop.sum(axis=1))
    with pytest.raises(Exception, match="atlantis not in the scenario"):
        read_record(record(tmp_path / "bad.csv", [(1975, 1, 2, "atlantis")]), units)


def test_habitat_change_scales_capacities_compounding_yearly_and_replaces_human_access():
    from pardus.engine import Batch
    from pardus.processes.base import State

    iv = {"type": "habitat_change", "population": "main", "start": 2003, "end": 2008, "carrying_capacity_factor": 0.8, "prey_capacity_factor": 0.9, "yearly": True}
    once = {"type": "habitat_change", "population": "main", "start": 2005, "end": 2006, "human_access": 0.7}
    sc = small(interventions={"loss": iv, "roads": once}).scenario
    batch = Batch(prepare(sc, ["main"]), 1, range(3))
    management = next(p for p in batch.schedule if p.name == "management")
    for year in range(2001, 2013):
        state = State(year=year, t=year - 2000, pop=batch.pop, layers=batch.layers, tally={"cost": np.zeros(3), "released": np.zeros(3)}, is_lethal=batch._lethal, n_reps=3)
        management.step(state, batch.rngs["management"])
        n = year - 2002 if 2003 <= year <= 2008 else 0
        assert np.allclose(batch.layers["carrying_capacity"], 200 * 0.8**n), year
        assert np.allclose(batch.layers["prey_capacity"], 1.0 * 0.9**n), year
        assert np.allclose(batch.layers["human_access"], 0.7 if year in (2005, 2006) else 0.0), year
    # and the census follows the capacity: truncation keeps each animal with K/N
    sc = small(interventions={"loss": {**iv, "start": 2001, "end": 2012, "carrying_capacity_factor": 0.85, "prey_capacity_factor": 1.0}}).scenario
    rec = run_batch(prepare(sc, ["main"]), 1, range(40))
    before, after = rec["N_before_truncation"][:, -1, 0], rec["N"][:, -1].sum(axis=(1, 2, 3))
    k = 200 * 0.85**12
    over = before > k
    assert over.sum() >= 20
    mean, se = after[over].mean(), after[over].std(ddof=1) / np.sqrt(over.sum())
    assert abs(mean - k) < 4 * se + 0.5, (mean, k, se)


def test_calibration_is_reproducible_for_any_worker_count(tmp_path):
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 28, 40, "main"), (2008, 30, 50, "main"), (2012, 30, 60, "main")])
    params = ["demography.survival.*.adult=0.75:0.95", "demography.p_breed=0.3:0.9"]
    st = dict(particles=30, generations=2, min_acceptance=0.0, seed=7)
    a = calibrate(res, rec, params, Settings(workers=1, **st))
    b = calibrate(res, rec, params, Settings(workers=2, **st))
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.weights, b.weights)
    assert a.simulations == b.simulations and a.epsilons == b.epsilons
    c = calibrate(res, rec, params, Settings(workers=1, **{**st, "seed": 8}))
    assert not np.array_equal(a.theta, c.theta)
    # one parameter for both sexes' adult survival
    assert a.prob.members[0] == ("demography.survival.female.adult", "demography.survival.male.adult")
    lo, hi = a.prob.bounds[0]
    assert (a.theta[:, 0] >= lo).all() and (a.theta[:, 0] <= hi).all()
    assert a.sims.shape == (30, 3) and np.isclose(a.weights.sum(), 1.0)


def test_posterior_projection_gives_each_replicate_its_drawn_parameter_set(tmp_path):
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 20, 45, "main"), (2012, 20, 80, "main")])
    result = calibrate(res, rec, ["demography.survival.*.adult=0.75:0.95"], Settings(particles=20, generations=1, workers=1, seed=2))
    path = tmp_path / "post.nc"
    write_posterior(to_dataset(result, res, rec), path)
    post = read_posterior(path)
    assert post.values.shape == (20, 1) and post.members == [["demography.survival.female.adult", "demography.survival.male.adult"]]
    sc = res.scenario
    runs, assignment, origin, draw, used = posterior_scenarios([sc], post, 12, seed=5)
    assert sorted(r for a in assignment for r in a) == list(range(12)) and used == [[0]]
    names, parts = run_ensemble(runs, replicates=12, seed=5, workers=1, assignment=assignment)
    merged = merge_projection(parts, assignment, origin, 1, 12)[0]
    names2, parts2 = run_ensemble(runs, replicates=12, seed=5, workers=2, assignment=assignment)
    assert np.array_equal(merged["N"], merge_projection(parts2, assignment, origin, 1, 12)[0]["N"])
    for r in (0, 7, 11):  # replicate r is a plain run of the scenario with its particle's value
        v = float(post.values[draw[r], 0])
        alone = run_batch(prepare(sc.replace({"demography.survival.female.adult": v, "demography.survival.male.adult": v}), ["main"]), 5, [r])
        assert np.array_equal(alone["N"][0], merged["N"][r])
    assert np.array_equal(post.draw(12, 5), draw)  # the draw follows the seed


def test_a_posterior_is_refused_where_its_parameters_mean_something_else(tmp_path):
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 20, 45, "main")])
    result = calibrate(res, rec, ["demography.survival.*.adult=0.75:0.95"], Settings(particles=10, generations=1, workers=1, seed=2))
    path = tmp_path / "post.nc"
    write_posterior(to_dataset(result, res, rec), path)
    post = read_posterior(path)
    with pytest.raises(CalibrationError, match='basis = "natural"'):
        posterior_fit(resolve_scenario(Path(__file__).resolve().parents[2] / "examples" / "amur-2015-observed-survival.toml").scenario, post)
    other = small(demography={**res.raw["demography"], "p_breed": 0.5})
    use, missing = posterior_fit(other.scenario, post)
    assert use == [0] and missing == []
    # calibrated without a map: refused for the same scenario on a map, and the reverse
    with pytest.raises(CalibrationError, match="calibrated without a map .* runs on a map: the same parameters mean something else"):
        posterior_fit(other.scenario.replace({"landscape": {"source": "default"}, "populations.main.region": "russia"}), post)
    with pytest.raises(CalibrationError, match="calibrated on a map \\(amur-history\\), but amur-2015-nonspatial runs without one"):
        posterior_fit(resolve_scenario("amur-2015-nonspatial").scenario, read_posterior("amur-history"))
    (tmp_path / "junk.nc").write_bytes(b"not netcdf")
    with pytest.raises(CalibrationError, match="cannot be read as a posterior file"):
        read_posterior(tmp_path / "junk.nc")


def test_nothing_to_calibrate_says_how_to_mark_parameters(tmp_path):
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 20, 45, "main")])
    with pytest.raises(CalibrationError, match=r"\[calibration\] uncertain"):
        calibrate(res, rec, [], Settings(particles=10, generations=1, workers=1))
    with pytest.raises(CalibrationError, match="no count falls in the run"):
        calibrate(res, record(tmp_path / "late.csv", [(2030, 20, 45, "main")]), ["demography.p_breed=0.3:0.9"], Settings(particles=10, workers=1))


@pytest.mark.parametrize(("preset", "history"), [("amur-2015", "amur-history"), ("amur-2015-nonspatial", "amur-history-nonspatial")])
def test_amur_2015_takes_its_calibrated_values_from_the_shipped_posterior(preset, history):
    """amur-2015 (on the map) and amur-2015-nonspatial are re-derived from their hindcasts
    calibrated to the shipped record (`make posterior`): every value whose source calls it a
    posterior median of that hindcast is the weighted median of its shipped posterior (to the 3
    decimals the preset gives), so the preset cannot drift from it."""
    from pardus.calibration import weighted_quantiles

    post = read_posterior(history)
    assert post.scenario_name == history
    res = resolve_scenario(preset)
    from pardus.scenario.loader import _flatten

    flat = _flatten(res.scenario.model_dump(mode="json"))
    checked = 0
    for j, keys in enumerate(post.members):
        med = weighted_quantiles(post.values[:, j], post.weights, [0.5])[0]
        for k in keys:
            if k in flat and f"posterior median of {history} " in res.sources.get(k, ""):
                assert flat[k] == pytest.approx(round(float(med), 3), abs=5e-4), (k, flat[k], med)
                checked += 1
    assert checked >= 5, f"only {checked} {preset} values cite the posterior of {history}"
    assert res.scenario.demography.survival.basis == "natural"


def test_calibration_on_a_dask_cluster_gives_the_local_posterior(tmp_path):
    distributed = pytest.importorskip("distributed")
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 28, 40, "main"), (2012, 30, 60, "main")])
    params = ["demography.p_breed=0.3:0.9"]
    st = dict(particles=20, generations=2, min_acceptance=0.0, seed=5)
    local = calibrate(res, rec, params, Settings(workers=1, **st))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = calibrate(res, rec, params, Settings(scheduler=cluster.scheduler_address, **st))
    assert np.array_equal(local.theta, remote.theta) and np.array_equal(local.weights, remote.weights)


def test_summary_of_a_posterior_run_averages_the_drawn_life_tables(tmp_path):
    from pardus.calibration import add_posterior_draws
    from pardus.population.lifetable import life_table
    from pardus.results import build_dataset, summarize

    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 20, 45, "main"), (2012, 20, 80, "main")])
    result = calibrate(res, rec, ["demography.survival.*.adult=0.75:0.95"], Settings(particles=20, generations=1, workers=1, seed=4))
    path = tmp_path / "post.nc"
    write_posterior(to_dataset(result, res, rec), path)
    post = read_posterior(path)
    sc = res.scenario
    runs, assignment, origin, draw, used = posterior_scenarios([sc], post, 10, seed=1)
    names, parts = run_ensemble(runs, replicates=10, seed=1, workers=1, assignment=assignment)
    ds = add_posterior_draws(build_dataset([sc], names, merge_projection(parts, assignment, origin, 1, 10), 1), post, draw, used[0])
    lam = np.mean([life_table(sc.replace({k: float(post.values[j, 0]) for k in post.members[0]})).lam for j in draw])
    row = summarize(ds).iloc[0]
    assert row["lambda_det"] == pytest.approx(lam, rel=1e-12)
    assert row["lambda_det"] != pytest.approx(life_table(sc).lam, rel=1e-6)  # not the scenario's own


def test_the_stability_rule_stops_when_the_medians_settle(tmp_path):
    res = small()
    rec = record(tmp_path / "r.csv", [(2004, 33, 33, "main"), (2008, 37, 37, "main"), (2012, 41, 41, "main")])  # exact counts: ε stays above 0
    params = ["demography.p_breed=0.3:0.9"]
    r = calibrate(res, rec, params, Settings(particles=20, generations=8, min_acceptance=0.0, workers=1, seed=3, stable=0.999))
    assert r.stopped.startswith("posterior stable") and len(r.epsilons) == 3  # the first generation it can be judged
    off = calibrate(res, rec, params, Settings(particles=20, generations=4, min_acceptance=0.0, workers=1, seed=3))
    assert off.stopped == "4 generations done" and np.array_equal(off.medians[:3], r.medians)


def test_the_defensive_kernel_mixes_the_prior_into_the_proposal():
    """A share of the proposals comes from the uniform prior and the proposal density is the
    same mixture, so no particle's importance weight (prior / proposal) exceeds 1/share."""
    import pandas as pd

    from pardus.calibration import _defensive_class

    T = _defensive_class()([(0.0, 1.0), (0.0, 2.0)], 0.2)
    T.fit(pd.DataFrame({"p0": [0.5, 0.51, 0.49], "p1": [1.0, 1.01, 0.99]}), np.array([0.4, 0.3, 0.3]))
    prior = 1.0 / 2.0
    far = pd.Series({"p0": 0.01, "p1": 1.99})  # where the kernel gives next to nothing
    assert 0.2 * prior <= T.pdf(far) < 0.2 * prior * 1.001
    assert prior / T.pdf(far) <= 1 / 0.2 + 1e-9
    outside = pd.Series({"p0": 1.5, "p1": 1.0})  # outside the prior: the kernel's share only
    from pyabc.transition import MultivariateNormalTransition

    plain = MultivariateNormalTransition()
    plain.fit(T.X, T.w)
    assert T.pdf(outside) == pytest.approx(0.8 * plain.pdf(outside))
    # draws: 0.2 of them uniform over the prior; those land farther than 0.2 from p0 = 0.5 with
    # probability 0.6, the kernel's practically never: 0.12 of all, SE sqrt(0.12·0.88/4000) = 0.005
    np.random.seed(3)
    x = np.array([T.rvs_single()["p0"] for _ in range(4000)])
    assert abs(np.mean(np.abs(x - 0.5) > 0.2) - 0.12) < 4 * 0.0051
