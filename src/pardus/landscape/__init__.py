"""The landscape: grid, named layers, region layers and home ranges (MODEL.md §2–3)."""

from .core import Landscape
from .grid import Grid
from .layers import LAYERS, LayerError, LayerSpec, check_layer, managed_layers, register_layer
from .ranges import NO_RANGE, STATUS_CODES, RangeTable, exposure
from .regions import RegionLayer, aggregate

__all__ = [
    "LAYERS",
    "NO_RANGE",
    "STATUS_CODES",
    "Grid",
    "Landscape",
    "LayerError",
    "LayerSpec",
    "RangeTable",
    "RegionLayer",
    "aggregate",
    "check_layer",
    "exposure",
    "managed_layers",
    "register_layer",
]
