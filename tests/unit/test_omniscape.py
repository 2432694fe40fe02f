"""Omniscape-style moving-window connectivity (pardus.connectivity.omniscape).

Expected values are derived independently of the module: by hand (series circuits), by
invariances of circuit theory (symmetry, scaling, conservation) and by assembling each window
in this file from the circuit core (clipping written here, not taken from the module).
"""

import math

import numpy as np
import pytest

from pardus.connectivity.circuit import node_currents, raster_graph, solve_advanced
from pardus.connectivity.omniscape import (
    block_correction,
    omniscape,
    omniscape_sources,
    omniscape_targets,
    window_current,
)

DIRECT = dict(solver="cholmod")


def corridor(n=7, r=2.0):
    """A 3 x n grid whose middle row is a corridor of resistance r (NaN elsewhere)."""
    R = np.full((3, n), np.nan)
    R[1] = r
    return R


# ------------------------------------------------------------ (1) hand-computable circuits


def test_two_cell_circuit_by_hand():
    # two cells, each the other's only source: window of cell 0 injects 2 A at cell 1 and
    # grounds cell 0, so 2 A flows through both cells; the other window carries 5 A.
    R = np.array([[1.0, 4.0]])
    S = np.array([[2.0, 5.0]])
    res = omniscape(R, 1, source_strength=S, **DIRECT)
    np.testing.assert_allclose(res.cumulative_current, [[7.0, 7.0]], rtol=1e-12)
    assert res.n_targets == 2 and res.n_solves == 2


def test_corridor_carries_injected_current_and_voltage_is_series_resistance():
    R = corridor(7, 2.0)
    S = np.zeros_like(R)
    S[1, 0], S[1, 6] = 2.0, 3.0
    res = omniscape(R, 6, source_strength=S, **DIRECT)
    cum = res.cumulative_current
    np.testing.assert_allclose(cum[1], 5.0, rtol=1e-12)  # 2 A one way, 3 A the other
    assert np.isnan(cum[0]).all() and np.isnan(cum[2]).all()  # nodata masked
    # one window by hand: 6 edges of conductance (0.5 + 0.5)/2 in series = 12 ohm
    g = np.where(np.isnan(R), 0.0, 1.0 / np.nan_to_num(R, nan=1.0))
    s = np.zeros_like(R)
    s[1, 6] = 2.0
    w = window_current(g, s, (1, 0), **DIRECT)
    assert w.solved and w.injected == 2.0
    np.testing.assert_allclose(w.voltage[1, 6], 2.0 * 12.0, rtol=1e-12)
    np.testing.assert_allclose(w.current[1], 2.0, rtol=1e-12)


def test_radius_limits_sources_and_buffer_extends_resistance():
    R = corridor(7, 1.0)
    S = np.zeros_like(R)
    S[1, 0] = S[1, 6] = 1.0
    # distance 6 > radius 5: no source in either window, nothing solved
    res = omniscape(R, 5, source_strength=S, mask_nodata=False, **DIRECT)
    assert res.n_targets == 2 and res.n_solves == 0
    assert np.all(res.cumulative_current == 0)
    # U-shaped path: sources 2 apart, joined only through cells 3 rows away
    R = np.full((5, 3), np.nan)
    R[:, 0] = R[:, 2] = R[4, 1] = 1.0
    S = np.zeros_like(R)
    S[0, 0] = S[0, 2] = 1.0
    no_buffer = omniscape(R, 2, source_strength=S, mask_nodata=False, **DIRECT)
    assert no_buffer.n_solves == 0  # path leaves the radius-2 circle: sources disconnected
    buffered = omniscape(R, 2, buffer=3, source_strength=S, mask_nodata=False, **DIRECT)
    assert buffered.n_solves == 2
    assert buffered.cumulative_current[4, 1] > 0.5  # current took the detour


# ------------------------------------------------------------ window assembled by hand


