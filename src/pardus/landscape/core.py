"""A landscape: its grid, its named layers and its region layers.

The non-spatial model is the landscape of k cells without geometry, one per population
(:meth:`Landscape.nonspatial`): its layers are the populations' values, and its region layers
are ``population`` (each cell its own reporting unit) and ``country``. A batch of R replicates
runs on R copies of the landscape's cells (:meth:`Landscape.batch_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .grid import Grid
from .layers import check_layer, managed_layers
from .regions import RegionLayer


@dataclass
class Landscape:
    grid: Grid
    layers: dict[str, np.ndarray]
    regions: dict[str, RegionLayer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.grid.n_cells
        for name, values in self.layers.items():
            if np.shape(values) != (n,):
                raise ValueError(f"layer '{name}' has shape {np.shape(values)}, the grid has {n} cells")
        for name, reg in self.regions.items():
            if reg.codes.size != n:
                raise ValueError(f"region layer '{name}' has {reg.codes.size} codes, the grid has {n} cells")

    @property
    def n_cells(self) -> int:
        return self.grid.n_cells

    @property
    def spatial(self) -> bool:
        return self.grid.spatial

    def set_layer(self, name: str, values, source: str = "the landscape") -> None:
        """Add or replace a layer, checked against its registered definition."""
        self.layers[name] = check_layer(name, values, self.n_cells, source)

    def reporting(self) -> RegionLayer:
        """The region layer results are reported by (``population`` in the non-spatial model)."""
        return self.regions["population"]

    def batch_layers(self, n_reps: int) -> dict[str, np.ndarray]:
        """Every layer over the cells of a batch of ``n_reps`` replicates (fresh copies)."""
        return {key: np.tile(arr, n_reps) for key, arr in self.layers.items()}

    @classmethod
    def nonspatial(cls, scenario, names: list[str]) -> "Landscape":
        """One cell per population of ``names`` (a run's population list, which may be a union
        over scenarios: a population this scenario lacks is a cell with K 0 and no animals)."""
        pops = [scenario.populations.get(n) for n in names]

        def col(attr: str, absent: float = 0.0) -> np.ndarray:
            return np.array([absent if p is None else float(getattr(p, attr)) for p in pops])

        layers = {
            "carrying_capacity": col("carrying_capacity"),
            "area_km2": col("area_km2", 1.0),
            "prey": col("initial_prey"),
            "prey_capacity": col("prey_capacity", 1.0),
            "human_access": col("human_access"),
            "deer_farm_exposure": col("deer_farm_exposure"),
            "road_exposure": col("road_exposure"),
            "patrol_effort": col("patrol_effort"),
            "outbreak": np.zeros(len(pops), dtype=bool),
        }
        for name in managed_layers():  # what interventions set starts at 0 (no effect)
            layers.setdefault(name, np.zeros(len(pops)))
        countries = [("" if p is None else p.country) for p in pops]
        named = sorted({c for c in countries if c})
        regions = {
            "population": RegionLayer("population", np.arange(len(names), dtype=np.int32), tuple(names)),
            "country": RegionLayer("country", np.array([named.index(c) if c else -1 for c in countries], dtype=np.int32), tuple(named)),
        }
        return cls(Grid.nonspatial(len(names)), layers, regions)
