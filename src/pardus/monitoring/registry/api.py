"""The verbs of the individual registry: :class:`Registry`.

Open one with :func:`pardus.monitoring.registry.open_registry`; use it as a context manager::

    with open_registry("leopards.sqlite", timezone="Asia/Vladivostok") as reg:
        reg.import_stations_csv("stations.csv")
        added = reg.add_image("card07/IMG_0042.JPG", "2024-03-05 04:12:09", "ST-017")
        ...

**Return values** are plain frozen dataclasses (:class:`StationInfo`, :class:`ImageInfo`, ...)
read inside the transaction that made or read them: they never touch the database again (no
lazy loading, no detached-instance errors) and can be kept, compared and passed between
threads. Every verb that takes a station, camera, individual, flank or image accepts the
dataclass, its code (station code, camera serial, individual code, image SHA-256) or its id.

**Transactions**: every verb runs in its own transaction and commits when it returns; inside
``with reg.transaction():`` verbs share one transaction (each in a SAVEPOINT, so a verb that
raises leaves the others of the block intact) that commits at the end of the block — the way to
import many images quickly. A :class:`Registry` is not thread-safe: give each thread its own.

**Times** (image times, station periods, decisions) are stored in UTC. Aware datetimes are
converted; naive datetimes, dates and ISO 8601 text without an offset are read in the registry's
``timezone`` (camera clocks are local time; ``Asia/Vladivostok`` is UTC+10 all year) and refused
when the registry has none. A date alone is 00:00 of that day. Station periods are half-open
intervals ``[start, end)``; ``end`` None means the camera is still working.

**Identification**: a :class:`~.models.MatchDecision` is one decision on one detection box of an
image about one candidate individual (and flank). The history is kept; the latest decision (by
``decided_at``, then by the order recorded) wins: replaying the history of an image box in time
order, an accepting decision (``confirmed``, ``auto_accepted``, ``new_individual``) makes its
candidate the identification, and a ``rejected`` decision withdraws the identification when it
rejects the candidate identified then (a rejection of another candidate changes nothing). The
result is kept in ``sightings`` (one per image and box), which is what queries and capture
histories read. A sighting recorded without a decision is ``proposed`` and does not count.

**Merging**: when two records turn out to be one leopard (typically one known from the left
flank only, the other from the right flank only), :meth:`Registry.merge_individuals` keeps
the first, moves the other's flanks and sightings to it and records who merged and when. The
merged record stays (its code keeps resolving, to the surviving record, wherever an individual
is given).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import numbers
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timezone as dt_timezone
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .db import RegistryError
from .models import (
    ACCEPTED_STATUSES,
    DECISIONS,
    DEFAULT_CRS,
    METHODS,
    SEXES,
    SIDES,
    TIME_SOURCES,
    Camera,
    Flank,
    Image,
    ImportBatch,
    Individual,
    MatchDecision,
    Merge,
    Sighting,
    Station,
    StationPeriod,
    utcnow,
)

__all__ = [
    "AddedImage",
    "BatchInfo",
    "CameraInfo",
    "DecisionInfo",
    "FlankInfo",
    "ImageInfo",
    "IndividualInfo",
    "MergeInfo",
    "PeriodInfo",
    "Registry",
    "SightingInfo",
    "StationImport",
    "StationInfo",
    "image_sha256",
]

UTC = dt_timezone.utc
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+\-]*\Z")
_SHA_RE = re.compile(r"[0-9a-f]{64}\Z")
_CSV_COLUMNS = ("station", "x", "y", "start", "end", "camera", "notes")


# --------------------------------------------------------------------------------------------
# return values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationInfo:
    """A station: ``x``, ``y`` in metres in ``crs``."""

    id: int
    code: str
    x: float
    y: float
    crs: str
    notes: Optional[str] = None


@dataclass(frozen=True)
class CameraInfo:
    id: int
    serial: str
    model: Optional[str] = None
    notes: Optional[str] = None


@dataclass(frozen=True)
class PeriodInfo:
    """When a station's camera was working: ``[start, end)`` in UTC (``end`` None: still)."""

    id: int
    station: str
    start: datetime
    end: Optional[datetime]
    camera: Optional[str] = None
    notes: Optional[str] = None


@dataclass(frozen=True)
class StationImport:
    """What :meth:`Registry.import_stations_csv` did."""

    path: str
    stations_added: tuple[str, ...]
    stations_existing: tuple[str, ...]
    periods_added: int
    periods_existing: int
    cameras_added: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.path}: {len(self.stations_added)} station(s) added, "
                f"{len(self.stations_existing)} already known; {self.periods_added} working "
                f"period(s) added, {self.periods_existing} already recorded; "
                f"{len(self.cameras_added)} camera(s) added")


@dataclass(frozen=True)
class BatchInfo:
    id: int
    label: str
    source: Optional[str]
    imported_by: Optional[str]
    created_at: datetime


@dataclass(frozen=True)
class ImageInfo:
    """An image. ``recorded_at`` UTC; ``width``/``height`` pixels; ``bbox`` MegaDetector's
    (x, y, w, h) as fractions of the image size, top-left origin; ``confidence`` 0–1."""

    id: int
    sha256: str
    path: str
    recorded_at: datetime
    station: str
    camera: Optional[str]
    width: Optional[int]
    height: Optional[int]
    side: Optional[str]
    bbox: Optional[tuple[float, float, float, float]]
    confidence: Optional[float]
    batch_id: Optional[int]
    time_source: str
    imported_at: datetime


@dataclass(frozen=True)
class AddedImage:
    """The result of :meth:`Registry.add_image`: the image, whether it was new, and a message
    (for a duplicate: which image it is and where the copies disagree)."""

    image: ImageInfo
    created: bool
    message: str

    @property
    def duplicate(self) -> bool:
        return not self.created


@dataclass(frozen=True)
class IndividualInfo:
    """A known leopard. ``sides``: the flanks known; ``first_seen``/``last_seen`` (UTC) and
    ``n_sightings`` from its accepted sightings; ``merged_into``: the code of the record it was
    merged into (None for a live record)."""

    id: int
    code: str
    sex: Optional[str]
    notes: Optional[str]
    created_at: datetime
    created_by: Optional[str]
    merged_into: Optional[str]
    sides: tuple[str, ...]
    first_seen: Optional[datetime]
    last_seen: Optional[datetime]
    n_sightings: int


@dataclass(frozen=True)
class FlankInfo:
    """One flank of an individual. ``merged_into``: id of the flank it was merged into."""

    id: int
    individual: str
    side: str
    created_at: datetime
    notes: Optional[str] = None
    merged_into: Optional[int] = None


@dataclass(frozen=True)
class SightingInfo:
    """The identification of one box of one image: time (UTC) and station are the image's."""

    id: int
    image_id: int
    sha256: str
    box: int
    individual: str
    side: Optional[str]
    flank_id: Optional[int]
    station: str
    recorded_at: datetime
    status: str
    decision_id: Optional[int]


@dataclass(frozen=True)
class DecisionInfo:
    """One match decision (see the module docstring for how the latest one wins)."""

    id: int
    image_id: int
    box: int
    individual: str
    flank_id: Optional[int]
    side: Optional[str]
    score: Optional[float]
    rank: Optional[int]
    decision: str
    method: str
    decided_by: str
    decided_at: datetime
    note: Optional[str]


