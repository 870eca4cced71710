"""NaN and ±Infinity in telemetry, on SQLite and PostgreSQL: a JSON batch holding one is refused whole (422 naming
the field), an OTLP span holding one is kept with that value left out; no NaN is ever stored or reported."""
from __future__ import annotations

import base64
import json
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy import text

from takeoff.core.db import transaction
from takeoff.telemetry import compaction as telemetry_compaction
from takeoff.telemetry import series as telemetry_series
from takeoff.telemetry import window as telemetry_window
from tests.telemetry.otlp_values import any_value

NONFINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]  # as the body's text: json.loads reads 1e400 as inf
# (where the value goes, as JSON text with {} for the value; the field pydantic names)
JSON_CASES = [
    ('"attributes": {"x": {}}', "events.1.attributes.x"),
    ('"attributes": {"k": "v", "a": [1, {"b": {}}]}', "events.1.attributes.a.1.b"),
    ('"scores": {"q": {}}', "events.1.scores.q"),
    ('"features": {"f": {}}', "events.1.features.f"),
    ('"cost_usd": {}', "events.1.cost_usd"),
    ('"latency_ms": {}', "events.1.latency_ms"),
    ('"tokens": {"input": {}}', "events.1.tokens.input"),
]


def _event_text(extra: str = "") -> str:
    return (f'{{"id": "{uuid.uuid4().hex}", "use_case": "nf-uc", "ts": {time.time()}'
            + (f", {extra}" if extra else "") + "}")


def _stored(factory: Any, use_case: str) -> int:
    with transaction(factory) as s:
        return int(s.scalar(text("SELECT count(*) FROM telemetry_events WHERE use_case = :uc"), {"uc": use_case}))


@pytest.mark.parametrize(("where", "field"), JSON_CASES, ids=[f for _, f in JSON_CASES])
def test_a_nonfinite_number_refuses_the_json_batch_naming_the_field(client, users, factory, where, field):
    h = {**users.headers("ai_engineer"), "Content-Type": "application/json"}
    for value in NONFINITE:
        body = f'{{"events": [{_event_text()}, {_event_text(where.replace("{}", value))}]}}'
        r = client.post("/api/v1/events", content=body, headers=h)
        assert r.status_code == 422, (value, r.status_code, r.text)
        fields = [d["field"] for d in r.json()["error"]["details"]]
        assert any(f == field or f.startswith(field + ".") for f in fields), (value, fields)  # features: per type
        assert all(f.startswith("events.1.") for f in fields), fields
    assert _stored(factory, "nf-uc") == 0  # nothing of any refused batch, not even its good event
    ok = client.post("/api/v1/events", content=f'{{"events": [{_event_text(where.replace("{}", "2"))}]}}',
                     headers=h)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"accepted": 1, "duplicates": 0}


