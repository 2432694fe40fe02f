"""Capture histories for spatially explicit capture–recapture, as the R package secr reads them.

A capture file (secr/DENSITY text format, or CSV with the same columns) has one row per
detection: ``Session ID Occasion Detector [covariates...]`` (``fmt="trapID"``) or
``Session ID Occasion x y [covariates...]`` (``fmt="XY"``); ``#`` starts a comment. A detector
file has one row per detector: ``Detector x y [usage] [/ covariates]`` — the layout read by
secr's ``read.traps`` and written by ``write.traps``.

:func:`read_capthist` matches secr's ``read.capthist`` / ``make.capthist`` (secr 5.5.0):

* animals are ordered as secr's ``sortrows = TRUE`` orders them: numerically when every ID is
  a number, else by sorting the labels (Python's code-point order; R sorts in the locale's
  collation, which can differ for mixed-case labels);
* sessions are ordered numerically when every label is a number, else sorted;
* the number of occasions is ``noccasions`` when given, else the number of usage columns of
  the detector file, else the highest occasion in the session;
* an individual covariate takes the first non-missing value of that animal's rows (rows sorted
  by occasion), as ``make.capthist`` does; text covariates stay text.

Where secr only warns and silently drops detections (a second detection of one animal on one
occasion at exclusive ``multi``/``single`` detectors) this reader stops with a
:class:`CaptureDataError` naming the file and line, because a silently dropped detection changes
every estimate downstream.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DETECTORS",
    "CaptHist",
    "CaptureDataError",
    "read_capthist",
    "read_capthist_sessions",
    "read_traps",
    "write_capthist",
    "Traps",
    "COUNT_ROWS",
    "CaptHistSummary",
    "moves",
    "summary",
]

#: Detector types read here (secr's point detectors).
DETECTORS = ("multi", "single", "proximity", "count")
_EXCLUSIVE = ("multi", "single")  # at most one detection per animal per occasion
_MISSING = ("NA", "")


class CaptureDataError(ValueError):
    """A capture or detector file that cannot be read as it stands.

    The message names the file and line, says what is wrong and how to fix it.
    """


def _err(path, line, problem: str, fix: str) -> CaptureDataError:
    where = f"{path}:{line}" if line is not None else f"{path}"
    return CaptureDataError(f"{where}: {problem}. Fix: {fix}")


# --------------------------------------------------------------------------------------------
# low-level line reading
# --------------------------------------------------------------------------------------------


def _is_csv(path) -> bool:
    return str(path).lower().endswith(".csv")


def _records(path) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """(line number, fields) of each data line, and the comment lines (without ``#``).

    Text files split on white space, ``.csv`` files on commas (fields stripped, quotes removed),
    ``#`` starts a comment in both, as secr's ``read.table(comment.char = "#")``.
    """
    csv = _is_csv(path)
    rows: list[tuple[int, list[str]]] = []
    comments: list[str] = []
    try:
        fh = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise CaptureDataError(f"{path}: cannot open ({exc.strerror}). Fix: give the path of an existing "
                               "capture or detector file") from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.rstrip("\r\n")
            if "#" in text:
                text, _, comment = text.partition("#")
                comments.append(comment.strip())
            if not text.strip():
                continue
            if csv:
                fields = [f.strip().strip('"').strip("'") for f in text.split(",")]
            else:
                fields = [f.strip('"').strip("'") for f in text.split()]
            rows.append((lineno, fields))
    return rows, comments


def _float(text: str):
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _int_token(text: str):
    try:
        return int(text)
    except ValueError:
        v = _float(text)
        if v is not None and v == int(v):
            return int(v)
        return None


def _secr_order(labels: Sequence[str]) -> list[str]:
    """secr's row/session order: numeric if every label is a number, else sorted labels."""
    labels = list(labels)
    nums = [_float(x) for x in labels]
    if all(v is not None for v in nums):
        return [x for _, x in sorted(zip(nums, labels), key=lambda t: t[0])]
    return sorted(labels)


# --------------------------------------------------------------------------------------------
# detectors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Traps:
    """A detector layout as secr's ``read.traps`` returns it.

    ``xy`` (K × 2, metres), ``ids`` (detector labels, file order), ``usage`` (K × S: 0/1 or
    effort, or None when every detector was used on every occasion), ``covariates`` (detector
    covariates from the fields after ``/``, name → array of length K).
    """

    ids: tuple[str, ...]
    xy: np.ndarray
    detector: str = "multi"
    usage: np.ndarray | None = None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    path: str | None = None
    lines: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)


