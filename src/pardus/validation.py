"""Census records and the check of a scenario against them (`pardus validate`).

A record file is a CSV with one row per count:

    year,low,high,estimate,ci_low,ci_high,counted,populations,method,source

- ``year`` — the pardus census year the count is compared with (the census of year Y is the
  population after year Y's births and deaths; a winter count early in Y+1 describes it);
- either ``low`` and ``high`` (a count given as a range, e.g. a snow-track count) or
  ``estimate`` with an optional ``ci_low`` / ``ci_high`` (a statistical estimate and its
  interval);
- ``counted`` — what was counted: ``all_ages``, ``independent`` (animals of a year or more:
  cubs of the year left out, as camera-trap capture–recapture does) or ``adults``;
- ``populations`` — the scenario populations the count covers, joined by ``+``; a name may also
  be a country (``Population.country``): all populations of that country;
- ``method`` and ``source`` — how it was counted and where it is published (required).

The observation model compares like with like: the simulated number of the counted class,
summed over the listed populations, at the census of that year, in every replicate.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

COUNTED = {"all_ages": (0, 1, 2), "independent": (1, 2), "adults": (2,)}  # census stages
COLUMNS = ("year", "low", "high", "estimate", "ci_low", "ci_high", "counted", "populations", "method", "source")
LEVEL = 0.90  # the simulated interval a count is placed in


class RecordError(ValueError):
    """A record file that cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Count:
    year: int
    low: float  # the observed range (a count's low–high, or the estimate's interval; = mid if none)
    high: float
    mid: float  # the observed value: the estimate, or the middle of the range
    counted: str
    populations: tuple[str, ...]
    method: str
    source: str
    line: int

    def observed(self) -> str:
        if self.low == self.high == self.mid:
            return f"{self.mid:g}"
        if self.mid == 0.5 * (self.low + self.high) and self.low != self.high and not math.isnan(self.mid):
            return f"{self.low:g}–{self.high:g}"
        return f"{self.mid:g} [{self.low:g}, {self.high:g}]"


def reporting_units(sc) -> dict[str, tuple[str, ...]]:
    """What a record may name: every population (itself) and every country (its populations);
    a population's own name wins over a country of the same name."""
    units: dict[str, list[str]] = {}
    for name, p in sc.populations.items():
        if p.country and p.country not in sc.populations:
            units.setdefault(p.country, []).append(name)
    for name in sc.populations:
        units[name] = [name]
    return {k: tuple(v) for k, v in units.items()}


def shipped_records() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files("pardus.records").iterdir() if p.name.endswith(".csv"))


def resolve_record(ref: str) -> Path:
    """A record file path, or the name of a shipped record (e.g. ``amur``)."""
    path = Path(ref)
    if path.exists():
        return path
    if not ref.endswith(".csv") and "/" not in ref:
        shipped = resources.files("pardus.records") / f"{ref}.csv"
        if shipped.is_file():
            return Path(str(shipped))
        raise RecordError(f"{ref}: no such record file, and no shipped record of that name — shipped records are: {', '.join(shipped_records())}")
    raise RecordError(f"{ref}: no such record file — give the path of a CSV with the columns {', '.join(COLUMNS)}")


