"""Circuitscape compatibility: every shipped case of Circuitscape.jl's suite, small
hand-checkable circuits, and bad input (messages, exit code 2, nothing written)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pardus.connectivity import ConnectivityError, load_ini, run_config
from pardus.connectivity import circuit as C
from pardus.connectivity.grids import read_pairs_file

DATA = Path(__file__).resolve().parents[1] / "data" / "circuitscape"
CASES = json.loads((DATA / "cases.json").read_text())["cases"]
IDS = [c["case"] + ("-extra" if "extra" in c["ini"] else "") for c in CASES]


def _load(path):
    rows = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    return np.array(rows, dtype=float)


def _grid(path):
    return np.loadtxt(path, skiprows=6, ndmin=2)


def _pair_ids(fname, case):
    m = re.match(rf"{case}_(?:curmap|voltmap|voltages|node_currents|branch_currents)_(\d+)(?:_(\d+))?\.", fname)
    return None if m is None else tuple(int(x) for x in m.groups() if x is not None)


def _not_written(fname, case, cfg, result):
    """Why an expected file is one this ini does not ask for (the upstream expected folder
    holds outputs of older runs with other flags); None if it must be written. Circuitscape.jl's
    own tests only compare the files a run writes."""
    volt = "voltmap" in fname or "_voltages" in fname
    cur = not volt and any(k in fname for k in ("curmap", "currents"))
    if volt and not cfg.write_volt_maps:
        return "write_volt_maps = False"
    if cur and not (cfg.write_cur_maps or cfg.write_cum_cur_map_only):
        return "write_cur_maps = False"
    ids = _pair_ids(fname, case)
    if ids and result.resistances is not None:
        R = result.resistances
        if cfg.scenario == "pairwise":
            known = R[0, 1:].astype(int).tolist()
            if any(i not in known for i in ids):
                return f"ids {ids} are not focal nodes of the ini"
            a, b = known.index(ids[0]), known.index(ids[1])
            if R[a + 1, b + 1] == -1:
                return f"pair {ids} is excluded or not connected (R = -1)"
        elif len(ids) == 1 and cfg.use_included_pairs:
            spec = read_pairs_file(cfg.included_pairs_file)
            k = spec.ids.tolist().index(ids[0])
            if spec.matrix[k].sum() == 0:
                return f"point {ids[0]} has no included partner"
    return None


def _compare(exp: Path, got: Path, network: bool):
    name = exp.name
    if name.endswith(".asc"):
        a, b = _grid(exp), _grid(got)
        assert a.shape == b.shape, name
        ssd = float(((a - b) ** 2).sum())
        assert ssd < 1e-6, f"{name}: sum of squared differences {ssd:.3g}"
    elif name.endswith(".txt"):
        a, b = _load(exp), _load(got)
        ka = {tuple(r[:-1].astype(int)): r[-1] for r in a}
        kb = {tuple(r[:-1].astype(int)): r[-1] for r in b}
        assert set(ka) == set(kb), f"{name}: node ids differ: {sorted(set(ka) ^ set(kb))[:6]}"
        ssd = sum((ka[k] - kb[k]) ** 2 for k in ka)
        assert ssd < 1e-6, f"{name}: sum of squared differences {ssd:.3g}"
    else:
        a, b = _load(exp), _load(got)
        if name.endswith("_resistances_3columns.out"):
            # Upstream never compares this file, and sgVerify13's copy contradicts its own
            # _resistances.out (all -1): the 3 columns are checked against the expected matrix.
            M = _load(exp.with_name(name.replace("_3columns", "")))
            ids = M[0, 1:].tolist()
            a = np.array([[ids[i], ids[j], M[j + 1, i + 1]] for i in range(len(ids)) for j in range(i + 1, len(ids))])
        assert a.shape == b.shape, f"{name}: shape {a.shape} vs {b.shape}"
        assert np.array_equal(a == -1, b == -1), f"{name}: -1 entries differ"
        tol = 1e-3 * np.maximum(1.0, np.abs(a))
        d = np.abs(a - b)
        assert (d <= tol).all(), f"{name}: max difference {d.max():.3g} at {np.argwhere(d > tol)[:3].tolist()}"


def _run_case(case, tmp_path, solver=None):
    cfg = load_ini(DATA / case["ini"], base_dir=DATA, output_prefix=tmp_path / case["case"])
    if solver is not None:
        cfg.solver = solver
    result = run_config(cfg)
    written = set(os.listdir(tmp_path))
    checked = 0
    for f in case["expected_files"]:
        reason = _not_written(f, case["case"], cfg, result)
        if f in written:
            _compare(DATA / "output_verify" / f, tmp_path / f, case["data_type"] == "network" if "data_type" in case else False)
            checked += 1
        else:
            assert reason is not None, f"{f} was not written"
    assert checked >= 1
    # every written result file that upstream also has must agree (checked above); the copy of
    # the configuration (<case>.out) is always written, as Circuitscape does
    assert f"{case['case']}.out" in written
    return cfg, result


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shipped_case(case, tmp_path):
    _run_case(case, tmp_path)


PAIRWISE = [c for c in CASES if c["scenario"] == "pairwise"]


@pytest.mark.parametrize("case", PAIRWISE, ids=[c["case"] for c in PAIRWISE])
def test_pairwise_other_solver(case, tmp_path):
    other = "cg+amg" if case["solver"] == "cholmod" else "cholmod"
    _run_case(case, tmp_path, solver=other)


# ---------------------------------------------------------------- circuit unit tests


def test_graph_construction_unit_values():
    g = np.array([[0, 1, 2], [2, 0, 0], [2, 0, 2]], dtype=float)
    for avg_res, horiz, diag in ((False, 1.5, 1.06066), (True, 1.3333, 0.942809)):
        graph, nm = C.raster_graph(g, None, four_neighbors=False, avg_resistances=avg_res)
        A = graph.A.toarray()
        # column-major numbering: (1,0)->0, (2,0)->1, (0,1)->2, (0,2)->3, (2,2)->4
        assert nm[1, 0] == 0 and nm[2, 0] == 1 and nm[0, 1] == 2 and nm[0, 2] == 3 and nm[2, 2] == 4
        assert A[0, 1] == pytest.approx(2.0)  # vertical 2-2
        assert A[2, 3] == pytest.approx(horiz, abs=1e-4)  # horizontal 1-2
        assert A[0, 2] == pytest.approx(diag, abs=1e-5)  # diagonal (1,0)-(0,1), 2-1
        assert graph.ncomp == 2  # (2,2) has no neighbour with habitat


def test_polygon_merges_cells_and_drops_self_loops():
    g = np.ones((2, 3))
    poly = np.array([[1, 1, 0], [0, 0, 0]])
    graph, nm = C.raster_graph(g, poly, four_neighbors=True, avg_resistances=False)
    assert nm[0, 0] == nm[0, 1] and graph.n == 5
    assert graph.A.diagonal().sum() == 0


def _resist(g, a, b, four=True, avg_res=True, poly=None, kind="cholmod"):
    graph, nm = C.raster_graph(g, poly, four, avg_res)
    L = graph.laplacian()
    na, nb = nm[a], nm[b]
    comp = graph.component_nodes(graph.labels[na])
    loc = {int(v): k for k, v in enumerate(comp)}
    sol, _ = C.pairwise_resistances(L, comp, np.array([loc[na], loc[nb]]), kind, False)
    return sol.resistance(0, 1)


@pytest.mark.parametrize("kind", ["cholmod", "cg+amg"])
def test_sgverify2_hand_values(kind):
    cfg = load_ini(DATA / "input/raster/pairwise/2/sgVerify2.ini", base_dir=DATA)
    from pardus.connectivity.grids import read_grid

    g = read_grid(cfg.habitat_file).data
    g = np.where(np.isfinite(g), g, 0)
    poly = np.where(np.isfinite(p := read_grid(cfg.polygon_file).data), p, 0).astype(int)
    row0 = lambda c: (0, c)
    assert _resist(g, row0(0), row0(2), poly=poly, kind=kind) == pytest.approx(1.0, abs=1e-6)
    assert _resist(g, row0(0), row0(3), poly=poly, kind=kind) == pytest.approx(2.0, abs=1e-6)
    assert _resist(g, row0(0), row0(4), poly=poly, kind=kind) == pytest.approx(2.75, abs=1e-6)
    assert _resist(g, row0(3), row0(4), poly=poly, kind=kind) == pytest.approx(0.75, abs=1e-6)


def test_sgnetworkverify2_hand_values():
    # unit conductances: path 0-1-2-3, loop 3-4-6-5-3
    a = np.array([0, 1, 2, 3, 4, 6, 5]); b = np.array([1, 2, 3, 4, 6, 5, 3])
    graph, ids = C.network_graph(a, b, np.ones(7))
    L = graph.laplacian()
    comp = graph.component_nodes(0)
    sol, _ = C.pairwise_resistances(L, comp, np.array([0, 1, 3, 4]), "cg+amg", True)
    assert sol.resistance(0, 1) == pytest.approx(1.0, abs=1e-6)
    assert sol.resistance(0, 3) == pytest.approx(3.75, abs=1e-6)
    assert sol.resistance(2, 3) == pytest.approx(0.75, abs=1e-6)
    v = sol.voltages(0, 3)
    assert v == pytest.approx([0, 1, 2, 3, 3.75, 3.25, 3.5], abs=1e-6)
    i, j, bc = C.branch_currents(graph.A, v)
    flows = {(int(x), int(y)): c for x, y, c in zip(i, j, bc)}
    assert flows[(3, 4)] == pytest.approx(0.75) and flows[(3, 5)] == pytest.approx(0.25)
    assert C.node_currents(graph.A, v)[3] == pytest.approx(1.0)


def test_mgnetworkverify1_hand_values():
    # square 0-1-3-2-0 of 100-ohm resistors, 1 A into node 0, node 2 grounded directly
    a = np.array([0, 1, 3, 2]); b = np.array([1, 3, 2, 0])
    graph, _ = C.network_graph(a, b, np.full(4, 1 / 100))
    L = graph.laplacian()
    nodes = graph.component_nodes(0)
    v, _ = C.solve_advanced(L, nodes, np.array([1.0, 0, 0, 0]), np.array([0, 0, np.inf, 0]), "cholmod")
    assert v == pytest.approx([75, 50, 0, 25], abs=1e-9)
    i, j, bc = C.branch_currents(graph.A, v)
    flows = {(int(x), int(y)): c for x, y, c in zip(i, j, bc)}
    assert flows[(0, 1)] == pytest.approx(0.25) and flows[(0, 2)] == pytest.approx(0.75)


def test_pairwise_superposition_matches_direct_pair_solves():
    rng = np.random.default_rng(3)
    g = rng.lognormal(0, 1, (12, 9))
    graph, nm = C.raster_graph(g, None, False, False)
    L = graph.laplacian()
    comp = graph.component_nodes(0)
    focal = np.array([0, 17, 50, 101])
    sol, _ = C.pairwise_resistances(L, comp, focal, "cholmod", True)
    Lp = np.linalg.pinv(L.toarray())
    for p in range(4):
        for q in range(p + 1, 4):
            a, b = focal[p], focal[q]
            assert sol.resistance(p, q) == pytest.approx(Lp[a, a] + Lp[b, b] - 2 * Lp[a, b], rel=1e-9)


# ---------------------------------------------------------------- bad input


def _ini(tmp_path, body: str, name="job.ini"):
    p = tmp_path / name
    p.write_text(body)
    return p


def _grid_text(vals, nodata=-9999, xll=0.0):
    vals = np.asarray(vals)
    head = f"ncols {vals.shape[1]}\nnrows {vals.shape[0]}\nxllcorner {xll}\nyllcorner 0\ncellsize 1\nNODATA_value {nodata}\n"
    return head + "\n".join(" ".join(str(v) for v in r) for r in vals) + "\n"


def _pairwise_ini(tmp_path, hab="hab.asc", pts="pts.asc", extra=""):
    return _ini(tmp_path, f"""[Circuitscape mode]
