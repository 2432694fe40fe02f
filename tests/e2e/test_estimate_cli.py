# SPDX-License-Identifier: GPL-3.0-or-later
"""`pardus estimate`, run as a user would (a subprocess of the installed command).

captdata (secr's demo data) with a 100 m buffer reproduces secr's D; stoatCH as proximity
detectors with the shipped mask file; a bad capture file and a mask that misses the detectors
stop with exit 2, the file:line message and no output; a model that cannot be fitted is listed
with its reason, exit 1, and the other models are still written. Plus the model-selection
arithmetic (secr's AIC table) on stand-in fits. About half a minute in all.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"
_here = Path(sys.executable).parent / "pardus"
PARDUS = str(_here) if _here.exists() else (shutil.which("pardus") or "pardus")
ENV = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}

CAPT = DATA / "captdatacapt.txt"
TRAP = DATA / "captdatatrap.txt"


def pardus(*args, cwd=None, timeout=240):
    return subprocess.run([PARDUS, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=timeout)


def expected(dataset: str, detector: str, param: str = "D") -> float:
    """secr 5.5.0's estimate from the shipped expected_secr_fits.csv (detectfn HN, full likelihood)."""
    with open(DATA / "expected_secr_fits.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["dataset"], r["detector"], r["param"], r["detectfn"], r["CL"]) == (dataset, detector, param, "0", "FALSE"):
                return float(r["estimate"])
    raise LookupError((dataset, detector, param))


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the atomic writes (.NAME.*.part / .probe) left in a folder."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def captdata_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("captdata")
    res = pardus("estimate", CAPT, "--traps", TRAP, "--detector", "single", "--buffer", 100,
                 "--detectfn", "HN", "-o", out / "est.csv")
    return res, out


def test_captdata_null_hn_reproduces_secr_density(captdata_run):
    res, out = captdata_run
    assert res.returncode == 0, res.stderr
    table = rows(out / "est.csv")
    d = next(r for r in table if r["model"] == "null" and r["detectfn"] == "HN" and r["parameter"] == "D")
    want = expected("captdata", "multi")  # secr fits single-catch data as multi-catch
    assert float(d["estimate"]) == pytest.approx(want, rel=1e-4)
    assert d["unit"] == "animals/ha" and d["likelihood"] == "full" and d["status"] == "ok"
    assert float(d["lcl"]) < float(d["estimate"]) < float(d["ucl"])
    d100 = next(r for r in table if r["parameter"] == "D_100km2")
    assert float(d100["estimate"]) == pytest.approx(1e4 * float(d["estimate"]), rel=1e-12)
    assert d100["unit"] == "animals/100km2"
    params = {r["parameter"] for r in table}
    assert {"D", "D_100km2", "g0", "sigma"} <= params
    # model-selection columns on every row
    assert d["rank"] == "1" and d["npar"] == "3" and float(d["AICcwt"]) == 1.0
    assert float(d["logLik"]) == pytest.approx(-759.025745731505, abs=1e-4)
    # printed: the capture summary, the estimates, the model selection, closed-population N
    for text in ("Counts by occasion", "Estimates", "Model selection", "Closed-population N", "animals/100 km²"):
        assert text in res.stdout
    assert "76 animals, 235 detections" in res.stdout
    assert leftovers(out) == []


def test_captdata_report_has_the_figures(captdata_run):
    res, out = captdata_run
    report = out / "est.html"  # default: beside the CSV
    assert report.exists(), res.stderr
    html = report.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4
    for fig in ("fig-secr-detections", "fig-secr-detection-function", "fig-secr-mask", "fig-secr-estimates"):
        assert f'id="{fig}"' in html
    for section in ('id="secr-parameters"', 'id="secr-selection"', 'id="closed-1"', 'id="methods"'):
        assert section in html
    assert "secr 5.5.0" in html and "make.mask(traps, buffer = 100, nx = 64" in html
    assert "54,798" in html  # D per 100 km² of the best model, in the headline and the table


def test_hazard_forms_are_fitted_with_lambda0(tmp_path):
    """--detectfn HHN/HEX (secr's 14, 16): the intercept is the hazard lambda0 (log link)."""
    out = tmp_path / "est.csv"
    res = pardus("estimate", CAPT, "--traps", TRAP, "--detector", "single", "--buffer", "100", "--detectfn", "HHN",
                 "--detectfn", "16", "--no-closed", "--no-report", "-o", out)
    assert res.returncode == 0, res.stdout + res.stderr
    table = rows(out)
    for fn in ("HHN", "HEX"):
        params = {r["parameter"]: r for r in table if r["detectfn"] == fn}
        assert {"D", "lambda0", "sigma"} <= set(params), params
        lam = params["lambda0"]
        assert lam["link"] == "log" and lam["unit"] == "hazard"
        assert float(lam["lcl"]) < float(lam["estimate"]) < float(lam["ucl"])
        assert "g0" not in params


def test_stoat_proximity_with_a_mask_file(tmp_path):
    out = tmp_path / "stoat.csv"
    res = pardus("estimate", DATA / "stoatCHcapt.txt", "--traps", DATA / "stoatCHtrap.txt", "--detector", "proximity",
                 "--mask", DATA / "stoatCH_mask_buffer1000_nx64.csv", "--no-closed", "--no-report", "-o", out)
    assert res.returncode == 0, res.stderr
    d = next(r for r in rows(out) if r["parameter"] == "D")
    assert float(d["estimate"]) == pytest.approx(expected("stoatCH", "proximity"), rel=1e-4)
    assert d["detector"] == "proximity"
    assert "3960 points, spacing 78.12 m" in res.stdout
    assert "Closed-population" not in res.stdout
    assert not out.with_suffix(".html").exists()  # --no-report
    assert leftovers(tmp_path) == []


def test_bad_capture_file_exits_2_with_file_line_and_writes_nothing(tmp_path):
    lines = CAPT.read_text().splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
    fields = lines[k].split()
    fields[3] = "Z99"  # a detector label that is not in the detector file
    lines[k] = " ".join(fields) + "\n"
    bad = tmp_path / "badcapt.txt"
    bad.write_text("".join(lines))
    out = tmp_path / "est.csv"
    res = pardus("estimate", bad, "--traps", TRAP, "--detector", "single", "--buffer", 100, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{bad}:{k + 1}:" in res.stderr
    assert "'Z99'" in res.stderr and "Fix:" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists() and not out.with_suffix(".html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["badcapt.txt"]


def test_mask_that_misses_the_detectors_exits_2(tmp_path):
    src = rows(DATA / "captdata_mask_buffer100_nx64.csv")
    mask = tmp_path / "far.csv"
    with open(mask, "w", encoding="utf-8") as fh:
        fh.write("x,y\n")
        for r in src:
            fh.write(f"{float(r['x']) + 10_000},{r['y']}\n")  # 10 km east of the traps
    out = tmp_path / "est.csv"
    res = pardus("estimate", CAPT, "--traps", TRAP, "--detector", "single", "--mask", mask, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert str(mask) in res.stderr and "does not cover" in res.stderr and "Fix:" in res.stderr
    assert not out.exists() and not out.with_suffix(".html").exists()
    assert leftovers(tmp_path) == []


def test_a_model_that_cannot_be_fitted_exits_1_and_the_others_are_written(tmp_path):
    out = tmp_path / "est.csv"
    res = pardus("estimate", CAPT, "--traps", TRAP, "--detector", "single", "--buffer", 100, "--no-closed",
                 "--model", "null", "--model", "g0~nosuchcovariate", "-o", out)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "model g0~nosuchcovariate (HN) was skipped:" in res.stdout
    assert "skipped or did not converge" in res.stderr
    table = rows(out)
    null_d = next(r for r in table if r["model"] == "null" and r["parameter"] == "D")
    assert float(null_d["estimate"]) == pytest.approx(expected("captdata", "multi"), rel=1e-4)
    skipped = [r for r in table if r["model"] == "g0~nosuchcovariate"]
    assert len(skipped) == 1 and skipped[0]["status"] == "skipped" and skipped[0]["note"]
    assert skipped[0]["estimate"] == "" and skipped[0]["AICc"] == ""
    html = out.with_suffix(".html").read_text(encoding="utf-8")
    assert 'id="problems"' in html and "g0~nosuchcovariate" in html


@pytest.mark.parametrize(
    "args, message",
    [
        (["--buffer", "100", "--mask", str(DATA / "captdata_mask_buffer100_nx64.csv")], "--buffer and --mask"),
        ([], "--buffer"),
        (["--buffer", "100", "--detectfn", "XX"], "--detectfn XX"),
        (["--buffer", "100", "--model", "nonsense"], "--model nonsense"),
        (["--buffer", "100", "--detector", "polygon"], "--detector polygon"),
    ],
)
def test_option_errors_exit_2(tmp_path, args, message):
    out = tmp_path / "est.csv"
    res = pardus("estimate", CAPT, "--traps", TRAP, *args, "-o", out)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- the AIC table


def _fake(loglik, npar, n=40, converged=True, hessian_pd=True):
    return SimpleNamespace(loglik=loglik, npar=npar, n=n, aic=-2 * loglik + 2 * npar,
                           aicc=-2 * loglik + 2 * npar * n / (n - npar - 1), esa_ha=1.0, converged=converged,
                           hessian_pd=hessian_pd, message="did not converge" if not converged else "",
                           estimates={"D": 1.0 if converged else None, "g0": 0.2 if converged else None},
                           se={}, lcl={}, ucl={}, links={"D": "log", "g0": "logit"}, likelihood="full",
                           detector="multi", extra={})


def test_model_selection_is_secrs_aicc_table():
    from pardus.secr.estimate import ModelFit, _parameter_rows, _selection

    fits = [
        ModelFit("null", {}, "HN", fit=_fake(-100.0, 3)),
        ModelFit("null", {}, "EX", fit=_fake(-99.0, 4)),
        ModelFit("null", {}, "HR", fit=_fake(-90.0, 5, converged=False)),
        ModelFit("g0~b", {"g0": "~b"}, "HN", error="not supported"),
        ModelFit("g0~t", {"g0": "~t"}, "HN", fit=_fake(-120.0, 3, hessian_pd=False)),
    ]
    table, by_index = _selection(fits)
    assert [(r["model"], r["detectfn"]) for r in table] == [
        ("null", "HN"), ("null", "EX"), ("g0~t", "HN"), ("null", "HR"), ("g0~b", "HN")]
    aicc = {(r["model"], r["detectfn"]): r["AICc"] for r in table}
    best = aicc[("null", "HN")]
    assert table[0]["dAICc"] == 0.0 and table[0]["rank"] == 1
    d_ex = aicc[("null", "EX")] - best
    assert table[1]["dAICc"] == pytest.approx(d_ex)
    # weights over the models with dAICc < 10 (secr's dmax), rounded to 4 decimals as secr
    w = [1.0, math.exp(-d_ex / 2)]
    assert table[0]["AICcwt"] == round(w[0] / sum(w), 4) and table[1]["AICcwt"] == round(w[1] / sum(w), 4)
    assert table[2]["dAICc"] > 10 and table[2]["AICcwt"] == 0.0
    assert table[2]["status"] == "Hessian not positive definite"
    # not converged and skipped: listed, no numbers
    for r in table[3:]:
        assert r["rank"] is None and r["logLik"] is None and r["AICc"] is None and r["AICcwt"] is None
    assert table[3]["status"] == "not converged" and "did not converge" in table[3]["note"]
    assert table[4]["status"] == "skipped" and table[4]["note"] == "not supported"
    params = _parameter_rows(fits, by_index)
    hr = [r for r in params if r["detectfn"] == "HR"]
    assert hr and all(r["estimate"] is None for r in hr)
    d = next(r for r in params if r["model"] == "null" and r["detectfn"] == "HN" and r["parameter"] == "D_100km2")
    assert d["estimate"] == 1e4