def hand_omniscape(R, S, radius):
    """Omniscape with block_size 1 and buffer 0, written out with the circuit core only."""
    nrows, ncols = R.shape
    cum = np.zeros(R.shape)
    ii, jj = np.indices(R.shape)
    for y, x in zip(*np.nonzero(S > 0)):
        inside = (ii - y) ** 2 + (jj - x) ** 2 <= radius ** 2
        g = np.where(inside & np.isfinite(R), 1.0 / R, 0.0)
        s = np.where(inside, S, 0.0)
        s[y, x] = 0.0
        if s.sum() == 0:
            continue
        s *= S[y, x] / s.sum()
        graph, nm = raster_graph(g, None, False, False)
        comp = np.flatnonzero(graph.labels == graph.labels[nm[y, x]])
        src = np.zeros(graph.n)
        np.add.at(src, nm[nm >= 0], s[nm >= 0])
        grounds = np.where(comp == nm[y, x], np.inf, 0.0)
        v, _ = solve_advanced(graph.laplacian(), comp, src[comp], grounds, "cholmod")
        nc = node_currents(graph.A[comp][:, comp], v)
        # (4) conservation: the current through the ground equals the target's strength
        assert nc[comp == nm[y, x]][0] == pytest.approx(src[comp].sum(), rel=1e-9)
        assert src[comp].sum() == pytest.approx(S[y, x], rel=1e-12)
        full = np.zeros(graph.n)
        full[comp] = nc
        cum[nm >= 0] += full[nm[nm >= 0]]
    return cum


def test_matches_windows_assembled_by_hand():
    rng = np.random.default_rng(3)
    R = np.exp(rng.normal(size=(8, 9)))
    S = rng.uniform(0, 2, size=R.shape)
    S[rng.uniform(size=R.shape) < 0.4] = 0.0
    res = omniscape(R, 3, source_strength=S, **DIRECT)
    np.testing.assert_allclose(res.cumulative_current, hand_omniscape(R, S, 3), rtol=1e-9, atol=1e-12)
    amg = omniscape(R, 3, source_strength=S)  # default cg+amg gives the same map
    np.testing.assert_allclose(amg.cumulative_current, res.cumulative_current, rtol=1e-6, atol=1e-9)


def test_conservation_in_each_window():
    # every window's node current at the ground equals the target strength
    rng = np.random.default_rng(5)
    R = np.exp(rng.normal(size=(15, 15)))
    ii, jj = np.indices(R.shape)
    y, x, r = 7, 6, 5
    inside = (ii - y) ** 2 + (jj - x) ** 2 <= r * r
    g = np.where(inside, 1.0 / R, 0.0)
    s = np.where(inside, rng.uniform(0.1, 1.0, size=R.shape), 0.0)
    s[y, x] = 0.0
    s *= 3.5 / s.sum()
    w = window_current(g, s, (y, x), **DIRECT)
    assert w.injected == pytest.approx(3.5)
    assert w.current[y, x] == pytest.approx(3.5, rel=1e-9)
    assert w.voltage[y, x] == 0.0


# ------------------------------------------------------------ (2) uniform surface


@pytest.mark.parametrize("value", [1.0, 7.0])
def test_uniform_surface_current_equals_flow_potential(value):
    R = np.full((16, 16), value)
    res = omniscape(R, 4, calc_flow_potential=True, calc_normalized_current=True,
                    flow_potential_window="circle", **DIRECT)
    np.testing.assert_allclose(res.cumulative_current, res.flow_potential, rtol=1e-9)
    np.testing.assert_allclose(res.normalized_current, 1.0, rtol=1e-9)


