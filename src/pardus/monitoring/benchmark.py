# SPDX-License-Identifier: GPL-3.0-or-later
"""Labelled camera-trap image sets: the photo-identification benchmark.

:func:`write_image_set` renders ``n_individuals`` animals × ``images_per_individual``
photographs (:mod:`pardus.monitoring.render`) and writes::

    folder/
      labels.csv             one row per image
      L0001/L0001_1.jpg      the photographs of individual L0001
      L0001/L0001_2.jpg
      ...

``labels.csv`` has the columns ``image`` (path relative to the folder, with ``/``),
``individual``, ``side``, ``pattern_id``, then every field of
:class:`~pardus.monitoring.render.CameraConditions` (``yaw, pitch, ..., night, ...,
occlusion, ..., seed``; booleans as 0/1) and three measured columns: ``occlusion_rendered``
(fraction of the visible flank the vegetation covers in the image), ``flank_pixels`` (flank
pixels in the frame) and ``flank_in_frame`` (fraction of the flank inside the frame).

With ``sides="both"`` (the default) the first half of each individual's images (rounded up) show
its left flank and the rest its right flank (3 + 3 for 6). Conditions are drawn independently
for every image (:func:`~pardus.monitoring.render.sample_conditions`), so background, light,
pose and coat colour never follow the individual. Pattern ids are distinct integers drawn from
the seed.

Everything follows from ``seed``: the same arguments give byte-identical files, with any number
of ``workers``. The set is written into a temporary folder beside the target and renamed into
place at the end, so a set is either complete or absent; a non-empty target folder is refused.
:func:`render_image_set` returns the same images in memory (for tests and notebooks), and
:func:`read_labels` reads ``labels.csv`` back.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..fileio import current_umask
from .coat import coat_pattern
from .render import DIFFICULTIES, CameraConditions, decode_jpeg, encode_jpeg, render_layers, sample_conditions

__all__ = [
    "ImageSpec",
    "LabelledImage",
    "LABEL_COLUMNS",
    "plan_image_set",
    "render_image_set",
    "write_image_set",
    "read_labels",
    "conditions_from_row",
]

_CONDITION_COLUMNS = tuple(f.name for f in fields(CameraConditions))
LABEL_COLUMNS = ("image", "individual", "side", "pattern_id", *_CONDITION_COLUMNS,
                 "occlusion_rendered", "flank_pixels", "flank_in_frame")
"""The columns of ``labels.csv``, in order."""
_SIDES = ("both", "left", "right")


@dataclass(frozen=True)
class ImageSpec:
    """What one image of a set shows: ``image`` (relative path, e.g. ``"L0001/L0001_1.jpg"``),
    ``individual`` (folder name, e.g. ``"L0001"``), ``side``, ``pattern_id`` and
    ``conditions``."""

    image: str
    individual: str
    side: str
    pattern_id: int
    conditions: CameraConditions


@dataclass(frozen=True, eq=False)
class LabelledImage:
    """A rendered image of a set: its :class:`ImageSpec` (``spec``), the JPEG file's bytes
    (``jpeg``), the decoded image (``image``, uint8 BGR, identical to reading the file) and
    the measured columns (``occlusion_rendered``, ``flank_pixels``, ``flank_in_frame``)."""

    spec: ImageSpec
    jpeg: bytes
    image: np.ndarray
    occlusion_rendered: float
    flank_pixels: int
    flank_in_frame: float

    def row(self) -> dict:
        """This image's row of ``labels.csv`` (column → text)."""
        s = self.spec
        row = {"image": s.image, "individual": s.individual, "side": s.side,
               "pattern_id": str(s.pattern_id)}
        for k, v in s.conditions.as_dict().items():
            row[k] = _text(v)
        row["occlusion_rendered"] = _text(self.occlusion_rendered)
        row["flank_pixels"] = str(self.flank_pixels)
        row["flank_in_frame"] = _text(self.flank_in_frame)
        return row


