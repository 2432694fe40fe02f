"""Connectivity on a scenario's own landscape: the resistance surface the model's dispersers
walk on, habitat cores named as areas, and the cells a crossing or corridor could go on.

The resistance surface is derived from the map dispersal of the spatial model
(:mod:`pardus.processes.map_dispersal`, MODEL.md §4.7), so a connectivity analysis and a
population run see the same landscape. A disperser steps to neighbour *j* with weight
exp(−ρ_j), where ρ_j is the cell's walk resistance (cover + road class + human access); a step
onto a road cell is refused with probability b (barrier) and ends in death with probability d,
both times (1 − crossing_effect) on a cell with a crossing. The cell's **conductance** for
circuit theory is the chance-weighted step weight

    g_j = exp(−ρ_j) · (1 − b_j) · (1 − d_j),      resistance r_j = 1 / g_j,

and water (which a walk cannot enter) is no cell (NaN). For a walk without persistence this is
the node weight of the reversible random walk the dispersers make (Doyle & Snell 1984: a walk
that goes to neighbour j with probability ∝ g_j is the walk on the network with edge
conductances ∝ g_i·g_j); Circuitscape's cell-based schemes average the two cells' values
instead (``connect_using_avg_resistances``), which keeps the ranking of places but not the
walk's exact currents. Forest cells have r = 1, so resistances are relative to forest.

The layers are those of the scenario's landscape **in a given year**: the landscape as it is
read (cover, roads, access), with the interventions in force that year acting on their areas
(crossings on the road cells of their area, protected areas cutting access, habitat changes),
exactly as the first step of a simulated year (:class:`pardus.spatial.MapManagement`) sets them.
Fire and succession, which change cover during a run, are not simulated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..landscape import Landscape
from ..landscape.layers import ROAD_CODES
from ..landscape.targets import TargetError, area_mask

ROAD_CLASS = {name: code for code, name in ROAD_CODES.items()}


@dataclass
class MapState:
    """A scenario's landscape in one year: ``layers`` over the cells of one replicate."""

    scenario_name: str
    year: int
    landscape: Landscape
    layers: dict[str, np.ndarray]
    dispersal: object  # MapDispersalParams

    @property
    def grid(self):
        return self.landscape.grid

    def as_grid(self, per_cell: np.ndarray) -> np.ndarray:
        """A per-cell array as (rows, cols), row 0 north (the grid's cell order)."""
        return np.asarray(per_cell).reshape(self.grid.shape)


def map_state(scenario, year: int | None = None) -> MapState:
    """The landscape of a scenario with ``[landscape]`` in ``year`` (default: its start year),
    with the interventions in force that year applied as a simulated year applies them."""
    from ..engine import new_tally, prepare
    from ..processes.base import State
    from ..spatial import SpatialBatch

    if scenario.landscape is None:
        raise ValueError(f"scenario '{scenario.name}' has no [landscape]: connectivity on a scenario needs its map (give [landscape] source = \"default\" or a folder)")
    start = scenario.run.start_year
    year = start if year is None else int(year)
    end = start + scenario.run.years
    if not start <= year <= end:
        raise ValueError(f"--year {year}: scenario '{scenario.name}' runs {start}–{end}; give a year in that span")
    b = SpatialBatch(prepare(scenario), 0, [0])
    management = next(p for p in b.schedule if p.name == "management")
    C = b.landscape.n_cells
    state = State(year=year, t=year - start, pop=b.pop, layers=b.layers, tally=new_tally(C, 1), is_lethal=b._lethal, n_reps=1, ranges=b.ranges)
    management.step(state, b.rngs["management"])
    layers = {k: np.asarray(v)[:C].copy() for k, v in b.layers.items()}
    from ..spatial import spatial_params

    return MapState(scenario.name, year, b.landscape, layers, spatial_params(scenario).dispersal)


def conductance(state: MapState) -> np.ndarray:
    """The walk's conductance per cell (see the module docstring); 0 for water."""
    p, L = state.dispersal, state.layers
    cover, road = L["cover"], L["road"].astype(np.int64)
    rho = p.resistance(cover, road, L["human_access"])
    factor = np.where(L["crossing"].astype(bool), 1.0 - p.crossing_effect, 1.0)
    b = np.asarray(p.barrier)[road] * factor
    d = np.asarray(p.road_death)[road] * factor
    with np.errstate(over="ignore"):
        g = np.exp(-rho) * (1.0 - b) * (1.0 - d)
    return np.where(np.isfinite(rho), g, 0.0)


def resistance(state: MapState) -> np.ndarray:
    """Resistance per cell as a (rows, cols) grid: 1 / conductance, NaN where no walk goes
    (water, or a road with barrier or death 1)."""
    g = conductance(state)
    with np.errstate(divide="ignore"):
        r = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), np.nan)
    return state.as_grid(r)


def core_grid(state: MapState, cores: list[str], base: Path | None = None) -> np.ndarray:
    """Habitat cores as an integer grid (rows, cols): 0 outside, core i + 1 on the cells of
    the i-th area of ``cores`` (``LAYER:NAME`` such as ``zone:core`` or ``country:china``,
    ``ring:ZONE:W``, or a GeoJSON/GeoTIFF file; a relative path is taken from ``base``). Cells
    without a walk (water) are left out; two cores may not share a cell."""
    if len(cores) < 2:
        raise TargetError(f"--core: {len(cores)} core(s) given — name at least two habitat cores, e.g. --core zone:core --core country:china")
    g = conductance(state) > 0
    out = np.zeros(state.landscape.n_cells, dtype=np.int32)
    for i, spec in enumerate(cores, start=1):
        where = spec
        if base is not None and spec.lower().endswith((".geojson", ".json", ".tif", ".tiff")) and not Path(spec).is_absolute():
            where = str(base / spec)
        mask = area_mask(state.landscape, where, what=f"--core {spec}") & g
        if not mask.any():
            raise TargetError(f"--core {spec}: no cell of it can be walked (all water or outside the map) — give an area on land")
        clash = mask & (out > 0)
        if clash.any():
            raise TargetError(f"--core {spec}: shares {int(clash.sum())} cell(s) with --core {cores[int(out[clash][0]) - 1]} — cores must not overlap")
        out[mask] = i
    return state.as_grid(out)


def candidate_cells(state: MapState, candidates: str) -> np.ndarray:
    """The cells a crossing or corridor could go on, as a bool (rows, cols) grid: ``roads``
    (every road cell: highway, road, railway), a road class (``highway``, ``road``,
    ``railway``, ``track``), or an area (as for cores)."""
    road = state.layers["road"].astype(np.int64)
    if candidates == "roads":
        mask = (road > 0) & (road != ROAD_CLASS.get("track", -1))
    elif candidates in ROAD_CLASS and ROAD_CLASS[candidates] > 0:
        mask = road == ROAD_CLASS[candidates]
    else:
        try:
            mask = area_mask(state.landscape, candidates, what=f"--candidates {candidates}")
        except TargetError as exc:
            classes = ", ".join(n for n, c in ROAD_CLASS.items() if c > 0)
            raise TargetError(f"{exc} (or give 'roads' or a road class: {classes})") from None
    mask &= conductance(state) > 0
    if not mask.any():
        raise TargetError(f"--candidates {candidates}: no candidate cell on land in this landscape")
    return state.as_grid(mask)
