"""Retention: raw events past their retention period are deleted in chunks, with their unit index entries (SQLite);
the rollups stay."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takeoff.telemetry import unit_index
from takeoff.telemetry.models import TelemetryEvent as E

_CHUNK = 900  # ids per DELETE (SQLite's bound parameters)


def delete_old_events(session: Session, before: datetime, limit: int = 50_000) -> int:
    """Delete up to `limit` raw events older than `before` (rollups stay) and, on SQLite, their unit index entries;
    returns how many events.

    Walks the use cases in key order through the (use_case, ts) index, the only index on time (see the model)."""
    deleted = 0
    sqlite = session.get_bind().dialect.name == "sqlite"
    uc = session.scalar(select(func.min(E.use_case)))
    while uc is not None and deleted < limit:
        rows = session.execute(select(E.id, E.unit_id, E.ts).where(E.use_case == uc, E.ts < before)
                               .limit(limit - deleted)).all()
        if sqlite:  # its unit index (PostgreSQL's is an index on the events)
            unit_index.forget_requests(session, [(u, t, i) for i, u, t in rows if u is not None], before)
        ids = [r[0] for r in rows]
        for i in range(0, len(ids), _CHUNK):
            deleted += int(session.execute(delete(E).where(E.id.in_(ids[i:i + _CHUNK]))).rowcount or 0)
        uc = session.scalar(select(func.min(E.use_case)).where(E.use_case > uc))
    return deleted