def _text(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)  # shortest text that reads back as the same float
    return str(v)


def _check_int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not (lo <= v <= hi):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


def _check_size(size):
    try:
        h, w = (int(x) for x in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width) in pixels, got {size!r}") from None
    if not (32 <= h <= 4096 and 32 <= w <= 4096):
        raise ValueError(f"size must be (height, width), each in [32, 4096] pixels, got {size!r}")
    return h, w


def plan_image_set(n_individuals: int = 100, images_per_individual: int = 6, seed: int = 0,
                   difficulty: str = "benchmark", sides: str = "both") -> list[ImageSpec]:
    """The images of a set, without rendering them (see :func:`write_image_set` for the
    arguments). Deterministic in ``seed``."""
    n = _check_int("n_individuals", n_individuals, 1, 99999)
    k = _check_int("images_per_individual", images_per_individual, 1, 10000)
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    if sides not in _SIDES:
        raise ValueError(f"sides must be one of {_SIDES}, got {sides!r}")
    ss = np.random.SeedSequence([seed, 0xBE7C])
    id_seq, cond_seq = ss.spawn(2)
    id_rng = np.random.Generator(np.random.PCG64(id_seq))
    ids: list[int] = []
    seen: set[int] = set()
    while len(ids) < n:
        for v in id_rng.integers(0, 2**31 - 1, n - len(ids)):
            if int(v) not in seen:
                seen.add(int(v))
                ids.append(int(v))
    width = max(4, len(str(n)))
    k_width = len(str(k))
    specs = []
    cond_rng = np.random.Generator(np.random.PCG64(cond_seq))
    for i, pid in enumerate(ids):
        name = f"L{i + 1:0{width}d}"
        for j in range(k):
            if sides == "both":
                side = "left" if j < math.ceil(k / 2) else "right"
            else:
                side = sides
            cond = sample_conditions(cond_rng, difficulty)
            specs.append(ImageSpec(f"{name}/{name}_{j + 1:0{k_width}d}.jpg", name, side, pid, cond))
    return specs


def _render_one(spec: ImageSpec, size) -> LabelledImage:
    r = render_layers(coat_pattern(spec.pattern_id), spec.side, spec.conditions, size)
    data = encode_jpeg(r.image, spec.conditions.jpeg_quality)
    return LabelledImage(spec, data, decode_jpeg(data), r.occlusion, r.flank_pixels, r.flank_in_frame)


def _render_chunk(specs: list[ImageSpec], size) -> list[tuple[bytes, float, int, float]]:
    """Render ``specs`` (top level, for worker processes): JPEG bytes and measured columns."""
    out = []
    for s in specs:
        li = _render_one(s, size)
        out.append((li.jpeg, li.occlusion_rendered, li.flank_pixels, li.flank_in_frame))
    return out


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)  # the workers are the parallelism


def _render_all(specs: list[ImageSpec], size, workers: int) -> list[LabelledImage]:
    if workers <= 1 or len(specs) < 2:
        return [_render_one(s, size) for s in specs]
    n_chunks = min(len(specs), 4 * workers)
    chunks = [specs[i::n_chunks] for i in range(n_chunks)]
    results: list = [None] * len(specs)
    # fresh interpreters: forking a process whose OpenCV thread pool is running can hang
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=_worker_init) as pool:
        for c, part in enumerate(pool.map(_render_chunk, chunks, [size] * n_chunks)):
            for j, res in enumerate(part):
                results[c + j * n_chunks] = res
    return [LabelledImage(s, data, decode_jpeg(data), occ, npx, inf)
            for s, (data, occ, npx, inf) in zip(specs, results)]


