"""Requests pages: the explorer (filters, a page of requests, the next page, export links) and one request's detail
with its span tree as a waterfall. Every aggregate elsewhere links here with filters in the URL."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from takeoff.core.errors import Invalid
from takeoff.requests import queries, waterfall
from takeoff.telemetry import rollup
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/requests")
def requests_page(request: Request, page: PageFor("read")) -> Response:
    """The requests explorer: filter, page through (newest first), export the filtered set."""
    raw = {k: v for k, v in request.query_params.items() if v != ""}
    cursor = raw.pop("cursor", None)
    error, result, filters = None, {"items": [], "next_cursor": None}, queries.Filters()
    try:
        filters = queries.parse_filters({k: v for k, v in raw.items() if k in queries.Filters.__dataclass_fields__})
        result = queries.page(page.session, filters, rollup.unit_key(request.app.state.settings.resolved_secret_key),
                              PAGE_SIZE, cursor)
    except Invalid as exc:
        error = exc.message
    params = filters.params()
    return page.render("requests/list.html", status_code=422 if error else 200, error=error, f=raw,
                       items=result["items"], statuses=queries.STATUSES,
                       next_url=f"/requests?{urlencode({**params, 'cursor': result['next_cursor']})}"
                       if result["next_cursor"] else None,
                       export=urlencode(params), first_url=f"/requests?{urlencode(params)}" if cursor else None)


@router.get("/requests/{request_id}")
def request_page(request_id: str, page: PageFor("read")) -> Response:
    """One request: record, waterfall of its spans, tokens, cost, scores, feedback, content, links (404 unknown)."""
    d = queries.detail(page.session, request_id, page.actor.can("content.read"))
    return page.render("requests/detail.html", r=d, spans=waterfall.layout(d["spans"]))
