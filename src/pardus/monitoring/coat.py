# SPDX-License-Identifier: GPL-3.0-or-later
"""Coat patterns: the rosettes of every simulated leopard, one pattern per flank.

An Amur leopard is identified from camera-trap photographs by its rosettes, and its left and
right flanks differ, so a left-flank photograph can only be matched against left flanks. Here
every animal carries an integer ``pattern_id`` (the simulator stores one per animal) and
:func:`coat_pattern` turns it into a :class:`CoatPattern`: two independent
:class:`FlankPattern` objects, each drawn from its own generator seeded with
``numpy.random.SeedSequence([pattern_id, side])`` (side 0 = left, 1 = right), never from global
state, so the same id gives the same pattern on every call and every machine.

The flank frame
---------------
A flank pattern is geometry in one *flank frame* shared by all animals: the side view of a
leopard standing on the ground, head towards +x, y pointing down, ``x ∈ [0, FRAME_WIDTH]``,
``y ∈ [0, FRAME_HEIGHT]``; one unit is about a metre on an adult (trunk from rump to chest about
1.0, shoulder height about 0.65, ground at y ≈ 0.95). Every animal has the same outline and
size in this frame, so nothing but the spots tells individuals apart. The outline
(:data:`BODY`) is made of parts drawn back to front: the far hind and fore legs, the tail, the
near hind and fore legs, the body (trunk with shoulder, haunch and thigh, and the neck) which
hides the tops of the legs, and the head. A renderer may pose the articulated parts (legs, tail, head) with a :class:`Pose`: each
turns rigidly about its joint, taking its spots with it.

The pattern
-----------
* **Rosettes** fill the *flank region* (:attr:`BodyModel.flank`: trunk, shoulder and haunch):
  broken rings of 3–6 dark irregular spots around a centre a little darker than the ground
  colour. Rings are large (ring radius up to about 0.04, a rosette 6–9 cm across) in the middle
  of the trunk and smaller towards the spine, the belly and the legs; borders are thick (a
  third to a half of the ring radius), as on the pale winter coat of the Amur leopard, and
  rosettes are widely spaced. Positions come from a greedy random (Poisson-disc) packing, and
  each rosette draws its own spot count, ring radius, ellipticity, orientation, gap layout and
  spot shapes.
* **Solid spots** cover the rest: elongated spots along the spine, larger blotches on the pale
  belly, small spots on the neck and head, spots that shrink down the legs, spots along the
  tail, and a few small ones between the rosettes.

No two rosettes overlap: each rosette's *outer radius* (the largest distance of any of its spot
vertices from its centre) is stored, and the discs of those radii are disjoint, and lie inside
the flank region; no solid spot overlaps a rosette's disc.

:meth:`CoatPattern.render_mask` rasterises the dark-spot and rosette-centre layers (and the body
and flank-region masks) into the flank frame at any resolution, anti-aliased.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "FRAME_WIDTH",
    "FRAME_HEIGHT",
    "SIDES",
    "BODY",
    "BodyModel",
    "BodyPart",
    "Pose",
    "FlankPattern",
    "CoatPattern",
    "FlankMasks",
    "PartLayer",
    "coat_pattern",
    "rasterise_parts",
]

FRAME_WIDTH = 2.0
"""Width of the flank frame (x from 0 at the tail to 2 beyond the nose), about metres."""
FRAME_HEIGHT = 1.0
"""Height of the flank frame (y from 0 above the back to 1 below the paws), about metres."""
SIDES = ("left", "right")
"""The two flanks; ``SeedSequence([pattern_id, SIDES.index(side)])`` seeds each."""

_SHIFT = 4  # sub-pixel bits for cv2 polygon filling
_ONE = 1 << _SHIFT


# --------------------------------------------------------------------------------------------
# curves and shapes
# --------------------------------------------------------------------------------------------


def _catmull_rom(points, closed: bool, samples: int = 10) -> np.ndarray:
    """A uniform Catmull-Rom spline through ``points`` ((k, 2)), ``samples`` points a segment."""
    p = np.asarray(points, dtype=float)
    if closed:
        ext = np.vstack([p[-1], p, p[0], p[1]])
        n_seg = len(p)
    else:
        ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
        n_seg = len(p) - 1
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(n_seg):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t3))
    if not closed:
        out.append(p[-1][None])
    return np.vstack(out)


def _limb(centre, widths, samples: int = 8) -> np.ndarray:
    """Polygon of a tapered limb along the centreline ``centre`` with ``widths`` at its points
    (round ends)."""
    c = _catmull_rom(centre, closed=False, samples=samples)
    w = np.interp(np.linspace(0, len(widths) - 1, len(c)), np.arange(len(widths)), widths)
    d = np.gradient(c, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    left = c + n * (w[:, None] / 2)
    right = c - n * (w[:, None] / 2)
    a_end = math.atan2(n[-1, 1], n[-1, 0])
    a_start = math.atan2(-n[0, 1], -n[0, 0])
    cap = np.linspace(0, -math.pi, 7)[1:-1]
    end = c[-1] + (w[-1] / 2) * np.stack([np.cos(a_end + cap), np.sin(a_end + cap)], axis=1)
    start = c[0] + (w[0] / 2) * np.stack([np.cos(a_start + cap), np.sin(a_start + cap)], axis=1)
    return np.vstack([left, end, right[::-1], start])


def _ellipse(cx, cy, ax, ay, angle=0.0, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = ax * np.cos(t), ay * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


# --------------------------------------------------------------------------------------------
# the body model (the same for every animal)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BodyPart:
    """One part of the side-view outline, in the flank frame.

    * ``name``: part name; ``index``: its position in :attr:`BodyModel.parts` (draw order, back
      to front);
    * ``polygons``: its silhouette, a union of closed polygons ((k, 2) arrays, frame units);
    * ``pivot``: the joint it turns about under a :class:`Pose` ((2,), frame units);
    * ``axis``: unit vector from the pivot along the part (0 at the pivot);
    * ``shade``: brightness factor of the part (far-side legs are in the body's shadow);
    * ``far``: whether it is a far-side part (seen through the gap under the belly).
    """

    name: str
    index: int
    polygons: tuple[np.ndarray, ...]
    pivot: np.ndarray
    axis: np.ndarray
    shade: float
    far: bool


@dataclass(frozen=True, eq=False)
class BodyModel:
    """The leopard outline in the flank frame, shared by all animals (see the module docstring).

    ``parts`` are in draw order; ``flank`` is the polygon of the flank region (where the
    rosettes are; (k, 2), frame units); ``eye``, ``nose`` and ``ear`` are head features
    (polygons that turn with the head).
    """

    parts: tuple[BodyPart, ...]
    flank: np.ndarray
    eye: np.ndarray
    nose: np.ndarray
    ear: np.ndarray

    def part(self, name: str) -> BodyPart:
        """The part called ``name`` (one of ``far_hind, far_fore, tail, body, head, near_hind,
        near_fore``)."""
        for p in self.parts:
            if p.name == name:
                return p
        raise ValueError(f"part must be one of {[p.name for p in self.parts]}, got {name!r}")


def _build_body() -> BodyModel:
    body_outline = _catmull_rom(
        [
            (0.40, 0.37), (0.50, 0.318), (0.65, 0.302), (0.82, 0.307), (1.00, 0.312),
            (1.15, 0.300), (1.26, 0.284), (1.36, 0.296), (1.46, 0.318), (1.55, 0.335),
            (1.625, 0.45), (1.59, 0.545), (1.51, 0.605), (1.44, 0.66), (1.33, 0.69),
            (1.18, 0.682), (1.00, 0.672), (0.86, 0.655), (0.76, 0.625), (0.755, 0.69),
            (0.70, 0.745), (0.60, 0.74), (0.50, 0.68), (0.43, 0.59), (0.385, 0.48),
        ],
        closed=True,
        samples=10,
    )
    head_pts = np.array([
        (1.545, 0.325), (1.60, 0.285), (1.67, 0.272), (1.745, 0.292), (1.80, 0.332),
        (1.848, 0.372), (1.856, 0.404), (1.836, 0.438), (1.785, 0.472), (1.70, 0.49),
        (1.62, 0.486), (1.560, 0.458), (1.528, 0.39),
    ])
    head_outline = _catmull_rom(head_pts, closed=True, samples=8)
    ear = _catmull_rom([(1.578, 0.300), (1.590, 0.236), (1.626, 0.220), (1.658, 0.262)],
                       closed=True, samples=6)
    eye = _catmull_rom([(1.716, 0.345), (1.742, 0.331), (1.772, 0.338), (1.744, 0.354)],
                       closed=True, samples=5)
    nose = _catmull_rom([(1.820, 0.374), (1.850, 0.366), (1.858, 0.392), (1.834, 0.398)],
                        closed=True, samples=5)
    fore_centre = [(1.372, 0.55), (1.362, 0.70), (1.372, 0.82), (1.382, 0.905)]
    fore_widths = [0.15, 0.125, 0.085, 0.075]
    hind_centre = [(0.675, 0.60), (0.64, 0.72), (0.575, 0.83), (0.585, 0.905)]
    hind_widths = [0.15, 0.115, 0.075, 0.07]
    tail_centre = [(0.43, 0.40), (0.31, 0.49), (0.225, 0.62), (0.185, 0.76), (0.18, 0.87),
                   (0.225, 0.915)]
    tail_widths = [0.09, 0.078, 0.07, 0.066, 0.062, 0.055]

    def leg(name, index, centre, widths, paw, dx, shade, far):
        centre = np.asarray(centre) + (dx, 0.0)
        paw = np.asarray(paw) + (dx, 0.0)
        polys = (_limb(centre, widths), _ellipse(paw[0], paw[1], 0.066, 0.034))
        pivot = centre[0].copy()
        axis = centre[1] - centre[0]
        axis = axis / np.linalg.norm(axis)
        return BodyPart(name, index, polys, pivot, axis, shade, far)

    parts = (
        leg("far_hind", 0, hind_centre, hind_widths, (0.625, 0.922), 0.09, 0.62, True),
        leg("far_fore", 1, fore_centre, fore_widths, (1.425, 0.922), -0.10, 0.62, True),
        BodyPart("tail", 2, (_limb(tail_centre, tail_widths),), np.array(tail_centre[0], float),
                 np.array([-0.8, 0.6]), 0.95, False),
        leg("near_hind", 3, hind_centre, hind_widths, (0.625, 0.922), 0.0, 0.97, False),
        leg("near_fore", 4, fore_centre, fore_widths, (1.425, 0.922), 0.0, 0.97, False),
        BodyPart("body", 5, (body_outline,), np.array([1.0, 0.5]), np.array([1.0, 0.0]), 1.0,
                 False),
        BodyPart("head", 6, (head_outline, ear), np.array([1.555, 0.40]), np.array([1.0, 0.0]),
                 1.0, False),
    )
    flank = _catmull_rom(
        [
            (0.455, 0.41), (0.60, 0.345), (0.80, 0.334), (1.00, 0.339), (1.17, 0.328),
            (1.31, 0.338), (1.43, 0.41), (1.48, 0.52), (1.43, 0.615), (1.27, 0.648),
            (1.04, 0.638), (0.86, 0.622), (0.76, 0.612), (0.715, 0.675), (0.60, 0.695),
            (0.49, 0.62), (0.43, 0.51),
        ],
        closed=True,
        samples=8,
    )
    return BodyModel(parts, flank, eye, nose, ear)


BODY = _build_body()
"""The leopard outline every pattern is drawn on."""
_PART_INDEX = {p.name: p.index for p in BODY.parts}


@dataclass(frozen=True)
class Pose:
    """How the articulated parts are turned in one photograph (radians, about each part's
    pivot, positive = clockwise on the image with y down).

    ``near_fore``, ``far_fore``, ``near_hind``, ``far_hind``: leg swing (walking: about ±0.25);
    ``tail``: tail swing (about ±0.35); ``head``: head raised (negative) or lowered (positive),
    about ±0.2. All zero is the neutral standing pose.
    """

    near_fore: float = 0.0
    far_fore: float = 0.0
    near_hind: float = 0.0
    far_hind: float = 0.0
    tail: float = 0.0
    head: float = 0.0

    def __post_init__(self):
        for name in ("near_fore", "far_fore", "near_hind", "far_hind", "tail", "head"):
            v = getattr(self, name)
            if not (math.isfinite(v) and -1.0 <= v <= 1.0):
                raise ValueError(f"Pose.{name} must be an angle in [-1, 1] radians, got {v!r}")

    def angle(self, part: str) -> float:
        """The angle of ``part`` (0 for the rigid body)."""
        return float(getattr(self, part, 0.0))

    @staticmethod
    def walking(phase: float, stride: float = 0.22, tail: float = 0.0, head: float = 0.0) -> Pose:
        """A walking pose: ``phase`` in [0, 1) of the gait cycle, ``stride`` the leg swing
        amplitude (radians, 0–0.4), ``tail`` and ``head`` as in the class."""
        if not (0.0 <= stride <= 0.4):
            raise ValueError(f"stride must be in [0, 0.4] radians, got {stride!r}")
        w = 2 * math.pi * phase
        # lateral-sequence walk: hind leg leads its fore leg by a quarter cycle
        return Pose(
            near_hind=stride * math.sin(w),
            near_fore=stride * math.sin(w - math.pi / 2),
            far_hind=stride * math.sin(w + math.pi),
            far_fore=stride * math.sin(w + math.pi / 2),
            tail=tail,
            head=head,
        )


def _rotate(points: np.ndarray, pivot: np.ndarray, angle: float) -> np.ndarray:
    if angle == 0.0:
        return points
    c, s = math.cos(angle), math.sin(angle)
    d = points - pivot
    return pivot + np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1)


# --------------------------------------------------------------------------------------------
# domain rasters (shared, built once)
# --------------------------------------------------------------------------------------------

_DOMAIN_RES = 400  # pixels per frame unit of the domain rasters


def _fill(mask: np.ndarray, polys, res: float, value: int = 255) -> None:
    for p in polys:  # one at a time: fillPoly fills a set of polygons even-odd
        pts = np.round(np.asarray(p) * res * _ONE).astype(np.int32)
        cv2.fillPoly(mask, [pts], value, lineType=cv2.LINE_8, shift=_SHIFT)


@functools.lru_cache(maxsize=1)
def _domains() -> dict:
    """Rasters of the sampling domains at ``_DOMAIN_RES``: part masks, the flank region and its
    distance transform (frame units), the dorso-ventral coordinate of the body."""
    h, w = int(FRAME_HEIGHT * _DOMAIN_RES), int(FRAME_WIDTH * _DOMAIN_RES)
    out = {}
    for p in BODY.parts:
        m = np.zeros((h, w), np.uint8)
        _fill(m, p.polygons, _DOMAIN_RES)
        out[p.name] = m > 0
    flank = np.zeros((h, w), np.uint8)
    _fill(flank, [BODY.flank], _DOMAIN_RES)
    out["flank"] = flank > 0
    out["flank_dist"] = cv2.distanceTransform(flank, cv2.DIST_L2, 5) / _DOMAIN_RES
    body = out["body"]
    rows = np.arange(h)[:, None]
    top = np.where(body.any(0), np.argmax(body, 0), 0)
    bottom = np.where(body.any(0), h - 1 - np.argmax(body[::-1], 0), 1)
    out["v"] = np.clip((rows - top) / np.maximum(bottom - top, 1), 0, 1)
    return out


def _lookup(raster: np.ndarray, pts: np.ndarray):
    ij = np.clip(np.round(pts * _DOMAIN_RES).astype(int), 0, None)
    i = np.minimum(ij[:, 1], raster.shape[0] - 1)
    j = np.minimum(ij[:, 0], raster.shape[1] - 1)
    return raster[i, j]


def _candidates(rng, domain: np.ndarray, n: int) -> np.ndarray:
    """About ``n`` uniform points inside the boolean domain raster (frame units): uniform in
    its bounding box, kept where the raster is true."""
    rows, cols = np.any(domain, axis=1), np.any(domain, axis=0)
    if not rows.any():
        return np.zeros((0, 2))
    r0, r1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    c0, c1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    frac = domain[r0:r1, c0:c1].mean()
    m = int(n / max(frac, 1e-3)) + 16
    pts = np.stack([rng.uniform(c0, c1, m), rng.uniform(r0, r1, m)], axis=1) / _DOMAIN_RES
    return pts[_lookup(domain, pts)][:n]


def _pack(pts: np.ndarray, radii: np.ndarray, gap: np.ndarray | float,
          fixed_pts: np.ndarray | None = None, fixed_radii: np.ndarray | None = None) -> np.ndarray:
    """Greedy random packing: visit the candidates in the given order and keep one when its disc
    (enlarged by its ``gap``) overlaps no disc kept before, nor a fixed one. Returns the kept
    indices."""
    n = len(pts)
    if n == 0:
        return np.zeros(0, int)
    gap = np.broadcast_to(np.asarray(gap, float), radii.shape)
    blocked = np.zeros(n, bool)
    tree = cKDTree(pts)
    reach = radii.max() + gap.max()
    if fixed_pts is not None and len(fixed_pts):
        lists = tree.query_ball_point(fixed_pts, fixed_radii + reach)
        lens = np.fromiter((len(x) for x in lists), int, len(lists))
        if lens.sum():
            j = np.concatenate([np.asarray(x, int) for x in lists])
            i = np.repeat(np.arange(len(fixed_pts)), lens)
            d = np.hypot(*(pts[j] - fixed_pts[i]).T)
            blocked[j[d < fixed_radii[i] + radii[j] + gap[j]]] = True
    kept = []
    for i in np.flatnonzero(~blocked):
        if blocked[i]:
            continue
        kept.append(i)
        near = np.asarray(tree.query_ball_point(pts[i], radii[i] + gap[i] + reach), int)
        d = np.hypot(*(pts[near] - pts[i]).T)
        blocked[near[d < radii[i] + radii[near] + np.maximum(gap[i], gap[near])]] = True
    return np.asarray(kept, int)


# --------------------------------------------------------------------------------------------
# spot shapes
# --------------------------------------------------------------------------------------------


def _blobs(rng, centres: np.ndarray, r: np.ndarray, aspect: np.ndarray, angle: np.ndarray,
           n: int = 14) -> np.ndarray:
    """Irregular solid spots, all at once: radius ``r`` modulated by harmonics 2–4, squeezed to
    ``aspect`` (≤ 1) across the direction ``angle``. Returns (m, n, 2) polygons."""
    m = len(centres)
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    k = np.arange(2, 5)
    amp = rng.uniform(0.0, 0.16, (m, 3)) / (k - 1) ** 0.7
    ph = rng.uniform(0, 2 * math.pi, (m, 3))
    rad = r[:, None] * (1 + (amp[:, :, None] * np.cos(k[None, :, None] * t + ph[:, :, None])).sum(1))
    x, y = rad * np.cos(t), rad * np.sin(t) * aspect[:, None]
    ca, sa = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return np.stack([centres[:, :1] + ca * x - sa * y, centres[:, 1:] + sa * x + ca * y], axis=2)


_ARC_SAMPLES = 10  # vertices along each edge of a rosette spot


def _rosette(rng, centre, ring: float):
    """Spots and centre polygon of one rosette of ring radius ``ring`` (frame units).

    Returns (spots (n, 2·_ARC_SAMPLES, 2), centre_polygon (28, 2), n_spots, angle,
    outer_radius)."""
    n_spots = int(rng.choice([3, 4, 5, 6], p=[0.12, 0.33, 0.35, 0.20]))
    angle = rng.uniform(0, math.pi)
    ecc = rng.uniform(0.0, 0.16)  # ring ellipticity
    h3, p3 = rng.uniform(0.0, 0.07), rng.uniform(0, 2 * math.pi)
    thick = ring * rng.uniform(0.36, 0.52)  # Amur: thick borders

    def radius(phi):
        return ring * (1 + ecc * np.cos(2 * (phi - angle)) + h3 * np.cos(3 * phi + p3))

    gap_total = 2 * math.pi * rng.uniform(0.10, 0.24)
    weights = rng.uniform(0.55, 1.45, n_spots)
    arcs = (2 * math.pi - gap_total) * weights / weights.sum()
    gaps_w = rng.uniform(0.3, 1.7, n_spots)
    gaps = gap_total * gaps_w / gaps_w.sum()
    start = rng.uniform(0, 2 * math.pi)
    phi0 = start + np.concatenate([[0.0], np.cumsum(arcs + gaps)[:-1]])
    width = rng.uniform(0.8, 1.2, n_spots)[:, None]
    bias = rng.uniform(-0.15, 0.25, n_spots)[:, None] * thick  # some spots bulge outwards
    freq = rng.uniform(1.5, 3.5, n_spots)[:, None]
    phase = rng.uniform(0, 2 * math.pi, n_spots)[:, None]
    s = np.linspace(0, 1, _ARC_SAMPLES)[None, :]
    phi = phi0[:, None] + arcs[:, None] * s
    prof = 0.42 + 0.58 * np.sin(math.pi * s) ** 0.55  # blunt ends, thick middle
    tw = thick * width * prof
    wob = 1 + 0.10 * np.sin(freq * math.pi * s + phase)
    rr = radius(phi) + bias
    r_out = rr + tw / 2 * wob
    r_in = np.maximum(rr - tw / 2 * (2 - wob), 0.25 * ring)
    rad = np.concatenate([r_out, r_in[:, ::-1]], axis=1)
    ang = np.concatenate([phi, phi[:, ::-1]], axis=1)
    spots = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=2) + centre
    t = np.linspace(0, 2 * math.pi, 28, endpoint=False)
    rc = radius(t) - thick * 0.3
    centre_poly = np.stack([rc * np.cos(t), rc * np.sin(t)], axis=1) + centre
    return spots, centre_poly, n_spots, angle, float(r_out.max())


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


# --------------------------------------------------------------------------------------------
# patterns
# --------------------------------------------------------------------------------------------


def _frozen(a, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class FlankPattern:
    """The spots of one flank, in the flank frame (see the module docstring).

    * ``pattern_id``: the animal's pattern id; ``side``: ``"left"`` or ``"right"``;
    * ``rosette_centres`` ((n, 2), frame units), ``rosette_radii`` (ring radius to the middle of
      the border), ``rosette_outer_radii`` (largest distance of a spot vertex from the centre),
      ``rosette_spot_counts`` (3–6), ``rosette_angles`` (orientation of the ring's long axis,
      radians in [0, π));
    * ``spot_vertices`` ((V, 2), frame units) and ``spot_starts`` ((m + 1,)): spot ``i`` is the
      closed polygon ``spot_vertices[spot_starts[i]:spot_starts[i + 1]]``; ``spot_part`` ((m,)):
      index of the body part it lies on (:data:`BODY` ``.parts``); ``spot_rosette`` ((m,)): the
      rosette it belongs to, −1 for a solid spot;
    * ``centre_vertices`` and ``centre_starts``: the rosette-centre polygons, one per rosette.

    Arrays are read-only. Two patterns are equal when all their arrays are.
    """

    pattern_id: int
    side: str
    rosette_centres: np.ndarray
    rosette_radii: np.ndarray
    rosette_outer_radii: np.ndarray
    rosette_spot_counts: np.ndarray
    rosette_angles: np.ndarray
    spot_vertices: np.ndarray
    spot_starts: np.ndarray
    spot_part: np.ndarray
    spot_rosette: np.ndarray
    centre_vertices: np.ndarray
    centre_starts: np.ndarray

    _ARRAYS = ("rosette_centres", "rosette_radii", "rosette_outer_radii", "rosette_spot_counts",
               "rosette_angles", "spot_vertices", "spot_starts", "spot_part", "spot_rosette",
               "centre_vertices", "centre_starts")

    def __eq__(self, other):
        if not isinstance(other, FlankPattern):
            return NotImplemented
        return (self.pattern_id == other.pattern_id and self.side == other.side
                and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in self._ARRAYS))

    def __hash__(self):
        return hash((self.pattern_id, self.side))

    @property
    def n_rosettes(self) -> int:
        return len(self.rosette_centres)

    @property
    def n_spots(self) -> int:
        return len(self.spot_part)

    def spots(self) -> list[np.ndarray]:
        """Every dark spot as a (k, 2) polygon in frame units."""
        s = self.spot_starts
        return [self.spot_vertices[s[i]:s[i + 1]] for i in range(len(s) - 1)]

    def centres(self) -> list[np.ndarray]:
        """Every rosette centre as a (k, 2) polygon in frame units."""
        s = self.centre_starts
        return [self.centre_vertices[s[i]:s[i + 1]] for i in range(len(s) - 1)]

    def render_mask(self, size: tuple[int, int] = (256, 512), pose: Pose | None = None,
                    supersample: int = 1) -> FlankMasks:
        """Rasterise this flank into the flank frame: see :meth:`CoatPattern.render_mask`."""
        return _render_mask(self, size, pose, supersample)


def _generate_flank(pattern_id: int, side: str) -> FlankPattern:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([pattern_id, SIDES.index(side)])))
    dom = _domains()
    spots: list[np.ndarray] = []
    spot_part: list[int] = []
    spot_ros: list[int] = []
    body_i = _PART_INDEX["body"]

    # --- rosettes on the flank region --------------------------------------------------------
    # Greedy random packing with the exact extent of each rosette: candidates in random order,
    # larger ones first; a candidate is built and kept when its disc (outer radius) lies inside
    # the flank region and clears every kept disc by a gap.
    pts = _candidates(rng, dom["flank"], 3000)
    dist = _lookup(dom["flank_dist"], pts)
    jitter = np.exp(np.clip(rng.normal(0, 0.13, len(pts)), -0.26, 0.26))
    ring = (0.015 + 0.018 * _smoothstep(dist / 0.10)) * jitter
    ok = ring * 1.15 <= dist  # no rosette is smaller than 1.15 times its ring radius
    pts, ring, dist = pts[ok], ring[ok], dist[ok]
    order = np.argsort(-(ring * np.exp(rng.normal(0, 0.3, len(ring)))), kind="stable")
    pts, ring, dist = pts[order], ring[order], dist[order]
    smallest = 1.15 * ring  # no rosette is smaller than this
    tree = cKDTree(pts)
    blocked = np.zeros(len(pts), bool)
    r_centres, r_ring, r_outer, r_count, r_angle, c_polys = [], [], [], [], [], []
    acc_c = np.zeros((0, 2))
    acc_r = np.zeros(0)
    for k in range(len(pts)):
        if blocked[k]:
            continue
        c, rk = pts[k], ring[k]
        s_k, cpoly, n, ang, outer = _rosette(rng, c, rk)
        if outer > dist[k]:
            continue
        if len(acc_c):
            gap_d = np.hypot(*(acc_c - c).T) - acc_r
            if (gap_d < outer + 0.10 * (outer + acc_r) + 0.004).any():
                continue
        # candidates that can no longer fit, even at their smallest
        near = np.asarray(tree.query_ball_point(c, 2.5 * outer + 0.01), int)
        d = np.hypot(*(pts[near] - c).T)
        blocked[near[d < outer + smallest[near] + 0.10 * (outer + smallest[near]) + 0.004]] = True
        idx = len(r_centres)
        for sp in s_k:
            spots.append(sp)
            spot_part.append(body_i)
            spot_ros.append(idx)
        r_centres.append(c)
        r_ring.append(rk)
        r_outer.append(outer)
        r_count.append(n)
        r_angle.append(ang)
        c_polys.append(cpoly)
        acc_c = np.vstack([acc_c, c])
        acc_r = np.append(acc_r, outer)
    r_centres_a = np.asarray(r_centres).reshape(-1, 2)
    r_outer_a = np.asarray(r_outer)

    # --- solid spots ------------------------------------------------------------------------
    placed_pts = [r_centres_a]
    placed_r = [r_outer_a]

    def solid(domain, n_cand, radius_fn, aspect_fn, angle_fn, part, keep=None, gapf=0.9):
        p = _candidates(rng, domain, n_cand)
        if len(p) == 0:
            return
        r = radius_fn(p) * np.exp(rng.normal(0, 0.18, len(p)))
        bound_r = r * 1.25
        fixed_p = np.vstack(placed_pts)
        fixed_r = np.concatenate(placed_r)
        kept_s = _pack(p, bound_r, gapf * bound_r + 0.004, fixed_p, fixed_r + 0.006)
        if keep is not None:
            kept_s = kept_s[rng.random(len(kept_s)) < keep(p[kept_s])]
        if len(kept_s) == 0:
            return
        polys = _blobs(rng, p[kept_s], r[kept_s], aspect_fn(p[kept_s]), angle_fn(p[kept_s]))
        spots.extend(polys)
        spot_part.extend([part] * len(kept_s))
        spot_ros.extend([-1] * len(kept_s))
        placed_pts.append(p[kept_s])
        placed_r.append(bound_r[kept_s])

    v_body = dom["v"]
    in_flank = dom["flank"]
    not_head = ~dom["head"]

    # spots between rosettes (few: Amur rosettes are widely spaced)
    solid(in_flank, 1500, lambda p: np.full(len(p), 0.0075), lambda p: rng.uniform(0.6, 1, len(p)),
          lambda p: rng.uniform(0, math.pi, len(p)), body_i, keep=lambda p: np.full(len(p), 0.35),
          gapf=1.6)

    # spine, belly and neck bands of the body
    def body_radius(p):
        v = _lookup(v_body, p)
        x = p[:, 0]
        neck = _smoothstep((x - 1.38) / 0.15)
        r = np.where(v < 0.3, 0.0105 + 0.006 * (v / 0.3), 0.013 + 0.008 * _smoothstep((v - 0.7) / 0.3))
        return r * (1 - 0.35 * neck)

    def body_aspect(p):
        v = _lookup(v_body, p)
        return np.where(v < 0.2, rng.uniform(0.35, 0.6, len(p)), rng.uniform(0.55, 1.0, len(p)))

    def body_angle(p):
        v = _lookup(v_body, p)
        return np.where(v < 0.2, rng.normal(0, 0.25, len(p)), rng.uniform(0, math.pi, len(p)))

    solid(dom["body"] & ~in_flank & not_head, 2500, body_radius, body_aspect, body_angle, body_i,
          gapf=0.8)

    # head: small dense spots (none on the muzzle)
    head = BODY.part("head")
    xx_all = np.arange(dom["head"].shape[1])[None, :] / _DOMAIN_RES
    solid(dom["head"] & (xx_all < 1.775), 800, lambda p: 0.0048 + 0.004 * _smoothstep((1.74 - p[:, 0]) / 0.15),
          lambda p: rng.uniform(0.6, 1.0, len(p)), lambda p: rng.uniform(0, math.pi, len(p)),
          head.index, gapf=0.9)

    # legs: spots shrink towards the paws; far legs too (their inner side)
    for name in ("near_fore", "near_hind", "far_fore", "far_hind"):
        part = BODY.part(name)
        d = dom[name].copy()
        yy = np.arange(d.shape[0])[:, None] / _DOMAIN_RES
        d &= yy < 0.885  # no spots on the paws
        # the body hides the top of every leg; spots go a little under it, so that a leg
        # swinging out from under the body shows spots, not bare fur
        inner = cv2.erode(dom["body"].astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
        d &= ~inner
        top = part.pivot[1]

        def leg_r(p, top=top):
            return 0.0115 - 0.0065 * _smoothstep((p[:, 1] - top) / (0.885 - top))

        solid(d, 900, leg_r, lambda p: rng.uniform(0.55, 1.0, len(p)),
              lambda p: rng.uniform(0, math.pi, len(p)), part.index, gapf=0.9)

    # tail: spots along it, a little larger
    tail = BODY.part("tail")
    solid(dom["tail"] & ~dom["body"], 900, lambda p: np.full(len(p), 0.0125),
          lambda p: rng.uniform(0.5, 0.9, len(p)), lambda p: rng.uniform(0, math.pi, len(p)),
          tail.index, gapf=0.8)

    lengths = np.array([len(s) for s in spots], int)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    c_lengths = np.array([len(c) for c in c_polys], int)
    c_starts = np.concatenate([[0], np.cumsum(c_lengths)])
    return FlankPattern(
        pattern_id=pattern_id,
        side=side,
        rosette_centres=_frozen(r_centres_a, float),
        rosette_radii=_frozen(r_ring, float),
        rosette_outer_radii=_frozen(r_outer_a, float),
        rosette_spot_counts=_frozen(r_count, np.int64),
        rosette_angles=_frozen(r_angle, float),
        spot_vertices=_frozen(np.vstack(spots), float),
        spot_starts=_frozen(starts, np.int64),
        spot_part=_frozen(spot_part, np.int64),
        spot_rosette=_frozen(spot_ros, np.int64),
        centre_vertices=_frozen(np.vstack(c_polys) if c_polys else np.zeros((0, 2)), float),
        centre_starts=_frozen(c_starts, np.int64),
    )


@dataclass(frozen=True, eq=False)
class CoatPattern:
    """The coat of one animal: ``left`` and ``right`` :class:`FlankPattern`, independent.

    ``pattern_id`` is the integer it was made from (:func:`coat_pattern`)."""

    pattern_id: int
    left: FlankPattern
    right: FlankPattern

    def __eq__(self, other):
        if not isinstance(other, CoatPattern):
            return NotImplemented
        return self.pattern_id == other.pattern_id and self.left == other.left and self.right == other.right

    def __hash__(self):
        return hash(self.pattern_id)

    def flank(self, side: str) -> FlankPattern:
        """The pattern of ``side`` (``"left"`` or ``"right"``)."""
        if side == "left":
            return self.left
        if side == "right":
            return self.right
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")

    def render_mask(self, side: str, size: tuple[int, int] = (256, 512), pose: Pose | None = None,
                    supersample: int = 1) -> FlankMasks:
        """Rasterise one flank into the flank frame.

        * ``side``: ``"left"`` or ``"right"``;
        * ``size``: (height, width) of the rasters in pixels (each 8–8192); the whole frame
          (``FRAME_WIDTH`` × ``FRAME_HEIGHT``) is mapped onto it, so use a 1:2 size to keep the
          aspect;
        * ``pose``: the articulated parts' pose (:class:`Pose`; default neutral);
        * ``supersample``: draw at this many times the size (1–4) and average down; polygons are
          anti-aliased with ``cv2.LINE_AA`` in any case.

        Returns :class:`FlankMasks`: float32 rasters in [0, 1] of the visible dark spots,
        rosette centres, the body silhouette and the visible flank region (parts drawn back to
        front, so a near leg hides the flank behind it). The frame is not mirrored: the head is
        at +x for both sides.
        """
        return _render_mask(self.flank(side), size, pose, supersample)


@dataclass(frozen=True, eq=False)
class FlankMasks:
    """Rasters of a flank in the flank frame (float32, [0, 1], shape (height, width)):
    ``spots`` (visible dark spots), ``centres`` (visible rosette centres), ``body`` (silhouette
    opacity), ``flank`` (visible flank region)."""

    spots: np.ndarray
    centres: np.ndarray
    body: np.ndarray
    flank: np.ndarray


@dataclass(frozen=True, eq=False)
class PartLayer:
    """One posed body part rasterised into a window of the frame raster.

    ``part``: the :class:`BodyPart`; ``y0, x0``: top-left pixel of the window; ``alpha``
    (opacity), ``spots``, ``centres``, ``flank`` (flank-region cover, body
    only), ``dist`` (distance inside the silhouette, frame units) and ``v`` (dorso-ventral
    position, 0 at the back, 1 at the belly: body only; along the part otherwise): float32
    arrays of the window's shape; ``extra`` maps feature names (``"eye", "nose", "ear"``) to
    rasters of head features (head only)."""

    part: BodyPart
    y0: int
    x0: int
    alpha: np.ndarray
    spots: np.ndarray
    centres: np.ndarray
    flank: np.ndarray
    dist: np.ndarray
    v: np.ndarray
    extra: dict = field(default_factory=dict)


def _to_int(poly: np.ndarray, scale: float, x0: int, y0: int) -> np.ndarray:
    return np.round((poly * scale - (x0, y0)) * _ONE).astype(np.int32)


def rasterise_parts(flank: FlankPattern, pose: Pose | None, scale: float,
                    shape: tuple[int, int] | None = None) -> list[PartLayer]:
    """Rasterise every body part of ``flank`` posed by ``pose`` at ``scale`` pixels per frame
    unit (4–4000); ``shape`` (height, width) of the frame raster defaults to the frame's extent.
    Returns one :class:`PartLayer` per part, in draw order (back to front), each cropped to its
    bounding box (anti-aliased with ``cv2.LINE_AA``)."""
    if not (4 <= scale <= 4000):
        raise ValueError(f"scale must be in [4, 4000] pixels per frame unit, got {scale!r}")
    pose = pose or Pose()
    if shape is None:
        shape = (int(math.ceil(FRAME_HEIGHT * scale)), int(math.ceil(FRAME_WIDTH * scale)))
    H, W = shape
    verts = flank.spot_vertices
    starts = flank.spot_starts
    per_vertex_part = np.repeat(flank.spot_part, np.diff(starts))
    layers = []
    for part in BODY.parts:
        ang = pose.angle(part.name)
        polys = [_rotate(p, part.pivot, ang) for p in part.polygons]
        allp = np.vstack(polys)
        x0 = max(int(math.floor(allp[:, 0].min() * scale)) - 2, 0)
        y0 = max(int(math.floor(allp[:, 1].min() * scale)) - 2, 0)
        x1 = min(int(math.ceil(allp[:, 0].max() * scale)) + 3, W)
        y1 = min(int(math.ceil(allp[:, 1].max() * scale)) + 3, H)
        if x1 <= x0 or y1 <= y0:
            continue
        h, w = y1 - y0, x1 - x0
        sil = np.zeros((h, w), np.uint8)
        for p in polys:  # one at a time: fillPoly fills a set of polygons even-odd
            cv2.fillPoly(sil, [_to_int(p, scale, x0, y0)], 255, cv2.LINE_AA, _SHIFT)
        alpha = sil.astype(np.float32) / 255.0
        yy = (np.arange(h, dtype=np.float32)[:, None] + y0 + 0.5) / scale
        xx = (np.arange(w, dtype=np.float32)[None, :] + x0 + 0.5) / scale
        c, s = math.cos(ang), math.sin(ang)
        axis = np.array([c * part.axis[0] - s * part.axis[1], s * part.axis[0] + c * part.axis[1]])
        along = (xx - part.pivot[0]) * axis[0] + (yy - part.pivot[1]) * axis[1]
        # spots of this part
        spot_l = np.zeros((h, w), np.uint8)
        sel = per_vertex_part == part.index
        if sel.any():
            pv = _rotate(verts[sel], part.pivot, ang)
            idx = np.nonzero(flank.spot_part == part.index)[0]
            lens = np.diff(starts)[idx]
            pv_int = _to_int(pv, scale, x0, y0)
            cv2.fillPoly(spot_l, np.split(pv_int, np.cumsum(lens)[:-1]), 255, cv2.LINE_AA, _SHIFT)
        spots = np.minimum(spot_l, sil).astype(np.float32) / 255.0
        centres = np.zeros((h, w), np.float32)
        flank_cover = np.zeros((h, w), np.float32)
        extra = {}
        if part.name == "body":
            cl = np.zeros((h, w), np.uint8)
            if len(flank.centre_starts) > 1:
                cv2.fillPoly(cl, np.split(_to_int(flank.centre_vertices, scale, x0, y0),
                                          flank.centre_starts[1:-1]), 255, cv2.LINE_AA, _SHIFT)
            centres = np.minimum(cl, sil).astype(np.float32) / 255.0
            fl = np.zeros((h, w), np.uint8)
            cv2.fillPoly(fl, [_to_int(BODY.flank, scale, x0, y0)], 255, cv2.LINE_AA, _SHIFT)
            flank_cover = np.minimum(fl, sil).astype(np.float32) / 255.0
            top = np.argmax(sil > 127, axis=0)
            bottom = h - 1 - np.argmax(sil[::-1] > 127, axis=0)
            v = np.clip((np.arange(h)[:, None] - top) / np.maximum(bottom - top, 1), 0, 1).astype(np.float32)
        else:
            length = max(float(along.max()), 1e-6)
            v = np.clip(along / length, 0, 1).astype(np.float32)
        if part.name == "head":
            for key in ("eye", "nose", "ear"):
                m = np.zeros((h, w), np.uint8)
                poly = _rotate(getattr(BODY, key), part.pivot, ang)
                cv2.fillPoly(m, [_to_int(poly, scale, x0, y0)], 255, cv2.LINE_AA, _SHIFT)
                extra[key] = m.astype(np.float32) / 255.0
        dist = cv2.distanceTransform((sil > 127).astype(np.uint8), cv2.DIST_L2, 3) / scale
        layers.append(PartLayer(part, y0, x0, alpha, spots, centres, flank_cover,
                                dist.astype(np.float32), v, extra))
    return layers


def _render_mask(flank: FlankPattern, size, pose, supersample) -> FlankMasks:
    if isinstance(size, (int, np.integer)) or len(size) != 2:
        raise ValueError(f"size must be (height, width) in pixels, got {size!r}")
    H, W = int(size[0]), int(size[1])
    if not (8 <= H <= 8192 and 8 <= W <= 8192):
        raise ValueError(f"size must be (height, width), each in [8, 8192] pixels, got {size!r}")
    if supersample not in (1, 2, 3, 4):
        raise ValueError(f"supersample must be 1, 2, 3 or 4, got {supersample!r}")
    ss = supersample
    sx, sy = W * ss / FRAME_WIDTH, H * ss / FRAME_HEIGHT
    # anisotropic size: rasterise at the larger scale, then resize to (H, W)
    scale = max(sx, sy)
    shape = (int(math.ceil(FRAME_HEIGHT * scale)), int(math.ceil(FRAME_WIDTH * scale)))
    out = {k: np.zeros(shape, np.float32) for k in ("spots", "centres", "body", "flank")}
    for layer in rasterise_parts(flank, pose, scale, shape):
        a = layer.alpha
        win = (slice(layer.y0, layer.y0 + a.shape[0]), slice(layer.x0, layer.x0 + a.shape[1]))
        for key, val in (("spots", layer.spots), ("centres", layer.centres), ("flank", layer.flank)):
            out[key][win] = out[key][win] * (1 - a) + val * a
        out["body"][win] = out["body"][win] * (1 - a) + a
    res = {k: cv2.resize(v, (W, H), interpolation=cv2.INTER_AREA) for k, v in out.items()}
    return FlankMasks(**{k: np.clip(v, 0, 1) for k, v in res.items()})


@functools.lru_cache(maxsize=256)
def _cached(pattern_id: int) -> CoatPattern:
    return CoatPattern(pattern_id, _generate_flank(pattern_id, "left"), _generate_flank(pattern_id, "right"))


def coat_pattern(pattern_id: int) -> CoatPattern:
    """The coat pattern of ``pattern_id`` (an integer in [0, 2**63 − 1]): the same on every call
    and every machine. Left and right flanks are drawn from independent generators seeded with
    ``SeedSequence([pattern_id, 0])`` and ``SeedSequence([pattern_id, 1])``."""
    if isinstance(pattern_id, bool) or not isinstance(pattern_id, (int, np.integer)):
        raise ValueError(f"pattern_id must be an integer in [0, 2**63 - 1], got {pattern_id!r}")
    pid = int(pattern_id)
    if not (0 <= pid < 2**63):
        raise ValueError(f"pattern_id must be an integer in [0, 2**63 - 1], got {pattern_id!r}")
    return _cached(pid)
