"""HTML: the standalone report (:func:`write_report`, :func:`report_html`) and the escaped fragments it shares
with the app (:mod:`explorer.html.fragments`).

The widgets import this package, never the reverse, so the report can be written without ipywidgets.
"""

from __future__ import annotations

from .report import report_html, write_report

__all__ = ["report_html", "write_report"]
