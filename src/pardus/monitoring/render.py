# SPDX-License-Identifier: GPL-3.0-or-later
"""Camera-trap photographs of a leopard flank: the conditions model and the renderer.

:func:`render` draws the image a camera trap takes of one flank of a :class:`CoatPattern` under
:class:`CameraConditions`; :func:`sample_conditions` draws realistic conditions. The matcher
that identifies individuals from these images must work on real photographs, so the images vary
the way camera-trap images vary, and nothing in them identifies an individual except its coat
pattern: every animal has the same outline and size (:data:`pardus.monitoring.coat.BODY`), and
body colour, rosette darkness, fur texture, pose, background, vegetation and lighting are drawn
per image from the conditions (``CameraConditions.seed`` for the random texture), never from
the individual.

How an image is made
--------------------
1. **The animal in the flank frame.** The flank's parts are posed (gait phase and stride of the
   legs, tail swing, head angle) and rasterised, anti-aliased, at about 1.3 times the image's
   resolution; each part gets its ground colour (darker golden along the back, pale on the
   flank, white on the belly; paler in a winter coat), rounded shading, the slightly darker
   rosette centres, the dark spots and a fur texture (fine streaked noise along the hair).
2. **Viewpoint.** A pinhole camera with a 50° horizontal field of view sees the flank plane
   turned by ``yaw`` (about the vertical) and ``pitch``, at the distance that makes the frame
   ``scale`` image widths wide, rolled by ``roll`` and centred at (``centre_x``, ``centre_y``):
   a homography. On top of it a smooth random displacement field of amplitude ``bend`` (frame
   units; sums of three long-wave sines) bends the body, so that two photographs of one flank
   are not related by a homography, as on a real, moving animal. A left flank is seen with the
   head to the left, a right flank with the head to the right.
3. **Scene.** A random forest scene behind the animal: the ground plane seen in perspective
   from a camera 0.4–0.7 m above it (leaf litter, grass or snow), a wall of undergrowth and
   tree trunks at their distances, and a shadow under the animal in sunlight; the amount of
   clutter follows ``clutter``. The animal is blurred along ``motion_angle`` by
   ``motion_length`` (it moves, the scene does not) and composited.
4. **Occlusion.** Grass blades, branches and leaves close to the lens are drawn in front until
   they cover the requested fraction ``occlusion`` of the visible flank (measured on the
   rendered flank mask); they are a little out of focus.
5. **Light.** By day: colour, dappled sunlight (``sun``), colour temperature, mild vignetting.
   At night: an infrared flash, so the image is grey (equal channels) with the light falling
   off with distance squared from the lens (near vegetation glares, the background is dark) and
   radially (``flash_falloff``); the camera exposes for the animal. Then exposure
   (``exposure`` EV), contrast (``contrast``; low contrast also adds a veil), defocus blur
   (``defocus``), sensor noise (``noise``, signal dependent) and an optional information strip
   (camera, date, time, temperature: random per image) like the one camera traps print.
6. JPEG compression at ``jpeg_quality`` when asked (:func:`encode_jpeg`).

Pixel quantities (``defocus``, ``motion_length``) are given for an image 640 pixels wide and
scale with the width. A 640×480 image takes about 0.25 s on one core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import numpy as np

from .coat import BODY, FRAME_HEIGHT, FRAME_WIDTH, CoatPattern, FlankPattern, Pose, rasterise_parts

__all__ = [
    "CameraConditions",
    "Rendered",
    "DIFFICULTIES",
    "OCCLUDERS",
    "sample_conditions",
    "render",
    "render_layers",
    "encode_jpeg",
    "decode_jpeg",
]

DIFFICULTIES = ("easy", "benchmark", "survey", "hard")
"""Condition distributions of :func:`sample_conditions`."""
OCCLUDERS = ("grass", "branches", "leaves", "mixed")
"""Kinds of vegetation drawn in front of the animal."""

_HFOV = math.radians(50.0)  # horizontal field of view of the camera
_CENTRE = np.array([1.0, 0.55])  # the point of the flank frame the camera aims at
_REF_WIDTH = 640.0  # pixel quantities of the conditions are for this image width


@dataclass(frozen=True)
class CameraConditions:
    """Everything about one camera-trap photograph except the animal's coat pattern.

    Viewpoint and pose
        ``yaw``: turn of the flank plane about the vertical, degrees in [−60, 60] (0: the camera
        is square to the flank); ``pitch``: tilt about the horizontal, degrees in [−30, 30];
        ``roll``: in-plane rotation of the image, degrees in [−45, 45]; ``scale``: width of the
        flank frame (nose to tail, about 2 m) as a fraction of the image width, in [0.2, 2.5]
        (above 1 the animal does not fit); ``centre_x``, ``centre_y``: where the middle of the
        trunk appears, as fractions of the image width and height, in [−0.5, 1.5] (partial
        framing when the animal reaches past an edge); ``bend``: amplitude of the smooth
        non-rigid warp, frame units (≈ metres) in [0, 0.08]; ``gait``: phase of the walk in
        [0, 1); ``stride``: leg swing, radians in [0, 0.4]; ``tail``: tail swing, radians in
        [−0.6, 0.6]; ``head``: head lowered (+) or raised (−), radians in [−0.3, 0.3].
    Light
        ``night``: infrared flash photograph (grey) instead of a daylight colour one;
        ``exposure``: exposure offset in EV (stops), in [−3, 3]; ``contrast``: contrast factor in
        [0.15, 1.8] (1 normal, below 0.6 washed out); ``flash_falloff``: strength of the flash's
        radial fall-off at night and of the vignetting, in [0, 1]; ``sun``: strength of dappled
        sunlight by day, in [0, 1]; ``colour_temperature``: white balance from cool (−1) to warm
        (+1).
    Coat appearance (lighting and fur state of this photograph, never of the individual)
        ``coat_warmth``: 0 pale winter coat to 1 rich golden summer coat; ``coat_lightness``:
        lightness offset in [−0.3, 0.3]; ``rosette_darkness``: opacity of the dark spots in
        [0.3, 1]; ``fur``: strength of the fur texture in [0, 1].
    Optics and sensor
        ``defocus``: Gaussian blur σ in pixels (at 640 pixels wide), in [0, 12];
        ``motion_length``: length of the motion blur of the animal in pixels (at 640 wide), in
        [0, 80]; ``motion_angle``: its direction, degrees in [0, 180); ``noise``: sensor noise
        standard deviation in 8-bit grey levels at mid grey, in [0, 40]; ``jpeg_quality``: JPEG
        quality of the saved file, integer in [5, 100].
    Scene
        ``occlusion``: fraction of the visible flank covered by vegetation in front, in
        [0, 0.8]; ``occluder``: its kind, one of :data:`OCCLUDERS`; ``clutter``: density of the
        background clutter in [0, 1]; ``snow``: snow on the ground (winter); ``info_strip``: the
        camera prints an information strip along the bottom.
    ``seed``
        Integer in [0, 2**63 − 1] for the random texture of this image (background, fur,
        vegetation layout, warp field, strip text): the same conditions always give the same
        image.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 0.9
    centre_x: float = 0.5
    centre_y: float = 0.5
    bend: float = 0.015
    gait: float = 0.0
    stride: float = 0.2
    tail: float = 0.0
    head: float = 0.0
    night: bool = False
    exposure: float = 0.0
    contrast: float = 1.0
    flash_falloff: float = 0.5
    sun: float = 0.3
    colour_temperature: float = 0.0
    coat_warmth: float = 0.5
    coat_lightness: float = 0.0
    rosette_darkness: float = 0.9
    fur: float = 0.5
    defocus: float = 0.5
    motion_length: float = 0.0
    motion_angle: float = 0.0
    noise: float = 3.0
    jpeg_quality: int = 85
    occlusion: float = 0.0
    occluder: str = "grass"
    clutter: float = 0.5
    snow: bool = False
    info_strip: bool = False
    seed: int = 0

    _RANGES = {
        "yaw": (-60.0, 60.0), "pitch": (-30.0, 30.0), "roll": (-45.0, 45.0), "scale": (0.2, 2.5),
        "centre_x": (-0.5, 1.5), "centre_y": (-0.5, 1.5), "bend": (0.0, 0.08), "stride": (0.0, 0.4),
        "tail": (-0.6, 0.6), "head": (-0.3, 0.3), "exposure": (-3.0, 3.0), "contrast": (0.15, 1.8),
        "flash_falloff": (0.0, 1.0), "sun": (0.0, 1.0), "colour_temperature": (-1.0, 1.0),
        "coat_warmth": (0.0, 1.0), "coat_lightness": (-0.3, 0.3), "rosette_darkness": (0.3, 1.0),
        "fur": (0.0, 1.0), "defocus": (0.0, 12.0), "motion_length": (0.0, 80.0),
        "noise": (0.0, 40.0), "occlusion": (0.0, 0.8), "clutter": (0.0, 1.0),
    }

    def __post_init__(self):
        for name, (lo, hi) in self._RANGES.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"CameraConditions.{name} must be a number in [{lo}, {hi}], got {v!r}")
            object.__setattr__(self, name, float(v))
        for name, (lo, hi) in (("gait", (0.0, 1.0)), ("motion_angle", (0.0, 180.0))):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not (math.isfinite(v) and lo <= v < hi):
                raise ValueError(f"CameraConditions.{name} must be a number in [{lo}, {hi}), got {v!r}")
            object.__setattr__(self, name, float(v))
        for name in ("night", "snow", "info_strip"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"CameraConditions.{name} must be True or False, got {v!r}")
            object.__setattr__(self, name, bool(v))
        q = self.jpeg_quality
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or not (5 <= q <= 100):
            raise ValueError(f"CameraConditions.jpeg_quality must be an integer in [5, 100], got {q!r}")
        object.__setattr__(self, "jpeg_quality", int(q))
        if self.occluder not in OCCLUDERS:
            raise ValueError(f"CameraConditions.occluder must be one of {OCCLUDERS}, got {self.occluder!r}")
        s = self.seed
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not (0 <= s < 2**63):
            raise ValueError(f"CameraConditions.seed must be an integer in [0, 2**63 - 1], got {s!r}")
        object.__setattr__(self, "seed", int(s))

    def as_dict(self) -> dict:
        """The conditions as a plain dict (field name → value), in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes) -> CameraConditions:
        """A copy with some fields changed (validated)."""
        d = self.as_dict()
        for k in changes:
            if k not in d:
                raise ValueError(f"CameraConditions has no field {k!r}; fields: {list(d)}")
        d.update(changes)
        return CameraConditions(**d)

    @property
    def pose(self) -> Pose:
        """The pose of the articulated parts (:class:`pardus.monitoring.coat.Pose`)."""
        return Pose.walking(self.gait, self.stride, tail=self.tail, head=self.head)


# --------------------------------------------------------------------------------------------
# sampling conditions
# --------------------------------------------------------------------------------------------


def _clip(x, lo, hi):
    return float(min(max(x, lo), hi))


def sample_conditions(rng: np.random.Generator, difficulty: str = "benchmark") -> CameraConditions:
    """Draw the conditions of one photograph.

    * ``rng``: a :class:`numpy.random.Generator` (its state advances);
    * ``difficulty``: one of :data:`DIFFICULTIES`:

      - ``"easy"``: daylight, near square-on views, little blur or noise, no occlusion;
      - ``"benchmark"``: most images moderate (yaw within about ±20°, light blur, a little
        vegetation), a minority hard: about 30 % night infrared, 10 % strong motion or defocus
        blur, 12 % with 30–40 % of the flank occluded, 10 % low contrast, 10 % partly outside the
        frame;
      - ``"survey"``: as a camera-trap survey sees animals passing: like ``"benchmark"`` with
        more night images (45 %), more distant animals and more partial framing;
      - ``"hard"``: every difficulty more often and stronger.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    u = rng.random
    easy, hard, survey = difficulty == "easy", difficulty == "hard", difficulty == "survey"
    p_night = {"easy": 0.0, "benchmark": 0.3, "survey": 0.45, "hard": 0.5}[difficulty]
    night = bool(u() < p_night)
    spread = 0.5 if easy else (1.5 if hard else 1.0)
    yaw = _clip(rng.normal(0, 12 * spread), -45, 45)
    pitch = _clip(rng.normal(0, 4 * spread), -20, 20)
    roll = _clip(rng.normal(0, 3 * spread), -20, 20)
    if easy:
        scale = rng.uniform(0.8, 1.0)
    elif survey:
        scale = math.exp(rng.uniform(math.log(0.5), math.log(1.2)))
    elif hard:
        scale = math.exp(rng.uniform(math.log(0.45), math.log(1.4)))
    else:
        scale = math.exp(rng.uniform(math.log(0.7), math.log(1.2)))
    cx = rng.normal(0.5, 0.05)
    cy = rng.normal(0.5, 0.04)
    p_partial = {"easy": 0.0, "benchmark": 0.10, "survey": 0.25, "hard": 0.25}[difficulty]
    if u() < p_partial:  # part of the animal outside the frame
        out = rng.uniform(0.1, 0.3) * scale  # image widths of the frame outside
        side = rng.choice([-1.0, 1.0])
        cx = 0.5 + side * (0.5 - 0.5 * scale + out) if scale < 1 else 0.5 + side * out
        cx = _clip(cx, 0.05, 0.95)
    cx = _clip(cx, -0.5, 1.5)
    bend = rng.uniform(0.005, 0.02) if not hard else rng.uniform(0.01, 0.035)
    exposure = _clip(rng.normal(0, 0.3 * spread), -1.5, 1.5)
    contrast = rng.uniform(0.85, 1.15)
    if not easy and u() < (0.2 if hard else 0.1):
        contrast = rng.uniform(0.35, 0.6)
    defocus = rng.uniform(0.0, 1.0)
    motion = rng.uniform(0.0, 6.0 if night else 2.5)
    if not easy and u() < (0.2 if hard else 0.1):  # strong blur
        if u() < 0.6:
            motion = rng.uniform(10.0, 22.0)
        else:
            defocus = rng.uniform(2.0, 3.5)
    noise = rng.uniform(4.0, 10.0) if night else rng.uniform(1.0, 4.0)
    occlusion = 0.0
    r = u()
    if not easy:
        p_heavy = 0.25 if hard else 0.12
        if r < p_heavy:
            occlusion = rng.uniform(0.30, 0.40)
        elif r < p_heavy + 0.35:
            occlusion = rng.uniform(0.03, 0.2)
    snow = bool(u() < 0.35)
    return CameraConditions(
        yaw=yaw, pitch=pitch, roll=roll, scale=float(scale), centre_x=float(cx),
        centre_y=_clip(cy, 0.3, 0.7), bend=float(bend), gait=float(u()),
        stride=float(rng.uniform(0.05, 0.3)), tail=float(rng.uniform(-0.4, 0.4)),
        head=float(rng.uniform(-0.15, 0.2)), night=night, exposure=exposure,
        contrast=float(contrast), flash_falloff=float(rng.uniform(0.3, 0.9)),
        sun=float(rng.uniform(0.0, 0.8)), colour_temperature=float(rng.uniform(-0.6, 0.6)),
        coat_warmth=float(rng.uniform(0.0, 0.5) if snow else rng.uniform(0.2, 1.0)),
        coat_lightness=float(rng.uniform(-0.12, 0.12)),
        rosette_darkness=float(rng.uniform(0.75, 0.98)), fur=float(rng.uniform(0.3, 0.9)),
        defocus=float(defocus), motion_length=float(motion),
        motion_angle=float(rng.uniform(0, 180) % 180.0 if u() < 0.3 else rng.normal(0, 12) % 180.0),
        noise=float(noise), jpeg_quality=int(rng.integers(60, 96)), occlusion=float(occlusion),
        occluder=str(rng.choice(OCCLUDERS, p=[0.4, 0.25, 0.15, 0.2])),
        clutter=float(rng.uniform(0.2, 1.0)), snow=snow, info_strip=bool(u() < 0.6),
        seed=int(rng.integers(0, 2**63 - 1)),
    )


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _fractal(rng, shape, octaves=(4, 8, 16, 32, 64), falloff=0.6) -> np.ndarray:
    """Smooth fractal noise of ``shape`` (zero mean, unit-ish spread), sums of resized random
    grids of ``octaves`` cells across."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for n in octaves:
        gh = max(2, int(round(n * h / max(h, w))) + 1)
        gw = max(2, int(round(n * w / max(h, w))) + 1)
        g = rng.standard_normal((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp * amp
        amp *= falloff
    return out / math.sqrt(total)


def _mix(a, b, t):
    return a + (b - a) * t


def _line_kernel(length: float, angle_deg: float) -> np.ndarray:
    k = int(math.ceil(length)) | 1
    k = max(k, 3)
    ker = np.zeros((k, k), np.float32)
    c = (k - 1) / 2
    dx = math.cos(math.radians(angle_deg)) * length / 2
    dy = math.sin(math.radians(angle_deg)) * length / 2
    s = 16
    cv2.line(ker, (int(round((c - dx) * s)), int(round((c - dy) * s))),
             (int(round((c + dx) * s)), int(round((c + dy) * s))), 1.0, 1, cv2.LINE_AA, 4)
    tot = ker.sum()
    if tot <= 0:
        ker[int(c), int(c)] = 1.0
        tot = 1.0
    return ker / tot


def _poly_int(poly: np.ndarray) -> np.ndarray:
    return np.round(poly * 16).astype(np.int32)


def _fill(img, poly, colour):
    cv2.fillPoly(img, [_poly_int(poly)], colour, cv2.LINE_AA, 4)


def _blade(base, tip, width, bend, n=9):
    """Polygon of a tapering curved blade from ``base`` to ``tip`` (pixels)."""
    base, tip = np.asarray(base, float), np.asarray(tip, float)
    t = np.linspace(0, 1, n)[:, None]
    d = tip - base
    nrm = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    c = base + d * t + nrm * (bend * np.sin(math.pi * t * 0.9) * np.hypot(*d))
    w = width * (1 - 0.85 * t[:, 0] ** 1.3)
    g = np.gradient(c, axis=0)
    g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-9
    nn = np.stack([-g[:, 1], g[:, 0]], axis=1)
    return np.vstack([c + nn * (w[:, None] / 2), (c - nn * (w[:, None] / 2))[::-1]])


# --------------------------------------------------------------------------------------------
# the animal in the flank frame
# --------------------------------------------------------------------------------------------


def _coat_colours(cond: CameraConditions):
    """Ground colours (BGR, 0–1) of back, flank and belly for this photograph."""
    w = cond.coat_warmth
    flank = _mix(np.array([0.56, 0.76, 0.86]), np.array([0.30, 0.58, 0.84]), w)  # pale cream → gold
    back = _mix(np.array([0.42, 0.60, 0.74]), np.array([0.18, 0.42, 0.70]), w)
    belly = np.array([0.86, 0.90, 0.92])
    lift = 1.0 + cond.coat_lightness
    return back * lift, flank * lift, belly * lift


def _animal_texture(flank: FlankPattern, cond: CameraConditions, scale: float, rng):
    """Colour (h, w, 3) and layers (alpha, visible flank, visible spots) of the posed animal in
    the flank frame at ``scale`` pixels per frame unit."""
    shape = (int(math.ceil(FRAME_HEIGHT * scale)), int(math.ceil(FRAME_WIDTH * scale)))
    h, w = shape
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    fl = np.zeros((h, w), np.float32)
    sp = np.zeros((h, w), np.float32)
    back, mid, belly = (c.astype(np.float32) for c in _coat_colours(cond))
    spot_col = np.array([0.055, 0.06, 0.075], np.float32) * (1 + 0.5 * cond.coat_lightness)
    dark = cond.rosette_darkness
    # fur: fine noise streaked along the hair (down and a little backwards on the flank)
    fur_n = rng.standard_normal((h, w)).astype(np.float32)
    hair = max(3.0, 0.012 * scale)
    fur_n = cv2.filter2D(fur_n, -1, _line_kernel(hair, 80.0 + rng.uniform(-15, 15)))
    fur_n = fur_n / (fur_n.std() + 1e-6)
    fur_big = _fractal(rng, (h, w), octaves=(12, 24, 48), falloff=0.7)
    thick = {"body": 0.11, "head": 0.06, "tail": 0.03}
    for layer in rasterise_parts(flank, cond.pose, scale, shape):
        a = layer.alpha
        hh, ww = a.shape
        win = (slice(layer.y0, layer.y0 + hh), slice(layer.x0, layer.x0 + ww))
        v = layer.v[..., None]
        name = layer.part.name
        if name == "body":
            g = _mix(back, mid, _smoothstep(v / 0.4))
            g = _mix(g, belly, _smoothstep((v - 0.74) / 0.26))
            # a rounded trunk lit from above: brightest just below the back, the belly in shade
            light = 1.05 - 0.35 * _smoothstep((v - 0.3) / 0.7) - 0.1 * _smoothstep((0.15 - v) / 0.15)
        elif name == "head":
            g = _mix(mid, back, 0.3) + np.zeros_like(v)
            light = 1.0
        elif name == "tail":
            g = _mix(mid, back, 0.2) + np.zeros_like(v)
            light = 1.0
        else:  # legs: paler towards the paws, the upper leg in the belly's shade
            g = _mix(mid, belly, 0.15 + 0.35 * v)
            light = 0.8 + 0.2 * _smoothstep(v / 0.5)
        d0 = thick.get(name, 0.035)
        round_ = 0.7 + 0.3 * _smoothstep(layer.dist / d0)[..., None]
        col = g * round_ * (light * layer.part.shade)
        c = layer.centres[..., None]
        col = col * (1 - c * np.array([0.34, 0.26, 0.16], np.float32))  # darker, warmer centres
        s = layer.spots[..., None] * dark
        col = col * (1 - s) + spot_col * s
        if name == "head":
            eye = layer.extra["eye"][..., None]
            col = col * (1 - eye) + np.array([0.05, 0.16, 0.22], np.float32) * eye
            nose = layer.extra["nose"][..., None]
            col = col * (1 - nose) + np.array([0.22, 0.25, 0.38], np.float32) * nose
            ear = layer.extra["ear"][..., None] * 0.7
            col = col * (1 - ear) + np.array([0.10, 0.11, 0.13], np.float32) * ear
        aa = a[..., None]
        colour[win] = colour[win] * (1 - aa) + col * aa
        alpha[win] = alpha[win] * (1 - a) + a
        fl[win] = fl[win] * (1 - a) + layer.flank * a
        sp[win] = sp[win] * (1 - a) + layer.spots * a
    fur = cond.fur
    colour *= (1 + (0.10 * fur) * fur_n + 0.06 * fur_big)[..., None]
    # ragged spot edges: the fur breaks them up
    edge = np.clip(sp * (1 - sp) * 4, 0, 1)
    colour *= (1 + 0.25 * fur * edge * fur_n)[..., None]
    # soft, furry silhouette
    alpha = np.clip(alpha + 0.35 * (alpha * (1 - alpha)) * 4 * fur_n * fur, 0, 1)
    return np.clip(colour, 0, 1.2), alpha, fl, sp


# --------------------------------------------------------------------------------------------
# viewpoint
# --------------------------------------------------------------------------------------------


def _homography(cond: CameraConditions, side: str, size) -> tuple[np.ndarray, float, float]:
    """The homography from the flank frame (units) to image pixels, the camera's focal length in
    pixels and the distance of the animal (frame units)."""
    H, W = size
    f = (W / 2) / math.tan(_HFOV / 2)
    z0 = f * FRAME_WIDTH / (cond.scale * W)
    mirror = -1.0 if side == "left" else 1.0
    M = np.array([[mirror, 0, -mirror * _CENTRE[0]], [0, 1, -_CENTRE[1]], [0, 0, 1]])
    y, p = math.radians(cond.yaw), math.radians(cond.pitch)
    Ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    Rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    R = Rx @ Ry
    P = np.column_stack([R[:, 0], R[:, 1], [0, 0, z0]])
    K = np.diag([f, f, 1.0])
    r = math.radians(cond.roll)
    Rr = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    T = np.array([[1, 0, cond.centre_x * W], [0, 1, cond.centre_y * H], [0, 0, 1]])
    return T @ Rr @ K @ P @ M, f, z0


def _project(Hm, pts):
    q = np.column_stack([pts, np.ones(len(pts))]) @ Hm.T
    return q[:, :2] / q[:, 2:3]


def _warp_maps(Hm, size, cond: CameraConditions, rng, tex_scale: float):
    """Remap tables from image pixels into the texture (pixels of the flank-frame raster)."""
    H, W = size
    Hi = np.linalg.inv(Hm)
    xs = np.arange(W, dtype=np.float64)[None, :]
    ys = np.arange(H, dtype=np.float64)[:, None]
    den = Hi[2, 0] * xs + Hi[2, 1] * ys + Hi[2, 2]
    qx = (Hi[0, 0] * xs + Hi[0, 1] * ys + Hi[0, 2]) / den
    qy = (Hi[1, 0] * xs + Hi[1, 1] * ys + Hi[1, 2]) / den
    # smooth non-rigid bending: three long-wave sine modes, total amplitude ``bend``
    if cond.bend > 0:
        dx = np.zeros_like(qx)
        dy = np.zeros_like(qy)
        amps = rng.uniform(0.5, 1.0, 3)
        amps *= cond.bend / amps.sum()
        for a in amps:
            lam = rng.uniform(0.5, 1.4)
            th = rng.uniform(0, 2 * math.pi)
            kx, ky = math.cos(th) * 2 * math.pi / lam, math.sin(th) * 2 * math.pi / lam
            ph = rng.uniform(0, 2 * math.pi)
            dirn = rng.uniform(0, 2 * math.pi)
            wave = a * np.sin(kx * qx + ky * qy + ph)
            dx += wave * math.cos(dirn)
            dy += wave * math.sin(dirn)
        qx = qx + dx
        qy = qy + dy
    bad = ~np.isfinite(qx) | ~np.isfinite(qy) | (den <= 0)
    mx = (qx * tex_scale - 0.5).astype(np.float32)
    my = (qy * tex_scale - 0.5).astype(np.float32)
    mx[bad] = -10.0
    my[bad] = -10.0
    return mx, my


# --------------------------------------------------------------------------------------------
# the scene
# --------------------------------------------------------------------------------------------


_LITTER = np.array([[0.12, 0.22, 0.34], [0.14, 0.29, 0.44], [0.09, 0.17, 0.26], [0.13, 0.33, 0.52],
                    [0.20, 0.30, 0.36], [0.10, 0.25, 0.30]], np.float32)
_GREEN = np.array([[0.14, 0.40, 0.26], [0.10, 0.30, 0.18], [0.20, 0.48, 0.34], [0.12, 0.36, 0.30],
                   [0.22, 0.42, 0.40]], np.float32)
_STRAW = np.array([[0.42, 0.62, 0.72], [0.35, 0.52, 0.62], [0.50, 0.66, 0.74], [0.30, 0.45, 0.55]],
                  np.float32)
_BARK = np.array([[0.28, 0.30, 0.33], [0.20, 0.23, 0.26], [0.35, 0.36, 0.37], [0.24, 0.28, 0.34]],
                 np.float32)


def _ground_texture(rng, n: int, snow: bool, green: bool, clutter: float) -> np.ndarray:
    """Albedo (n, n, 3) of 6 m × 6 m of forest floor (leaf litter, grass, or snow)."""
    base = np.array([0.93, 0.92, 0.90] if snow else ([0.14, 0.30, 0.32] if green else [0.13, 0.24, 0.34]),
                    np.float32)
    tex = np.empty((n, n, 3), np.float32)
    tex[:] = base
    tex *= (1 + 0.18 * _fractal(rng, (n, n), (6, 12, 24, 48, 96)))[..., None]
    k = int(400 + 2600 * clutter) if not snow else int(60 + 400 * clutter)
    cx = rng.uniform(0, n, k)
    cy = rng.uniform(0, n, k)
    ax = rng.uniform(2.0, 7.0, k)
    ay = ax * rng.uniform(0.35, 0.8, k)
    ang = rng.uniform(0, 180, k)
    pal = _GREEN if green and not snow else _LITTER
    cols = pal[rng.integers(0, len(pal), k)] * rng.uniform(0.7, 1.3, (k, 1)).astype(np.float32)
    for i in range(k):
        cv2.ellipse(tex, ((float(cx[i]), float(cy[i])), (float(ax[i] * 2), float(ay[i] * 2)), float(ang[i])),
                    cols[i].tolist(), -1, cv2.LINE_AA)
    if snow:
        tex = cv2.GaussianBlur(tex, (0, 0), 1.2)
        tex = _mix(tex, base, 0.6 * (1 - _smoothstep(_fractal(rng, (n, n), (5, 10, 20)) + 0.3))[..., None])
    # twigs
    m = int(30 + 120 * clutter)
    for _ in range(m):
        x0, y0 = rng.uniform(0, n, 2)
        a = rng.uniform(0, math.pi)
        ln = rng.uniform(8, 40)
        col = (_BARK[rng.integers(0, len(_BARK))] * rng.uniform(0.6, 1.1)).tolist()
        cv2.line(tex, (int(x0 * 16), int(y0 * 16)), (int((x0 + ln * math.cos(a)) * 16), int((y0 + ln * math.sin(a)) * 16)),
                 col, int(rng.integers(1, 3)), cv2.LINE_AA, 4)
    return tex


def _scene(rng, cond: CameraConditions, size, f: float, z0: float, feet_y: float, feet_x: float):
    """Background colour (H, W, 3) and depth (H, W, metres) of a random forest scene, before
    lighting, and the horizon row."""
    H, W = size
    cam_h = rng.uniform(0.4, 0.7)
    horizon = feet_y - f * cam_h / z0
    green = (not cond.snow) and rng.random() < 0.5
    clutter = cond.clutter
    ys = np.arange(H, dtype=np.float32)[:, None]
    xs = np.arange(W, dtype=np.float32)[None, :]
    # the wall of forest behind (undergrowth and far trees at 6–25 m), sky gaps in the canopy
    wall_col = np.array([0.17, 0.30, 0.25] if green else ([0.34, 0.35, 0.36] if cond.snow else [0.19, 0.25, 0.29]),
                        np.float32)
    up = np.clip((horizon - ys) / max(H, 1), -1, 1)  # height above the horizon, image heights
    bg = np.empty((H, W, 3), np.float32)
    bg[:] = wall_col
    tone = 0.75 + 0.5 * _smoothstep(up / 0.6) + 0.22 * _fractal(rng, (H, W), (8, 16, 32, 64, 128), 0.8)
    bg *= tone[..., None]
    gaps = _smoothstep((_fractal(rng, (H, W), (10, 20, 40, 80), 0.8) - 1.3 + 1.5 * (up - 0.35)) / 0.5)
    gaps *= _smoothstep((up - 0.2) / 0.3) * rng.uniform(0.3, 0.9)
    bg = bg + (np.array([0.93, 0.92, 0.90], np.float32) - bg) * gaps[..., None]
    depth = (12.0 + 6.0 * _fractal(rng, (H, W), (3, 6))).astype(np.float32)
    depth = np.where(gaps > 0.3, np.float32(200.0), depth)  # sky: no flash light comes back
    # foliage or bare twigs over the wall
    n_leaf = int(400 + 2200 * clutter)
    lx = rng.uniform(0, W, n_leaf)
    ly = horizon - np.abs(rng.normal(0, 0.35 * H, n_leaf))
    pal = _GREEN if green else (_STRAW * 0.8 if cond.snow else np.vstack([_LITTER * 1.4, _BARK]))
    cols = pal[rng.integers(0, len(pal), n_leaf)] * rng.uniform(0.5, 1.15, (n_leaf, 1)).astype(np.float32)
    size_l = rng.uniform(1.5, 5.0, n_leaf) * (W / 640)
    ang = rng.uniform(0, 180, n_leaf)
    for i in range(n_leaf):
        if green:
            cv2.ellipse(bg, ((float(lx[i]), float(ly[i])), (float(size_l[i] * 2), float(size_l[i])), float(ang[i])),
                        cols[i].tolist(), -1, cv2.LINE_AA)
        else:
            a = math.radians(ang[i] + 180)
            ln = size_l[i] * 6
            cv2.line(bg, (int(lx[i] * 16), int(ly[i] * 16)),
                     (int((lx[i] + ln * math.cos(a)) * 16), int((ly[i] + ln * math.sin(a)) * 16)),
                     cols[i].tolist(), 1, cv2.LINE_AA, 4)
    bg = cv2.GaussianBlur(bg, (0, 0), 0.6)
    # ground
    dy = ys - horizon
    gmask = dy > 1.0
    if gmask.any():
        n = 512
        tex = _ground_texture(rng, n, cond.snow, green, clutter)
        tex_far = cv2.GaussianBlur(tex, (0, 0), 6)
        Z = np.minimum(np.where(gmask, f * cam_h / np.maximum(dy, 1.0), 60.0), 60.0) + np.zeros((1, W), np.float32)
        X = (xs - feet_x) * Z / f
        per_m = n / 6.0
        mx = (X * per_m).astype(np.float32)
        my = (Z * per_m + rng.uniform(0, n)).astype(np.float32)
        # mirrored beyond the 6 m patch: no seams
        g = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        gf = cv2.remap(tex_far, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        far = _smoothstep((Z - 3.0) / 10.0)[..., None]
        g = g + (gf - g) * far
        # the ground fades into the wall near the horizon
        blend = (_smoothstep((dy - 2.0) / (0.06 * H + 2)) * gmask)[..., None]
        bg = bg + (g - bg) * blend
        depth = np.where(gmask, np.minimum(Z, depth), depth).astype(np.float32)
    # tree trunks, far to near, each drawn in its own box
    n_trees = int(rng.integers(1, 3) + clutter * rng.integers(2, 9))
    birch = rng.random() < 0.3
    for z in np.sort(rng.uniform(2.5, 25.0, n_trees))[::-1]:
        diam = rng.uniform(0.12, 0.45)
        wpx = f * diam / z
        x0 = rng.uniform(-0.1 * W, 1.1 * W)
        base = horizon + f * cam_h / z
        col = _BARK[rng.integers(0, len(_BARK))].copy()
        white = birch and rng.random() < 0.5
        if white:
            col = np.array([0.72, 0.76, 0.78], np.float32)
        col = col + (wall_col * 1.2 - col) * min(z / 40.0, 0.6)
        lean = rng.normal(0, 0.04)
        x_top = x0 + lean * max(base, 1.0)
        bx0 = int(max(math.floor(min(x0, x_top) - wpx), 0))
        bx1 = int(min(math.ceil(max(x0, x_top) + wpx), W))
        by1 = int(min(math.ceil(base) + 1, H))
        if bx1 <= bx0 or by1 <= 0:
            continue
        h_b, w_b = by1, bx1 - bx0
        poly = np.array([[x_top - wpx / 2 * 0.85, -5], [x_top + wpx / 2 * 0.85, -5],
                         [x0 + wpx / 2, base], [x0 - wpx / 2, base]]) - (bx0, 0)
        m = np.zeros((h_b, w_b), np.uint8)
        _fill(m, poly, 255)
        a = m.astype(np.float32) / 255.0
        yy = ys[:h_b]
        xx = xs[:, bx0:bx1]
        centre = x0 + (x_top - x0) * (1 - yy / max(base, 1.0))
        xrel = np.clip((xx - centre) / (wpx / 2 + 1e-3), -1, 1)
        shade = 0.6 + 0.4 * np.sqrt(np.clip(1 - xrel ** 2, 0, 1))
        streak = 1 + 0.18 * cv2.resize(rng.standard_normal((max(2, h_b // 40), max(2, int(wpx / 3)))).astype(np.float32),
                                       (w_b, h_b))
        tcol = col[None, None, :] * (shade * streak)[..., None]
        if white:
            marks = cv2.resize(rng.random((max(2, h_b // 10), 4)).astype(np.float32), (w_b, h_b),
                               interpolation=cv2.INTER_CUBIC) > 0.85  # dark lenticel bands
            tcol = np.where(marks[..., None], tcol * 0.25, tcol)
        win = bg[:h_b, bx0:bx1]
        bg[:h_b, bx0:bx1] = win + (tcol - win) * a[..., None]
        dwin = depth[:h_b, bx0:bx1]
        depth[:h_b, bx0:bx1] = np.where(a > 0.5, np.float32(z), dwin)
    # grass tufts on the ground behind the animal
    n_tuft = int(5 + 40 * clutter) if not cond.snow else int(3 + 15 * clutter)
    gpal = _GREEN if green else _STRAW
    for _ in range(n_tuft):
        z = rng.uniform(2.0, 15.0)
        base_y = horizon + f * cam_h / z
        if base_y >= H + 5:
            continue
        bx = rng.uniform(0, W)
        for _ in range(int(rng.integers(3, 9))):
            hgt = f * rng.uniform(0.1, 0.45) / z
            a = rng.normal(-math.pi / 2, 0.35)
            tip = (bx + rng.normal(0, 2) + hgt * math.cos(a), base_y + hgt * math.sin(a))
            c = (gpal[rng.integers(0, len(gpal))] * rng.uniform(0.6, 1.1)).tolist()
            cv2.line(bg, (int(bx * 16), int(base_y * 16)), (int(tip[0] * 16), int(tip[1] * 16)), c,
                     max(1, int(f * 0.006 / z)), cv2.LINE_AA, 4)
    return bg, depth, horizon


# --------------------------------------------------------------------------------------------
# occluding vegetation
# --------------------------------------------------------------------------------------------


def _occluders(rng, cond: CameraConditions, flank_mask: np.ndarray, green: bool, ref: float):
    """Vegetation in front of the lens covering the target fraction of ``flank_mask`` (> 0.5).

    Returns colour (H, W, 3), opacity (H, W, float32) and the fraction covered."""
    H, W = flank_mask.shape
    col = np.zeros((H, W, 3), np.float32)
    occ = np.zeros((H, W), np.uint8)
    fm = flank_mask > 0.5
    n_f = int(fm.sum())
    ys, xs = np.nonzero(fm)
    if n_f:
        fy0, fy1, fx0, fx1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        fh = fy1 - fy0
    else:
        fy0, fy1, fx0, fx1, fh = 0, H, 0, W, H / 4
    target = cond.occlusion
    pal = _GREEN if green else (_STRAW if cond.snow else np.vstack([_STRAW, _LITTER * 1.6]))
    scratch = np.zeros((H, W), np.uint8)
    covered = 0

    def kind():
        k = cond.occluder
        if k == "mixed":
            return str(rng.choice(["grass", "branches", "leaves"]))
        return k

    def shape(through, scale_w):
        """Polygons of one occluder through the image point ``through``."""
        k = kind()
        polys = []
        if k == "grass":
            base = (through[0] + rng.normal(0, 0.1 * W), H + rng.uniform(0, 0.1 * H))
            over = rng.uniform(0.1, 0.5) * (base[1] - through[1])
            tip = np.asarray(through) + (np.asarray(through) - base) * over / max(base[1] - through[1], 1)
            width = rng.uniform(0.05, 0.12) * fh * scale_w + 3 * ref
            polys.append(_blade(base, tip, width, rng.normal(0, 0.12)))
        elif k == "branches":
            a = rng.uniform(0, math.pi)
            L = rng.uniform(0.4, 1.2) * W
            d = np.array([math.cos(a), math.sin(a)])
            p0 = np.asarray(through) - d * L * rng.uniform(0.3, 0.7)
            width = rng.uniform(0.03, 0.07) * fh * scale_w + 3 * ref
            polys.append(_blade(p0, p0 + d * L, width, rng.normal(0, 0.05), n=12))
            for _ in range(int(rng.integers(0, 4))):  # twigs
                s = rng.uniform(0.2, 0.9)
                q0 = p0 + d * L * s
                b = a + rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)
                q1 = q0 + np.array([math.cos(b), math.sin(b)]) * L * rng.uniform(0.1, 0.3)
                polys.append(_blade(q0, q1, width * 0.5, rng.normal(0, 0.1)))
        else:  # leaves: a cluster of broad leaves on a twig
            n = int(rng.integers(2, 6))
            size_l = rng.uniform(0.15, 0.3) * fh * scale_w + 5 * ref
            for _ in range(n):
                c = np.asarray(through) + rng.normal(0, size_l * 0.8, 2)
                a = rng.uniform(0, 2 * math.pi)
                polys.append(_leaf(c, size_l, a))
        return polys

    def attempt(polys):
        """Coverage added by ``polys`` (drawn on the scratch layer); their bounding box."""
        allp = np.vstack(polys)
        x0 = int(max(min(allp[:, 0].min(), W), 0))
        x1 = int(min(max(allp[:, 0].max() + 2, 0), W))
        y0 = int(max(min(allp[:, 1].min(), H), 0))
        y1 = int(min(max(allp[:, 1].max() + 2, 0), H))
        if x1 <= x0 or y1 <= y0:
            return 0, None
        for p in polys:
            _fill(scratch, p, 255)
        box = (slice(y0, y1), slice(x0, x1))
        new = (scratch[box] > 127) & (occ[box] <= 127) & fm[box]
        return int(new.sum()), box

    def commit(polys, box, colour):
        occ[box] = np.maximum(occ[box], scratch[box])
        for p in polys:
            _fill(col, p, colour)
        scratch[box] = 0

    def colour():
        c = pal[rng.integers(0, len(pal))] * rng.uniform(0.7, 1.25)
        return np.clip(c, 0, 1).tolist()

    # ambient vegetation at the bottom of the frame, kept only where it adds (almost) no cover
    for _ in range(int(rng.integers(0, 3) + 5 * cond.clutter * rng.random())):
        through = (rng.uniform(0, W), H - rng.uniform(0.02, 0.2) * H)
        polys = shape(through, rng.uniform(0.3, 0.7))
        add, box = attempt(polys)
        if box is None:
            continue
        if n_f == 0 or (covered + add) / n_f <= target + 0.005:
            commit(polys, box, colour())
            covered += add
        else:
            scratch[box] = 0
    # targeted vegetation across the flank, until the cover is reached
    if n_f and target > 0:
        tries = 0
        while covered / n_f < target - 0.01 and tries < 600:
            tries += 1
            i = rng.integers(0, n_f)
            through = (float(xs[i]), float(ys[i]))
            remaining = target - covered / n_f
            scale_w = 1.0 if remaining > 0.08 else max(0.3, remaining / 0.08)
            polys = shape(through, scale_w)
            add, box = attempt(polys)
            if box is None:
                continue
            if (covered + add) / n_f <= target + 0.015 or add == 0:
                commit(polys, box, colour())
                covered += add
            else:
                scratch[box] = 0
    alpha = occ.astype(np.float32) / 255.0
    return col, alpha, (covered / n_f if n_f else 0.0)


def _leaf(c, size, angle, n=12):
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x = size / 2 * np.cos(t)
    y = size / 4 * np.sin(t) * (1 - 0.3 * np.cos(t))
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([c[0] + ca * x - sa * y, c[1] + sa * x + ca * y], axis=1)


# --------------------------------------------------------------------------------------------
# the image
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rendered:
    """A rendered photograph and its ground truth.

    * ``image``: uint8 BGR (H, W, 3) (equal channels at night);
    * ``body``: opacity of the animal (float32, before motion blur and occlusion);
    * ``flank``: the visible flank region (not hidden by the animal's own legs), float32;
    * ``spots``: the dark spots of the animal as warped into the image (float32, before blur,
      lighting and occlusion: the pattern mask);
    * ``occluder``: opacity of the vegetation in front (float32, before its defocus);
    * ``occlusion``: fraction of the flank pixels in the frame (``flank`` > 0.5) that the
      vegetation covers (``occluder`` > 0.5);
    * ``flank_pixels``: number of flank pixels in the frame;
    * ``flank_in_frame``: fraction of the flank region's projected area inside the frame.
    """

    image: np.ndarray
    body: np.ndarray
    flank: np.ndarray
    spots: np.ndarray
    occluder: np.ndarray
    occlusion: float
    flank_pixels: int
    flank_in_frame: float


def _check(pattern, side, conditions, size):
    if isinstance(pattern, CoatPattern):
        flank = pattern.flank(side)
    elif isinstance(pattern, FlankPattern):
        if side != pattern.side:
            raise ValueError(f"side must be the flank pattern's side {pattern.side!r}, got {side!r}")
        flank = pattern
    else:
        raise ValueError(f"pattern must be a CoatPattern (from coat_pattern), got {type(pattern).__name__}")
    if not isinstance(conditions, CameraConditions):
        raise ValueError(f"conditions must be CameraConditions, got {type(conditions).__name__}")
    try:
        H, W = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width) in pixels, got {size!r}") from None
    if not (32 <= H <= 4096 and 32 <= W <= 4096):
        raise ValueError(f"size must be (height, width), each in [32, 4096] pixels, got {size!r}")
    return flank, (H, W)


def render_layers(pattern: CoatPattern, side: str, conditions: CameraConditions,
                  size: tuple[int, int] = (480, 640)) -> Rendered:
    """Render one photograph of ``side`` (``"left"``/``"right"``) of ``pattern`` under
    ``conditions``, image ``size`` = (height, width) pixels (each 32–4096), with its ground
    truth layers (:class:`Rendered`). Deterministic: the same arguments give the same bytes."""
    flank, (H, W) = _check(pattern, side, conditions, size)
    cond = conditions
    ss = np.random.SeedSequence([cond.seed, 0x9A7D05])
    r_tex, r_warp, r_scene, r_occ, r_light = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(5))
    ref = W / _REF_WIDTH
    Hm, f, z0 = _homography(cond, side, (H, W))

    # --- the animal, warped into the image -------------------------------------------------
    px_per_unit = cond.scale * W / FRAME_WIDTH
    tex_scale = float(np.clip(1.3 * px_per_unit * (1 + 0.5 * abs(math.sin(math.radians(cond.yaw)))), 40, 1200))
    colour, alpha, fl, sp = _animal_texture(flank, cond, tex_scale, r_tex)
    mx, my = _warp_maps(Hm, (H, W), cond, r_warp, tex_scale)
    img_a = cv2.remap(colour, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    layers = cv2.remap(np.dstack([alpha, fl, sp]), mx, my, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    a_img, fl_img, sp_img = layers[..., 0], layers[..., 1], layers[..., 2]

    # --- the scene behind --------------------------------------------------------------------
    # the feet: where the paws meet the ground, in the image before roll
    r = math.radians(cond.roll)
    c0 = np.array([cond.centre_x * W, cond.centre_y * H])
    Rinv = np.array([[math.cos(r), math.sin(r), 0], [-math.sin(r), math.cos(r), 0], [0, 0, 1]])
    Tc = np.array([[1, 0, c0[0]], [0, 1, c0[1]], [0, 0, 1]])
    Tci = np.array([[1, 0, -c0[0]], [0, 1, -c0[1]], [0, 0, 1]])
    Hm_noroll = Tc @ Rinv @ Tci @ Hm
    feet = _project(Hm_noroll, np.array([[0.62, 0.955], [1.42, 0.955]]))
    bg, depth, horizon = _scene(r_scene, cond, (H, W), f, z0, float(feet[:, 1].mean()), float(feet[:, 0].mean()))
    green = bool(bg[..., 1].mean() > bg[..., 2].mean())
    if not cond.night and cond.sun > 0.05:  # the animal's shadow on the ground
        sh = np.zeros((H, W), np.float32)
        cx, cy = feet.mean(0)
        half = np.hypot(*(feet[1] - feet[0])) / 2 + 0.15 * cond.scale * W / FRAME_WIDTH
        cv2.ellipse(sh, ((float(cx), float(cy)), (float(2.2 * half), float(0.35 * half)), 0.0), 1.0, -1, cv2.LINE_AA)
        sh = cv2.GaussianBlur(sh, (0, 0), 3 + 0.05 * half)
        bg *= (1 - 0.45 * cond.sun * sh)[..., None]
    if cond.roll != 0.0:
        Ra = cv2.getRotationMatrix2D((float(c0[0]), float(c0[1])), -cond.roll, 1.0)
        bg = cv2.warpAffine(bg, Ra, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        depth = cv2.warpAffine(depth, Ra, (W, H), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)

    # --- motion blur of the animal and compositing --------------------------------------------
    pre = img_a * a_img[..., None]
    a_blur = a_img
    mlen = cond.motion_length * ref
    if mlen >= 1.0:
        ker = _line_kernel(mlen, cond.motion_angle)
        pre = cv2.filter2D(pre, -1, ker, borderType=cv2.BORDER_CONSTANT)
        a_blur = cv2.filter2D(a_img, -1, ker, borderType=cv2.BORDER_CONSTANT)
    scene = bg * (1 - a_blur[..., None]) + pre
    depth = np.where(a_blur > 0.5, np.float32(z0), depth)

    # --- vegetation in front -----------------------------------------------------------------
    occ_col, occ_a, achieved = _occluders(r_occ, cond, fl_img, green, ref)
    fsig = (1.0 + r_occ.uniform(0, 1.5)) * ref  # close to the lens: out of focus
    occ_soft = cv2.GaussianBlur(occ_a, (0, 0), fsig)
    occ_col_soft = cv2.GaussianBlur(occ_col, (0, 0), fsig)
    scene = scene * (1 - occ_soft[..., None]) + occ_col_soft
    depth = np.where(occ_soft > 0.5, np.float32(r_occ.uniform(0.9, 1.6)), depth)

    # --- light ---------------------------------------------------------------------------------
    ys = (np.arange(H, dtype=np.float32)[:, None] - H / 2) / (W / 2)
    xs = (np.arange(W, dtype=np.float32)[None, :] - W / 2) / (W / 2)
    r2 = xs * xs + ys * ys
    gain = 2.0 ** cond.exposure
    if cond.night:
        b, g, rr = scene[..., 0], scene[..., 1], scene[..., 2]
        ir = 0.2 * b + 0.35 * g + 0.45 * rr + 0.6 * np.maximum(g - rr, 0)  # foliage is bright in IR
        sigma2 = (1.3 - 0.9 * cond.flash_falloff) ** 2
        flash = np.exp(-r2 / (2 * sigma2))
        dist = np.maximum(depth, 0.3)
        light = flash * np.minimum((z0 / dist) ** 2, 2.0)
        body = a_blur > 0.5
        expose = 1.0 / max(float(np.mean(light[body])) if body.any() else float(light.mean()), 0.05)
        img = ir * light * (expose * gain * 1.05)
        img = np.repeat(img[..., None], 3, axis=2)
    else:
        dapple = _smoothstep((_fractal(r_light, (H, W), (3, 6, 12, 24)) + 0.2) / 1.0)
        light = (1 - 0.45 * cond.sun) + 0.9 * cond.sun * dapple
        light = light * (1 - 0.35 * cond.flash_falloff * r2 / 1.6)
        t = cond.colour_temperature
        wb = np.array([1 - 0.12 * t, 1.0, 1 + 0.10 * t], np.float32)
        img = scene * light[..., None] * wb * gain
    veil = max(0.0, 0.8 - cond.contrast) * 0.5  # haze over low-contrast images
    img = (img - 0.45) * cond.contrast + 0.45 + veil * 0.4
    if cond.defocus * ref >= 0.3:
        img = cv2.GaussianBlur(img, (0, 0), cond.defocus * ref)
    # sensor noise, larger in the shadows' relative terms (photon + read noise)
    sd = cond.noise / 255.0
    level = np.sqrt(np.clip(img.mean(axis=2) if img.ndim == 3 else img, 0, 1) + 0.05)
    if cond.night:
        n = r_light.standard_normal((H, W)).astype(np.float32) * (sd * 1.2 * level)
        img = img + n[..., None]
    else:
        shared = r_light.standard_normal((H, W)).astype(np.float32)[..., None]
        own = r_light.standard_normal((H, W, 3)).astype(np.float32)
        img = img + (0.6 * shared + 0.55 * own) * (sd * 1.2 * level)[..., None]
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if cond.info_strip:
        _strip(out, r_light, cond)
    if cond.night:
        out[..., 1] = out[..., 0]
        out[..., 2] = out[..., 0]

    # --- ground truth ----------------------------------------------------------------------------
    fm = fl_img > 0.5
    n_f = int(fm.sum())
    occl = float(((occ_a > 0.5) & fm).sum() / n_f) if n_f else 0.0
    in_frame = _flank_in_frame(Hm, (H, W))
    return Rendered(out, a_img, fl_img, sp_img, occ_a, occl, n_f, in_frame)


def _flank_in_frame(Hm, size) -> float:
    """Fraction of the flank polygon's projected area that lies inside the image."""
    H, W = size
    poly = _project(Hm, BODY.flank)
    k = 4.0
    pad = np.array([W, H]) * 1.5
    canvas = np.zeros((int((H + 2 * pad[1]) / k), int((W + 2 * pad[0]) / k)), np.uint8)
    _fill(canvas, (poly + pad) / k, 255)
    total = float(canvas.sum())
    if total == 0:
        return 0.0
    y0, x0 = int(pad[1] / k), int(pad[0] / k)
    inside = float(canvas[y0:y0 + int(H / k), x0:x0 + int(W / k)].sum())
    return inside / total


def _strip(out: np.ndarray, rng, cond: CameraConditions) -> None:
    """The information strip of a camera trap along the bottom: camera, date, time, temperature
    (all random per image)."""
    H, W = out.shape[:2]
    h = max(10, int(0.045 * H))
    out[H - h:] = 0
    hour = int(rng.integers(19, 29)) % 24 if cond.night else int(rng.integers(7, 18))
    temp = int(rng.integers(-25, 1)) if cond.snow else int(rng.integers(-5, 28))
    text = (f"CAM{int(rng.integers(1, 99)):02d}  {int(rng.integers(2012, 2024))}-{int(rng.integers(1, 13)):02d}-"
            f"{int(rng.integers(1, 29)):02d}  {hour:02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
            f"  {temp}C")
    fs = h / 30.0
    cv2.putText(out, text, (int(0.02 * W), H - int(0.25 * h)), cv2.FONT_HERSHEY_SIMPLEX, fs,
                (235, 235, 235), max(1, int(round(h / 14))), cv2.LINE_AA)
    cv2.putText(out, "[ ]" if cond.night else "(*)", (int(0.9 * W), H - int(0.25 * h)),
                cv2.FONT_HERSHEY_SIMPLEX, fs, (235, 235, 235), max(1, int(round(h / 14))), cv2.LINE_AA)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a uint8 BGR image at ``quality`` (integer in [5, 100]); deterministic."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not (5 <= quality <= 100):
        raise ValueError(f"quality must be an integer in [5, 100], got {quality!r}")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("image could not be encoded as JPEG (expected uint8 BGR)")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """The uint8 BGR image of JPEG ``data``."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("data is not a JPEG image")
    return img


def render(pattern: CoatPattern, side: str, conditions: CameraConditions,
           size: tuple[int, int] = (480, 640), jpeg: bool = False) -> np.ndarray:
    """The photograph of ``side`` (``"left"`` or ``"right"``) of ``pattern`` (a
    :class:`CoatPattern`) under ``conditions``: uint8 BGR array of ``size`` = (height, width)
    pixels (each 32–4096), 3 channels even at night (then equal). With ``jpeg`` the image has
    been through JPEG compression at ``conditions.jpeg_quality``, as the saved file.
    Deterministic: the same arguments give the same bytes."""
    img = render_layers(pattern, side, conditions, size).image
    if jpeg:
        img = decode_jpeg(encode_jpeg(img, conditions.jpeg_quality))
    return img
