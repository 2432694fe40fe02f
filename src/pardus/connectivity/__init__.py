"""Connectivity analysis: circuit theory that reproduces Circuitscape and reads its .ini files.

``load_ini`` reads a Circuitscape job, ``run_config`` runs it (raster pairwise, one-to-all,
all-to-one, advanced; network pairwise and advanced) and writes Circuitscape's output files;
``pardus.connectivity.circuit`` holds the graph construction and the solvers.
"""

from .circuitscape import CircuitscapeResult, run_config, run_ini
from .config import CircuitscapeConfig, load_ini
from .grids import ConnectivityError, GridHeader, read_grid, write_grid

__all__ = ["CircuitscapeConfig", "CircuitscapeResult", "ConnectivityError", "GridHeader", "load_ini", "read_grid",
           "run_config", "run_ini", "write_grid"]
