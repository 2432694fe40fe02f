# SPDX-License-Identifier: GPL-3.0-or-later
"""Coat patterns, the camera-trap renderer and the benchmark writer (pardus.monitoring).

Images are small (at most 240 × 320) to keep the file fast; tolerances are stated at each test.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from pardus.monitoring import benchmark as bm
from pardus.monitoring.coat import (
    BODY,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    CoatPattern,
    Pose,
    _generate_flank,
    coat_pattern,
)
from pardus.monitoring.render import (
    DIFFICULTIES,
    CameraConditions,
    decode_jpeg,
    encode_jpeg,
    render,
    render_layers,
    sample_conditions,
)

SMALL = (240, 320)
# a plain daylight photograph: no noise, blur or strip, so that differences are the pattern's
PLAIN = CameraConditions(noise=0.0, defocus=0.0, motion_length=0.0, bend=0.0, sun=0.0, seed=7)


# ------------------------------------------------------------------------------------------
# coat patterns
# ------------------------------------------------------------------------------------------


def test_same_id_gives_identical_geometry_and_fresh_generation_agrees():
    a = coat_pattern(42)
    assert a is coat_pattern(42)  # cached
    fresh = CoatPattern(42, _generate_flank(42, "left"), _generate_flank(42, "right"))
    assert a == fresh
    for name in a.left._ARRAYS:
        assert np.array_equal(getattr(a.left, name), getattr(fresh.left, name)), name
    assert not a.left.spot_vertices.flags.writeable


def test_different_ids_differ_and_left_differs_from_right():
    a, b = coat_pattern(1), coat_pattern(2)
    assert a != b
    assert a.left != b.left
    assert a.left != a.right
    # not merely shifted: the rosette layouts are unrelated
    ca, cr = a.left.rosette_centres, a.right.rosette_centres
    assert len(ca) != len(cr) or not np.allclose(ca, cr, atol=0.01)


def test_patterns_do_not_change_between_versions():
    """A stored pattern id must keep its pattern: these numbers were recorded when the pattern
    model was written (a change to the model that moves them changes every animal's coat, and
    must be deliberate)."""
    recorded = {
        (1, "left"): (29, 316, 40.984944), (1, "right"): (31, 312, 43.014178),
        (2**40 + 3, "left"): (28, 326, 40.336215), (2**40 + 3, "right"): (31, 323, 44.591919),
    }
    for (pid, side), (n_ros, n_spots, centre_sum) in recorded.items():
        f = coat_pattern(pid).flank(side)
        assert (f.n_rosettes, f.n_spots) == (n_ros, n_spots)
        assert float(f.rosette_centres.sum()) == pytest.approx(centre_sum, abs=1e-5)


@pytest.mark.parametrize("pid", [0, 7, 123456, 2**40 + 3])
def test_rosette_geometry(pid):
    """Rosettes: 3–6 spots each; every rosette's disc (its outer radius: the farthest spot
    vertex) lies inside the flank region to within 0.005 frame units (the 1/400 resolution of the
    raster the packing uses, doubled), and no two discs overlap at all (tolerance 0)."""
    for side in ("left", "right"):
        f = coat_pattern(pid).flank(side)
        n = f.n_rosettes
        assert 15 <= n <= 70, n
        counts = f.rosette_spot_counts
        assert counts.min() >= 3 and counts.max() <= 6
        assert np.array_equal(np.bincount(f.spot_rosette[f.spot_rosette >= 0], minlength=n), counts)
        # outer radii are exact
        for i, sp in enumerate(f.spots()):
            r = f.spot_rosette[i]
            if r >= 0:
                d = np.hypot(*(sp - f.rosette_centres[r]).T).max()
                assert d <= f.rosette_outer_radii[r] + 1e-12
        # inside the flank region
        region = MplPath(BODY.flank)
        assert region.contains_points(f.rosette_centres).all()
        boundary = BODY.flank
        for c, r in zip(f.rosette_centres, f.rosette_outer_radii):
            assert _dist_to_polyline(c, boundary) >= r - 0.005
        # no overlaps
        d = np.hypot(*(f.rosette_centres[:, None] - f.rosette_centres[None]).transpose(2, 0, 1))
        need = f.rosette_outer_radii[:, None] + f.rosette_outer_radii[None]
        np.fill_diagonal(d, np.inf)
        assert (d >= need).all()
        # sizes vary over the body: bigger in the middle of the trunk than near its edges
        edge = np.array([_dist_to_polyline(c, boundary) for c in f.rosette_centres])
        inner = f.rosette_radii[edge > np.median(edge)].mean()
        outer = f.rosette_radii[edge <= np.median(edge)].mean()
        assert inner > outer
        # solid spots on legs, head and tail too
        names = {p.index: p.name for p in BODY.parts}
        on = {names[i] for i in np.unique(f.spot_part[f.spot_rosette < 0])}
        assert {"body", "head", "tail", "near_fore", "near_hind"} <= on


def _dist_to_polyline(p, poly):
    a = poly
    b = np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / (ab * ab).sum(1), 0, 1)
    q = a + t[:, None] * ab
    return float(np.hypot(*(q - p).T).min())


def test_render_mask_shapes_values_and_pose():
    pat = coat_pattern(3)
    m = pat.render_mask("left", (100, 200))
    for layer in (m.spots, m.centres, m.body, m.flank):
        assert layer.shape == (100, 200) and layer.dtype == np.float32
        assert 0.0 <= layer.min() and layer.max() <= 1.0
    assert 0.05 < m.spots.mean() / m.body.mean() < 0.5  # a spotted coat, not a black one
    assert (m.flank <= m.body + 1e-5).all()
    # anti-aliased: intermediate values on spot edges
    assert ((m.spots > 0.1) & (m.spots < 0.9)).sum() > 100
    posed = pat.render_mask("left", (100, 200), pose=Pose.walking(0.25, 0.3))
    assert not np.array_equal(posed.body, m.body)
    with pytest.raises(ValueError, match="size"):
        pat.render_mask("left", (4, 200))
    with pytest.raises(ValueError, match="side"):
        pat.render_mask("up", (100, 200))


def test_bad_pattern_ids_are_refused():
    for bad in (-1, 2**63, 1.5, "7", True):
        with pytest.raises(ValueError, match="pattern_id"):
            coat_pattern(bad)


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------


def test_render_shape_dtype_and_determinism():
    pat = coat_pattern(11)
    c = sample_conditions(np.random.default_rng(3))
    a = render(pat, "left", c, SMALL)
    b = render(pat, "left", c, SMALL)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8
    assert a.tobytes() == b.tobytes()
    other_seed = render(pat, "left", c.replace(seed=c.seed + 1), SMALL)
    assert other_seed.tobytes() != a.tobytes()
    j = render(pat, "left", c, SMALL, jpeg=True)
    assert np.array_equal(j, decode_jpeg(encode_jpeg(a, c.jpeg_quality)))


def test_night_images_are_grey_with_three_equal_channels():
    pat = coat_pattern(12)
    c = PLAIN.replace(night=True, noise=8.0, occlusion=0.15, info_strip=True)
    img = render(pat, "right", c, SMALL)
    assert img.shape == (240, 320, 3)
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])
    dec = decode_jpeg(encode_jpeg(img, 70))
    assert np.abs(dec[..., 0].astype(int) - dec[..., 2]).max() <= 1
    day = render(pat, "right", PLAIN, SMALL)
    assert np.abs(day[..., 0].astype(int) - day[..., 2]).mean() > 5  # day images are in colour


@pytest.mark.parametrize("target", [0.0, 0.1, 0.35])
def test_occlusion_of_the_rendered_flank_is_close_to_the_request(target):
    """The vegetation covers the requested fraction of the flank pixels in the frame to within
    0.05 (absolute), measured on the rendered layers."""
    pat = coat_pattern(13)
    for k, kind in enumerate(("grass", "branches", "leaves")):
        c = PLAIN.replace(occlusion=target, occluder=kind, seed=100 + k, clutter=0.8)
        r = render_layers(pat, "left", c, SMALL)
        fm = r.flank > 0.5
        measured = ((r.occluder > 0.5) & fm).sum() / fm.sum()
        assert measured == pytest.approx(r.occlusion)
        assert abs(measured - target) <= 0.05, (kind, measured)


def _high_frequency(img, mask):
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F)
    return float((lap[mask] ** 2).mean())


def test_motion_blur_reduces_high_frequency_energy():
    pat = coat_pattern(14)
    r = render_layers(pat, "left", PLAIN, SMALL)
    mask = cv2.erode((r.body > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    sharp = _high_frequency(r.image, mask)
    blurred = _high_frequency(render(pat, "left", PLAIN.replace(motion_length=20.0), SMALL), mask)
    assert blurred < 0.5 * sharp
    defocused = _high_frequency(render(pat, "left", PLAIN.replace(defocus=3.0), SMALL), mask)
    assert defocused < 0.5 * sharp


def test_another_pattern_differs_more_than_a_small_change_of_viewpoint():
    """On the warped pattern masks (blurred by 2 pixels), correlated over the reference's flank
    region: the same flank seen 5° further round, a little bent and a step later in the gait
    correlates at > 0.7 with the reference; another animal's flank, or the other flank of the
    same animal (mirrored onto the reference), in the very same conditions at < 0.5."""
    def layers(pid, c, side="left"):
        r = render_layers(coat_pattern(pid), side, c, SMALL)
        return cv2.GaussianBlur(r.spots, (0, 0), 2.0), r.flank > 0.5

    def ncc(a, b, m):
        a, b = a[m] - a[m].mean(), b[m] - b[m].mean()
        return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))

    ref, region = layers(21, PLAIN)
    moved, _ = layers(21, PLAIN.replace(yaw=5.0, bend=0.01, gait=0.1))
    same = ncc(ref, moved, region)
    assert same > 0.7
    for other_id in (22, 23, 24):
        assert ncc(ref, layers(other_id, PLAIN)[0], region) < 0.5
    right, _ = layers(21, PLAIN, side="right")
    assert ncc(ref, np.fliplr(right), region) < 0.5


def test_left_flanks_face_left_and_right_flanks_face_right():
    pat = coat_pattern(15)
    for side, head_left in (("left", True), ("right", False)):
        r = render_layers(pat, side, PLAIN, SMALL)
        rows, cols = np.nonzero(r.body > 0.5)
        ear = cols[rows == rows.min()].mean()  # the highest point of the animal is its ear
        assert (ear < SMALL[1] / 2) == head_left


def test_partial_framing_and_ground_truth_layers():
    pat = coat_pattern(16)
    r = render_layers(pat, "left", PLAIN.replace(centre_x=1.0, scale=1.0), SMALL)
    assert 0.2 < r.flank_in_frame < 0.8
    whole = render_layers(pat, "left", PLAIN, SMALL)
    assert whole.flank_in_frame > 0.99
    assert whole.flank_pixels > r.flank_pixels


def test_sampled_conditions_cover_the_difficulties():
    rng = np.random.default_rng(0)
    cs = [sample_conditions(rng, "benchmark") for _ in range(2000)]
    night = np.mean([c.night for c in cs])
    heavy = np.mean([0.3 <= c.occlusion <= 0.4 for c in cs])
    blur = np.mean([c.motion_length >= 10 or c.defocus >= 2 for c in cs])
    # binomial SE at n = 2000 is at most 0.011: ±0.045 is 4 SE
    assert abs(night - 0.3) < 0.045
    assert abs(heavy - 0.12) < 0.045
    assert abs(blur - 0.10) < 0.045
    assert np.mean([abs(c.yaw) < 25 for c in cs]) > 0.8  # most views moderate
    for d in DIFFICULTIES:
        assert isinstance(sample_conditions(rng, d), CameraConditions)
    easy = [sample_conditions(rng, "easy") for _ in range(200)]
    assert not any(c.night or c.occlusion for c in easy)


def test_bad_arguments_name_the_argument_and_range():
    with pytest.raises(ValueError, match=r"yaw.*\[-60.0, 60.0\]"):
        CameraConditions(yaw=90)
    with pytest.raises(ValueError, match="occlusion"):
        CameraConditions(occlusion=0.9)
    with pytest.raises(ValueError, match="jpeg_quality"):
        CameraConditions(jpeg_quality=101)
    with pytest.raises(ValueError, match="occluder"):
        CameraConditions(occluder="snowman")
    with pytest.raises(ValueError, match="night"):
        CameraConditions(night=1)
    with pytest.raises(ValueError, match="difficulty"):
        sample_conditions(np.random.default_rng(0), "impossible")
    with pytest.raises(ValueError, match="rng"):
        sample_conditions(3)
    with pytest.raises(ValueError, match="size"):
        render(coat_pattern(1), "left", PLAIN, (10, 10))
    with pytest.raises(ValueError, match="side"):
        render(coat_pattern(1), "front", PLAIN, SMALL)
    with pytest.raises(ValueError, match="no field"):
        PLAIN.replace(zoom=2)


# ------------------------------------------------------------------------------------------
# the benchmark writer
# ------------------------------------------------------------------------------------------

TINY = (120, 160)


def test_plan_assigns_sides_names_and_distinct_patterns():
    specs = bm.plan_image_set(5, 6, seed=1)
    assert len(specs) == 30
    assert [s.side for s in specs[:6]] == ["left"] * 3 + ["right"] * 3
    assert specs[0].image == "L0001/L0001_1.jpg" and specs[-1].individual == "L0005"
    assert len({s.pattern_id for s in specs}) == 5
    assert len({s.conditions.seed for s in specs}) == 30  # conditions per image
    assert [s.side for s in bm.plan_image_set(1, 3, seed=1)] == ["left", "left", "right"]
    assert {s.side for s in bm.plan_image_set(2, 3, seed=1, sides="right")} == {"right"}
    assert bm.plan_image_set(5, 6, seed=1) == specs
    assert bm.plan_image_set(5, 6, seed=2) != specs
    with pytest.raises(ValueError, match="sides"):
        bm.plan_image_set(2, 2, sides="top")
    with pytest.raises(ValueError, match="n_individuals"):
        bm.plan_image_set(0, 2)


def _files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_image_set_files_labels_and_determinism(tmp_path):
    a = bm.write_image_set(tmp_path / "a", n_individuals=2, images_per_individual=2, seed=9, size=TINY)
    files = _files(a)
    assert set(files) == {"labels.csv", "L0001/L0001_1.jpg", "L0001/L0001_2.jpg",
                          "L0002/L0002_1.jpg", "L0002/L0002_2.jpg"}
    assert not list(tmp_path.glob(".a.*"))  # no temporary folder left
    rows = bm.read_labels(a)
    assert list(rows[0]) == list(bm.LABEL_COLUMNS)
    assert [r["image"] for r in rows] == sorted(k for k in files if k.endswith(".jpg"))
    assert [r["side"] for r in rows] == ["left", "right", "left", "right"]
    assert rows[0]["individual"] == "L0001" and rows[0]["pattern_id"] == rows[1]["pattern_id"]
    for r in rows:
        img = decode_jpeg(files[r["image"]])
        assert img.shape == (120, 160, 3)
        assert r["night"] in ("0", "1") and 0.0 <= float(r["occlusion"]) <= 0.8
    # the labels give back the conditions exactly: rendering them again gives the same file
    r0 = rows[0]
    c = bm.conditions_from_row(r0)
    again = render(coat_pattern(int(r0["pattern_id"])), r0["side"], c, TINY)
    assert encode_jpeg(again, c.jpeg_quality) == files[r0["image"]]
    # same seed: byte-identical; in memory: the same images
    b = bm.write_image_set(tmp_path / "b", n_individuals=2, images_per_individual=2, seed=9, size=TINY)
    assert _files(b) == files
    mem = bm.render_image_set(2, 2, seed=9, size=TINY)
    for li in mem:
        assert li.jpeg == files[li.spec.image]
        assert np.array_equal(li.image, decode_jpeg(files[li.spec.image]))
    c_other = bm.write_image_set(tmp_path / "c", n_individuals=2, images_per_individual=2, seed=10, size=TINY)
    assert _files(c_other)["L0001/L0001_1.jpg"] != files["L0001/L0001_1.jpg"]


def test_write_image_set_refuses_a_non_empty_folder(tmp_path):
    target = tmp_path / "set"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"set is not empty.*remove the folder.*another folder"):
        bm.write_image_set(target, n_individuals=1, images_per_individual=1, size=TINY)
    assert (target / "notes.txt").read_text() == "keep me"
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert not list(tmp_path.glob(".set.*"))
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    bm.write_image_set(empty, n_individuals=1, images_per_individual=1, size=TINY)
    assert (empty / "labels.csv").is_file()
    with pytest.raises(FileNotFoundError, match="parent"):
        bm.write_image_set(tmp_path / "no" / "such", n_individuals=1, images_per_individual=1, size=TINY)


def test_workers_give_identical_results():
    one = bm.render_image_set(2, 2, seed=4, size=TINY, workers=1)
    two = bm.render_image_set(2, 2, seed=4, size=TINY, workers=2)
    assert [li.jpeg for li in one] == [li.jpeg for li in two]
    assert [li.flank_pixels for li in one] == [li.flank_pixels for li in two]


def test_frame_constants():
    assert FRAME_WIDTH == 2.0 and FRAME_HEIGHT == 1.0
    assert math.isclose(BODY.part("body").shade, 1.0)
