"""Telemetry HTTP API: event batches, feedback, metric series, baselines (mounted under /api/v1)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session

from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor

from takeoff.deps import DB, Allowed
from takeoff.core.errors import BadRequest, Invalid
from takeoff.ratelimit import TokenLimits
from takeoff.telemetry import baselines, feedback, metrics, rollup, series, service, window
from takeoff.telemetry.decode import decode_batch
from takeoff.telemetry.ingest import normalize_batch, normalize_drops, parse_step, parse_time
from takeoff.telemetry.schemas import EVENT_BATCH, BaselineIn, FeedbackIn, IngestResult, SeriesOut

router = APIRouter(tags=["telemetry"])


def _batch_from_body(body: bytes) -> dict[str, Any]:
    """Parse and validate straight from bytes: msgspec first (the hot path), pydantic for whatever it refuses
    (pydantic's coercions and error details are the contract; see telemetry/decode.py)."""
    batch = decode_batch(body)
    if batch is not None:
        return batch
    try:
        return EVENT_BATCH.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise BadRequest("the request body is not valid JSON", code="malformed_json") from None
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in errors[:50]]
        raise Invalid(f"invalid input: {', '.join(d['field'] or 'body' for d in details[:10])}",
                      details=details) from None


@router.post("/events", response_model=IngestResult, operation_id="events_ingest", openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": EVENT_BATCH.json_schema()}}}})
async def post_events(request: Request, session: DB, actor: Allowed("telemetry.ingest")) -> dict[str, int]:
    """Ingest a batch (idempotent by event id). One invalid or too-late event refuses the whole batch with 422
    naming `events.<index>.<field>`; nothing is stored then. An SDK's `dropped` report rides on a batch of events
    and is counted when the batch stores a new one. The answer comes after the commit."""
    body = await request.body()
    settings = request.app.state.settings
    accepted, dups = await run_in_threadpool(_ingest_and_commit, session, actor, body, settings.late_event_seconds,
                                             rollup.unit_key(settings.resolved_secret_key), request.app.state.limits)
    return {"accepted": accepted, "duplicates": dups}


def _ingest_and_commit(session: Session, actor: Actor, body: bytes, late_s: int, unit_key: bytes,
                       limits: TokenLimits | None = None) -> tuple[int, int]:
    """Parse, ingest and commit in one worker thread: the write transaction (and on SQLite the write lock) ends the
    moment its statements are done, not after a hop back through the event loop. The write is group-committed with
    the batches queued behind it in this process (telemetry.group_commit); the answer comes after that commit."""
    def prepare() -> Callable[[Session], tuple[int, int]]:
        batch = _batch_from_body(body)
        if limits is not None:  # events per second per token: 429 before anything is written
            limits.charge_events(actor, len(batch["events"]))
        return service.prepare_ingest(session, actor, normalize_batch(batch["events"]), late_s=late_s,
                                      unit_key=unit_key, dropped=normalize_drops(batch.get("dropped") or []),
                                      may_hold_nul=b"\\u0000" in body)

    return service.ingest_grouped(session, prepare)


@router.post("/feedback", response_model=IngestResult, operation_id="feedback_record")
def post_feedback(fb: FeedbackIn, session: DB, actor: Allowed("telemetry.ingest")) -> dict[str, int]:
    """Record a user's rating of one AI response (idempotent by feedback id)."""
    accepted, dups = feedback.record_feedback(session, actor, fb)
    return {"accepted": accepted, "duplicates": dups}


def _param(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": name, "message": str(exc)}]) from None


@router.get("/metrics/series", response_model=SeriesOut, operation_id="metrics_series")
@router.get("/metrics", response_model=SeriesOut, operation_id="metrics_get")
def get_metrics(session: DB, actor: Allowed("read"), use_case: str = Query(...), metric: str = Query(...),
                from_: str = Query(..., alias="from"), to: str | None = Query(None), step: str | None = None,
                release: str | None = None) -> dict[str, Any]:
    """A metric as a time series answered from rollups: times ISO 8601 or Unix seconds, step "300" or "5m"."""
    from takeoff.core.db import utcnow

    start = _param("from", parse_time, from_, "from")
    end = _param("to", parse_time, to, "to") if to else utcnow()
    if end <= start:
        raise Invalid("'to' must be after 'from'", details=[{"field": "to", "message": "must be after 'from'"}])
    step_s = _param("step", parse_step, step)
    _param("metric", lambda m: metrics.check_metric(m, series=True), metric)
    points = series.series(session, use_case, metric, start, end, step_s, release)
    return {"use_case": use_case, "release": release, "metric": metric, "unit": metrics.get(metric).description,
        "step_s": step_s, "from": start.isoformat(),
        "to": end.isoformat(), "points": [{"t": t.isoformat(), "value": v} for t, v in points]}


@router.post("/telemetry/baselines", status_code=201)
def post_baseline(body: BaselineIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Freeze feature bins (drift baseline) from a release's events in a window."""
    return baselines.set_baseline(session, actor, body.use_case, body.release, body.start, body.end)


@router.get("/telemetry/window")
def get_window(session: DB, actor: Allowed("read"), use_case: str, from_: str = Query(..., alias="from"),
               to: str | None = None, release: str | None = None) -> dict[str, Any]:
    """Totals over a window (counts, latency histogram, tokens, cost, outcomes, scores, features, active units)."""
    from dataclasses import asdict

    from takeoff.core.db import utcnow

    start = _param("from", parse_time, from_, "from")
    end = _param("to", parse_time, to, "to") if to else utcnow()
    ws = window.window_stats(session, use_case, release, start, end)
    stats = asdict(ws)
    for k in ("first_ts", "last_ts"):
        stats[k] = stats[k].isoformat() if stats[k] else None
    # the cost's catalog prices that came from the shipped snapshot, by its date (empty: none did)
    stats["price_snapshots"] = catalog.snapshot_dates(session, ws.models, start, end)
    return stats