def test_omniscape_flow_potential_uses_the_rectangular_null_window():
    # Omniscape.jl's null landscape is conductance 1 on the whole rectangle, whatever the
    # resistance: the flow potential does not depend on the resistance...
    rng = np.random.default_rng(7)
    S = rng.uniform(0.5, 1.5, size=(12, 12))
    a = omniscape(np.exp(rng.normal(size=S.shape)), 3, source_strength=S, calc_flow_potential=True, **DIRECT)
    b = omniscape(np.ones(S.shape), 3, source_strength=S, calc_flow_potential=True, **DIRECT)
    np.testing.assert_allclose(a.flow_potential, b.flow_potential, rtol=1e-9)
    # ...and on a uniform surface it differs from the current of the circular window
    assert not np.allclose(b.flow_potential, b.cumulative_current, rtol=1e-3)
    # one target by hand: the rectangle of ones, ground at the target
    S1 = np.zeros((5, 5))
    S1[0, 2] = 2.0  # window of (0,2), radius 2 holds (2,2)
    S1[2, 2] = 1.0
    res = omniscape(np.ones((5, 5)), 2, source_strength=S1, calc_flow_potential=True, **DIRECT)
    fp = np.zeros((5, 5))
    for (ty, tx), (sy, sx), amps in (((0, 2), (2, 2), 2.0), ((2, 2), (0, 2), 1.0)):
        y0, y1, x0, x1 = max(ty - 2, 0), min(ty + 2, 4), max(tx - 2, 0), min(tx + 2, 4)
        g = np.ones((y1 - y0 + 1, x1 - x0 + 1))
        s = np.zeros_like(g)
        s[sy - y0, sx - x0] = amps
        fp[y0:y1 + 1, x0:x1 + 1] += window_current(g, s, (ty - y0, tx - x0), **DIRECT).current
    np.testing.assert_allclose(res.flow_potential, fp, rtol=1e-9)


# ------------------------------------------------------------ (3) symmetry


