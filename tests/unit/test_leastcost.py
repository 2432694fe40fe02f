"""Least-cost connectivity (pardus.connectivity.leastcost) against known answers.

Conventions checked: ArcGIS / Linkage Mapper cost distance (mean of the two cells' resistances
× centre distance), least-cost paths, normalised least-cost corridors, the mosaic, the link
table and its handling of intermediate cores and disconnected pairs.
"""

from __future__ import annotations

import heapq
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    from pardus.connectivity import leastcost as lc
except ImportError:  # the package's __init__ is written by another change: load the module by path
    _path = Path(__file__).resolve().parents[2] / "src" / "pardus" / "connectivity" / "leastcost.py"
    _spec = importlib.util.spec_from_file_location("pardus_leastcost_by_path", _path)
    lc = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = lc
    _spec.loader.exec_module(lc)

SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------- cost distance


def test_uniform_four_neighbours_is_manhattan_distance_times_cellsize():
    res = np.ones((7, 9))
    cwd = lc.cost_distance(res, [(3, 4)], cellsize=2.5, neighbours=4)
    r, c = np.indices(res.shape)
    np.testing.assert_allclose(cwd, 2.5 * (np.abs(r - 3) + np.abs(c - 4)), rtol=0, atol=1e-12)


def test_uniform_eight_neighbours_is_octile_distance_times_cellsize():
    res = np.ones((8, 11))
    cwd = lc.cost_distance(res, [(2, 3)], cellsize=30.0)
    r, c = np.indices(res.shape)
    dr, dc = np.abs(r - 2), np.abs(c - 3)
    octile = np.maximum(dr, dc) + (SQRT2 - 1) * np.minimum(dr, dc)
    np.testing.assert_allclose(cwd, 30.0 * octile, rtol=1e-12)


def test_several_sources_give_the_distance_to_the_nearest_and_zero_on_each():
    res = np.ones((5, 12))
    src = np.zeros(res.shape, dtype=bool)
    src[2, 1] = src[2, 10] = True
    cwd = lc.cost_distance(res, src, neighbours=4)
    r, c = np.indices(res.shape)
    expected = np.minimum(np.abs(r - 2) + np.abs(c - 1), np.abs(r - 2) + np.abs(c - 10))
    np.testing.assert_allclose(cwd, expected, atol=1e-12)
    assert cwd[2, 1] == 0.0 and cwd[2, 10] == 0.0


def test_a_move_costs_the_mean_of_the_two_cells_times_the_distance():
    # orthogonal: resistances 2 and 4, cellsize 10 → (2 + 4) / 2 × 10 = 30
    cwd = lc.cost_distance(np.array([[2.0, 4.0]]), [(0, 0)], cellsize=10.0)
    np.testing.assert_allclose(cwd, [[0.0, 30.0]])
    # two steps: (2 + 4) / 2 + (4 + 8) / 2 = 9 per unit of cellsize
    cwd = lc.cost_distance(np.array([[2.0, 4.0, 8.0]]), [(0, 0)], cellsize=1.0)
    np.testing.assert_allclose(cwd, [[0.0, 3.0, 9.0]])
    # diagonal: sqrt(2) × (1 + 3) / 2 × 2 = 4 sqrt(2) beats the orthogonal detour (1+9)/2 + (9+3)/2 = 11, × 2
    res = np.array([[1.0, 9.0], [9.0, 3.0]])
    cwd = lc.cost_distance(res, [(0, 0)], cellsize=2.0, neighbours=8)
    np.testing.assert_allclose(cwd, [[0.0, 10.0], [10.0, 4 * SQRT2]])
    cwd4 = lc.cost_distance(res, [(0, 0)], cellsize=2.0, neighbours=4)
    np.testing.assert_allclose(cwd4[1, 1], 22.0)


def test_a_nan_barrier_forces_the_detour_of_known_length():
    res = np.ones((5, 7))
    res[0:4, 3] = np.nan  # a wall in column 3 with a gap at the bottom row
    cwd4 = lc.cost_distance(res, [(0, 0)], neighbours=4)
    assert cwd4[0, 6] == pytest.approx(4 + 6 + 4)  # down 4, across 6, up 4
    cwd8 = lc.cost_distance(res, [(0, 0)], neighbours=8)
    # (0,0) → (4,3): three diagonals and one straight step; the same again up to (0,6)
    assert cwd8[0, 6] == pytest.approx(2 * (3 * SQRT2 + 1))
    assert lc.cost_distance(np.ones((5, 7)), [(0, 0)])[0, 6] == pytest.approx(6.0)
    assert np.isnan(cwd8[0:4, 3]).all()  # nodata stays nodata


