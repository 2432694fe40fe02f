# SPDX-License-Identifier: GPL-3.0-or-later
"""``pardus id import`` and ``pardus id export-captures`` as a user runs them: a folder of
photographs with one sub-folder per station, bad files among them, an import killed half way and
run again, and the confirmed sightings exported as secr files that ``pardus estimate`` reads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_here = Path(sys.executable).parent / "pardus"
PARDUS = str(_here) if _here.exists() else (shutil.which("pardus") or "pardus")
ENV = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore", "PARDUS_TIMEZONE": "Asia/Vladivostok"}


def pardus(*args, cwd):
    return subprocess.run([PARDUS, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=240)


def _photo(path: Path, seed: int, when: str | None, fmt: str = "JPEG") -> None:
    """A small noise image; ``when`` goes into EXIF DateTimeOriginal ("YYYY:MM:DD HH:MM:SS")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    exif = Image.Exif()
    if when is not None:
        exif.get_ifd(0x8769)[36867] = when
    im.save(path, fmt, exif=exif)


@pytest.fixture()
def survey(tmp_path):
    (tmp_path / "stations.csv").write_text(
        "station,x,y,start,end\nST1,500000,4780000,2024-01-01,2024-03-01\nST2,503000,4780000,2024-01-01,2024-03-01\n"
        "ST3,500000,4783000,2024-01-01,2024-03-01\n")
    photos = tmp_path / "photos"
    _photo(photos / "ST1" / "IMG_0001.JPG", 1, "2024:01:05 03:10:00")
    _photo(photos / "ST1" / "IMG_0002.JPG", 2, "2024:01:12 22:01:30")
    _photo(photos / "ST2" / "IMG_0001.JPG", 3, "2024:01:06 01:00:00")
    _photo(photos / "ST3" / "IMG_0007.JPG", 4, "2024:01:20 05:45:00")
    shutil.copy(photos / "ST1" / "IMG_0001.JPG", photos / "ST2" / "copy-of-ST1-0001.JPG")  # the same photograph twice
    (photos / "ST3" / "IMG_0008.JPG").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    _photo(photos / "ST3" / "IMG_0009.PNG", 5, None, "PNG")  # no time
    _photo(photos / "ST9" / "IMG_0001.JPG", 6, "2024:01:07 03:00:00")  # unknown station
    (photos / "ST1" / "notes.txt").write_text("card 7, battery low\n")
    return tmp_path


def test_import_reports_each_bad_file_imports_the_rest_and_is_idempotent(survey):
    res = pardus("id", "import", "photos", "--stations", "stations.csv", "-r", "reg.sqlite", cwd=survey)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "4 image(s) added, 1 already registered" in res.stdout
    err = res.stderr
    assert "IMG_0008.JPG: not a readable image" in err
    assert "IMG_0009.PNG: no time" in err and "--times" in err
    assert "station 'ST9' is not in the registry" in err
    assert "3 file(s) were skipped" in err and "Traceback" not in err
    assert "This copy" in err and "copy-of-ST1-0001.JPG" in err  # the duplicate filed under another station
    again = pardus("id", "import", "photos", "-r", "reg.sqlite", cwd=survey)
    assert "0 image(s) added, 5 already registered" in again.stdout
    # a times file gives the missing time (and wins over EXIF)
    (survey / "times.csv").write_text("image,time\nST3/IMG_0009.PNG,2024-01-21 06:00:00\n")
    fixed = pardus("id", "import", "photos", "--times", "times.csv", "-r", "reg.sqlite", cwd=survey)
    assert "1 image(s) added, 5 already registered" in fixed.stdout


