"""Fire (MODEL.md §4.2): human-weighted ignitions and stochastic spread by cover.

Each year has seasons (spring and autumn, the two fire seasons of southwest Primorye). In each
season the number of ignitions in a replicate is Poisson with expectation
``ignitions_per_weight × Σ_cells w``, cell weight ``w = flammability(cover) × (a + b·human_access)``,
and each ignition falls on a cell drawn in proportion to ``w``. A fire spreads as a stochastic
cellular automaton: every burning cell tries each neighbour that has not burned this year
once, with probability

    p_spread(cover of the neighbour) × season_spread × (1 − firebreak of the cell) × (1 − firebreak of the neighbour)

over 4 or 8 neighbours (the grid's). With 4 neighbours and one uniform ``p`` this is bond
percolation on the square lattice (critical p = 1/2); on a random fuel map of density q with
p = 1 it is site percolation (q_c = 0.592746 with 4 neighbours, 0.407254 with 8). Under 8
neighbours a firebreak one cell wide drawn diagonally leaks: fire passes between two of its
cells that touch only at a corner (use 4 neighbours, or draw breaks two cells wide).

An ignition that falls on a firebreak cell takes with probability ``1 − firebreak`` (one extra
uniform, drawn only where a firebreak is).

**Suppression.** In cells where ``suppression`` is set (e.g. the national-park core with its
fire brigades), a fire burns at most a number of such cells drawn when it first reaches one:
geometric with mean ``suppressed_mean_size`` cells.

A cell burns at most once a year. Burned cells get ``years_since_fire`` 0, the others one year
more. The draws per replicate come from the fire stream of that replicate, in a fixed order
(season by season: the count, then per ignition its cell, then the spread uniforms in the order
cells are tried), so a replicate's fires do not depend on the batch it runs in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit

from ..landscape.layers import COVER_CODES
from ..rng import as_streams, uniform
from .base import Field, Process, State

N_COVER = len(COVER_CODES)


def _by_cover(values: dict[str, float]) -> tuple[float, ...]:
    unknown = set(values) - set(COVER_CODES.values())
    if unknown:
        raise ValueError(f"unknown cover class(es) {sorted(unknown)}; the classes are {', '.join(COVER_CODES.values())}")
    return tuple(float(values.get(COVER_CODES[k], 0.0)) for k in sorted(COVER_CODES))


# Defaults: assumptions (ranges in docs/model.md), chosen so that the default landscape burns
# about as the record says (about 19 % of southwest Primorye a year, about 7 % in the reserve)
DEFAULT_FLAMMABILITY = {"grassland": 1.0, "shrubland": 0.8, "oak_forest": 0.45, "mixed_forest": 0.25}
DEFAULT_SPREAD = {"grassland": 0.32, "shrubland": 0.29, "oak_forest": 0.25, "mixed_forest": 0.15}


@dataclass(frozen=True)
class FireParams:
    """Parameters of the fire process (per cover class in ``COVER_CODES`` order)."""

    #: where each default comes from (shown by ``pardus explain``; a test checks every field has one)
    SOURCES: ClassVar[dict[str, str]] = {
        "flammability": "assumption (range 0–1 per cover class; grassland 1, shrubland 0.8, oak forest 0.45, mixed forest 0.25): dry grass carries the spring and autumn fires, closed Korean pine forest least; set with p_spread and ignitions_per_weight so that the default landscape burns about 19 % of its land a year, the share of south-west Primorye burned a year in the ALTA/WCS 2004 satellite analysis of fires (ALTA, altaconservation.org)",
        "p_spread": "assumption (range 0.1–0.4 per cover class, below the bond-percolation threshold of 1/2 on the grid): set with flammability so that the default landscape burns about 19 % a year (ALTA/WCS 2004 satellite analysis, altaconservation.org)",
        "access_a": "assumption (range 0–0.2): ignitions without people; lightning fires are rare in the spring and autumn fire seasons of Primorye",
        "access_b": "assumption (range 0.5–2): ignitions added per unit of human access (careless fires and grass burning near villages and roads)",
        "ignitions_per_weight": "assumption (range 0.02–0.1): set so that the default landscape burns about 19 % of its land a year (ALTA/WCS 2004 satellite analysis, altaconservation.org); `pardus landscape fire` prints what it gives",
        "seasons": "assumption (spring share 0.6–0.8, autumn spread factor 0.5–1): most fires burn in spring after snowmelt and before green-up, fewer in autumn",
        "suppressed_mean_size": "assumption (range 5–50 cells): fires fought by the park's fire brigades stay small; set so that the park core burns about 7 % a year, the share of the Kedrovaya Pad reserve in the ALTA/WCS 2004 satellite analysis (altaconservation.org)",
    }

    flammability: tuple[float, ...] = field(default_factory=lambda: _by_cover(DEFAULT_FLAMMABILITY))
    p_spread: tuple[float, ...] = field(default_factory=lambda: _by_cover(DEFAULT_SPREAD))
    access_a: float = 0.05  # ignition weight without people (lightning is rare in spring and autumn)
    access_b: float = 1.0  # added by human access (grass burning, careless fires)
    ignitions_per_weight: float = 0.05  # per unit weight per year, both seasons together
    seasons: tuple[tuple[float, float], ...] = ((0.7, 1.0), (0.3, 0.8))  # (share of ignitions, spread factor): spring, autumn
    suppressed_mean_size: float = 16.0  # cells a fire burns in suppressed cells, mean of a geometric size

    def __post_init__(self) -> None:
        if len(self.flammability) != N_COVER or len(self.p_spread) != N_COVER:
            raise ValueError(f"flammability and p_spread need one value per cover class ({N_COVER})")
        if any(not 0.0 <= p <= 1.0 for p in self.p_spread) or any(f < 0 for f in self.flammability):
            raise ValueError("p_spread must lie in 0–1 and flammability be non-negative")
        if abs(sum(s for s, _ in self.seasons) - 1.0) > 1e-9:
            raise ValueError("the seasons' shares of ignitions must add up to 1")
        if self.suppressed_mean_size < 1.0:
            raise ValueError("suppressed_mean_size is at least one cell")

    @classmethod
    def with_cover(cls, flammability: dict | None = None, p_spread: dict | None = None, **kw) -> "FireParams":
        """Parameters from per-cover dicts (cover name → value; classes not named are 0)."""
        return cls(
            flammability=_by_cover(flammability if flammability is not None else DEFAULT_FLAMMABILITY),
            p_spread=_by_cover(p_spread if p_spread is not None else DEFAULT_SPREAD),
            **kw,
        )


@njit(cache=True)
def _poisson(s, r, lam):
    """A Poisson draw by inversion from the stream of replicate r (split for large means)."""
    total = 0
    while lam > 0.0:
        part = min(lam, 200.0)
        lam -= part
        u = uniform(s, r)
        k = 0
        p = math.exp(-part)
        c = p
        while u > c and k < 100000:
            k += 1
            p *= part / k
            c += p
        total += k
    return total


@njit(cache=True)
def _suppressed_size(s, r, p_geo):
    """A geometric size ≥ 1 with mean 1/p_geo."""
    k = 1
    while uniform(s, r) >= p_geo:
        k += 1
    return k


@njit(cache=True, inline="always")
def _may_burn(s, r, is_suppressed, cap, p_geo):
    """Whether the fire may take a cell it reached: always outside suppression; inside, while
    its suppressed size (drawn when it first gets there, ``cap[0]``) is not used up."""
    if not is_suppressed:
        return True
    if cap[0] < 0:
        cap[0] = _suppressed_size(s, r, p_geo)
    if cap[0] == 0:
        return False
    cap[0] -= 1
    return True


@njit(cache=True)
def burn_from(s, r, base, starts, cover, firebreak, suppressed, neighbours, p_spread, season_spread, p_geo, burned, queue):
    """One fire of replicate r (cells base … base + n − 1) from the start cells (local numbers,
    all burning at once; those that burned already this year are left out): spreads as the
    module docstring says. Returns the number of cells it burned."""
    n_nb = neighbours.shape[1]
    cap = np.full(1, -1, dtype=np.int64)  # cells of suppression this fire may still burn (−1: not met yet)
    head, tail = 0, 0
    for c in starts:
        fb = firebreak[base + c]
        if fb > 0.0 and uniform(s, r) < fb:  # an ignition on a firebreak does not take (a cleared strip)
            continue
        if not burned[base + c] and _may_burn(s, r, suppressed[base + c], cap, p_geo):
            burned[base + c] = True
            queue[tail] = c
            tail += 1
    while head < tail:
        c = queue[head]
        head += 1
        fb_c = firebreak[base + c]
        for j in range(n_nb):
            nb = neighbours[c, j]
            if nb < 0 or burned[base + nb]:
                continue
            p = p_spread[cover[base + nb]] * season_spread * (1.0 - fb_c) * (1.0 - firebreak[base + nb])
            if p > 0.0 and uniform(s, r) < p and _may_burn(s, r, suppressed[base + nb], cap, p_geo):
                burned[base + nb] = True
                queue[tail] = nb
                tail += 1
    return tail


@njit(cache=True)
def spread_fires(s, n_reps, n_cells, cover, access, firebreak, suppressed, neighbours, flammability, p_spread, a, b,
                 per_weight, season_share, season_spread, mean_suppressed, burned, ignitions_out, fires_out):  # fmt: skip
    """One fire year of every replicate of a batch: replicate r owns cells r·n_cells … .
    ``burned`` (bool, all cells) is set for the cells that burn; ``ignitions_out[r]`` counts
    ignitions, ``fires_out[r]`` fires that burned at least one cell. Returns burned."""
    queue = np.empty(n_cells, dtype=np.int64)
    cum = np.empty(n_cells)
    start = np.empty(1, dtype=np.int64)
    p_geo = 1.0 / mean_suppressed
    for r in range(n_reps):
        base = r * n_cells
        tot = 0.0
        for c in range(n_cells):
            w = flammability[cover[base + c]] * (a + b * access[base + c])
            tot += w
            cum[c] = tot
        for season in range(season_share.shape[0]):
            lam = per_weight * season_share[season] * tot
            k = _poisson(s, r, lam) if lam > 0.0 else 0
            ignitions_out[r] += k
            for _ in range(k):
                target = uniform(s, r) * tot
                lo, hi = 0, n_cells - 1
                while lo < hi:  # first cell whose cumulative weight passes the target
                    mid = (lo + hi) // 2
                    if cum[mid] > target:
                        hi = mid
                    else:
                        lo = mid + 1
                start[0] = lo
                if burn_from(s, r, base, start, cover, firebreak, suppressed, neighbours, p_spread, season_spread[season], p_geo, burned, queue) > 0:
                    fires_out[r] += 1
    return burned


class Fire(Process):
    """The fire process of the spatial schedule (step 2)."""

    name = "fire"
    Params = FireParams
    reads = (
        Field("cover", "cell"),
        Field("human_access", "cell"),
        Field("firebreak", "cell"),
        Field("suppression", "cell"),
        Field("years_since_fire", "cell", "years"),
    )
    writes = (
        Field("burned", "cell"),
        Field("fire_interval", "cell", "years"),
        Field("years_since_fire", "cell", "years"),
        Field("ignitions", "year"),
        Field("fires", "year"),
    )

    def __init__(self, params: FireParams, neighbours: np.ndarray):
        self.p = params
        self.neighbours = np.asarray(neighbours, dtype=np.int64)
        self._flam = np.asarray(params.flammability)
        self._spread = np.asarray(params.p_spread)
        self._share = np.array([s for s, _ in params.seasons])
        self._factor = np.array([f for _, f in params.seasons])

    def step(self, state: State, rng) -> None:
        streams = as_streams(rng, state.n_reps)
        L = state.layers
        n = self.neighbours.shape[0]
        burned = np.zeros(state.n_cells, dtype=np.bool_)
        ign = np.zeros(state.n_reps, dtype=np.int64)
        fires = np.zeros(state.n_reps, dtype=np.int64)
        spread_fires(
            streams.s, state.n_reps, n, L["cover"].astype(np.int64), L["human_access"], L["firebreak"], np.asarray(L["suppression"], dtype=np.bool_), self.neighbours,
            self._flam, self._spread, self.p.access_a, self.p.access_b, self.p.ignitions_per_weight, self._share, self._factor,
            self.p.suppressed_mean_size, burned, ign, fires,
        )  # fmt: skip
        L["burned"] = burned
        L["fire_interval"] = np.where(burned, L["years_since_fire"] + 1, 0).astype(np.int32)
        L["years_since_fire"] = np.where(burned, 0, L["years_since_fire"] + 1).astype(L["years_since_fire"].dtype)
        state.fields["ignitions"] = ign
        state.fields["fires"] = fires


def simulate_fire(land, params: FireParams | None = None, years: int = 50, replicates: int = 8, seed: int = 1, suppression_zone: str | None = "core", succession=None,
                  firebreak: np.ndarray | None = None):  # fmt: skip
    """The fire regime of a landscape: per (replicate, year) the share of land (non-water) cells
    that burned, region-wide and in the ``suppression_zone`` (also where fires are suppressed;
    None: no suppression), the number of fires, and per (replicate, year, cover class) the share
    of the land in each cover class at the year's end. With ``succession`` (a
    :class:`pardus.processes.succession.SuccessionParams`) the cover changes after each year's
    fires (MODEL.md §4.3); without, it is held fixed — for calibrating the fire parameters.
    Returns a dict of arrays, with the per-cell burn count (replicates, cells)."""
    from ..engine import process_seed, replicate_seed
    from ..landscape.layers import LAYERS
    from ..rng import Streams
    from .succession import Succession

    params = params or FireParams()
    grid = land.grid
    n = grid.n_cells
    cover0 = land.layers["cover"].astype(np.int64)
    land_cells = cover0 != LAYERS["cover"].code("water")
    zone = None
    if suppression_zone is not None:
        zone = land.layers["zone"] == LAYERS["zone"].code(suppression_zone)
    schedule = [Fire(params, grid.neighbour_table)]
    if succession is not None:
        schedule.append(Succession(succession, grid))
    names = ["cover", "human_access", "firebreak", "years_since_fire", "zone", "cover_age"]
    layers = {k: np.tile(land.layers[k], replicates) for k in names if k in land.layers}
    if firebreak is not None:  # a firebreak (share of spread stopped per cell) laid over the landscape's own
        layers["firebreak"] = np.tile(np.maximum(land.layers["firebreak"], np.asarray(firebreak, dtype=float)), replicates)
    layers["suppression"] = np.tile(np.zeros(n, dtype=bool) if zone is None else zone, replicates)
    layers["no_conversion"] = np.zeros(n * replicates, dtype=bool)
    layers.setdefault("cover_age", np.tile(land.layers["years_since_fire"], replicates).astype(np.int32))
    state = State(year=0, t=0, pop=None, layers=layers, tally={}, is_lethal=np.zeros(1, bool), n_reps=replicates)
    streams = {p.name: Streams.from_seeds([process_seed(replicate_seed(seed, r), p.name) for r in range(replicates)]) for p in schedule}
    n_cover = len(LAYERS["cover"].codes)
    share = np.zeros((replicates, years))
    share_zone = np.zeros((replicates, years))
    fires = np.zeros((replicates, years), dtype=np.int64)
    cover_share = np.zeros((replicates, years, n_cover))
    count = np.zeros((replicates, n), dtype=np.int64)
    for t in range(years):
        for proc in schedule:
            proc.step(state, streams[proc.name])
        b = state.layers["burned"].reshape(replicates, n)
        count += b
        share[:, t] = b[:, land_cells].mean(axis=1)
        if zone is not None and zone.any():
            share_zone[:, t] = b[:, zone].mean(axis=1)
        fires[:, t] = state.fields["fires"]
        cov = state.layers["cover"].reshape(replicates, n)[:, land_cells]
        for k in range(n_cover):
            cover_share[:, t, k] = (cov == k).mean(axis=1)
    return {"burned_share": share, "burned_share_zone": share_zone, "fires": fires, "burn_count": count, "cover_share": cover_share}