def test_unreachable_cells_are_inf_and_nodata_cells_nan():
    res = np.ones((4, 5))
    res[:, 2] = np.nan
    cwd = lc.cost_distance(res, [(1, 0)])
    assert np.isinf(cwd[:, 3:]).all()
    assert np.isnan(cwd[:, 2]).all()
    assert np.isfinite(cwd[:, :2]).all()


def _brute_force_cwd(res, sources, cellsize):
    """Plain-Python Dijkstra over the 8-neighbour grid, ArcGIS cost convention."""
    n, m = res.shape
    dist = {(r, c): math.inf for r in range(n) for c in range(m) if not math.isnan(res[r, c])}
    heap = []
    for s in sources:
        dist[s] = 0.0
        heap.append((0.0, s))
    heapq.heapify(heap)
    while heap:
        d, (r, c) = heapq.heappop(heap)
        if d > dist[(r, c)]:
            continue
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == dc == 0:
                    continue
                q = (r + dr, c + dc)
                if q not in dist:
                    continue
                step = cellsize * (math.sqrt(2.0) if dr and dc else 1.0)
                nd = d + step * (res[r, c] + res[q]) / 2.0
                if nd < dist[q]:
                    dist[q] = nd
                    heapq.heappush(heap, (nd, q))
    out = np.full(res.shape, np.nan)
    for k, v in dist.items():
        out[k] = v
    return out


def test_cost_distance_matches_an_independent_brute_force_dijkstra():
    rng = np.random.default_rng(7)
    res = rng.uniform(0.5, 20.0, (6, 6))
    res[rng.random((6, 6)) < 0.15] = np.nan
    sources = [(0, 0), (5, 2)]
    for s in sources:
        res[s] = 1.0
    got = lc.cost_distance(res, sources, cellsize=25.0)
    want = _brute_force_cwd(res, sources, 25.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-12)


# ---------------------------------------------------------------------------- least-cost path


def test_least_cost_path_cost_length_and_order():
    res = np.ones((3, 6))
    p = lc.least_cost_path(res, [(1, 0)], [(1, 5)], cellsize=10.0)
    assert p.connected
    assert p.cost == pytest.approx(50.0)
    assert p.length == pytest.approx(50.0)
    np.testing.assert_array_equal(p.cells, [[1, c] for c in range(6)])
    d = lc.least_cost_path(res, [(0, 0)], [(2, 2)], cellsize=10.0)
    assert d.length == pytest.approx(20 * SQRT2)
    assert tuple(d.cells[0]) == (0, 0) and tuple(d.cells[-1]) == (2, 2)


def test_least_cost_distance_is_symmetric():
    rng = np.random.default_rng(3)
    res = rng.uniform(1.0, 50.0, (15, 12))
    a = np.zeros(res.shape, dtype=bool)
    a[1:3, 1:4] = True
    b = np.zeros(res.shape, dtype=bool)
    b[11:14, 7:10] = True
    ab = lc.least_cost_path(res, a, b, cellsize=30.0)
    ba = lc.least_cost_path(res, b, a, cellsize=30.0)
    assert ab.cost == pytest.approx(ba.cost, rel=1e-12)
    assert a[tuple(ab.cells[0])] and b[tuple(ab.cells[-1])]
    assert b[tuple(ba.cells[0])] and a[tuple(ba.cells[-1])]
    # the cost of the returned cells, recomputed by hand, is the least-cost distance
    cells = ab.cells
    steps = np.abs(np.diff(cells, axis=0)).sum(axis=1)
    seg = 30.0 * np.where(steps == 2, SQRT2, 1.0) * (res[cells[:-1, 0], cells[:-1, 1]] + res[cells[1:, 0], cells[1:, 1]]) / 2
    assert seg.sum() == pytest.approx(ab.cost, rel=1e-12)


