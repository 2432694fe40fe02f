"""Connectivity of a scenario's landscape: circuit theory and least-cost corridors between
named habitat cores, and the candidate crossings or corridor cells ranked by what each would
do for them (`pardus connectivity SCENARIO`).

* **Circuit** (Circuitscape's raster pairwise mode): the resistance surface of
  :mod:`pardus.connectivity.landscape` with 8 neighbours and average conductance, each pair of
  cores shorted as focal regions (as Circuitscape treats a focal id on many cells), 1 A from
  one to the other. The effective resistance R_ab is in units of a cell of undisturbed forest;
  the cumulative current map (sum over the pairs) shows where movement between the cores
  concentrates — pinch points such as the few places a highway can be crossed.
* **Least-cost corridors** (Linkage Mapper): cost-weighted distance over the same surface
  (resistance × metres), the least-cost path of each pair and its normalised corridor
  NLCC = CWD_a + CWD_b − LCD, truncated at a corridor width (:mod:`pardus.connectivity.leastcost`).
* **Candidates.** Every candidate cell is improved in turn — a road cell gets a crossing (its
  barrier and road death × (1 − crossing_effect), as a `crossing` intervention does), any
  other cell is restored to undisturbed forest — and the pairs' effective resistances are
  solved again. The ranking is by the fall of the summed effective resistance between the
  cores, ΔR = Σ_pairs (R_ab − R'_ab), exact for the model's surface (one solve per candidate,
  not an approximation from the current map); the current through the cell before the change
  is given beside it.

Nothing here simulates: the surface is the landscape of the chosen year with the interventions
then in force. The same analysis can be repeated in Circuitscape: the outputs include the
surface and the cores as ASCII grids and a Circuitscape ``.ini`` that runs them
(`pardus connectivity PREFIX.ini` gives the same resistances).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..landscape.layers import COVER_CODES, ROAD_CODES
from .circuit import node_currents, pairwise_resistances, raster_graph, upper_edges
from .grids import GridHeader, OutputStage
from .landscape import MapState, candidate_cells, conductance, core_grid, map_state
from .leastcost import corridors

SOLVER = "cholmod"  # the direct factorisation (SuperLU) of circuit.py; CG+AMG for large grids
DEFAULT_WIDTH_KM = 10.0  # corridor width: a cost-distance of 10 km of undisturbed forest (assumption, range 5–25)
FOREST = {v: k for k, v in COVER_CODES.items()}["mixed_forest"]
ROAD_NAMES = dict(ROAD_CODES)


@dataclass
class Candidate:
    row: int
    col: int
    x: float
    y: float
    kind: str  # "crossing on a <road class>" or "restored forest"
    current: float  # baseline cumulative current through the cell (A)
    delta_r: float  # fall of the summed effective resistance between the cores
    share: float  # delta_r / the summed baseline resistance
    passage: float = math.nan  # simulated dispersers' steps into the cell a year (a results file's dispersal_passage)


@dataclass
class ScenarioConnectivity:
    state: MapState
    core_names: list[str]
    resistance: np.ndarray  # (rows, cols), NaN where no walk goes
    cores: np.ndarray  # (rows, cols) core id 1…k, 0 elsewhere
    pairs: list[tuple[int, int]]
    R: dict[tuple[int, int], float]  # effective resistance per pair (inf: not connected)
    current: np.ndarray  # cumulative current over the pairs (NaN where no cell)
    corridor: np.ndarray  # NLCC mosaic truncated at ``width`` (NaN outside)
    width: float
    links: list = field(default_factory=list)  # leastcost.CorridorLink per pair
    candidates: list[Candidate] = field(default_factory=list)
    candidate_spec: str | None = None
    solver: str = SOLVER
    passage: np.ndarray | None = None  # (rows, cols) simulated dispersal passage of a run of the scenario
    passage_source: str | None = None
    rank_by: str = "resistance"

    def current_passage_correlation(self) -> float:
        """Spearman's rank correlation, over the walkable cells outside the cores, between the
        circuit's current and the simulated dispersers' passage (NaN without a run)."""
        if self.passage is None:
            return math.nan
        from scipy.stats import spearmanr

        ok = np.isfinite(self.current) & (self.cores == 0) & np.isfinite(self.passage)
        return float(spearmanr(self.current[ok], self.passage[ok]).statistic) if ok.sum() > 2 else math.nan

    @property
    def header(self) -> GridHeader:
        g = self.state.grid
        a, _b, c, _d, e, f = g.transform
        return GridHeader(g.cols, g.rows, c, f + e * g.rows, a, crs=g.crs)


def _pair_solutions(g: np.ndarray, cores: np.ndarray, pairs, keep_voltages: bool):
    """Per pair: (R_ab, voltages, graph, node map) with only cores a and b shorted."""
    out = {}
    for a, b in pairs:
        poly = np.where((cores == a) | (cores == b), cores, 0)
        graph, nm = raster_graph(g, poly, four_neighbors=False, avg_resistances=False)
        na, nb = int(nm[cores == a][0]), int(nm[cores == b][0])
        if graph.labels[na] != graph.labels[nb]:
            out[(a, b)] = (math.inf, None, graph, nm)
            continue
        comp = graph.component_nodes(int(graph.labels[na]))
        local = np.searchsorted(comp, [na, nb])
        sol, _ = pairwise_resistances(graph.laplacian(), comp, local, SOLVER, keep_voltages)
        v = None
        if keep_voltages:
            v = np.zeros(graph.n)
            v[comp] = sol.voltages(0, 1)
        out[(a, b)] = (sol.resistance(0, 1), v, graph, nm)
    return out


def _improved(state: MapState, cell: int) -> tuple[np.ndarray, str]:
    """The conductance grid with one candidate cell improved (see the module docstring)."""
    layers = dict(state.layers)
    road = int(state.layers["road"][cell])
    p = state.dispersal
    if road > 0 and (p.barrier[road] > 0 or p.road_death[road] > 0):
        crossing = state.layers["crossing"].astype(bool).copy()
        crossing[cell] = True
        layers["crossing"] = crossing
        kind = f"crossing on a {ROAD_NAMES[road]}"
    else:
        for name, value in (("cover", FOREST), ("road", 0), ("human_access", 0.0)):
            arr = state.layers[name].copy()
            arr[cell] = value
            layers[name] = arr
        kind = "restored forest"
    return state.as_grid(conductance(MapState(state.scenario_name, state.year, state.landscape, layers, state.dispersal))), kind


def analyse(scenario, cores: list[str], year: int | None = None, candidates: str | None = None, base: Path | None = None,
            width_km: float = DEFAULT_WIDTH_KM, progress=None, passage: np.ndarray | None = None, passage_source: str | None = None,
            rank_by: str = "resistance") -> ScenarioConnectivity:
    """Circuit and least-cost connectivity between ``cores`` (areas, see
    :func:`pardus.connectivity.landscape.core_grid`) on the scenario's landscape in ``year``,
    and, if ``candidates`` is given ('roads', a road class or an area), every candidate cell
    ranked by the fall of the effective resistance between the cores (``rank_by =
    "resistance"``) or by the simulated dispersers' passage through it (``"dispersal"``: needs
    ``passage``, the ``dispersal_passage`` map of a run of the scenario, rows × cols)."""
    if rank_by not in ("resistance", "dispersal"):
        raise ValueError(f"--rank-by {rank_by}: give resistance or dispersal")
    if rank_by == "dispersal" and passage is None:
        raise ValueError("--rank-by dispersal: needs a population run of the scenario — give --results RESULTS.nc")
    if not width_km > 0:
        raise ValueError(f"--corridor-width {width_km:g}: give a positive width in km of undisturbed forest")
    state = map_state(scenario, year)
    core = core_grid(state, cores, base)
    g = state.as_grid(conductance(state))
    r = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), np.nan)
    ids = list(range(1, len(cores) + 1))
    pairs = list(itertools.combinations(ids, 2))
    sols = _pair_solutions(g, core, pairs, keep_voltages=True)
    current = np.zeros(g.shape)
    R = {}
    for pair, (rab, v, graph, nm) in sols.items():
        R[pair] = rab
        if v is None:
            continue
        i = node_currents(graph.A, v)
        cell_current = np.where(nm >= 0, i[np.maximum(nm, 0)], 0.0)
        current += cell_current
    current = np.where(g > 0, current, np.nan)
    cellsize = state.grid.cell_size
    width = width_km * 1000.0 if cellsize and state.grid.crs else width_km * cellsize
    lc = corridors(r, core, cellsize=cellsize, neighbours=8, width=width)
    result = ScenarioConnectivity(state, list(cores), r, core, pairs, R, current, lc.corridor, width, list(lc.links), candidate_spec=candidates,
                                  passage=passage, passage_source=passage_source, rank_by=rank_by)
    if passage is not None and passage.shape != g.shape:
        raise ValueError(f"--results {passage_source}: its maps are {passage.shape[0]} × {passage.shape[1]} cells, the scenario's landscape {g.shape[0]} × {g.shape[1]} — give a run of this scenario")
    if candidates is None:
        return result
    cand = candidate_cells(state, candidates)
    cells = np.flatnonzero(cand.ravel() & (core.ravel() == 0))  # a core cell is already shorted
    connected = [p for p in pairs if math.isfinite(R[p])]
    total = sum(R[p] for p in connected)
    x, y = state.grid.centres()
    for k, cell in enumerate(cells):
        g2, kind = _improved(state, int(cell))
        after = _pair_solutions(g2, core, connected, keep_voltages=False)
        drop = total - sum(after[p][0] for p in connected)
        row, col = divmod(int(cell), state.grid.cols)
        pas = float(passage[row, col]) if passage is not None else math.nan
        result.candidates.append(Candidate(row, col, float(x[cell]), float(y[cell]), kind, float(current[row, col]), float(drop), float(drop / total) if total > 0 else math.nan, pas))
        if progress is not None:
            progress(k + 1, len(cells))
    if rank_by == "dispersal":
        result.candidates.sort(key=lambda c: (-c.passage, -c.delta_r))
    else:
        result.candidates.sort(key=lambda c: (-c.delta_r, -c.current))
    return result


def write_outputs(result: ScenarioConnectivity, prefix: Path, geotiff: bool = False) -> list[Path]:
    """Write the analysis under ``prefix``: the surface and the cores as grids (and a
    Circuitscape .ini that reruns the circuit), ``_resistances.out`` and ``_cum_curmap`` in
    Circuitscape's formats, ``_corridors`` (the truncated NLCC mosaic), ``_links.csv`` (one
    row per pair), ``_candidates.csv`` (the ranking) and a map figure ``.png``. All or nothing."""
    from .grids import format_number

    prefix = Path(prefix)
    stage = OutputStage(prefix.parent if str(prefix.parent) else Path("."))
    h = result.header
    name = prefix.name
    try:
        res_path = stage.grid(f"{prefix}_resistance", result.resistance, h, geotiff=geotiff)
        core_path = stage.grid(f"{prefix}_cores", np.where(result.cores > 0, result.cores, np.nan), h, geotiff=geotiff)
        stage.grid(f"{prefix}_cum_curmap", result.current, h, geotiff=geotiff)
        stage.grid(f"{prefix}_corridors", result.corridor, h, geotiff=geotiff)
        k = len(result.core_names)
        rows = ["0 " + " ".join(str(i) for i in range(1, k + 1))]
        for a in range(1, k + 1):
            vals = []
            for b in range(1, k + 1):
                rab = 0.0 if a == b else result.R[(min(a, b), max(a, b))]
                vals.append(format_number(rab if math.isfinite(rab) else -1))
            rows.append(f"{a} " + " ".join(vals))
        stage.text(f"{prefix}_resistances.out", "\n".join(rows) + "\n")
        lines = ["core_a,core_b,name_a,name_b,effective_resistance,least_cost_distance,euclidean_distance,path_length,cwd_to_path_length"]
        by_pair = {(lk.core_a, lk.core_b): lk for lk in result.links}
        for a, b in result.pairs:
            lk = by_pair.get((a, b))
            cells = [result.R[(a, b)]] + ([lk.lcd, lk.euclidean_distance, lk.path_length, lk.cwd_to_path_length] if lk else [math.nan] * 4)
            lines.append(f"{a},{b},{_csv(result.core_names[a - 1])},{_csv(result.core_names[b - 1])}," + ",".join(f"{v:.6g}" for v in cells))
        stage.text(f"{prefix}_links.csv", "\n".join(lines) + "\n")
        if result.candidate_spec is not None:
            lines = ["rank,row,col,x,y,kind,current,delta_resistance,share_of_resistance,dispersal_passage"]
            for i, c in enumerate(result.candidates, 1):
                lines.append(f"{i},{c.row},{c.col},{c.x:.1f},{c.y:.1f},{c.kind},{c.current:.6g},{c.delta_r:.6g},{c.share:.6g},{c.passage:.6g}")
            stage.text(f"{prefix}_candidates.csv", "\n".join(lines) + "\n")
        stage.text(f"{prefix}.ini", circuitscape_ini(Path(res_path.name), Path(core_path.name), Path(f"{name}_circuitscape")))
        from ..report.connectivity import connectivity_figure

        fig = connectivity_figure(result)
        png = stage._tmp(Path(f"{prefix}.png"))
        png.write_bytes(fig)
        stage.pending.append((png, Path(f"{prefix}.png")))
        return stage.commit()
    except BaseException:
        stage.discard()
        raise


def _csv(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in ',"\n') else s


def circuitscape_ini(habitat: Path, points: Path, output: Path) -> str:
    """A Circuitscape .ini (raster pairwise, 8 neighbours, average conductance, the cores as
    focal regions) that reruns the circuit of an analysis; paths relative to the .ini."""
    return "\n".join([
        "[Circuitscape mode]", "data_type = raster", "scenario = pairwise", "",
        "[Habitat raster or graph]", f"habitat_file = {habitat}", "habitat_map_is_resistances = True", "",
        "[Connection scheme for raster habitat data]", "connect_four_neighbors_only = False", "connect_using_avg_resistances = False", "",
        "[Options for pairwise and one-to-all and all-to-one modes]", f"point_file = {points}", "use_included_pairs = False", "included_pairs_file = None", "",
        "[Short circuit regions (aka polygons)]", "use_polygons = False", "polygon_file = None", "",
        "[Mask file]", "use_mask = False", "mask_file = None", "",
        "[Calculation options]", "solver = cholmod", "",
        "[Output options]", f"output_file = {output}.out", "write_cur_maps = False", "write_cum_cur_map_only = True", "write_volt_maps = False", "",
    ]) + "\n"
