# SPDX-License-Identifier: GPL-3.0-or-later
"""Importing camera-trap photographs into the registry (``pardus id import``).

A folder of photographs — as they come off the cards, usually one sub-folder per station —
goes into the registry (:mod:`pardus.monitoring.registry`) with, for every image:

* **its time**: the EXIF ``DateTimeOriginal`` the camera wrote (``DateTime`` when that is
  missing), or the ``time`` column of a CSV (``--times``: ``image,time[,station]``, ``image``
  the path relative to the photo folder), which wins over EXIF (camera clocks are often wrong,
  and corrected lists are how field teams fix them);
* **its station**: the ``station`` column of that CSV, else the first folder below the photo
  folder (``PHOTOS/ST-017/IMG_0042.JPG`` is station ``ST-017``); the station must be in the
  registry (``--stations stations.csv`` adds them first);
* **the animal's box**, when a MegaDetector batch-output JSON is given (``--megadetector``):
  images in which MegaDetector found no animal at or above ``threshold`` are skipped as empty
  (counted, not errors) and the others keep the box of their most confident animal detection
  (normalised ``[x, y, w, h]``, MegaDetector's format) for the matcher to crop to.

Each image is committed in its own transaction and identified by the SHA-256 of its bytes, so an
import that is killed at any point loses nothing committed and, run again, adds exactly what is
missing: the same photograph twice is one record. A file that cannot be imported — not an image,
corrupt, without a time, at an unknown station — gets one message naming the file, what is wrong
and the fix, and the rest of the folder is still imported.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME = 306


@dataclass
class PhotoImport:
    """What :func:`import_photos` did: ``added`` and ``duplicates`` (already registered),
    ``empty`` (MegaDetector found no animal), ``problems`` (one message per file not imported),
    ``ignored`` (files that are not image files by their name)."""

    folder: str
    added: int = 0
    duplicates: int = 0
    empty: int = 0
    ignored: int = 0
    problems: list[str] = field(default_factory=list)
    duplicate_notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def __str__(self) -> str:
        parts = [f"{self.added} image(s) added", f"{self.duplicates} already registered"]
        if self.empty:
            parts.append(f"{self.empty} empty (no animal by MegaDetector)")
        if self.problems:
            parts.append(f"{len(self.problems)} skipped (listed above)")
        return f"{self.folder}: " + ", ".join(parts)


class PhotoError(ValueError):
    """A problem with the import's own inputs (the folder, the times CSV, the MegaDetector file)."""


def exif_time(path: Path) -> Optional[datetime]:
    """The time the camera wrote into the image (EXIF DateTimeOriginal, else DateTime), naive
    local time as cameras record it; None when the image has none. Raises OSError / ValueError
    from Pillow when the file is not a readable image."""
    from PIL import Image

    with Image.open(path) as im:
        exif = im.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not raw:
        return None
    text = str(raw).strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"its EXIF time {text!r} is not a date and time")


def readable_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file whose pixels decode; OSError / ValueError otherwise."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()  # decodes the pixels: a truncated or corrupt file fails here
        return int(im.width), int(im.height)