def test_no_path_gives_inf_and_no_cells():
    res = np.ones((3, 5))
    res[:, 2] = np.nan
    p = lc.least_cost_path(res, [(0, 0)], [(0, 4)])
    assert not p.connected
    assert p.cost == np.inf and p.length == np.inf and p.cells.shape == (0, 2)


# ---------------------------------------------------------------------------- corridors


def _channel():
    """Resistance 10 with a cheap row (resistance 1) between two one-cell cores: a unique path."""
    res = np.full((5, 7), 10.0)
    res[2, :] = 1.0
    cores = np.zeros(res.shape, dtype=int)
    cores[2, 0] = 1
    cores[2, 6] = 2
    return res, cores


def test_nlcc_is_zero_exactly_on_the_unique_path_and_positive_off_it():
    res, cores = _channel()
    out = lc.corridors(res, cores, cellsize=1.0)
    link = out.link(1, 2)
    assert link.lcd == pytest.approx(6.0)
    np.testing.assert_array_equal(link.path.cells, [[2, c] for c in range(7)])
    nlcc = out.nlcc(1, 2)
    on = np.zeros(res.shape, dtype=bool)
    on[2, :] = True
    assert (nlcc[on] == 0.0).all()
    assert (nlcc[~on] > 0).all()
    # a cell next to the path: the cheapest detour is one step off it and back, 2 × (1 + 10) / 2
    assert nlcc[1, 3] == pytest.approx(11.0)
    np.testing.assert_allclose(out.mosaic, nlcc)  # one pair: the mosaic is its corridor


def test_nlcc_is_the_sum_of_the_two_cost_distances_minus_the_lcd():
    rng = np.random.default_rng(0)
    res = rng.uniform(0.1, 1000.0, (60, 60))
    cores = np.zeros(res.shape)  # float ids are fine when integral
    cores[1:3, 1:3] = 4
    cores[55:58, 52:56] = 9
    out = lc.corridors(res, cores, cellsize=30.0)
    ca = lc.cost_distance(res, cores == 4, cellsize=30.0)
    cb = lc.cost_distance(res, cores == 9, cellsize=30.0)
    lcd = ca[cores == 9].min()
    assert out.link(4, 9).lcd == pytest.approx(lcd, rel=1e-12)
    assert out.link(9, 4).lcd == pytest.approx(cb[cores == 4].min(), rel=1e-12)
    np.testing.assert_allclose(out.nlcc(4, 9), ca + cb - lcd, atol=1e-9 * lcd)
    assert out.core_ids == (4, 9)
    # on random floats the path's cells are 0 exactly too (rounding of the sums is not left in)
    path = out.link(4, 9).path.cells
    assert (out.nlcc(4, 9)[path[:, 0], path[:, 1]] == 0.0).all()
    assert (out.nlcc(4, 9) >= 0).all()


def test_mosaic_is_the_elementwise_minimum_and_width_truncates_it():
    rng = np.random.default_rng(5)
    res = rng.uniform(1.0, 10.0, (20, 20))
    cores = np.zeros(res.shape, dtype=int)
    cores[1:4, 1:4] = 1
    cores[1:4, 15:19] = 2
    cores[15:19, 8:12] = 3
    out = lc.corridors(res, cores, width=8.0, drop_through_cores=False)
    stack = np.stack([out.nlcc(a, b) for a, b in [(1, 2), (1, 3), (2, 3)]])
    np.testing.assert_array_equal(out.mosaic, stack.min(axis=0))
    kept = out.mosaic <= 8.0
    np.testing.assert_array_equal(out.corridor[kept], out.mosaic[kept])
    assert np.isnan(out.corridor[~kept]).all()
    assert kept.sum() < kept.size  # the threshold removed something
    untruncated = lc.corridors(res, cores, drop_through_cores=False)
    assert untruncated.width is None
    np.testing.assert_array_equal(untruncated.corridor, untruncated.mosaic)


def _three_in_a_row():
    """Three full-height cores in columns 0, 4 and 8: any path from 1 to 3 crosses core 2."""
    res = np.ones((3, 9))
    cores = np.zeros(res.shape, dtype=int)
    cores[:, 0] = 1
    cores[:, 4] = 2
    cores[:, 8] = 3
    return res, cores