def _parse_usage(path, rows_usage, binary_usage):
    """Usage matrix from the fields between ``x y`` and ``/`` of each detector line.

    secr's ``read.traps(binary.usage = TRUE)`` (its default) joins the fields, drops blanks and
    commas and reads every character as one occasion (``> 0`` is used): ``11011`` and
    ``1 1 0 1 1`` are the same. With ``binary.usage = FALSE`` each white-space field is one
    occasion's effort, which is how ``write.traps`` writes non-binary usage. ``binary_usage=None``
    picks the binary reading when every field consists of the characters 0 and 1 only and either
    every field is one character or every line has one field (``1 0 1`` or ``101``), else the
    effort reading (so ``1 10 1`` is three occasions of effort 1, 10, 1).
    """
    if not any(u for _, u in rows_usage):
        return None
    tokens_all = [t for _, u in rows_usage for t in u]
    if binary_usage is None:
        binary_usage = all(set(t) <= {"0", "1"} for t in tokens_all) and (
            all(len(t) == 1 for t in tokens_all) or all(len(u) == 1 for _, u in rows_usage))
    out = []
    for lineno, fields in rows_usage:
        if binary_usage:
            chars = "".join(fields).replace(",", "").replace("\t", "")
            if not chars or not chars.isdigit():
                raise _err(path, lineno, f"usage {' '.join(fields)!r} is not a string of digits (one "
                           "per occasion, as secr's read.traps with binary.usage = TRUE reads it)",
                           "write usage as 0/1 per occasion (e.g. 11011), or read effort values with "
                           "binary_usage=False")
            out.append([1.0 if int(c) > 0 else 0.0 for c in chars])
        else:
            vals = []
            for t in fields:
                v = _float(t.replace(",", ""))
                if v is None or v < 0:
                    raise _err(path, lineno, f"usage field {t!r} is not a non-negative number",
                               "give one effort value (>= 0) per occasion after x y")
                vals.append(v)
            out.append(vals)
    lengths = {len(u) for u in out}
    if len(lengths) != 1:
        first = len(out[0])
        bad = next(i for i, u in enumerate(out) if len(u) != first)
        raise _err(path, rows_usage[bad][0], f"usage gives {len(out[bad])} occasions here but "
                   f"{first} on line {rows_usage[0][0]} (secr: 'usage fields suggest varying number "
                   "of occasions')", "give every detector one usage value per occasion")
    return np.asarray(out, dtype=float)


def read_traps(trapfile, detector: str = "multi", *, covnames=None, binary_usage=None) -> Traps:
    """Read a detector file ``Detector x y [usage] [/ covariates]`` as secr's ``read.traps``.

    Text files are white-space separated, ``.csv`` files comma separated (usage then one
    occasion per column); a header row ``Detector,x,y,...`` is skipped. ``binary_usage``: see :func:`_parse_usage` (``None`` = choose from the
    fields). Detector covariates follow a ``/``; ``covnames`` names them (else the names after
    ``/`` in a ``# Detector x y / name ...`` header comment as ``write.traps`` writes it, else
    ``V1, V2, ...`` as R's ``read.table``).
    """
    if detector not in DETECTORS:
        raise CaptureDataError(f"{trapfile}: detector type {detector!r} is not supported. Fix: use "
                               f"one of {', '.join(DETECTORS)}")
    rows, comments = _records(trapfile)
    if not rows:
        raise _err(trapfile, None, "no detector lines", "give one line 'Detector x y [usage]' per detector")
    if len(rows[0][1]) >= 3 and rows[0][1][1].lower() == "x" and rows[0][1][2].lower() == "y":
        rows = rows[1:]  # a CSV-style header row 'Detector,x,y,...'
        if not rows:
            raise _err(trapfile, None, "no detector lines", "give one line 'Detector x y [usage]' per detector")
    ids, xy, lines, usage_rows, cov_rows = [], [], [], [], []
    seen: dict[str, int] = {}
    for lineno, fields in rows:
        joined = fields
        if "/" in " ".join(fields):
            text = " ".join(fields)
            before, _, after = text.partition("/")
            joined = before.split()
            cov_rows.append((lineno, after.split()))
        else:
            cov_rows.append((lineno, []))
        if len(joined) < 3:
            raise _err(trapfile, lineno, f"{len(joined)} field(s); a detector line needs at least 3 "
                       "(Detector x y)", "write 'Detector x y [usage]' on each line")
        label = joined[0]
        x, y = _float(joined[1]), _float(joined[2])
        if x is None or y is None:
            raise _err(trapfile, lineno, f"coordinates {joined[1]!r} {joined[2]!r} are not numbers",
                       "give x and y in metres after the detector label")
        if label in seen:
            raise _err(trapfile, lineno, f"detector {label!r} is listed twice (first on line "
                       f"{seen[label]})", "give each detector a unique label")
        seen[label] = lineno
        ids.append(label)
        xy.append((x, y))
        lines.append(lineno)
        usage_rows.append((lineno, [t for t in joined[3:] if t != ""]))
    has_usage = [bool(u) for _, u in usage_rows]
    if any(has_usage) and not all(has_usage):
        bad = usage_rows[has_usage.index(False)][0]
        raise _err(trapfile, bad, "this detector has no usage fields but others do",
                   "give usage (one value per occasion) for every detector, or for none")
    usage = _parse_usage(trapfile, usage_rows, binary_usage)
    covs: dict[str, np.ndarray] = {}
    ncov = {len(c) for _, c in cov_rows}
    if ncov != {0}:
        if len(ncov) != 1:
            bad = next(ln for ln, c in cov_rows if len(c) != len(cov_rows[0][1]))
            raise _err(trapfile, bad, "number of detector covariates differs from the first line",
                       "give every detector the same covariates after '/'")
        k = ncov.pop()
        names = _names_after_slash(comments, k) if covnames is None else list(covnames)
        if len(names) != k:
            raise CaptureDataError(f"{trapfile}: {len(names)} covariate names for {k} detector "
                                   "covariate columns. Fix: give one name per column in covnames")
        for j, name in enumerate(names):
            covs[name] = _column([c[j] for _, c in cov_rows])
    return Traps(ids=tuple(ids), xy=np.asarray(xy, dtype=float).reshape(-1, 2), detector=detector,
                 usage=usage, covariates=covs, path=str(trapfile), lines=tuple(lines))


