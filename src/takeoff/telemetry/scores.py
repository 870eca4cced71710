"""Scores given to a stored request after the fact (human review, online evaluators): kept on the request and
counted in the rollups of the request's own minute, so quality SLOs, alert rules and canary analysis read them
like the scores an SDK sent with the event.

A score set again replaces the request's earlier value of that name, and the rollups move by the difference (a
delta with n = 0), so re-scoring counts once; the compactor merges the delta into the minute, hour and day rows.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import NotFound
from takeoff.telemetry import rollup
from takeoff.telemetry.common import TelemetryInvalid
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.schemas import MAX_SCORE
from takeoff.telemetry.store import store_for

MAX_NAME = 100
MAX_SOURCE = 100


def check_scores(scores: Mapping[str, Any], source: str) -> dict[str, float]:
    """The scores as floats, refused whole when a name, a value or the source is bad."""
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE:
        raise TelemetryInvalid(f"source must be a non-empty string of at most {MAX_SOURCE} characters")
    if not isinstance(scores, Mapping) or not scores:
        raise TelemetryInvalid("scores must be a non-empty mapping of name to number")
    out: dict[str, float] = {}
    for name, value in scores.items():
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise TelemetryInvalid(f"score name must be a non-empty string of at most {MAX_NAME} characters")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TelemetryInvalid(f"score {name!r} must be a number")
        v = float(value)
        if not math.isfinite(v) or abs(v) > MAX_SCORE:
            raise TelemetryInvalid(f"score {name!r} must be finite and at most {MAX_SCORE:g} in magnitude")
        out[name] = v
    return out


def score_delta(old: Mapping[str, float], new: Mapping[str, float]) -> dict[str, list[float]]:
    """The rollup `scores` partial that turns a request's `old` values into `new` ones (names absent from `old` add
    one observation; present ones only move the sums)."""
    delta: dict[str, list[float]] = {}
    for name, v in new.items():
        if name in old:
            was = float(old[name])
            if was != v:
                delta[name] = [0, v - was, v * v - was * was]
        else:
            delta[name] = [1, v, v * v]
    return delta


def add_request_scores(session: Session, actor: Actor, request_id: str, scores: Mapping[str, Any], *,
                       source: str) -> dict[str, float]:
    """Set scores on a stored request (`source` says who gave them: "review:<queue>", "online:<evaluator>"); returns
    the request's scores after the change. Raises NotFound for an unknown (or retention-deleted) request."""
    values = check_scores(scores, source)
    if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
        raise TelemetryInvalid("request_id must be a non-empty string of at most 128 characters")
    stmt = select(TelemetryEvent).where(TelemetryEvent.id == request_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two reviewers scoring one request: the second sees the first's values
    event = session.scalar(stmt)
    if event is None:
        raise NotFound(f"request {request_id!r} not found")
    data = dict(event.data or {})
    old = {k: float(v) for k, v in (data.get("scores") or {}).items()}
    delta = score_delta(old, values)
    if delta:
        agg = rollup.empty()
        agg["scores"] = delta
        ts = event.ts if event.ts.tzinfo else event.ts.replace(tzinfo=UTC)
        minute = int(ts.timestamp() // 60) * 60
        store_for(session).append_deltas(session, {(60, minute, event.use_case, event.release or ""): agg})
    now = utcnow().isoformat()
    given = dict(data.get("score_sources") or {})
    given.update({name: {"source": source, "by": actor.username, "at": now} for name in values})
    data["scores"] = {**old, **values}
    data["score_sources"] = given
    event.data = data
    session.flush()
    return dict(data["scores"])
