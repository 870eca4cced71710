"""Incident pages: /incidents (list, MTTD/MTTR per use case and month, counts by severity, open form) and
/incidents/{id} (timeline, linked release, root cause, resolution, postmortem, add-entry form)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from takeoff.core.errors import AppError, Invalid
from takeoff.evals import sets as evals
from takeoff.incidents import metrics, service
from takeoff.incidents.schemas import IncidentPatch, ResolveIn
from takeoff.portfolio import service as portfolio
from takeoff.web.render import PageDecides, PageFor
from takeoff.core.types import Id

router = APIRouter(include_in_schema=False)


def _time(value: str, what: str) -> datetime | None:
    """A datetime-local form value (UTC) or None."""
    if not value.strip():
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{what} must be a date and time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _list(page: Any, error: str | None = None, code: int = 200, **filters: Any) -> Response:
    s = page.session
    return page.render("incidents/list.html", status_code=code, error=error,
                       incidents=service.list_incidents(s, **filters), stats=service.stats(s),
                       use_cases=portfolio.list_use_cases(s), dur=metrics.human_duration,
                       can_write=page.actor.can("incident.write"), filters=filters)


@router.get("/incidents")
def incidents_page(page: PageFor("read"), use_case: str | None = None, status: str | None = None) -> Response:
    """Incidents with MTTD/MTTR per use case and per month and counts by severity."""
    return _list(page, use_case_key=use_case or None, status=status if status in service.STATUSES else None)


@router.post("/incidents")
def open_form(page: PageFor("incident.write"), csrf_token: Annotated[str, Form()] = "", use_case: Annotated[str, Form()] = "",
              title: Annotated[str, Form()] = "", severity: Annotated[int, Form()] = 3,
              started_at: Annotated[str, Form()] = "", release_id: Annotated[str, Form()] = "",
              detail: Annotated[str, Form()] = "") -> Response:
    """Open an incident by hand."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            inc = service.open_incident(page.session, page.actor, use_case, title, severity, source="manual",
                                        started_at=_time(started_at, "started_at"),
                                        release_id=release_id.strip() or None, detail=detail)
    except AppError as exc:
        return _list(page, error=exc.message, code=exc.status)
    return RedirectResponse(f"/incidents/{inc.id}", status_code=303)


def _detail(page: Any, incident_id: int, error: str | None = None, status: int = 200) -> Response:
    inc = service.get(page.session, incident_id)
    return page.render("incidents/detail.html", status_code=status, error=error, inc=inc,
                       entries=service.entries(page.session, inc), causes=metrics.ROOT_CAUSES,
                       dur=metrics.human_duration, can_write=page.actor.can("incident.write"),
                       sets=[{"name": es.name, "latest": v.version if v else None}
                             for es, v in evals.list_sets(page.session) if es.use_case_key in (None, inc.use_case_key)])


@router.get("/incidents/{incident_id}")
def incident_page(incident_id: Id, page: PageFor("read")) -> Response:
    """One incident."""
    return _detail(page, incident_id)


@router.post("/incidents/{incident_id}/entries")
def entry_form(incident_id: Id, page: PageFor("incident.write"), csrf_token: Annotated[str, Form()] = "",
               text: Annotated[str, Form()] = "") -> Response:
    """Add a timeline entry."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            service.add_entry(page.session, page.actor, incident_id, text)
    except AppError as exc:
        return _detail(page, incident_id, exc.message, exc.status)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.post("/incidents/{incident_id}/update")
def update_form(incident_id: Id, page: PageDecides("incident_owner"), csrf_token: Annotated[str, Form()] = "",
                severity: Annotated[int, Form()] = 3, root_cause_category: Annotated[str, Form()] = "",
                release_id: Annotated[str, Form()] = "", postmortem: Annotated[str, Form()] = "") -> Response:
    """Change severity, root cause, linked release, postmortem."""
    page.check_csrf(csrf_token)
    try:
        patch = IncidentPatch(severity=severity, root_cause_category=root_cause_category or None,
                              release_id=release_id.strip() or None, postmortem=postmortem)
        with page.session.begin_nested():
            service.update(page.session, page.actor, incident_id, patch)
    except AppError as exc:
        return _detail(page, incident_id, exc.message, exc.status)
    except ValidationError as exc:
        return _detail(page, incident_id, f"invalid input: {exc.errors()[0]['msg']}", 422)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.post("/incidents/{incident_id}/resolve")
def resolve_form(incident_id: Id, page: PageDecides("incident_owner"), csrf_token: Annotated[str, Form()] = "",
                 resolution: Annotated[str, Form()] = "", root_cause_category: Annotated[str, Form()] = "") -> Response:
    """Resolve the incident."""
    page.check_csrf(csrf_token)
    try:
        body = ResolveIn(resolution=resolution, root_cause_category=root_cause_category or None)
        with page.session.begin_nested():
            service.resolve(page.session, page.actor, incident_id, body)
    except AppError as exc:
        return _detail(page, incident_id, exc.message, exc.status)
    except ValidationError:
        return _detail(page, incident_id, "a resolution is required", 422)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
