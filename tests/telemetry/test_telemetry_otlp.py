"""OTLP/HTTP traces: the real OpenTelemetry SDK exporter against a live server, JSON encoding, bad bodies → 400."""
from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from takeoff.db import transaction
from takeoff.telemetry import service


@pytest.fixture
def live_url(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _window(factory, key):
    now = datetime.now(UTC)
    with transaction(factory) as s:
        return service.window_stats(s, key, None, now - timedelta(hours=1), now + timedelta(minutes=1))


def test_real_otel_sdk_exporter_spans_become_events(live_url, users, factory):
    token = users.headers("ai_engineer")["Authorization"]
    provider = TracerProvider(resource=Resource.create({"service.name": "chat-svc", "takeoff.release": "chat-svc:3"}))
    exporter = OTLPSpanExporter(endpoint=f"{live_url}/v1/traces", headers={"Authorization": token})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat",
                             "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024",
                             "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
                             "gen_ai.usage.cache_read.input_tokens": 100,
                             "gen_ai.usage.reasoning.output_tokens": 10, "gen_ai.usage.brand_new_thing": 7,
                             "gen_ai.response.finish_reasons": ["stop"], "enduser.id": "alice"})
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "relevance",
                                                    "gen_ai.evaluation.score.value": 0.75})
    with tracer.start_as_current_span("chat claude") as span:  # deprecated names, an error, its own use case
        span.set_attributes({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude",
                             "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 6,
                             "takeoff.use_case": "other-uc", "error.type": "rate_limit"})
        span.set_status(Status(StatusCode.ERROR))
    with tracer.start_as_current_span("GET /health"):  # not a GenAI span: not a usage event
        pass
    provider.shutdown()
    st = _window(factory, "chat-svc")
    assert st.count == 1
    assert st.tokens == {"input": 120, "output": 30, "cache_read": 100, "cache_write": 0, "reasoning": 10}
    assert st.scores["relevance"] == (1, 0.75, 0.5625)
    assert st.active_units == 1
    other = _window(factory, "other-uc")
    assert other.count == 1 and other.errors == 1 and other.error_categories == {"rate_limit": 1}
    assert other.tokens["input"] == 5 and other.tokens["output"] == 6
    from sqlalchemy import select

    from takeoff.telemetry.models import TelemetryEvent
    with transaction(factory) as s:
        rows = {e.use_case: e for e in s.scalars(select(TelemetryEvent))}
        assert rows["chat-svc"].model == "gpt-4o-2024" and rows["chat-svc"].provider == "openai"
        assert rows["chat-svc"].release == "chat-svc:3" and rows["chat-svc"].source == "otlp"
        assert rows["other-uc"].provider == "anthropic" and rows["other-uc"].model == "claude"


def _json_body(trace_id="5b8efff798038103d269b633813fc60c", span_id="eee19b7ec3c1b174"):
    now = time.time_ns()
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": "chat m", "kind": 3,
            "startTimeUnixNano": str(now - 250_000_000), "endTimeUnixNano": str(now),
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
                           {"key": "something.unknown", "value": {"kvlistValue": {"values": []}}}],
            "status": {}}]}]}]}


def test_json_encoding_is_idempotent_by_trace_and_span_id(client, users, factory):
    h = {**users.headers("ai_engineer"), "Content-Type": "application/json"}
    for _ in range(2):
        r = client.post("/v1/traces", content=json.dumps(_json_body()), headers=h)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
    st = _window(factory, "json-svc")
    assert st.count == 1 and st.tokens["input"] == 42
    from takeoff.telemetry import histogram
    assert 230 < histogram.quantile(st.latency_counts, 0.5) < 270  # the span's 250 ms duration


def test_malformed_truncated_and_wrong_bodies_get_400(client, users):
    h = users.headers("ai_engineer")
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    sp = rs.scope_spans.add().spans.add()
    sp.trace_id = bytes(16)
    sp.span_id = bytes(8)
    sp.name = "x" * 300
    good = req.SerializeToString()
    cases = [
        (good[: len(good) // 2], "application/x-protobuf", None),
        (b"\xff\xff\xff\xff garbage", "application/x-protobuf", None),
        (b"{not json", "application/json", None),
        (b"[1, 2]", "application/json", None),
        (json.dumps(_json_body(trace_id="zz")).encode(), "application/json", None),
        (json.dumps({"resourceSpans": "nope"}).encode(), "application/json", None),
        (gzip.compress(good)[:-10], "application/x-protobuf", "gzip"),
        (good, "text/plain", None),
    ]
    for body, ctype, enc in cases:
        headers = {**h, "Content-Type": ctype}
        if enc:
            headers["Content-Encoding"] = enc
        r = client.post("/v1/traces", content=body, headers=headers)
        assert r.status_code == 400, (body[:40], r.status_code, r.text)
        assert r.json()["error"]["code"] == "bad_otlp"
    ok = client.post("/v1/traces", content=gzip.compress(good),
                     headers={**h, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert ok.status_code == 200  # a span with nothing GenAI is accepted and skipped
    assert client.post("/v1/traces", content=good, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    assert client.post("/v1/traces", content=good, headers={**users.headers("viewer"),
                                                            "Content-Type": "application/x-protobuf"}).status_code == 403


def test_otlp_route_is_in_the_openapi_document(client):
    assert "/v1/traces" in client.get("/openapi.json").json()["paths"]
