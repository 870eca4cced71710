"""Retention: raw events past their retention period are deleted in chunks; the rollups stay."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takeoff.telemetry.models import TelemetryEvent


def delete_old_events(session: Session, before: datetime, limit: int = 50_000) -> int:
    """Delete up to `limit` raw events older than `before` (rollups stay); returns how many.

    Walks the use cases in key order through the (use_case, ts) index, the only index on time (see the model)."""
    deleted = 0
    uc = session.scalar(select(func.min(TelemetryEvent.use_case)))
    while uc is not None and deleted < limit:
        ids = select(TelemetryEvent.id).where(TelemetryEvent.use_case == uc, TelemetryEvent.ts < before
                                              ).limit(limit - deleted)
        res = session.execute(delete(TelemetryEvent).where(TelemetryEvent.id.in_(ids.scalar_subquery())))
        deleted += int(res.rowcount or 0)
        uc = session.scalar(select(func.min(TelemetryEvent.use_case)).where(TelemetryEvent.use_case > uc))
    return deleted

