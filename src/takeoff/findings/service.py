"""Audit finding operations (the only writer of audit_findings): record, update, close, list, and the reads the
quarterly review and the readiness diagnostic make. Every change is in the audit log."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth import service as auth
from takeoff.core.db import one_of, utcnow
from takeoff.core.types import parse_body
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.findings import rules
from takeoff.findings.models import AuditFinding
from takeoff.findings.schemas import CloseIn, FindingIn, FindingPatch
from takeoff.governance import controls as governance
from takeoff.portfolio import service as portfolio


def _invalid(message: str, field: str) -> Invalid:
    return Invalid(message, details=[{"field": field, "message": message}])


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    try:
        return rules.check_choice(value, allowed, field)
    except ValueError as exc:
        raise _invalid(str(exc), field) from None


def control_choices() -> list[tuple[str, str]] | None:
    """(id, title) of the governance control library, or None when this build has no governance capability."""
    return [(c.id, c.title) for c in governance.controls()]


def control_ids() -> tuple[str, ...] | None:
    """The ids of the governance control library, or None when this build has no governance capability."""
    choices = control_choices()
    return None if choices is None else tuple(i for i, _ in choices)


def _control(control_id: str | None) -> str | None:
    if control_id is None or not control_id.strip():
        return None
    cid = control_id.strip().upper()
    known = control_ids()
    if known is not None and cid not in known:
        raise _invalid(f"control_id: unknown control '{cid}'; see the control library (e.g. {', '.join(known[:3])})",
                       "control_id")
    return cid


def _owner(session: Session, owner: str | None) -> str | None:
    if owner is None or not owner.strip():
        return None
    name = owner.strip()
    try:
        auth.get_user(session, name)
    except NotFound:
        raise _invalid(f"owner: unknown person '{name}'; create the user first", "owner") from None
    return name


def _snapshot(f: AuditFinding) -> dict[str, Any]:
    return {"use_case": f.use_case_key, "title": f.title, "severity": f.severity, "source": f.source,
            "control_id": f.control_id, "owner": f.owner, "found_on": f.found_on.isoformat(),
            "due_on": f.due_on.isoformat() if f.due_on else None, "status": f.status,
            "closed_at": f.closed_at.isoformat() if f.closed_at else None, "resolution": f.resolution}


def view(f: AuditFinding, today: date | None = None) -> dict[str, Any]:
    """The finding as the API returns it, with whether it is overdue."""
    today = today or utcnow().date()
    return {"id": f.id, **_snapshot(f), "description": f.description,
            "overdue": rules.overdue(f.status, f.due_on, today), "created_by": f.created_by,
            "created_at": f.created_at.isoformat(), "updated_at": f.updated_at.isoformat()}


def create(session: Session, actor: Actor, data: Any) -> AuditFinding:
    """Record a finding (404 unknown use case; 422 bad severity, source, control, owner or dates)."""
    actor.require("finding.write")
    body: FindingIn = parse_body(FindingIn, data)
    uc = portfolio.get(session, body.use_case.strip())
    title = body.title.strip()
    if not title:
        raise _invalid("a finding needs a title", "title")
    severity = _choice(body.severity, rules.SEVERITIES, "severity")
    source = _choice(body.source, rules.SOURCES, "source")
    today = utcnow().date()
    found_on = body.found_on or today
    try:
        rules.check_dates(found_on, body.due_on, today)
    except ValueError as exc:
        raise _invalid(str(exc), "found_on" if found_on > today else "due_on") from None
    owner = _owner(session, body.owner) or uc.business_owner
    f = AuditFinding(use_case_key=uc.key, title=title, description=body.description.strip(), severity=severity,
                     source=source, control_id=_control(body.control_id), owner=owner, found_on=found_on,
                     due_on=body.due_on, status="open", created_by=actor.username)
    session.add(f)
    session.flush()
    audit.record(session, actor, "finding.create", "audit_finding", f.id, None, _snapshot(f))
    return f


def get(session: Session, finding_id: int) -> AuditFinding:
    """The finding, or 404."""
    f = session.get(AuditFinding, finding_id) if isinstance(finding_id, int) else None
    if f is None:
        raise NotFound(f"audit finding {finding_id} not found")
    return f


def list_findings(session: Session, *, use_case_key: str | None = None, status: str | None = None,
                  severity: str | None = None, source: str | None = None, open_only: bool = False) -> list[AuditFinding]:
    """Findings, most severe and oldest first, filtered (422 for an unknown status, severity or source)."""
    q = select(AuditFinding)
    if use_case_key:
        q = q.where(AuditFinding.use_case_key == portfolio.get(session, use_case_key).key)
    if status:
        q = q.where(AuditFinding.status == _choice(status, rules.STATUSES, "status"))
    if severity:
        q = q.where(AuditFinding.severity == _choice(severity, rules.SEVERITIES, "severity"))
    if source:
        q = q.where(AuditFinding.source == _choice(source, rules.SOURCES, "source"))
    if open_only:
        q = q.where(AuditFinding.status.in_(rules.OPEN_STATUSES))
    rows = list(session.scalars(q.order_by(AuditFinding.found_on, AuditFinding.id)))
    rank = {s: i for i, s in enumerate(reversed(rules.SEVERITIES))}
    return sorted(rows, key=lambda f: (f.status == "closed", rank.get(f.severity, 9)))


def update(session: Session, actor: Actor, finding_id: int, data: Any) -> AuditFinding:
    """Move between open and in progress (or reopen), change owner, due date, severity or control."""
    actor.require("finding.write")
    body: FindingPatch = parse_body(FindingPatch, data)
    f = get(session, finding_id)
    before = _snapshot(f)
    given = body.model_fields_set
    if not given:
        raise Invalid("nothing to change: give status, owner, due_on, severity or control_id")
    if "status" in given and body.status is not None:
        try:
            rules.check_transition(f.status, body.status)
        except ValueError as exc:
            raise (Conflict(str(exc)) if body.status in rules.STATUSES and body.status != "closed"
                   else _invalid(str(exc), "status")) from None
        if f.status == "closed":
            f.closed_at, f.resolution = None, ""
        f.status = body.status
    if "severity" in given and body.severity is not None:
        f.severity = _choice(body.severity, rules.SEVERITIES, "severity")
    if "owner" in given:
        f.owner = _owner(session, body.owner)
    if "control_id" in given:
        f.control_id = _control(body.control_id)
    if "due_on" in given:
        try:
            rules.check_dates(f.found_on, body.due_on, utcnow().date())
        except ValueError as exc:
            raise _invalid(str(exc), "due_on") from None
        f.due_on = body.due_on
    session.flush()
    audit.record(session, actor, "finding.update", "audit_finding", f.id, before, _snapshot(f))
    return f


def close(session: Session, actor: Actor, finding_id: int, data: Any) -> AuditFinding:
    """Close with a resolution (422 without one; 409 when already closed)."""
    actor.require("finding.write")
    body: CloseIn = parse_body(CloseIn, data)
    f = get(session, finding_id)
    if f.status == "closed":
        raise Conflict(f"audit finding {f.id} is already closed")
    resolution = body.resolution.strip()
    if not resolution:
        raise _invalid("closing a finding needs a resolution", "resolution")
    now = utcnow()
    at = body.closed_at
    if at is not None:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if at > now:
            raise _invalid("closed_at is in the future", "closed_at")
        if at.date() < f.found_on:
            raise _invalid(f"closed_at is before the finding was found ({f.found_on.isoformat()})", "closed_at")
    before = _snapshot(f)
    f.status, f.resolution, f.closed_at = "closed", resolution, at or now
    session.flush()
    audit.record(session, actor, "finding.close", "audit_finding", f.id, before, _snapshot(f))
    return f


# ---------------------------------------------------------------------------------------------- reads for others
def for_period(session: Session, use_case_key: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Findings of a use case open at some time in [start, end) (new, still open, or closed within it)."""
    out = []
    for f in session.scalars(select(AuditFinding).where(AuditFinding.use_case_key == use_case_key,
                                                        AuditFinding.found_on < end.date())
                             .order_by(AuditFinding.found_on, AuditFinding.id)):
        if rules.open_during(rules.Span(f.found_on, f.closed_at), start.date(), end.date()):
            out.append({"id": f.id, "title": f.title, "severity": f.severity, "status": f.status,
                        "control_id": f.control_id, "new": f.found_on >= start.date()})
    return out


