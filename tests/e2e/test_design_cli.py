# SPDX-License-Identifier: GPL-3.0-or-later
"""`pardus design`, run as a user would (a subprocess of the installed command).

secr's captdata detector layout with small settings (4 surveys, a 16-cell mask, 5 occasions):
the settings, the summary table and the verdict for D are printed, and the verdict agrees with
the per-survey CSV; the CSV has one row per survey and the documented columns; the same seed
gives the same CSV again, with one or two workers and with the density given per 100 km²; a
bad detector file or option stops with exit 2, a message naming it and nothing written.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"
_here = Path(sys.executable).parent / "pardus"
PARDUS = str(_here) if _here.exists() else (shutil.which("pardus") or "pardus")
ENV = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}

TRAP = DATA / "captdatatrap.txt"
SMALL = ("--g0", "0.25", "--sigma", "30", "--occasions", "5", "--nx", "16", "-n", "4")
COLUMNS = ["sim", "N", "n", "r", "status", "converged", "D", "D_lcl", "D_ucl", "g0", "g0_lcl", "g0_ucl",
           "sigma", "sigma_lcl", "sigma_ucl", "message"]
STATUSES = {"ok", "no_estimate", "failed", "not_converged", "no_variance"}


def pardus(*args, cwd=None, timeout=240):
    return subprocess.run([PARDUS, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=timeout)


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def design(out: Path, *extra, density=("--density", "5"), seed="7", workers="1"):
    return pardus("design", TRAP, *density, *SMALL, "-s", seed, "-w", workers, *extra, "-o", out)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("design")
    res = design(folder / "a.csv")
    return res, folder


def test_prints_the_settings_the_table_and_the_verdict(first):
    res, folder = first
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Design: captdatatrap.txt — 100 multi detectors, 5 occasions; D = 5 animals/ha (50,000 per 100 km²)" in out
    assert "g0 = 0.25, σ = 30 m; full likelihood" in out
    assert "nx 16; 4 simulated surveys, seed 7" in out
    assert "Design study: 4 simulated surveys" in out
    for header in ("parameter", "true", "mean", "rel. bias ± SE", "RMSE", "rel. RMSE", "95 % coverage ± SE", "ok fits", "excluded"):
        assert header in out
    table = [ln for ln in out.splitlines() if ln.startswith("│")]
    assert [ln.split("│")[1].strip() for ln in table] == ["D", "g0", "σ"]
    assert "D: relative bias " in out and "over " in out and "surveys" in out
    assert "wrote " in res.stderr and "Traceback" not in res.stderr


def test_csv_has_one_row_per_survey_and_the_documented_columns(first):
    res, folder = first
    assert res.returncode == 0, res.stderr
    table = rows(folder / "a.csv")
    assert len(table) == 4
    assert list(table[0]) == COLUMNS
    assert [r["sim"] for r in table] == ["0", "1", "2", "3"]
    assert {r["status"] for r in table} <= STATUSES
    for r in table:
        assert int(r["n"]) <= int(r["N"])
        if r["status"] == "ok":
            assert float(r["D_lcl"]) < float(r["D"]) < float(r["D_ucl"])
    assert sorted(p.name for p in folder.iterdir()) == ["a.csv"]  # no temporary file left


def test_verdict_agrees_with_the_csv(first):
    """The relative bias and coverage printed for D are those of the ok rows of the CSV."""
    res, folder = first
    ok = [r for r in rows(folder / "a.csv") if r["status"] == "ok"]
    assert ok, "no ok fit in the small design"
    est = [float(r["D"]) for r in ok]
    rb = sum(est) / len(est) / 5.0 - 1.0
    cov = sum(float(r["D_lcl"]) <= 5.0 <= float(r["D_ucl"]) for r in ok) / len(ok)
    verdict = next(ln for ln in res.stdout.splitlines() if ln.startswith("D: "))
    assert f"relative bias {100 * rb:+.1f} %" in verdict
    assert f"95 % interval coverage {100 * cov:.1f} %" in verdict
    d_row = next(ln for ln in res.stdout.splitlines() if ln.startswith("│ D "))
    cells = [c.strip() for c in d_row.split("│")[1:-1]]
    assert cells[2] == "5" and cells[4].startswith(f"{100 * rb:+.1f} % ± ")
    assert cells[8] == str(len(ok)) and cells[9] == ("none" if len(ok) == 4 else cells[9])


def test_same_seed_same_csv_for_one_or_two_workers_and_either_density_unit(first, tmp_path):
    _res, folder = first
    want = (folder / "a.csv").read_bytes()
    again = design(tmp_path / "again.csv")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.csv").read_bytes() == want
    two = design(tmp_path / "two.csv", workers="2")
    assert two.returncode == 0, two.stderr
    assert (tmp_path / "two.csv").read_bytes() == want
    per_100km2 = design(tmp_path / "km2.csv", density=("--density-100km2", "50000"))
    assert per_100km2.returncode == 0, per_100km2.stderr
    assert (tmp_path / "km2.csv").read_bytes() == want
    assert "per 100 km² (true 50,000)" in per_100km2.stdout
    d_row = next(ln for ln in per_100km2.stdout.splitlines() if ln.startswith("│ D "))
    assert [c.strip() for c in d_row.split("│")[1:4]] == ["D", "animals/100 km²", "50,000"]
    other = design(tmp_path / "other.csv", seed="8")
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "other.csv").read_bytes() != want


def test_without_output_nothing_is_written(tmp_path):
    res = pardus("design", TRAP, "--density", "5", *SMALL, "-w", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Design study: 4 simulated surveys" in res.stdout
    assert list(tmp_path.iterdir()) == []


def _bad_traps(tmp_path: Path) -> tuple[Path, int]:
    lines = TRAP.read_text().splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
    fields = lines[k].split()
    fields[1] = "east"
    lines[k] = " ".join(fields) + "\n"
    bad = tmp_path / "badtrap.txt"
    bad.write_text("".join(lines))
    return bad, k + 1


def test_unreadable_detector_file_exits_2_with_file_and_line(tmp_path):
    bad, line = _bad_traps(tmp_path)
    out = tmp_path / "design.csv"
    res = pardus("design", bad, "--density", "5", *SMALL, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{bad}:{line}:" in res.stderr and "Fix:" in res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["badtrap.txt"]


def test_missing_detector_file_exits_2(tmp_path):
    out = tmp_path / "design.csv"
    res = pardus("design", tmp_path / "nosuch.txt", "--density", "5", *SMALL, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "nosuch.txt: cannot open" in res.stderr and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_usage_with_other_occasions_than_given_exits_2(tmp_path):
    lines = [ln if ln.startswith("#") or not ln.strip() else ln.rstrip("\n") + " 111\n"
             for ln in TRAP.read_text().splitlines(keepends=True)]
    traps = tmp_path / "usage.txt"
    traps.write_text("".join(lines))
    out = tmp_path / "design.csv"
    res = pardus("design", traps, "--density", "5", *SMALL, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "usage has 3 occasions but --occasions is 5" in res.stderr and "--occasions 3" in res.stderr
    assert not out.exists()


GOOD = {"--density": "5", "--g0": "0.25", "--sigma": "30", "--occasions": "5", "--nx": "16", "-n": "4"}


def _args(**change) -> list[str]:
    opts = dict(GOOD)
    for k, v in change.items():
        key = {"density": "--density", "g0": "--g0", "sigma": "--sigma", "occasions": "--occasions", "n": "-n"}[k]
        if v is None:
            opts.pop(key)
        else:
            opts[key] = v
    return [x for kv in opts.items() for x in kv]


@pytest.mark.parametrize(
    "args, message",
    [
        (_args(density=None), "--density and --density-100km2: give one of them"),
        (_args() + ["--density-100km2", "50000"], "--density and --density-100km2: give one of them"),
        (_args(density="0"), "--density 0.0: give a positive density"),
        (_args(density=None) + ["--density-100km2", "-5"], "--density-100km2 -5.0: give a positive density"),
        (_args(g0="0"), "--g0 0.0: give a detection probability in (0, 1]"),
        (_args(g0="1.5"), "--g0 1.5: give a detection probability in (0, 1]"),
        (_args(sigma="0"), "--sigma 0.0: give a positive spatial scale"),
        (_args(occasions="0"), "--occasions 0: give a whole number of occasions ≥ 1"),
        (_args() + ["--detectfn", "HR"], "--detectfn HR: the hazard-rate function needs its shape — give --z"),
        (_args() + ["--detectfn", "HHN"], "--g0 0.25: the hazard form HHN has the intercept lambda0 — give --lambda0"),
        (_args(g0=None) + ["--detectfn", "HHN"], "--detectfn HHN: give the true hazard at distance 0, --lambda0"),
        (_args() + ["--lambda0", "0.3"], "--lambda0 0.3: lambda0 belongs to the hazard forms"),
        (_args(n="0"), "--replicates 0 — must be a whole number of at least 1"),
        (_args() + ["-w", "0"], "--workers 0 — must be a whole number of at least 1"),
    ],
    ids=["no-density", "two-densities", "density-0", "density-100km2-negative", "g0-0", "g0-1.5", "sigma-0",
         "occasions-0", "HR-without-z", "HHN-with-g0", "HHN-without-lambda0", "lambda0-with-HN", "replicates-0",
         "workers-0"],
)
def test_option_errors_exit_2_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "design.csv"
    res = pardus("design", TRAP, *args, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr and "simulating" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_hazard_form_is_simulated_and_fitted_with_lambda0(tmp_path):
    out = tmp_path / "hhn.csv"
    res = pardus("design", TRAP, "--density", "5", "--detectfn", "HHN", "--lambda0", "0.3", "--sigma", "30",
                 "--occasions", "5", "--nx", "16", "-n", "3", "-s", "3", "-w", "1", "-o", out)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "detection HHN, lambda0 = 0.3" in res.stdout
    table = rows(out)
    assert len(table) == 3 and "lambda0" in table[0] and "g0" not in table[0]
    ok = [r for r in table if r["status"] == "ok"]
    assert ok and all(float(r["lambda0_lcl"]) < float(r["lambda0"]) < float(r["lambda0_ucl"]) for r in ok)
