"""Reports API: `GET /api/v1/reports/{name}?format=md|html` renders the report registered under that name."""
from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from takeoff.deps import DB, Allowed
from takeoff.core.errors import Invalid, NotFound
from takeoff.reports.registry import reports
from takeoff.reports.schemas import REPORT_TEXT, ReportListOut

router = APIRouter(tags=["reports"])
_RESERVED = {"format"}


@router.get("/reports", response_model=ReportListOut, operation_id="reports_list")
def list_reports(actor: Allowed("read")) -> dict[str, Any]:
    """The reports this build can render."""
    return {"reports": [{"name": r.name, "title": r.title} for r in reports.all()]}


def render(session: Any, name: str, fmt: str, params: dict[str, str]) -> str:
    """Render a report by name; 404 for an unknown report, 422 for a bad format or parameter."""
    if fmt not in ("md", "html"):
        raise Invalid(f"format must be md or html; got {fmt!r}", details=[{"field": "format", "message": "md or html"}])
    report = reports.get(name)
    if report is None:
        raise NotFound(f"no report named '{name}'; reports: {', '.join(reports.names())}")
    sig = inspect.signature(report.render)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    accepted = {k: v for k, v in params.items() if takes_any or k in sig.parameters}
    try:
        return str(report.render(session, fmt, **accepted))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


@router.get("/reports/{name}", response_class=Response, responses=REPORT_TEXT, operation_id="reports_get")
def get_report(name: str, request: Request, session: DB, actor: Allowed("read"), format: str = "md") -> Response:
    """Markdown (text/markdown) or printable HTML (text/html)."""
    params = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
    text = render(session, name, format, params)
    media = "text/html; charset=utf-8" if format == "html" else "text/markdown; charset=utf-8"
    return Response(text, media_type=media)
