"""Spatially explicit capture–recapture (SECR), reproducing the R package secr.

* :mod:`pardus.secr.capthist` — capture histories and detector layouts in secr's text and CSV
  formats (``read_capthist``, ``write_capthist``, ``summary``, ``moves``), with validation
  (:class:`CaptureDataError` naming file, line and fix).
* :mod:`pardus.secr.mask` — habitat masks (``make_mask`` as secr's ``make.mask``, polygon
  masks from GeoJSON, ``read_mask_csv``, ``covers_detectors``).

The likelihood (:mod:`pardus.secr.likelihood`) and the closed-population estimators
(:mod:`pardus.secr.closed`) are separate modules, imported from there.
"""

from .capthist import (
    COUNT_ROWS,
    DETECTORS,
    CaptHist,
    CaptHistSummary,
    CaptureDataError,
    Traps,
    moves,
    read_capthist,
    read_capthist_sessions,
    read_traps,
    summary,
    write_capthist,
)
from .mask import (
    Mask,
    MaskError,
    covers_detectors,
    make_mask,
    points_in_polygon,
    polygon_rings,
    read_mask_csv,
    write_mask_csv,
)

__all__ = [
    "COUNT_ROWS",
    "DETECTORS",
    "CaptHist",
    "CaptHistSummary",
    "CaptureDataError",
    "Traps",
    "moves",
    "read_capthist",
    "read_capthist_sessions",
    "read_traps",
    "summary",
    "write_capthist",
    "Mask",
    "MaskError",
    "covers_detectors",
    "make_mask",
    "points_in_polygon",
    "polygon_rings",
    "read_mask_csv",
    "write_mask_csv",
]
