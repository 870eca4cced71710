"""Audit finding pages: the use-case page section (findings with their status, a form to record one, and
forms to start work on or close one). htmx swaps the section; errors come back inside it."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from takeoff.core.db import utcnow
from takeoff.core.errors import AppError, Invalid, NotFound
from takeoff.findings import rules, service
from takeoff.portfolio import service as portfolio
from takeoff.web.render import PageFor
from takeoff.core.types import Id

router = APIRouter(include_in_schema=False)


def _fragment(page: Any, key: str, message: str | None = None, error: str | None = None,
              values: dict[str, str] | None = None) -> Response:
    s = page.session
    uc = portfolio.get(s, key)
    rows = [service.view(f) for f in service.list_findings(s, use_case_key=uc.key)]
    # 200 even on an error, so htmx swaps the message into the section.
    return page.render("findings/fragment.html", uc=uc, findings=rows, counts=service.counts(s, uc.key),
                       severities=rules.SEVERITIES, sources=rules.SOURCES, controls=service.control_choices() or [],
                       can_write=page.actor.can("finding.write"), message=message, error=error, v=values or {},
                       today=utcnow().date().isoformat())


def _own(page: Any, key: str, finding_id: int) -> None:
    """404 unless the finding belongs to this use case (the section only acts on its own findings)."""
    if service.get(page.session, finding_id).use_case_key != key:
        raise NotFound(f"audit finding {finding_id} is not a finding of {key}")


def _date(raw: str, field: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise Invalid(f"{field} must be a date (YYYY-MM-DD), got {raw!r}") from None


@router.get("/findings")
def findings_page(page: PageFor("read"), status: str = "open", severity: str = "", use_case: str = "") -> Response:
    """Audit findings across the portfolio (open ones by default), most severe and oldest first."""
    error = None
    try:
        rows = service.list_findings(page.session, use_case_key=use_case or None, severity=severity or None,
                                     status=None if status in ("open", "all") else status,
                                     open_only=status == "open")
    except (Invalid, NotFound) as exc:
        rows, error = [], exc.message
    views = [service.view(f) for f in rows]
    return page.render("findings/list.html", findings=views, status=status, severity=severity, use_case=use_case,
                       error=error, severities=rules.SEVERITIES, statuses=rules.STATUSES,
                       overdue=sum(1 for v in views if v["overdue"]))


@router.get("/findings/fragment/usecase/{key}")
def findings_fragment(key: str, page: PageFor("read")) -> Response:
    """htmx fragment on the use-case page: the audit findings and the form to record one."""
    return _fragment(page, key)


@router.post("/findings/fragment/usecase/{key}")
def record_form(key: str, page: PageFor("finding.write"), csrf_token: Annotated[str, Form()] = "",
                title: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                severity: Annotated[str, Form()] = "", source: Annotated[str, Form()] = "",
                control_id: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "",
                found_on: Annotated[str, Form()] = "", due_on: Annotated[str, Form()] = "") -> Response:
    """Record a finding from the section's form."""
    page.check_csrf(csrf_token)
    values = {"title": title, "description": description, "severity": severity, "source": source,
              "control_id": control_id, "owner": owner, "found_on": found_on, "due_on": due_on}
    try:
        body: dict[str, Any] = {"use_case": key, "title": title.strip(), "description": description,
                                "severity": severity, "source": source or "internal_audit",
                                "control_id": control_id or None, "owner": owner.strip() or None,
                                "found_on": _date(found_on, "found on"), "due_on": _date(due_on, "due on")}
        with page.session.begin_nested():
            f = service.create(page.session, page.actor, {k: v for k, v in body.items() if v is not None})
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _fragment(page, key, error=exc.message, values=values)
    return _fragment(page, key, message=f"Recorded finding #{f.id}.")


@router.post("/findings/fragment/usecase/{key}/{finding_id}/status")
def status_form(key: str, finding_id: Id, page: PageFor("finding.write"), csrf_token: Annotated[str, Form()] = "",
                status: Annotated[str, Form()] = "") -> Response:
    """Start work on a finding, put it back to open, or reopen it."""
    page.check_csrf(csrf_token)
    _own(page, key, finding_id)
    try:
        with page.session.begin_nested():
            service.update(page.session, page.actor, finding_id, {"status": status})
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _fragment(page, key, error=exc.message)
    return _fragment(page, key, message=f"Finding #{finding_id} is now {status.replace('_', ' ')}.")


@router.post("/findings/fragment/usecase/{key}/{finding_id}/close")
def close_form(key: str, finding_id: Id, page: PageFor("finding.write"), csrf_token: Annotated[str, Form()] = "",
               resolution: Annotated[str, Form()] = "") -> Response:
    """Close a finding with its resolution."""
    page.check_csrf(csrf_token)
    _own(page, key, finding_id)
    try:
        with page.session.begin_nested():
            service.close(page.session, page.actor, finding_id, {"resolution": resolution})
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _fragment(page, key, error=exc.message)
    return _fragment(page, key, message=f"Closed finding #{finding_id}.")
