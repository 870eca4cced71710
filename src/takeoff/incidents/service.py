"""Incident operations (the only writer of incidents tables): open (deduplicated), timeline, resolve, MTTD/MTTR."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.core.db import one_of, utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.core.events import IncidentOpened, IncidentResolved, publish
from takeoff.governance import decisions
from takeoff.incidents import metrics
from takeoff.incidents.models import Incident, IncidentEntry
from takeoff.incidents.schemas import IncidentPatch, ResolveIn
from takeoff.portfolio import service as portfolio

STATUSES: tuple[str, ...] = ("open", "resolved")  # an incident's statuses, one definition

log = logging.getLogger("takeoff.incidents")

SOURCES: tuple[str, ...] = ("manual", "alert", "canary", "slo", "drift", "quality", "data")


def _name(actor: Actor | str) -> str:
    return actor.username if isinstance(actor, Actor) else str(actor)


def _aware(t: datetime | None, what: str) -> datetime | None:
    if t is None:
        return None
    if not isinstance(t, datetime):
        raise Invalid(f"{what} must be a date-time", details=[{"field": what, "message": "not a date-time"}])
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _snapshot(inc: Incident) -> dict[str, Any]:
    return {"use_case": inc.use_case_key, "title": inc.title, "severity": inc.severity, "status": inc.status,
            "source": inc.source, "owner": inc.owner, "release_id": inc.release_id,
            "root_cause_category": inc.root_cause_category, "resolution": inc.resolution,
            "started_at": inc.started_at.isoformat(), "detected_at": inc.detected_at.isoformat(),
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None}


def _entry(session: Session, inc: Incident, author: str, kind: str, text: str, at: datetime | None = None) -> None:
    session.add(IncidentEntry(incident_id=inc.id, author=author, kind=kind, text=text, at=at or utcnow()))


def open_incident(session: Session, actor: Actor | str, use_case_key: str, title: str, severity: int, *,
                  source: str, detected_at: datetime | None = None, started_at: datetime | None = None,
                  release_id: str | None = None, detail: str = "", dedup_key: str | None = None) -> Incident:
    """Open an incident owned by the use case's on-call; a dedup_key with an open incident returns that incident.

    A person needs incident.write (checked here: flows open incidents too, as the system actor, which passes)."""
    if isinstance(actor, Actor):
        actor.require("incident.write")
    if not isinstance(title, str) or not title.strip():
        raise Invalid("an incident needs a title", details=[{"field": "title", "message": "required"}])
    try:
        metrics.check_severity(severity)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "severity", "message": str(exc)}]) from None
    if source not in SOURCES:
        raise Invalid(f"unknown incident source '{source}'; known: {', '.join(SOURCES)}")
    uc = portfolio.get(session, use_case_key)
    detected = _aware(detected_at, "detected_at") or utcnow()
    started = _aware(started_at, "started_at") or detected
    try:
        metrics.check_times(started, detected)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "started_at", "message": str(exc)}]) from None
    if dedup_key is not None:
        existing = session.scalar(select(Incident).where(Incident.open_key == dedup_key))
        if existing is not None:
            return existing
    inc = Incident(use_case_key=uc.key, title=title.strip()[:300], severity=severity, source=source,
                   owner=uc.on_call, detail=detail or "", release_id=release_id, started_at=started,
                   detected_at=detected, dedup_key=dedup_key, open_key=dedup_key, created_by=_name(actor))
    try:
        with session.begin_nested():  # another worker may open the same dedup key at the same moment
            session.add(inc)
    except IntegrityError:
        existing = session.scalar(select(Incident).where(Incident.open_key == dedup_key))
        if existing is None:
            raise
        return existing
    _entry(session, inc, _name(actor), "opened",
           f"Opened ({source}), severity {severity}, owner {uc.on_call or 'nobody on call'}. {detail}".strip(),
           at=detected)
    audit.record(session, actor, "incident.open", "incident", inc.id, None, _snapshot(inc))
    publish(session, IncidentOpened(uc.key, {
        "incident_id": inc.id, "title": inc.title, "severity": severity, "owner": inc.owner, "source": source,
        "release_id": release_id, "detail": detail, "detected_at": detected.isoformat()}))
    return inc


def get(session: Session, incident_id: int) -> Incident:
    """The incident, or 404."""
    inc = session.get(Incident, incident_id) if isinstance(incident_id, int) else None
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    return inc


def list_incidents(session: Session, *, use_case_key: str | None = None, status: str | None = None,
                   severity: int | None = None, limit: int = 500) -> list[Incident]:
    """Incidents newest first, filtered."""
    if status is not None and status not in STATUSES:
        raise Invalid("status must be 'open' or 'resolved'")
    q = select(Incident)
    if use_case_key:
        q = q.where(Incident.use_case_key == use_case_key)
    if status:
        q = q.where(Incident.status == status)
    if severity is not None:
        q = q.where(Incident.severity == severity)
    return list(session.scalars(q.order_by(Incident.detected_at.desc(), Incident.id.desc()).limit(limit)))


def open_of(session: Session, keys: list[str], severities: tuple[int, ...]) -> dict[str, list[Incident]]:
    """The open incidents of these severities of each use case in `keys`, newest first (as `list_incidents`), in
    one query whatever their number."""
    out: dict[str, list[Incident]] = {k: [] for k in keys}
    if keys:
        for i in session.scalars(select(Incident).where(one_of(session, Incident.use_case_key, sorted(set(keys))),
                                                        Incident.status == "open", Incident.severity.in_(severities))
                                 .order_by(Incident.detected_at.desc(), Incident.id.desc())):
            out[i.use_case_key].append(i)
    return out


def entries(session: Session, inc: Incident) -> list[IncidentEntry]:
    """The incident's timeline, oldest first."""
    return list(session.scalars(select(IncidentEntry).where(IncidentEntry.incident_id == inc.id)
                                .order_by(IncidentEntry.at, IncidentEntry.id)))