@dataclass(frozen=True)
class MergeInfo:
    """One merge: ``merged`` is the same animal as ``kept``."""

    id: int
    kept: str
    merged: str
    merged_by: str
    merged_at: datetime
    note: Optional[str]
    flanks_moved: tuple[str, ...]
    flanks_merged: tuple[str, ...]
    sightings_moved: int


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def image_sha256(source) -> str:
    """SHA-256 (64 lower-case hex digits) of an image: a path (read in 1 MiB blocks) or bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    path = Path(source)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise RegistryError(f"image {path}: cannot read it ({exc.strerror}). Fix: give the path of "
                            "an existing image file") from None
    return h.hexdigest()


def _check_code(kind: str, value, maxlen: int) -> str:
    if not isinstance(value, str) or not _CODE_RE.match(value) or len(value) > maxlen:
        raise RegistryError(
            f"{kind} {value!r} is not a valid code. Fix: use 1–{maxlen} characters: letters, digits "
            "and . _ : + - (starting with a letter or digit; no blanks, commas, quotes or '#', "
            "since the code becomes a label in secr's text files)")
    return value


def _check_side(value, what: str = "side") -> Optional[str]:
    if value is None:
        return None
    if value not in SIDES:
        raise RegistryError(f"{what} {value!r} is not a flank side. Fix: use 'left' or 'right' "
                            "(or None when unknown)")
    return value


def _check_by(by, what: str = "by") -> str:
    if not isinstance(by, str) or not by.strip():
        raise RegistryError(f"{what} {by!r}: who decided must be named. Fix: give {what}='name' "
                            "(a person, or for automatic decisions the matcher and its version)")
    if len(by) > 128:
        raise RegistryError(f"{what} {by[:40]!r}... is {len(by)} characters long. Fix: at most 128")
    return by.strip()


def _finite(value, what: str, *, lo=None, hi=None, positive=False) -> Optional[float]:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"{what} {value!r} is not a number. Fix: give a number") from None
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi) \
            or (positive and v <= 0):
        rng = f" in [{lo}, {hi}]" if lo is not None and hi is not None else (" > 0" if positive else "")
        raise RegistryError(f"{what} {value!r} is out of range. Fix: give a finite number{rng}")
    return v


def _int(value, what: str, *, minimum: int) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not (isinstance(value, numbers.Integral)
                                       or (isinstance(value, float) and value.is_integer())):
        raise RegistryError(f"{what} {value!r} is not a whole number. Fix: give an integer >= {minimum}")
    v = int(value)
    if v < minimum:
        raise RegistryError(f"{what} {value!r} is below {minimum}. Fix: give an integer >= {minimum}")
    return v


def _overlaps(a0, a1, b0, b1) -> bool:
    """Half-open intervals [a0, a1) and [b0, b1) overlap (None end = open)."""
    return (b1 is None or a0 < b1) and (a1 is None or b0 < a1)


def _fmt_t(t: Optional[datetime]) -> str:
    return "open" if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------


class Registry:
    """The individual registry on one database (see the module docstring).

    Made by :func:`~pardus.monitoring.registry.open_registry`; ``engine`` is the SQLAlchemy
    engine, ``timezone`` the IANA zone naive times are read in (None: refuse naive times).
    """

    def __init__(self, engine, *, timezone: Optional[str] = None):
        self.engine = engine
        self.timezone = timezone
        self._tz = None
        if timezone is not None:
            try:
                self._tz = ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError, TypeError):
                raise RegistryError(f"time zone {timezone!r} is not known. Fix: give an IANA name "
                                    "such as 'Asia/Vladivostok' or 'UTC'") from None
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._batch: Optional[Session] = None

    # ---- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every connection of the registry."""
        self.engine.dispose()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A SQLAlchemy :class:`~sqlalchemy.orm.Session` in a transaction of its own (commits
        when the block ends, rolls back on an exception), for queries the verbs do not offer."""
        with self._sessions.begin() as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator["Registry"]:
        """Run the verbs of the block in one transaction (each in a SAVEPOINT); commit at the
        end, roll everything back when the block raises."""
        if self._batch is not None:
            with self._batch.begin_nested():
                yield self
            return
        with self._sessions.begin() as s:
            self._batch = s
            try:
                yield self
            finally:
                self._batch = None

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            if self._batch is not None:
                with self._batch.begin_nested():
                    yield self._batch
            else:
                with self._sessions.begin() as s:
                    yield s
        except IntegrityError as exc:
            detail = " ".join(str(exc.orig).split("\n")[0].split())
            raise RegistryError(f"registry {self.url}: the database refused the change ({detail}). "
                                "Fix: another process may have written the same record at the "
                                "same time; read it back and retry") from exc
        except OperationalError as exc:
            detail = " ".join(str(exc.orig).split("\n")[0].split())
            raise RegistryError(f"registry {self.url}: the database failed ({detail}). Fix: check "
                                "that the server is running (or, for SQLite, that no other "
                                "program holds a long write lock) and retry") from exc

    # ---- times -----------------------------------------------------------------------------

    def _when(self, value, what: str) -> datetime:
        """An aware UTC datetime from a datetime, date or ISO 8601 text."""
        if isinstance(value, str):
            text = value.strip()
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise RegistryError(f"{what} {value!r} is not a date or time. Fix: write ISO 8601, "
                                    "e.g. 2024-05-01, 2024-05-01T06:30:00 or "
                                    "2024-05-01T06:30:00+10:00") from None
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, dtime())
        elif not isinstance(value, datetime):
            raise RegistryError(f"{what} {value!r} ({type(value).__name__}) is not a time. Fix: give "
                                "a datetime, a date or ISO 8601 text")
        if value.tzinfo is None or value.utcoffset() is None:
            if self._tz is None:
                raise RegistryError(
                    f"{what} {value.isoformat()} has no time zone. Fix: give the offset (e.g. "
                    f"{value.isoformat()}+10:00, or an aware datetime), or open the registry with "
                    "timezone='Asia/Vladivostok' (the zone of the camera clocks) to read naive times "
                    "in it")
            value = value.replace(tzinfo=self._tz)
        return value.astimezone(UTC)

    def _when_opt(self, value, what: str) -> Optional[datetime]:
        return None if value is None or (isinstance(value, str) and not value.strip()) else self._when(value, what)

    # ---- look-ups (inside a session) -------------------------------------------------------

    def _station(self, s: Session, ref) -> Station:
        if isinstance(ref, StationInfo):
            st = s.get(Station, ref.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            st = s.get(Station, ref)
        elif isinstance(ref, str):
            st = s.scalar(select(Station).where(Station.code == ref))
        else:
            raise RegistryError(f"station {ref!r}: give a station code, id or StationInfo")
        if st is None:
            raise RegistryError(f"station {getattr(ref, 'code', ref)!r} is not in the registry. Fix: add "
                                "it first (add_station or import_stations_csv), or correct the code")
        return st

    def _camera(self, s: Session, ref, *, create: bool = False) -> Optional[Camera]:
        if ref is None:
            return None
        if isinstance(ref, CameraInfo):
            cam = s.get(Camera, ref.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            cam = s.get(Camera, ref)
        elif isinstance(ref, str):
            cam = s.scalar(select(Camera).where(Camera.serial == ref))
            if cam is None and create:
                cam = Camera(serial=_check_code("camera serial", ref, 64))
                s.add(cam)
                s.flush()
        else:
            raise RegistryError(f"camera {ref!r}: give a camera serial, id or CameraInfo")
        if cam is None:
            raise RegistryError(f"camera {getattr(ref, 'serial', ref)!r} is not in the registry. "
                                "Fix: add it first (add_camera), or correct the serial")
        return cam

    def _batch_row(self, s: Session, ref) -> Optional[ImportBatch]:
        if ref is None:
            return None
        bid = ref.id if isinstance(ref, BatchInfo) else ref
        b = s.get(ImportBatch, bid) if isinstance(bid, int) else None
        if b is None:
            raise RegistryError(f"import batch {ref!r} is not in the registry. Fix: make one with "
                                "new_batch() and pass it, or its id")
        return b

    def _individual(self, s: Session, ref, *, resolve: bool = True) -> Individual:
        if isinstance(ref, IndividualInfo):
            ind = s.get(Individual, ref.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            ind = s.get(Individual, ref)
        elif isinstance(ref, str):
            ind = s.scalar(select(Individual).where(Individual.code == ref))
        else:
            raise RegistryError(f"individual {ref!r}: give an individual code, id or IndividualInfo")
        if ind is None:
            raise RegistryError(f"individual {getattr(ref, 'code', ref)!r} is not in the registry. Fix: "
                                "correct the code, or make the individual with new_individual()")
        if resolve:
            seen = set()
            while ind.merged_into_id is not None and ind.id not in seen:
                seen.add(ind.id)
                ind = s.get(Individual, ind.merged_into_id)
        return ind

    def _live_flank(self, s: Session, flank: Flank) -> Flank:
        seen = set()
        while flank.merged_into_id is not None and flank.id not in seen:
            seen.add(flank.id)
            flank = s.get(Flank, flank.merged_into_id)
        return flank

    def _flank(self, s: Session, ref) -> Flank:
        if isinstance(ref, FlankInfo):
            fl = s.get(Flank, ref.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            fl = s.get(Flank, ref)
        elif isinstance(ref, tuple) and len(ref) == 2:
            ind = self._individual(s, ref[0])
            side = _check_side(ref[1])
            fl = s.scalar(select(Flank).where(Flank.individual_id == ind.id, Flank.side == side))
            if fl is None:
                raise RegistryError(f"individual {ind.code} has no {side} flank. Fix: add it with "
                                    f"add_flank({ind.code!r}, {side!r}), or give the other side")
        else:
            raise RegistryError(f"flank {ref!r}: give a FlankInfo, a flank id or (individual, side)")
        if fl is None:
            raise RegistryError(f"flank {ref!r} is not in the registry. Fix: list them with flanks()")
        return self._live_flank(s, fl)

    def _image(self, s: Session, ref) -> Image:
        if isinstance(ref, (ImageInfo,)):
            img = s.get(Image, ref.id)
        elif isinstance(ref, AddedImage):
            img = s.get(Image, ref.image.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            img = s.get(Image, ref)
        elif isinstance(ref, str):
            if not _SHA_RE.match(ref.lower()):
                raise RegistryError(f"image {ref!r}: not a SHA-256 (64 hex digits). Fix: give the "
                                    "image's SHA-256, its id or an ImageInfo")
            img = s.scalar(select(Image).where(Image.sha256 == ref.lower()))
        else:
            raise RegistryError(f"image {ref!r}: give an ImageInfo, an image id or its SHA-256")
        if img is None:
            raise RegistryError(f"image {ref if not isinstance(ref, ImageInfo) else ref.sha256!r} is "
                                "not in the registry. Fix: add it with add_image() first")
        return img

    # ---- to dataclasses --------------------------------------------------------------------

    @staticmethod
    def _station_info(st: Station) -> StationInfo:
        return StationInfo(st.id, st.code, st.x, st.y, st.crs, st.notes)

    @staticmethod
    def _camera_info(c: Camera) -> CameraInfo:
        return CameraInfo(c.id, c.serial, c.model, c.notes)

    @staticmethod
    def _batch_info(b: ImportBatch) -> BatchInfo:
        return BatchInfo(b.id, b.label, b.source, b.imported_by, b.created_at)

    @staticmethod
    def _image_info(img: Image, station_code: str, camera_serial: Optional[str]) -> ImageInfo:
        bbox = None
        if img.bbox_x is not None:
            bbox = (img.bbox_x, img.bbox_y, img.bbox_w, img.bbox_h)
        return ImageInfo(img.id, img.sha256, img.path, img.recorded_at, station_code, camera_serial,
                         img.width, img.height, img.side, bbox, img.detection_confidence,
                         img.batch_id, img.time_source, img.imported_at)

    def _image_info_s(self, s: Session, img: Image) -> ImageInfo:
        code = s.scalar(select(Station.code).where(Station.id == img.station_id))
        serial = None if img.camera_id is None else s.scalar(
            select(Camera.serial).where(Camera.id == img.camera_id))
        return self._image_info(img, code, serial)

    @staticmethod
    def _images_select():
        return (select(Image, Station.code, Camera.serial)
                .join(Station, Image.station_id == Station.id)
                .outerjoin(Camera, Image.camera_id == Camera.id))

    def _period_info(self, s: Session, p: StationPeriod) -> PeriodInfo:
        code = s.scalar(select(Station.code).where(Station.id == p.station_id))
        serial = None if p.camera_id is None else s.scalar(
            select(Camera.serial).where(Camera.id == p.camera_id))
        return PeriodInfo(p.id, code, p.start_at, p.end_at, serial, p.notes)

    def _flank_info(self, s: Session, fl: Flank) -> FlankInfo:
        code = s.scalar(select(Individual.code).where(Individual.id == fl.individual_id))
        return FlankInfo(fl.id, code, fl.side, fl.created_at, fl.notes, fl.merged_into_id)

    def _individual_infos(self, s: Session, rows: Sequence[Individual]) -> list[IndividualInfo]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        agg = {}
        for chunk in _chunks(ids, 500):
            stmt = (select(Sighting.individual_id, func.min(Image.recorded_at),
                           func.max(Image.recorded_at), func.count(Sighting.id))
                    .join(Image, Image.id == Sighting.image_id)
                    .where(Sighting.status.in_(ACCEPTED_STATUSES), Sighting.individual_id.in_(chunk))
                    .group_by(Sighting.individual_id))
            for iid, first, last, n in s.execute(stmt):
                agg[iid] = (first, last, int(n))
        sides: dict[int, list[str]] = {}
        for chunk in _chunks(ids, 500):
            for iid, side in s.execute(select(Flank.individual_id, Flank.side).where(
                    Flank.individual_id.in_(chunk), Flank.merged_into_id.is_(None))):
                sides.setdefault(iid, []).append(side)
        merged_codes = {}
        targets = {r.merged_into_id for r in rows if r.merged_into_id is not None}
        if targets:
            for iid, code in s.execute(select(Individual.id, Individual.code).where(Individual.id.in_(targets))):
                merged_codes[iid] = code
        out = []
        for r in rows:
            first, last, n = agg.get(r.id, (None, None, 0))
            out.append(IndividualInfo(r.id, r.code, r.sex, r.notes, r.created_at, r.created_by,
                                      merged_codes.get(r.merged_into_id), tuple(sorted(sides.get(r.id, []))),
                                      first, last, n))
        return out

    def _decision_info(self, s: Session, d: MatchDecision) -> DecisionInfo:
        code = s.scalar(select(Individual.code).where(Individual.id == d.individual_id))
        side = None if d.flank_id is None else s.scalar(select(Flank.side).where(Flank.id == d.flank_id))
        return DecisionInfo(d.id, d.image_id, d.box, code, d.flank_id, side, d.score, d.rank,
                            d.decision, d.method, d.decided_by, d.decided_at, d.note)

    def _sighting_infos(self, s: Session, stmt) -> list[SightingInfo]:
        out = []
        for sg, sha, t, st_code, ind_code, side in s.execute(stmt):
            out.append(SightingInfo(sg.id, sg.image_id, sha, sg.box, ind_code, side, sg.flank_id,
                                    st_code, t, sg.status, sg.decision_id))
        return out

    @staticmethod
    def _sightings_select():
        return (select(Sighting, Image.sha256, Image.recorded_at, Station.code, Individual.code, Flank.side)
                .join(Image, Image.id == Sighting.image_id)
                .join(Station, Station.id == Image.station_id)
                .join(Individual, Individual.id == Sighting.individual_id)
                .outerjoin(Flank, Flank.id == Sighting.flank_id))

    # ---- cameras and stations --------------------------------------------------------------

    def add_camera(self, serial: str, *, model: Optional[str] = None, notes: Optional[str] = None) -> CameraInfo:
        """Register a camera unit by its serial number."""
        _check_code("camera serial", serial, 64)
        with self._tx() as s:
            if s.scalar(select(Camera.id).where(Camera.serial == serial)) is not None:
                raise RegistryError(f"camera {serial!r} is already in the registry. Fix: use it as it "
                                    "is, or give another serial")
            cam = Camera(serial=serial, model=model, notes=notes)
            s.add(cam)
            s.flush()
            return self._camera_info(cam)

    def cameras(self) -> list[CameraInfo]:
        with self._tx() as s:
            return [self._camera_info(c) for c in s.scalars(select(Camera).order_by(Camera.serial))]

    def add_station(self, code: str, x: float, y: float, *, crs: str = DEFAULT_CRS,
                    notes: Optional[str] = None) -> StationInfo:
        """Register a station at ``x``, ``y`` (metres, easting and northing in ``crs``)."""
        _check_code("station code", code, 64)
        x = _finite(x, f"station {code}: x")
        y = _finite(y, f"station {code}: y")
        if not isinstance(crs, str) or not crs.strip() or len(crs) > 64:
            raise RegistryError(f"station {code}: crs {crs!r}. Fix: name the projected CRS of x, y, "
                                "e.g. 'EPSG:32652'")
        with self._tx() as s:
            if s.scalar(select(Station.id).where(Station.code == code)) is not None:
                raise RegistryError(f"station {code!r} is already in the registry. Fix: use it as it "
                                    "is, or give another code")
            st = Station(code=code, x=x, y=y, crs=crs, notes=notes)
            s.add(st)
            s.flush()
            return self._station_info(st)

    def get_station(self, code) -> StationInfo:
        with self._tx() as s:
            return self._station_info(self._station(s, code))

    def stations(self) -> list[StationInfo]:
        """All stations, by code."""
        with self._tx() as s:
            return [self._station_info(st) for st in s.scalars(select(Station).order_by(Station.code))]

    def _period_conflict(self, s: Session, station_id: int, camera_id, start, end, *, exclude=None):
        q = select(StationPeriod).where(StationPeriod.station_id == station_id)
        q = q.where(StationPeriod.camera_id.is_(None) if camera_id is None else StationPeriod.camera_id == camera_id)
        for p in s.scalars(q):
            if p.id != exclude and _overlaps(start, end, p.start_at, p.end_at):
                return p
        return None

    def add_station_period(self, station, start, end=None, *, camera=None,
                           notes: Optional[str] = None) -> PeriodInfo:
        """Record that the camera of ``station`` worked from ``start`` to ``end`` (exclusive;
        None: still working). ``camera``: the serial of the unit (added when new). Periods of
        one camera (or of no named camera) at one station must not overlap; two cameras at one
        station (one per flank) may."""
        t0 = self._when(start, "period start")
        t1 = self._when_opt(end, "period end")
        if t1 is not None and t1 <= t0:
            raise RegistryError(f"period {_fmt_t(t0)} – {_fmt_t(t1)}: the end is not after the start. "
                                "Fix: give an end after the start (the end is exclusive)")
        with self._tx() as s:
            st = self._station(s, station)
            cam = self._camera(s, camera, create=True)
            other = self._period_conflict(s, st.id, None if cam is None else cam.id, t0, t1)
            if other is not None:
                raise RegistryError(
                    f"station {st.code}: period {_fmt_t(t0)} – {_fmt_t(t1)} overlaps the recorded period "
                    f"{_fmt_t(other.start_at)} – {_fmt_t(other.end_at)} of the same camera. Fix: correct "
                    "the times, or name the second camera of the station (camera=...)")
            p = StationPeriod(station_id=st.id, camera_id=None if cam is None else cam.id,
                              start_at=t0, end_at=t1, notes=notes)
            s.add(p)
            s.flush()
            return self._period_info(s, p)

    def close_station_period(self, station, end, *, camera=None) -> PeriodInfo:
        """Set the end of the open period of ``station`` (of ``camera`` when given)."""
        t1 = self._when(end, "period end")
        with self._tx() as s:
            st = self._station(s, station)
            cam = self._camera(s, camera)
            q = select(StationPeriod).where(StationPeriod.station_id == st.id, StationPeriod.end_at.is_(None))
            if cam is not None:
                q = q.where(StationPeriod.camera_id == cam.id)
            open_ = list(s.scalars(q))
            if not open_:
                raise RegistryError(f"station {st.code}: no open period to close"
                                    + (f" for camera {cam.serial}" if cam else "")
                                    + ". Fix: add the period with add_station_period(station, start, end)")
            if len(open_) > 1:
                raise RegistryError(f"station {st.code}: {len(open_)} open periods (one per camera). "
                                    "Fix: name the camera whose period ends (camera=...)")
            p = open_[0]
            if t1 <= p.start_at:
                raise RegistryError(f"station {st.code}: end {_fmt_t(t1)} is not after the start "
                                    f"{_fmt_t(p.start_at)} of its open period. Fix: give a later end")
            p.end_at = t1
            s.flush()
            return self._period_info(s, p)

    def station_periods(self, station=None) -> list[PeriodInfo]:
        """Working periods (of one station, or all), by station and start."""
        with self._tx() as s:
            q = select(StationPeriod).join(Station, Station.id == StationPeriod.station_id)
            if station is not None:
                q = q.where(StationPeriod.station_id == self._station(s, station).id)
            q = q.order_by(Station.code, StationPeriod.start_at, StationPeriod.id)
            return [self._period_info(s, p) for p in s.scalars(q)]

    def import_stations_csv(self, path, *, crs: str = DEFAULT_CRS) -> StationImport:
        """Import stations and their working periods from a CSV file.

        Columns (a header row, any order, case-insensitive): ``station,x,y`` and optionally
        ``start,end,camera,notes``. ``x``, ``y``: metres in ``crs``. One line per working period;
        a station may have several lines (same x, y), a line without ``start`` only registers
        the station. ``start``/``end``: ISO 8601 dates or times (see the module docstring for
        time zones; a date alone is 00:00, ``end`` is exclusive, empty ``end``: still working).
        ``camera``: the serial of the unit, added when new. Lines starting with ``#`` and blank
        lines are skipped. A period already recorded identically is skipped, so a file can be
        imported again after adding lines.

        Every bad line is reported (``FILE:LINE: problem. Fix: ...``) in one
        :class:`RegistryError`, and then nothing is written.
        """
        p = Path(path)
        try:
            content = p.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise RegistryError(f"{p}: cannot read the station file ({exc.strerror}). Fix: give the "
                                "path of an existing CSV file") from None
        except UnicodeDecodeError:
            raise RegistryError(f"{p}: not UTF-8 text. Fix: save the station file as UTF-8 CSV") from None
        errors: list[str] = []

        def bad(line, problem, fix):
            errors.append(f"{p}:{line}: {problem}. Fix: {fix}")

        reader = csv.reader(io.StringIO(content))
        header = None
        header_line = None
        parsed = []  # (line, code, x, y, start, end, camera, notes)
        first_line: dict[str, tuple[int, float, float]] = {}
        for row in reader:
            line = reader.line_num
            if not row or all(not f.strip() for f in row) or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                names = [f.strip().lower() for f in row]
                header_line = line
                unknown = [n for n in names if n not in _CSV_COLUMNS]
                missing = [n for n in ("station", "x", "y") if n not in names]
                dup = sorted({n for n in names if names.count(n) > 1})
                if unknown or missing or dup:
                    what = "; ".join(filter(None, [
                        f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                        f"missing column(s) {', '.join(missing)}" if missing else "",
                        f"repeated column(s) {', '.join(dup)}" if dup else ""]))
                    bad(line, f"header {','.join(names)}: {what}", "start the file with the header "
                        "station,x,y[,start,end,camera,notes]")
                    break
                header = names
                continue
            if len(row) != len(header):
                bad(line, f"{len(row)} field(s) but the header (line {header_line}) has {len(header)}",
                    "give one value per column (leave optional ones empty), quote values with commas")
                continue
            rec = {n: v.strip() for n, v in zip(header, row)}
            code = rec["station"]
            ok = True
            if not code or not _CODE_RE.match(code) or len(code) > 64:
                bad(line, f"station code {code!r} is not valid", "use letters, digits and . _ : + - "
                    "(no blanks, commas or '#'), at most 64 characters")
                ok = False
            xy = []
            for col in ("x", "y"):
                try:
                    v = float(rec[col])
                    if not math.isfinite(v):
                        raise ValueError
                    xy.append(v)
                except ValueError:
                    bad(line, f"{col} {rec[col]!r} is not a number", f"give {col} in metres "
                        f"({'easting' if col == 'x' else 'northing'} in {crs})")
                    ok = False
            t0 = t1 = None
            start_txt, end_txt = rec.get("start", ""), rec.get("end", "")
            for col, txt in (("start", start_txt), ("end", end_txt)):
                if not txt:
                    continue
                try:
                    t = self._when(txt, col)
                except RegistryError as exc:
                    msg = str(exc)
                    problem, _, fix = msg.partition(". Fix: ")
                    bad(line, problem, fix or "write ISO 8601 times")
                    ok = False
                    continue
                if col == "start":
                    t0 = t
                else:
                    t1 = t
            if end_txt and not start_txt:
                bad(line, f"end {end_txt!r} without a start", "give the start of the working period")
                ok = False
            if t0 is not None and t1 is not None and t1 <= t0:
                bad(line, f"end {end_txt!r} is not after start {start_txt!r}",
                    "give an end after the start (the end is exclusive)")
                ok = False
            cam = rec.get("camera", "") or None
            if cam is not None and (not _CODE_RE.match(cam) or len(cam) > 64):
                bad(line, f"camera serial {cam!r} is not valid", "use letters, digits and . _ : + - "
                    "(no blanks, commas or '#'), at most 64 characters")
                ok = False
            if cam is not None and not start_txt:
                bad(line, f"camera {cam!r} without a start", "give the period the camera worked "
                    "(start, and end unless it still works)")
                ok = False
            if ok and code in first_line:
                l0, x0, y0 = first_line[code]
                if (x0, y0) != tuple(xy):
                    bad(line, f"station {code} at x={xy[0]:g}, y={xy[1]:g} but at x={x0:g}, "
                        f"y={y0:g} on line {l0}", "give one position per station (a moved "
                        "camera is a new station code)")
                    ok = False
            if ok:
                first_line.setdefault(code, (line, xy[0], xy[1]))
                parsed.append((line, code, xy[0], xy[1], t0, t1, cam, rec.get("notes") or None))
        if header is None and not errors:
            bad(1, "no header row", "start the file with the header station,x,y[,start,end,camera,notes]")
        # overlaps inside the file (same station and camera)
        for i, a in enumerate(parsed):
            if a[4] is None:
                continue
            for b in parsed[:i]:
                if b[4] is None or b[1] != a[1] or b[6] != a[6]:
                    continue
                if (a[4], a[5]) == (b[4], b[5]):
                    bad(a[0], f"station {a[1]}: the same period as line {b[0]}", "remove the repeated line")
                elif _overlaps(a[4], a[5], b[4], b[5]):
                    bad(a[0], f"station {a[1]}: period {_fmt_t(a[4])} – {_fmt_t(a[5])} overlaps line "
                        f"{b[0]} ({_fmt_t(b[4])} – {_fmt_t(b[5])}) of the same camera",
                        "correct the times, or name the second camera of the station in the camera column")
        if errors:
            raise RegistryError(f"{p}: {len(errors)} bad line(s); nothing was imported:\n" + "\n".join(errors))
        added, existing, cams_added = [], [], []
        n_periods = n_known = 0
        with self._tx() as s:
            stations: dict[str, Station] = {}
            for line, code, x, y, *_ in parsed:
                if code in stations:
                    continue
                st = s.scalar(select(Station).where(Station.code == code))
                if st is not None:
                    if (st.x, st.y) != (x, y) or st.crs != crs:
                        bad(line, f"station {code} is in the registry at x={st.x:g}, y={st.y:g} "
                            f"({st.crs}), here at x={x:g}, y={y:g} ({crs})", "give the registered "
                            "position, or a new station code for a moved camera")
                    existing.append(code)
                stations[code] = st
            for line, code, x, y, t0, t1, cam, notes in parsed:
                if t0 is None:
                    continue
                st = stations[code]
                if st is None:
                    continue
                cam_id = None
                if cam is not None:
                    cam_id = s.scalar(select(Camera.id).where(Camera.serial == cam))
                    if cam_id is None:
                        continue  # a new camera: no recorded periods
                same = s.scalar(select(StationPeriod.id).where(
                    StationPeriod.station_id == st.id, StationPeriod.start_at == t0,
                    StationPeriod.end_at.is_(None) if t1 is None else StationPeriod.end_at == t1,
                    StationPeriod.camera_id.is_(None) if cam_id is None else StationPeriod.camera_id == cam_id))
                if same is not None:
                    continue
                other = self._period_conflict(s, st.id, cam_id, t0, t1)
                if other is not None:
                    bad(line, f"station {code}: period {_fmt_t(t0)} – {_fmt_t(t1)} overlaps the "
                        f"registered period {_fmt_t(other.start_at)} – {_fmt_t(other.end_at)} of the "
                        "same camera", "correct the times, or name the second camera of the station")
            if errors:
                raise RegistryError(f"{p}: {len(errors)} bad line(s); nothing was imported:\n" + "\n".join(errors))
            for line, code, x, y, *_ in parsed:
                if stations[code] is None:
                    st = Station(code=code, x=x, y=y, crs=crs)
                    s.add(st)
                    s.flush()
                    stations[code] = st
                    added.append(code)
            cam_ids: dict[str, int] = {}
            for line, code, x, y, t0, t1, cam, notes in parsed:
                if t0 is None:
                    continue
                cam_id = None
                if cam is not None:
                    if cam not in cam_ids:
                        c = s.scalar(select(Camera).where(Camera.serial == cam))
                        if c is None:
                            c = Camera(serial=cam)
                            s.add(c)
                            s.flush()
                            cams_added.append(cam)
                        cam_ids[cam] = c.id
                    cam_id = cam_ids[cam]
                st = stations[code]
                same = s.scalar(select(StationPeriod.id).where(
                    StationPeriod.station_id == st.id, StationPeriod.start_at == t0,
                    StationPeriod.end_at.is_(None) if t1 is None else StationPeriod.end_at == t1,
                    StationPeriod.camera_id.is_(None) if cam_id is None else StationPeriod.camera_id == cam_id))
                if same is not None:
                    n_known += 1
                    continue
                s.add(StationPeriod(station_id=st.id, camera_id=cam_id, start_at=t0, end_at=t1, notes=notes))
                n_periods += 1
            s.flush()
        return StationImport(str(p), tuple(added), tuple(dict.fromkeys(existing)), n_periods, n_known,
                             tuple(cams_added))

    # ---- images ----------------------------------------------------------------------------

    def new_batch(self, label: str, *, source: Optional[str] = None, by: Optional[str] = None,
                  notes: Optional[str] = None) -> BatchInfo:
        """Start an import batch (a card, a folder): pass it to :meth:`add_image`."""
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            raise RegistryError(f"batch label {label!r}. Fix: give a short label (1–200 characters)")
        with self._tx() as s:
            b = ImportBatch(label=label.strip(), source=source, imported_by=by, notes=notes)
            s.add(b)
            s.flush()
            return self._batch_info(b)

    def add_image(self, source, time, station, *, camera=None, path: Optional[str] = None,
                  width: Optional[int] = None, height: Optional[int] = None,
                  side: Optional[str] = None, bbox=None, confidence: Optional[float] = None,
                  batch=None, time_source: str = "exif", sha256: Optional[str] = None) -> AddedImage:
        """Register an image, deduplicated by the SHA-256 of its bytes.

        ``source``: the image file's path or its bytes (``sha256`` may be given instead of
        reading them again). ``time``: when it was taken (see the module docstring for naive
        times). ``station``: where. ``camera``: the unit's serial (added when new). ``path``: the
        original path to record (default ``source`` when it is a path; required for bytes).
        ``width``/``height``: pixels. ``side``: the flank visible, if known. ``bbox``:
        MegaDetector's (x, y, w, h) as fractions of the image size, with ``confidence`` (0–1).
        ``time_source``: ``exif``, ``file`` or ``manual``.

        An image whose hash is already registered is not added again: the result has
        ``created=False`` and a message naming the registered copy (and where the two disagree on
        station or time — often a card filed under the wrong station).
        """
        if sha256 is not None:
            digest = str(sha256).lower()
            if not _SHA_RE.match(digest):
                raise RegistryError(f"sha256 {sha256!r} is not 64 hex digits. Fix: give the SHA-256 "
                                    "of the image bytes, or leave it out to compute it")
        else:
            digest = image_sha256(source)
        if path is None:
            if isinstance(source, (bytes, bytearray, memoryview)):
                raise RegistryError("add_image of bytes: no original path. Fix: give path='...' (where "
                                    "the image came from)")
            path = os.fspath(source)
        t = self._when(time, f"image {path}: time")
        _check_side(side, f"image {path}: side")
        if time_source not in TIME_SOURCES:
            raise RegistryError(f"image {path}: time_source {time_source!r}. Fix: use one of "
                                f"{', '.join(TIME_SOURCES)}")
        width = _int(width, f"image {path}: width", minimum=1)
        height = _int(height, f"image {path}: height", minimum=1)
        box = None
        if bbox is not None:
            try:
                bx, by_, bw, bh = (float(v) for v in bbox)
            except (TypeError, ValueError):
                raise RegistryError(f"image {path}: bbox {bbox!r}. Fix: give MegaDetector's (x, y, w, h) "
                                    "as fractions of the image size") from None
            if not all(math.isfinite(v) for v in (bx, by_, bw, bh)) or bx < 0 or by_ < 0 or bw <= 0 \
                    or bh <= 0 or bx + bw > 1.000001 or by_ + bh > 1.000001:
                raise RegistryError(f"image {path}: bbox {bbox!r} is not inside the image. Fix: give "
                                    "(x, y, w, h) as fractions 0–1 of the width and height, x + w <= 1, "
                                    "y + h <= 1 (MegaDetector's normalised boxes)")
            box = (bx, by_, bw, bh)
        conf = _finite(confidence, f"image {path}: confidence", lo=0.0, hi=1.0)
        with self._tx() as s:
            existing = s.scalar(select(Image).where(Image.sha256 == digest))
            st = self._station(s, station)
            if existing is not None:
                info = self._image_info_s(s, existing)
                return AddedImage(info, False, self._duplicate_message(info, path, st.code, t))
            cam = self._camera(s, camera, create=True)
            b = self._batch_row(s, batch)
            img = Image(sha256=digest, path=path, recorded_at=t, time_source=time_source,
                        station_id=st.id, camera_id=None if cam is None else cam.id,
                        width=width, height=height, side=side,
                        bbox_x=None if box is None else box[0], bbox_y=None if box is None else box[1],
                        bbox_w=None if box is None else box[2], bbox_h=None if box is None else box[3],
                        detection_confidence=conf, batch_id=None if b is None else b.id)
            s.add(img)
            s.flush()
            info = self._image_info(img, st.code, None if cam is None else cam.serial)
            return AddedImage(info, True, f"image {digest[:12]} added (#{img.id}, {path})")

    @staticmethod
    def _duplicate_message(info: ImageInfo, path: str, station_code: str, t: datetime) -> str:
        msg = (f"image {info.sha256[:12]} is already registered as #{info.id} ({info.path}, station "
               f"{info.station}, {_fmt_t(info.recorded_at)}); not added again")
        differ = []
        if station_code != info.station:
            differ.append(f"station {station_code}")
        if t != info.recorded_at:
            differ.append(f"time {_fmt_t(t)}")
        if differ:
            msg += (f". This copy ({path}) says {' and '.join(differ)}: check for a card filed under "
                    "the wrong station or a camera clock set wrong")
        return msg

    def add_images(self, items: Iterable[dict]) -> list[AddedImage]:
        """:meth:`add_image` for many images in one transaction; each item is a dict of its
        arguments (``source``, ``time``, ``station``, ...). All or nothing: a bad item raises
        and nothing is added."""
        out = []
        with self.transaction():
            for item in items:
                out.append(self.add_image(**item))
        return out

    def get_image(self, ref) -> ImageInfo:
        """An image by SHA-256, id or ImageInfo."""
        with self._tx() as s:
            return self._image_info_s(s, self._image(s, ref))

    def images(self, *, station=None, start=None, end=None, batch=None,
               limit: Optional[int] = None) -> list[ImageInfo]:
        """Images (of a station, batch, in [start, end)), by time."""
        with self._tx() as s:
            q = self._filter_images(s, self._images_select(), station, start, end, batch)
            q = q.order_by(Image.recorded_at, Image.id)
            if limit is not None:
                q = q.limit(_int(limit, "limit", minimum=0))
            return [self._image_info(img, code, serial) for img, code, serial in s.execute(q)]

    def _filter_images(self, s, q, station, start, end, batch):
        if station is not None:
            q = q.where(Image.station_id == self._station(s, station).id)
        if start is not None:
            q = q.where(Image.recorded_at >= self._when(start, "start"))
        if end is not None:
            q = q.where(Image.recorded_at < self._when(end, "end"))
        if batch is not None:
            q = q.where(Image.batch_id == self._batch_row(s, batch).id)
        return q

    def unreviewed_images(self, *, station=None, start=None, end=None, batch=None,
                          min_confidence: Optional[float] = None,
                          limit: Optional[int] = None) -> list[ImageInfo]:
        """Images without any match decision (a proposed sighting is not a decision), by time;
        ``min_confidence``: only images whose detection confidence is at least this."""
        with self._tx() as s:
            decided = select(MatchDecision.id).where(MatchDecision.image_id == Image.id).exists()
            q = self._filter_images(s, self._images_select().where(~decided), station, start, end, batch)
            if min_confidence is not None:
                q = q.where(Image.detection_confidence >= _finite(min_confidence, "min_confidence", lo=0.0, hi=1.0))
            q = q.order_by(Image.recorded_at, Image.id)
            if limit is not None:
                q = q.limit(_int(limit, "limit", minimum=0))
            return [self._image_info(img, code, serial) for img, code, serial in s.execute(q)]

    # ---- individuals and flanks ------------------------------------------------------------

    def _next_code(self, s: Session, prefix: str) -> str:
        n = 0
        for code in s.scalars(select(Individual.code).where(Individual.code.startswith(prefix, autoescape=True))):
            tail = code[len(prefix):]
            if tail.isdigit():
                n = max(n, int(tail))
        return f"{prefix}{n + 1:04d}"

    def _new_individual(self, s: Session, code, sex, notes, by, prefix) -> Individual:
        if sex is not None and sex not in SEXES:
            raise RegistryError(f"sex {sex!r}. Fix: use 'female', 'male' or None (unknown)")
        if code is not None:
            _check_code("individual code", code, 32)
            if s.scalar(select(Individual.id).where(Individual.code == code)) is not None:
                raise RegistryError(f"individual {code!r} is already in the registry. Fix: give another "
                                    "code, or leave code out for the next free one")
            ind = Individual(code=code, sex=sex, notes=notes, created_by=by)
            s.add(ind)
            s.flush()
            return ind
        _check_code("individual code prefix", prefix + "0", 28)
        for _ in range(5):  # another process may take the same code at the same moment
            ind = Individual(code=self._next_code(s, prefix), sex=sex, notes=notes, created_by=by)
            try:
                with s.begin_nested():
                    s.add(ind)
                    s.flush()
                return ind
            except IntegrityError:
                continue
        raise RegistryError(f"could not find a free individual code with prefix {prefix!r}. Fix: retry, "
                            "or give the code")

    def new_individual(self, code: Optional[str] = None, *, sex: Optional[str] = None,
                       sides: Sequence[str] = (), notes: Optional[str] = None,
                       by: Optional[str] = None, prefix: str = "AL-") -> IndividualInfo:
        """Register a new individual. ``code``: e.g. ``AL-0042`` (default: ``prefix`` and the
        next free four-digit number). ``sex``: ``female``, ``male`` or None. ``sides``: flanks
        to create at once (``("left",)``)."""
        for side in sides:
            _check_side(side)
        with self._tx() as s:
            ind = self._new_individual(s, code, sex, notes, by, prefix)
            for side in dict.fromkeys(sides):
                s.add(Flank(individual_id=ind.id, side=side))
            s.flush()
            return self._individual_infos(s, [ind])[0]

    def get_individual(self, ref, *, resolve: bool = False) -> IndividualInfo:
        """An individual by code, id or IndividualInfo; ``resolve``: follow merges to the
        surviving record."""
        with self._tx() as s:
            return self._individual_infos(s, [self._individual(s, ref, resolve=resolve)])[0]

    def individuals(self, *, include_merged: bool = False) -> list[IndividualInfo]:
        """All individuals (without those merged into others, unless ``include_merged``), by code."""
        with self._tx() as s:
            q = select(Individual).order_by(Individual.code)
            if not include_merged:
                q = q.where(Individual.merged_into_id.is_(None))
            return self._individual_infos(s, list(s.scalars(q)))

    def set_sex(self, individual, sex: Optional[str]) -> IndividualInfo:
        """Record (or clear, with None) the sex of an individual."""
        if sex is not None and sex not in SEXES:
            raise RegistryError(f"sex {sex!r}. Fix: use 'female', 'male' or None (unknown)")
        with self._tx() as s:
            ind = self._individual(s, individual)
            ind.sex = sex
            s.flush()
            return self._individual_infos(s, [ind])[0]

    def add_flank(self, individual, side: str, *, notes: Optional[str] = None) -> FlankInfo:
        """Add the ``left`` or ``right`` flank of an individual (a merged individual stands for
        the surviving record)."""
        _check_side(side)
        with self._tx() as s:
            ind = self._individual(s, individual)
            if s.scalar(select(Flank.id).where(Flank.individual_id == ind.id, Flank.side == side)) is not None:
                raise RegistryError(f"individual {ind.code} already has a {side} flank. Fix: use it "
                                    f"(flanks(individual={ind.code!r})), or give the other side")
            fl = Flank(individual_id=ind.id, side=side, notes=notes)
            s.add(fl)
            s.flush()
            return self._flank_info(s, fl)

    def flanks(self, side: Optional[str] = None, *, individual=None,
               include_merged: bool = False) -> list[FlankInfo]:
        """Flanks (of one side, of one individual), by individual code and side."""
        _check_side(side)
        with self._tx() as s:
            q = select(Flank).join(Individual, Individual.id == Flank.individual_id)
            if side is not None:
                q = q.where(Flank.side == side)
            if individual is not None:
                q = q.where(Flank.individual_id == self._individual(s, individual).id)
            if not include_merged:
                q = q.where(Flank.merged_into_id.is_(None), Individual.merged_into_id.is_(None))
            q = q.order_by(Individual.code, Flank.side)
            return [self._flank_info(s, fl) for fl in s.scalars(q)]

    # ---- sightings and decisions -----------------------------------------------------------

    def _candidate(self, s: Session, individual, flank, side, *, create_flank: bool):
        """(Individual, Flank or None) of a candidate given as individual and/or flank and side."""
        fl = None
        if flank is not None:
            fl = self._flank(s, flank)
            ind = s.get(Individual, fl.individual_id)
            ind = self._individual(s, ind.id)
            if individual is not None:
                other = self._individual(s, individual)
                if other.id != ind.id:
                    raise RegistryError(f"flank #{fl.id} ({fl.side}) belongs to {ind.code}, not to "
                                        f"{other.code}. Fix: give the flank or the individual, or both "
                                        "of one animal")
            if side is not None and side != fl.side:
                raise RegistryError(f"flank #{fl.id} of {ind.code} is the {fl.side} flank, but side "
                                    f"{side!r} was given. Fix: give the matching side or flank")
            return ind, fl
        if individual is None:
            raise RegistryError("no candidate. Fix: give individual= (code) or flank=")
        ind = self._individual(s, individual)
        if side is not None:
            fl = s.scalar(select(Flank).where(Flank.individual_id == ind.id, Flank.side == side))
            if fl is None and create_flank:
                fl = Flank(individual_id=ind.id, side=side)
                s.add(fl)
                s.flush()
        return ind, fl

    def _replay(self, s: Session, image: Image, box: int, rejected_now: Optional[int] = None) -> None:
        """Bring the sighting of (image, box) in line with its decision history."""
        rows = list(s.scalars(select(MatchDecision).where(
            MatchDecision.image_id == image.id, MatchDecision.box == box)
            .order_by(MatchDecision.decided_at, MatchDecision.id)))
        current = None
        for d in rows:
            ind = self._individual(s, d.individual_id).id
            if d.decision in ACCEPTED_STATUSES:
                current = (d, ind)
            elif current is not None and current[1] == ind:
                current = None
        sg = s.scalar(select(Sighting).where(Sighting.image_id == image.id, Sighting.box == box))
        if current is not None:
            d, ind = current
            flank_id = None
            if d.flank_id is not None:
                fl = self._live_flank(s, s.get(Flank, d.flank_id))
                flank_id = fl.id if fl.individual_id == ind else None
            if sg is None:
                sg = Sighting(image_id=image.id, box=box)
                s.add(sg)
            sg.individual_id, sg.flank_id, sg.status, sg.decision_id = ind, flank_id, d.decision, d.id
            sg.updated_at = utcnow()
        elif sg is not None:
            if sg.status != "proposed" or (
                    rejected_now is not None and self._individual(s, sg.individual_id).id == rejected_now):
                s.delete(sg)
        s.flush()

    def record_decision(self, image, decision: str, *, individual=None, flank=None,
                        side: Optional[str] = None, box: int = 0, score: Optional[float] = None,
                        rank: Optional[int] = None, method: Optional[str] = None, by: str,
                        at=None, note: Optional[str] = None, new_code: Optional[str] = None,
                        sex: Optional[str] = None) -> DecisionInfo:
        """Record a match decision on detection box ``box`` of ``image`` and update its sighting.

        ``decision``: ``confirmed`` (a reviewer says the candidate is the animal),
        ``auto_accepted`` (the matcher accepted it unreviewed), ``rejected`` (the candidate is
        not the animal), ``new_individual`` (an animal not in the registry: without
        ``individual``/``flank`` a new individual is made, code ``new_code`` or the next free
        one, with ``sex``). The candidate: ``individual`` and/or ``flank``; ``side`` (default: the
        flank's or the image's side) picks the flank of the individual, which an accepting
        decision creates when the individual is not yet known from that side. ``score``: the
        matcher's similarity; ``rank``: the candidate's rank (1 = best). ``method``: ``auto`` or
        ``review`` (default: ``auto`` for ``auto_accepted``, else ``review``). ``by``: who
        decided (a person; for ``auto``, the matcher and its version). ``at``: when (default
        now). The history is kept; see the module docstring for how the latest decision wins.
        """
        if decision not in DECISIONS:
            raise RegistryError(f"decision {decision!r}. Fix: use one of {', '.join(DECISIONS)}")
        if method is None:
            method = "auto" if decision == "auto_accepted" else "review"
        if method not in METHODS:
            raise RegistryError(f"method {method!r}. Fix: use 'auto' or 'review'")
        if decision == "auto_accepted" and method != "auto":
            raise RegistryError("decision 'auto_accepted' with method 'review'. Fix: a reviewer's "
                                "acceptance is 'confirmed'")
        if decision == "confirmed" and method != "review":
            raise RegistryError("decision 'confirmed' with method 'auto'. Fix: an automatic acceptance "
                                "is 'auto_accepted'")
        by = _check_by(by)
        box = _int(box, "box", minimum=0)
        rank = _int(rank, "rank", minimum=1)
        score = _finite(score, "score")
        _check_side(side)
        when = utcnow() if at is None else self._when(at, "decision time")
        with self._tx() as s:
            img = self._image(s, image)
            use_side = side
            if use_side is None and flank is None:
                use_side = img.side
            if decision == "new_individual" and individual is None and flank is None:
                ind = self._new_individual(s, new_code, sex, None, by, "AL-")
                individual = ind.id
            elif new_code is not None or sex is not None:
                raise RegistryError("new_code= and sex= are for decision='new_individual' without a "
                                    "candidate. Fix: leave them out (set_sex() records a sex)")
            ind, fl = self._candidate(s, individual, flank, use_side,
                                      create_flank=decision in ACCEPTED_STATUSES)
            d = MatchDecision(image_id=img.id, box=box, individual_id=ind.id,
                              flank_id=None if fl is None else fl.id, score=score, rank=rank,
                              decision=decision, method=method, decided_by=by, decided_at=when, note=note)
            s.add(d)
            s.flush()
            self._replay(s, img, box, rejected_now=ind.id if decision == "rejected" else None)
            return self._decision_info(s, d)

    def record_sighting(self, image, *, individual=None, flank=None, side: Optional[str] = None,
                        box: int = 0, by: Optional[str] = None, at=None) -> SightingInfo:
        """Record that box ``box`` of ``image`` shows this individual (flank).

        With ``by`` (who says so) this is a reviewer's confirmation: a ``confirmed`` decision
        is recorded and the sighting counts. Without ``by`` the sighting is ``proposed`` (a
        candidate nobody decided on; it does not count), which is refused when the box is
        already identified by a decision.
        """
        if by is not None:
            self.record_decision(image, "confirmed", individual=individual, flank=flank, side=side,
                                 box=box, by=by, at=at)
            with self._tx() as s:
                img = self._image(s, image)
                return self._sighting_infos(s, self._sightings_select().where(
                    Sighting.image_id == img.id, Sighting.box == box))[0]
        box = _int(box, "box", minimum=0)
        _check_side(side)
        with self._tx() as s:
            img = self._image(s, image)
            sg = s.scalar(select(Sighting).where(Sighting.image_id == img.id, Sighting.box == box))
            if sg is not None and sg.status != "proposed":
                code = s.scalar(select(Individual.code).where(Individual.id == sg.individual_id))
                raise RegistryError(f"image {img.sha256[:12]} box {box} is already identified as {code} "
                                    f"({sg.status}, decision #{sg.decision_id}). Fix: record a decision "
                                    "(record_decision) to change it")
            ind, fl = self._candidate(s, individual, flank, side if side is not None or flank is not None
                                      else img.side, create_flank=False)
            if sg is None:
                sg = Sighting(image_id=img.id, box=box)
                s.add(sg)
            sg.individual_id, sg.flank_id, sg.status, sg.decision_id = ind.id, None if fl is None else fl.id, "proposed", None
            sg.updated_at = utcnow()
            s.flush()
            return self._sighting_infos(s, self._sightings_select().where(Sighting.id == sg.id))[0]

    def latest_decision(self, image, box: Optional[int] = 0) -> Optional[DecisionInfo]:
        """The latest decision (by ``decided_at``, then the order recorded) on box ``box`` of an
        image (``box=None``: on any box); None when there is none."""
        with self._tx() as s:
            img = self._image(s, image)
            q = select(MatchDecision).where(MatchDecision.image_id == img.id)
            if box is not None:
                q = q.where(MatchDecision.box == _int(box, "box", minimum=0))
            d = s.scalar(q.order_by(MatchDecision.decided_at.desc(), MatchDecision.id.desc()).limit(1))
            return None if d is None else self._decision_info(s, d)

    def decisions(self, image=None, *, box: Optional[int] = None, individual=None) -> list[DecisionInfo]:
        """The decision history (of an image and box, or about an individual), oldest first."""
        with self._tx() as s:
            q = select(MatchDecision)
            if image is not None:
                q = q.where(MatchDecision.image_id == self._image(s, image).id)
            if box is not None:
                q = q.where(MatchDecision.box == _int(box, "box", minimum=0))
            if individual is not None:
                ind = self._individual(s, individual)
                ids = [ind.id] + list(s.scalars(select(Merge.merged_id).where(Merge.kept_id == ind.id)))
                q = q.where(MatchDecision.individual_id.in_(ids))
            q = q.order_by(MatchDecision.decided_at, MatchDecision.id)
            return [self._decision_info(s, d) for d in s.scalars(q)]

    def sightings(self, start=None, end=None, *, station=None, individual=None,
                  include_proposed: bool = False) -> list[SightingInfo]:
        """Sightings with the image time in [start, end) (UTC after conversion), by time;
        accepted ones only unless ``include_proposed``."""
        with self._tx() as s:
            q = self._sightings_select()
            if not include_proposed:
                q = q.where(Sighting.status.in_(ACCEPTED_STATUSES))
            if start is not None:
                q = q.where(Image.recorded_at >= self._when(start, "start"))
            if end is not None:
                q = q.where(Image.recorded_at < self._when(end, "end"))
            if station is not None:
                q = q.where(Image.station_id == self._station(s, station).id)
            if individual is not None:
                q = q.where(Sighting.individual_id == self._individual(s, individual).id)
            q = q.order_by(Image.recorded_at, Image.id, Sighting.box)
            return self._sighting_infos(s, q)

    def images_for_flank(self, flank, *, include_proposed: bool = False) -> list[ImageInfo]:
        """Images of a flank (FlankInfo, flank id, or (individual, side)) through its accepted
        sightings (and proposed ones with ``include_proposed``), by time."""
        with self._tx() as s:
            fl = self._flank(s, flank)
            q = self._images_select().join(Sighting, Sighting.image_id == Image.id).where(Sighting.flank_id == fl.id)
            if not include_proposed:
                q = q.where(Sighting.status.in_(ACCEPTED_STATUSES))
            q = q.distinct().order_by(Image.recorded_at, Image.id)
            return [self._image_info(img, code, serial) for img, code, serial in s.execute(q)]

    # ---- merging ---------------------------------------------------------------------------

    def merge_individuals(self, keep, other, *, by: str, note: Optional[str] = None,
                          at=None) -> MergeInfo:
        """Record that ``other`` is the same animal as ``keep``.

        ``other``'s flanks move to ``keep`` (a flank on a side ``keep`` already has is merged
        into it: its sightings move to ``keep``'s flank), its sightings move to ``keep``, a sex
        known for one only is kept, and ``other`` stays in the registry marked as merged (its
        code then stands for ``keep``). Past decisions are kept as they were recorded. ``by``:
        who decided; ``at``: when (default now). Refused for records of different sexes.
        """
        by = _check_by(by)
        when = utcnow() if at is None else self._when(at, "merge time")
        with self._tx() as s:
            a = self._individual(s, keep, resolve=False)
            b = self._individual(s, other, resolve=False)
            for ind in (a, b):
                if ind.merged_into_id is not None:
                    target = self._individual(s, ind.id)
                    raise RegistryError(f"individual {ind.code} was already merged into {target.code}. "
                                        f"Fix: merge into or from {target.code}")
            if a.id == b.id:
                raise RegistryError(f"cannot merge {a.code} with itself. Fix: give two individuals")
            if a.sex is not None and b.sex is not None and a.sex != b.sex:
                raise RegistryError(f"{a.code} is recorded {a.sex} and {b.code} {b.sex}: not one animal. "
                                    "Fix: correct the sex (set_sex) if one is wrong, or do not merge")
            if a.sex is None and b.sex is not None:
                a.sex = b.sex
            a_flanks = {f.side: f for f in s.scalars(select(Flank).where(
                Flank.individual_id == a.id, Flank.merged_into_id.is_(None)))}
            moved, merged = [], []
            for f in list(s.scalars(select(Flank).where(Flank.individual_id == b.id,
                                                        Flank.merged_into_id.is_(None)))):
                if f.side in a_flanks:
                    target = a_flanks[f.side]
                    f.merged_into_id = target.id
                    s.execute(update(Sighting).where(Sighting.flank_id == f.id)
                              .values(flank_id=target.id))
                    merged.append(f.side)
                else:
                    f.individual_id = a.id
                    moved.append(f.side)
            s.flush()
            n = s.execute(update(Sighting).where(Sighting.individual_id == b.id)
                          .values(individual_id=a.id)).rowcount
            b.merged_into_id = a.id
            details = {"flanks_moved": moved, "flanks_merged": merged, "sightings_moved": int(n or 0)}
            m = Merge(kept_id=a.id, merged_id=b.id, merged_by=by, merged_at=when, note=note,
                      details=json.dumps(details, sort_keys=True))
            s.add(m)
            s.flush()
            return MergeInfo(m.id, a.code, b.code, by, when, note, tuple(moved), tuple(merged), int(n or 0))

    def merges(self) -> list[MergeInfo]:
        """Every merge, oldest first."""
        with self._tx() as s:
            out = []
            for m in s.scalars(select(Merge).order_by(Merge.merged_at, Merge.id)):
                kept = s.scalar(select(Individual.code).where(Individual.id == m.kept_id))
                gone = s.scalar(select(Individual.code).where(Individual.id == m.merged_id))
                d = json.loads(m.details or "{}")
                out.append(MergeInfo(m.id, kept, gone, m.merged_by, m.merged_at, m.note,
                                     tuple(d.get("flanks_moved", ())), tuple(d.get("flanks_merged", ())),
                                     int(d.get("sightings_moved", 0))))
            return out


def _chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
