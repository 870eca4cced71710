"""Fixtures for the requests explorer: a use case and a helper that sends events through the real endpoint."""
from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

TRACE = "0af7651916cd43dd8448eb211c80319c"


def make_use_case(client: Any, admin: dict[str, str], key: str) -> str:
    body = {"key": key, "name": f"Use case {key}", "purpose": "Answer support tickets", "data_sources": ["tickets"],
            "expected_users": 10, "risk_tier": "medium",
            "kpis": {"north_star": {"name": "handle time", "unit": "min", "direction": "lower_is_better",
                                    "baseline": 10.0, "target": 5.0},
                     "guardrails": [{"name": "csat", "unit": "score", "direction": "higher_is_better", "target": 4},
                                    {"name": "cost", "unit": "usd", "direction": "lower_is_better", "target": 1}]}}
    r = client.post("/api/v1/usecases", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return key


def event(use_case: str, **kw: Any) -> dict[str, Any]:
    return {"id": kw.pop("id", uuid.uuid4().hex), "use_case": use_case, "ts": kw.pop("ts", time.time()),
            "latency_ms": 120.0, "status": "ok", "model": "gpt-4o", "provider": "openai",
            "tokens": {"input": 100, "output": 20}, **kw}


@pytest.fixture
def send(client, admin):  # type: ignore[no-untyped-def]
    def post(*events: dict[str, Any]) -> None:
        r = client.post("/api/v1/events", json={"events": list(events)}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == len(events)
    return post


@pytest.fixture
def usecase(client, admin):  # type: ignore[no-untyped-def]
    return make_use_case(client, admin, "support-reply")