def test_megadetector_skips_empty_frames_and_keeps_the_box(survey):
    md = {"detection_categories": {"1": "animal", "2": "person"}, "images": [
        {"file": "ST1/IMG_0001.JPG", "detections": [{"category": "1", "conf": 0.93, "bbox": [0.1, 0.2, 0.5, 0.4]}]},
        {"file": "ST1/IMG_0002.JPG", "detections": [{"category": "2", "conf": 0.99, "bbox": [0.0, 0.0, 0.3, 0.9]}]},
        {"file": "ST2/IMG_0001.JPG", "detections": []},
        {"file": "ST3/IMG_0007.JPG", "detections": [{"category": "1", "conf": 0.05, "bbox": [0.1, 0.1, 0.2, 0.2]}]},
    ]}
    (survey / "md.json").write_text(json.dumps(md))
    for p in ("ST2/copy-of-ST1-0001.JPG", "ST3/IMG_0008.JPG", "ST3/IMG_0009.PNG", "ST9/IMG_0001.JPG"):
        (survey / "photos" / p).unlink()
    res = pardus("id", "import", "photos", "--stations", "stations.csv", "--megadetector", "md.json", "-r", "reg.sqlite", cwd=survey)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 image(s) added" in res.stdout and "3 empty" in res.stdout
    from pardus.monitoring.registry import open_registry

    with open_registry(survey / "reg.sqlite", timezone="Asia/Vladivostok") as reg:
        (img,) = reg.images()
        assert img.bbox == pytest.approx((0.1, 0.2, 0.5, 0.4)) and img.confidence == pytest.approx(0.93)


KILL_AT = r"""
import os, signal, sys
from pardus.monitoring.photos import import_photos
from pardus.monitoring.registry import open_registry
def progress(done, total):
    if done == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # as kill -9 would, in the middle of the import
with open_registry(sys.argv[1], timezone="Asia/Vladivostok") as reg:
    import_photos(reg, "photos", progress=progress)
"""


@pytest.mark.parametrize("kill_at", [1, 3, 6])
def test_an_import_killed_at_any_point_loses_and_duplicates_nothing(survey, kill_at):
    pardus("id", "migrate", "-r", "reg.sqlite", cwd=survey)
    from pardus.monitoring.registry import open_registry

    with open_registry(survey / "reg.sqlite", timezone="Asia/Vladivostok") as reg:
        reg.import_stations_csv(survey / "stations.csv")
    killed = subprocess.run([sys.executable, "-c", KILL_AT, "reg.sqlite", str(kill_at)], cwd=survey, env=ENV,
                            capture_output=True, text=True, timeout=240)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    res = pardus("id", "import", "photos", "-r", "reg.sqlite", cwd=survey)
    with open_registry(survey / "reg.sqlite", timezone="Asia/Vladivostok") as reg:
        images = reg.images()
    assert len(images) == 4 and len({i.sha256 for i in images}) == 4  # every good photograph, once
    assert "already registered" in res.stdout


def test_confirmed_sightings_export_as_secr_files_that_pardus_reads(survey):
    pardus("id", "import", "photos", "--stations", "stations.csv", "-r", "reg.sqlite", cwd=survey)
    from pardus.monitoring.registry import open_registry
    from pardus.secr.capthist import read_capthist

    with open_registry(survey / "reg.sqlite", timezone="Asia/Vladivostok") as reg:
        by_path = {Path(i.path).relative_to((survey / "photos").resolve()).as_posix(): i for i in reg.images()}
        first = reg.record_decision(by_path["ST1/IMG_0001.JPG"], "new_individual", side="left", by="tester")
        reg.record_decision(by_path["ST3/IMG_0007.JPG"], "confirmed", individual=first.individual, side="left", by="tester")
        reg.record_decision(by_path["ST2/IMG_0001.JPG"], "new_individual", side="right", by="tester")
    res = pardus("id", "export-captures", "-o", "survey", "--start", "2024-01-01", "--occasion-days", "7",
                 "--occasions", "4", "-r", "reg.sqlite", cwd=survey)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pardus estimate" in res.stdout
    ch = read_capthist(survey / "survey.captures.txt", survey / "survey.traps.txt", detector="proximity")
    assert ch.n == 2 and int(np.asarray(ch.counts).sum()) == 3
    assert ch.usage is not None and ch.usage.shape == (3, 4)
