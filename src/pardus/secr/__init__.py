"""Spatially explicit capture–recapture (SECR), reproducing the R package secr.

* :mod:`pardus.secr.capthist` — capture histories and detector layouts in secr's text and CSV
  formats (``read_capthist``, ``write_capthist``, ``summary``, ``moves``), with validation
  (:class:`CaptureDataError` naming file, line and fix).
* :mod:`pardus.secr.mask` — habitat masks (``make_mask`` as secr's ``make.mask``, polygon
  masks from GeoJSON, ``mask_from_habitat`` from a habitat raster, ``read_mask_csv``,
  ``covers_detectors``).
* :mod:`pardus.secr.models` — ``secr_fit`` (secr's ``secr.fit``: null and formula models,
  several sessions) over :mod:`pardus.secr.likelihood` (``fit_secr``, ``secr_loglik``).
* :mod:`pardus.secr.buffer` — mask-buffer adequacy (``esa_curve``, ``bias_D``,
  ``suggest_buffer``, ``check_buffer``).
* :mod:`pardus.secr.closed` — closed-population estimators (``closed_n``, secr's ``closedN``),
  the mixture models fitted by :mod:`pardus.secr.nlm` (R's ``nlm``, step for step, as secr).
* :mod:`pardus.secr.simulate` — ``sim_popn``, ``sim_capthist`` and the survey ``design_study``.
* :mod:`pardus.secr.estimate` — ``estimate``, the verb behind ``pardus estimate``.
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
    mask_from_habitat,
    points_in_polygon,
    polygon_rings,
    read_mask_csv,
    write_mask_csv,
)
from .likelihood import SecrFit, fit_secr, secr_loglik
from .models import ModelError, secr_fit
from .buffer import BufferCheck, bias_D, check_buffer, esa_curve, suggest_buffer
from .closed import closed_n
from .simulate import DesignStudy, design_study, sim_capthist, sim_popn
from .estimate import EstimateError, EstimateResult, estimate

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
    "mask_from_habitat",
    "SecrFit",
    "fit_secr",
    "secr_loglik",
    "ModelError",
    "secr_fit",
    "BufferCheck",
    "bias_D",
    "check_buffer",
    "esa_curve",
    "suggest_buffer",
    "closed_n",
    "DesignStudy",
    "design_study",
    "sim_capthist",
    "sim_popn",
    "EstimateError",
    "EstimateResult",
    "estimate",
]
