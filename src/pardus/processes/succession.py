"""Succession and habitat loss on the map (MODEL.md §4.1, §4.3): state transitions of ``cover``.

**Succession** (after fire, step 3 of the spatial schedule). Per cell, with ``cover_age`` the
years since the cell's cover last changed or it last burned, and ``fire_interval`` the years
between this year's fire and the one before it:

* burned ``mixed_forest`` → ``oak_forest`` with probability ``pine_killed`` (a fire severe enough
  to kill the Korean pine; oak resprouts);
* burned ``oak_forest`` → ``shrubland`` with probability ``oak_to_shrub`` when it burned again
  within ``oak_reburn`` years;
* burned ``shrubland`` → ``grassland`` with probability ``shrub_to_grass`` when it burned again
  within ``shrub_reburn`` years;
* unburned ``grassland`` → ``shrubland`` after ``grass_to_shrub`` years;
* unburned ``shrubland`` → ``oak_forest`` after ``shrub_to_oak`` years;
* unburned ``oak_forest`` → ``mixed_forest`` after ``oak_to_mixed`` years if mixed forest (a
  pine seed source) lies within ``seed_distance`` cells.

So repeated fire turns forest into shrub and grassland, which the leopards avoid, and forest
comes back only over decades without fire.

**Habitat loss** (rate-based, MODEL.md §4.1): each year an unprotected forest cell is logged
with probability ``logging_rate`` (``mixed_forest`` → ``oak_forest``, ``oak_forest`` →
``shrubland``), and a forest or shrub cell next to farmland is cleared for farming with
probability ``clearing_rate``. Cells of a protected zone (``zone`` ≥ ``protected_from_zone``, or
``no_conversion`` set by a protected-area intervention,
i.e. buffer and core by default) are not converted. One uniform per cell and year, always, from
the replicate's stream.

The τ values and rates are assumptions with ranges (docs/model.md); the defaults follow MODEL.md
§4.3 (grassland recovers in about 10 years, shrub becomes oak forest in 20–30, oak becomes
pine–broadleaf forest in 60–100).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..landscape.layers import LAYERS
from ..rng import as_streams, uniform
from .base import Field, Process, State

_C = {name: code for code, name in LAYERS["cover"].codes.items()}
MIXED, OAK, SHRUB, GRASS, FARM = _C["mixed_forest"], _C["oak_forest"], _C["shrubland"], _C["grassland"], _C["agriculture"]


@dataclass(frozen=True)
class SuccessionParams:
    #: where each default comes from (shown by ``pardus explain``; a test checks every field has one)
    SOURCES: ClassVar[dict[str, str]] = {
        "oak_reburn": "assumption (range 5–20 years): a reburn this soon after a fire can turn oak forest to shrub",
        "shrub_reburn": "assumption (range 3–10 years): a reburn this soon can turn shrub to grassland",
        "pine_killed": "assumption (range 0.05–0.5): the share of burns of mixed forest that kill its Korean pine (most fires in these forests are surface fires)",
        "oak_to_shrub": "assumption (range 0.02–0.4): the share of reburns within oak_reburn that turn oak forest to shrub",
        "shrub_to_grass": "assumption (range 0.05–0.5): the share of reburns within shrub_reburn that turn shrub to grassland",
        "grass_to_shrub": "assumption (range 5–15 years): unburned grassland grows back to shrub",
        "shrub_to_oak": "assumption (range 20–30 years): unburned shrub grows back to oak forest",
        "oak_to_mixed": "assumption (range 60–100 years): oak forest returns to mixed Korean pine–broadleaf forest when a pine seed source is within seed_distance",
        "seed_distance": "assumption (range 1–5 km): Korean pine seeds are cached by nutcrackers and jays near their source",
        "logging_rate": "assumption: 0, logging off unless a scenario sets it (range 0–0.02 a year per unprotected forest cell)",
        "clearing_rate": "assumption: 0, clearing for farmland off unless a scenario sets it (range 0–0.02 a year per cell next to farmland)",
        "protected_from_zone": "assumption (range 1–2): the buffer (1) and core (2) zones of the national park are protected from conversion",
    }

    oak_reburn: int = 10  # assumption, range 5–20 years
    shrub_reburn: int = 5  # assumption, range 3–10 years
    # how often a fire does it (fire severity): most fires in these forests are surface fires
    pine_killed: float = 0.1  # assumption, range 0.05–0.5: a burn of mixed forest kills the Korean pine
    oak_to_shrub: float = 0.05  # assumption, range 0.02–0.4: a reburn within oak_reburn turns oak forest to shrub
    shrub_to_grass: float = 0.1  # assumption, range 0.05–0.5: a reburn within shrub_reburn turns shrub to grassland
    grass_to_shrub: int = 10  # MODEL.md §4.3: grassland recovery ~10 years (range 5–15)
    shrub_to_oak: int = 25  # MODEL.md §4.3: shrub → oak ~20–30 years
    oak_to_mixed: int = 80  # MODEL.md §4.3: oak → mixed ~60–100 years
    seed_distance: int = 3  # cells; assumption (range 1–5 km): Korean pine seeds are cached by nutcrackers and jays
    logging_rate: float = 0.0  # per year and unprotected forest cell; off by default (a scenario sets it)
    clearing_rate: float = 0.0  # per year and forest or shrub cell next to farmland; off by default
    protected_from_zone: int = 1  # zone codes ≥ this are protected from conversion (1 buffer, 2 core)

    def __post_init__(self) -> None:
        for name in ("oak_reburn", "shrub_reburn", "grass_to_shrub", "shrub_to_oak", "oak_to_mixed"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least one year")
        for name in ("logging_rate", "clearing_rate", "pine_killed", "oak_to_shrub", "shrub_to_grass"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability (0–1)")


@njit(cache=True)
def succession_step(s, n_reps, n_cells, cover, cover_age, burned, fire_interval, zone, neighbours, seed_near,
                    oak_reburn, shrub_reburn, grass_to_shrub, shrub_to_oak, oak_to_mixed, logging_rate, clearing_rate, protected_from,
                    pine_killed, oak_to_shrub, shrub_to_grass):  # fmt: skip
    """One year of transitions of every replicate (replicate r owns cells r·n_cells …); cover and
    cover_age change in place. ``seed_near`` says whether mixed forest lies within the seed
    distance of each cell (before this year's changes)."""
    n_nb = neighbours.shape[1]
    before = cover.copy()  # neighbours are read as they were at the start of the year
    for r in range(n_reps):
        base = r * n_cells
        for c in range(n_cells):
            i = base + c
            u = uniform(s, r)  # one per cell, always
            old = cover[i]
            new = old
            if burned[i]:
                if old == MIXED and u < pine_killed:
                    new = OAK
                elif old == OAK and fire_interval[i] <= oak_reburn and u < oak_to_shrub:
                    new = SHRUB
                elif old == SHRUB and fire_interval[i] <= shrub_reburn and u < shrub_to_grass:
                    new = GRASS
            else:
                age = cover_age[i] + 1
                if old == GRASS and age >= grass_to_shrub:
                    new = SHRUB
                elif old == SHRUB and age >= shrub_to_oak:
                    new = OAK
                elif old == OAK and age >= oak_to_mixed and seed_near[i]:
                    new = MIXED
                if new == old and zone[i] < protected_from and (old == MIXED or old == OAK or old == SHRUB):
                    if (old == MIXED or old == OAK) and u < logging_rate:
                        new = OAK if old == MIXED else SHRUB
                    elif u >= logging_rate and u < logging_rate + clearing_rate:
                        for j in range(n_nb):
                            nb = neighbours[c, j]
                            if nb >= 0 and before[base + nb] == FARM:
                                new = FARM
                                break
            if new != old or burned[i]:
                cover_age[i] = 0
            else:
                cover_age[i] += 1
            cover[i] = new
    return cover


def seed_sources(cover: np.ndarray, shape: tuple[int, int], n_reps: int, distance: int) -> np.ndarray:
    """Per cell of the batch: mixed forest within ``distance`` cells (a square window)."""
    from scipy import ndimage

    mixed = (cover == MIXED).reshape(n_reps, *shape)
    size = 2 * distance + 1
    return ndimage.maximum_filter(mixed, size=(1, size, size), mode="constant", cval=False).ravel()


class Succession(Process):
    """Succession after fire and rate-based habitat loss (step 3 of the spatial schedule)."""

    name = "succession"
    Params = SuccessionParams
    reads = (
        Field("cover", "cell"),
        Field("cover_age", "cell", "years"),
        Field("burned", "cell"),
        Field("fire_interval", "cell", "years"),
        Field("zone", "cell"),
        Field("no_conversion", "cell"),
    )
    writes = (Field("cover", "cell"), Field("cover_age", "cell", "years"))

    def __init__(self, params: SuccessionParams, grid):
        self.p = params
        self.grid = grid
        self.neighbours = np.asarray(grid.neighbour_table, dtype=np.int64)

    def step(self, state: State, rng) -> None:
        p, L = self.p, state.layers
        streams = as_streams(rng, state.n_reps)
        n = self.grid.n_cells
        cover = L["cover"].astype(np.int8)
        near = seed_sources(cover, self.grid.shape, state.n_reps, p.seed_distance)
        age = L["cover_age"].astype(np.int32)
        # a protected area upgraded by an intervention is protected as the park's zones are
        zone = np.where(L["no_conversion"], np.int8(127), L["zone"].astype(np.int8)).astype(np.int8)
        succession_step(
            streams.s, state.n_reps, n, cover, age, L["burned"].astype(np.bool_), L["fire_interval"].astype(np.int32), zone,
            self.neighbours, near, p.oak_reburn, p.shrub_reburn, p.grass_to_shrub, p.shrub_to_oak, p.oak_to_mixed, p.logging_rate,
            p.clearing_rate, p.protected_from_zone, p.pine_killed, p.oak_to_shrub, p.shrub_to_grass,
        )  # fmt: skip
        L["cover"] = cover
        L["cover_age"] = age
