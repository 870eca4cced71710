"""Liveness, readiness and Prometheus metrics endpoints."""
from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from takeoff import migrate
from takeoff.core import background, shutdown
from takeoff.core.db import transaction
from takeoff.core.errors import ERROR_RESPONSES, error_body
from takeoff.jobs import service as jobs
from takeoff.core.observability import JOBS
from takeoff.deps import public

router = APIRouter(tags=["health"])


@router.get("/healthz")
@public("liveness probe")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: ERROR_RESPONSES[422] | {"description": "Database unreachable, migrations pending or draining"}})
@public("readiness probe")
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and every migration is applied, and the process is not stopping."""
    if shutdown.draining.is_set():  # SIGTERM received: the load balancer should route elsewhere
        return JSONResponse(error_body("not_ready", "draining: this server is shutting down"), status_code=503)
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        missing = migrate.pending(engine)
    except Exception as exc:  # readiness reports, it does not raise
        return JSONResponse(error_body("not_ready", f"database unreachable: {type(exc).__name__}"), status_code=503)
    if missing:
        return JSONResponse(error_body("not_ready", f"migrations pending: {', '.join(sorted(missing))}"),
                            status_code=503)
    return JSONResponse({"status": "ready", "database": engine.dialect.name})


@router.get("/metrics", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
@public("Prometheus scrape: counts and latencies, no secrets")
def metrics(request: Request) -> Response:
    """Prometheus text exposition: request counts and latency per route, job queue depth, pending rollup deltas."""
    with transaction(request.app.state.factory) as s:
        depth = jobs.queue_depth(s)
        background.contribute_health(s)  # each background service's gauges (the compactor: pending deltas)
    for status in ("queued", "running", "done", "failed"):
        JOBS.labels(status).set(depth.get(status, 0))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # `serve --workers N`: sum every worker process's samples
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