def render_image_set(n_individuals: int = 10, images_per_individual: int = 6, seed: int = 0,
                     size: tuple[int, int] = (480, 640), difficulty: str = "benchmark",
                     sides: str = "both", workers: int = 1) -> list[LabelledImage]:
    """The images of a set in memory, in file order (the arguments are those of
    :func:`write_image_set`); ``LabelledImage.image`` equals the decoded file."""
    specs = plan_image_set(n_individuals, images_per_individual, seed, difficulty, sides)
    size = _check_size(size)
    workers = _check_int("workers", workers, 1, 256)
    return _render_all(specs, size, workers)


def _labels_csv(images: list[LabelledImage]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for li in images:
        w.writerow(li.row())
    return buf.getvalue().encode("utf-8")


def _refuse_non_empty(folder: Path) -> None:
    if folder.exists():
        if not folder.is_dir():
            raise FileExistsError(f"{folder} exists and is not a folder: remove it or choose another folder")
        if any(folder.iterdir()):
            raise FileExistsError(
                f"{folder} is not empty: an image set is only written into a new or empty folder; "
                f"remove the folder (or its contents) or choose another folder")


def write_image_set(folder: str | os.PathLike, n_individuals: int = 100, images_per_individual: int = 6,
                    seed: int = 0, size: tuple[int, int] = (480, 640), difficulty: str = "benchmark",
                    sides: str = "both", workers: int = 1) -> Path:
    """Render and write a labelled image set into ``folder`` (see the module docstring).

    * ``folder``: the target folder; it must not exist or be empty (:class:`FileExistsError`
      otherwise); its parent must exist;
    * ``n_individuals``: number of animals, 1–99999; ``images_per_individual``: images of each,
      1–10000;
    * ``seed``: integer in [0, 2**63 − 1]; the same seed gives byte-identical files;
    * ``size``: (height, width) of the images in pixels, each 32–4096;
    * ``difficulty``: condition distribution, one of
      :data:`~pardus.monitoring.render.DIFFICULTIES`;
    * ``sides``: ``"both"`` (half of each animal's images from each flank), ``"left"`` or
      ``"right"``;
    * ``workers``: processes rendering in parallel, 1–256 (results identical to 1).

    Returns the folder's path.
    """
    folder = Path(folder)
    specs = plan_image_set(n_individuals, images_per_individual, seed, difficulty, sides)
    size = _check_size(size)
    workers = _check_int("workers", workers, 1, 256)
    if not folder.parent.is_dir():
        raise FileNotFoundError(f"the parent folder of {folder} does not exist: create {folder.parent} first")
    _refuse_non_empty(folder)
    images = _render_all(specs, size, workers)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        for li in images:
            path = tmp / li.spec.image
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(li.jpeg)
        (tmp / "labels.csv").write_bytes(_labels_csv(images))
        mode = 0o777 & ~current_umask()
        for d in [tmp, *(p for p in tmp.iterdir() if p.is_dir())]:
            os.chmod(d, mode)
        _refuse_non_empty(folder)  # someone may have written there meanwhile
        if folder.exists():
            folder.rmdir()
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def conditions_from_row(row: dict) -> CameraConditions:
    """The :class:`~pardus.monitoring.render.CameraConditions` of a ``labels.csv`` row (as
    :func:`read_labels` returns it): rendering them again gives the same image."""
    kinds = {f.name: f.type for f in fields(CameraConditions)}
    values = {}
    for name, kind in kinds.items():
        if name not in row:
            raise ValueError(f"row has no column {name!r}: is it a row of labels.csv?")
        text = row[name]
        if kind in ("bool", bool):
            values[name] = text == "1"
        elif kind in ("int", int):
            values[name] = int(text)
        elif kind in ("str", str):
            values[name] = text
        else:
            values[name] = float(text)
    return CameraConditions(**values)


def read_labels(folder: str | os.PathLike) -> list[dict]:
    """The rows of ``folder/labels.csv`` as dicts (column → text)."""
    path = Path(folder) / "labels.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {folder} an image set written by write_image_set?")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
