"""Resolved policy violations in the rollups: a request's safety findings, once resolved (by review or incident),
are counted under rollup.RESOLVED_VIOLATIONS in the request's own minute, as a rollup delta like any other."""
from __future__ import annotations

from datetime import UTC

from sqlalchemy.orm import Session

from takeoff.telemetry import rollup
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.store import store_for


def violations_of(e: TelemetryEvent) -> int:
    """How many safety findings the request carries."""
    return len((e.data or {}).get("violations") or [])


def add_resolved(session: Session, e: TelemetryEvent, n: int) -> None:
    """Count `n` resolved findings of the request in its minute (the caller records the resolution once)."""
    if n <= 0:
        return
    ts = e.ts if e.ts.tzinfo else e.ts.replace(tzinfo=UTC)
    minute = int(ts.timestamp() // 60) * 60
    agg = rollup.empty()
    agg["violations"] = {rollup.RESOLVED_VIOLATIONS: n}
    store_for(session).append_deltas(session, {(60, minute, e.use_case, e.release or ""): agg})