def test_a_link_through_a_third_core_is_marked_and_dropped_from_the_mosaic():
    res, cores = _three_in_a_row()
    out = lc.corridors(res, cores)
    l13 = out.link(1, 3)
    assert l13.through_core and l13.through_cores == (2,)
    assert l13.connected and not l13.active
    assert out.link(1, 2).active and out.link(2, 3).active
    np.testing.assert_array_equal(out.mosaic, np.minimum(out.nlcc(1, 2), out.nlcc(2, 3)))
    table = out.link_table()
    np.testing.assert_array_equal(table["through_core"], [False, True, False])
    np.testing.assert_array_equal(table["active"], [True, False, True])
    kept = lc.corridors(res, cores, drop_through_cores=False)
    assert kept.link(1, 3).active and kept.link(1, 3).through_core
    want = np.minimum.reduce([kept.nlcc(1, 2), kept.nlcc(1, 3), kept.nlcc(2, 3)])
    np.testing.assert_array_equal(kept.mosaic, want)


def test_an_unreachable_pair_is_marked():
    res = np.ones((4, 9))
    res[:, 6] = np.nan
    cores = np.zeros(res.shape, dtype=int)
    cores[1, 0] = 1
    cores[2, 4] = 2
    cores[1, 8] = 3
    out = lc.corridors(res, cores)
    for a, b in [(1, 3), (2, 3)]:
        ln = out.link(a, b)
        assert not ln.connected and not ln.active
        assert ln.lcd == np.inf and ln.path.cells.shape == (0, 2)
        assert math.isnan(ln.cwd_to_path_length) and math.isnan(ln.cwd_to_euclidean)
    assert out.link(1, 2).active
    np.testing.assert_array_equal(out.link_table()["connected"], [True, False, False])
    np.testing.assert_array_equal(out.mosaic, out.nlcc(1, 2))  # only the connected link


def test_link_table_distances_and_ratios_by_hand():
    res = np.ones((4, 8))
    cores = np.zeros(res.shape, dtype=int)
    cores[0:2, 0:2] = 1  # a 2 × 2 core
    cores[0, 6] = 2  # one cell, a gap of 4 cells from core 1's edge
    out = lc.corridors(res, cores, cellsize=10.0)
    ln = out.link(1, 2)
    assert ln.euclidean_distance == pytest.approx(40.0)
    assert ln.lcd == pytest.approx(50.0)  # cell centre (0,1) to (0,6)
    assert ln.path_length == pytest.approx(50.0)
    assert ln.cwd_to_euclidean == pytest.approx(50.0 / 40.0)
    assert ln.cwd_to_path_length == pytest.approx(1.0)
    # diagonal offset: gaps of 2 rows and 3 columns between the cells' edges
    cores2 = np.zeros((6, 8), dtype=int)
    cores2[0, 0] = 1
    cores2[3, 4] = 2
    ln2 = lc.corridors(np.ones((6, 8)), cores2, cellsize=10.0).link(1, 2)
    assert ln2.euclidean_distance == pytest.approx(10.0 * math.hypot(2, 3))
    assert ln2.path_length == pytest.approx(10.0 * (3 * SQRT2 + 1))


def test_explicit_pairs_limit_the_links():
    res, cores = _three_in_a_row()
    out = lc.corridors(res, cores, pairs=[(3, 2)])
    assert [(ln.core_a, ln.core_b) for ln in out.links] == [(2, 3)]
    np.testing.assert_array_equal(out.mosaic, out.nlcc(2, 3))
    assert set(out.cwd) == {2, 3}


# ---------------------------------------------------------------------------- bad input


def test_zero_or_negative_resistance_is_refused_naming_the_fix():
    res = np.ones((3, 3))
    res[1, 2] = 0.0
    with pytest.raises(ValueError, match=r"resistance.*row 1, column 2.*must be > 0.*NaN"):
        lc.cost_distance(res, [(0, 0)])
    res[1, 2] = -3.0
    with pytest.raises(ValueError, match="resistance"):
        lc.corridors(res, np.eye(3, dtype=int) * [1, 0, 2])


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r"cores: shape \(3, 4\) differs from resistance's shape \(3, 3\).*same rows and columns"):
        lc.corridors(np.ones((3, 3)), np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="sources: mask shape"):
        lc.cost_distance(np.ones((3, 3)), np.ones((2, 2), dtype=bool))


