"""Scores added to a stored request after ingestion (online evaluation, review): kept on the request and moved into
the rollups by the difference. TEMPORARY stand-in on the `online` branch with the lead's signature; main's version
replaces it on merge."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid, NotFound
from takeoff.telemetry import rollup
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.store import store_for


def add_request_scores(session: Session, actor: Actor, request_id: str, scores: Mapping[str, float],
                       source: str = "api") -> dict[str, float]:
    """Set scores on a request (a name already set is replaced); returns the request's stored scores."""
    e = session.get(TelemetryEvent, request_id)
    if e is None:
        raise NotFound(f"no request with id {request_id[:128]!r}")
    data = dict(e.data or {})
    stored = dict(data.get("scores") or {})
    delta: dict[str, list[float]] = {}
    for name, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"scores.{name}: must be a number", details=[{"field": f"scores.{name}", "message": "a number"}])
        v = float(value)
        old = stored.get(name)
        delta[name] = [1, v, v * v] if old is None else [0, v - float(old), v * v - float(old) ** 2]
        stored[name] = v
    data["scores"] = stored
    e.data = data
    agg = rollup.empty()
    agg["scores"] = delta
    ts = e.ts if e.ts.tzinfo else e.ts.replace(tzinfo=UTC)
    minute = int(ts.timestamp() // 60) * 60
    store_for(session).append_deltas(session, {(60, minute, e.use_case, e.release or ""): agg})
    audit.record(session, actor, "request.scores", "request", request_id, None, {"scores": dict(scores), "source": source})
    return stored

