"""Catalog: effective-dated prices keep old costs right; cost arithmetic follows OpenTelemetry token counting."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from takeoff.catalog import service
from takeoff.catalog.pricing import cost_usd
from takeoff.core.db import transaction


def _model(client, admin, **extra):
    body = {"provider": "openai", "model": "gpt-4o", "approved_tiers": ["low", "medium"],
            "price": {"input": 2.5, "output": 10.0, "cache_read": 1.25, "effective_from": "2026-01-01T00:00:00Z"},
            "context_limit": 128000, "rate_limits": {"requests_per_min": 500},
            "contract_terms": {"availability_sla_pct": 99.9, "incident_response_hours": 4}, **extra}
    return client.post("/api/v1/catalog/models", json=body, headers=admin)


def test_prices_are_effective_dated(client, admin, factory):
    assert _model(client, admin).status_code == 201
    r = client.post("/api/v1/catalog/prices/openai/gpt-4o",
                    json={"input": 2.0, "output": 8.0, "effective_from": "2026-06-01T00:00:00Z"}, headers=admin)
    assert r.status_code == 201, r.text
    assert [p["input"] for p in r.json()["prices"]] == [2.0, 2.5]
    with transaction(factory) as s:
        old = service.price_for(s, "openai", "gpt-4o", datetime(2026, 3, 1, tzinfo=UTC))
        new = service.price_for(s, None, "gpt-4o", datetime(2026, 7, 1, tzinfo=UTC))
        before = service.price_for(s, "openai", "gpt-4o", datetime(2025, 7, 1, tzinfo=UTC))
        unknown = service.price_for(s, "openai", "nope", datetime(2026, 7, 1, tzinfo=UTC))
    assert old["input"] == 2.5 and old["cache_read"] == 1.25 and old["reasoning"] == 10.0
    assert new["input"] == 2.0 and new["cache_read"] == 2.0  # no cache price: the input price applies
    assert before is None and unknown is None
    again = client.post("/api/v1/catalog/prices/openai/gpt-4o",
                        json={"input": 9, "output": 9, "effective_from": "2026-06-01T00:00:00Z"}, headers=admin)
    assert again.status_code == 409  # prices are never rewritten


def test_catalog_rejects_bad_entries(client, admin):
    assert _model(client, admin, approved_tiers=["extreme"]).status_code == 422
    assert _model(client, admin, endpoint_kind="carrier-pigeon").status_code == 422
    assert _model(client, admin, fallback_model="openai/missing").status_code == 422
    assert _model(client, admin, fallback_model="openai/gpt-4o").status_code == 422
    assert client.post("/api/v1/catalog/prices/openai/gpt-4o", json={"input": -1, "output": 1},
                       headers=admin).status_code in (404, 422)
    naive = client.post("/api/v1/catalog/models", json={"provider": "x", "model": "y", "price": {
        "input": 1, "output": 1, "effective_from": "2026-01-01T00:00:00"}}, headers=admin)
    assert naive.status_code == 422
    assert client.get("/api/v1/catalog/models/openai/none", headers=admin).status_code == 404


def test_fallback_and_listing(client, admin):
    assert _model(client, admin, model="gpt-4o-mini").status_code == 201
    r = _model(client, admin, fallback_model="openai/gpt-4o-mini")
    assert r.status_code == 201 and r.json()["fallback_model"] == "openai/gpt-4o-mini"
    items = client.get("/api/v1/catalog/models", headers=admin).json()["items"]
    assert [i["ref"] for i in items] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert items[0]["contract_terms"]["incident_response_hours"] == 4


def test_cost_carves_cached_and_reasoning_tokens_out_of_their_parents():
    prices = {"input": 2.0, "output": 8.0, "cache_read": 0.5, "cache_write": 2.5, "reasoning": 8.0}
    # 1M input of which 400k cache reads; 500k output of which 100k reasoning
    cost = cost_usd(prices, {"input": 1_000_000, "cache_read": 400_000, "output": 500_000, "reasoning": 100_000})
    assert cost == pytest.approx(0.6 * 2.0 + 0.4 * 0.5 + 0.4 * 8.0 + 0.1 * 8.0)
    assert cost_usd({"input": 1, "output": 1}, {}) == 0.0
    with pytest.raises(ValueError, match="unknown usage type"):
        cost_usd(prices, {"images": 3})
    with pytest.raises(ValueError, match=">= 0"):
        cost_usd(prices, {"input": -5})
    with pytest.raises(ValueError, match="'input' and 'output'"):
        cost_usd({"input": 1}, {"input": 5})
