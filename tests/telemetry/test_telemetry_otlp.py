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

from takeoff.core.db import transaction
from takeoff.telemetry import window as telemetry_window
from tests.telemetry.otlp_values import any_value


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
        return telemetry_window.window_stats(s, key, None, now - timedelta(hours=1), now + timedelta(minutes=1))


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


def test_a_resent_json_export_is_stored_once(client, users, factory):
    h = {**users.headers("ai_engineer"), "Content-Type": "application/json"}
    body = json.dumps(_json_body())  # an exporter's retry sends the same spans: same ids, same end time
    for _ in range(2):
        r = client.post("/v1/traces", content=body, headers=h)
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
        (b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", None),  # too deep
        (gzip.compress(good)[:-10], "application/x-protobuf", "gzip"),
        (good, "text/plain", None),
    ]
    for body, ctype, enc in cases:
        headers = {**h, "Content-Type": ctype}
        if enc:
            headers["Content-Encoding"] = enc
        r = client.post("/v1/traces", content=body, headers=headers)
        assert r.status_code == 400, (body[:40], r.status_code, r.text)
        # JSON nested too deep is refused before any route reads it (the app's edge), still a 400
        assert r.json()["error"]["code"] == ("too_deep" if body.count(b"[") > 1000 else "bad_otlp")
    ok = client.post("/v1/traces", content=gzip.compress(good),
                     headers={**h, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert ok.status_code == 200  # a span with nothing GenAI is accepted and skipped
    assert client.post("/v1/traces", content=good, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    assert client.post("/v1/traces", content=good, headers={**users.headers("viewer"),
                                                            "Content-Type": "application/x-protobuf"}).status_code == 403


def test_otlp_route_is_in_the_openapi_document(client):
    assert "/v1/traces" in client.get("/openapi.json").json()["paths"]


# --- which spans are usage events, and what of a GenAI span is kept -------------------------------------------------

def _export(resource, spans):
    """One resource with a span per (attributes, age in seconds or None for a span without timestamps)."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in resource.items():
        rs.resource.attributes.add(key=k).value.CopyFrom(any_value(v))
    ss = rs.scope_spans.add()
    for i, (attrs, age_s) in enumerate(spans):
        sp = ss.spans.add(trace_id=bytes(range(16)), span_id=(i + 1).to_bytes(8, "big"), name=f"span {i}")
        if age_s is not None:
            end = time.time_ns() - int(age_s * 1e9)
            sp.start_time_unix_nano, sp.end_time_unix_nano = end - 100_000_000, end
        for k, v in attrs.items():
            sp.attributes.add(key=k).value.CopyFrom(any_value(v))
    return req


def _post(client, users, req, ctype="application/x-protobuf"):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    h = {**users.headers("ai_engineer"), "Content-Type": ctype}
    if ctype == "application/json":
        data = json_format.MessageToDict(req)
        for rs in data["resourceSpans"]:
            for sp in rs["scopeSpans"][0]["spans"]:
                sp["traceId"], sp["spanId"] = (bytes(range(16)).hex(),
                                               __import__("base64").b64decode(sp["spanId"]).hex())
        r = client.post("/v1/traces", content=json.dumps(data), headers=h)
    else:
        r = client.post("/v1/traces", content=req.SerializeToString(), headers=h)
    assert r.status_code == 200, r.text
    resp = ExportTraceServiceResponse()
    if ctype == "application/json":
        json_format.Parse(r.content, resp)
    else:
        resp.ParseFromString(r.content)
    return resp


def _rows(factory, use_case):
    from sqlalchemy import select

    from takeoff.telemetry.models import TelemetryEvent
    with transaction(factory) as s:
        return list(s.scalars(select(TelemetryEvent).where(TelemetryEvent.use_case == use_case)
                              .order_by(TelemetryEvent.id)))


TAGGED = {"service.name": "tagged-svc", "takeoff.use_case": "tagged", "takeoff.release": "tagged:1"}


def test_a_resource_tag_does_not_make_every_span_a_usage_event(client, users, factory):
    from takeoff.telemetry import otlp

    req = _export(TAGGED, [
        ({"http.route": "/health", "http.response.status_code": 200}, 0),  # HTTP server span: skipped
        ({"db.system": "postgresql", "db.statement": "SELECT 1"}, 0),  # database span: skipped
        ({}, 0),  # a bare span: skipped
        ({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, 0),  # GenAI: kept
        ({"takeoff.release": "7", "takeoff.unit_id": "u1"}, 0),  # tagged on the span itself: kept
        ({"gen_ai.usage.input_tokens": 3}, 0),  # usage alone makes it GenAI
    ])
    events, skipped, refused = otlp.span_events(req)
    assert skipped == 3 and len(events) == 3 and refused == []
    resp = _post(client, users, req)
    assert resp.partial_success.rejected_spans == 0  # skipped spans are accepted, not refused
    rows = _rows(factory, "tagged")
    assert [r.id[-1] for r in rows] == ["4", "5", "6"]
    assert [r.release for r in rows] == ["tagged:1", "tagged:7", "tagged:1"]  # the span's own release wins


@pytest.mark.parametrize("ctype", ["application/x-protobuf", "application/json"])
def test_genai_attributes_map_onto_the_event(client, users, factory, ctype):
    req = _export({"service.name": "gen-svc", "takeoff.release": "gen-svc:1"}, [
        ({"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude",
          "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
          "gen_ai.usage.cache_read.input_tokens": 30, "gen_ai.usage.cache_creation.input_tokens": 40,
          "gen_ai.usage.reasoning.output_tokens": 5, "gen_ai.response.finish_reasons": ["stop", "length"],
          "takeoff.release": "gen-svc:9", "gen_ai.request.temperature": 0.2}, 0),
    ])
    assert _post(client, users, req, ctype).partial_success.rejected_spans == 0
    (row,) = _rows(factory, "gen-svc")
    assert row.release == "gen-svc:9" and row.provider == "anthropic" and row.model == "claude"
    assert row.data["tokens"] == {"input": 100, "output": 20, "cache_read": 30, "cache_write": 40, "reasoning": 5}
    assert row.data["attributes"] == {"gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons":
                                      ["stop", "length"], "gen_ai.request.temperature": 0.2}
    st = _window(factory, "gen-svc")
    assert st.tokens["cache_write"] == 40


def test_every_genai_operation_maps(client, users, factory):
    """Model calls are usage events; agent, tool and workflow steps of the same trace are in their span trees."""
    calls = ["chat", "text_completion", "generate_content", "embeddings"]
    steps = ["execute_tool", "invoke_agent", "create_agent"]
    req = _export({"service.name": "ops-svc"}, [
        ({"gen_ai.operation.name": op, "gen_ai.provider.name": "openai"}
         | ({"gen_ai.usage.input_tokens": 8} if op == "embeddings" else {})
         | ({"gen_ai.tool.name": "search"} if op == "execute_tool" else {}), 0) for op in calls + steps])
    assert _post(client, users, req).partial_success.rejected_spans == 0
    rows = _rows(factory, "ops-svc")
    assert [r.data["attributes"]["gen_ai.operation.name"] for r in rows] == calls
    assert rows[calls.index("embeddings")].data["tokens"] == {"input": 8}


@pytest.mark.parametrize("ctype", ["application/x-protobuf", "application/json"])
def test_late_and_timeless_spans_are_refused_in_partial_success(client, users, factory, ctype):
    genai = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    req = _export({"service.name": "late-svc"}, [(genai, 0), (genai, 2 * 86400), (genai, None), ({}, 2 * 86400)])
    resp = _post(client, users, req, ctype)
    assert resp.partial_success.rejected_spans == 2  # the old GenAI span and the one without a time, not the HTTP one
    message = resp.partial_success.error_message
    assert message.startswith("2 span(s) refused") and "lateness" in message and "ts" in message
    assert [r.id[-1] for r in _rows(factory, "late-svc")] == ["1"]


def test_the_shared_check_leaves_out_what_eventin_refuses():
    from takeoff.telemetry import otlp

    ev = {"id": "e1", "use_case": "uc", "ts": time.time(), "release": "9" * 100, "latency_ms": 2e13,
          "cost_usd": float("inf"), "tokens": {"input": 5, "output": 10**12}, "scores": {"a": float("nan"), "b": 1.0},
          "features": {"f": float("-inf"), "g": "x", "": 1}, "attributes": {"t": float("nan"), "k": [1, "v"]}}
    checked, why = otlp.usable_event(ev)
    assert why == "" and checked is not None
    assert "latency_ms" not in checked and "cost_usd" not in checked
    assert checked["tokens"] == {"input": 5} and checked["scores"] == {"b": 1.0}
    assert checked["features"] == {"g": "x"} and checked["attributes"] == {"k": [1, "v"]}
    assert checked["release"] == "9" * 100
    kept, refused = otlp.check_events([checked], time.time(), 86400)
    assert refused == [] and kept[0]["release"] == ""  # "uc:99…9" does not fit a release id
    assert otlp.usable_event({"id": "e2", "use_case": "uc", "ts": 0.0})[0] is None


def test_a_nul_in_a_span_value_leaves_it_out_and_a_nul_use_case_refuses_the_span(client, users, factory):
    """PostgreSQL's text columns cannot hold NUL: a model name with one is left out, a use case with one has no
    event to make (partial_success), never a 500."""
    req = _export({"service.name": "nul-svc"}, [
        ({"gen_ai.request.model": "gpt\x00x", "gen_ai.operation.name": "chat"}, 0),
        ({"gen_ai.request.model": "gpt-4o", "takeoff.use_case": "bad\x00uc"}, 0),
    ])
    resp = _post(client, users, req)
    assert resp.partial_success.rejected_spans == 1 and "NUL" in resp.partial_success.error_message
    rows = _rows(factory, "nul-svc")
    assert len(rows) == 1 and rows[0].model is None


def test_otlp_content_is_mapped_and_stored_redacted_only_where_the_capture_policy_stores_it(client, users, factory,
                                                                                            monkeypatch):
    from sqlalchemy import select

    from takeoff.telemetry import otlp_trace
    from takeoff.telemetry.request_models import RequestContent

    asked = []
    content_of = otlp_trace._content
    monkeypatch.setattr(otlp_trace, "_content", lambda r: asked.append(r) or content_of(r))
    message = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "mail me at jo@example.com"}]}])

    def send(span_id):
        req = _export({"service.name": "cap-svc"}, [({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                                                      "gen_ai.input.messages": message}, 0)])
        req.resource_spans[0].scope_spans[0].spans[0].span_id = span_id.to_bytes(8, "big")
        assert _post(client, users, req).partial_success.rejected_spans == 0

    send(1)  # capture off (the default): the content is neither read nor stored
    assert asked == [] and len(_rows(factory, "cap-svc")) == 1
    h = users.headers("admin")
    assert client.put("/api/v1/capture-policies/cap-svc", json={"capture": True}, headers=h).status_code == 200
    send(2)
    assert len(asked) == 1
    with transaction(factory) as s:
        (body,) = [c.body for c in s.scalars(select(RequestContent))]
    assert "[email]" in body and "jo@example.com" not in body
