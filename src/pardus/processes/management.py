"""Interventions (MODEL.md §5), non-spatial form: dated, located (a population), costed.

Every year the management layers are reset to the scenario's baseline and every intervention
active that year (``start ≤ year ≤ end``) is applied on top, in the scenario's order. Costs are
counted as ``fixed_cost`` once in the start year plus ``unit_cost`` × units used that year, where
the unit is per type. The types, their effects and units are the classes of
:mod:`pardus.processes.interventions` (each with its own random stream).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landscape.layers import managed_layers
from ..population.genetics import AllelePool
from ..population.table import ALIVE, COLUMNS, FEMALE, MALE, NO_RANGE, ORIGIN_RELEASED, RESIDENT
from ..scenario.schema import Scenario
from ..rng import Streams
from .base import Field, Process, State
from .interventions import active, build_interventions

MANAGED_LAYERS = managed_layers()  # the registry's managed layers of the non-spatial model


class Management(Process):
    name = "management"
    reads = (Field("area_km2", "cell", "km²"),)
    # releases add whole rows (every column, genotype and kinship); translocations move
    # animals (cell) and may kill them in transport (cause)
    writes = (
        tuple(Field(n, "cell") for n in MANAGED_LAYERS)
        + (Field("cost", "year", "currency"), Field("released", "year", "individuals"))
        + tuple(Field(n, "individual") for n in (*COLUMNS, "genotype", "kinship"))
    )

    @dataclass(frozen=True)
    class Params:
        interventions: tuple[tuple[str, object], ...]  # (name, its validated scenario entry), in order

        @classmethod
        def from_scenario(cls, sc: Scenario) -> "Management.Params":
            return cls(tuple(sc.interventions.items()))

    def __init__(self, params: "Management.Params", names: list[str], baseline: dict[str, np.ndarray], releaser, spatial: dict | None = None):
        """``spatial`` (the spatial form): ``targets`` (intervention name → its local cells),
        ``sites``, ``source_cells``, ``territories``, ``cell_km`` (see the interventions)."""
        self.params = params
        context = {"captive": releaser, **(spatial or {})}
        self.interventions = build_interventions(params.interventions, names, context)
        self.targets = [None if spatial is None else np.asarray(spatial["targets"][iv.name], dtype=np.int64) for iv in self.interventions]
        self.managed = tuple(baseline)  # the layers reset to the baseline each year
        self.baseline = baseline
        # the interventions that draw random numbers each have a stream of their own
        self.substreams = tuple(iv.stream_name for iv in self.interventions if iv.random)

    def bind_streams(self, streams: dict[str, Streams]) -> None:
        for iv in self.interventions:
            if iv.random:
                iv.streams = streams[iv.stream_name]

    def step(self, state: State, rng) -> None:
        L = state.layers
        for name in self.managed:
            L[name][:] = self.baseline[name]
        year = state.year
        cost = np.zeros(state.n_reps)  # per replicate
        acting = []
        offsets = state.cells_per_rep * np.arange(state.n_reps)[:, None]
        for iv, local in zip(self.interventions, self.targets):
            if not iv.in_effect(year) or (local is not None and local.size == 0):
                continue  # not this year, or in a population off the map
            if year == iv.spec.start:
                cost += iv.spec.fixed_cost
            # its cells in every replicate of the batch: the population's one cell, or its area on the map
            cells = offsets + (iv.local if local is None else local[None, :])
            if iv.random and iv.streams is None:
                raise RuntimeError(f"intervention '{iv.name}' draws from its own stream '{iv.stream_name}': bind it with Management.bind_streams first")
            iv.apply(state, cells, year, self.baseline, cost)
            acting.append((iv, cells))
        for iv, cells in acting:
            iv.after_all(state, cells, cost)
        state.tally["cost"] += cost


class CaptiveSource:
    """Captive-bred animals with their own founders (MODEL.md §4.10: 217 animals from 14
    founders, 91 % gene diversity retained). Released animals get genotypes drawn from the
    captive allele pool, kinship 0 to wild animals and the captive mean kinship (1 − GD) to
    each other, and F equal to that mean kinship. Each replicate has its own captive pool."""

    def __init__(self, pools: list[AllelePool], status: int = RESIDENT):
        self.pools = pools
        self.mk = pools[0].mean_kinship
        self.status = status  # what released animals are (spatial: transients that look for a range)

    def release(self, state: State, streams: Streams, r: int, cell: int, females: int, males: int, age: int) -> int:
        """Release animals of replicate r into (global) cell ``cell``; returns how many."""
        k = females + males
        if k == 0:
            return 0
        pop = state.pop
        geno = self.pools[r].draw(k, lambda shape: streams.random(r, shape), state.is_lethal)
        pop.reserve(k)
        n0 = pop.n
        new = np.arange(n0, n0 + k)
        pop.id[new] = pop.new_ids(k)
        pop.sex[new] = np.r_[np.full(females, FEMALE), np.full(males, MALE)].astype(np.int8)
        pop.age[new] = age
        pop.cause[new] = ALIVE
        pop.mother[new] = -1
        pop.father[new] = -1
        pop.cell[new] = cell
        pop.rep[new] = r
        pop.origin[new] = ORIGIN_RELEASED
        pop.protected[new] = False
        pop.range_id[new] = NO_RANGE
        pop.status[new] = self.status  # released as independent animals
        pop.F[new] = self.mk
        pop.geno[new] = geno
        pop.captive_share[new] = 1.0
        if not pop.dense:  # released animals descend from the replicate's captive metafounder
            pop.add_founder_rows(new, self.mk, pop.captive_group(r, self.mk))
            pop.n = n0 + k
            return k
        # kinship to earlier animals follows the same linear recursion as the captive share
        sn = pop.assign_slots(new)
        held = np.flatnonzero((pop.slot[:n0] >= 0) & (pop.rep[:n0] == r))  # not the dead that gave up their slot
        so = pop.slot[held]
        kin = pop.kin3[r]
        kin[np.ix_(sn, so)] = self.mk * pop.captive_share[held]
        kin[np.ix_(so, sn)] = kin[np.ix_(sn, so)].T
        kin[np.ix_(sn, sn)] = self.mk
        kin[sn, sn] = 0.5 * (1.0 + self.mk)
        pop.n = n0 + k
        pop.appended(n0)
        return k