data_type = raster
scenario = pairwise
[Habitat raster or graph]
habitat_file = {tmp_path / hab}
habitat_map_is_resistances = True
[Options for pairwise and one-to-all and all-to-one modes]
point_file = {tmp_path / pts}
[Output options]
output_file = {tmp_path / 'out' / 'job.out'}
write_cur_maps = True
{extra}""")


def _cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "pardus.cli", "connectivity", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _assert_refused(tmp_path, ini, *words):
    with pytest.raises(ConnectivityError) as e:
        run_config(load_ini(ini))
    for w in words:
        assert w in str(e.value), str(e.value)
    r = _cli([str(ini)], tmp_path)
    assert r.returncode == 2, r.stderr
    assert words[0] in r.stderr.replace("\n", "")
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_missing_file_named(tmp_path):
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0], [0, 2]]))
    _assert_refused(tmp_path, _pairwise_ini(tmp_path), "habitat_file", "does not exist", "correct the path")


def test_misaligned_grids(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 1], [1, 1]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0], [0, 2]], xll=5.0))
    _assert_refused(tmp_path, _pairwise_ini(tmp_path), "point_file", "xllcorner", "habitat_file")


def test_resistance_zero(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 0], [1, 1]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0], [0, 2]]))
    _assert_refused(tmp_path, _pairwise_ini(tmp_path), "habitat_file", "resistance 0", "polygon_file")


def test_focal_node_outside_grid(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 1], [1, 1]]))
    (tmp_path / "pts.txt").write_text("1 0.5 0.5\n2 7.5 0.5\n")
    _assert_refused(tmp_path, _pairwise_ini(tmp_path, pts="pts.txt"), "point_file", "line 2", "outside")


def test_unknown_option_and_unimplemented_value(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 1], [1, 1]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0], [0, 2]]))
    _assert_refused(tmp_path, _pairwise_ini(tmp_path, extra="write_curr_maps = True\n"), "write_curr_maps", "unknown option")
    _assert_refused(tmp_path, _pairwise_ini(tmp_path, extra="[Calculation options]\nsolver = pardiso\n"), "solver", "cg+amg")


def test_graph_malformed_line_and_unknown_node(tmp_path):
    (tmp_path / "g.txt").write_text("0 1 1\n1 2 x\n")
    (tmp_path / "fp.txt").write_text("0\n2\n")
    ini = _ini(tmp_path, f"""data_type = network
