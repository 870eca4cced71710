"""Review pages: queues per use case, a queue (progress, agreement per score, rules, items), the page a reviewer
works in (the request's redacted content, the rubric form; claim, skip, submit), and "send to review" from a
request page. Refusals of a form (a score off its scale, a taken item) show on the page they came from."""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from takeoff.core.errors import AppError, Invalid
from takeoff.core.types import Id
from takeoff.requests import queries
from takeoff.review import queues, work
from takeoff.review.schemas import ItemsIn, ReviewIn
from takeoff.review.service import queue_view
from takeoff.telemetry import rollup
from takeoff.web.forms import validation_errors
from takeoff.web.render import Page, PageFor

router = APIRouter(include_in_schema=False)


@router.get("/review")
def queues_page(page: PageFor("read"), use_case: str = "") -> Response:
    """Annotation queues by use case, with progress."""
    rows = [queue_view(page.session, q) for q in queues.list_queues(page.session, use_case or None)]
    by_uc: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_uc.setdefault(r["use_case"], []).append(r)
    return page.render("review/queues.html", by_uc=by_uc, use_case=use_case)


@router.get("/review/queues/{queue_id}")
def queue_page(queue_id: Id, page: PageFor("read"), status: str = "open", error: str = "") -> Response:
    """One queue: progress, agreement, rules and its items (open by default)."""
    q = queues.get_queue(page.session, queue_id)
    items = [work.item_view(page.session, i, q)
             for i in work.list_items(page.session, q.id, None if status == "all" else status, 500)]
    return page.render("review/queue.html", q=queue_view(page.session, q), items=items, status=status,
                       error=error[:300], can_review=page.actor.can("annotation.review"))


@router.post("/review/queues/{queue_id}/next")
def next_form(queue_id: Id, page: PageFor("annotation.review"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Claim the next item and open it (back to the queue, saying so, when nothing is left)."""
    page.check_csrf(csrf_token)
    item = work.claim_next(page.session, page.actor, queue_id)
    if item is None:
        return RedirectResponse(f"/review/queues/{queue_id}?error={quote('Nothing left for you to review here.')}",
                                status_code=303)
    return RedirectResponse(f"/review/items/{item.id}", status_code=303)


def _item_page(page: Page, item_id: int, status_code: int = 200, error: str | None = None,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> Response:
    item = work.get_item(page.session, item_id)
    q = queues.get_queue(page.session, item.queue_id)
    can_read = page.actor.can("content.read") or page.actor.can("annotation.review")
    try:
        r = queries.detail(page.session, item.request_id, can_read)
    except AppError:
        r = None  # the request is gone (retention or a data subject's deletion)
    reviews = [work.review_view(x) for x in work.reviews_of(page.session, item.id)]
    return page.render("review/item.html", status_code=status_code, item=work.item_view(page.session, item, q),
                       q=queue_view(page.session, q), r=r, reviews=reviews, error=error, errors=errors or {},
                       v=values or {}, me=page.actor.username, can_review=page.actor.can("annotation.review"),
                       mine=any(x["reviewer"] == page.actor.username for x in reviews))


@router.get("/review/items/{item_id}")
def item_page(item_id: Id, page: PageFor("read")) -> Response:
    """The review page: the request (content redacted) beside the rubric form."""
    return _item_page(page, item_id)


@router.post("/review/items/{item_id}/claim")
def claim_form(item_id: Id, page: PageFor("annotation.review"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Take this item."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            work.claim(page.session, page.actor, item_id)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _item_page(page, item_id, exc.status, error=exc.message)
    return RedirectResponse(f"/review/items/{item_id}", status_code=303)


@router.post("/review/items/{item_id}/skip")
def skip_form(item_id: Id, page: PageFor("annotation.review"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Pass on this item and take the next one."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            r = work.skip(page.session, page.actor, item_id)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _item_page(page, item_id, exc.status, error=exc.message)
    return RedirectResponse(f"/review/queues/{r.queue_id}/after", status_code=303)


@router.get("/review/queues/{queue_id}/after")
def after_page(queue_id: Id, page: PageFor("annotation.review")) -> Response:
    """Where a reviewer lands after a review or a skip: their next item, or the queue when none is left."""
    return queue_page(queue_id, page, error="Saved. Review the next item when you are ready.")


@router.post("/review/items/{item_id}/review")
async def review_form(item_id: Id, request: Request, page: PageFor("annotation.review")) -> Response:
    """Submit the rubric form: score_<name> fields, label checkboxes, comment, violation handled, incident."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors: dict[str, str] = {}
    scores: dict[str, float] = {}
    for k, v in values.items():
        if k.startswith("score_") and v.strip():
            try:
                scores[k[6:]] = float(v)
            except ValueError:
                errors[f"scores.{k[6:]}"] = "a number"
    incident = values.get("incident_id", "").strip()
    if incident and not incident.isdigit():
        errors["incident_id"] = "an incident number"
    if errors:
        return _item_page(page, item_id, 422, errors=errors, values=values)
    try:
        body = ReviewIn(scores=scores, labels=[str(x) for x in form.getlist("labels")],
                        comment=values.get("comment", ""), violation_handled=values.get("violation_handled") == "on",
                        incident_id=int(incident) if incident else None)
        with page.session.begin_nested():
            r, _, _ = work.submit(page.session, page.actor, item_id, body)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        field = (exc.details or [{}])[0].get("field") if isinstance(exc, Invalid) else None
        return _item_page(page, item_id, exc.status, error=None if field else exc.message,
                          errors={field: (exc.details or [{}])[0].get("message", exc.message)} if field else {},
                          values=values)
    except ValidationError as exc:  # pydantic's bounds (a comment too long, an incident number too large)
        return _item_page(page, item_id, 422, errors=validation_errors(exc), values=values)
    return RedirectResponse(f"/review/queues/{r.queue_id}/after", status_code=303)


@router.get("/review/add")
def add_page(page: PageFor("read"), request: str = "") -> Response:
    """Send a request to a queue of its use case (from the request page)."""
    r = queries.detail(page.session, request, False)
    qs = [queue_view(page.session, q) for q in queues.list_queues(page.session, r["use_case"])]
    return page.render("review/add.html", r=r, queues=qs, can_write=page.actor.can("annotation.write"))


@router.post("/review/add")
def add_form(http: Request, page: PageFor("annotation.write"), csrf_token: Annotated[str, Form()] = "",
             request: Annotated[str, Form()] = "", queue_id: Annotated[int, Form()] = 0) -> Response:
    """Add the request to the chosen queue and open its item."""
    page.check_csrf(csrf_token)
    q = queues.get_queue(page.session, queue_id)
    out = queues.add_items(page.session, page.actor, q, ItemsIn(request_ids=[request[:128]]),
                           rollup.unit_key(http.app.state.settings.resolved_secret_key))
    item = work.item_for(page.session, q.id, request)
    if out["not_found"] or item is None:
        raise Invalid(f"request {request[:128]!r} is not a request of {q.use_case_key}")
    return RedirectResponse(f"/review/items/{item.id}", status_code=303)
