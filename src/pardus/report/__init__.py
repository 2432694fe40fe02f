"""HTML report of a pardus results file: figures, summary and comparison tables.

Use :func:`build_report`::

    from pardus.report import build_report
    html_path = build_report(ds, summarize(ds), compare_to_baseline(ds, "baseline"), out_dir)
"""

from .html import build_report

__all__ = ["build_report"]