scenario = pairwise
habitat_file = {tmp_path / 'g.txt'}
habitat_map_is_resistances = False
point_file = {tmp_path / 'fp.txt'}
output_file = {tmp_path / 'out' / 'net.out'}
write_cur_maps = True
""")
    _assert_refused(tmp_path, ini, "habitat_file", "line 2")
    (tmp_path / "g.txt").write_text("0 1 1\n1 2 1\n")
    (tmp_path / "s.txt").write_text("0 1\n")
    (tmp_path / "gr.txt").write_text("9 0\n")
    ini2 = _ini(tmp_path, f"""data_type = network
scenario = advanced
habitat_file = {tmp_path / 'g.txt'}
source_file = {tmp_path / 's.txt'}
ground_file = {tmp_path / 'gr.txt'}
output_file = {tmp_path / 'out' / 'net.out'}
write_volt_maps = True
""", name="adv.ini")
    _assert_refused(tmp_path, ini2, "ground_file", "node 9 is not in the graph")


def test_focal_node_on_nodata_is_minus_one(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 1, -9999], [1, 1, 1]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0, 3], [0, 2, 0]]))
    res = run_config(load_ini(_pairwise_ini(tmp_path)))
    R = res.resistances
    assert R[1, 3] == -1 and R[2, 3] == -1 and R[1, 2] > 0
    text = (tmp_path / "out" / "job_resistances.out").read_text()
    assert " -1" in text


def test_a_missing_scenario_is_a_user_error(tmp_path):
    r = _cli(["leopards.toml", "--core", "zone:core", "--core", "country:china"], tmp_path)
    assert r.returncode == 2 and "leopards.toml" in r.stderr


def test_cli_runs_ini_and_prints_table(tmp_path):
    out = tmp_path / "o" / "sg2"
    r = _cli([str(DATA / "input/raster/pairwise/2/sgVerify2.ini"), "-o", str(out)], DATA)
    assert r.returncode == 0, r.stderr
    assert "2.75" in r.stdout and "solver" in r.stderr
    assert (tmp_path / "o" / "sg2_resistances.out").exists()


def test_compressed_and_geotiff_outputs(tmp_path):
    cfg = load_ini(DATA / "input/raster/pairwise/2/sgVerify2.ini", base_dir=DATA, output_prefix=tmp_path / "a")
    cfg.compress_grids = True
    run_config(cfg)
    from pardus.connectivity.grids import read_grid

    a = read_grid(tmp_path / "a_cum_curmap.asc.gz").data
    run_config(load_ini(DATA / "input/raster/pairwise/2/sgVerify2.ini", base_dir=DATA, output_prefix=tmp_path / "b"), geotiff=True)
    b = read_grid(tmp_path / "b_cum_curmap.tif").data
    assert np.allclose(a, b) and np.allclose(a, _grid(DATA / "output_verify/sgVerify2_cum_curmap.asc"), atol=1e-6)


# ---------------------------------------------------------------- readers and options


def test_ascii_grid_reader_tolerates_case_crlf_tabs_and_gzip(tmp_path):
    import gzip

    from pardus.connectivity.grids import read_grid

    text = "NCOLS 3\r\nnrows\t2\r\nXLLCORNER 10\r\nyllcorner 20\nCellSize 5\nnodata_value -1\n1 2\t3\t\r\n4 -1 6\n"
    (tmp_path / "a.asc").write_text(text, newline="")
    (tmp_path / "b.asc.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("a.asc", "b.asc.gz"):
        g = read_grid(tmp_path / name)
        assert (g.header.ncols, g.header.nrows, g.header.xllcorner, g.header.yllcorner, g.header.cellsize) == (3, 2, 10, 20, 5)
        assert np.isnan(g.data[1, 1]) and g.data[0, 2] == 3 and g.data[1, 2] == 6
    (tmp_path / "c.asc").write_text("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2 3\n4 5\n")
    with pytest.raises(ConnectivityError, match="6 values but the file has 5"):
        read_grid(tmp_path / "c.asc", "habitat_file")


def test_written_grid_round_trips_with_circuitscape_header(tmp_path):
    from pardus.connectivity.grids import GridHeader, read_grid, write_grid

    data = np.array([[1.5, np.nan], [0.0, 2.0]])
    p = write_grid(tmp_path / "x", data, GridHeader(2, 2, 1.0, 2.0, 0.5))
    lines = p.read_text().splitlines()
    assert lines[0].split() == ["ncols", "2"] and lines[5].split() == ["NODATA_value", "-9999"]
    assert lines[6].split() == ["1.5", "-9999"]
    back = read_grid(p)
    assert np.isnan(back.data[0, 1]) and back.data[1, 1] == 2.0 and back.header.cellsize == 0.5
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary left


def test_ini_booleans_placeholders_comments_and_unknown_keys(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[1, 1], [1, 1]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0], [0, 2]]))
    ini = _ini(tmp_path, f"""[Circuitscape mode]