def add_entry(session: Session, actor: Actor, incident_id: int, text: str) -> IncidentEntry:
    """Append a note to the timeline."""
    inc = get(session, incident_id)
    if not isinstance(text, str) or not text.strip():
        raise Invalid("a timeline entry needs text", details=[{"field": "text", "message": "required"}])
    e = IncidentEntry(incident_id=inc.id, author=actor.username, kind="note", text=text.strip())
    session.add(e)
    session.flush()
    audit.record(session, actor, "incident.note", "incident", inc.id, None, {"entry": e.id})
    return e


def system_entry(session: Session, incident_id: int, kind: str, text: str, at: datetime | None = None) -> None:
    """A timeline entry written by takeoff itself (e.g. the alert behind the incident went back to normal)."""
    inc = session.get(Incident, incident_id)
    if inc is not None:
        _entry(session, inc, "takeoff", kind, text, at)


def _check_cause(cause: str | None) -> None:
    if cause is not None and cause not in metrics.ROOT_CAUSES:
        raise Invalid(f"unknown root cause category '{cause}'; known: {', '.join(metrics.ROOT_CAUSES)}",
                      details=[{"field": "root_cause_category", "message": "unknown category"}])


def update(session: Session, actor: Actor, incident_id: int, patch: IncidentPatch) -> Incident:
    """Change title, severity, linked release, root cause, postmortem or start time; each change goes on the timeline.

    The incident_owner decision right is checked here too, so the web form shows a refusal on the incident's page."""
    decisions.require(session, actor, "incident_owner")
    inc = get(session, incident_id)
    fields = patch.model_dump(exclude_unset=True)
    _check_cause(fields.get("root_cause_category"))
    if "started_at" in fields:
        started = _aware(fields["started_at"], "started_at")
        if started is None:
            raise Invalid("started_at cannot be cleared")
        try:
            metrics.check_times(started, inc.detected_at, inc.resolved_at)
        except ValueError as exc:
            raise Invalid(str(exc), details=[{"field": "started_at", "message": str(exc)}]) from None
        fields["started_at"] = started
    before = _snapshot(inc)
    changed = [k for k, v in fields.items() if getattr(inc, k) != v]
    for k in changed:
        setattr(inc, k, fields[k])
    if changed:
        _entry(session, inc, actor.username, "update", "Changed " + ", ".join(changed))
        session.flush()
        audit.record(session, actor, "incident.update", "incident", inc.id, before, _snapshot(inc))
    return inc


