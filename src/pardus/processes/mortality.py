"""Mortality: all causes of death combined as competing risks, deaths marked with their cause.

For each animal the annual probabilities p_k of the hazards are turned into cause-specific
hazard rates λ_k = −ln(1 − p_k). The animal survives the year with probability
Π_k (1 − p_k) = exp(−Σλ_k); if it dies, the cause is k with probability λ_k / Σλ. This is
the continuous-time independent-risks model, so a cause's share of deaths does not depend on the
order in which the processes are listed.
"""

from __future__ import annotations

import numpy as np

from ..population.table import ALIVE
from .base import CAUSE_INDEX, Field, Hazard, Process, State


def competing_risks(p: np.ndarray, u_death: np.ndarray, u_cause: np.ndarray) -> np.ndarray:
    """Column index of the cause of death per row, or -1 for survivors.

    ``p`` is (rows, causes) of annual probabilities.
    """
    with np.errstate(divide="ignore"):
        lam = -np.log1p(-np.clip(p, 0.0, 1.0))
    total = lam.sum(axis=1)
    dies = u_death < -np.expm1(-total)
    out = np.full(p.shape[0], -1, dtype=np.int64)
    if dies.any():
        idx = np.flatnonzero(dies)
        lam_d = lam[idx]
        tot = total[idx]
        cum = np.cumsum(np.where(np.isinf(lam_d), 1.0, lam_d), axis=1)
        cum_total = np.where(np.isinf(tot), cum[:, -1], tot)
        target = u_cause[idx] * cum_total
        out[idx] = np.minimum((cum <= target[:, None]).sum(axis=1), p.shape[1] - 1)
    return out


class Mortality(Process):
    """Marks deaths among the living animals of the chosen cohort.

    ``cohort = "independent"`` runs before reproduction over every animal alive at that point;
    ``cohort = "newborn"`` runs after reproduction over this year's cubs (their first-year
    survival), so every animal meets the year's risks exactly once.
    """

    writes = (Field("cause", "individual"),)

    def __init__(self, hazards: list[Hazard], cohort: str):
        self.hazards = hazards
        self.cohort = cohort
        self.name = f"mortality_{cohort}"
        self.columns = np.array([CAUSE_INDEX[h.cause] for h in hazards], dtype=np.int64)
        self.reads = tuple({f for h in hazards for f in h.reads}) + (Field("age", "individual", "years"),)

    def step(self, state: State, rng: np.random.Generator) -> None:
        pop = state.pop
        n = pop.n
        alive = pop.cause[:n] == ALIVE
        if self.cohort == "newborn":
            alive &= pop.age[:n] == 0
        rows = np.flatnonzero(alive)
        # two uniforms per row, always drawn, so that a change in one hazard does not shift
        # the random numbers of other animals (common random numbers between scenarios)
        u = rng.random((rows.size, 2))
        if rows.size == 0:
            return
        p = np.empty((rows.size, len(self.hazards)))
        for j, h in enumerate(self.hazards):
            p[:, j] = h.probability(state, rows)
        which = competing_risks(p, u[:, 0], u[:, 1])
        dead = which >= 0
        pop.cause[rows[dead]] = self.columns[which[dead]]
