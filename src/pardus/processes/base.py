"""What every process declares, and the yearly state it works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit

from ..population.table import ALIVE, Population
from ..scenario.schema import CAUSES

CAUSE_INDEX = {c: i for i, c in enumerate(CAUSES)}


WHERE = ("cell", "individual", "year")


@dataclass(frozen=True)
class Field:
    """A layer (``where`` "cell"), a column of the individual table ("individual") or a value
    of the current year ("year": a tally or a field another process reads) that a process
    reads or writes."""

    name: str
    where: str
    units: str = "-"
    doc: str = ""

    def __post_init__(self) -> None:
        if self.where not in WHERE:
            raise ValueError(f"Field '{self.name}': where must be one of {', '.join(WHERE)}, not {self.where!r}")


class Fields(dict):
    """The values of the current year that one process writes for others (``state.fields``).

    Only declared fields may be written (``declared``: the year fields the schedule's processes
    declare in their writes; None for a state built by hand), and reading one that no process
    has written this year names it, instead of handing on a stale or missing value."""

    def __init__(self, declared: set[str] | None = None):
        super().__init__()
        self.declared = declared

    def __setitem__(self, key: str, value) -> None:
        if self.declared is not None and key not in self.declared:
            raise KeyError(f"'{key}' is no declared field of this schedule — the process that writes it must list Field('{key}', 'year') in its writes")
        super().__setitem__(key, value)

    def __missing__(self, key: str):
        raise KeyError(f"field '{key}' was not written this year — the process that writes it must run earlier in the schedule")


@dataclass
class State:
    """Everything a batch of replicates knows in the current year.

    ``layers`` are per-cell arrays over the cells of every replicate of the batch: replicate r
    owns cells r·k … r·k + k − 1 (``k = cells_per_rep``; in non-spatial mode one cell per
    population), so a process that works cell by cell needs to know nothing about replicates.
    ``pop`` is the individual table of the whole batch (its ``rep`` column says whose an animal
    is); ``tally`` collects this year's counts for the census (per cell, ``cost`` per
    replicate); ``fields`` holds what one process computes this year for another (declared
    ``Field(…, "year")`` writes). A state built by hand is a batch of one replicate.
    """

    year: int
    t: int
    pop: Population
    layers: dict[str, np.ndarray]
    tally: dict[str, np.ndarray]
    is_lethal: np.ndarray  # per allele id: True if the allele is a recessive lethal
    hazard: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CAUSES))))
    fields: Fields = field(default_factory=Fields)
    n_reps: int = 1
    ranges: object = None  # the batch's home ranges (pardus.landscape.RangeTable); None: nobody has one

    def __post_init__(self) -> None:
        k = self.n_cells // self.n_reps
        self.cells_per_rep = k
        self.rep_of_cell = np.repeat(np.arange(self.n_reps, dtype=np.int64), k)

    @property
    def n_cells(self) -> int:
        # every layer has one value per cell; looked up without reading a named layer, which
        # is no input of the process that asks
        return len(next(iter(self.layers.values())))

    def per_rep(self, value) -> np.ndarray:
        """A per-replicate value (a scalar set by hand counts for every replicate) as (n_reps, …)."""
        v = np.asarray(value, dtype=float)
        return np.broadcast_to(v, (self.n_reps,) + v.shape) if v.ndim == 0 or v.shape[0] != self.n_reps else v

    def cells_of(self, local: int) -> np.ndarray:
        """The global cells of local cell (population) ``local`` in every replicate."""
        return local + self.cells_per_rep * np.arange(self.n_reps)

    def living_rows(self) -> np.ndarray:
        return np.flatnonzero(self.pop.cause[: self.pop.n] == ALIVE)

    def mark_dead(self, rows: np.ndarray, cause: str) -> None:
        self.pop.cause[rows] = CAUSE_INDEX[cause]


@dataclass(frozen=True)
class NoParams:
    """The parameters of a process that has none."""

    @classmethod
    def from_scenario(cls, scenario) -> "NoParams":
        return cls()


class Parameterised:
    """A process or hazard owns its parameters: ``Params`` is a frozen dataclass of exactly the
    values it uses, taken from a scenario by ``Params.from_scenario``; the object is built from
    them (and from the other processes it works with), never from the whole scenario."""

    Params: ClassVar[type] = NoParams

    @classmethod
    def from_scenario(cls, scenario, *deps):
        return cls(cls.Params.from_scenario(scenario), *deps)


class Process(Parameterised):
    """A unit of the yearly schedule: declared inputs/outputs and one verb, ``step``."""

    name: ClassVar[str]
    reads: ClassVar[tuple[Field, ...]] = ()
    writes: ClassVar[tuple[Field, ...]] = ()
    # streams beside the process's own that parts of it draw from (e.g. each intervention's),
    # named; the engine seeds them per replicate like any process stream and binds them
    substreams: tuple[str, ...] = ()

    def bind_streams(self, streams: dict) -> None:
        """Receive the streams named in ``substreams`` (default: there are none)."""

    def step(self, state: State, rng: np.random.Generator) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class Hazard(Parameterised):
    """A cause of death: each animal's probability of dying of it this year.

    A hazard gives a table by (cell, sex, stage) — cheap to compute once a year — and a
    ``modifier`` for the part that depends on the individual:

    * ``"none"``: the table value is the probability;
    * ``"unprotected"``: the table value, or 0 for an animal protected by vaccination;
    * ``"inbreeding"``: the table holds a coefficient b and the probability is 1 − exp(−b·F).

    Hazards are combined as competing risks by :class:`pardus.processes.mortality.Mortality`.
    """

    cause: ClassVar[str]
    reads: ClassVar[tuple[Field, ...]] = ()
    modifier: ClassVar[str] = "none"
    adult_age: int = 2

    def prepare(self, state: State, rng: np.random.Generator) -> None:
        """Yearly draws the hazard needs (e.g. whether an outbreak happens); default none."""

    def table(self, state: State) -> np.ndarray:  # pragma: no cover - abstract
        """Annual probability (or coefficient, see ``modifier``) by (cell, sex, stage)."""
        raise NotImplementedError

    def probability(self, state: State, rows: np.ndarray) -> np.ndarray:
        """Probability of dying of this cause this year for the animals in ``rows``."""
        pop = state.pop
        stage = stage_of_age(pop.age[rows], self.adult_age)
        p = self.table(state)[pop.cell[rows], pop.sex[rows], stage]
        if self.modifier == "unprotected":
            p = np.where(pop.protected[rows], 0.0, p)
        elif self.modifier == "inbreeding":
            p = 1.0 - np.exp(-p * pop.F[rows])
        return p


@njit(cache=True)
def fill_cell_stage(per_cell, per_stage, out):
    """out[c, sex, s] = per_cell[c] · per_stage[s] for both sexes; returns out."""
    for c in range(per_cell.shape[0]):
        for s in range(3):
            v = per_cell[c] * per_stage[s]
            out[c, 0, s] = v
            out[c, 1, s] = v
    return out


def by_cell_stage(per_cell: np.ndarray, per_stage: np.ndarray) -> np.ndarray:
    """(cells, 2, 3) table from a per-cell factor and a per-stage factor (same for both sexes)."""
    per_cell = np.asarray(per_cell, dtype=np.float64)
    return fill_cell_stage(per_cell, np.asarray(per_stage, dtype=np.float64), np.empty((per_cell.shape[0], 2, 3)))


def stage_of_age(age: np.ndarray, adult_age: int) -> np.ndarray:
    """0 cub (age 0), 1 subadult (1 … adult_age-1), 2 adult."""
    return np.where(age <= 0, 0, np.where(age < adult_age, 1, 2)).astype(np.int64)


def patrol_effect(effort: np.ndarray, max_effect: float, half_effort: float) -> np.ndarray:
    """Saturating effect of patrol effort: max · E / (E + E½)."""
    effort = np.asarray(effort, dtype=float)
    return max_effect * effort / (effort + half_effort)
