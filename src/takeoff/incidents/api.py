"""Incidents API: list, open, update, timeline entries, resolve, MTTD / MTTR statistics."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from takeoff.deps import DB, Allowed, Decides
from takeoff.incidents import service
from takeoff.incidents.schemas import EntryIn, IncidentIn, IncidentPatch, ResolveIn
from takeoff.core.types import Id

router = APIRouter(tags=["incidents"])


@router.get("/incidents")
def list_incidents(session: DB, actor: Allowed("read"), use_case: str | None = None, status: str | None = None,
                   severity: int | None = Query(None, ge=1, le=4)) -> list[dict[str, Any]]:
    """Incidents newest first, filtered by use case, status (open|resolved) and severity."""
    return [service.view(i) for i in service.list_incidents(session, use_case_key=use_case, status=status,
                                                             severity=severity)]


@router.post("/incidents", status_code=201)
def open_incident(body: IncidentIn, session: DB, actor: Allowed("incident.write")) -> dict[str, Any]:
    """Open an incident by hand; started_at may predate detection."""
    inc = service.open_incident(session, actor, body.use_case, body.title, body.severity, source="manual",
                                detected_at=body.detected_at, started_at=body.started_at,
                                release_id=body.release_id, detail=body.detail)
    return service.view(inc, detail=True, session=session)


@router.get("/incidents/stats")
def stats(session: DB, actor: Allowed("read"), use_case: str | None = None) -> dict[str, Any]:
    """MTTD and MTTR (seconds) overall, per use case and per month; counts by severity."""
    return service.stats(session, use_case)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One incident with its timeline."""
    return service.view(service.get(session, incident_id), detail=True, session=session)


@router.patch("/incidents/{incident_id}")
def update_incident(incident_id: Id, body: IncidentPatch, session: DB,
                    actor: Decides("incident_owner")) -> dict[str, Any]:
    """Change severity, linked release, root cause, postmortem, title or start time."""
    return service.view(service.update(session, actor, incident_id, body), detail=True, session=session)


@router.post("/incidents/{incident_id}/entries", status_code=201)
def add_entry(incident_id: Id, body: EntryIn, session: DB, actor: Allowed("incident.write")) -> dict[str, Any]:
    """Add a timeline entry."""
    service.add_entry(session, actor, incident_id, body.text)
    return service.view(service.get(session, incident_id), detail=True, session=session)


@router.post("/incidents/{incident_id}/resolve")
def resolve(incident_id: Id, body: ResolveIn, session: DB, actor: Decides("incident_owner")) -> dict[str, Any]:
    """Resolve with a resolution and root cause category (409 when already resolved)."""
    return service.view(service.resolve(session, actor, incident_id, body), detail=True, session=session)