def _names_after_slash(comments, k):
    for c in comments:
        tok = c.split()
        if len(tok) >= 3 and tok[0].lower() in ("detector", "trapid", "trap") and "/" in tok:
            names = tok[tok.index("/") + 1:]
            if len(names) == k:
                return names
    return [f"V{j + 1}" for j in range(k)]


def _column(values: Sequence[str]) -> np.ndarray:
    """A covariate column: float (``NA`` → nan) when every value is numeric, else text
    (``NA`` → None), as R's ``read.table`` type guessing."""
    nums = [None if v in _MISSING else _float(v) for v in values]
    if all(n is not None or v in _MISSING for n, v in zip(nums, values)):
        return np.asarray([np.nan if n is None else n for n in nums], dtype=float)
    return np.asarray([None if v in _MISSING else v for v in values], dtype=object)


# --------------------------------------------------------------------------------------------
# capture histories
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CaptHist:
    """One session's capture histories, secr's single-session ``capthist``.

    * ``counts`` — int array n × S × K: detections of animal i on occasion s at detector k
      (secr's 3-D capthist array; 0/1 for ``proximity``, at most one nonzero per animal and
      occasion for ``multi``/``single``).
    * ``ids`` — animal labels in secr's row order; ``session`` — session label.
    * ``traps`` — K × 2 detector coordinates (metres); ``trap_ids`` — detector labels.
    * ``usage`` — K × S usage/effort or None (all used); ``detector`` — detector type.
    * ``covariates`` — individual covariates, name → array of length n;
      ``trap_covariates`` — detector covariates, name → array of length K.
    """

    session: str
    ids: tuple[str, ...]
    counts: np.ndarray
    traps: np.ndarray
    trap_ids: tuple[str, ...]
    detector: str = "multi"
    usage: np.ndarray | None = None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    trap_covariates: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        c = np.asarray(self.counts)
        if c.ndim != 3 or c.shape[0] != len(self.ids) or c.shape[2] != len(self.trap_ids):
            raise ValueError(f"counts has shape {c.shape}; expected (n={len(self.ids)}, S, "
                             f"K={len(self.trap_ids)})")
        if self.usage is not None and np.asarray(self.usage).shape != (c.shape[2], c.shape[1]):
            raise ValueError(f"usage has shape {np.asarray(self.usage).shape}; expected "
                             f"(K={c.shape[2]}, S={c.shape[1]})")

    @property
    def n(self) -> int:
        """Number of animals detected (secr ``nrow(capthist)``)."""
        return int(self.counts.shape[0])

    @property
    def noccasions(self) -> int:
        return int(self.counts.shape[1])

    @property
    def ndetectors(self) -> int:
        return int(self.counts.shape[2])

    @property
    def ndetections(self) -> int:
        """Total detections (secr ``sum(abs(capthist))``)."""
        return int(self.counts.sum())

    def used(self) -> np.ndarray:
        """K × S boolean: detector k operating on occasion s (usage > 0; all True without usage)."""
        if self.usage is None:
            return np.ones((self.ndetectors, self.noccasions), dtype=bool)
        return np.asarray(self.usage) > 0