def test_every_nonfinite_value_of_an_event_is_named(client, users):
    body = ('{"events": [' + _event_text('"attributes": {"a": NaN, "b": [Infinity, {"c": -1e400}], "ok": 1e308}')
            + "]}")
    r = client.post("/api/v1/events", content=body,
                    headers={**users.headers("ai_engineer"), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert sorted(d["field"] for d in r.json()["error"]["details"]) == [
        "events.0.attributes.a", "events.0.attributes.b.0", "events.0.attributes.b.1.c"]


# --- OTLP: the same values in spans are left out of their field; the span is kept ---------------------------------

NAN, INF = float("nan"), float("inf")


def _set(kvs: Any, attrs: dict[str, Any]) -> None:
    for k, v in attrs.items():
        kv = kvs.add()
        kv.key = k
        kv.value.CopyFrom(any_value(v))


def _export(spans: list[tuple[dict[str, Any], dict[str, float]]]) -> ExportTraceServiceRequest:
    """An export of one resource (service.name nf-svc) with a span per (attributes, evaluation scores)."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    _set(rs.resource.attributes, {"service.name": "nf-svc"})
    ss = rs.scope_spans.add()
    now = time.time_ns()
    for i, (attrs, scores) in enumerate(spans):
        sp = ss.spans.add()
        sp.trace_id, sp.span_id = uuid.uuid4().bytes, (i + 1).to_bytes(8, "big")
        sp.name = "chat m"
        sp.start_time_unix_nano, sp.end_time_unix_nano = now - 200_000_000, now
        _set(sp.attributes, attrs)
        for name, value in scores.items():
            ev = sp.events.add()
            ev.name = "gen_ai.evaluation.result"
            ev.time_unix_nano = now
            _set(ev.attributes, {"gen_ai.evaluation.name": name, "gen_ai.evaluation.score.value": value})
    return req


def _bare_nonfinite(obj: Any) -> Any:
    """OTLP/JSON as a careless exporter writes it: doubles as bare NaN / Infinity / 1e400 (json.loads reads all)."""
    if isinstance(obj, dict):
        if set(obj) == {"doubleValue"} and obj["doubleValue"] in ("NaN", "Infinity", "-Infinity"):
            return {"doubleValue": float(obj["doubleValue"].replace("Infinity", "inf"))}
        return {k: _bare_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_bare_nonfinite(x) for x in obj]
    return obj


def _encode(req: ExportTraceServiceRequest, encoding: str) -> tuple[bytes, str]:
    if encoding == "protobuf":
        return req.SerializeToString(), "application/x-protobuf"
    data = json_format.MessageToDict(req)  # doubles NaN / Infinity as the quoted strings protobuf's JSON spells
    for rs in data["resourceSpans"]:
        for sp in rs["scopeSpans"][0]["spans"]:  # OTLP/JSON ids are hex, not protobuf's base64
            sp["traceId"] = base64.b64decode(sp["traceId"]).hex()
            sp["spanId"] = base64.b64decode(sp["spanId"]).hex()
    if encoding == "json-quoted":
        return json.dumps(data).encode(), "application/json"
    body = json.dumps(_bare_nonfinite(data))  # bare NaN and Infinity; the first -Infinity written as -1e400
    return body.replace("-Infinity", "-1e400", 1).encode(), "application/json"


def _refused(content: bytes, ctype: str) -> int:
    resp = ExportTraceServiceResponse()
    if ctype == "application/json":
        json_format.Parse(content, resp)
    else:
        resp.ParseFromString(content)
    return resp.partial_success.rejected_spans


BAD_SPAN = ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "m", "gen_ai.operation.name": "chat",
             "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": INF,
             "gen_ai.usage.cache_read.input_tokens": "99999999999999999999", "gen_ai.usage.reasoning.output_tokens": -5,
             "gen_ai.usage.cache_creation.input_tokens": -INF, "takeoff.cost_usd": INF, "takeoff.feature.len": NAN,
             "takeoff.feature.lang": "en", "gen_ai.request.temperature": NAN, "gen_ai.request.max_tokens": -INF,
             "gen_ai.response.finish_reasons": ["stop"], "some.unknown": NAN},
            {"relevance": NAN, "groundedness": 0.5, "toxicity": -INF})
GOOD_SPAN = ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 4,
              "takeoff.cost_usd": 0.01, "takeoff.feature.len": 3.0}, {"groundedness": 0.9})


def _no_constants(raw: str) -> dict[str, Any]:
    def refuse(c: str) -> None:
        raise AssertionError(f"stored JSON holds a bare {c}: {raw[:300]}")
    return json.loads(raw, parse_constant=refuse)


@pytest.mark.parametrize("encoding", ["protobuf", "json-quoted", "json-bare"])
def test_otlp_nonfinite_values_are_left_out_and_the_span_kept(client, users, factory, encoding):
    body, ctype = _encode(_export([BAD_SPAN, GOOD_SPAN]), encoding)
    r = client.post("/v1/traces", content=body, headers={**users.headers("ai_engineer"), "Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert _refused(r.content, ctype) == 0
    with transaction(factory) as s:
        rows = s.execute(text("SELECT id, cost_usd, CAST(data AS TEXT) FROM telemetry_events "
                              "WHERE use_case = 'nf-svc' ORDER BY id")).all()
    assert len(rows) == 2
    bad, good = sorted(rows, key=lambda row: row[0][-1])  # span ids ...01 and ...02
    data = _no_constants(bad[2])
    assert bad[1] is None  # the infinite cost left out (the catalog has no price for m)
    assert data["tokens"] == {"input": 10}  # inf, absurd, negative and -inf counts left out
    assert data["scores"] == {"groundedness": 0.5}
    assert data["features"] == {"lang": "en"}
    assert data["attributes"] == {"gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons": ["stop"],
                                  "gen_ai.request.temperature": "NaN", "gen_ai.request.max_tokens": "-Infinity"}
    assert _no_constants(good[2])["features"] == {"len": 3.0}
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(minutes=2)
    for compacted in (False, True):
        with transaction(factory) as s:
            if compacted:
                telemetry_compaction.compact_rollups(s)
            st = telemetry_window.window_stats(s, "nf-svc", None, start, end)
            assert st.count == 2 and st.cost_usd == pytest.approx(0.01)
            n, total, sq = st.scores["groundedness"]
            assert n == 2 and total == pytest.approx(1.4) and sq == pytest.approx(0.25 + 0.81)
            assert st.tokens["input"] == 14 and st.tokens["output"] == 0
            for metric in ("quality_groundedness", "cost_per_task", "tokens", "latency_p95"):
                values = [v for _, v in telemetry_series.series(s, "nf-svc", metric, start, end, 3600) if v is not None]
                assert values and all(math.isfinite(v) for v in values), (metric, values)
    metrics = client.get("/api/v1/metrics", params={"use_case": "nf-svc", "metric": "quality_groundedness",
                                                    "from": start.isoformat(), "to": end.isoformat(), "step": "1h"},
                         headers=users.headers("ai_engineer"))
    assert metrics.status_code == 200
    assert [p["value"] for p in metrics.json()["points"] if p["value"] is not None] == [pytest.approx(0.7)]
