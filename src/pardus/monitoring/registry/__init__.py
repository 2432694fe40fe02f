"""The individual registry of photo-ID: known leopards, their flanks, camera-trap images,
stations, sightings and match decisions, on a real database.

SQLite by default (one file, no setup: give a path), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``; ``pip install 'pardus[postgres]'``), through SQLAlchemy 2,
with the schema kept by Alembic migrations shipped in the package (:func:`open_registry` upgrades
an older database; :func:`migrate` is ``pardus id migrate``).

* :mod:`.models` — the tables;
* :mod:`.db` — :func:`open_registry`, :func:`migrate`, :class:`RegistryError`;
* :mod:`.api` — :class:`Registry` and the dataclasses its verbs return;
* :mod:`.captures` — :func:`export_captures`: secr capture histories and detector usage for
  ``pardus estimate``.

Example::

    from pardus.monitoring.registry import open_registry, export_captures

    with open_registry("leopards.sqlite", timezone="Asia/Vladivostok") as reg:
        reg.import_stations_csv("stations.csv")
        img = reg.add_image("card07/IMG_0042.JPG", "2024-03-05 04:12:09", "ST-017", side="left").image
        reg.record_decision(img, "new_individual", by="a.ivanova")
        export_captures(reg, "out/2024", start="2024-03-01", occasion_days=7, n_occasions=12)
"""

from .api import (
    AddedImage,
    BatchInfo,
    CameraInfo,
    DecisionInfo,
    FlankInfo,
    ImageInfo,
    IndividualInfo,
    MergeInfo,
    PeriodInfo,
    Registry,
    SightingInfo,
    StationImport,
    StationInfo,
    image_sha256,
)
from .captures import CaptureExport, export_captures
from .db import (
    VERSION_TABLE,
    RegistryError,
    SchemaState,
    alembic_config,
    migrate,
    open_registry,
    registry_url,
    safe_url,
    schema_state,
)
from .models import ACCEPTED_STATUSES, DECISIONS, DEFAULT_CRS, METHODS, SEXES, SIDES

__all__ = [
    "ACCEPTED_STATUSES",
    "AddedImage",
    "BatchInfo",
    "CameraInfo",
    "CaptureExport",
    "DECISIONS",
    "DEFAULT_CRS",
    "DecisionInfo",
    "FlankInfo",
    "ImageInfo",
    "IndividualInfo",
    "METHODS",
    "MergeInfo",
    "PeriodInfo",
    "Registry",
    "RegistryError",
    "SEXES",
    "SIDES",
    "SchemaState",
    "SightingInfo",
    "StationImport",
    "StationInfo",
    "VERSION_TABLE",
    "alembic_config",
    "export_captures",
    "image_sha256",
    "migrate",
    "open_registry",
    "registry_url",
    "safe_url",
    "schema_state",
]