def _read_capture_rows(captfile, fmt):
    rows, comments = _records(captfile)
    ncore = 4 if fmt == "trapID" else 5
    header_names = None
    # CSV (or text) may start with a header row: its occasion field is not a number
    if rows and _int_token(rows[0][1][2] if len(rows[0][1]) > 2 else "") is None \
            and len(rows[0][1]) >= ncore and rows[0][1][2].lower().startswith("occ"):
        header_names = rows[0][1][ncore:]
        rows = rows[1:]
    if header_names is None:
        for c in comments:
            tok = c.split()
            if len(tok) > ncore and tok[0].lower() == "session" and tok[2].lower().startswith("occ"):
                header_names = tok[ncore:]
    return rows, header_names, ncore


def read_capthist_sessions(captfile, trapfile, detector: str = "multi", *, fmt: str = "trapID",
                           covnames=None, noccasions=None, binary_usage=None) -> dict[str, CaptHist]:
    """Like :func:`read_capthist` but always a dict session label → :class:`CaptHist`
    (ordered as secr orders sessions), also for a single session."""
    if fmt not in ("trapID", "XY"):
        raise CaptureDataError(f"{captfile}: fmt {fmt!r} not recognised. Fix: use fmt='trapID' "
                               "(detector labels) or fmt='XY' (detector coordinates)")
    if detector not in DETECTORS:
        raise CaptureDataError(f"{captfile}: detector type {detector!r} is not supported. Fix: use one "
                               f"of {', '.join(DETECTORS)}")
    rows, header_names, ncore = _read_capture_rows(captfile, fmt)
    if not rows:
        raise _err(captfile, None, "no detections", "give one line 'Session ID Occasion Detector' per detection")
    nfields = len(rows[0][1])
    for lineno, f in rows:
        if len(f) < ncore:
            want = "Session ID Occasion Detector" if fmt == "trapID" else "Session ID Occasion x y"
            raise _err(captfile, lineno, f"{len(f)} field(s); a detection needs {ncore} ({want})",
                       f"write '{want} [covariates]' on each line")
        if len(f) != nfields:
            raise _err(captfile, lineno, f"{len(f)} fields but the first detection (line "
                       f"{rows[0][0]}) has {nfields}", "give every detection the same columns "
                       "(use NA for a missing covariate)")
    ncov = nfields - ncore
    if covnames is not None:
        names = list(covnames)
        if len(names) != ncov:
            raise CaptureDataError(f"{captfile}: {len(names)} covariate names for {ncov} covariate "
                                   "column(s) (secr: 'number of covariate names does not match'). "
                                   "Fix: give one name per extra column in covnames")
    elif header_names is not None and len(header_names) == ncov:
        names = list(header_names)
    else:
        names = [f"V{ncore + j + 1}" for j in range(ncov)]  # R read.table's default names

    sessions_raw: dict[str, list] = {}
    for lineno, f in rows:
        sessions_raw.setdefault(f[0], []).append((lineno, f))
    order = _secr_order(list(sessions_raw))

    # detector layouts: one file for all sessions, or one per session (secr: a vector of files)
    if isinstance(trapfile, (str, os.PathLike)):
        trap_list = [read_traps(trapfile, detector, binary_usage=binary_usage)] * len(order)
    else:
        tf = list(trapfile)
        if len(tf) == 1:
            tf = tf * len(order)
        if len(tf) != len(order):
            raise CaptureDataError(f"{captfile}: {len(order)} sessions ({', '.join(order)}) but "
                                   f"{len(tf)} detector files (secr: \"multi-session 'traps' list does "
                                   "not match 'captures'\"). Fix: give one detector file, or one per session")
        trap_list = [read_traps(t, detector, binary_usage=binary_usage) for t in tf]
    if noccasions is None or isinstance(noccasions, (int, np.integer)):
        nocc_list = [noccasions] * len(order)
    else:
        nocc_list = list(noccasions)
        if len(nocc_list) != len(order):
            raise CaptureDataError(f"{captfile}: noccasions has {len(nocc_list)} values for "
                                   f"{len(order)} sessions. Fix: give one number, or one per session")

    out: dict[str, CaptHist] = {}
    for sess, traps, nocc in zip(order, trap_list, nocc_list):
        out[sess] = _make_session(captfile, sess, sessions_raw[sess], traps, fmt, nocc, names, ncore)
    return out


