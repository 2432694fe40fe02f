"""The batched engine: replicates advanced together give exactly what each gives alone.

A batch shares one individual table, one set of cell layers and one kinship store array among
its replicates, and each process draws for an animal from its replicate's own stream. Nothing
may leak between replicates: a replicate's records must not depend on which other replicates
share its batch, or on its position there.
"""

from __future__ import annotations

import numpy as np
import pytest

from pardus.engine import Replicate, batch_size, prepare, run_batch
from pardus.rng import Streams
from pardus.scenario import load_scenario


def _scenario():
    sc = load_scenario("amur-2015-nonspatial")
    release = {"type": "release", "population": "lazovsky", "start": 2017, "every": 3, "females": 2, "males": 2}
    move = {"type": "translocation", "source": "russia", "population": "lazovsky", "start": 2018, "every": 4, "females": 1, "males": 1, "mortality": 0.2}
    patrols = {"type": "anti_poaching", "population": "china", "start": 2016, "effort": 2.0, "unit_cost": 10.0}
    return sc.replace({"run.years": 25, "interventions": {"release": release, "move": move, "patrols": patrols}})


@pytest.fixture(scope="module")
def prep():
    return prepare(_scenario())


def _same(a: dict, b: dict, i: int, j: int) -> list[str]:
    return [k for k in a if not np.array_equal(a[k][i], b[k][j], equal_nan=True)]


def test_a_batch_gives_each_replicate_what_it_gives_alone(prep):
    batch = run_batch(prep, 5, [3, 0, 7])
    for i, r in enumerate([3, 0, 7]):
        alone = Replicate(prep, 5, r).run()
        differ = [k for k, v in alone.items() if not np.array_equal(v, batch[k][i], equal_nan=True)]
        assert not differ, f"replicate {r}: {differ} differ between its batch and a run alone"
    # the scenario really exercised the batch: animals were released, moved and paid for
    assert batch["released"].sum() > 0 and batch["cost"].sum() > 0


def test_batch_composition_and_order_do_not_matter(prep):
    a = run_batch(prep, 9, [1, 2, 4, 8])
    b = run_batch(prep, 9, [8, 5, 1])
    assert not _same(a, b, 0, 2) and not _same(a, b, 3, 0)
    # and different replicates really differ (the streams are not shared)
    assert not np.array_equal(a["N"][0], a["N"][1])


def test_replicates_of_a_batch_keep_their_kinship_apart(prep):
    from pardus.engine import Batch

    b = Batch(prep, 2, [0, 1])
    b.run()
    pop = b.pop
    rows = np.arange(pop.n)
    kin = pop.kinship(rows)
    other = pop.rep[rows][:, None] != pop.rep[rows][None, :]
    assert np.all(np.isnan(kin[other]))  # no kinship across replicates
    # each replicate's running pair sum equals its kinship summed afresh
    fresh = [np.nansum(pop.kinship(rows[pop.rep[rows] == r])) for r in (0, 1)]
    np.testing.assert_allclose(pop.kin_sums, fresh, rtol=1e-10)


def test_batch_size_shrinks_for_large_populations(prep):
    assert batch_size(prep) > 1
    big = prepare(load_scenario("nonspatial-vortex").replace({"populations.main.carrying_capacity": 20000}))
    assert batch_size(big) == 1


def test_streams_are_xoshiro256starstar_and_stay_inside_the_unit_interval():
    seq = np.random.SeedSequence(7)
    s = Streams.from_seeds([seq])
    state = [int(x) for x in seq.generate_state(4, np.uint64)]
    mask = (1 << 64) - 1

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & mask

    def ref():  # the published algorithm (Blackman & Vigna), step by step
        s0, s1, s2, s3 = state
        out = (rotl((s1 * 5) & mask, 7) * 9) & mask
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        state[:] = [s0, s1, s2, s3]
        return ((out >> 11) + 0.5) * 2.0**-53

    expected = [ref() for _ in range(16)]
    assert list(s.random(0, (16,))) == expected
    u = Streams.from_seeds([np.random.SeedSequence(1)]).random(0, (200_000,))
    assert 0.0 < u.min() and u.max() < 1.0
    se = np.sqrt(1 / 12 / u.size)
    assert abs(u.mean() - 0.5) < 4 * se


def _released_genotypes(extra_interventions: dict) -> dict[int, np.ndarray]:
    """Genotypes of the animals a release puts out in its first year, by id, with other
    interventions acting before it in the same year."""
    import copy

    from pardus.engine import Batch, new_tally
    from pardus.population.table import ORIGIN_RELEASED
    from pardus.processes.base import State
    from pardus.scenario import resolve_scenario, scenario_from_dict

    raw = copy.deepcopy(resolve_scenario("amur-2015-nonspatial").raw)
    raw["interventions"] = {**extra_interventions, "release": {"type": "release", "population": "lazovsky", "start": 2016, "females": 3, "males": 2}}
    prep_ = prepare(scenario_from_dict(raw))
    b = Batch(prep_, 5, range(4))
    state = State(year=2016, t=1, pop=b.pop, layers=b.layers, tally=new_tally(b.landscape.n_cells * 4, 4), is_lethal=b._lethal, n_reps=4)
    management = next(p for p in b.schedule if p.name == "management")
    management.step(state, b.rngs["management"])
    rows = np.flatnonzero(b.pop.origin[: b.pop.n] == ORIGIN_RELEASED)
    assert rows.size == 4 * 5
    return {int(b.pop.id[r]): b.pop.geno[r].copy() for r in rows}


def test_adding_a_translocation_shifts_no_release_draws():
    """Each intervention draws from its own stream (keyed by its name): a translocation that acts
    before a release in the same year leaves the released animals' genotypes as they were."""
    alone = _released_genotypes({})
    move = {"move": {"type": "translocation", "source": "russia", "population": "china", "start": 2016, "females": 2, "males": 2, "mortality": 0.5}}
    with_move = _released_genotypes(move)
    assert alone.keys() == with_move.keys()
    for i in alone:
        np.testing.assert_array_equal(alone[i], with_move[i])
