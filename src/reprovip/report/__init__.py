"""The static report: one self-contained HTML file per study (inline SVG plots, PNG slices as data URIs).

``render_report(study)`` writes it next to the study file; ``report_html(document)`` returns the text;
``report_view(study)`` returns a :class:`ReportView` that notebooks display inline.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ReportView", "render_report", "report_html", "report_view"]
_HOME = {"ReportView": "api", "render_report": "api", "report_view": "api", "report_html": "render"}


def __getattr__(name: str) -> Any:
    # Imported on first use: ``analyze`` imports reprovip.report.values without Jinja2 and the catalog.
    if name in _HOME:
        return getattr(importlib.import_module(f"reprovip.report.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