def _make_session(captfile, session, rows, traps: Traps, fmt, noccasions, covnames, ncore):
    detector = traps.detector
    K = len(traps)
    index = {t: k for k, t in enumerate(traps.ids)}
    xyindex = {(float(x), float(y)): k for k, (x, y) in enumerate(traps.xy)}
    parsed = []  # (lineno, id, occasion, k, covariate fields)
    for lineno, f in rows:
        occ = _int_token(f[2])
        if occ is None:
            raise _err(captfile, lineno, f"occasion {f[2]!r} is not a whole number",
                       "number occasions 1, 2, ... in the third column")
        if fmt == "trapID":
            k = index.get(f[3])
            if k is None:
                raise _err(captfile, lineno, f"detector {f[3]!r} is not in the detector file "
                           f"{traps.path} (secr: 'failed to match some capture locations to detector "
                           "sites')", f"correct the detector label, or add detector {f[3]!r} with its "
                           f"x y to {traps.path}")
        else:
            x, y = _float(f[3]), _float(f[4])
            k = None if x is None or y is None else xyindex.get((x, y))
            if k is None:
                raise _err(captfile, lineno, f"location ({f[3]}, {f[4]}) is not the location of any "
                           f"detector in {traps.path} (secr: 'failed to match some capture locations "
                           "to detector sites')", "give the exact x y of the detector that made the "
                           "detection, or use fmt='trapID' with detector labels")
        parsed.append((lineno, f[1], occ, k, f[ncore:]))
    maxocc = max(p[2] for p in parsed)
    if noccasions is not None:
        S = int(noccasions)
        src = "noccasions"
    elif traps.usage is not None:
        S = traps.usage.shape[1]
        src = f"the {S} usage columns of {traps.path}"
    else:
        S = maxocc
        src = None
    if traps.usage is not None and traps.usage.shape[1] != S:
        raise CaptureDataError(f"{traps.path}: usage has {traps.usage.shape[1]} occasions but "
                               f"noccasions = {S}. Fix: give one usage value per occasion, or drop "
                               "noccasions")
    for lineno, aid, occ, k, _ in parsed:
        if occ < 1 or occ > S:
            if occ <= 0:
                fix = ("number occasions from 1 (secr's negative occasions for animals removed "
                       "and occasion 0 for mark-resight are not supported)")
            else:
                fix = (f"correct the occasion, or {'raise noccasions' if src == 'noccasions' else 'add usage columns'}"
                       if src else "correct the occasion")
            raise _err(captfile, lineno, f"occasion {occ} of animal {aid!r} is outside 1..{S}"
                       + (f" ({src})" if src else ""), fix)
    ids = _secr_order(list(dict.fromkeys(p[1] for p in parsed)))
    row = {a: i for i, a in enumerate(ids)}
    counts = np.zeros((len(ids), S, K), dtype=np.int64)
    first_line: dict[tuple, int] = {}
    used = np.ones((K, S), dtype=bool) if traps.usage is None else traps.usage > 0
    for lineno, aid, occ, k, _ in parsed:
        i, s = row[aid], occ - 1
        if not used[k, s]:
            raise _err(captfile, lineno, f"animal {aid!r} detected at detector {traps.ids[k]!r} on "
                       f"occasion {occ}, but the usage in {traps.path} line {traps.lines[k]} says "
                       "that detector was not in use then", "correct the detection, or the usage "
                       "of that detector on that occasion")
        if detector in _EXCLUSIVE:
            key = ("animal", i, s)
            if key in first_line:
                raise _err(captfile, lineno, f"animal {aid!r} detected a second time on occasion "
                           f"{occ} (first on line {first_line[key]}); a {detector!r} detector "
                           "catches an animal at most once per occasion (secr would drop the repeat "
                           "with a warning)", "remove the repeat, or read the data as "
                           "detector='proximity' or 'count'")
            first_line[key] = lineno
        if detector == "single":
            key = ("trap", k, s)
            if key in first_line:
                raise _err(captfile, lineno, f"two animals at single-catch detector "
                           f"{traps.ids[k]!r} on occasion {occ} (the other on line "
                           f"{first_line[key]})", "correct the detection, or read the data as "
                           "detector='multi'")
            first_line[key] = lineno
        if detector == "proximity":
            key = ("prox", i, s, k)
            if key in first_line:
                raise _err(captfile, lineno, f"animal {aid!r} detected twice at proximity detector "
                           f"{traps.ids[k]!r} on occasion {occ} (first on line {first_line[key]}); "
                           "binary proximity detectors record presence only", "remove the repeat, "
                           "or read the data as detector='count'")
            first_line[key] = lineno
        counts[i, s, k] += 1
    # individual covariates: first non-missing value per animal, rows in occasion order
    covs: dict[str, np.ndarray] = {}
    if covnames:
        byanimal: dict[str, list] = {a: [] for a in ids}
        for p in sorted(parsed, key=lambda p: p[2]):  # stable: file order within an occasion
            byanimal[p[1]].append(p[4])
        for j, name in enumerate(covnames):
            vals = []
            for a in ids:
                v = next((r[j] for r in byanimal[a] if r[j] not in _MISSING), "NA")
                vals.append(v)
            covs[name] = _column(vals)
    return CaptHist(session=session, ids=tuple(ids), counts=counts, traps=traps.xy.copy(),
                    trap_ids=traps.ids, detector=detector,
                    usage=None if traps.usage is None else traps.usage.copy(),
                    covariates=covs, trap_covariates=dict(traps.covariates))


