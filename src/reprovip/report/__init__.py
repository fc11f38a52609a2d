"""The static report: one self-contained HTML file per study (inline SVG plots, PNG slices as data URIs).

``render_report(study)`` writes it next to the study file; ``report_html(document)`` returns the text;
``report_view(study)`` returns a :class:`ReportView` that notebooks display inline.
"""

from reprovip.report.api import ReportView, render_report, report_view
from reprovip.report.render import report_html

__all__ = ["ReportView", "render_report", "report_html", "report_view"]
