"""Audit operations: append within the caller's transaction, list, verify."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from takeoff.actor import Actor
from takeoff.audit.chain import GENESIS, ChainProblem, diff, entry_hash, verify
from takeoff.audit.models import AuditEntry, AuditHead
from takeoff.db import paginate, utcnow

_PG_LOCK_KEY = 7_340_101  # advisory lock serialising appends on PostgreSQL


def record(session: Session, actor: Actor | str, action: str, object_type: str, object_id: Any,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction, so the change and its record commit together."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    name = actor.username if isinstance(actor, Actor) else str(actor)
    changes = diff(before, after)
    at = utcnow()
    entry = AuditEntry(at=at, actor=name, action=action, object_type=object_type, object_id=str(object_id),
                       diff=changes, prev_hash=head.last_hash,
                       hash=entry_hash(head.last_hash, at, name, action, object_type, str(object_id), changes))
    session.add(entry)
    session.flush()
    head.last_id, head.last_hash = entry.id, entry.hash
    return entry


def list_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                 object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Entries newest first, filtered, with the total count for pagination."""
    q = select(AuditEntry)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    return paginate(session, q, AuditEntry.id.desc(), limit, offset)


def _iter_entries(session: Session, batch: int = 1000) -> Iterator[Any]:
    """The chain's rows in id order, read as plain rows in batches: no ORM object enters the caller's session, so
    verifying never detaches, expires or flushes what the caller is changing (it once did, with expunge_all, and
    a promotion whose checklist verified the chain was audited but never written)."""
    cols = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.object_type,
            AuditEntry.object_id, AuditEntry.diff, AuditEntry.prev_hash, AuditEntry.hash)
    last = 0
    while True:
        rows = session.execute(select(*cols).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify_chain(session: Session) -> tuple[int, ChainProblem | None]:
    """Recompute the whole chain in batches; (entries checked, first problem or None)."""
    head = session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).first()
    return verify(_iter_entries(session), head.last_id if head else 0, head.last_hash if head else GENESIS)