def read_capthist(captfile, trapfile, detector: str = "multi", *, fmt: str = "trapID",
                  covnames=None, noccasions=None, binary_usage=None):
    """Read capture histories and detectors as secr's ``read.capthist``.

    ``captfile``: ``Session ID Occasion Detector [covariates]`` per detection (``fmt="XY"``:
    ``Session ID Occasion x y [covariates]``); ``.csv`` files comma separated (an optional header
    row whose third field starts with ``Occ`` names the covariates). ``trapfile``: one detector
    file, or a sequence with one per session. ``detector``: ``multi``, ``single``,
    ``proximity`` or ``count``. ``covnames``: names of the covariate columns (default: the names
    in a ``# Session ID Occasion Detector name ...`` header comment as secr's
    ``write.capthist`` writes it, else R's ``V5, V6, ...``). ``noccasions``: one number or one
    per session. ``binary_usage``: how usage fields are read (see :func:`read_traps`).

    Returns a :class:`CaptHist` when the file has one session, else a dict session label →
    :class:`CaptHist` in secr's session order (secr returns a multi-session capthist list);
    :func:`read_capthist_sessions` always returns the dict. Raises :class:`CaptureDataError`.
    """
    out = read_capthist_sessions(captfile, trapfile, detector, fmt=fmt, covnames=covnames,
                                 noccasions=noccasions, binary_usage=binary_usage)
    if len(out) == 1:
        return next(iter(out.values()))
    return out


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _num(x) -> str:
    """Shortest text that reads back as the same float (integers without '.0')."""
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


def _cell(v) -> str:
    if v is None:
        return "NA"
    if isinstance(v, (float, np.floating, int, np.integer)):
        return _num(float(v))
    s = str(v)
    if not s or any(c.isspace() for c in s) or "," in s or "#" in s:
        raise ValueError(f"covariate value {s!r} cannot be written (empty, or contains blanks, "
                         "commas or '#')")
    return s


def write_capthist(ch, captfile, trapfile) -> None:
    """Write capture histories and detectors in secr's text format (``write.capthist``).

    ``ch``: a :class:`CaptHist` or a dict/list of them (several sessions, one detector layout —
    the first session's — as secr writes one trap file when layouts are identical; layouts that
    differ raise ValueError). Files ending ``.csv`` are written comma separated. Capture rows:
    ``Session ID Occasion Detector [covariates]``, one per detection, with a
    ``# Session ID Occasion Detector names...`` header comment; detector rows:
    ``Detector x y [usage...] [/ covariates]`` as ``write.traps``. Coordinates and usage are
    written at full precision (secr rounds to ``ndec = 2``), so :func:`read_capthist` reads back
    identical arrays.
    """
    sessions = list(ch.values()) if isinstance(ch, Mapping) else (list(ch) if isinstance(ch, (list, tuple)) else [ch])
    if not sessions:
        raise ValueError("no sessions to write")
    first = sessions[0]
    for s in sessions[1:]:
        same = (s.trap_ids == first.trap_ids and np.array_equal(s.traps, first.traps)
                and ((s.usage is None and first.usage is None)
                     or (s.usage is not None and first.usage is not None
                         and np.array_equal(s.usage, first.usage))))
        if not same:
            raise ValueError(f"session {s.session!r} has another detector layout or usage than "
                             f"session {first.session!r}; write the sessions to separate files")
    sep_c = "," if _is_csv(captfile) else " "
    sep_t = "," if _is_csv(trapfile) else " "
    for s in sessions:
        for lab in (s.session, *s.ids, *s.trap_ids):
            if not lab or any(c.isspace() for c in lab) or "," in lab or "#" in lab:
                raise ValueError(f"label {lab!r} cannot be written (empty, or contains blanks, "
                                 "commas or '#')")
    covnames = list(first.covariates)
    with open(captfile, "w", encoding="utf-8") as fh:
        fh.write("# Capture histories written by pardus.secr.write_capthist\n")
        fh.write("# " + " ".join(["Session", "ID", "Occasion", "Detector", *covnames]) + "\n")
        for s in sessions:
            if list(s.covariates) != covnames:
                raise ValueError(f"session {s.session!r} has covariates {list(s.covariates)}, "
                                 f"session {first.session!r} has {covnames}")
            for i, aid in enumerate(s.ids):
                covtxt = [_cell(s.covariates[c][i]) for c in covnames]
                for occ in range(s.noccasions):
                    for k in np.flatnonzero(s.counts[i, occ]):
                        for _ in range(int(s.counts[i, occ, k])):
                            fh.write(sep_c.join([s.session, aid, str(occ + 1), s.trap_ids[k],
                                                 *covtxt]) + "\n")
    tcov = list(first.trap_covariates)
    with open(trapfile, "w", encoding="utf-8") as fh:
        fh.write("# Detector locations written by pardus.secr.write_capthist\n")
        fh.write("# Detector x y" + (" / " + " ".join(tcov) if tcov else "") + "\n")
        for k, lab in enumerate(first.trap_ids):
            fields = [lab, _num(first.traps[k, 0]), _num(first.traps[k, 1])]
            if first.usage is not None:
                fields += [_num(u) for u in first.usage[k]]
            line = sep_t.join(fields)
            if tcov:
                line += " / " + " ".join(_cell(first.trap_covariates[c][k]) for c in tcov)
            fh.write(line + "\n")