def read_times(path: Path) -> dict[str, dict]:
    """``image`` (relative path, '/'-separated) → {time, station} from a times CSV; PhotoError
    naming the line on a bad row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PhotoError(f"{path}: cannot read the times file ({exc.strerror}). Fix: give the path of a CSV with columns image,time[,station]") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise PhotoError(f"{path}: empty. Fix: a header image,time[,station] and one line per photograph")
    head = [h.strip().lower() for h in rows[0]]
    if "image" not in head or "time" not in head:
        raise PhotoError(f"{path}:1: the header {','.join(rows[0])!r} lacks image and time. Fix: columns image,time[,station]")
    i_img, i_time = head.index("image"), head.index("time")
    i_st = head.index("station") if "station" in head else None
    out, problems = {}, []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < len(head):
            problems.append(f"{path}:{n}: {len(row)} fields, the header has {len(head)}. Fix: one value per column")
            continue
        name = PurePosixPath(row[i_img].strip().replace("\\", "/")).as_posix()
        value = row[i_time].strip()
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{path}:{n}: time {value!r} is not an ISO 8601 date and time. Fix: e.g. 2024-03-05 04:12:09")
            continue
        out[name] = {"time": t, "station": row[i_st].strip() if i_st is not None and row[i_st].strip() else None}
    if problems:
        raise PhotoError("\n".join(problems))
    return out


def read_megadetector(path: Path, threshold: float) -> dict[str, Optional[tuple]]:
    """MegaDetector batch output → image path ('/'-separated, as in the file) → (bbox, conf) of
    its most confident animal detection at or above ``threshold``, or None (empty, or failed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PhotoError(f"{path}: cannot read the MegaDetector file ({exc.strerror}). Fix: give the batch-output JSON MegaDetector wrote") from None
    except json.JSONDecodeError as exc:
        raise PhotoError(f"{path}:{exc.lineno}: not JSON ({exc.msg}). Fix: give the batch-output JSON MegaDetector wrote") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise PhotoError(f"{path}: no 'images' list. Fix: give MegaDetector's batch-output JSON (keys images, detection_categories)")
    cats = data.get("detection_categories") or {"1": "animal", "2": "person", "3": "vehicle"}
    animal = {str(k) for k, v in cats.items() if str(v).lower() == "animal"}
    out: dict[str, Optional[tuple]] = {}
    for i, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or "file" not in entry:
            raise PhotoError(f"{path}: images[{i}] has no 'file'. Fix: give MegaDetector's batch-output JSON")
        name = PurePosixPath(str(entry["file"]).replace("\\", "/")).as_posix()
        best = None
        for det in entry.get("detections") or []:
            try:
                conf = float(det["conf"])
                box = tuple(float(v) for v in det["bbox"])
            except (KeyError, TypeError, ValueError):
                raise PhotoError(f"{path}: images[{i}] ({name}): a detection without conf and bbox. Fix: give MegaDetector's batch-output JSON") from None
            if str(det.get("category")) in animal and conf >= threshold and (best is None or conf > best[1]):
                best = (box, conf)
        out[name] = best
    return out


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def import_photos(registry, folder, *, times=None, megadetector=None, threshold: float = 0.2,
                  by: Optional[str] = None, progress: Optional[Callable[[int, int], None]] = None) -> PhotoImport:
    """Import the photographs under ``folder`` into ``registry`` (see the module docstring).
    ``times``: the path of a times CSV; ``megadetector``: the path of MegaDetector's batch
    output; ``threshold``: its minimum confidence of an animal detection. Raises
    :class:`PhotoError` for a missing folder or a bad times / MegaDetector file (nothing
    imported); problems with single photographs are in the result's ``problems``."""
    from .registry import RegistryError

    folder = Path(folder)
    if not folder.is_dir():
        raise PhotoError(f"{folder}: no such folder. Fix: give the folder of the photographs (one sub-folder per station)")
    if not 0.0 <= threshold <= 1.0:
        raise PhotoError(f"threshold {threshold}: must be a confidence in 0–1, e.g. 0.2")
    table = read_times(Path(times)) if times else {}
    md = read_megadetector(Path(megadetector), threshold) if megadetector else None
    stations = {s.code for s in registry.stations()}
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    result = PhotoImport(str(folder))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    result.ignored = len(files) - len(images)
    batch = None
    for done, path in enumerate(images, start=1):
        if progress is not None:
            progress(done, len(images))
        rel = _relative(path, folder)
        if md is not None:
            if rel not in md:
                result.problems.append(f"{path}: not in the MegaDetector file {megadetector}. Fix: run MegaDetector on this folder again, or leave --megadetector out")
                continue
            if md[rel] is None:
                result.empty += 1
                continue
        row = table.get(rel)
        station = (row or {}).get("station") or (PurePosixPath(rel).parts[0] if len(PurePosixPath(rel).parts) > 1 else None)
        if station is None:
            result.problems.append(f"{path}: no station — the photograph is not in a station's sub-folder and the times file gives none. Fix: put it in PHOTOS/<station>/, or add a station column to --times")
            continue
        if station not in stations:
            result.problems.append(f"{path}: station {station!r} is not in the registry. Fix: add it to the stations CSV (--stations), or correct the folder name")
            continue
        try:
            width, height = readable_size(path)
        except (OSError, ValueError, SyntaxError):
            result.problems.append(f"{path}: not a readable image (corrupt, truncated or another kind of file). Fix: remove it from "
                                   "the folder, or replace it with the camera's original file")
            continue
        try:
            t, why = exif_time(path), "the image has no EXIF date"
        except (OSError, ValueError, SyntaxError) as exc:
            t, why = None, str(exc)
        source = "exif"
        if row is not None:
            t, source = row["time"], "manual"
        if t is None:
            result.problems.append(f"{path}: no time — {why}. Fix: give it in a times CSV (--times, columns image,time[,station])")
            continue
        box, conf = (md[rel] if md is not None else (None, None))
        if batch is None:
            batch = registry.new_batch(f"import {folder.name}", source=os.fspath(folder.resolve()), by=by)
        try:
            added = registry.add_image(path, t, station, width=width, height=height, bbox=box, confidence=conf,
                                       batch=batch, time_source=source, path=os.fspath(path.resolve()))
        except RegistryError as exc:
            result.problems.append(f"{path}: {exc}")
            continue
        if added.created:
            result.added += 1
        else:
            result.duplicates += 1
            result.duplicate_notes.append(added.message)
    return result
