"""Read-only audit log API."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from takeoff.audit import service
from takeoff.audit.models import AuditEntry
from takeoff.audit.schemas import VerifyOut
from takeoff.deps import DB, Allowed
from takeoff.core.types import INT32_MAX

router = APIRouter(tags=["audit"])


def entry_view(e: AuditEntry) -> dict[str, Any]:
    """The public shape of an audit entry."""
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "object_type": e.object_type,
            "object_id": e.object_id, "diff": e.diff, "hash": e.hash, "prev_hash": e.prev_hash}


@router.get("/audit")
def list_audit(session: DB, actor: Allowed("audit.read"), actor_name: str | None = Query(None, alias="actor"),
               action: str | None = None, object_type: str | None = None, object_id: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=INT32_MAX)) -> dict[str, Any]:
    """Entries newest first, filtered and paginated."""
    rows, total = service.list_entries(session, actor=actor_name, action=action, object_type=object_type,
                                       object_id=object_id, since=since, until=until, limit=limit, offset=offset)
    return {"items": [entry_view(e) for e in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/audit/verify", response_model=VerifyOut, operation_id="audit_verify")
def verify(session: DB, actor: Allowed("audit.read")) -> dict[str, Any]:
    """Recompute the hash chain and report the first broken entry."""
    count, problem = service.verify_chain(session)
    return {"ok": problem is None, "entries": count,
            "problem": None if problem is None else {"entry_id": problem.entry_id, "reason": problem.reason}}