# --------------------------------------------------------------------------------------------
# summaries (secr's summary.capthist, moves, dbar, RPSV, trapsPerAnimal)
# --------------------------------------------------------------------------------------------

#: Row names of :attr:`CaptHistSummary.counts`, as secr's ``summary(capthist)$counts``.
COUNT_ROWS = ("n", "u", "f", "M(t+1)", "losses", "detections", "detectors visited", "detectors used")


@dataclass(frozen=True, eq=False)
class CaptHistSummary:
    """secr's ``summary(capthist, moves = TRUE, tpa = TRUE)`` for one session.

    ``counts``: row name (:data:`COUNT_ROWS`) → int array of length S + 1 (occasions 1..S, then
    secr's ``Total``: the row sum, except ``M(t+1)`` whose total is its last value).
    ``detections_per_animal`` (n), ``animals_per_detector`` (K: distinct animals detected at
    each detector), ``traps_per_animal`` (secr ``trapsPerAnimal``: entry j-1 = number of animals
    detected at j distinct detectors), ``moves`` (per animal, the distances between its
    successive detections, secr ``moves``), ``moves_per_animal`` (secr's ``peranimal`` table of
    the number of non-zero moves: count → number of animals), ``move_distance`` (secr's
    ``summary()`` of the non-zero moves: Min, 1st Qu., Median, Mean, 3rd Qu., Max; None without
    moves), ``dbar`` (mean distance between successive detections, secr ``dbar``; exclusive
    detectors only, else None) and ``RPSV`` (secr ``RPSV(CC = FALSE)``; None when fewer than two
    recaptures, as secr computes it only then).
    """

    session: str
    detector: str
    noccasions: int
    ndetectors: int
    n: int
    ndetections: int
    counts: dict[str, np.ndarray]
    zeros: int
    detections_per_animal: np.ndarray
    animals_per_detector: np.ndarray
    traps_per_animal: np.ndarray
    moves: dict[str, np.ndarray]
    moves_per_animal: dict[int, int]
    move_distance: dict[str, float] | None
    dbar: float | None
    RPSV: float | None

    def table(self) -> str:
        """The counts table as secr prints it (``Counts by occasion``)."""
        S = self.noccasions
        head = [""] + [str(s + 1) for s in range(S)] + ["Total"]
        body = [[r] + [str(int(v)) for v in self.counts[r]] for r in COUNT_ROWS]
        w0 = max(len(r[0]) for r in body)
        widths = [max(len(head[j]), *(len(b[j]) for b in body)) for j in range(1, len(head))]
        lines = [" " * w0 + "".join(" " + h.rjust(w) for h, w in zip(head[1:], widths))]
        for b in body:
            lines.append(b[0].ljust(w0) + "".join(" " + v.rjust(w) for v, w in zip(b[1:], widths)))
        return "\n".join(lines)

    def __str__(self) -> str:
        out = [f"Object class       capthist (session {self.session})",
               f"Detector type      {self.detector} ({self.ndetectors} detectors)",
               "", "Counts by occasion", self.table()]
        if self.zeros:
            out.append(f"\nEmpty histories :  {self.zeros}")
        if self.move_distance is not None or self.moves_per_animal:
            out.append("\nNumber of movements per animal")
            out.append("  ".join(f"{k}:{v}" for k, v in sorted(self.moves_per_animal.items())))
            if self.move_distance is not None:
                out.append("Distance moved, excluding zero (m)")
                out.append("  ".join(f"{k} {v:.2f}" for k, v in self.move_distance.items()))
        return "\n".join(out)


def _detection_sequence(ch: CaptHist, i: int) -> np.ndarray:
    """Detector indices of animal i's detections in secr's order (occasion, then detector;
    a count c > 1 repeats the detector c times)."""
    c = ch.counts[i]  # S × K
    s_idx, k_idx = np.nonzero(c)
    reps = c[s_idx, k_idx]
    return np.repeat(k_idx, reps)  # np.nonzero walks occasions first, detectors within


