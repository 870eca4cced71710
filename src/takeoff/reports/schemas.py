"""Reports responses: the list of reports this build renders (a report itself is Markdown or HTML text)."""
from __future__ import annotations

from takeoff.core.types import Output


class ReportRefOut(Output):
    """A report's name (its address) and title."""

    name: str
    title: str


class ReportListOut(Output):
    """The reports this build can render."""

    reports: list[ReportRefOut]


REPORT_TEXT = {200: {"description": "The report as Markdown (format=md) or printable HTML (format=html)",
                     "content": {"text/markdown": {"schema": {"type": "string"}},
                                 "text/html": {"schema": {"type": "string"}}}}}
"""The document of a rendered report's answer (text, not JSON)."""
