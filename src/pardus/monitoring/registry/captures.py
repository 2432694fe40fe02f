"""Capture histories from the registry, for SECR (``pardus id export-captures`` → ``pardus estimate``).

:func:`export_captures` writes two text files in secr's formats, which
:func:`pardus.secr.capthist.read_capthist` (and R's ``secr::read.capthist``) read:

* ``PREFIX.captures.txt`` — one line ``Session ID Occasion Detector`` per detection (with
  ``sex`` as a fifth column, ``F``/``M``/``NA``, when asked for);
* ``PREFIX.traps.txt`` — one line ``Detector x y usage_1 ... usage_S`` per station (x, y in
  metres of the stations' CRS).

**Occasions** are ``n_occasions`` consecutive intervals of ``occasion_days`` days from
``start``: occasion s (1-based) is ``[start + (s-1)·d, start + s·d)``.

**Usage** comes from the stations' working periods: with ``usage="fraction"`` (the default) it
is the fraction of each occasion during which at least one camera of the station was working
(0–1, secr's effort; written with up to 6 decimals, never rounded to 0 when the station worked
at all); with ``usage="binary"`` it is 1 when the station worked at any time during the
occasion, else 0. Stations that did not work during the survey are left out of the detector
file.

**Detections** are the accepted sightings (``confirmed``, ``auto_accepted`` and
``new_individual``; ``proposed`` ones are not counted and reported) whose image time falls in
the survey. ``detector="proximity"`` (camera traps): at most one detection per animal, occasion
and station. ``detector="count"``: the number of independent visits — sightings of one animal at
one station more than ``independence_minutes`` (default 30) after its previous sighting there
start a new visit — per animal, occasion and station. An animal is an individual record
(merged records count as the surviving one); an individual known from one flank only is one
animal. When the survey has both left-only and right-only animals, some of them may be the same
leopards seen from different sides (photo-ID's double counting): the summary warns and gives the
lowest possible number of animals.

A sighting at a time when its station was not working (outside every period) contradicts the
usage: ``inactive="error"`` (default) stops, naming the sightings and the fix;
``inactive="drop"`` leaves them out and lists them in the warnings.

Both files are written to temporary files next to the targets and renamed into place, so an
interrupted export never leaves a half-written or mismatched pair.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .api import _CODE_RE, Registry, _fmt_t
from .db import RegistryError

__all__ = ["CaptureExport", "DETECTORS", "USAGE_KINDS", "export_captures"]

#: Detector types the export writes (camera traps are proximity detectors).
DETECTORS = ("proximity", "count")
#: How usage is written.
USAGE_KINDS = ("fraction", "binary")


@dataclass(frozen=True)
class CaptureExport:
    """What :func:`export_captures` wrote.

    ``usage``: K × S array (detectors in file order × occasions). ``left_only`` /
    ``right_only`` / ``both_flanks`` / ``no_flank``: animal codes by the flanks known in the
    registry; ``n_animals_min``: the number of animals if every animal of the smaller of the
    one-flank groups were one of the other group. ``warnings``: what the user should know
    before estimating.
    """

    captures: Path
    traps: Path
    session: str
    detector: str
    usage_kind: str
    start: datetime
    occasion_days: float
    n_occasions: int
    animals: tuple[str, ...]
    detectors: tuple[str, ...]
    n_detections: int
    usage: np.ndarray
    skipped_stations: tuple[str, ...]
    left_only: tuple[str, ...]
    right_only: tuple[str, ...]
    both_flanks: tuple[str, ...]
    no_flank: tuple[str, ...]
    n_animals_min: int
    n_proposed: int
    dropped: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_animals(self) -> int:
        return len(self.animals)

    @property
    def n_detectors(self) -> int:
        return len(self.detectors)

    def __str__(self) -> str:
        end = self.start + timedelta(days=self.occasion_days * self.n_occasions)
        lines = [
            f"session {self.session}: {self.n_occasions} occasions of {self.occasion_days:g} day(s), "
            f"{_fmt_t(self.start)} – {_fmt_t(end)}",
            f"{self.n_animals} animals, {self.n_detections} detections ({self.detector}) at "
            f"{self.n_detectors} detectors (usage: {self.usage_kind})",
            f"flanks: {len(self.both_flanks)} both, {len(self.left_only)} left only, "
            f"{len(self.right_only)} right only, {len(self.no_flank)} none",
            f"wrote {self.captures} and {self.traps}",
        ]
        if self.skipped_stations:
            lines.append(f"{len(self.skipped_stations)} station(s) did not work during the survey "
                         f"and are not detectors: {', '.join(self.skipped_stations[:10])}"
                         + (" ..." if len(self.skipped_stations) > 10 else ""))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _union(intervals):
    """Union of half-open intervals (start, end or None = open), sorted."""
    out = []
    for a, b in sorted(intervals, key=lambda t: t[0]):
        if out and (out[-1][1] is None or a <= out[-1][1]):
            if out[-1][1] is not None and (b is None or b > out[-1][1]):
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _usage_fraction(union, t0: datetime, t1: datetime) -> float:
    total = (t1 - t0).total_seconds()
    on = 0.0
    for a, b in union:
        lo = max(a, t0)
        hi = t1 if b is None else min(b, t1)
        if hi > lo:
            on += (hi - lo).total_seconds()
    return on / total


def _active(union, t: datetime) -> bool:
    return any(a <= t and (b is None or t < b) for a, b in union)


def _num(v: float) -> str:
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def _usage_text(v: float) -> str:
    if v <= 0:
        return "0"
    v = max(round(v, 6), 1e-6)
    return _num(v)


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def _write_atomically(pairs: Sequence[tuple[Path, str]]) -> None:
    """Write every (path, text) to a temporary file beside it, then rename them all into place."""
    tmps: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()
    try:
        for path, text in pairs:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            tmps.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        for tmp, path in tmps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in tmps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def export_captures(registry: Registry, out_prefix, *, start, occasion_days: float,
                    n_occasions: int, detector: str = "proximity", session: str = "S1",
                    usage: str = "fraction", stations: Optional[Sequence[str]] = None,
                    inactive: str = "error", sex: bool = False,
                    independence_minutes: float = 30.0) -> CaptureExport:
    """Write secr capture histories and the detector layout with usage for one survey session.

    ``out_prefix``: files ``PREFIX.captures.txt`` and ``PREFIX.traps.txt`` (the folder must
    exist). ``start``: the start of occasion 1 (aware, or naive in the registry's time zone);
    ``occasion_days``: the length of an occasion in days (> 0, may be fractional);
    ``n_occasions``: how many. ``detector``: ``proximity`` or ``count``. ``session``: the
    session label. ``usage``: ``fraction`` or ``binary`` (see the module docstring).
    ``stations``: codes of the stations of the survey (default: every station that worked during
    it). ``inactive``: ``error`` or ``drop`` for sightings outside their station's working
    periods. ``sex``: add the individual covariate ``sex`` (``F``, ``M``, ``NA``).
    ``independence_minutes``: the gap that separates visits (``count`` only).

    Returns a :class:`CaptureExport`; raises :class:`RegistryError` (nothing written) when an
    argument is wrong, the stations use different CRSs, a sighting falls outside its station's
    working periods (``inactive="error"``) or the survey has no detections.
    """
    if detector not in DETECTORS:
        hint = (" (camera traps are proximity detectors: an animal can be photographed at several "
                "stations in one occasion)" if detector in ("multi", "single") else "")
        raise RegistryError(f"detector {detector!r}{hint}. Fix: use one of {', '.join(DETECTORS)}")
    if usage not in USAGE_KINDS:
        raise RegistryError(f"usage {usage!r}. Fix: use 'fraction' (share of each occasion the "
                            "station worked) or 'binary' (worked at all: 1, else 0)")
    if inactive not in ("error", "drop"):
        raise RegistryError(f"inactive {inactive!r}. Fix: use 'error' or 'drop'")
    if not isinstance(session, str) or not _CODE_RE.match(session) or len(session) > 64:
        raise RegistryError(f"session label {session!r}. Fix: use letters, digits and . _ : + - "
                            "(no blanks, commas or '#')")
    try:
        d_days = float(occasion_days)
    except (TypeError, ValueError):
        d_days = float("nan")
    if not math.isfinite(d_days) or d_days <= 0:
        raise RegistryError(f"occasion_days {occasion_days!r}. Fix: give the length of an occasion "
                            "in days, a number > 0 (e.g. 1, or 7 for weekly occasions)")
    if isinstance(n_occasions, bool) or not isinstance(n_occasions, (int, np.integer)) or n_occasions < 1:
        raise RegistryError(f"n_occasions {n_occasions!r}. Fix: give a whole number >= 1")
    n_occ = int(n_occasions)
    try:
        gap_min = float(independence_minutes)
    except (TypeError, ValueError):
        gap_min = float("nan")
    if not math.isfinite(gap_min) or gap_min < 0:
        raise RegistryError(f"independence_minutes {independence_minutes!r}. Fix: give minutes >= 0")
    prefix = Path(out_prefix)
    if prefix.is_dir():
        raise RegistryError(f"output prefix {prefix} is a folder. Fix: give a prefix such as "
                            f"{prefix / 'survey'} (files survey.captures.txt and survey.traps.txt)")
    if not prefix.parent.is_dir():
        raise RegistryError(f"output prefix {prefix}: the folder {prefix.parent} does not exist. Fix: "
                            f"create it (mkdir -p {prefix.parent})")
    cap_path = prefix.parent / (prefix.name + ".captures.txt")
    trap_path = prefix.parent / (prefix.name + ".traps.txt")

    t0 = registry._when(start, "survey start")
    step = timedelta(days=d_days)
    bounds = [t0 + i * step for i in range(n_occ + 1)]
    t_end = bounds[-1]

    all_stations = {st.code: st for st in registry.stations()}
    if stations is not None:
        chosen = list(dict.fromkeys(stations))
        missing = [c for c in chosen if c not in all_stations]
        if missing:
            raise RegistryError(f"station(s) {', '.join(map(str, missing))} not in the registry. Fix: "
                                "correct the codes, or add the stations first")
    else:
        chosen = sorted(all_stations)
    periods: dict[str, list] = {c: [] for c in chosen}
    for p in registry.station_periods():
        if p.station in periods:
            periods[p.station].append((p.start, p.end))
    unions = {c: _union(v) for c, v in periods.items()}

    det_codes, use_rows, skipped = [], [], []
    for c in chosen:
        row = np.array([_usage_fraction(unions[c], bounds[i], bounds[i + 1]) for i in range(n_occ)])
        if (row > 0).any():
            det_codes.append(c)
            use_rows.append(row if usage == "fraction" else (row > 0).astype(float))
        else:
            skipped.append(c)
    crss = sorted({all_stations[c].crs for c in det_codes})
    if len(crss) > 1:
        raise RegistryError(f"the stations of the survey use different coordinate systems ({', '.join(crss)}). "
                            "Fix: export stations of one CRS (stations=...), or re-register them in one CRS")
    index = {c: k for k, c in enumerate(det_codes)}

    # individuals: live code, sex and known flanks
    people = {i.code: i for i in registry.individuals(include_merged=True)}

    def live(code: str) -> str:
        seen = set()
        while people[code].merged_into is not None and code not in seen:
            seen.add(code)
            code = people[code].merged_into
        return code

    chosen_set = set(chosen)
    rows = [sg for sg in registry.sightings(t0, t_end, include_proposed=True) if sg.station in chosen_set]
    n_proposed = sum(1 for sg in rows if sg.status == "proposed")
    accepted = [sg for sg in rows if sg.status != "proposed"]

    bad, dropped = [], []
    events: list[tuple[str, int, str, datetime]] = []  # (animal, occasion 0-based, station, time)
    for sg in accepted:
        if not _active(unions[sg.station], sg.recorded_at):
            desc = (f"image {sg.sha256[:12]} ({live(sg.individual)}, station {sg.station}, "
                    f"{_fmt_t(sg.recorded_at)})")
            (bad if inactive == "error" else dropped).append(desc)
            continue
        occ = min(int((sg.recorded_at - t0) / step), n_occ - 1)
        while sg.recorded_at < bounds[occ]:
            occ -= 1
        while sg.recorded_at >= bounds[occ + 1]:
            occ += 1
        events.append((live(sg.individual), occ, sg.station, sg.recorded_at))
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise RegistryError(
            f"{len(bad)} accepted sighting(s) fall outside every working period of their station: "
            f"{shown}. Nothing was written. Fix: add the missing working periods (add_station_period "
            "or the station CSV), correct the image times, or export with inactive='drop' to leave "
            "them out")

    counts: dict[tuple[str, int, str], int] = {}
    if detector == "proximity":
        for a, occ, st, _ in events:
            counts[(a, occ, st)] = 1
    else:
        gap = timedelta(minutes=gap_min)
        last: dict[tuple[str, str], datetime] = {}
        for a, occ, st, t in sorted(events, key=lambda e: (e[0], e[2], e[3])):
            prev = last.get((a, st))
            if prev is None or t - prev > gap or _occasion_changed(prev, t, t0, step):
                counts[(a, occ, st)] = counts.get((a, occ, st), 0) + 1
            last[(a, st)] = t
    if not counts:
        raise RegistryError(
            f"no accepted sightings at {len(det_codes)} working station(s) between {_fmt_t(t0)} and "
            f"{_fmt_t(t_end)}"
            + (f" ({n_proposed} proposed sighting(s) await a decision)" if n_proposed else "")
            + ". Nothing was written. Fix: check the survey start and length, confirm the "
              "sightings (record_decision), or add the stations' working periods")

    animals = sorted({a for a, _, _ in counts})
    sides = {a: set(people[a].sides) for a in animals}
    left_only = tuple(a for a in animals if sides[a] == {"left"})
    right_only = tuple(a for a in animals if sides[a] == {"right"})
    both = tuple(a for a in animals if sides[a] == {"left", "right"})
    none = tuple(a for a in animals if not sides[a])
    n_min = len(animals) - min(len(left_only), len(right_only))

    warnings = []
    if left_only and right_only:
        warnings.append(
            f"{len(left_only)} animal(s) are known from the left flank only and {len(right_only)} from "
            f"the right flank only: some may be the same leopards photographed from different sides, "
            f"so the {len(animals)} animals may be as few as {n_min}. Fix: look for images showing "
            "both flanks (paired cameras, a turning animal) and merge records of one animal "
            "(merge_individuals); estimate from one flank's histories to avoid double counting")
    if n_proposed:
        warnings.append(f"{n_proposed} proposed sighting(s) in the survey are not counted. Fix: "
                        "review them (record_decision)")
    if dropped:
        warnings.append(f"{len(dropped)} sighting(s) outside their station's working periods were "
                        f"left out: {'; '.join(dropped[:10])}" + (" ..." if len(dropped) > 10 else ""))

    usage_arr = np.asarray(use_rows, dtype=float).reshape(len(det_codes), n_occ)
    crs = crss[0] if crss else "unknown CRS"
    start_txt = _fmt_t(t0)
    cap_lines = [
        f"# Capture histories exported by pardus from the individual registry {registry.url}",
        f"# session {session}: {n_occ} occasions of {d_days:g} day(s) from {start_txt}; detector "
        f"{detector}; accepted sightings only",
        "# " + " ".join(["Session", "ID", "Occasion", "Detector"] + (["sex"] if sex else [])),
    ]
    sex_code = {"female": "F", "male": "M"}
    for (a, occ, st), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], index[kv[0][2]])):
        fields = [session, a, str(occ + 1), st] + ([sex_code.get(people[a].sex, "NA")] if sex else [])
        cap_lines.extend([" ".join(fields)] * n)
    trap_lines = [
        f"# Detectors exported by pardus from the individual registry {registry.url}",
        f"# x y: metres in {crs}; usage: "
        + ("the fraction of each occasion the station worked" if usage == "fraction"
           else "1 when the station worked during the occasion, else 0")
        + f" ({n_occ} occasions of {d_days:g} day(s) from {start_txt})",
        "# Detector x y usage",
    ]
    for k, c in enumerate(det_codes):
        st = all_stations[c]
        trap_lines.append(" ".join([c, _num(st.x), _num(st.y)] + [_usage_text(u) for u in usage_arr[k]]))
    _write_atomically([(cap_path, "\n".join(cap_lines) + "\n"), (trap_path, "\n".join(trap_lines) + "\n")])

    return CaptureExport(
        captures=cap_path, traps=trap_path, session=session, detector=detector, usage_kind=usage,
        start=t0, occasion_days=d_days, n_occasions=n_occ, animals=tuple(animals),
        detectors=tuple(det_codes), n_detections=sum(counts.values()), usage=usage_arr,
        skipped_stations=tuple(skipped), left_only=left_only, right_only=right_only,
        both_flanks=both, no_flank=none, n_animals_min=n_min, n_proposed=n_proposed,
        dropped=tuple(dropped), warnings=tuple(warnings))


def _occasion_changed(prev: datetime, t: datetime, t0: datetime, step: timedelta) -> bool:
    """A visit that runs over an occasion boundary counts again in the new occasion."""
    return int((prev - t0) / step) != int((t - t0) / step)