def moves(ch: CaptHist) -> dict[str, np.ndarray]:
    """secr's ``moves(capthist)``: per animal, distances (m) between successive detections."""
    out = {}
    for i, aid in enumerate(ch.ids):
        k = _detection_sequence(ch, i)
        d = np.hypot(*(ch.traps[k[1:]] - ch.traps[k[:-1]]).T) if len(k) > 1 else np.zeros(0)
        out[aid] = d
    return out


def summary(ch) -> CaptHistSummary | dict[str, CaptHistSummary]:
    """secr's ``summary(capthist, moves = TRUE, tpa = TRUE)``.

    Per occasion: ``n`` animals caught, ``u`` animals caught for the first time, ``f`` number of
    animals caught on exactly s occasions (s = 1..S), ``M(t+1)`` animals caught so far,
    ``losses`` (always 0: removals are not read), ``detections``, ``detectors visited``
    (detectors with a detection) and ``detectors used`` (usage > 0). For several sessions (a
    dict or list of :class:`CaptHist`), a dict session → summary, as secr's list.
    """
    if isinstance(ch, Mapping):
        return {k: summary(v) for k, v in ch.items()}
    if isinstance(ch, (list, tuple)):
        return {c.session: summary(c) for c in ch}
    c = np.abs(np.asarray(ch.counts))
    n, S, K = c.shape
    caught = c.sum(axis=2) > 0  # n × S
    rows = {r: np.zeros(S, dtype=np.int64) for r in COUNT_ROWS}
    if n:
        rows["n"] = caught.sum(axis=0)
        M = (np.cumsum(caught, axis=1) > 0).sum(axis=0)
        rows["M(t+1)"] = M
        rows["u"] = np.diff(np.concatenate([[0], M]))
        rows["f"] = np.bincount(caught.sum(axis=1), minlength=S + 1)[1:S + 1]
        rows["detections"] = c.sum(axis=(0, 2))
        rows["detectors visited"] = (c.sum(axis=0) > 0).sum(axis=1)
    rows["detectors used"] = ch.used().sum(axis=0)
    counts = {}
    for r, v in rows.items():
        v = np.asarray(v, dtype=np.int64)
        total = v[-1] if r == "M(t+1)" and S else v.sum()
        counts[r] = np.concatenate([v, [total]])
    det_per_animal = c.sum(axis=(1, 2))
    at = c.sum(axis=1) > 0  # n × K
    animals_per_detector = at.sum(axis=0)
    nki = at.sum(axis=1)
    tpa = np.bincount(nki, minlength=max(int(nki.max()) if n else 1, 1) + 1)[1:] if n else np.zeros(1, int)
    mv = moves(ch)
    nonzero = [d[d > 0] for d in mv.values()]
    per_animal: dict[int, int] = {}
    for d in nonzero:
        per_animal[len(d)] = per_animal.get(len(d), 0) + 1
    allnz = np.concatenate(nonzero) if nonzero else np.zeros(0)
    move_distance = None
    if allnz.size:
        q = np.quantile(allnz, [0.0, 0.25, 0.5, 0.75, 1.0])  # R's default type 7
        move_distance = {"Min.": float(q[0]), "1st Qu.": float(q[1]), "Median": float(q[2]),
                         "Mean": float(allnz.mean()), "3rd Qu.": float(q[3]), "Max.": float(q[4])}
    dbar = None
    if ch.detector in _EXCLUSIVE and n:
        alld = np.concatenate(list(mv.values()))
        dbar = float(alld.mean()) if alld.size else float("nan")
    rpsv = None
    # secr computes RPSV only when Total n - Total u > 1 (more than one recapture occasion)
    if n and counts["n"][-1] - counts["u"][-1] > 1:
        df = ss = 0.0
        for i in range(n):
            k = _detection_sequence(ch, i)
            xy = ch.traps[k]
            df += len(k) - 1
            ss += float(((xy - xy.mean(axis=0)) ** 2).sum()) if len(k) else 0.0
        rpsv = float(np.sqrt(ss / (df - 1))) if df > 1 else None
    return CaptHistSummary(session=ch.session, detector=ch.detector, noccasions=S, ndetectors=K,
                           n=n, ndetections=int(c.sum()), counts=counts,
                           zeros=int((det_per_animal == 0).sum()),
                           detections_per_animal=det_per_animal,
                           animals_per_detector=animals_per_detector, traps_per_animal=tpa,
                           moves=mv, moves_per_animal=per_animal, move_distance=move_distance,
                           dbar=dbar, RPSV=rpsv)
