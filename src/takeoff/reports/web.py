"""Report pages: a list of every report, each printable as HTML."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from takeoff.reports.api import render
from takeoff.reports.registry import reports
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)


@router.get("/reports")
def reports_page(page: PageFor("read")) -> Response:
    """Links to every report in Markdown and printable HTML."""
    return page.render("reports/index.html", reports=[{"name": r.name, "title": r.title} for r in reports.all()])


@router.get("/reports/{name}")
def report_page(name: str, page: PageFor("read")) -> Response:
    """The printable HTML of one report (query parameters pass through to the report)."""
    params = {k: v for k, v in page.request.query_params.items() if k != "format"}
    return HTMLResponse(render(page.session, name, "html", params))
