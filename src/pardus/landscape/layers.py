"""The registry of named cell layers: what each is, its dtype, units and codes (MODEL.md §3).

A process names the layers it reads and writes (:class:`pardus.processes.base.Field`); this
registry says what such a name means, so that a layer given by a user (a scenario value, a
GeoTIFF) is checked once, where it enters, against the same definition the processes use.
Enumerated layers (``cover``, ``road``, ``zone``) store small integer codes with their names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LayerSpec:
    """One named layer: ``dtype`` as numpy spells it, ``units``, what it means, and for an
    enumerated layer its codes (code → name). ``low``/``high`` bound a numeric layer's values
    (inclusive; None: unbounded)."""

    name: str
    dtype: str
    units: str
    description: str
    codes: Mapping[int, str] | None = None
    low: float | None = None
    high: float | None = None
    kind: str = "state"  # "state" (changes during a run), "input" (fixed), "managed" (set by interventions each year)
    spatial_only: bool = False  # a layer of the map, which the non-spatial model does not have

    def code(self, name: str) -> int:
        """The code of an enumerated value, by name."""
        if self.codes is None:
            raise KeyError(f"layer '{self.name}' is not enumerated")
        for k, v in self.codes.items():
            if v == name:
                return int(k)
        raise KeyError(f"layer '{self.name}' has no value '{name}'; its values are {', '.join(self.codes.values())}")


COVER_CODES = {
    0: "water",
    1: "mixed_forest",  # Korean pine–broadleaf
    2: "oak_forest",  # Mongolian oak
    3: "shrubland",
    4: "grassland",
    5: "agriculture",
    6: "settlement",
    7: "mine",
}
ROAD_CODES = {0: "none", 1: "track", 2: "road", 3: "highway", 4: "railway"}
ZONE_CODES = {0: "none", 1: "buffer", 2: "core"}

LAYERS: dict[str, LayerSpec] = {}


def managed_layers(spatial: bool = False) -> tuple[str, ...]:
    """The layers interventions set each year (reset to the landscape's own values first)."""
    return tuple(n for n, s in LAYERS.items() if s.kind == "managed" and (spatial or not s.spatial_only))


def register_layer(spec: LayerSpec) -> LayerSpec:
    """Add a layer definition; a name is defined once."""
    if spec.name in LAYERS and LAYERS[spec.name] != spec:
        raise ValueError(f"layer '{spec.name}' is already defined differently")
    LAYERS[spec.name] = spec
    return spec


for _spec in (
    # the landscape (MODEL.md §3)
    LayerSpec("cover", "int8", "code", "land cover class", COVER_CODES, kind="state", spatial_only=True),
    LayerSpec("years_since_fire", "int32", "years", "years since the cell last burned (succession, fuel)", low=0, kind="state", spatial_only=True),
    LayerSpec("elevation", "float64", "m", "elevation above sea level", kind="input", spatial_only=True),
    LayerSpec("road", "int8", "code", "road class on the cell", ROAD_CODES, kind="input", spatial_only=True),
    LayerSpec("crossing", "bool", "-", "wildlife crossing or tunnel on a road cell", kind="managed", spatial_only=True),
    LayerSpec("no_conversion", "bool", "-", "no logging or clearing in the cell (a protected area upgraded by an intervention)", kind="managed", spatial_only=True),
    LayerSpec("suppression", "bool", "-", "fires are fought in the cell (a fire burns few such cells; default: the park core)", kind="managed", spatial_only=True),
    LayerSpec("deer_farm", "bool", "-", "livestock deer farm on the cell", kind="input", spatial_only=True),
    LayerSpec("zone", "int8", "code", "protection zone", ZONE_CODES, kind="input", spatial_only=True),
    LayerSpec("prey_capacity_factor", "float64", "-", "prey capacity relative to what the cover supports (spatial model; prey recovery raises it)", low=0, kind="managed", spatial_only=True),
    LayerSpec("burned", "bool", "-", "the cell burned this year", kind="state", spatial_only=True),
    LayerSpec("fire_interval", "int32", "years", "years between this year's fire in the cell and the one before (0: it did not burn)", low=0, kind="state", spatial_only=True),
    LayerSpec("cover_age", "int32", "years", "years since the cell's cover last changed or it last burned (succession)", low=0, kind="state", spatial_only=True),
    LayerSpec("firebreak", "float64", "share", "reduction of fire spread into and out of the cell (1 = impassable)", low=0, high=1, kind="managed", spatial_only=True),
    # what the demographic processes read, per cell (non-spatial: one cell per population)
    LayerSpec("carrying_capacity", "float64", "individuals", "ceiling of a non-spatial population (Vortex K)", low=0, kind="managed"),
    LayerSpec("area_km2", "float64", "km²", "area the cell stands for", low=0, kind="input"),
    LayerSpec("prey", "float64", "roe-deer equivalents / km²", "ungulate density", low=0, kind="state"),
    LayerSpec("prey_capacity", "float64", "roe-deer equivalents / km²", "prey carrying capacity", low=0, kind="managed"),
    LayerSpec("human_access", "float64", "share", "human access (settlements, roads)", low=0, high=1, kind="managed"),
    LayerSpec("deer_farm_exposure", "float64", "share", "exposure of leopards to deer farms", low=0, kind="input"),
    LayerSpec("road_exposure", "float64", "share", "exposure of leopards to road traffic", low=0, kind="input"),
    LayerSpec("patrol_effort", "float64", "patrol-days / km² / year", "anti-poaching patrol effort", low=0, kind="managed"),
    LayerSpec("outbreak", "bool", "-", "a disease outbreak in the cell this year", kind="state"),
    # what interventions set each year (MODEL.md §5)
    LayerSpec("hunting_ban", "float64", "share", "share of human prey offtake stopped", low=0, high=1, kind="managed"),
    LayerSpec("feeding", "float64", "roe-deer equivalents / km² / year", "supplemental feeding of prey", low=0, kind="managed"),
    LayerSpec("conflict_mitigation", "float64", "share", "share of conflict killings prevented", low=0, high=1, kind="managed"),
    LayerSpec("vaccination", "float64", "share", "share of leopards vaccinated", low=0, high=1, kind="managed"),
    LayerSpec("dog_vaccination", "float64", "share", "share of village dogs vaccinated against distemper", low=0, high=1, kind="managed"),
    LayerSpec("dog_exposure", "float64", "share", "exposure to village dogs (the distemper reservoir): exp(−distance to settlement / decay)", low=0, high=1, kind="input", spatial_only=True),
    LayerSpec("infection", "bool", "-", "a leopard in the cell caught distemper this year", kind="state", spatial_only=True),
    LayerSpec("road_reduction", "float64", "share", "share of road mortality removed (crossings, speed limits)", low=0, high=1, kind="managed"),
    LayerSpec("dispersal_mortality_reduction", "float64", "share", "share of dispersal mortality removed (corridors)", low=0, high=1, kind="managed"),
):
    register_layer(_spec)


@dataclass
class LayerError(ValueError):
    """A layer that does not fit its definition or the grid."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(self.problems)


def check_layer(name: str, values, n_cells: int, source: str = "the landscape") -> np.ndarray:
    """The values of a layer as its registered dtype, checked: one value per cell, finite, within
    the layer's bounds, only known codes. Raises :class:`LayerError` naming the layer, where it
    came from and what to change."""
    spec = LAYERS.get(name)
    if spec is None:
        raise LayerError([f"{source}: unknown layer '{name}'; known layers are {', '.join(sorted(LAYERS))}"])
    arr = np.asarray(values)
    problems = []
    if arr.shape != (n_cells,):
        problems.append(f"{source}: layer '{name}' has {arr.size} value(s) in shape {arr.shape}, the grid has {n_cells} cells — give one value per cell")
        raise LayerError(problems)
    if spec.dtype == "bool":
        if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
            problems.append(f"{source}: layer '{name}' is true/false (0 or 1), found {np.unique(arr[~np.isin(arr, (0, 1))])[:5].tolist()}")
    elif spec.codes is not None:
        known = np.array(sorted(spec.codes))
        bad = ~np.isin(arr, known)
        if bad.any():
            problems.append(
                f"{source}: layer '{name}' has unknown code(s) {np.unique(arr[bad])[:5].tolist()} in {int(bad.sum())} cell(s); "
                f"its codes are {', '.join(f'{k} {v}' for k, v in spec.codes.items())}"
            )
    else:
        a = arr.astype(float)
        if not np.isfinite(a).all():
            problems.append(f"{source}: layer '{name}' has {int((~np.isfinite(a)).sum())} missing or infinite value(s) — fill them (nodata is not allowed here)")
        else:
            if spec.low is not None and (a < spec.low).any():
                problems.append(f"{source}: layer '{name}' ({spec.units}) has values below {spec.low:g} (smallest {a.min():g})")
            if spec.high is not None and (a > spec.high).any():
                problems.append(f"{source}: layer '{name}' ({spec.units}) has values above {spec.high:g} (largest {a.max():g})")
    if problems:
        raise LayerError(problems)
    return arr.astype(spec.dtype)
