# SPDX-License-Identifier: GPL-3.0-or-later
"""``pardus id``: photo-identification — the registry of known leopards, importing camera-trap
photographs, matching them, reviewing the matches, and exporting detection histories for
``pardus estimate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .cli_base import UserError, err, out

id_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                     help="Photo-ID: import camera-trap photographs into a registry of known leopards, match, review, export detection histories.")

H_REGISTRY = ("the registry: a SQLite file (created when missing) or a database URL such as postgresql+psycopg://user@host/db; "
              "default: $PARDUS_REGISTRY, else pardus-registry.sqlite in the current folder")
H_TZ = "IANA time zone of the cameras' clocks, e.g. Asia/Vladivostok (EXIF times carry none); default: $PARDUS_TIMEZONE"


def _registry_arg(registry: Optional[str]) -> str:
    return registry or os.environ.get("PARDUS_REGISTRY") or "pardus-registry.sqlite"


def _open(registry: Optional[str], timezone: Optional[str] = None, *, migrate: bool = True):
    from .monitoring.registry import RegistryError, open_registry

    try:
        return open_registry(_registry_arg(registry), migrate=migrate, timezone=timezone or os.environ.get("PARDUS_TIMEZONE"))
    except RegistryError as exc:
        raise UserError(str(exc).splitlines()) from None


@id_app.command("migrate")
def id_migrate(
    registry: Optional[str] = typer.Option(None, "--registry", "-r", help=H_REGISTRY),
) -> None:
    """Bring a registry's schema to this pardus's newest revision (Alembic upgrade); a new registry gets the whole schema."""
    from .monitoring.registry import RegistryError, migrate

    target = _registry_arg(registry)
    try:
        before, after = migrate(target)
    except RegistryError as exc:
        raise UserError(str(exc).splitlines()) from None
    from .monitoring.registry.db import safe_url

    if tuple(before) == tuple(after):
        out.print(f"{safe_url(target)}: at revision {', '.join(after) or '(none)'}, nothing to do", highlight=False, markup=False)
    else:
        out.print(f"{safe_url(target)}: migrated from {', '.join(before) or '(empty)'} to {', '.join(after)}", highlight=False, markup=False)


@id_app.command("import")
def id_import(
    photos: Path = typer.Argument(..., help="folder of camera-trap photographs, one sub-folder per station (PHOTOS/<station>/...), or any layout with --times giving the station"),
    stations: Optional[Path] = typer.Option(None, "--stations", help="CSV of the camera stations: station,x,y[,start,end,camera] (metres; one line per working period); added to the registry first"),
    times: Optional[Path] = typer.Option(None, "--times", help="CSV image,time[,station] (image: path relative to PHOTOS): times (and stations) that win over EXIF"),
    megadetector: Optional[Path] = typer.Option(None, "--megadetector", help="MegaDetector batch-output JSON of PHOTOS: images without an animal are skipped as empty, the others keep the animal's box"),
    threshold: float = typer.Option(0.2, "--threshold", help="minimum MegaDetector confidence of an animal detection"),
    timezone: Optional[str] = typer.Option(None, "--timezone", help=H_TZ),
    crs: str = typer.Option("EPSG:32652", "--crs", help="coordinate reference system of the stations' x, y (default UTM 52N, southwest Primorye)"),
    by: Optional[str] = typer.Option(None, "--by", help="who imports (recorded with the batch)"),
    registry: Optional[str] = typer.Option(None, "--registry", "-r", help=H_REGISTRY),
) -> None:
    """Import camera-trap photographs: time (EXIF or --times), station, MegaDetector's box; each image once (by its
    SHA-256), each committed at once, so an interrupted import can simply be run again. Exit 1 if a file was skipped."""
    from .monitoring.photos import PhotoError, import_photos
    from .monitoring.registry import RegistryError

    if not 0.0 <= threshold <= 1.0:
        raise UserError([f"--threshold {threshold}: give a confidence in 0–1, e.g. 0.2"])
    if not photos.is_dir():
        raise UserError([f"{photos}: no such folder — give the folder of the photographs (one sub-folder per station)"])
    tz = timezone or os.environ.get("PARDUS_TIMEZONE")
    if not tz:
        raise UserError(["--timezone: give the time zone of the cameras' clocks, e.g. --timezone Asia/Vladivostok "
                         "(EXIF times have none; or set PARDUS_TIMEZONE)"])
    reg = _open(registry, tz)
    try:
        if stations is not None:
            try:
                res = reg.import_stations_csv(stations, crs=crs)
            except RegistryError as exc:
                raise UserError(str(exc).splitlines()) from None
            err.print(str(res), highlight=False, markup=False)
        try:
            result = import_photos(reg, photos, times=times, megadetector=megadetector, threshold=threshold, by=by)
        except PhotoError as exc:
            raise UserError(str(exc).splitlines()) from None
    finally:
        reg.close()
    for line in result.problems:
        err.print(f"skipped: {line}", highlight=False, markup=False)
    for line in result.duplicate_notes:
        if "This copy" in line:  # duplicates that disagree on station or time deserve a look
            err.print(f"note: {line}", highlight=False, markup=False)
    out.print(str(result), highlight=False, markup=False)
    if result.problems:
        raise UserError([f"{len(result.problems)} file(s) were skipped (listed above); the others are in the registry — fix them and run the same command again"], code=1)


@id_app.command("export-captures")
def id_export_captures(
    output: Path = typer.Option(..., "--output", "-o", help="prefix of the files written: PREFIX.captures.txt (secr's Session ID Occasion Detector) and PREFIX.traps.txt (Detector x y usage)"),
    start: str = typer.Option(..., "--start", help="start of occasion 1, e.g. 2024-01-10 (ISO 8601; in the registry's time zone, --timezone)"),
    occasion_days: float = typer.Option(..., "--occasion-days", help="length of an occasion in days (e.g. 7)"),
    occasions: int = typer.Option(..., "--occasions", help="number of occasions"),
    detector: str = typer.Option("proximity", "--detector", help="proximity (camera traps: an animal can be photographed at several stations in one occasion) or count"),
    usage: str = typer.Option("fraction", "--usage", help="detector usage per occasion: fraction (share of the occasion the station worked) or binary"),
    session: str = typer.Option("S1", "--session", help="session label"),
    drop_inactive: bool = typer.Option(False, "--drop-inactive", help="drop sightings outside their station's working periods instead of stopping"),
    sex: bool = typer.Option(False, "--sex", help="add the individual covariate sex (F, M, NA)"),
    timezone: Optional[str] = typer.Option(None, "--timezone", help=H_TZ),
    registry: Optional[str] = typer.Option(None, "--registry", "-r", help=H_REGISTRY),
) -> None:
    """Write the confirmed sightings of one survey as secr detection histories and the detector layout with usage,
    for `pardus estimate PREFIX.captures.txt --traps PREFIX.traps.txt --detector proximity`."""
    from .monitoring.registry import RegistryError, export_captures

    if occasions < 1:
        raise UserError([f"--occasions {occasions}: give a whole number ≥ 1"])
    if not occasion_days > 0:
        raise UserError([f"--occasion-days {occasion_days}: give a positive length in days, e.g. 7"])
    if output.parent and not output.parent.exists():
        raise UserError([f"{output.parent}: no such folder — create it, or give another --output prefix"])
    reg = _open(registry, timezone)
    try:
        try:
            res = export_captures(reg, output, start=start, occasion_days=occasion_days, n_occasions=occasions,
                                  detector=detector, session=session, usage=usage,
                                  inactive="drop" if drop_inactive else "error", sex=sex)
        except RegistryError as exc:
            raise UserError(str(exc).splitlines()) from None
    finally:
        reg.close()
    out.print(str(res), highlight=False, markup=False)
    out.print(f"next: pardus estimate {res.captures} --traps {res.traps} --detector {res.detector} --buffer BUFFER_M", highlight=False, markup=False)
