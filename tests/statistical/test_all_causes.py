"""`survival.basis = "all_causes"` means all causes (issue #7, model fix 4).

examples/amur-2015-observed-survival.toml gives adult survival 0.82, the camera-trap estimate
of Vitkalova et al. (2018), as survival from all causes in 2014–15. pardus derives the natural part by dividing out the other
causes under the starting conditions; disease used to be left out, so the simulated adults
survived 0.82 × (1 − expected disease mortality) ≈ 0.811. Here every adult alive at the start
of year 1 (other than those at the maximum age, who die of senescence at the year's end) is
followed through the year, with dispersal switched off (dispersal deaths are met only by
dispersers and stay on top of the given rate; see docs/model.md §6) and no ceiling: the share
that survives must be 0.82 within Z = 4 standard errors of the mean of the replicates' shares
(the replicates are independent; within one, the year's environment is shared).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import stat_helpers as sh  # noqa: E402

from pardus.engine import Batch, prepare  # noqa: E402
from pardus.population.lifetable import life_table  # noqa: E402
from pardus.population.table import ALIVE  # noqa: E402
from pardus.scenario import load_scenario  # noqa: E402


def _scenario():
    sc = load_scenario(Path(__file__).resolve().parents[2] / "examples" / "amur-2015-observed-survival.toml")
    over = {"run.years": 1, "dispersal.female": 0.0, "dispersal.male": 0.0}
    for name in sc.populations:
        over[f"populations.{name}.carrying_capacity"] = 10**6
    return sc.replace(over)


def test_life_table_survival_is_the_given_all_cause_rate():
    sc = _scenario()
    lt = life_table(sc)
    adult = sc.demography.survival.female.adult
    assert lt.survival_female[-1] == pytest.approx(adult, rel=1e-12)  # disease included in "all causes"


@pytest.mark.slow
def test_simulated_adults_survive_the_given_all_cause_rate():
    sc = _scenario()
    d = sc.demography
    prep = prepare(sc)
    shares = []
    for start in range(0, 2048, 64):
        b = Batch(prep, 77, range(start, start + 64))
        pop = b.pop
        n = pop.n
        followed = (pop.cause[:n] == ALIVE) & (pop.age[:n] >= d.adult_age) & (pop.age[:n] < d.max_age)
        ids, reps = pop.id[:n][followed], pop.rep[:n][followed]
        b.run()
        alive = np.isin(ids, pop.id[: pop.n])
        for r in range(64):
            mine = reps == r
            if mine.any():
                shares.append(alive[mine].mean())
    shares = np.array(shares)
    sh.check_close("adult all-cause survival in year 1 (amur-2015-observed-survival, no dispersal)", shares.mean(), d.survival.female.adult, sh.se_mean(shares))
    # and the test has power: leaving disease out (0.82 × 0.990 in this preset) is > 4 SE off
    assert sh.se_mean(shares) < 0.0085 / 4
