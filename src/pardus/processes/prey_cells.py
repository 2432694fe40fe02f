"""Prey per cell (MODEL.md §4.4), the spatial form of :mod:`pardus.processes.prey`.

Every cell's ungulate density P (roe-deer equivalents per km²) follows logistic growth toward
the capacity of its cover, with the replicate's yearly deviate (mast years and winters are
regional), minus human offtake, minus what the leopards eat, plus supplemental feeding::

    K_c   = capacity(cover_c) × prey_capacity_factor_c       (the factor 1 unless prey recovery raises it)
    P_c' = max(0, P_c + r·P_c·(1 − P_c/K_c)·exp(σ·z − σ²/2)
                      − offtake · A_c · (1 − e_max·E_c/(E_c + E½)) · (1 − ban_c) · P_c
                      − kills · D_c / area_c + feeding_c)

with A human access, E patrol effort, ban the hunting-ban share. D_c is the leopards' demand on
the cell in adult-female equivalents (``need`` by sex and stage): an animal with a home range
spreads its need over the range's cells in proportion to use weight × prey stock (it hunts
where the prey is, so that no cell of a range is emptied while others are full), one without
eats where it is.
Cells without capacity (water, settlements) hold no prey. Before the step, prey moves between
neighbouring cells of habitat: each cell moves ``movement`` of the way to its habitat
neighbours' mean (0.1, an assumption: ungulates range over a few km²), so a cell the leopards
or hunters emptied is recolonised from around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit
from scipy.special import ndtri

from ..landscape.default import PREY_CAPACITY
from ..landscape.layers import COVER_CODES
from ..rng import as_streams
from .base import Field, Process, State


@dataclass(frozen=True)
class CellPreyParams:
    #: where each default not taken from the scenario comes from (shown by ``pardus explain``)
    SOURCES: ClassVar[dict[str, str]] = {
        "capacity_by_cover": "assumption (roe-deer equivalents per km²; ranges: mixed forest 15 (10–20), oak forest 18 (12–24), shrubland 8 (4–12), grassland 3 (1–6), farmland 1 (0–3), none in water, settlements and mines): the mast of Korean pine and Mongolian oak feeds the ungulates",
        "movement": "assumption (range 0–0.3): the share of the difference to the neighbouring cells' mean that moves in a year; ungulates range over a few km²",
    }

    growth_rate: float = 0.40  # assumption (range 0.2–0.6), as amur-2015's prey.growth_rate
    growth_sd: float = 0.15  # assumption (range 0–0.3)
    offtake: float = 0.15  # assumption (range 0.05–0.3): illegal hunting at full access
    kills_per_leopard: float = 55.0  # assumption (range 40–70) per adult female and year (MODEL.md §4.4)
    need: tuple[tuple[float, float, float], tuple[float, float, float]] = ((0.0, 0.8, 1.0), (0.0, 0.9, 1.25))  # as amur-2015's prey.need
    patrol_max_effect: float = 0.5  # assumption (range 0.3–0.8) on human offtake
    patrol_half_effort: float = 1.0  # patrol-days per km² per year giving half the effect (assumption)
    capacity_by_cover: tuple[float, ...] = tuple(PREY_CAPACITY[COVER_CODES[k]] for k in sorted(COVER_CODES))
    adult_age: int = 3
    movement: float = 0.1  # share of the difference to the neighbouring cells' mean that moves in a year (assumption, range 0–0.3: ungulates range over a few km²)

    def __post_init__(self) -> None:
        if len(self.capacity_by_cover) != len(COVER_CODES):
            raise ValueError(f"capacity_by_cover needs one value per cover class ({len(COVER_CODES)})")
        if self.growth_rate < 0 or self.growth_sd < 0 or not 0 <= self.offtake <= 1 or self.kills_per_leopard < 0:
            raise ValueError("growth_rate, growth_sd and kills_per_leopard are non-negative and offtake lies in 0–1")
        if not 0.0 <= self.movement <= 1.0:
            raise ValueError("movement is a share (0–1)")


@njit(cache=True)
def leopard_demand(n, cause, age, sex, cell, range_id, need, adult_age, start, cells, weight, prey, area, out):
    """Demand of the living animals aged ≥ 1 on every cell (adult-female equivalents): over the
    cells of an animal's range in proportion to use weight × prey stock there (a leopard hunts
    where the prey is: it does not empty one cell while its neighbours are full; equal use where
    the range holds no prey), else at its cell."""
    for i in range(n):
        if cause[i] != -1 or age[i] < 1:
            continue
        v = need[sex[i], 2 if age[i] >= adult_age else 1]
        if v == 0.0:
            continue
        r = range_id[i]
        if r < 0:
            out[cell[i]] += v
        else:
            tot = 0.0
            for j in range(start[r], start[r + 1]):
                tot += weight[j] * prey[cells[j]] * area[cells[j]]
            if tot > 0.0:
                for j in range(start[r], start[r + 1]):
                    out[cells[j]] += v * weight[j] * prey[cells[j]] * area[cells[j]] / tot
            else:
                for j in range(start[r], start[r + 1]):
                    out[cells[j]] += v * weight[j]
    return out


@njit(cache=True)
def prey_movement(P, K, neighbours, n_reps, C, m):
    """Prey moving between neighbouring cells of habitat (K > 0): each moves ``m`` of the way
    to the mean of its habitat neighbours (read as the year began), so an emptied cell is
    recolonised from around it."""
    out = P.copy()
    n_nb = neighbours.shape[1]
    for r in range(n_reps):
        base = r * C
        for c in range(C):
            if K[base + c] <= 0.0:
                continue
            tot = 0.0
            k = 0
            for j in range(n_nb):
                nb = neighbours[c, j]
                if nb >= 0 and K[base + nb] > 0.0:
                    tot += P[base + nb]
                    k += 1
            if k > 0:
                out[base + c] = P[base + c] + m * (tot / k - P[base + c])
    return out


@njit(cache=True)
def prey_cells_step(P, K, access, effort, ban, feeding, area, noise_by_cell, demand, r, sd, offtake, kills, max_effect, half):
    out = np.empty(P.shape[0])
    for c in range(P.shape[0]):
        if K[c] <= 0.0:
            out[c] = 0.0
            continue
        growth = r * P[c] * (1.0 - P[c] / K[c]) * np.exp(sd * noise_by_cell[c] - 0.5 * sd * sd)
        hunted = offtake * access[c] * (1.0 - max_effect * effort[c] / (effort[c] + half)) * (1.0 - ban[c]) * P[c]
        eaten = kills * demand[c] / area[c]
        out[c] = max(P[c] + growth - hunted - eaten + feeding[c], 0.0)
    return out


class CellPrey(Process):
    name = "prey"
    Params = CellPreyParams
    reads = (
        Field("cover", "cell"),
        Field("prey_capacity_factor", "cell"),
        Field("human_access", "cell"),
        Field("patrol_effort", "cell", "patrol-days/km²/yr"),
        Field("hunting_ban", "cell"),
        Field("feeding", "cell", "roe-deer eq./km²/yr"),
        Field("area_km2", "cell", "km²"),
        Field("cell", "individual"),
        Field("age", "individual", "years"),
        Field("sex", "individual"),
        Field("range_id", "individual"),
    )
    # prey_capacity: this year's K of every cell (for the processes that compare prey with it)
    writes = (Field("prey", "cell", "roe-deer eq./km²"), Field("prey_capacity", "cell", "roe-deer eq./km²"))

    def __init__(self, params: CellPreyParams, cells_per_rep: int, neighbours: np.ndarray | None = None):
        self.p = params
        self.cells_per_rep = cells_per_rep
        self.neighbours = None if neighbours is None else np.asarray(neighbours, dtype=np.int64)  # None: prey does not move
        self._cap = np.asarray(params.capacity_by_cover, dtype=float)
        self._need = np.asarray(params.need, dtype=float)

    def capacity(self, layers: dict) -> np.ndarray:
        """K per cell: the capacity of its cover × its ``prey_capacity_factor`` (1: as the cover
        says; prey recovery raises it). It follows the cover as fire and succession change it."""
        return self._cap[layers["cover"].astype(np.int64)] * layers["prey_capacity_factor"]

    def step(self, state: State, rng) -> None:
        p, L = self.p, state.layers
        z = ndtri(as_streams(rng, state.n_reps).per_replicate(1)[:, 0])  # one deviate per replicate and year
        noise = np.repeat(z, self.cells_per_rep)
        demand = np.zeros(state.n_cells)
        pop = state.pop
        if pop is not None and pop.n:
            t = state.ranges
            start, cells, weight = (t.start, t.cells, t.weight) if t is not None else (np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0))
            leopard_demand(pop.n, pop.cause, pop.age, pop.sex, pop.cell, pop.range_id, self._need, p.adult_age, start, cells, weight, L["prey"], L["area_km2"], demand)
        K = self.capacity(L)
        L["prey_capacity"] = K
        P = L["prey"]
        if self.neighbours is not None and p.movement > 0:
            P = prey_movement(np.asarray(P, dtype=np.float64), K, self.neighbours, state.n_reps, self.cells_per_rep, p.movement)
        L["prey"] = prey_cells_step(
            P, K, L["human_access"], L["patrol_effort"], L["hunting_ban"], L["feeding"], L["area_km2"], noise, demand,
            p.growth_rate, p.growth_sd, p.offtake, p.kills_per_leopard, p.patrol_max_effect, p.patrol_half_effort,
        )  # fmt: skip
