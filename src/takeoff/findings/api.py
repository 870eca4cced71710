"""Audit findings API: record, list with filters, update status and owner, close with a resolution."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from takeoff.deps import DB, Allowed
from takeoff.findings import service
from takeoff.findings.schemas import CloseIn, FindingIn, FindingPatch
from takeoff.core.types import Id

router = APIRouter(tags=["findings"])


@router.get("/findings")
def list_findings(session: DB, actor: Allowed("read"), use_case: str | None = None, status: str | None = None,
                  severity: str | None = None, source: str | None = None,
                  open_only: bool = Query(False, alias="open")) -> list[dict[str, Any]]:
    """Findings, most severe first; filter by use case, status, severity, source, or `open=true` (open or in progress)."""
    return [service.view(f) for f in service.list_findings(session, use_case_key=use_case, status=status,
                                                           severity=severity, source=source, open_only=open_only)]


@router.post("/findings", status_code=201)
def create_finding(body: FindingIn, session: DB, actor: Allowed("finding.write")) -> dict[str, Any]:
    """Record a finding; the owner defaults to the use case's business owner."""
    return service.view(service.create(session, actor, body))


@router.get("/findings/{finding_id}")
def get_finding(finding_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One finding."""
    return service.view(service.get(session, finding_id))


@router.patch("/findings/{finding_id}")
def update_finding(finding_id: Id, body: FindingPatch, session: DB, actor: Allowed("finding.write")) -> dict[str, Any]:
    """Move to in_progress / back to open / reopen, or change owner, due date, severity, control."""
    return service.view(service.update(session, actor, finding_id, body))


@router.post("/findings/{finding_id}/close")
def close_finding(finding_id: Id, body: CloseIn, session: DB, actor: Allowed("finding.write")) -> dict[str, Any]:
    """Close with a resolution (409 when already closed)."""
    return service.view(service.close(session, actor, finding_id, body))