scenario = pairwise
; point_file = elsewhere.asc
# a comment
habitat_file = hab.asc
point_file = pts.asc
connect_four_neighbors_only = TRUE
use_polygons = 0
polygon_file = (Browse for a short-circuit region file)
mask_file = None
output_file = out/job.out
""")
    cfg = load_ini(ini, base_dir=tmp_path / "nowhere")  # inputs found beside the ini
    assert cfg.connect_four_neighbors_only is True and cfg.use_polygons is False
    assert cfg.polygon_file is None and cfg.mask_file is None
    assert cfg.habitat_file == tmp_path / "hab.asc"
    assert cfg.output_file == tmp_path / "out" / "job.out"  # the ini is relative to itself
    cfg2 = load_ini(ini, base_dir=tmp_path)
    assert cfg2.output_file == tmp_path / "out" / "job.out"
    assert cfg.data_type == "raster" and cfg.solver == "cg+amg" and cfg.habitat_map_is_resistances  # Circuitscape defaults
    bad = _ini(tmp_path, "habitat_file = hab.asc\nconnect_four_neighbors_only = maybe\n", "bad.ini")
    with pytest.raises(ConnectivityError, match="connect_four_neighbors_only.*True or False"):
        load_ini(bad)


def test_pairs_files_both_formats(tmp_path):
    (tmp_path / "list.txt").write_text("mode include\n1 2\n3 1\n")
    s = read_pairs_file(tmp_path / "list.txt")
    assert s.mode == "include" and s.ids.tolist() == [1, 2, 3]
    assert s.matrix[0, 1] == 1 and s.matrix[0, 2] == 1 and s.matrix[1, 2] == 0
    (tmp_path / "mat.txt").write_text("min\t2\nmax\t50\n0\t1\t2\t3\n1\t0\t2\t70\n2\t2\t0\t1\n3\t70\t1\t0\n")
    m = read_pairs_file(tmp_path / "mat.txt")
    assert m.ids.tolist() == [1, 2, 3]
    assert m.matrix.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]


def test_text_points_map_to_cells_as_circuitscape():
    from pardus.connectivity.grids import GridHeader, points_to_cells

    h = GridHeader(5, 5, 100.0, 100.0, 10.0)
    r, c = points_to_cells(np.array([105.0, 145.0, 110.0]), np.array([145.0, 105.0, 130.0]), h, "point_file", "p", [1, 2, 3])
    assert r.tolist() == [0, 4, 1] and c.tolist() == [0, 4, 0]  # row = ceil(5 - 30/10) = 2 (1-based)


def test_workers_give_the_same_result(tmp_path):
    case = next(c for c in CASES if c["case"] == "sgVerify4")
    one = run_config(load_ini(DATA / case["ini"], base_dir=DATA, output_prefix=tmp_path / "a"), workers=1)
    two = run_config(load_ini(DATA / case["ini"], base_dir=DATA, output_prefix=tmp_path / "b"), workers=2)
    np.testing.assert_allclose(one.resistances, two.resistances, rtol=1e-9)
    np.testing.assert_allclose(_grid(tmp_path / "a_cum_curmap.asc"), _grid(tmp_path / "b_cum_curmap.asc"), atol=1e-9)


def test_map_options_log_nodata_focal_zero_and_max(tmp_path):
    ini = DATA / "input/raster/pairwise/4/sgVerify4.ini"
    plain = load_ini(ini, base_dir=DATA, output_prefix=tmp_path / "p")
    run_config(plain)
    cfg = load_ini(ini, base_dir=DATA, output_prefix=tmp_path / "q")
    cfg.log_transform_maps = True
    cfg.set_null_currents_to_nodata = True
    cfg.set_null_voltages_to_nodata = True
    cfg.write_max_cur_maps = True
    run_config(cfg)
    from pardus.connectivity.grids import read_grid

    hab = read_grid(cfg.habitat_file).data
    null = ~np.isfinite(hab)
    cum_p, cum_q = _grid(tmp_path / "p_cum_curmap.asc"), _grid(tmp_path / "q_cum_curmap.asc")
    assert (cum_q[null] == -9999).all()
    ok = ~null & (cum_p > 0)
    np.testing.assert_allclose(cum_q[ok], np.log10(cum_p[ok]), atol=1e-8)
    assert (_grid(tmp_path / "q_voltmap_1_2.asc")[null] == -9999).all()
    mx = _grid(tmp_path / "q_max_curmap.asc")
    maps = [_grid(tmp_path / f) for f in os.listdir(tmp_path) if f.startswith("p_curmap_")]
    big = np.max(maps, axis=0)
    np.testing.assert_allclose(mx[(big > 0) & ~null], np.log10(big[(big > 0) & ~null]), atol=1e-8)
    # focal-node currents are left out of the cumulative map too
    zero = load_ini(ini, base_dir=DATA, output_prefix=tmp_path / "z")
    zero.set_focal_node_currents_to_zero = True
    run_config(zero)
    pts = read_grid(cfg.point_file).data
    r, c = np.argwhere(pts == 1)[0]
    assert _grid(tmp_path / "p_curmap_1_2.asc")[r, c] > 0 and _grid(tmp_path / "z_curmap_1_2.asc")[r, c] == 0
    assert _grid(tmp_path / "z_cum_curmap.asc").sum() < cum_p.sum()


def test_error_during_a_run_leaves_nothing(tmp_path, monkeypatch):
    calls = [0]
    real = C.node_currents

    def failing(*a, **k):
        calls[0] += 1
        if calls[0] > 2:
            raise ConnectivityError("simulated failure")
        return real(*a, **k)

    monkeypatch.setattr(C, "node_currents", failing)
    cfg = load_ini(DATA / "input/raster/pairwise/4/sgVerify4.ini", base_dir=DATA, output_prefix=tmp_path / "o" / "x")
    with pytest.raises(ConnectivityError):
        run_config(cfg)
    assert os.listdir(tmp_path / "o") == []


def test_network_pairwise_included_pairs(tmp_path):
    (tmp_path / "g.txt").write_text("0 1 1\n1 2 1\n2 3 1\n")
    (tmp_path / "fp.txt").write_text("0\n1\n3\n")
    (tmp_path / "pairs.txt").write_text("mode exclude\n0 3\n")
    ini = _ini(tmp_path, f"""data_type = network
