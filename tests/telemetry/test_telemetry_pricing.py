"""Ingestion prices events without a cost from the catalog: per usage type, effective-dated, dated OTLP model ids."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.telemetry.models import TelemetryEvent

# USD per 1M tokens, each usage type its own price so a wrong carve-out shows in the cost
PRICES = {"input": 2.0, "output": 8.0, "cache_read": 0.5, "cache_write": 3.0, "reasoning": 12.0}
# 1,000 input of which 400 cache reads and 100 cache writes; 500 output of which 200 reasoning
TOKENS = {"input": 1000, "cache_read": 400, "cache_write": 100, "output": 500, "reasoning": 200}
# 500 plain input × 2 + 400 × 0.5 + 100 × 3 + 300 plain output × 8 + 200 × 12, per 1M tokens
EXPECTED = (500 * 2.0 + 400 * 0.5 + 100 * 3.0 + 300 * 8.0 + 200 * 12.0) / 1e6


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _register(client, admin, model: str, prices: dict[str, float], since: float, provider: str = "openai") -> None:
    body = {"provider": provider, "model": model, "approved_tiers": ["low"],
            "price": {**prices, "effective_from": _iso(since)}}
    r = client.post("/api/v1/catalog/models", json=body, headers=admin)
    assert r.status_code == 201, r.text


def _ev(use_case: str, ts: float, **kw):
    base = {"id": uuid.uuid4().hex, "use_case": use_case, "release": f"{use_case}:1", "unit_id": "u1", "ts": ts,
            "latency_ms": 100.0, "status": "ok", "model": "gpt-4o", "provider": "openai", "tokens": dict(TOKENS)}
    base.update(kw)
    return base


def _post(client, headers, events) -> None:
    r = client.post("/api/v1/events", json={"events": events}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(events)


def _costs(factory, use_case: str) -> dict[str, float | None]:
    with transaction(factory) as s:
        return {e.id: e.cost_usd for e in s.scalars(select(TelemetryEvent).where(TelemetryEvent.use_case == use_case))}


def _cost_per_task(client, headers, use_case: str, start: float) -> list[float]:
    r = client.get("/api/v1/metrics", params={"use_case": use_case, "metric": "cost_per_task", "from": int(start),
                                              "to": int(time.time()) + 120, "step": "1d"}, headers=headers)
    assert r.status_code == 200, r.text
    return [p["value"] for p in r.json()["points"] if p["value"] is not None]


def test_event_without_cost_is_priced_per_usage_type_and_own_costs_are_kept(client, admin, users, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    _register(client, admin, "gpt-4o", PRICES, since=now - 3600)
    priced = [_ev("priced", now - 60) for _ in range(2)]
    own = _ev("own-cost", now - 60, cost_usd=0.5)
    unknown = _ev("unknown", now - 60, model="some-unlisted-model")
    _post(client, h, [*priced, own, unknown])
    assert _costs(factory, "priced") == {e["id"]: pytest.approx(EXPECTED) for e in priced}
    assert _costs(factory, "own-cost") == {own["id"]: 0.5}
    assert _costs(factory, "unknown") == {unknown["id"]: None}
    assert _cost_per_task(client, h, "priced", now - 7200) == [pytest.approx(EXPECTED)]
    assert _cost_per_task(client, h, "own-cost", now - 7200) == [pytest.approx(0.5)]


@pytest.mark.parametrize("one_batch", [False, True], ids=["two batches", "one batch"])
def test_price_change_prices_each_event_at_the_price_of_its_time(client, admin, users, factory, one_batch):
    """Older events get the older price, also inside one batch (the batch's price cache must not pin one price)."""
    h = users.headers("ai_engineer")
    now = time.time()
    _register(client, admin, "gpt-4o", PRICES, since=now - 4 * 3600)
    doubled = {k: v * 2 for k, v in PRICES.items()}
    r = client.post("/api/v1/catalog/prices/openai/gpt-4o", json={**doubled, "effective_from": _iso(now - 2 * 3600)},
                    headers=admin)
    assert r.status_code == 201, r.text
    before, after = _ev("repriced", now - 3 * 3600), _ev("repriced", now - 3600)
    for batch in ([[after, before]] if one_batch else [[before], [after]]):
        _post(client, h, batch)
    assert _costs(factory, "repriced") == {before["id"]: pytest.approx(EXPECTED),
                                           after["id"]: pytest.approx(2 * EXPECTED)}


def _otlp_body(response_model: str, end_ns: int) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="otlp-priced"))
    sp = rs.scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = uuid.uuid4().bytes, uuid.uuid4().bytes[:8], "chat gpt-4o"
    sp.start_time_unix_nano, sp.end_time_unix_nano = end_ns - 200_000_000, end_ns
    attrs = {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
             "gen_ai.response.model": response_model}
    for k, v in attrs.items():
        sp.attributes.add(key=k, value=AnyValue(string_value=v))
    usage = {"input_tokens": TOKENS["input"], "output_tokens": TOKENS["output"],
             "cache_read.input_tokens": TOKENS["cache_read"], "cache_creation.input_tokens": TOKENS["cache_write"],
             "reasoning.output_tokens": TOKENS["reasoning"]}
    for k, n in usage.items():
        sp.attributes.add(key=f"gen_ai.usage.{k}", value=AnyValue(int_value=n))
    return req.SerializeToString()


def test_dated_otlp_response_model_is_priced_as_its_catalog_model(client, admin, users, factory):
    h = {**users.headers("ai_engineer"), "Content-Type": "application/x-protobuf"}
    now = time.time()
    # another provider's gpt-4o, listed first, at another price: the span's provider picks the entry
    _register(client, admin, "gpt-4o", {k: v * 10 for k, v in PRICES.items()}, since=now - 3600, provider="azure")
    _register(client, admin, "gpt-4o", PRICES, since=now - 3600)
    for model in ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"):  # the second is another model: not gpt-4o
        r = client.post("/v1/traces", content=_otlp_body(model, time.time_ns()), headers=h)
        assert r.status_code == 200, r.text
    with transaction(factory) as s:
        rows = {e.model: e.cost_usd for e in s.scalars(select(TelemetryEvent).where(
            TelemetryEvent.use_case == "otlp-priced"))}
    assert rows == {"gpt-4o-2024-08-06": pytest.approx(EXPECTED), "gpt-4o-mini-2024-07-18": None}
    assert _cost_per_task(client, h, "otlp-priced", now - 7200) == [pytest.approx(EXPECTED / 2)]


def test_unpriced_catalog_model_and_empty_catalog_leave_events_unpriced(client, admin, users, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    e1 = _ev("empty-catalog", now - 60)
    _post(client, h, [e1])
    r = client.post("/api/v1/catalog/models", json={"provider": "openai", "model": "gpt-4o"}, headers=admin)
    assert r.status_code == 201, r.text
    e2 = _ev("empty-catalog", now - 30)
    _post(client, h, [e2])
    assert _costs(factory, "empty-catalog") == {e1["id"]: None, e2["id"]: None}
    assert _cost_per_task(client, h, "empty-catalog", now - 7200) == [0.0]