def test_fewer_than_two_cores_is_refused():
    cores = np.zeros((4, 4), dtype=int)
    cores[0, 0] = 1
    with pytest.raises(ValueError, match=r"cores: found 1 core.*at least two.*id > 0"):
        lc.corridors(np.ones((4, 4)), cores)


def test_other_bad_input_is_refused_with_the_argument_named():
    res = np.ones((4, 4))
    cores = np.zeros((4, 4), dtype=int)
    cores[0, 0], cores[3, 3] = 1, 2
    with pytest.raises(ValueError, match="pairs: core 5"):
        lc.corridors(res, cores, pairs=[(1, 5)])
    with pytest.raises(ValueError, match="pairs: the pair"):
        lc.corridors(res, cores, pairs=[(1, 2), (2, 1)])
    with pytest.raises(ValueError, match="neighbours"):
        lc.cost_distance(res, [(0, 0)], neighbours=6)
    with pytest.raises(ValueError, match="cellsize"):
        lc.cost_distance(res, [(0, 0)], cellsize=0)
    with pytest.raises(ValueError, match="sources: cell .* outside"):
        lc.cost_distance(res, [(4, 0)])
    nodata = res.copy()
    nodata[0, 0] = np.nan
    with pytest.raises(ValueError, match="cores: 1 core cell.*nodata"):
        lc.corridors(nodata, cores)
    with pytest.raises(ValueError, match="a: 1 cell.*nodata"):
        lc.least_cost_path(nodata, [(0, 0)], [(3, 3)])
    with pytest.raises(ValueError, match="width"):
        lc.corridors(res, cores, width=-1)


def test_the_corridors_command_writes_linkage_mapper_outputs_and_refuses_bad_grids(tmp_path):
    """`pardus corridors RESISTANCE CORES`: on a uniform surface of resistance 2 with 100 m
    cells, the cost-weighted distance between cores 6 columns apart on one row is 2 × 100 ×
    (their centre distance) = 2 × 100 × 6, and the least-cost path runs straight."""
    import os
    import subprocess
    import sys

    from pardus.connectivity.grids import GridHeader, write_grid

    h = GridHeader(10, 5, 0.0, 0.0, 100.0)
    res = np.full((5, 10), 2.0)
    cores = np.zeros((5, 10))
    cores[2, 1], cores[2, 7] = 1, 2
    write_grid(tmp_path / "r", res, h)
    write_grid(tmp_path / "c", np.where(cores > 0, cores, np.nan), h)
    exe = str(Path(sys.executable).with_name("pardus"))
    run = lambda *a: subprocess.run([exe, *map(str, a)], capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"})  # noqa: E731
    r = run("corridors", "r.asc", "c.asc", "-o", "out/lc", "--width", "200")
    assert r.returncode == 0, r.stderr
    rows = (tmp_path / "out" / "lc_linkTable.csv").read_text().splitlines()
    head, first = rows[0].split(","), rows[1].split(",")
    got = dict(zip(head, first))
    assert float(got["cwDist"]) == pytest.approx(2 * 100 * 6)
    assert float(got["lcpLength"]) == pytest.approx(100 * 6)
    assert float(got["euclideanDist"]) == pytest.approx(100 * 5)  # edge to edge
    from pardus.connectivity.grids import read_grid

    cor = read_grid(tmp_path / "out" / "lc_corridors.asc").data
    assert np.all(cor[2, 1:8] == 0)  # the straight path
    # one row off the path costs 2 × 100 × (2√2 − 2) more: inside a width of 200; two rows off, 2 × 100 × (4√2 − 4), is not
    assert cor[1, 4] == pytest.approx(2 * 100 * (2 * np.sqrt(2) - 2)) and np.isnan(cor[0, 4])
    write_grid(tmp_path / "short", np.ones((4, 10)), GridHeader(10, 4, 0.0, 0.0, 100.0))
    bad = run("corridors", "short.asc", "c.asc", "-o", "bad/lc")
    assert bad.returncode == 2 and "does not line up" in bad.stderr and "nrows" in bad.stderr
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())
