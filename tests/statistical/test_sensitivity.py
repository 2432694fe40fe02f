"""`pardus sensitivity` (issue #7, item 5): in a scenario where only one of the varied
parameters can act, the total-order Sobol' index is ≈ 1 for it and 0 for the others.

nonspatial-vortex for 20 years varies p_breed (acts), prey.growth_rate (prey has no effect:
required_density 0) and dispersal.male (no destinations). With common random numbers a parameter
that cannot act changes no draw, so its indices are exactly 0. The acting parameter's total
index must contain 1 in its bootstrap 95 % interval (SALib's ST_conf) for the continuous
outcomes — mean final N, growth rate; the probability of extinction from 20 replicates takes few
values, and SALib's bootstrap interval is not made for such an outcome, so it is not used here.
"""

from __future__ import annotations

import dataclasses

import pytest

from pardus import sensitivity as S
from pardus.scenario import resolve_scenario


@pytest.mark.slow
def test_only_the_parameter_that_can_act_has_a_total_index():
    res = resolve_scenario("nonspatial-vortex")
    res = dataclasses.replace(res, scenario=res.scenario.replace({"run.years": 20}))
    params = ["demography.p_breed=0.3:0.7", "prey.growth_rate=0:1", "dispersal.male=0:0.5"]
    prob, X, table, rows = S.run(res, params, "sobol", 32, replicates=20, seed=3, workers=1)
    assert X.shape == (32 * (3 + 2), 3) and len(table) == len(X)
    by = {(r["outcome"], r["parameter"]): r for r in rows}
    for outcome in ("N_mean", "r_stoch"):
        acting = by[(outcome, "demography.p_breed")]
        assert abs(acting["ST"] - 1.0) <= acting["ST_conf"], acting
        for idle in ("prey.growth_rate", "dispersal.male"):
            assert by[(outcome, idle)]["ST"] == 0.0 and by[(outcome, idle)]["S1"] == 0.0


def test_ranges_come_from_the_sources_or_the_command_line():
    res = resolve_scenario("amur-2015-nonspatial")
    prob = S.problem(res, ["prey.kills_per_leopard", "demography.p_breed=0.4:0.8"])
    assert prob.bounds == [(40.0, 70.0), (0.4, 0.8)]  # "assumption (range 40–70)" in its source
    with pytest.raises(S.SensitivityError) as exc:
        S.problem(res, ["demography.survival.male.adult", "nosuch.key", "demography.p_breed=0.8:0.4", "name"])
    lines = str(exc.value).splitlines()
    assert "gives no range" in lines[0] and "give it as demography.survival.male.adult=LO:HI" in lines[0]
    assert "nosuch.key is not a parameter" in lines[1]
    assert "is empty" in lines[2] and "is not a number" in lines[3]