scenario = pairwise
habitat_file = {tmp_path / 'g.txt'}
habitat_map_is_resistances = True
point_file = {tmp_path / 'fp.txt'}
use_included_pairs = True
included_pairs_file = {tmp_path / 'pairs.txt'}
output_file = {tmp_path / 'net.out'}
""")
    R = run_config(load_ini(ini)).resistances
    assert R[1, 2] == pytest.approx(1.0) and R[2, 3] == pytest.approx(2.0) and R[1, 3] == -1  # 0-3 excluded


def test_reclass_table_and_mask(tmp_path):
    (tmp_path / "hab.asc").write_text(_grid_text([[5, 5, 5], [9, 9, 9]]))
    (tmp_path / "pts.asc").write_text(_grid_text([[1, 0, 2], [0, 0, 0]]))
    (tmp_path / "mask.asc").write_text(_grid_text([[1, 1, 1], [0, 0, 0]]))
    (tmp_path / "reclass.txt").write_text("5 1\n9 -9999\n")
    ini = _pairwise_ini(tmp_path, extra=f"use_reclass_table = True\nreclass_file = {tmp_path / 'reclass.txt'}\n"
                                        f"connect_four_neighbors_only = True\n")
    R = run_config(load_ini(ini)).resistances
    assert R[1, 2] == pytest.approx(2.0, abs=1e-6)  # two unit resistors; row 2 removed by the table
    ini2 = _pairwise_ini(tmp_path, extra=f"use_mask = True\nmask_file = {tmp_path / 'mask.asc'}\nconnect_four_neighbors_only = True\n")
    assert run_config(load_ini(ini2)).resistances[1, 2] == pytest.approx(10.0, abs=1e-6)  # 2 × resistance 5
