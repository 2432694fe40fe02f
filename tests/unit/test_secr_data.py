"""Capture data and habitat masks for SECR (pardus.secr.capthist, pardus.secr.mask).

Counts are checked against counts taken straight from the raw text files with plain string
operations (independent of the reader), and against the numbers the shipped README and
secr's documentation give for these datasets. Masks are checked point for point against the
masks secr 5.5.0 wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pardus.secr import (
    CaptHist,
    CaptureDataError,
    read_capthist,
    read_capthist_sessions,
    read_traps,
    write_capthist,
)
from pardus.secr.capthist import moves, summary
from pardus.secr.mask import (
    Mask,
    MaskError,
    covers_detectors,
    make_mask,
    points_in_polygon,
    read_mask_csv,
    write_mask_csv,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "secr"
DATASETS = {  # stem: (detector type as secr declares it, README's animals, detections, occasions)
    "captdata": ("single", 76, 235, 5),
    "stoatCH": ("proximity", 20, 30, 7),
    "deermouseESG": ("multi", None, None, 6),
}


def raw_rows(stem):
    """Data rows of a raw capture file, split on white space (comments dropped)."""
    out = []
    for line in (DATA / f"{stem}capt.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.append(line.split())
    return out


def raw_traps(stem):
    out = []
    for line in (DATA / f"{stem}trap.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.append(line.split())
    return out


def load(stem):
    det = DATASETS[stem][0]
    return read_capthist(DATA / f"{stem}capt.txt", DATA / f"{stem}trap.txt", det)


# ------------------------------------------------------------------------------------------
# reading the shipped data
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", list(DATASETS))
def test_shipped_capture_data_match_raw_counts(stem):
    det, n_readme, d_readme, s_readme = DATASETS[stem]
    rows = raw_rows(stem)
    ch = load(stem)
    assert isinstance(ch, CaptHist)
    assert ch.detector == det
    assert ch.session == rows[0][0]
    # hand counts from the raw file
    animals = {r[1] for r in rows}
    assert ch.n == len(animals)
    assert ch.ndetections == len(rows)
    assert ch.noccasions == max(int(r[2]) for r in rows)
    assert ch.ndetectors == len(raw_traps(stem))
    # the README's numbers
    if n_readme is not None:
        assert (ch.n, ch.ndetections) == (n_readme, d_readme)
    assert ch.noccasions == s_readme
    # every raw row is one detection in the array, at the right animal/occasion/detector
    expect = np.zeros_like(ch.counts)
    ids = {a: i for i, a in enumerate(ch.ids)}
    traps = {t: k for k, t in enumerate(ch.trap_ids)}
    for r in rows:
        expect[ids[r[1]], int(r[2]) - 1, traps[r[3]]] += 1
    np.testing.assert_array_equal(ch.counts, expect)
    # secr sortrows: numeric IDs in numeric order
    assert list(ch.ids) == sorted(animals, key=float)
    # detector coordinates in file order
    t = raw_traps(stem)
    assert list(ch.trap_ids) == [r[0] for r in t]
    np.testing.assert_array_equal(ch.traps, np.array([[float(r[1]), float(r[2])] for r in t]))
    assert ch.usage is None


def test_deermouse_counts_and_covariates():
    ch = load("deermouseESG")
    assert (ch.n, ch.ndetections) == (38, 120)  # awk-counted from the raw file
    assert list(ch.covariates) == ["sex", "age", "weight"]  # from the header comment
    rows = raw_rows("deermouseESG")
    for i, aid in enumerate(ch.ids):
        first = min((r for r in rows if r[1] == aid), key=lambda r: int(r[2]))
        assert ch.covariates["sex"][i] == float(first[4])
        assert ch.covariates["weight"][i] == float(first[6])
    # covnames override, and R-style default names when there is no header comment
    ch2 = read_capthist(DATA / "deermouseESGcapt.txt", DATA / "deermouseESGtrap.txt", "multi",
                        covnames=["s", "a", "w"])
    assert list(ch2.covariates) == ["s", "a", "w"]
    np.testing.assert_array_equal(ch2.covariates["w"], ch.covariates["weight"])


def test_deermouse_rejected_as_single_catch():
    # two animals share trap 105 on occasion 4 in the raw file
    with pytest.raises(CaptureDataError, match=r"single-catch detector '105' on occasion 4"):
        read_capthist(DATA / "deermouseESGcapt.txt", DATA / "deermouseESGtrap.txt", "single")


def test_csv_same_as_text(tmp_path):
    rows = raw_rows("captdata")
    cf = tmp_path / "captcapt.csv"
    cf.write_text("Session,ID,Occasion,Detector\n" + "\n".join(",".join(r) for r in rows) + "\n")
    tf = tmp_path / "capttrap.csv"
    tf.write_text("Detector,x,y\n" + "\n".join(",".join(r) for r in raw_traps("captdata")) + "\n")
    a = load("captdata")
    b = read_capthist(cf, tf, "single")
    assert a.ids == b.ids and a.trap_ids == b.trap_ids
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.traps, b.traps)
    # line numbers in messages count the header row
    cf.write_text("Session,ID,Occasion,Detector\n1,A,1,1\n1,B,1,999\n")
    with pytest.raises(CaptureDataError, match=r"captcapt.csv:3: detector '999'"):
        read_capthist(cf, tf, "single")


def test_fmt_xy_same_as_trapid(tmp_path):
    t = {r[0]: (r[1], r[2]) for r in raw_traps("stoatCH")}
    cf = tmp_path / "xy.txt"
    cf.write_text("\n".join(" ".join([r[0], r[1], r[2], *t[r[3]]]) for r in raw_rows("stoatCH")))
    a = load("stoatCH")
    b = read_capthist(cf, DATA / "stoatCHtrap.txt", "proximity", fmt="XY")
    np.testing.assert_array_equal(a.counts, b.counts)


def test_string_ids_sorted_and_noccasions(tmp_path):
    cf = tmp_path / "c.txt"
    cf.write_text("S b 1 1\nS a 2 2\nS c10 1 2\nS c2 1 3\n")
    tf = tmp_path / "t.txt"
    tf.write_text("1 0 0\n2 10 0\n3 20 0\n")
    ch = read_capthist(cf, tf, "multi", noccasions=4)
    assert ch.ids == ("a", "b", "c10", "c2")  # sorted labels (not numeric: not all numbers)
    assert ch.counts.shape == (4, 4, 3)
    assert ch.counts[0, 1, 1] == 1 and ch.counts[1, 0, 0] == 1


def test_several_sessions(tmp_path):
    cf = tmp_path / "ms.txt"
    cf.write_text("10 A 1 1\n10 A 3 2\n2 B 1 2\n2 C 2 3\n2 B 2 1\n")
    tf = tmp_path / "t.txt"
    tf.write_text("1 0 0\n2 10 0\n3 20 0\n")
    out = read_capthist(cf, tf, "proximity")
    assert isinstance(out, dict)
    assert list(out) == ["2", "10"]  # secr: numeric session labels in numeric order
    assert (out["2"].n, out["2"].noccasions) == (2, 2)  # each session its own max occasion
    assert (out["10"].n, out["10"].noccasions) == (1, 3)
    assert out["10"].counts[0, 2, 1] == 1
    one = read_capthist_sessions(DATA / "captdatacapt.txt", DATA / "captdatatrap.txt", "single")
    assert list(one) == ["1"]
    # one detector file per session; count mismatch is an error
    out2 = read_capthist(cf, [tf, tf], "proximity", noccasions=[3, 4])
    assert out2["2"].noccasions == 3 and out2["10"].noccasions == 4
    with pytest.raises(CaptureDataError, match="2 sessions .* but 3 detector files"):
        read_capthist(cf, [tf, tf, tf], "proximity")


def test_count_detector_sums_repeats(tmp_path):
    cf = tmp_path / "c.txt"
    cf.write_text("1 A 1 1\n1 A 1 1\n1 A 1 2\n1 B 2 2\n")
    tf = tmp_path / "t.txt"
    tf.write_text("1 0 0\n2 10 0\n")
    ch = read_capthist(cf, tf, "count")
    assert ch.counts[0, 0, 0] == 2 and ch.counts[0, 0, 1] == 1 and ch.ndetections == 4


# ------------------------------------------------------------------------------------------
# usage
# ------------------------------------------------------------------------------------------


def test_usage_binary_strings_and_effort(tmp_path):
    cf = tmp_path / "c.txt"
    cf.write_text("1 A 1 1\n1 A 3 2\n")
    t1 = tmp_path / "t1.txt"
    t1.write_text("1 0 0 101\n2 10 0 011\n")  # secr binary.usage: one character per occasion
    t2 = tmp_path / "t2.txt"
    t2.write_text("1 0 0 1 0 1\n2 10 0 0 1 1\n")  # the same, blank-separated
    t3 = tmp_path / "t3.txt"
    t3.write_text("1 0 0 1.5 0 2\n2 10 0 0 10 1\n")  # effort, as write.traps writes it
    a = read_capthist(cf, t1, "multi")
    b = read_capthist(cf, t2, "multi")
    c = read_capthist(cf, t3, "multi")
    np.testing.assert_array_equal(a.usage, [[1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(b.usage, a.usage)
    np.testing.assert_array_equal(c.usage, [[1.5, 0, 2], [0, 10, 1]])
    assert a.noccasions == 3  # from the usage columns
    assert summary(c).counts["detectors used"].tolist() == [1, 1, 2, 4]
    # forced readings
    d = read_traps(t2, binary_usage=False)
    np.testing.assert_array_equal(d.usage, a.usage)
    with pytest.raises(CaptureDataError, match=r"t3.txt:1: usage '1.5 0 2' is not a string of digits"):
        read_traps(t3, binary_usage=True)


def test_usage_with_detector_covariates(tmp_path):
    tf = tmp_path / "t.txt"
    tf.write_text("# Detector x y / habitat height\nA 0 0 11 / forest 1.5\nB 5 0 10 / open 2\n")
    t = read_traps(tf)
    np.testing.assert_array_equal(t.usage, [[1, 1], [1, 0]])
    assert t.covariates["habitat"].tolist() == ["forest", "open"]
    assert t.covariates["height"].tolist() == [1.5, 2.0]


# ------------------------------------------------------------------------------------------
# bad input: file, line, problem and fix in one message
# ------------------------------------------------------------------------------------------


def _files(tmp_path, capt, trap="1 0 0\n2 10 0\n3 20 0\n"):
    cf = tmp_path / "bad_capt.txt"
    cf.write_text(capt)
    tf = tmp_path / "bad_trap.txt"
    tf.write_text(trap)
    return cf, tf


BAD = [
    # (capture text, trap text, detector, file, line, pattern in message)
    ("1 A 1 1\n1 B 2 9\n", None, "multi", "capt", 2, r"detector '9' is not in the detector file"),
    ("1 A 1 1\n1 B 0 2\n", None, "multi", "capt", 2, r"occasion 0 of animal 'B' is outside 1\.\.1"),
    ("1 A 1 1\n1 B 7 2\n", "1 0 0 111\n2 10 0 111\n3 20 0 111\n", "multi", "capt", 2,
     r"occasion 7 of animal 'B' is outside 1\.\.3 \(the 3 usage columns"),
    ("1 A 1 1\n# c\n1 A 1 2\n", None, "multi", "capt", 3, r"animal 'A' detected a second time on occasion 1 \(first on line 1\)"),
    ("1 A 1 1\n1 A 1 3\n", None, "single", "capt", 2, r"detected a second time"),
    ("1 A 1 1\n1 B 1 1\n", None, "single", "capt", 2, r"two animals at single-catch detector '1' on occasion 1"),
    ("1 A 1 2\n1 A 1 2\n", None, "proximity", "capt", 2, r"detected twice at proximity detector '2'"),
    ("1 A 1 1\n1 B 2 2\n", "1 0 0 11\n2 10 0 10\n3 20 0 11\n", "multi", "capt", 2,
     r"detector '2' on occasion 2, but the usage in .*bad_trap.txt line 2 says that detector was not in use"),
    ("1 A 1 1\n1 B 2\n", None, "multi", "capt", 2, r"3 field\(s\); a detection needs 4"),
    ("1 A 1 1\n1 B x 2\n", None, "multi", "capt", 2, r"occasion 'x' is not a whole number"),
    ("1 A 1 1 5\n1 B 2 2\n", None, "multi", "capt", 2, r"4 fields but the first detection \(line 1\) has 5"),
    ("1 A 1 1\n", "1 0 0\n2 ten 0\n", "multi", "trap", 2, r"coordinates 'ten' '0' are not numbers"),
    ("1 A 1 1\n", "1 0 0\n1 5 0\n", "multi", "trap", 2, r"detector '1' is listed twice \(first on line 1\)"),
    ("1 A 1 1\n", "1 0 0\n2 5\n", "multi", "trap", 2, r"a detector line needs at least 3"),
    ("1 A 1 1\n", "1 0 0 11\n2 5 0 111\n", "multi", "trap", 2, r"usage gives 3 occasions here but 2 on line 1"),
    ("1 A 1 1\n", "1 0 0 11\n2 5 0\n", "multi", "trap", 2, r"no usage fields but others do"),
]


@pytest.mark.parametrize("capt,trap,det,which,line,pattern", BAD)
def test_bad_input_message_names_file_line_and_fix(tmp_path, capt, trap, det, which, line, pattern):
    cf, tf = _files(tmp_path, capt, *( [trap] if trap else []))
    with pytest.raises(CaptureDataError) as ei:
        read_capthist(cf, tf, det)
    msg = str(ei.value)
    fname = "bad_capt.txt" if which == "capt" else "bad_trap.txt"
    assert re.search(rf"{fname}:{line}: ", msg), msg
    assert re.search(pattern, msg), msg
    assert "Fix: " in msg and len(msg.split("Fix: ")[1]) > 10
    assert isinstance(ei.value, ValueError)


def test_bad_arguments(tmp_path):
    cf, tf = _files(tmp_path, "1 A 1 1\n")
    with pytest.raises(CaptureDataError, match="detector type 'polygon' is not supported"):
        read_capthist(cf, tf, "polygon")
    with pytest.raises(CaptureDataError, match="2 covariate names for 0"):
        read_capthist(cf, tf, covnames=["a", "b"])
    with pytest.raises(CaptureDataError, match=r"bad_capt.txt:1: occasion 1 of animal 'A' is outside 1\.\.0"):
        read_capthist(cf, tf, noccasions=0)
    with pytest.raises(CaptureDataError, match="cannot open"):
        read_capthist(tmp_path / "missing.txt", tf)


# ------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------


def hand_summary(stem):
    """Per-occasion counts from the raw rows with sets (independent of the reader)."""
    rows = raw_rows(stem)
    S = max(int(r[2]) for r in rows)
    per_occ = [{r[1] for r in rows if int(r[2]) == s} for s in range(1, S + 1)]
    seen, u, M = set(), [], []
    for ids in per_occ:
        u.append(len(ids - seen))
        seen |= ids
        M.append(len(seen))
    occs = {}
    for r in rows:
        occs.setdefault(r[1], set()).add(int(r[2]))
    f = [sum(len(o) == s for o in occs.values()) for s in range(1, S + 1)]
    dets = [sum(int(r[2]) == s for r in rows) for s in range(1, S + 1)]
    visited = [len({r[3] for r in rows if int(r[2]) == s}) for s in range(1, S + 1)]
    return {"n": [len(x) for x in per_occ], "u": u, "f": f, "M(t+1)": M, "detections": dets,
            "detectors visited": visited}


@pytest.mark.parametrize("stem", list(DATASETS))
def test_summary_counts_match_hand_counts(stem):
    s = summary(load(stem))
    hand = hand_summary(stem)
    for row, vals in hand.items():
        assert s.counts[row][:-1].tolist() == vals, row
    assert s.counts["M(t+1)"][-1] == hand["M(t+1)"][-1]  # secr: Total of M(t+1) is its last value
    assert s.counts["n"][-1] == sum(hand["n"])
    assert s.counts["u"][-1] == s.n == s.counts["f"][-1]
    assert s.counts["detectors used"][:-1].tolist() == [s.ndetectors] * s.noccasions
    rows = raw_rows(stem)
    ch = load(stem)
    assert s.detections_per_animal.tolist() == [sum(r[1] == a for r in rows) for a in ch.ids]
    apd = [len({r[1] for r in rows if r[3] == t}) for t in ch.trap_ids]
    assert s.animals_per_detector.tolist() == apd
    tpa = {}
    for a in ch.ids:
        k = len({r[3] for r in rows if r[1] == a})
        tpa[k] = tpa.get(k, 0) + 1
    assert s.traps_per_animal.tolist() == [tpa.get(k, 0) for k in range(1, max(tpa) + 1)]


def test_captdata_summary_as_secr_prints_it():
    # summary(captdata) in secr's documentation
    s = summary(load("captdata"))
    assert s.counts["n"].tolist() == [48, 46, 47, 47, 47, 235]
    assert s.counts["u"].tolist() == [48, 14, 6, 6, 2, 76]
    assert s.counts["f"].tolist() == [17, 10, 15, 17, 17, 76]
    assert s.counts["M(t+1)"].tolist() == [48, 62, 68, 74, 76, 76]
    assert s.counts["detectors used"].tolist() == [100] * 5 + [500]
    assert s.counts["losses"].tolist() == [0] * 6
    text = s.table()
    assert "M(t+1)" in text and "Total" in text and " 235" in text


def test_moves_by_hand():
    ch = load("stoatCH")
    rows = raw_rows("stoatCH")
    xy = {r[0]: (float(r[1]), float(r[2])) for r in raw_traps("stoatCH")}
    mv = moves(ch)
    allnz = []
    for a in ch.ids:
        seq = [r[3] for r in sorted((r for r in rows if r[1] == a), key=lambda r: int(r[2]))]
        d = [float(np.hypot(xy[q][0] - xy[p][0], xy[q][1] - xy[p][1])) for p, q in zip(seq, seq[1:])]
        np.testing.assert_allclose(mv[a], d, rtol=0, atol=1e-12)
        allnz += [x for x in d if x > 0]
    s = summary(ch)
    assert sum(s.moves_per_animal.values()) == ch.n
    assert s.move_distance["Max."] == pytest.approx(max(allnz))
    assert s.move_distance["Mean"] == pytest.approx(np.mean(allnz))
    assert s.move_distance["Median"] == pytest.approx(np.median(allnz))
    assert s.dbar is None  # secr: dbar only for exclusive (trap) detectors
    # RPSV: sqrt(sum of squared deviations / (sum(n_i - 1) - 1)), secr RPSV(CC = FALSE)
    ss, df = 0.0, 0
    for a in ch.ids:
        pts = np.array([xy[r[3]] for r in rows if r[1] == a])
        ss += ((pts - pts.mean(axis=0)) ** 2).sum()
        df += len(pts) - 1
    assert s.RPSV == pytest.approx(np.sqrt(ss / (df - 1)))


def test_captdata_dbar():
    ch = load("captdata")
    s = summary(ch)
    alld = np.concatenate(list(moves(ch).values()))
    assert len(alld) == ch.ndetections - ch.n
    assert s.dbar == pytest.approx(alld.mean())
    # an animal seen at one detector only makes no non-zero move, all others at least one
    assert s.moves_per_animal.get(0, 0) == s.traps_per_animal[0]


def test_summary_of_several_sessions(tmp_path):
    cf, tf = _files(tmp_path, "1 A 1 1\n2 A 1 2\n2 B 2 2\n")
    out = summary(read_capthist(cf, tf))
    assert list(out) == ["1", "2"] and out["2"].counts["n"].tolist() == [1, 1, 2]


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------


def _same(a: CaptHist, b: CaptHist):
    assert a.session == b.session and a.ids == b.ids and a.trap_ids == b.trap_ids
    assert a.detector == b.detector
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.traps, b.traps)
    if a.usage is None:
        assert b.usage is None
    else:
        np.testing.assert_array_equal(a.usage, b.usage)
    assert list(a.covariates) == list(b.covariates)
    for k in a.covariates:
        np.testing.assert_array_equal(a.covariates[k], b.covariates[k])


@pytest.mark.parametrize("stem", list(DATASETS))
@pytest.mark.parametrize("ext", ["txt", "csv"])
def test_round_trip(tmp_path, stem, ext):
    a = load(stem)
    cf, tf = tmp_path / f"x_capt.{ext}", tmp_path / f"x_trap.{ext}"
    write_capthist(a, cf, tf)
    _same(a, read_capthist(cf, tf, a.detector))


def test_round_trip_usage_effort_count_and_sessions(tmp_path):
    cf = tmp_path / "c.txt"
    cf.write_text("# Session ID Occasion Detector sex\n"
                  "s1 A 1 1 F\ns1 A 1 1 F\ns1 B 3 2 NA\ns1 B 3 2 M\ns2 C 2 2 F\n")
    tf = tmp_path / "t.txt"
    tf.write_text("# Detector x y / cover\n1 0.1 -2.25 1 0 2.5 / 0.3\n2 10 1e3 0 10 1 / 0.7\n")
    a = read_capthist(cf, tf, "count")
    assert a["s1"].covariates["sex"].tolist() == ["F", "M"]  # first non-missing per animal
    np.testing.assert_array_equal(a["s1"].usage, [[1, 0, 2.5], [0, 10, 1]])
    cf2, tf2 = tmp_path / "c2.txt", tmp_path / "t2.txt"
    write_capthist(a, cf2, tf2)
    b = read_capthist(cf2, tf2, "count")
    assert list(b) == ["s1", "s2"]
    for k in a:
        _same(a[k], b[k])
        np.testing.assert_array_equal(b[k].trap_covariates["cover"], [0.3, 0.7])


# ------------------------------------------------------------------------------------------
# masks
# ------------------------------------------------------------------------------------------


MASKS = [  # README table: file, stem, buffer, points, spacing, cell area (ha)
    ("captdata_mask_buffer100_nx64.csv", "captdata", 100, 3936, 7.34375, 0.0053930664),
    ("stoatCH_mask_buffer1000_nx64.csv", "stoatCH", 1000, 3960, 78.125, 0.61035156),
]


@pytest.mark.parametrize("fname,stem,buffer,npts,spacing,area", MASKS)
def test_make_mask_reproduces_secr_point_for_point(fname, stem, buffer, npts, spacing, area):
    ref = read_mask_csv(DATA / fname)
    m = make_mask(read_traps(DATA / f"{stem}trap.txt"), buffer=buffer, nx=64, type="trapbuffer")
    assert len(m) == len(ref) == npts
    np.testing.assert_allclose(m.xy, ref.xy, rtol=0, atol=1e-9)  # same order too
    assert m.spacing == spacing and ref.spacing == spacing
    assert m.area_ha == pytest.approx(area, rel=1e-7)
    assert m.total_area_ha == pytest.approx(npts * spacing ** 2 / 1e4)
    assert covers_detectors(m, load(stem)) is True
    # the same from a CaptHist, and the full rectangle for traprect
    m2 = make_mask(load(stem), buffer=buffer)
    np.testing.assert_array_equal(m2.xy, m.xy)
    r = make_mask(load(stem), buffer=buffer, type="traprect")
    assert len(r) == 64 * 64
    assert set(map(tuple, m.xy)) <= set(map(tuple, r.xy))


def test_mask_grid_rule_by_hand():
    traps = np.array([[0.0, 0.0], [100.0, 0.0]])
    m = make_mask(traps, buffer=50, nx=4, type="traprect")
    assert m.spacing == 50.0  # x extent (100 + 2*50) / 4
    # x centres -25, 25, 75, 125; y from -25 up to 50: -25, 25
    assert m.xy.tolist() == [[-25, -25], [25, -25], [75, -25], [125, -25],
                             [-25, 25], [25, 25], [75, 25], [125, 25]]
    b = make_mask(traps, buffer=50, nx=4)
    # distance from (-25, 25) to (0, 0) is 35.36 <= 50: all 8 kept; with buffer 30 none
    assert len(b) == 8
    with pytest.raises(MaskError, match="no points"):
        make_mask(traps, buffer=10, nx=4, spacing=40)
    # secr divides the x extent only (make.mask: spacing <- diff(xl) / nx), also when the
    # detector array is taller than wide
    tall = make_mask(np.array([[0.0, 0.0], [0.0, 100.0]]), buffer=50, nx=4, type="traprect")
    assert tall.spacing == 25.0
    assert len(tall) == 4 * 8  # x: -37.5 .. 37.5 (4), y: -37.5 .. 137.5 (8)


def test_polygon_mask_geojson_with_hole(tmp_path):
    square = [[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]
    hole = [[40, 40], [60, 40], [60, 60], [40, 60], [40, 40]]
    gj = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square, hole]}}
    p = tmp_path / "habitat.geojson"
    p.write_text(json.dumps(gj))
    m = make_mask(type="polygon", poly=str(p), buffer=0, nx=10)
    assert m.spacing == 10.0
    # 10 x 10 cell centres 5..95; the hole removes the centres 45 and 55 in x and y: 4 points
    assert len(m) == 100 - 4
    assert not any((40 < x < 60) and (40 < y < 60) for x, y in m.xy)
    # polygon clip of a trap buffer: a triangle (edge y = x - 1, no centre on it) keeps only
    # the centres below the diagonal
    traps = np.array([[0.0, 0.0], [100.0, 100.0]])
    tri = {"type": "Polygon", "coordinates": [[[-1000, -1001], [1000, -1001], [1000, 999]]]}
    full = make_mask(traps, buffer=20, nx=14, type="traprect")
    clipped = make_mask(traps, buffer=20, nx=14, type="traprect", poly=tri)
    assert len(clipped) == int(np.sum(full.xy[:, 1] < full.xy[:, 0]))
    # multipolygon: union of the parts
    mp = {"type": "MultiPolygon", "coordinates": [[square], [[[200, 0], [300, 0], [300, 100], [200, 100]]]]}
    inside = points_in_polygon([[50, 50], [150, 50], [250, 50]], mp)
    assert inside.tolist() == [True, False, True]
    # plain rings (exterior, then a triangular hole; rings closed automatically)
    rings = [square[:-1], [[40, 40], [60, 40], [60, 60]]]
    assert points_in_polygon([[55, 45], [45, 55], [10, 10]], rings).tolist() == [False, True, True]


def test_mask_csv_round_trip_and_errors(tmp_path):
    m = make_mask(read_traps(DATA / "stoatCHtrap.txt"), buffer=1000)
    p = tmp_path / "m.csv"
    write_mask_csv(m, p)
    r = read_mask_csv(p)
    np.testing.assert_array_equal(r.xy, m.xy)
    assert r.spacing == m.spacing
    bad = tmp_path / "bad.csv"
    bad.write_text('"x","y"\n1,2\n3,abc\n')
    with pytest.raises(MaskError, match=r"bad.csv:3: .* Fix: "):
        read_mask_csv(bad)


def test_covers_detectors_error_names_detectors():
    ch = load("captdata")
    m = make_mask(ch, buffer=100)
    part = Mask(xy=m.xy[m.xy[:, 0] < 500], spacing=m.spacing)
    with pytest.raises(MaskError) as ei:
        covers_detectors(part, ch)
    msg = str(ei.value)
    n_out = int(np.sum(ch.traps[:, 0] >= 500 - m.spacing / 2))
    assert f"does not cover {n_out} of 100 detectors" in msg
    assert "Fix: " in msg
    k = int(np.argmax(ch.traps[:, 0]))
    assert ch.trap_ids[k] in msg or "more" in msg
