"""User feedback: stored idempotently by id, read per use case (also feedback that named only a request)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.db import one_of, utcnow
from takeoff.portfolio import service as portfolio
from takeoff.telemetry.common import check_key as _check_key
from takeoff.telemetry.common import check_window as _check_window
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback
from takeoff.telemetry.schemas import FeedbackIn
from takeoff.telemetry.store import upsert_insert as _ins


def record_feedback(session: Session, actor: Actor, fb: FeedbackIn) -> tuple[int, int]:
    """Store one feedback (idempotent by id); returns (accepted, duplicates)."""
    use_case = fb.use_case
    if use_case is None and fb.request_id:
        use_case = session.scalar(select(TelemetryEvent.use_case).where(TelemetryEvent.id == fb.request_id))
    if use_case:
        portfolio.ensure_discovered(session, actor, use_case)  # shadow AI: registered, never dropped
    row = {"id": fb.id, "request_id": fb.request_id, "use_case": use_case or "", "rating": fb.rating,
           "comment": fb.comment or "", "time_saved_s": fb.time_saved_s, "unit_id": fb.unit_id,
           "ts": _dt(fb.ts) if fb.ts else utcnow(), "received_at": utcnow()}
    stmt = _ins(session)(TelemetryFeedback.__table__).on_conflict_do_nothing(index_elements=["id"]).returning(
        TelemetryFeedback.__table__.c.id)
    new = list(session.connection().execute(stmt, [row]).scalars())
    return len(new), 1 - len(new)


def feedback_for(session: Session, use_case_key: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Feedback of a use case in [start, end) (also feedback that named only a request of that use case)."""
    _check_key(use_case_key)
    _check_window(start, end)
    orphan = and_(TelemetryFeedback.use_case == "", TelemetryFeedback.request_id.in_(
        select(TelemetryEvent.id).where(TelemetryEvent.use_case == use_case_key)))
    rows = session.scalars(select(TelemetryFeedback).where(
        or_(TelemetryFeedback.use_case == use_case_key, orphan), TelemetryFeedback.ts >= start,
        TelemetryFeedback.ts < end).order_by(TelemetryFeedback.ts))
    return [{"id": f.id, "request_id": f.request_id, "use_case": use_case_key, "rating": f.rating,
             "comment": f.comment, "time_saved_s": f.time_saved_s, "unit_id": f.unit_id, "ts": f.ts}
            for f in rows]


def counts_many(session: Session, keys: Sequence[str], start: datetime, end: datetime) -> dict[str, int]:
    """How many feedback items each use case in `keys` had in [start, end), counted as `feedback_for` finds them
    (also feedback that named only a request of the use case), in one statement whatever their number."""
    for k in keys:
        _check_key(k)
    _check_window(start, end)
    out = dict.fromkeys(keys, 0)
    if not keys:
        return out
    wanted = sorted(set(keys))
    in_window = and_(TelemetryFeedback.ts >= start, TelemetryFeedback.ts < end)
    direct = select(TelemetryFeedback.use_case, func.count()).where(
        one_of(session, TelemetryFeedback.use_case, wanted), in_window).group_by(TelemetryFeedback.use_case)
    orphan = select(TelemetryEvent.use_case, func.count()).select_from(TelemetryFeedback).join(
        TelemetryEvent, TelemetryEvent.id == TelemetryFeedback.request_id).where(
        TelemetryFeedback.use_case == "", one_of(session, TelemetryEvent.use_case, wanted), in_window).group_by(
        TelemetryEvent.use_case)
    for key, n in session.execute(union_all(direct, orphan)):  # one round trip for both counts
        out[key] += int(n)
    return out
