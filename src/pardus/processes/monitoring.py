# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated camera-trap surveys of the population on the map (MODEL.md §6; issue #11, item 6).

In a survey year, after the census, each surveyed replicate is photographed by a camera-trap
survey as the real programme runs one:

1. **Cameras**: a square grid of stations ``spacing_km`` apart over ``area`` (e.g. the park
   core), or the stations of a detector file (secr's ``Detector x y`` format, coordinates in the
   landscape's CRS). Stations on water are dropped.
2. **Detection**: every independent leopard (residents and transients; cubs with their mothers
   are not counted, as in the real density estimates of independent animals) has an activity
   centre — a resident the use-weighted centre of its home range, a transient its cell — and is
   photographed at a station at distance d on an occasion with the half-normal probability
   ``g0 · exp(−d² / 2σ²)`` (binary proximity detectors, ``occasions`` occasions).
3. **Photo-ID errors**: each photograph of an animal is, with probability ``missed_match``, not
   matched to the animal and becomes a new individual of its own (a split: more animals, fewer
   recaptures), and with probability ``false_match`` matched to another animal photographed in
   the survey (a merge).
4. **Estimate**: the identified detection histories are fitted by SECR (:mod:`pardus.secr`;
   null model, full likelihood, the half-normal detection function) over a habitat mask of the
   land within ``buffer_km`` (default 4σ) of the stations, and the estimate N̂ = D̂ · A (A the
   mask's area) is recorded beside the true number N of independent animals whose activity
   centres lie on the mask.

Fits cost about a second each, so only the first ``replicates`` replicates of a run are
surveyed (their global replicate numbers, so the result does not depend on batches or workers),
every ``every`` years from ``first_year``. The draws come from the process's own stream: adding
the surveys changes no other process's draws, and the simulated population is the same with or
without them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..population.table import ALIVE, DEPENDENT, RESIDENT
from .base import Field, Process, State

#: the per-replicate, per-year records a survey writes (NaN in the years without a survey)
SURVEY_RECORDS = {
    "survey_N_true": ("individuals", "independent leopards whose activity centres lie on the survey's habitat mask"),
    "survey_N_hat": ("individuals", "SECR estimate of that number, D̂ × mask area"),
    "survey_N_lcl": ("individuals", "lower 95 % limit of N̂ (from D̂'s interval)"),
    "survey_N_ucl": ("individuals", "upper 95 % limit of N̂"),
    "survey_D_hat": ("animals per 100 km2", "SECR density estimate"),
    "survey_detected": ("individuals", "identities in the detection histories (after photo-ID errors)"),
    "survey_photographed": ("individuals", "true animals photographed at least once"),
    "survey_detections": ("detections", "animal × occasion × station detections"),
}


@dataclass(frozen=True)
class MonitoringParams:
    """Parameters of the simulated surveys ([landscape.monitoring]; the table present switches
    them on)."""

    SOURCES: ClassVar[dict[str, str]] = {
        "first_year": "assumption: 0 surveys from the first simulated year on; the real programme has run systematic camera-trap surveys since 2014 (Vitkalova et al. 2018, Conservation Letters 11: e12574)",
        "every": "assumption (range 1–10 years): one survey every this many years; each costs a SECR fit per surveyed replicate",
        "replicates": "assumption (range 1–1,000): the first this many replicates of a run are surveyed (a fit costs about a second)",
        "area": "assumption: the park core (zone:core) — the Land of the Leopard national park, where the camera grid of the real programme lies (Vitkalova et al. 2018)",
        "layout": "assumption: empty — a square grid over `area`, because the station list of the real programme (about 400 stations, Vitkalova et al. 2018) is not public; or the path of a detector file (secr's `Detector x y`, metres in the landscape's CRS)",
        "spacing_km": "assumption (range 2–5 km): about 400 camera stations over the ~3,700 km² of Land of the Leopard national park, one per ~9 km², i.e. about 3 km apart (Vitkalova et al. 2018)",
        "occasions": "assumption (range 5–20): sampling occasions of one survey season (e.g. ten two-week occasions of a winter season)",
        "g0": "assumption (range 0.01–0.2): detection probability per occasion at a station in the centre of an animal's activity",
        "sigma_km": "assumption (range 1.5–5 km): spatial scale of the half-normal detection function; home ranges of Amur leopards of 100–500 km² (Hebblewhite et al. 2011, Biological Conservation 144: 2403) correspond to σ of about 2–5 km",
        "missed_match": "assumption (range 0–0.1): share of photographs not matched to their animal (a new identity); matchers in the HotSpotter family miss a few per cent (Crall et al. 2013, IEEE WACV)",
        "false_match": "assumption (range 0–0.02): share of photographs matched to another animal",
        "buffer_km": "assumption (range 3–5 σ; 0 = 4 σ) around the stations, secr's rule of thumb (Efford, secr documentation: suggest.buffer)",
        "mask_nx": "assumption (range 16–64): mask cells across the buffered frame of the stations (secr's nx; 32 as secrdesign)",
    }

    first_year: int = 0
    every: int = 5
    replicates: int = 4
    area: str = "zone:core"
    layout: str = ""
    spacing_km: float = 3.0
    occasions: int = 10
    g0: float = 0.05
    sigma_km: float = 3.0
    missed_match: float = 0.02
    false_match: float = 0.005
    buffer_km: float = 0.0
    mask_nx: int = 32

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError("every must be at least 1 (years between surveys)")
        if self.occasions < 1:
            raise ValueError("occasions must be at least 1")
        if not 0.0 < self.g0 <= 1.0:
            raise ValueError(f"g0 = {self.g0} — must be a detection probability in (0, 1]")
        if not self.sigma_km > 0.0:
            raise ValueError("sigma_km must be positive")
        if not self.spacing_km > 0.0:
            raise ValueError("spacing_km must be positive")
        for name in ("missed_match", "false_match"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} = {v} — must be a probability in [0, 1]")
        if self.missed_match + self.false_match > 1.0:
            raise ValueError("missed_match + false_match must not exceed 1")
        if self.mask_nx < 4:
            raise ValueError("mask_nx must be at least 4")


def camera_layout(params: MonitoringParams, land) -> np.ndarray:
    """Station coordinates (K × 2, metres in the landscape's CRS) of the survey: the stations of
    ``layout``, or a grid ``spacing_km`` apart over ``area``; stations on water are dropped.
    ValueError (naming the key and the fix) when no station is left."""
    from ..landscape.targets import TargetError, area_mask

    x, y = land.grid.centres()
    land_cells = land.layers["cover"] != 0
    if params.layout:
        from ..secr.capthist import CaptureDataError, read_traps

        try:
            traps = read_traps(Path(params.layout), "proximity")
        except CaptureDataError as exc:
            raise ValueError(f"landscape.monitoring.layout: {exc}") from None
        xy = np.asarray(traps.xy, float)
        cells = _cells_of(land, xy)
        keep = (cells >= 0) & land_cells[np.maximum(cells, 0)]
        xy = xy[keep]
    else:
        try:
            inside = area_mask(land, params.area, what="landscape.monitoring.area")
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        inside = inside & land_cells
        if not inside.any():
            raise ValueError(f"landscape.monitoring.area = {params.area!r} holds no land cell — give an area on land, e.g. zone:core")
        step = params.spacing_km * 1000.0
        x0, y0 = x[inside].min(), y[inside].min()
        gx = np.arange(x0, x[inside].max() + 1e-6, step)
        gy = np.arange(y0, y[inside].max() + 1e-6, step)
        pts = np.array([(a, b) for b in gy for a in gx], float).reshape(-1, 2)
        cells = _cells_of(land, pts)
        ok = cells >= 0
        ok[ok] = inside[cells[ok]]
        xy = pts[ok]
    if len(xy) < 2:
        where = f"layout = {params.layout!r}" if params.layout else f"area = {params.area!r} with spacing_km = {params.spacing_km:g}"
        raise ValueError(f"landscape.monitoring: {where} gives {len(xy)} camera station(s) on land — a survey needs at least two; "
                         "give a larger area, a smaller spacing_km or a detector file with stations on land")
    return xy


def _cells_of(land, xy: np.ndarray) -> np.ndarray:
    """The cell index of each point (−1 outside the grid)."""
    x, y = land.grid.centres()
    R, C = land.grid.shape
    xs = x.reshape(R, C)[0]
    ys = y.reshape(R, C)[:, 0]
    dx = xs[1] - xs[0] if C > 1 else (land.grid.cell_size or 1000.0)
    dy = ys[1] - ys[0] if R > 1 else -(land.grid.cell_size or 1000.0)
    col = np.floor((xy[:, 0] - xs[0]) / dx + 0.5).astype(np.int64)
    row = np.floor((xy[:, 1] - ys[0]) / dy + 0.5).astype(np.int64)
    ok = (col >= 0) & (col < C) & (row >= 0) & (row < R)
    return np.where(ok, row * C + col, -1)


class Monitoring(Process):
    """Camera-trap surveys, photo-ID errors and SECR estimates (see the module docstring)."""

    name = "monitoring"
    reads = (
        Field("cause", "individual"),
        Field("cell", "individual"),
        Field("status", "individual"),
        Field("range_id", "individual"),
        Field("rep", "individual"),
        Field("cover", "cell"),
    )
    writes = (Field("survey", "year"),)

    def __init__(self, params: MonitoringParams, land, replicate_ids, start_year: int):
        from ..secr.mask import Mask, make_mask

        self.params = params
        self.start_year = int(start_year)
        self.replicate_ids = np.asarray(list(replicate_ids), dtype=np.int64)
        self.C = land.n_cells
        x, y = land.grid.centres()
        self.cx, self.cy = np.asarray(x, float), np.asarray(y, float)
        self.traps = camera_layout(params, land)
        sigma = params.sigma_km * 1000.0
        buffer = params.buffer_km * 1000.0 if params.buffer_km > 0 else 4.0 * sigma
        mask = make_mask(self.traps, buffer, nx=params.mask_nx)
        cells = _cells_of(land, mask.xy)
        on_land = (cells >= 0) & (land.layers["cover"][np.maximum(cells, 0)] != 0)
        self.mask = Mask(mask.xy[on_land], mask.spacing)
        if len(self.mask.xy) == 0:
            raise ValueError("landscape.monitoring: the survey's habitat mask holds no land — check area/layout")
        from scipy.spatial import cKDTree

        self._tree = cKDTree(self.mask.xy)
        self.mask_area_km2 = len(self.mask.xy) * self.mask.area_ha / 100.0

    def survey_year(self, year: int) -> bool:
        p = self.params
        first = max(p.first_year, self.start_year + 1) if p.first_year else self.start_year + 1
        return year >= first and (year - first) % p.every == 0

    def centres(self, state: State, rows: np.ndarray) -> np.ndarray:
        """Activity centres (metres) of the animals ``rows``: a resident's use-weighted centre of
        its home range, any other animal's cell."""
        pop = state.pop
        local = pop.cell[rows] % self.C
        out = np.column_stack([self.cx[local], self.cy[local]])
        ranges = state.ranges
        if ranges is not None:
            res = np.flatnonzero((pop.status[rows] == RESIDENT) & (pop.range_id[rows] >= 0))
            if res.size:
                start, cells, weight = ranges.start, ranges.cells, ranges.weight
                for j in res:
                    rid = int(pop.range_id[rows[j]])
                    a, b = start[rid], start[rid + 1]
                    if b > a:
                        c = cells[a:b] % self.C
                        w = weight[a:b]
                        out[j] = (np.dot(w, self.cx[c]) / w.sum(), np.dot(w, self.cy[c]) / w.sum())
        return out

    def step(self, state: State, rng) -> None:
        from ..rng import as_streams

        R = state.n_reps
        out = {k: np.full(R, np.nan) for k in SURVEY_RECORDS}
        if self.survey_year(state.year):
            streams = as_streams(rng, R)
            pop = state.pop
            n = pop.n
            alive = (pop.cause[:n] == ALIVE) & (pop.status[:n] != DEPENDENT)
            for r in range(R):
                if self.replicate_ids[r] >= self.params.replicates:
                    continue
                rows = np.flatnonzero(alive & (pop.rep[:n] == r))
                seed = (streams.random(r, (4,)) * 2.0**52).astype(np.uint64)
                res = self.survey(self.centres(state, rows), np.random.default_rng(np.random.SeedSequence(list(map(int, seed)))))
                for k, v in res.items():
                    out[k][r] = v
        state.fields["survey"] = out

    def survey(self, centres: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """One survey of animals with activity centres ``centres`` (N × 2, metres): detection,
        photo-ID errors and the SECR fit; the values of :data:`SURVEY_RECORDS`."""
        from ..secr.capthist import CaptHist
        from ..secr.models import secr_fit

        p = self.params
        d, _ = self._tree.query(centres, k=1, p=np.inf) if len(centres) else (np.zeros(0), None)
        on_mask = d <= self.mask.spacing / 2.0 + 1e-9
        res = {k: math.nan for k in SURVEY_RECORDS}
        res["survey_N_true"] = float(on_mask.sum())
        sigma = p.sigma_km * 1000.0
        K, S = len(self.traps), p.occasions
        if len(centres):
            diff = centres[:, None, :] - self.traps[None, :, :]
            g = p.g0 * np.exp(-(diff ** 2).sum(axis=2) / (2.0 * sigma * sigma))  # N x K
            hits = rng.random((len(centres), S, K)) < g[:, None, :]
        else:
            hits = np.zeros((0, S, K), dtype=bool)
        seen = np.flatnonzero(hits.any(axis=(1, 2)))
        res["survey_photographed"] = float(seen.size)
        hits = hits[seen]
        # photo-ID: each detection is matched to its animal, becomes a new identity (missed
        # match) or is given to another photographed animal (false match)
        ident = [hits[i].copy() for i in range(len(seen))]
        det = np.argwhere(hits)  # (animal, occasion, station)
        if len(det) and (p.missed_match > 0 or p.false_match > 0):
            u = rng.random(len(det))
            other = rng.integers(0, max(len(seen) - 1, 1), size=len(det))
            for (i, s, k), ui, oi in zip(det, u, other):
                if ui < p.missed_match:
                    ident[i][s, k] = False
                    ghost = np.zeros((S, K), dtype=bool)
                    ghost[s, k] = True
                    ident.append(ghost)
                elif ui < p.missed_match + p.false_match and len(seen) > 1:
                    j = oi + (oi >= i)  # another photographed animal
                    ident[i][s, k] = False
                    ident[j][s, k] = True
        ident = [h for h in ident if h.any()]
        counts = np.array(ident, dtype=np.int64).reshape(len(ident), S, K)
        res["survey_detected"] = float(len(ident))
        res["survey_detections"] = float(counts.sum())
        if len(ident) < 2 or counts.sum() - len(ident) < 1:
            return res  # too few animals or no recapture: no estimate (NaN), as a real survey
        ch = CaptHist(session="1", ids=tuple(str(i + 1) for i in range(len(ident))), counts=counts,
                      traps=self.traps, trap_ids=tuple(str(k + 1) for k in range(K)), detector="proximity")
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a degenerate fit reports no interval
                fit = secr_fit(ch, self.mask, detectfn="HN", likelihood="full")
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return res
        if not fit.converged or fit.estimates.get("D") is None:
            return res
        area_ha = len(self.mask.xy) * self.mask.area_ha
        D = float(fit.estimates["D"])
        res["survey_D_hat"] = D * 1e4  # animals/ha → per 100 km²
        res["survey_N_hat"] = D * area_ha
        if fit.lcl.get("D") is not None:
            res["survey_N_lcl"] = float(fit.lcl["D"]) * area_ha
            res["survey_N_ucl"] = float(fit.ucl["D"]) * area_ha
        return res
