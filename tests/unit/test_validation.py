"""Census records (`pardus.validation`): the reader names the file, the line and the fix for
every problem; counts are placed in the simulated distribution of what was counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pardus.validation import COUNTED, RecordError, coverage, place, read_record, shipped_records

HEADER = "year,low,high,estimate,ci_low,ci_high,counted,populations,method,source\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "rec.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_the_shipped_amur_record_reads_and_every_count_has_method_and_source():
    assert "amur" in shipped_records()
    counts = read_record("amur", ["russia", "china", "lazovsky"])
    assert [c.year for c in counts] == [1973, 1985, 1991, 2000, 2003, 2007, 2015]
    assert all(c.method and c.source for c in counts)
    last = counts[-1]
    assert (last.mid, last.low, last.high, last.counted, last.populations) == (84, 70, 108, "independent", ("russia", "china"))
    assert counts[0].observed() == "38–46" and last.observed() == "84 [70, 108]"


def test_every_problem_is_reported_with_its_line_and_the_fix(tmp_path):
    path = _write(
        tmp_path,
        "2000,30,20,,,,all_ages,main,track,src\n"  # line 2: low > high
        "2001,,,12,,,adults,main,cam,src\n"  # fine
        "20x1,1,2,,,,all_ages,main,track,src\n"  # line 4: year
        "2002,1,2,3,,,all_ages,main,track,src\n"  # line 5: both range and estimate
        "2003,1,2,,,,cubs,main,track,src\n"  # line 6: counted
        "2004,1,2,,,,all_ages,elsewhere,track,src\n"  # line 7: population
        "2005,1,2,,,,all_ages,main,track,\n"  # line 8: no source
        "2006,a,2,,,,all_ages,main,track,src\n"  # line 9: not a number
        "2007,,,10,8,,all_ages,main,cam,src\n",  # line 10: one CI bound
    )
    with pytest.raises(RecordError) as exc:
        read_record(path, ["main"])
    lines = str(exc.value).splitlines()
    expect = {2: "does not hold", 4: "is not a year", 5: "both a range", 6: "counted = 'cubs'", 7: "not in the scenario", 8: "source are required", 9: "is not a number", 10: "only one of ci_low"}
    assert len(lines) == len(expect), lines
    for (line, text), msg in zip(expect.items(), lines):
        assert msg.startswith(f"{path}: line {line}:") and text in msg, msg


def test_a_wrong_header_or_a_missing_file_says_what_is_expected(tmp_path):
    with pytest.raises(RecordError, match="missing column.*source"):
        read_record(_write(tmp_path, "2000,1,2,,,,all_ages,main,track\n", header="year,low,high,estimate,ci_low,ci_high,counted,populations,method\n"))
    with pytest.raises(RecordError, match="no shipped record of that name — shipped records are: amur"):
        read_record("nowhere")


def test_counts_are_placed_among_the_replicates_of_what_was_counted():
    # N: replicate × year × population × sex × stage; 200 replicates, years 2000-2002
    rng = np.random.default_rng(1)
    N = rng.poisson(5.0, size=(200, 3, 2, 2, 3))
    names = ["a", "b"]
    from pardus.validation import Count

    def count(year, mid, counted="all_ages", pops=("a", "b")):
        return Count(year, mid, mid, mid, counted, pops, "m", "s", 1)

    inside, outside, before = count(2001, float(np.median(N[:, 1].sum(axis=(1, 2, 3))))), count(2002, 1000.0), count(1999, 5.0)
    adults = count(2002, float(np.median(N[:, 2, 0, :, 2].sum(axis=1))), "adults", ("a",))
    placed = place(N, names, 2000, [inside, outside, before, adults])
    assert placed[0].inside and not placed[1].inside and not placed[2].in_run and placed[3].inside
    assert placed[1].position == 1.0 and 0.3 < placed[0].position < 0.7
    np.testing.assert_array_equal(placed[3].sim, N[:, 2, 0][:, :, list(COUNTED["adults"])].sum(axis=(1, 2)))
    assert coverage(placed) == (2, 3)


def test_counts_outside_the_run_may_name_populations_the_scenario_no_longer_has(tmp_path):
    path = _write(tmp_path, "1973,38,46,,,,all_ages,ussuriysk+russia,track,src\n2015,,,84,70,108,independent,russia,cam,src\n")
    counts = read_record(path, ["russia"], (2015, 2115))  # the 1973 count is not in the run: not checked
    assert [c.year for c in counts] == [1973, 2015]
    with pytest.raises(RecordError, match="line 2: populations ussuriysk not in the scenario"):
        read_record(path, ["russia"], (1970, 2070))
