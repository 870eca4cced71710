"""Prometheus metrics of the server itself, and the ASGI middleware that feeds them and limits bodies."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import Request
from prometheus_client import Counter, Gauge, Histogram

from takeoff.core.errors import error_body
from takeoff.core.logs import REQUEST_ID, request_id_from
from takeoff.core.types import MAX_JSON_DEPTH, json_too_deep

HTTP_REQUESTS = Counter("takeoff_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("takeoff_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
JOBS = Gauge("takeoff_jobs", "Jobs in the queue by status", ["status"], multiprocess_mode="mostrecent")
OTLP_SPANS_REJECTED = Counter("takeoff_otlp_spans_rejected_total", "OTLP spans refused (partial_success) by reason: "
                              "unmapped GenAI, step_after_calls, invalid, time, nul", ["reason"])
INGESTED = Counter("takeoff_ingest_events_total", "Telemetry events and OTLP spans processed by ingestion, by source "
                   "(json, otlp) and outcome (stored: new; duplicate: an id already stored, e.g. a resent batch)",
                   ["source", "outcome"])
INGEST_REJECTED = Counter("takeoff_ingest_rejected_total", "Telemetry events refused by ingestion (their batch gets "
                          "a 422), by source and reason: time (too old or in the future), invalid (release, drop "
                          "report), nul", ["source", "reason"])
JOBS_FINISHED = Counter("takeoff_jobs_finished_total", "Job runs by kind and outcome: done, retry (failed, queued "
                        "again with backoff), failed (no attempt left or permanent), lost_lease (another worker "
                        "took it), released (handed back at a graceful stop)", ["kind", "outcome"])
SSO_LOGINS = Counter("takeoff_sso_logins_total", "Single sign-on callbacks by outcome: ok, no_role (signed in but "
                     "no mapped role), refused (state, token or claims refused), error (provider unreachable...)",
                     ["outcome"])
NOTIFICATIONS = Counter("takeoff_notification_deliveries_total", "Notification delivery attempts by channel kind and "
                        "outcome: sent, retrying, failed (last attempt)", ["channel", "outcome"])
ROLLUP_DELTAS = Gauge("takeoff_rollup_deltas_pending", "Telemetry rollup deltas waiting for the compactor",
                      multiprocess_mode="mostrecent")
access_log = logging.getLogger("takeoff.access")


class Wrapper:
    """Base of takeoff's ASGI wrappers: the wrapped FastAPI app's state (settings, engine, session factory, worker)
    stays reachable through whichever wrapper is outermost."""

    app: Any

    @property
    def state(self) -> Any:
        """The wrapped app's state."""
        return self.app.state


class ASGIGuard(Wrapper):
    """Outermost middleware: a request id (the caller's X-Request-ID or a new one, echoed in the response), 413 for
    bodies over the limit, 400 for JSON nested too deep, 422 for a NUL in the URL, per-route metrics and the access
    log line (route template, status, duration)."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_from(dict(scope.get("headers") or []).get(b"x-request-id"))
        token = REQUEST_ID.set(rid)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self._guarded(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)

    async def _guarded(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        start = time.perf_counter()
        status = {"code": 500}
        holder: list[str] = []
        scope["takeoff.route"] = holder  # filled by route_label(); survives FastAPI's scope copies
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _send_json(send, 413, error_body("too_large", f"request body over {self.max_body} bytes"))
            self._observe(scope, 413, start, [])
            return
        refusal = _refuse_url(scope)
        if refusal is not None:
            await _send_json(send, 422, refusal)
            self._observe(scope, 422, start, [])
            return
        if _is_json(scope):  # read whole (FastAPI does anyway) so its nesting is checked before anything parses it
            body, receive = await _buffered(receive, self.max_body)
            if body is None:
                await _send_json(send, 413, error_body("too_large", f"request body over {self.max_body} bytes"))
                self._observe(scope, 413, start, [])
                return
            if json_too_deep(body):  # a body the parser will not read: 400 as malformed JSON (OTLP/HTTP says 400)
                await _send_json(send, 400, error_body(
                    "too_deep", f"the JSON body nests deeper than {MAX_JSON_DEPTH} arrays/objects"))
                self._observe(scope, 400, start, [])
                return
        seen = 0
        too_large = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, too_large
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    too_large = True
                    raise BodyTooLarge()
            return message

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                status["code"] = 413
                await _send_json(send, 413, error_body("too_large", f"request body over {self.max_body} bytes"))
        finally:
            self._observe(scope, status["code"], start, holder)
        del too_large

    @staticmethod
    def _observe(scope: dict[str, Any], status: int, start: float, holder: list[str]) -> None:
        path = holder[0] if holder else "unmatched"
        method = scope.get("method", "GET")
        elapsed = time.perf_counter() - start
        HTTP_REQUESTS.labels(method, path, str(status)).inc()
        HTTP_LATENCY.labels(method, path).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("request", extra={"method": method, "route": path, "status": status,
                                              "duration_ms": round(elapsed * 1000, 2)})


def _refuse_url(scope: dict[str, Any]) -> dict[str, Any] | None:
    """A NUL character anywhere in the URL is refused (no takeoff name holds one; PostgreSQL cannot compare it)."""
    if b"%00" in scope.get("raw_path", b"") or b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
        return error_body("invalid", "the URL must not contain a NUL character (%00)",
                          [{"field": "url", "message": "NUL character"}])
    return None


def _is_json(scope: dict[str, Any]) -> bool:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    ctype: bytes = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
    return ctype == b"application/json" or ctype.endswith(b"+json")


async def _buffered(receive: Any, limit: int) -> tuple[bytes | None, Any]:
    """The whole body (None past `limit` bytes) and a receive() that replays it, then passes on disconnects."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: dict[str, Any] = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return body, replay


class BodyTooLarge(Exception):
    """Raised from receive() when a streamed body passes the limit; the app renders it as 413."""


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def route_label(request: Request) -> None:
    """App-wide dependency: record the matched route's template (not the raw path) for metric labels."""
    holder = request.scope.get("takeoff.route")
    route = request.scope.get("route")
    if holder is not None and not holder and route is not None:
        template = getattr(route, "path", "unmatched")
        # Routers included under /api/v1 keep their own path on the route object.
        if request.url.path.startswith("/api/v1/") and not template.startswith("/api/v1"):
            template = "/api/v1" + template
        holder.append(template)
