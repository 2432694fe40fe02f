"""The tables of the individual registry (SQLAlchemy 2 typed declarative mapping).

Conventions, valid on SQLite and PostgreSQL alike:

* **Times** are stored in UTC. Every time column is a :class:`UTCDateTime`: it takes
  timezone-aware :class:`~datetime.datetime` values only (a naive value raises), writes them as
  UTC (``timestamp with time zone`` on PostgreSQL, UTC text without offset on SQLite) and reads
  them back as aware UTC datetimes. The API (:mod:`.api`) turns naive camera-local times into
  aware ones when the registry is opened with a time zone.
* **Coordinates** of stations are metres (easting ``x``, northing ``y``) in the projected CRS
  named in ``stations.crs`` (default ``EPSG:32652``, WGS 84 / UTM zone 52N, which covers Land of
  the Leopard National Park).
* **Enumerations** are short strings with a CHECK constraint (no native PostgreSQL enum types, so
  that migrations stay plain ``ALTER TABLE``).
* **Constraint names** follow :data:`NAMING_CONVENTION`, so both back ends and every Alembic
  migration name them alike.
* **ON DELETE**: rows that belong to another row go with it (a station's periods, an image's
  sightings and decisions, an individual's flanks: CASCADE); references that record history are
  protected (an individual with sightings, decisions or merges, a station with images: RESTRICT);
  optional references are cleared (camera, import batch, the decision behind a sighting:
  SET NULL).

Tables: ``cameras``, ``stations``, ``station_periods``, ``import_batches``, ``individuals``,
``flanks``, ``merges``, ``images``, ``match_decisions``, ``sightings`` (and Alembic's
``pardus_registry_version``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ACCEPTED_STATUSES",
    "Base",
    "Camera",
    "DECISIONS",
    "DEFAULT_CRS",
    "Flank",
    "Image",
    "ImportBatch",
    "Individual",
    "METHODS",
    "MatchDecision",
    "Merge",
    "NAMING_CONVENTION",
    "SEXES",
    "SIDES",
    "SIGHTING_STATUSES",
    "Sighting",
    "Station",
    "StationPeriod",
    "TIME_SOURCES",
    "UTCDateTime",
    "utcnow",
]

#: Default coordinate reference system of station coordinates (metres).
DEFAULT_CRS = "EPSG:32652"
#: Flank sides.
SIDES = ("left", "right")
#: Recorded sexes (NULL = unknown).
SEXES = ("female", "male")
#: Match decisions: a candidate confirmed by a reviewer, rejected, declared a new individual, or
#: accepted by the matcher without review.
DECISIONS = ("confirmed", "rejected", "new_individual", "auto_accepted")
#: How a decision was made.
METHODS = ("auto", "review")
#: Sighting states: ``proposed`` (a candidate nobody has decided on; does not count) and the
#: three accepting decisions.
SIGHTING_STATUSES = ("proposed", "confirmed", "auto_accepted", "new_individual")
#: Sighting states that count as detections (capture histories, first/last seen).
ACCEPTED_STATUSES = ("confirmed", "auto_accepted", "new_individual")
#: Where an image's recorded time comes from.
TIME_SOURCES = ("exif", "file", "manual")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored in UTC on every back end.

    Binding a naive datetime raises ValueError (the API converts or refuses naive times before
    they reach the database). Values read back are aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: the registry "
                             "stores UTC and needs a time zone (attach one with tzinfo=...)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)  # SQLite has no time zones: UTC text
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class Camera(Base):
    """A camera-trap unit, by serial number; it may move between stations (see
    :class:`StationPeriod`)."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[Optional[str]] = mapped_column(String(128))
    notes: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Station(Base):
    """A camera-trap station (secr's detector): a fixed place, coordinates in metres."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    x: Mapped[float] = mapped_column(Double)  # easting, metres in `crs`
    y: Mapped[float] = mapped_column(Double)  # northing, metres in `crs`
    crs: Mapped[str] = mapped_column(String(64), default=DEFAULT_CRS)
    notes: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    periods: Mapped[list["StationPeriod"]] = relationship(
        back_populates="station", cascade="all, delete-orphan", passive_deletes=True,
        order_by="StationPeriod.start_at")


class StationPeriod(Base):
    """When a station's camera was working: the half-open interval [start_at, end_at) in UTC
    (``end_at`` NULL: still working). The detector usage of capture histories comes from these.
    A station with two cameras (one per flank) has overlapping periods, one per camera."""

    __tablename__ = "station_periods"
    __table_args__ = (
        CheckConstraint("end_at IS NULL OR end_at > start_at", name="end_after_start"),
        Index(None, "station_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    camera_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("cameras.id", ondelete="SET NULL"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[Optional[datetime]]
    notes: Mapped[Optional[str]] = mapped_column(Text)

    station: Mapped[Station] = relationship(back_populates="periods")
    camera: Mapped[Optional[Camera]] = relationship()


class ImportBatch(Base):
    """One import run of images (a memory card, a season's folder)."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    source: Mapped[Optional[str]] = mapped_column(Text)
    imported_by: Mapped[Optional[str]] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notes: Mapped[Optional[str]] = mapped_column(Text)


class Individual(Base):
    """A known leopard (``code`` such as ``AL-0042``). First and last seen are derived from its
    accepted sightings, not stored. A record found to be the same animal as another is kept,
    with ``merged_into_id`` pointing at the surviving record (see :class:`Merge`)."""

    __tablename__ = "individuals"
    __table_args__ = (
        CheckConstraint(f"sex IS NULL OR {_in('sex', SEXES)}", name="sex"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    sex: Mapped[Optional[str]] = mapped_column(String(8))
    notes: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[Optional[str]] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_into_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("individuals.id", ondelete="RESTRICT"), index=True)

    flanks: Mapped[list["Flank"]] = relationship(
        back_populates="individual", foreign_keys="Flank.individual_id",
        cascade="all, delete-orphan", passive_deletes=True)
    merged_into: Mapped[Optional["Individual"]] = relationship(remote_side=[id])


class Flank(Base):
    """One side of an individual's coat (``left`` or ``right``): photo-ID matches a flank, since
    the two sides of a leopard carry different rosette patterns. An individual may be known from
    one flank only. When two individuals are merged and both had a flank on the same side, the
    merged one keeps its flank with ``merged_into_id`` pointing at the surviving flank."""

    __tablename__ = "flanks"
    __table_args__ = (
        UniqueConstraint("individual_id", "side"),
        CheckConstraint(_in("side", SIDES), name="side"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individuals.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(5))
    notes: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_into_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("flanks.id", ondelete="RESTRICT"), index=True)

    individual: Mapped[Individual] = relationship(back_populates="flanks", foreign_keys=[individual_id])


class Merge(Base):
    """The record of one merge: ``merged_id`` was found to be the same animal as ``kept_id``;
    who decided it and when. ``details`` (JSON text) lists the flanks moved or merged and the
    number of sightings moved."""

    __tablename__ = "merges"
    __table_args__ = (CheckConstraint("kept_id <> merged_id", name="distinct"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("individuals.id", ondelete="RESTRICT"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("individuals.id", ondelete="RESTRICT"), index=True)
    merged_by: Mapped[str] = mapped_column(String(128))
    merged_at: Mapped[datetime]
    note: Mapped[Optional[str]] = mapped_column(Text)
    details: Mapped[Optional[str]] = mapped_column(Text)


class Image(Base):
    """A camera-trap image, identified by the SHA-256 of its bytes (64 lower-case hex digits).

    ``recorded_at``: when it was taken (UTC; from EXIF, the file time or entered by hand, see
    ``time_source``). ``width``/``height`` in pixels. ``side``: the flank visible, when known.
    The optional detection box is MegaDetector's: ``bbox_x``, ``bbox_y`` (top-left corner),
    ``bbox_w``, ``bbox_h`` as fractions (0–1) of the image width and height, and its
    ``detection_confidence`` (0–1)."""

    __tablename__ = "images"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint(_in("time_source", TIME_SOURCES), name="time_source"),
        CheckConstraint(f"side IS NULL OR {_in('side', SIDES)}", name="side"),
        CheckConstraint("width IS NULL OR width > 0", name="width_positive"),
        CheckConstraint("height IS NULL OR height > 0", name="height_positive"),
        CheckConstraint(
            "(bbox_x IS NULL AND bbox_y IS NULL AND bbox_w IS NULL AND bbox_h IS NULL) OR "
            "(bbox_x >= 0 AND bbox_y >= 0 AND bbox_w > 0 AND bbox_h > 0 "
            "AND bbox_x + bbox_w <= 1.000001 AND bbox_y + bbox_h <= 1.000001)", name="bbox"),
        CheckConstraint("detection_confidence IS NULL OR "
                        "(detection_confidence >= 0 AND detection_confidence <= 1)",
                        name="confidence_range"),
        Index(None, "station_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    time_source: Mapped[str] = mapped_column(String(8), default="exif")
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"))
    camera_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("cameras.id", ondelete="SET NULL"), index=True)
    width: Mapped[Optional[int]] = mapped_column(Integer)
    height: Mapped[Optional[int]] = mapped_column(Integer)
    side: Mapped[Optional[str]] = mapped_column(String(5))
    bbox_x: Mapped[Optional[float]] = mapped_column(Double)
    bbox_y: Mapped[Optional[float]] = mapped_column(Double)
    bbox_w: Mapped[Optional[float]] = mapped_column(Double)
    bbox_h: Mapped[Optional[float]] = mapped_column(Double)
    detection_confidence: Mapped[Optional[float]] = mapped_column(Double)
    batch_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    station: Mapped[Station] = relationship()
    camera: Mapped[Optional[Camera]] = relationship()


class MatchDecision(Base):
    """One decision on one detection box of an image: the candidate (individual, and flank when
    the side is known), the matcher's ``score`` and ``rank`` (1 = best), the ``decision``, how it
    was made (``method``), by whom (``decided_by``: a person, or the matcher and its version) and
    when (``decided_at``). The whole history is kept; the latest decision wins (see
    :meth:`pardus.monitoring.registry.api.Registry.record_decision`)."""

    __tablename__ = "match_decisions"
    __table_args__ = (
        CheckConstraint("box >= 0", name="box_nonnegative"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
        CheckConstraint(_in("decision", DECISIONS), name="decision"),
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint("decision <> 'auto_accepted' OR method = 'auto'", name="auto_accepted_is_auto"),
        CheckConstraint("decision <> 'confirmed' OR method = 'review'", name="confirmed_is_review"),
        Index(None, "image_id", "box", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    box: Mapped[int] = mapped_column(Integer, default=0)
    individual_id: Mapped[int] = mapped_column(
        ForeignKey("individuals.id", ondelete="RESTRICT"), index=True)
    flank_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("flanks.id", ondelete="SET NULL"), index=True)
    score: Mapped[Optional[float]] = mapped_column(Double)
    rank: Mapped[Optional[int]] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[Optional[str]] = mapped_column(Text)


class Sighting(Base):
    """The current identification of one detection box (``box``, 0 for the first) of an image:
    which individual (and flank, when the side is known). One sighting per image and box. Time
    and station are the image's. ``status``: ``proposed`` (not decided, does not count) or the
    accepting decision that holds it (``decision_id``)."""

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint("image_id", "box"),
        CheckConstraint("box >= 0", name="box_nonnegative"),
        CheckConstraint(_in("status", SIGHTING_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    box: Mapped[int] = mapped_column(Integer, default=0)
    individual_id: Mapped[int] = mapped_column(
        ForeignKey("individuals.id", ondelete="RESTRICT"), index=True)
    flank_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("flanks.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    decision_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("match_decisions.id", ondelete="SET NULL"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    image: Mapped[Image] = relationship()