def read_record(ref: str | Path, populations=None, years: tuple[int, int] | None = None) -> list[Count]:
    """Read and check a record file (all problems at once, one line each). With
    ``populations`` (names, or :func:`reporting_units`), the populations of every count inside
    ``years`` (first, last; every count if not given) must be among them: a record may hold
    counts of populations that a scenario starting later no longer has."""
    path = resolve_record(str(ref))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot be read ({exc}) — give a UTF-8 CSV file") from None
    rows = list(csv.reader(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")))
    if not rows:
        raise RecordError(f"{path}: empty — give a header line ({','.join(COLUMNS)}) and one line per count")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("year", "counted", "populations", "method", "source") if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"{path}: line 1: missing column(s) {', '.join(missing)} — the header must name {', '.join(COLUMNS)}")
    if unknown:
        problems.append(f"{path}: line 1: unknown column(s) {', '.join(unknown)} — the columns are {', '.join(COLUMNS)}")
    if problems:
        raise RecordError("\n".join(problems))
    data_lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() and not line.lstrip().startswith("#")][1:]
    out = []
    for row, lineno in zip(rows[1:], data_lines):
        where = f"{path}: line {lineno}"
        if len(row) != len(header):
            problems.append(f"{where}: {len(row)} fields, the header has {len(header)} — quote fields that contain commas")
            continue
        v = {h: cell.strip() for h, cell in zip(header, row)}

        def num(col: str) -> float | None:
            s = v.get(col, "")
            if s == "":
                return None
            try:
                x = float(s)
            except ValueError:
                problems.append(f"{where}: {col} = {s!r} is not a number — write it as e.g. 42 or 41.5, or leave it empty")
                return None
            if not math.isfinite(x) or x < 0:
                problems.append(f"{where}: {col} = {s} — a count is a finite number ≥ 0")
                return None
            return x

        try:
            year = int(v["year"])
        except ValueError:
            problems.append(f"{where}: year = {v['year']!r} is not a year — write it as e.g. 2007")
            continue
        before = len(problems)
        low, high, est, cl, ch = (num(c) for c in ("low", "high", "estimate", "ci_low", "ci_high"))
        if len(problems) > before:  # one message per line: the number that cannot be read
            continue
        if est is None and (low is None or high is None):
            problems.append(f"{where}: neither low and high nor estimate given — a count needs its range (low, high) or an estimate")
            continue
        if est is not None and (low is not None or high is not None):
            problems.append(f"{where}: both a range (low, high) and an estimate — give one: low/high for a count, estimate/ci_low/ci_high for an estimate")
            continue
        if est is None:
            lo, hi, mid = low, high, 0.5 * (low + high)
        else:
            lo = cl if cl is not None else est
            hi = ch if ch is not None else est
            mid = est
            if (cl is None) != (ch is None):
                problems.append(f"{where}: only one of ci_low, ci_high — give both or neither")
                continue
        if lo > hi or not lo <= mid <= hi:
            problems.append(f"{where}: the range {lo:g}–{hi:g} does not hold the value {mid:g} — check the order of the columns")
            continue
        counted = v["counted"]
        if counted not in COUNTED:
            problems.append(f"{where}: counted = {counted!r} — one of {', '.join(COUNTED)}")
            continue
        pops = tuple(p.strip() for p in v["populations"].split("+") if p.strip())
        if not pops:
            problems.append(f"{where}: populations is empty — name the populations the count covers, joined by +")
            continue
        if populations is not None and (years is None or years[0] <= year <= years[1]):
            bad = [p for p in pops if p not in populations]
            if bad:
                problems.append(f"{where}: populations {', '.join(bad)} not in the scenario — it has the populations and countries {', '.join(populations)}")
                continue
        if not v["source"] or not v["method"]:
            problems.append(f"{where}: method and source are required — say how the count was made and where it is published")
            continue
        out.append(Count(year, lo, hi, mid, counted, pops, v["method"], v["source"], lineno))
    if problems:
        raise RecordError("\n".join(problems))
    if not out:
        raise RecordError(f"{path}: no counts — add one line per count under the header")
    return out


def simulated_counts(N: np.ndarray, names: list[str], start_year: int, count: Count, units: dict | None = None) -> np.ndarray | None:
    """The counted class summed over the count's populations at its census year, per replicate
    (``N``: replicate × year × population × sex × stage); None if the year is not in the run.
    ``units`` (:func:`reporting_units`) resolves country names to populations."""
    t = count.year - start_year
    if t < 0 or t >= N.shape[1]:
        return None
    members = [m for p in count.populations for m in (units or {}).get(p, (p,))]
    idx = sorted({names.index(m) for m in members})
    return N[:, t][:, idx][..., list(COUNTED[count.counted])].sum(axis=(1, 2, 3)).astype(float)


@dataclass(frozen=True)
class Placed:
    count: Count
    sim: np.ndarray | None  # the simulated values, one per replicate

    @property
    def in_run(self) -> bool:
        return self.sim is not None

    def quantiles(self) -> tuple[float, float, float]:
        a = (1.0 - LEVEL) / 2
        # order statistics (counts stay whole numbers): the interval holds at least LEVEL of the replicates
        return tuple(float(q) for q in np.quantile(self.sim, [a, 0.5, 1.0 - a], method="inverted_cdf"))

    @property
    def position(self) -> float:
        """Where the observed value falls among the replicates: P(sim < obs) + ½ P(sim = obs)."""
        s = self.sim
        return float((s < self.count.mid).mean() + 0.5 * (s == self.count.mid).mean())

    @property
    def inside(self) -> bool:
        lo, _m, hi = self.quantiles()
        return lo <= self.count.mid <= hi


def place(N: np.ndarray, names: list[str], start_year: int, counts: list[Count], units: dict | None = None) -> list[Placed]:
    return [Placed(c, simulated_counts(N, names, start_year, c, units)) for c in counts]


def coverage(placed: list[Placed]) -> tuple[int, int]:
    """(counts inside the simulated 90 % interval, counts in the run)."""
    inside = [p.inside for p in placed if p.in_run]
    return sum(inside), len(inside)


def table_rows(placed: list[Placed]) -> list[dict]:
    rows = []
    for p in placed:
        c = p.count
        row = {"year": c.year, "counted": c.counted, "populations": "+".join(c.populations), "observed": c.observed(), "observed_value": c.mid}
        if p.in_run:
            lo, med, hi = p.quantiles()
            row.update(sim_low=lo, sim_median=med, sim_high=hi, position=p.position, inside=p.inside)
        else:
            row.update(sim_low=np.nan, sim_median=np.nan, sim_high=np.nan, position=np.nan, inside=None)
        row.update(method=c.method, source=c.source)
        rows.append(row)
    return rows
