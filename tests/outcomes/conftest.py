"""Fixtures for outcome tests: a use case with a north-star KPI and two guardrails."""
from __future__ import annotations

from typing import Any

import pytest

KPIS = {"north_star": {"name": "handle time", "unit": "min", "direction": "lower_is_better", "baseline": 12.0,
                       "target": 8.0},
        "guardrails": [{"name": "csat", "unit": "score", "direction": "higher_is_better", "baseline": 4.1, "target": 4.0},
                       {"name": "escalation share", "unit": "ratio", "direction": "lower_is_better", "target": 0.1}]}


def make_use_case(client: Any, admin: dict[str, str], key: str = "support-reply", owner: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    body = {"key": key, "name": "Support reply assist", "purpose": "Draft replies", "data_sources": ["tickets"],
            "expected_users": 40, "risk_tier": "low", "kpis": KPIS, "monthly_volume": 3000,
            "business_owner": owner, **extra}
    r = client.post("/api/v1/usecases", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def usecase(client, admin, users):  # type: ignore[no-untyped-def]
    owner = users.create("business_owner", username="olivia")
    make_use_case(client, admin, owner=owner)
    return "support-reply"