def open_critical(session: Session, use_case_key: str) -> list[str]:
    """Titles of the use case's open critical findings."""
    return list(session.scalars(select(AuditFinding.title).where(
        AuditFinding.use_case_key == use_case_key, AuditFinding.severity == "critical",
        AuditFinding.status.in_(rules.OPEN_STATUSES)).order_by(AuditFinding.id)))


def open_critical_of(session: Session, keys: list[str]) -> dict[str, list[AuditFinding]]:
    """The open critical findings of each use case in `keys`, oldest first (as `list_findings` orders them), in one
    query whatever their number."""
    out: dict[str, list[AuditFinding]] = {k: [] for k in keys}
    if keys:
        for f in session.scalars(select(AuditFinding).where(
                one_of(session, AuditFinding.use_case_key, sorted(set(keys))), AuditFinding.severity == "critical",
                AuditFinding.status.in_(rules.OPEN_STATUSES)).order_by(AuditFinding.found_on, AuditFinding.id)):
            out[f.use_case_key].append(f)
    return out


def counts(session: Session, use_case_key: str) -> dict[str, int]:
    """Open findings of a use case by severity, plus the total open and overdue."""
    today = utcnow().date()
    out = {s: 0 for s in rules.SEVERITIES} | {"open": 0, "overdue": 0}
    for f in session.scalars(select(AuditFinding).where(AuditFinding.use_case_key == use_case_key,
                                                        AuditFinding.status.in_(rules.OPEN_STATUSES))):
        out[f.severity] = out.get(f.severity, 0) + 1
        out["open"] += 1
        out["overdue"] += rules.overdue(f.status, f.due_on, today)
    return out