@pytest.mark.parametrize("block_size", [1, 3])
def test_symmetric_landscape_gives_symmetric_map(block_size):
    n = 21
    R = np.ones((n, n))
    R[n // 2, 5:-5] = R[5:-5, n // 2] = 20.0  # plus-shaped barrier, symmetric under the dihedral group
    R[3, 3] = R[3, -4] = R[-4, 3] = R[-4, -4] = np.nan
    res = omniscape(R, 5, block_size=block_size, calc_normalized_current=True, **DIRECT)
    for c in (res.cumulative_current, res.normalized_current):
        np.testing.assert_allclose(c, c.T, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(c, c[::-1], rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(c, c[:, ::-1], rtol=1e-9, equal_nan=True)
    assert np.nanmax(res.cumulative_current) > 0


# ------------------------------------------------------------ (5) blocks


def test_block_size_3_approximates_block_size_1_on_uniform_surface():
    # Tolerance 5 %: on a uniform surface the correction (box sum of the unit window over the
    # block / blocked window) reproduces the nine block-1 windows exactly, except the current
    # those windows carry in the ring between radius+buffer and radius+buffer+(b-1)/2 of the
    # block centre, which the block window does not contain (about 3 % at radius 6).
    R = np.ones((45, 45))
    one = omniscape(R, 6, **DIRECT).cumulative_current
    three = omniscape(R, 6, block_size=3, **DIRECT)
    raw = omniscape(R, 6, block_size=3, correct_artifacts=False, **DIRECT).cumulative_current
    assert three.n_targets == 15 * 15 and three.correction is not None
    inner = (slice(13, -13), slice(13, -13))  # cells no window cut by the grid edge reaches
    rel = np.abs(three.cumulative_current - one) / one
    assert rel[inner].max() < 0.05
    assert abs(three.cumulative_current.sum() - one.sum()) / one.sum() < 0.02
    assert (np.abs(raw - one) / one)[inner].max() > 0.5  # uncorrected blocks leave artefacts


def test_block_targets_and_correction_shape():
    S = np.arange(1, 8 * 7 + 1, dtype=float).reshape(8, 7)
    t = omniscape_targets(S, 3)
    # whole 3x3 blocks from the top-left: rows 0-5, cols 0-5 -> centres (1|4, 1|4)
    assert sorted(map(tuple, t[:, :2].astype(int).tolist())) == [(1, 1), (1, 4), (4, 1), (4, 4)]
    for y, x, a in t:
        y, x = int(y), int(x)
        assert a == S[y - 1:y + 2, x - 1:x + 2].sum()
    c = block_correction(4, 1, 3, **DIRECT)
    assert c.shape == (11, 11)
    np.testing.assert_allclose(c, c.T, rtol=1e-9)
    assert c[0, 0] == 1.0  # outside the circle: no current, correction 1


# ------------------------------------------------------------ (6) cutoff and threshold


def test_r_cutoff_and_source_threshold_remove_sources():
    R = np.ones((9, 9))
    R[4, 4] = 50.0
    res = omniscape(R, 3, r_cutoff=10.0, **DIRECT)
    tgt = {(int(y), int(x)) for y, x, _ in res.targets}
    assert (4, 4) not in tgt and len(tgt) == 80
    S = 1.0 / R
    S[4, 4] = 0.0
    same = omniscape(R, 3, source_strength=S, **DIRECT)
    np.testing.assert_allclose(res.cumulative_current, same.cumulative_current, rtol=1e-12)
    assert omniscape(R, 3, **DIRECT).n_targets == 81
    S2 = np.full((9, 9), 2.0)
    S2[::2, ::2] = 0.5
    th = omniscape(np.ones((9, 9)), 3, source_strength=S2, source_threshold=1.0, **DIRECT)
    assert th.n_targets == 81 - 25
    np.testing.assert_array_equal(omniscape_sources(np.ones((9, 9)), source_strength=S2, source_threshold=1.0),
                                  np.where(S2 < 1.0, 0.0, S2))
    # Omniscape's code keeps a strength equal to the threshold
    assert omniscape(np.ones((9, 9)), 3, source_strength=S2, source_threshold=2.0, **DIRECT).n_targets == 81 - 25


# ------------------------------------------------------------ (7) scaling


def test_doubling_resistance():
    rng = np.random.default_rng(11)
    R = np.exp(rng.normal(size=(14, 14)))
    S = rng.uniform(0, 1, size=R.shape)
    a = omniscape(R, 4, source_strength=S, **DIRECT).cumulative_current
    b = omniscape(2 * R, 4, source_strength=S, **DIRECT).cumulative_current
    # fixed injected currents: currents depend on conductance ratios only
    np.testing.assert_allclose(b, a, rtol=1e-8)
    # source_from_resistance: every strength 1/R halves, so every window injects half as much
    # (shares among sources unchanged): the current halves, the normalised current does not
    c = omniscape(R, 4, calc_normalized_current=True, **DIRECT)
    d = omniscape(2 * R, 4, calc_normalized_current=True, **DIRECT)
    np.testing.assert_allclose(d.cumulative_current, c.cumulative_current / 2, rtol=1e-8)
    np.testing.assert_allclose(d.normalized_current, c.normalized_current, rtol=1e-8)


def test_conductance_input_equals_inverse_resistance():
    rng = np.random.default_rng(2)
    R = np.exp(rng.normal(size=(10, 10)))
    a = omniscape(R, 3, r_cutoff=2.0, **DIRECT).cumulative_current
    b = omniscape(1.0 / R, 3, r_cutoff=2.0, conductance=True, **DIRECT).cumulative_current
    np.testing.assert_allclose(a, b, rtol=1e-10)


# ------------------------------------------------------------ nodata, workers, progress


def test_nodata_masking_and_target_on_nodata():
    R = np.ones((9, 9))
    R[4, 4] = np.nan
    S = np.ones((9, 9))  # a source on the nodata cell: its window has no ground node
    res = omniscape(R, 3, source_strength=S, calc_normalized_current=True, calc_flow_potential=True, **DIRECT)
    assert res.n_targets == 81 and res.n_solves == 80
    for m in (res.cumulative_current, res.flow_potential, res.normalized_current):
        assert np.isnan(m[4, 4]) and np.isfinite(np.delete(m.ravel(), 40)).all()
    un = omniscape(R, 3, source_strength=S, mask_nodata=False, **DIRECT)
    assert un.cumulative_current[4, 4] == 0.0


def test_workers_and_progress():
    rng = np.random.default_rng(4)
    R = np.exp(rng.normal(size=(12, 12)))
    seen = []
    one = omniscape(R, 3, progress=lambda d, t: seen.append((d, t)), **DIRECT)
    assert seen[-1] == (one.n_targets, one.n_targets)
    two = omniscape(R, 3, workers=2, **DIRECT)
    np.testing.assert_allclose(two.cumulative_current, one.cumulative_current, rtol=1e-12)
    assert two.n_solves == one.n_solves


# ------------------------------------------------------------ (8) bad input


R5 = np.ones((5, 5))


@pytest.mark.parametrize("kwargs, words", [
    (dict(radius=0), ["radius", ">= 1"]),
    (dict(radius=2.5), ["radius", "whole number"]),
    (dict(block_size=2), ["block_size", "odd", "use 3"]),
    (dict(block_size=0), ["block_size", ">= 1"]),
    (dict(buffer=-1), ["buffer", ">= 0"]),
    (dict(source_strength=np.ones((4, 5))), ["source_strength", "shape", "same rows and columns"]),
    (dict(source_strength=-R5), ["source_strength", "negative", ">= 0"]),
    (dict(resistance=np.zeros((5, 5))), ["resistance", "<= 0", "NaN for nodata"]),
    (dict(resistance=-R5), ["resistance", "<= 0"]),
    (dict(resistance=np.ones(5)), ["resistance", "2-D"]),
    (dict(source_from_resistance=False), ["source_from_resistance", "source_strength"]),
    (dict(source_strength=R5, source_from_resistance=True), ["source_strength", "source_from_resistance"]),
    (dict(source_strength=R5, r_cutoff=3.0), ["r_cutoff", "source_from_resistance"]),
    (dict(r_cutoff=0.0), ["r_cutoff", "> 0"]),
    (dict(source_threshold=-1.0), ["source_threshold", ">= 0"]),
    (dict(solver="lu"), ["solver", "cg+amg", "cholmod"]),
    (dict(flow_potential_window="square"), ["flow_potential_window", "omniscape", "circle"]),
    (dict(workers=0), ["workers", ">= 1"]),
    (dict(conditional=True), ["conditional", "not implemented", "source_strength"]),
    (dict(condition1=R5), ["condition1", "conditional"]),
    (dict(precision="single"), ["precision", "double"]),
    (dict(connect_four_neighbors_only=True), ["four_neighbors=True"]),
])
def test_bad_input_messages(kwargs, words):
    kw = dict(kwargs)
    R = kw.pop("resistance", R5)
    radius = kw.pop("radius", 2)
    with pytest.raises(ValueError) as e:
        omniscape(R, radius, **kw)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="no_such_option"):
        omniscape(R5, 2, no_such_option=1)


def test_four_neighbours_changes_graph():
    # a diagonal-only link carries current with 8 neighbours but not with 4
    R = np.full((2, 2), np.nan)
    R[0, 0] = R[1, 1] = 1.0
    S = np.where(np.isnan(R), 0.0, 1.0)
    eight = omniscape(R, 2, source_strength=S, **DIRECT)
    four = omniscape(R, 2, source_strength=S, four_neighbors=True, **DIRECT)
    assert eight.n_solves == 2 and four.n_solves == 0
    np.testing.assert_allclose(eight.cumulative_current[0, 0], 2.0)
    assert math.isnan(four.cumulative_current[0, 1])
