# SPDX-License-Identifier: GPL-3.0-or-later
"""The review page of photo-ID: a small local web server on which a person confirms, rejects
or creates the identification of each uncertain camera-trap image.

:class:`ReviewServer` serves, for every image of its queue (default: the registry's
unreviewed images), the image (the MegaDetector box cropped out when there is one) beside its
top :class:`Candidate` individuals, each as a side-by-side figure with the matched keypoints
drawn as lines (rendered here with OpenCV). The reviewer confirms a candidate, rejects one,
creates a new individual or skips the image; every decision is written to the registry at once
(``method='review'``, ``by=reviewer``).

Pages::

    GET  /                       the queue: how many images are left, the next one, the list
    GET  /image/<id>             the review page of one registered image
    GET  /photo/<id>.jpg         a registered image (re-encoded JPEG: no EXIF, no file bytes)
    GET  /query/<id>.jpg         the same, cropped to its detection box
    GET  /match/<id>/<rank>.png  the image beside candidate <rank>'s reference, keypoints drawn
    GET  /static/review.css      the style sheet
    POST /decide                 a decision (form fields: image, action, rank, individual,
                                 code, sex, side, token)

Security: the server binds to 127.0.0.1 unless another ``host`` is given; on loopback it
answers only requests whose ``Host`` is this server (no DNS rebinding). Files are found by
registry id only: an id (digits) is looked up in the registry and the path recorded there is
read; nothing of a request's path reaches the file system, and what is served is an image
decoded and encoded again, so a file that is not an image is never served. Only POST changes
anything, and a POST needs the server's secret token (in every form of its pages) and, when the
browser sends ``Origin`` or ``Referer``, this server's origin: a form on another site cannot
record a decision. Every value from the registry, the files or the matcher is escaped in HTML;
pages carry ``Content-Security-Policy: default-src 'self'`` (no script at all) and
``X-Content-Type-Options: nosniff``.

Keypoint pairs are pixel coordinates ``(x_query, y_query, x_candidate, y_candidate)`` of the
two whole images as OpenCV decodes them (``cv2.IMREAD_COLOR``: EXIF orientation applied).

A :class:`~pardus.monitoring.registry.Registry` is not thread-safe: the server's request
threads use it one at a time (under a lock); open another registry object on the same database
to read it from other threads while the server runs.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import math
import numbers
import os
import re
import secrets
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from .registry import DecisionInfo, ImageInfo, Registry, RegistryError

__all__ = ["Candidate", "ReviewError", "ReviewServer", "match_figure", "crop_region"]

log = logging.getLogger("pardus.review")

UTC = dt_timezone.utc
_ID = r"([0-9]{1,12})"
_ROUTES_GET = (
    ("queue", re.compile(r"/\Z")),
    ("image", re.compile(rf"/image/{_ID}\Z")),
    ("photo", re.compile(rf"/photo/{_ID}(?:\.jpg)?\Z")),
    ("query", re.compile(rf"/query/{_ID}\.jpg\Z")),
    ("match", re.compile(rf"/match/{_ID}/([0-9]{{1,4}})\.png\Z")),
    ("css", re.compile(r"/static/review\.css\Z")),
    ("favicon", re.compile(r"/favicon\.ico\Z")),
)
_MAX_BODY = 16 * 1024
_MAX_PAIRS_DRAWN = 250
_CACHE_PIXELS = 48_000_000  # decoded images kept in memory (about 144 MB)
_SEXES = ("female", "male")
_SIDES = ("left", "right")


class ReviewError(RuntimeError):
    """The review server cannot be set up as asked (the message names the fix)."""


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One candidate individual for a query image, as the matcher ranks it.

    ``individual``: the individual's code; ``side``: the flank matched (``left``/``right``, or
    None: the query image's side); ``score``: the matcher's similarity (higher is better; None
    when there is none); ``rank``: 1 = best; ``reference_image``: the registry id of the image of
    that flank the query was matched against (an :class:`ImageInfo` is taken too; None: no
    figure); ``pairs``: the matched keypoints ``(x_query, y_query, x_reference, y_reference)`` in
    pixels of the two whole images (any sequence of 4-tuples or an (n, 4) array; may be empty).
    """

    individual: str
    side: Optional[str]
    score: Optional[float]
    rank: int
    reference_image: Optional[int]
    pairs: tuple[tuple[float, float, float, float], ...] = ()

    def __post_init__(self):
        if not isinstance(self.individual, str) or not self.individual.strip():
            raise ValueError(f"Candidate individual {self.individual!r}: give the individual's code")
        if self.side is not None and self.side not in _SIDES:
            raise ValueError(f"Candidate side {self.side!r}: use 'left', 'right' or None")
        if isinstance(self.rank, bool) or not isinstance(self.rank, numbers.Integral) or self.rank < 1:
            raise ValueError(f"Candidate rank {self.rank!r}: give an integer >= 1 (1 = best)")
        object.__setattr__(self, "rank", int(self.rank))
        if self.score is not None:
            score = float(self.score)
            if not math.isfinite(score):
                raise ValueError(f"Candidate score {self.score!r}: give a finite number or None")
            object.__setattr__(self, "score", score)
        ref = self.reference_image
        if isinstance(ref, ImageInfo):
            ref = ref.id
        if ref is not None and (isinstance(ref, bool) or not isinstance(ref, numbers.Integral)):
            raise ValueError(f"Candidate reference_image {self.reference_image!r}: give a registry "
                             "image id (or an ImageInfo, or None)")
        object.__setattr__(self, "reference_image", None if ref is None else int(ref))
        arr = np.asarray(self.pairs if len(self.pairs) else np.zeros((0, 4)), dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 4 or not np.all(np.isfinite(arr)):
            raise ValueError("Candidate pairs: give finite (x_query, y_query, x_reference, "
                             "y_reference) pixel coordinates, one 4-tuple per matched keypoint")
        object.__setattr__(self, "pairs", tuple(tuple(float(v) for v in row) for row in arr))


CandidateFn = Callable[[ImageInfo], Sequence[Candidate]]


# --------------------------------------------------------------------------------------------
# images and figures (OpenCV)
# --------------------------------------------------------------------------------------------


class _Unavailable(Exception):
    """An image file that cannot be shown (missing, unreadable, not an image)."""


def crop_region(shape, bbox, points=None, margin: float = 0.06) -> tuple[int, int, int, int]:
    """The region ``(x0, y0, x1, y1)`` (pixels, x1/y1 exclusive) of an image of ``shape`` to
    show: the whole image without a detection box; with ``bbox`` (MegaDetector's fractions) the
    box, enlarged to hold ``points`` ((n, 2) pixels) and by ``margin`` of its larger side."""
    h, w = int(shape[0]), int(shape[1])
    if bbox is None:
        return 0, 0, w, h
    bx, by, bw, bh = (float(v) for v in bbox)
    x0, y0, x1, y1 = bx * w, by * h, (bx + bw) * w, (by + bh) * h
    if points is not None and len(points):
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        x0, y0 = min(x0, p[:, 0].min()), min(y0, p[:, 1].min())
        x1, y1 = max(x1, p[:, 0].max()), max(y1, p[:, 1].max())
    m = max(8.0, margin * max(x1 - x0, y1 - y0))
    x0, y0 = max(0, int(math.floor(x0 - m))), max(0, int(math.floor(y0 - m)))
    x1, y1 = min(w, int(math.ceil(x1 + m))), min(h, int(math.ceil(y1 + m)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0, 0, w, h
    return x0, y0, x1, y1


def _palette(n: int) -> list[tuple[int, int, int]]:
    out = []
    for i in range(n):
        hue = int((i * 47) % 180)
        bgr = cv2.cvtColor(np.uint8([[[hue, 230, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
        out.append(tuple(int(v) for v in bgr))
    return out


def _resize(img: np.ndarray, scale: float) -> np.ndarray:
    h, w = img.shape[:2]
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    if size == (w, h):
        return img
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def match_figure(query: np.ndarray, query_region, reference: np.ndarray, reference_region,
                 pairs: Sequence[Sequence[float]], *, height: int = 560, max_width: int = 1800,
                 gap: int = 16) -> np.ndarray:
    """The side-by-side figure of a match: ``query`` cropped to ``query_region`` on the left,
    ``reference`` cropped to ``reference_region`` on the right, both scaled to ``height`` pixels
    (less when the two would be wider than ``max_width``), and a line between the two ends of
    every keypoint pair (pixels of the whole images). A uint8 BGR array."""
    qx0, qy0, qx1, qy1 = query_region
    rx0, ry0, rx1, ry1 = reference_region
    qc = query[qy0:qy1, qx0:qx1]
    rc = reference[ry0:ry1, rx0:rx1]
    sq = height / qc.shape[0]
    sr = height / rc.shape[0]
    total = qc.shape[1] * sq + rc.shape[1] * sr
    if total + gap > max_width:
        f = (max_width - gap) / total
        sq, sr = sq * f, sr * f
    qs, rs = _resize(qc, sq), _resize(rc, sr)
    H = max(qs.shape[0], rs.shape[0])
    W = qs.shape[1] + gap + rs.shape[1]
    canvas = np.full((H, W, 3), 34, np.uint8)
    oqy = (H - qs.shape[0]) // 2
    orx, ory = qs.shape[1] + gap, (H - rs.shape[0]) // 2
    canvas[oqy:oqy + qs.shape[0], :qs.shape[1]] = qs
    canvas[ory:ory + rs.shape[0], orx:orx + rs.shape[1]] = rs
    pairs = list(pairs)[:_MAX_PAIRS_DRAWN]
    thick = max(1, int(round(H / 280)))
    radius = 2 * thick + 2
    one = 16  # sub-pixel drawing: coordinates in 1/16 pixel (shift=4)
    for (xq, yq, xr, yr), colour in zip(pairs, _palette(len(pairs))):
        p1 = (int(round(((xq - qx0) * sq) * one)), int(round(((yq - qy0) * sq + oqy) * one)))
        p2 = (int(round(((xr - rx0) * sr + orx) * one)), int(round(((yr - ry0) * sr + ory) * one)))
        cv2.line(canvas, p1, p2, colour, thick, cv2.LINE_AA, shift=4)
        for p in (p1, p2):
            cv2.circle(canvas, p, radius * one, (0, 0, 0), thick + 2, cv2.LINE_AA, shift=4)
            cv2.circle(canvas, p, radius * one, colour, thick, cv2.LINE_AA, shift=4)
    return canvas


class _ImageCache:
    """Decoded images by (path, modification time, size), least recently used dropped first,
    at most ``budget`` pixels in all."""

    def __init__(self, budget: int = _CACHE_PIXELS):
        self.budget = budget
        self._items: OrderedDict = OrderedDict()
        self._pixels = 0
        self._lock = threading.Lock()

    def load(self, path: Path) -> np.ndarray:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise _Unavailable(f"the file {path} is missing") from None
        except OSError as exc:
            raise _Unavailable(f"the file {path} cannot be read ({exc.strerror})") from None
        if not path.is_file():
            raise _Unavailable(f"{path} is not a file")
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            img = self._items.get(key)
            if img is not None:
                self._items.move_to_end(key)
                return img
        try:
            data = np.fromfile(str(path), dtype=np.uint8)
        except OSError as exc:
            raise _Unavailable(f"the file {path} cannot be read ({exc.strerror})") from None
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if img is None:
            raise _Unavailable(f"the file {path} is not an image OpenCV can read")
        img.setflags(write=False)
        with self._lock:
            n = img.shape[0] * img.shape[1]
            if n <= self.budget:
                self._items[key] = img
                self._pixels += n
                while self._pixels > self.budget and self._items:
                    _, old = self._items.popitem(last=False)
                    self._pixels -= old.shape[0] * old.shape[1]
        return img


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def e(value) -> str:
    """``value`` as text safe in HTML content and in quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


CSS = """
:root { color-scheme: dark; --bg: #17181b; --card: #23252a; --line: #3a3d44; --text: #ececec;
  --muted: #a9adb5; --ok: #2e9d55; --bad: #c64545; --new: #2f6fd1; --focus: #ffd54a; }
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
a { color: #8fc3ff; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid var(--focus); outline-offset: 2px; }
.bar { display: flex; gap: 1.2rem; align-items: center; padding: .55rem 1rem; background: #0f1012;
  border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
.bar .brand { font-weight: 700; letter-spacing: .02em; }
.bar .grow { flex: 1; }
.bar .muted { color: var(--muted); }
main { padding: 1rem; max-width: 1900px; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.15rem; margin: 0; }
.muted { color: var(--muted); }
.flash { background: #1d3b28; border: 1px solid #2e7d4a; padding: .6rem .9rem; border-radius: 6px; margin-bottom: 1rem; }
.error { background: #4a1f1f; border: 1px solid #a33; padding: .6rem .9rem; border-radius: 6px; margin-bottom: 1rem; }
.notice { background: #3b331a; border: 1px solid #8a7328; padding: .6rem .9rem; border-radius: 6px; margin: .5rem 0; }
.summary { display: grid; grid-template-columns: minmax(280px, 2fr) minmax(240px, 1.3fr) minmax(260px, 1.2fr);
  gap: 1rem; align-items: start; margin-bottom: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; }
.query img { display: block; width: 100%; max-height: 250px; object-fit: contain; border-radius: 4px; }
.query .links { margin-top: .4rem; font-size: .9rem; }
dl.meta { display: grid; grid-template-columns: auto 1fr; gap: .15rem .8rem; margin: 0; font-size: .95rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.history { margin: .6rem 0 0; padding-left: 1.1rem; font-size: .9rem; color: var(--muted); }
form { margin: 0; }
.none label { display: block; font-size: .9rem; color: var(--muted); margin-top: .45rem; }
.none input, .none select { width: 100%; padding: .45rem .5rem; font-size: 1rem; background: #111; color: var(--text);
  border: 1px solid var(--line); border-radius: 5px; }
.row { display: flex; gap: .6rem; }
.row > div { flex: 1; }
button, .button { display: inline-block; border: 0; border-radius: 6px; padding: .6rem 1.1rem; font-size: 1rem;
  font-weight: 600; cursor: pointer; color: #fff; text-decoration: none; text-align: center; }
button.confirm { background: var(--ok); }
button.reject { background: transparent; color: #ff9b9b; border: 2px solid var(--bad); }
button.new { background: var(--new); width: 100%; margin-top: .7rem; }
.button.skip { background: #4a4d55; width: 100%; margin-top: .6rem; }
button:hover, .button:hover { filter: brightness(1.15); }
kbd { font: .8em ui-monospace, monospace; background: rgba(255,255,255,.15); border-radius: 3px; padding: 0 .3em; }
.cand { margin-bottom: 1.1rem; }
.cand header { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: center; margin-bottom: .6rem; }
.cand header .title { flex: 1; min-width: 16rem; }
.cand .rank { display: inline-block; min-width: 1.8rem; text-align: center; background: #3a3d44; border-radius: 4px; margin-right: .4rem; }
.cand .code { font-size: 1.2rem; }
.cand .actions { display: flex; gap: .6rem; }
.cand figure { margin: 0; }
.cand figure img { display: block; max-width: 100%; max-height: 72vh; width: auto; height: auto; margin: 0 auto; background: #000; border-radius: 4px; }
.cand figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; text-align: center; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem; margin-left: .4rem; }
.badge.rejected { background: #5a2323; color: #ffb3b3; }
.badge.confirmed, .badge.new_individual, .badge.auto_accepted { background: #1f4d30; color: #b5f0c8; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
.start { font-size: 1.1rem; margin: .5rem 0 1.2rem; display: inline-block; background: var(--ok); }
@media (max-width: 1000px) { .summary { grid-template-columns: 1fr; } }
"""


def _fmt_time(t: Optional[datetime], tz) -> str:
    if t is None:
        return "unknown"
    utc = t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if tz is None:
        return utc
    return f"{t.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S')} ({tz.key}) · {utc}"


def _fmt_score(score: Optional[float]) -> str:
    return "—" if score is None else f"{score:.3f}"


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address, handler, app, family):
        self.address_family = family
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request, client_address):  # a client that went away: not a crash
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ReviewServer:
    """The review web server (see the module docstring).

    ``registry``: the :class:`~pardus.monitoring.registry.Registry` decisions are written to;
    ``candidates``: the function that ranks the candidates of an image (``ImageInfo ->
    [Candidate, ...]``; the matcher provides it), called once per image (kept for the last 64);
    ``reviewer``: who decides (recorded as ``by``); ``host``/``port``: where to listen (default
    127.0.0.1 and a free port; anything but loopback only when given here); ``queue``: the images
    to review, in order (ImageInfo or ids; default ``registry.unreviewed_images()`` now);
    ``top``: how many candidates a page shows; ``root``: the folder relative image paths of the
    registry are read from (default: the current folder).

    The socket is bound when the object is made (``url`` is known at once); :meth:`start`
    serves in a background thread, :meth:`serve_forever` in this one, :meth:`stop` ends both.
    Usable as a context manager (starts, and stops at the end of the block).
    """

    def __init__(self, registry: Registry, candidates: CandidateFn, *, reviewer: str,
                 host: str = "127.0.0.1", port: int = 0,
                 queue: Optional[Iterable[Union[ImageInfo, int]]] = None, top: int = 3,
                 root: Optional[Union[str, os.PathLike]] = None):
        if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer.strip()) > 128:
            raise ReviewError(f"reviewer {reviewer!r}: name who reviews (1–128 characters), e.g. "
                              "reviewer='a.ivanova'; it is recorded with every decision")
        if not callable(candidates):
            raise ReviewError("candidates must be a function ImageInfo -> list of Candidate (the "
                              "matcher's ranking)")
        if isinstance(port, bool) or not isinstance(port, numbers.Integral) or not 0 <= port <= 65535:
            raise ReviewError(f"port {port!r}: give 0 (any free port) or a port number up to 65535")
        if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
            raise ReviewError(f"top {top!r}: give how many candidates to show (an integer >= 1)")
        if not isinstance(host, str) or not host.strip():
            raise ReviewError(f"host {host!r}: give an address to listen on, e.g. 127.0.0.1")
        self.registry = registry
        self.candidates = candidates
        self.reviewer = reviewer.strip()
        self.top = int(top)
        self.root = Path(root) if root is not None else None
        self.token = secrets.token_urlsafe(32)
        self._db = threading.RLock()  # the registry, one request at a time
        self._match_lock = threading.Lock()  # the matcher, one image at a time
        self._state = threading.Lock()
        self._cand_cache: OrderedDict[int, list[Candidate]] = OrderedDict()
        self._images = _ImageCache()
        self._done: set[int] = set()
        self._tz = getattr(registry, "_tz", None)
        with self._db:
            items = registry.unreviewed_images() if queue is None else list(queue)
            ids = []
            for it in items:
                if isinstance(it, ImageInfo):
                    ids.append(it.id)
                else:
                    try:
                        ids.append(registry.get_image(it).id)
                    except RegistryError as exc:
                        raise ReviewError(f"queue: {exc}") from None
        self._queue: list[int] = list(dict.fromkeys(ids))
        self.host = host.strip()
        self.loopback = _is_loopback(self.host)
        try:
            infos = socket.getaddrinfo(self.host.strip("[]"), int(port), type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ReviewError(f"host {host!r} cannot be resolved ({exc.strerror}). Fix: give an "
                              "address of this machine, e.g. 127.0.0.1") from None
        family, _, _, _, sockaddr = infos[0]
        try:
            self._httpd = _HTTPServer(sockaddr[:2], _Handler, self, family)
        except OSError as exc:
            raise ReviewError(f"cannot listen on {host}:{port} ({exc.strerror}). Fix: give another "
                              "port (--port), or 0 for any free one") from None
        self.port = int(self._httpd.server_address[1])
        shown = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        self._netloc = f"{shown}:{self.port}"
        self._allowed_hosts = {self._netloc.lower()}
        if self.loopback:
            self._allowed_hosts |= {f"127.0.0.1:{self.port}", f"localhost:{self.port}",
                                    f"[::1]:{self.port}"}
        self._thread: Optional[threading.Thread] = None
        self._serving = False

    # ---- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The address of the queue page, e.g. ``http://127.0.0.1:8765/``."""
        return f"http://{self._netloc}/"

    @property
    def server_address(self) -> tuple:
        """The address the socket is bound to, as the socket reports it."""
        return self._httpd.socket.getsockname()

    def start(self) -> "ReviewServer":
        """Serve in a background (daemon) thread; returns self."""
        if self._thread is not None:
            return self
        self._serving = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"pardus-review:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread) or KeyboardInterrupt."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def stop(self) -> None:
        """Stop serving and close the socket (a request being answered finishes first)."""
        if self._serving:
            self._httpd.shutdown()
            self._serving = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "ReviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- state -----------------------------------------------------------------------------

    @property
    def queue(self) -> list[int]:
        """The ids of the images of the queue, in order."""
        return list(self._queue)

    @property
    def decided(self) -> set[int]:
        """Ids of the images identified (confirmed or new individual) on this server."""
        with self._state:
            return set(self._done)

    def pending(self) -> list[int]:
        """Ids of the images of the queue not yet identified here, in order."""
        with self._state:
            return [i for i in self._queue if i not in self._done]

    def next_after(self, image_id: Optional[int]) -> Optional[int]:
        """The next image of the queue after ``image_id`` that is not identified yet (the first
        one for None or an image not in the queue); None when none is left after it."""
        with self._state:
            start = self._queue.index(image_id) + 1 if image_id in self._queue else 0
            for i in self._queue[start:]:
                if i not in self._done:
                    return i
        return None

    def _image_info(self, image_id: int) -> Optional[ImageInfo]:
        with self._db:
            try:
                return self.registry.get_image(int(image_id))
            except RegistryError:
                return None

    def _path(self, info: ImageInfo) -> Path:
        p = Path(info.path).expanduser()
        if not p.is_absolute() and self.root is not None:
            p = self.root / p
        return p

    def _load(self, info: ImageInfo) -> np.ndarray:
        return self._images.load(self._path(info))

    def candidates_for(self, info: ImageInfo) -> list[Candidate]:
        """The candidates of an image, best first (the matcher is asked once per image; the
        result is kept for the last 64 images). Raises what the matcher raises."""
        with self._state:
            got = self._cand_cache.get(info.id)
            if got is not None:
                self._cand_cache.move_to_end(info.id)
                return got
        with self._match_lock:
            with self._state:
                got = self._cand_cache.get(info.id)
            if got is None:
                with self._db:  # a matcher may read the registry: one user of it at a time
                    raw = self.candidates(info)
                got = list(raw or ())
                bad = [c for c in got if not isinstance(c, Candidate)]
                if bad:
                    raise TypeError(f"the matcher returned {type(bad[0]).__name__}, not Candidate")
                got.sort(key=lambda c: c.rank)
                ranks = [c.rank for c in got]
                if len(set(ranks)) != len(ranks):
                    raise ValueError(f"the matcher gave two candidates the same rank ({ranks})")
                with self._state:
                    self._cand_cache[info.id] = got
                    while len(self._cand_cache) > 64:
                        self._cand_cache.popitem(last=False)
        return got

    # ---- pages -----------------------------------------------------------------------------

    def _page(self, title: str, body: str, *, position: str = "") -> bytes:
        doc = (
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)} · pardus review</title>"
            "<link rel=\"stylesheet\" href=\"/static/review.css\"></head><body>"
            "<nav class=\"bar\"><span class=\"brand\">pardus · photo-ID review</span>"
            "<a href=\"/\" accesskey=\"q\">Queue <kbd>Alt+Q</kbd></a>"
            f"<span class=\"muted\">{e(position)}</span><span class=\"grow\"></span>"
            f"<span class=\"muted\">reviewer: {e(self.reviewer)}</span></nav>"
            f"<main>{body}</main></body></html>\n")
        return doc.encode("utf-8")

    def _decision_text(self, d: DecisionInfo) -> str:
        side = f" ({d.side} flank)" if d.side else ""
        what = {"confirmed": "confirmed as", "rejected": "rejected", "new_individual": "new individual",
                "auto_accepted": "auto-accepted as"}.get(d.decision, d.decision)
        return f"image #{d.image_id}: {what} {d.individual}{side}, by {d.decided_by}"

    def queue_page(self, done: Optional[int] = None) -> bytes:
        pending = self.pending()
        n_done = len(self.decided)
        parts = ["<h1>Review queue</h1>"]
        parts.append(self._flash(done))
        if pending:
            parts.append(f"<p><strong>{len(pending)}</strong> image(s) to review; {n_done} identified "
                         "in this session.</p>")
            parts.append(f"<a class=\"button start\" href=\"/image/{pending[0]}\" accesskey=\"s\">"
                         f"Review the next image (#{pending[0]}) <kbd>Alt+S</kbd></a>")
        else:
            parts.append(f"<p>Nothing left to review: {n_done} image(s) identified in this session, "
                         f"{len(self._queue)} in the queue.</p>")
        rows = []
        shown = self._queue[:500]
        with self._db:
            for iid in shown:
                try:
                    info = self.registry.get_image(iid)
                except RegistryError:
                    continue
                state = "identified" if iid in self.decided else "to review"
                conf = "—" if info.confidence is None else f"{info.confidence:.2f}"
                rows.append(
                    f"<tr><td><a href=\"/image/{info.id}\">#{info.id}</a></td>"
                    f"<td>{e(_fmt_time(info.recorded_at, self._tz))}</td><td>{e(info.station)}</td>"
                    f"<td>{e(info.side or '—')}</td><td>{e(conf)}</td>"
                    f"<td title=\"{e(info.path)}\">{e(os.path.basename(info.path))}</td><td>{e(state)}</td></tr>")
        if rows:
            parts.append("<div class=\"card\"><table><thead><tr><th>Image</th><th>Time</th><th>Station</th>"
                         "<th>Side</th><th>Detection</th><th>File</th><th>State</th></tr></thead><tbody>"
                         + "".join(rows) + "</tbody></table>")
            if len(self._queue) > len(shown):
                parts.append(f"<p class=\"muted\">… and {len(self._queue) - len(shown)} more.</p>")
            parts.append("</div>")
        return self._page("Queue", "".join(parts), position=f"{len(pending)} to review")

    def _flash(self, done: Optional[int]) -> str:
        if done is None:
            return ""
        with self._db:
            try:
                d = self.registry.latest_decision(int(done))
            except RegistryError:
                return ""
        if d is None:
            return ""
        return (f"<div class=\"flash\" role=\"status\">Recorded: {e(self._decision_text(d))}. "
                f"<a href=\"/image/{d.image_id}\">Open image #{d.image_id} again</a></div>")

    def _form(self, info: ImageInfo, action: str, fields: dict, label: str, cls: str,
              accesskey: Optional[str] = None) -> str:
        hidden = "".join(f"<input type=\"hidden\" name=\"{e(k)}\" value=\"{e(v)}\">" for k, v in fields.items())
        key = f" accesskey=\"{e(accesskey)}\"" if accesskey else ""
        return (f"<form method=\"post\" action=\"/decide\"><input type=\"hidden\" name=\"token\" "
                f"value=\"{e(self.token)}\"><input type=\"hidden\" name=\"image\" value=\"{info.id}\">"
                f"<input type=\"hidden\" name=\"action\" value=\"{e(action)}\">{hidden}"
                f"<button type=\"submit\" class=\"{e(cls)}\"{key}>{label}</button></form>")

    def image_page(self, info: ImageInfo, *, done: Optional[int] = None, error: Optional[str] = None,
                   values: Optional[dict] = None) -> bytes:
        values = values or {}
        pending = self.pending()
        in_queue = info.id in self._queue
        position = (f"image {self._queue.index(info.id) + 1} of {len(self._queue)} · {len(pending)} to review"
                    if in_queue else f"image #{info.id} (not in the queue) · {len(pending)} to review")
        nxt = self.next_after(info.id)
        skip_href = f"/image/{nxt}" if nxt is not None and nxt != info.id else "/"
        with self._db:
            history = self.registry.decisions(info.id)
        latest_by_ind: dict[str, DecisionInfo] = {}
        for d in history:
            latest_by_ind[d.individual] = d

        parts = [self._flash(done)]
        if error:
            parts.append(f"<div class=\"error\" role=\"alert\">{e(error)}</div>")

        # the image itself
        problem = None
        try:
            self._load(info)
        except _Unavailable as exc:
            problem = str(exc)
        q = ["<section class=\"card query\" aria-label=\"The image to identify\">"]
        if problem:
            q.append(f"<div class=\"notice\" role=\"alert\">This image cannot be shown: {e(problem)}. "
                     "Restore the file at the path the registry records (or mount its disk), then "
                     "reload; or skip it.</div>")
        else:
            what = "cropped to the detection box" if info.bbox else "whole image"
            q.append(f"<img src=\"/query/{info.id}.jpg\" alt=\"Image #{info.id}, {e(what)}\">"
                     f"<div class=\"links\"><a href=\"/photo/{info.id}.jpg\" target=\"_blank\" rel=\"noopener\" "
                     f"accesskey=\"f\">Full photo <kbd>Alt+F</kbd></a> <span class=\"muted\">· {e(what)}</span></div>")
        q.append("</section>")
        parts.append("<div class=\"summary\">")
        parts.append("".join(q))

        # what the registry knows about it
        size = f"{info.width} × {info.height} px" if info.width and info.height else "unknown"
        conf = "none" if info.confidence is None else f"{info.confidence:.2f}"
        meta = [("SHA-256", f"{info.sha256[:16]}…"), ("File", os.path.basename(info.path)),
                ("Station", info.station), ("Time", _fmt_time(info.recorded_at, self._tz)),
                ("Camera", info.camera or "—"), ("Flank", info.side or "unknown"),
                ("Detection", conf), ("Size", size)]
        m = ["<section class=\"card\" aria-label=\"About this image\"><h1>Image #%d</h1><dl class=\"meta\">" % info.id]
        for k, v in meta:
            title = f" title=\"{e(info.path)}\"" if k == "File" else ""
            m.append(f"<dt>{e(k)}</dt><dd{title}>{e(v)}</dd>")
        m.append("</dl>")
        if history:
            m.append("<ol class=\"history\" aria-label=\"Decisions on this image\">")
            for d in history[-6:]:
                m.append(f"<li>{e(d.decision)} {e(d.individual)} · {e(d.decided_by)} · "
                         f"{e(_fmt_time(d.decided_at, None))}</li>")
            m.append("</ol>")
        m.append("</section>")
        parts.append("".join(m))

        # none of the candidates: a new individual, or skip
        sex = values.get("sex", "")
        side = values.get("side", info.side or "")
        opts_sex = "".join(f"<option value=\"{v}\"{' selected' if sex == v else ''}>{t}</option>"
                           for v, t in (("", "unknown"), ("female", "female"), ("male", "male")))
        opts_side = "".join(f"<option value=\"{v}\"{' selected' if side == v else ''}>{t}</option>"
                            for v, t in (("", "unknown"), ("left", "left"), ("right", "right")))
        none = ["<section class=\"card none\" aria-label=\"None of the candidates\"><h2>None of these?</h2>"]
        if not problem:
            none.append(
                f"<form method=\"post\" action=\"/decide\"><input type=\"hidden\" name=\"token\" value=\"{e(self.token)}\">"
                f"<input type=\"hidden\" name=\"image\" value=\"{info.id}\"><input type=\"hidden\" name=\"action\" value=\"new\">"
                f"<label for=\"code\">Code of the new individual <kbd>Alt+N</kbd></label>"
                f"<input id=\"code\" name=\"code\" maxlength=\"32\" placeholder=\"next free code\" accesskey=\"n\" "
                f"value=\"{e(values.get('code', ''))}\" autocomplete=\"off\" spellcheck=\"false\">"
                f"<div class=\"row\"><div><label for=\"sex\">Sex</label><select id=\"sex\" name=\"sex\">{opts_sex}</select></div>"
                f"<div><label for=\"side\">Flank</label><select id=\"side\" name=\"side\">{opts_side}</select></div></div>"
                "<button type=\"submit\" class=\"new\">New individual</button></form>")
        none.append(f"<a class=\"button skip\" href=\"{e(skip_href)}\" accesskey=\"s\">Skip <kbd>Alt+S</kbd></a>")
        none.append("</section>")
        parts.append("".join(none))
        parts.append("</div>")

        # the candidates
        if not problem:
            parts.append(self._candidates_html(info, latest_by_ind))
        return self._page(f"Image #{info.id}", "".join(parts), position=position)

    def _candidates_html(self, info: ImageInfo, latest_by_ind: dict) -> str:
        try:
            cands = self.candidates_for(info)
        except Exception as exc:  # the matcher's failure is shown, not a 500
            log.exception("candidates for image #%s failed", info.id)
            return (f"<div class=\"error\" role=\"alert\">The matcher failed on this image: "
                    f"{e(type(exc).__name__)}: {e(exc)}. Create a new individual or skip it.</div>")
        if not cands:
            return ("<div class=\"notice\">No candidates: the matcher found no known individual "
                    "like this one. Create a new individual, or skip the image.</div>")
        out = [f"<h2 class=\"muted\">Top {min(self.top, len(cands))} of {len(cands)} candidate(s) — "
               "this image on the left, the candidate's reference image on the right</h2><p></p>"]
        for k, c in enumerate(cands[: self.top], start=1):
            side = c.side or info.side
            prev = latest_by_ind.get(c.individual)
            badge = (f"<span class=\"badge {e(prev.decision)}\">{e(prev.decision.replace('_', ' '))} by "
                     f"{e(prev.decided_by)}</span>") if prev is not None else ""
            fields = {"rank": c.rank, "individual": c.individual}
            confirm = self._form(info, "confirm", fields,
                                 f"✓ Confirm {e(c.individual)}" + (f" <kbd>Alt+{k}</kbd>" if k <= 9 else ""),
                                 "confirm", str(k) if k <= 9 else None)
            reject = self._form(info, "reject", fields, f"✗ Not {e(c.individual)}", "reject")
            out.append(
                f"<section class=\"card cand\" aria-label=\"Candidate {c.rank}: {e(c.individual)}\"><header>"
                f"<div class=\"title\"><span class=\"rank\">{c.rank}</span><strong class=\"code\">{e(c.individual)}</strong>"
                f" <span class=\"muted\">· {e(side or 'unknown')} flank · score {e(_fmt_score(c.score))} · "
                f"{len(c.pairs)} matched keypoint(s)</span>{badge}</div>"
                f"<div class=\"actions\">{confirm}{reject}</div></header>")
            ref = None if c.reference_image is None else self._image_info(c.reference_image)
            if c.reference_image is None:
                out.append("<div class=\"notice\">The matcher gave no reference image for this candidate.</div>")
            elif ref is None:
                out.append(f"<div class=\"notice\">The reference image #{c.reference_image} is not in the "
                           "registry.</div>")
            else:
                try:
                    self._load(ref)
                except _Unavailable as exc:
                    out.append(f"<div class=\"notice\">The reference image #{ref.id} of {e(c.individual)} "
                               f"cannot be shown: {e(exc)}.</div>")
                else:
                    out.append(
                        f"<figure><img src=\"/match/{info.id}/{c.rank}.png\" alt=\"Image #{info.id} beside "
                        f"reference image #{ref.id} of {e(c.individual)}, {len(c.pairs)} matched keypoints\">"
                        f"<figcaption>left: image #{info.id} · right: {e(c.individual)}, reference image "
                        f"#{ref.id} ({e(ref.station)}, {e(_fmt_time(ref.recorded_at, self._tz))}) · "
                        f"<a href=\"/photo/{ref.id}.jpg\" target=\"_blank\" rel=\"noopener\">full reference photo</a>"
                        "</figcaption></figure>")
            out.append("</section>")
        return "".join(out)

    # ---- images ----------------------------------------------------------------------------

    def photo_jpeg(self, info: ImageInfo, *, crop: bool = False) -> bytes:
        """The JPEG of a registered image (the detection box with ``crop``); raises
        :class:`_Unavailable` when its file cannot be shown."""
        img = self._load(info)
        if crop:
            x0, y0, x1, y1 = crop_region(img.shape, info.bbox)
            img = img[y0:y1, x0:x1]
            longest = max(img.shape[:2])
            if longest > 1600:
                img = _resize(img, 1600 / longest)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise _Unavailable("the image could not be encoded")
        return buf.tobytes()

    def match_png(self, info: ImageInfo, rank: int) -> Optional[bytes]:
        """The PNG of the figure of candidate ``rank`` of an image; None when there is none."""
        try:
            cands = self.candidates_for(info)
        except Exception:
            return None
        cand = next((c for c in cands if c.rank == rank), None)
        if cand is None or cand.reference_image is None:
            return None
        ref = self._image_info(cand.reference_image)
        if ref is None:
            return None
        q_img, r_img = self._load(info), self._load(ref)
        pairs = np.asarray(cand.pairs, dtype=float).reshape(-1, 4)
        qr = crop_region(q_img.shape, info.bbox, pairs[:, :2])
        rr = crop_region(r_img.shape, ref.bbox, pairs[:, 2:])
        fig = match_figure(q_img, qr, r_img, rr, pairs)
        ok, buf = cv2.imencode(".png", fig, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        return buf.tobytes() if ok else None

    # ---- decisions -------------------------------------------------------------------------

    def decide(self, info: ImageInfo, form: dict) -> tuple[Optional[str], Optional[str]]:
        """Record the decision of a (checked) form. Returns (where to go next, None) or
        (None, error message)."""
        action = form.get("action", "")
        if action in ("confirm", "reject"):
            try:
                rank = int(form.get("rank", ""))
            except ValueError:
                return None, "The form names no candidate rank. Reload the page and try again."
            try:
                cands = self.candidates_for(info)
            except Exception as exc:
                return None, f"The matcher failed on this image ({type(exc).__name__}: {exc})."
            cand = next((c for c in cands if c.rank == rank), None)
            if cand is None or cand.individual != form.get("individual"):
                return None, ("The candidates of this image changed since the page was shown; nothing "
                              "was recorded. Look at them again.")
            decision = "confirmed" if action == "confirm" else "rejected"
            with self._db:
                self.registry.record_decision(info.id, decision, individual=cand.individual,
                                              side=cand.side, score=cand.score, rank=cand.rank,
                                              method="review", by=self.reviewer)
        elif action == "new":
            code = form.get("code", "").strip() or None
            sex = form.get("sex", "") or None
            side = form.get("side", "") or None
            if sex is not None and sex not in _SEXES:
                return None, f"Sex {sex!r}: choose female, male or unknown."
            if side is not None and side not in _SIDES:
                return None, f"Flank {side!r}: choose left, right or unknown."
            with self._db:
                self.registry.record_decision(info.id, "new_individual", side=side, new_code=code,
                                              sex=sex, method="review", by=self.reviewer)
        else:
            return None, f"Unknown action {action!r}."
        if action == "reject":
            # a rejection leaves the image unidentified: stay on it (confirm another candidate,
            # create a new individual or skip)
            return f"/image/{info.id}?done={info.id}", None
        with self._state:
            self._done.add(info.id)
        nxt = self.next_after(info.id)
        return (f"/image/{nxt}?done={info.id}" if nxt is not None else f"/?done={info.id}"), None


# --------------------------------------------------------------------------------------------
# the request handler
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "pardus-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after this many seconds

    @property
    def app(self) -> ReviewServer:
        return self.server.app

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)

    # ---- responses -------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str, *, cache: str = "no-store",
              headers: Optional[dict] = None, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
                         "form-action 'self'; frame-ancestors 'none'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", cache)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _message(self, status: int, title: str, text: str, head: bool = False) -> None:
        body = self.app._page(title, f"<h1>{e(title)}</h1><p>{e(text)}</p><p><a href=\"/\">Back to the queue</a></p>")
        self._send(status, body, "text/html; charset=utf-8", head=head)

    def _not_found(self, head: bool = False) -> None:
        self._message(404, "Not found", "There is no such page or image on this review server.", head)

    def _host_ok(self) -> bool:
        host = self.headers.get("Host")
        if host is None or not self.app.loopback:
            return True
        return host.strip().lower() in self.app._allowed_hosts

    def _origin(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host.strip().lower()}" if host else f"http://{self.app._netloc.lower()}"

    def _same_origin(self) -> bool:
        expected = self._origin()
        origin = self.headers.get("Origin")
        if origin is not None:
            return origin.strip().lower() == expected
        referer = self.headers.get("Referer")
        if referer is not None:
            try:
                p = urlsplit(referer.strip())
            except ValueError:
                return False
            return f"{p.scheme}://{p.netloc}".lower() == expected
        return True  # neither sent (not a browser): the token alone decides

    # ---- GET -------------------------------------------------------------------------------

    def do_GET(self):
        self._get(head=False)

    def do_HEAD(self):
        self._get(head=True)

    def _get(self, head: bool) -> None:
        try:
            if not self._host_ok():
                return self._message(421, "Wrong host", "This review server answers only to its own address.", head)
            try:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query, max_num_fields=10)
            except ValueError:
                return self._not_found(head)
            for name, rx in _ROUTES_GET:
                m = rx.match(path)
                if m:
                    return getattr(self, f"_get_{name}")(*m.groups(), query=query, head=head)
            return self._not_found(head)
        except Exception:  # never a traceback to the browser
            log.exception("GET %s failed", self.path)
            return self._message(500, "Server error", "This page failed; the server log says why.", head)

    @staticmethod
    def _done_arg(query) -> Optional[int]:
        v = query.get("done", [None])[-1]
        return int(v) if v is not None and v.isdigit() and len(v) <= 12 else None

    def _get_queue(self, *, query, head):
        self._send(200, self.app.queue_page(self._done_arg(query)), "text/html; charset=utf-8", head=head)

    def _get_image(self, image_id, *, query, head):
        info = self.app._image_info(int(image_id))
        if info is None:
            return self._not_found(head)
        self._send(200, self.app.image_page(info, done=self._done_arg(query)), "text/html; charset=utf-8", head=head)

    def _get_photo(self, image_id, *, query, head, crop=False):
        info = self.app._image_info(int(image_id))
        if info is None:
            return self._not_found(head)
        try:
            body = self.app.photo_jpeg(info, crop=crop)
        except _Unavailable as exc:
            return self._message(404, "Image unavailable", f"Image #{info.id}: {exc}.", head)
        self._send(200, body, "image/jpeg", cache="private, max-age=600", head=head)

    def _get_query(self, image_id, *, query, head):
        self._get_photo(image_id, query=query, head=head, crop=True)

    def _get_match(self, image_id, rank, *, query, head):
        info = self.app._image_info(int(image_id))
        if info is None:
            return self._not_found(head)
        try:
            body = self.app.match_png(info, int(rank))
        except _Unavailable as exc:
            return self._message(404, "Image unavailable", f"{exc}.", head)
        if body is None:
            return self._not_found(head)
        self._send(200, body, "image/png", head=head)

    def _get_css(self, *, query, head):
        self._send(200, CSS.encode("utf-8"), "text/css; charset=utf-8", cache="private, max-age=600", head=head)

    def _get_favicon(self, *, query, head):
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "private, max-age=86400")
        self.end_headers()

    # ---- POST ------------------------------------------------------------------------------

    def do_POST(self):
        try:
            self._post()
        except Exception:
            log.exception("POST %s failed", self.path)
            self.close_connection = True
            self._message(500, "Server error", "The decision failed; the server log says why. "
                          "Check the image's decisions before deciding again.")

    def _read_form(self) -> Optional[dict]:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._message(411, "Length required", "Send the form with a Content-Length.")
            return None
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._message(411, "Length required", "Send the form with a Content-Length.")
            return None
        if n < 0 or n > _MAX_BODY:
            self.close_connection = True
            self._message(413, "Too large", "This form is larger than any form of this server.")
            return None
        raw = self.rfile.read(n)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self._message(415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.")
            return None
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                              max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            self._message(400, "Bad form", "The form could not be read.")
            return None
        if any(len(v) != 1 for v in fields.values()):
            self._message(400, "Bad form", "A field of the form was given twice.")
            return None
        return {k: v[0] for k, v in fields.items()}

    def _post(self) -> None:
        if not self._host_ok():
            self.close_connection = True
            return self._message(421, "Wrong host", "This review server answers only to its own address.")
        if urlsplit(self.path).path != "/decide":
            self.close_connection = True
            return self._message(404, "Not found", "Decisions are posted to /decide.")
        form = self._read_form()
        if form is None:
            return
        token = form.get("token", "")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.app.token.encode()):
            log.warning("POST /decide refused: wrong or missing token (from %s)", self.address_string())
            return self._message(403, "Refused", "This form does not come from this review server's "
                                 "page (wrong or missing token): nothing was recorded. Reload the page.")
        if not self._same_origin():
            log.warning("POST /decide refused: Origin %r / Referer %r", self.headers.get("Origin"),
                        self.headers.get("Referer"))
            return self._message(403, "Refused", "This form was sent from another site: nothing was "
                                 "recorded.")
        image = form.get("image", "")
        if not (image.isdigit() and len(image) <= 12):
            return self._message(400, "Bad form", "The form names no image.")
        info = self.app._image_info(int(image))
        if info is None:
            return self._not_found()
        try:
            target, error = self.app.decide(info, form)
        except RegistryError as exc:
            target, error = None, str(exc)
        if error is not None:
            values = {k: form.get(k, "") for k in ("code", "sex", "side")}
            body = self.app.image_page(info, error=f"Nothing was recorded: {error}", values=values)
            return self._send(400, body, "text/html; charset=utf-8")
        self._send(303, b"", "text/plain; charset=utf-8", headers={"Location": target})
