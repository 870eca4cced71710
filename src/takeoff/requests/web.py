"""Requests pages: the explorer (filters, a page of requests, the next page, export links) and one request's detail
with its span tree as a waterfall. Every aggregate elsewhere links here with filters in the URL."""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from takeoff.core.errors import AppError, Invalid
from takeoff.evals import sets as evals
from takeoff.requests import privacy_web, queries, to_evalset, waterfall
from takeoff.requests.schemas import ToEvalSetIn
from takeoff.telemetry import rollup
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/requests")
def requests_page(request: Request, page: PageFor("read")) -> Response:
    """The requests explorer: filter, page through (newest first), export the filtered set."""
    raw = {k: v for k, v in request.query_params.items() if v != ""}
    cursor = raw.pop("cursor", None)
    error, result, filters = None, {"items": [], "next_cursor": None, "searched_to": None}, queries.Filters()
    try:
        filters = queries.parse_filters({k: v for k, v in raw.items() if k in queries.Filters.__dataclass_fields__})
        result = queries.page(page.session, filters, rollup.unit_key(request.app.state.settings.resolved_secret_key),
                              PAGE_SIZE, cursor)
    except Invalid as exc:
        error = exc.message
    params = filters.params()
    return page.render("requests/list.html", sets=eval_set_choices(page.session, filters.use_case),
                       selection={f"f_{k}": v for k, v in params.items()}, status_code=422 if error else 200, error=error, f=raw,
                       items=result["items"], statuses=queries.STATUSES, searched_to=result["searched_to"],
                       next_url=f"/requests?{urlencode({**params, 'cursor': result['next_cursor']})}"
                       if result["next_cursor"] else None,
                       export=urlencode(params), first_url=f"/requests?{urlencode(params)}" if cursor else None)


router.include_router(privacy_web.router)  # here: /requests/unit-deletion before /requests/{request_id}


@router.get("/requests/{request_id}")
def request_page(request_id: str, page: PageFor("read")) -> Response:
    """One request: record, waterfall of its spans, tokens, cost, scores, feedback, content, links (404 unknown)."""
    d = queries.detail(page.session, request_id, page.actor.can("content.read"))
    return page.render("requests/detail.html", r=d, spans=waterfall.layout(d["spans"]),
                       sets=eval_set_choices(page.session, d["use_case"]))


def eval_set_choices(session: Any, use_case: str | None) -> list[dict[str, Any]]:
    """The eval sets a request of this use case may go to (its own and the unbound ones), latest version each."""
    return [{"name": s.name, "latest": v.version if v else None} for s, v in evals.list_sets(session)
            if use_case is None or s.use_case_key in (None, use_case)]


@router.post("/requests/to-evalset")
async def to_evalset_form(request: Request, page: PageFor("evalset.write"),
                          csrf_token: Annotated[str, Form()] = "", eval_set: Annotated[str, Form()] = "",
                          request_id: Annotated[str, Form()] = "", incident: Annotated[str, Form()] = "",
                          reference: Annotated[str, Form()] = "output", corrected: Annotated[str, Form()] = "",
                          failure_category: Annotated[str, Form()] = "", tags: Annotated[str, Form()] = "",
                          note: Annotated[str, Form()] = "") -> Response:
    """Add a request, the explorer's filtered set (f_* fields) or an incident's requests to an eval set; shows the
    new version and what was skipped, or why nothing was written."""
    page.check_csrf(csrf_token)
    form = await request.form()
    filters = {k[2:]: str(v) for k, v in form.items() if k.startswith("f_") and str(v) != ""}
    back = (f"/requests/{request_id}" if request_id else f"/incidents/{incident}" if incident
            else f"/requests?{urlencode(filters)}")
    try:
        body = ToEvalSetIn(
            eval_set=eval_set, reference=reference if reference in ("output", "none") else "output",
            request_ids=[request_id] if request_id else None,
            incident=int(incident) if incident.strip().isdigit() else None,
            filters=filters if not request_id and not incident else None,
            corrections={request_id: corrected} if request_id and corrected.strip() else {},
            failure_category=failure_category.strip() or None, note=note,
            tags=[t.strip() for t in tags.split(",") if t.strip()])
        with page.session.begin_nested():
            out = to_evalset.add_to_evalset(page.session, page.actor, body,
                                            rollup.unit_key(request.app.state.settings.resolved_secret_key))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err.get("loc", ()))
        return page.render("requests/to_evalset.html", status_code=422, error=f"{field}: {err.get('msg')}",
                           back=back)
    except AppError as exc:
        return page.render("requests/to_evalset.html", status_code=exc.status, error=exc.message, back=back)
    return page.render("requests/to_evalset.html", status_code=201 if out["created"] else 200, out=out, back=back)

