"""Telemetry jobs, hourly: delete raw events past the retention period (rollups stay), and request content past its
policy's expiry with the spans and content of events past that retention."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from takeoff.core.config import get_settings
from takeoff.core.db import transaction, utcnow
from takeoff.jobs import registry
from takeoff.telemetry import requests_store
from takeoff.telemetry.retention import delete_old_events

RETENTION_EVERY_S = 3600
CHUNK = 20_000


@registry.handler("telemetry.retention")
def retention(ctx: registry.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Delete raw events older than the retention (payload `retention_days`, else TAKEOFF_RAW_EVENT_RETENTION_DAYS)."""
    days = payload.get("retention_days", get_settings().raw_event_retention_days)
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise ValueError(f"retention_days must be a positive number, got {days!r}")
    before = utcnow() - timedelta(days=float(days))
    deleted = 0
    while True:  # small transactions so ingestion is never blocked for long
        with transaction(ctx.factory) as s:
            n = delete_old_events(s, before, CHUNK)
        deleted += n
        ctx.heartbeat()
        if n < CHUNK:
            return {"deleted": deleted, "before": before.isoformat()}


@registry.handler("telemetry.request_retention")
def request_retention(ctx: registry.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Delete captured content past its policy's expiry, and spans and content older than the raw events'
    retention (payload `retention_days`, else TAKEOFF_RAW_EVENT_RETENTION_DAYS)."""
    days = payload.get("retention_days", get_settings().raw_event_retention_days)
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise ValueError(f"retention_days must be a positive number, got {days!r}")
    before = utcnow() - timedelta(days=float(days))
    total: dict[str, int] = {}
    while True:
        with transaction(ctx.factory) as s:
            n = requests_store.delete_expired(s, before, limit=CHUNK)
        for k, v in n.items():
            total[k] = total.get(k, 0) + v
        ctx.heartbeat()
        if max(n.values()) < CHUNK:
            return {**total, "before": before.isoformat()}


registry.every("telemetry.retention", RETENTION_EVERY_S)
registry.every("telemetry.request_retention", RETENTION_EVERY_S)