def resolve(session: Session, actor: Actor, incident_id: int, body: ResolveIn) -> Incident:
    """Resolve an open incident (409 when already resolved); frees its dedup key for a later incident.

    The incident_owner decision right is checked here too, so the web form shows a refusal on the incident's page."""
    decisions.require(session, actor, "incident_owner")
    inc = get(session, incident_id)
    if inc.status == "resolved":
        raise Conflict(f"incident {inc.id} is already resolved")
    _check_cause(body.root_cause_category)
    resolved = _aware(body.resolved_at, "resolved_at") or utcnow()
    try:
        metrics.check_times(inc.started_at, inc.detected_at, resolved)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "resolved_at", "message": str(exc)}]) from None
    before = _snapshot(inc)
    inc.status, inc.resolved_at, inc.resolution, inc.open_key = "resolved", resolved, body.resolution.strip(), None
    if body.root_cause_category:
        inc.root_cause_category = body.root_cause_category
    if body.postmortem is not None:
        inc.postmortem = body.postmortem
    _entry(session, inc, actor.username, "resolved", f"Resolved: {inc.resolution}", at=resolved)
    session.flush()
    audit.record(session, actor, "incident.resolve", "incident", inc.id, before, _snapshot(inc))
    publish(session, IncidentResolved(inc.use_case_key, {
        "incident_id": inc.id, "title": inc.title, "severity": inc.severity, "owner": inc.owner,
        "resolution": inc.resolution}))
    return inc


def resolve_by_key(session: Session, actor: Actor | str, dedup_key: str, resolution: str) -> Incident | None:
    """Resolve the open incident of a dedup key, if any (alerts that return to normal)."""
    inc = session.scalar(select(Incident).where(Incident.open_key == dedup_key))
    if inc is None:
        return None
    before = _snapshot(inc)
    inc.status, inc.resolved_at, inc.resolution, inc.open_key = "resolved", utcnow(), resolution, None
    _entry(session, inc, _name(actor), "resolved", f"Resolved: {resolution}")
    session.flush()
    audit.record(session, actor, "incident.resolve", "incident", inc.id, before, _snapshot(inc))
    return inc


def _times(inc: Incident) -> metrics.IncidentTimes:
    return metrics.IncidentTimes(inc.use_case_key, inc.severity, inc.started_at, inc.detected_at, inc.resolved_at)


def stats(session: Session, use_case_key: str | None = None, since: datetime | None = None) -> dict[str, Any]:
    """MTTD / MTTR and counts overall, per use case and per month, with counts by severity."""
    q = select(Incident)
    if use_case_key:
        q = q.where(Incident.use_case_key == use_case_key)
    if since is not None:
        q = q.where(Incident.detected_at >= since)
    return metrics.grouped(_times(i) for i in session.scalars(q))


def view(inc: Incident, detail: bool = False, session: Session | None = None) -> dict[str, Any]:
    """The JSON of an incident (with its timeline when detail)."""
    out: dict[str, Any] = {
        "id": inc.id, "use_case": inc.use_case_key, "title": inc.title, "severity": inc.severity,
        "status": inc.status, "source": inc.source, "owner": inc.owner, "release_id": inc.release_id,
        "detail": inc.detail, "started_at": inc.started_at.isoformat(), "detected_at": inc.detected_at.isoformat(),
        "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
        "root_cause_category": inc.root_cause_category, "resolution": inc.resolution, "postmortem": inc.postmortem,
        "ttd_s": (inc.detected_at - inc.started_at).total_seconds(),
        "ttr_s": (inc.resolved_at - inc.detected_at).total_seconds() if inc.resolved_at else None,
        "created_by": inc.created_by,
    }
    if detail and session is not None:
        out["timeline"] = [{"at": e.at.isoformat(), "author": e.author, "kind": e.kind, "text": e.text}
                           for e in entries(session, inc)]
    return out
