"""Fixtures for audit finding tests: a use case owned by olivia."""
from __future__ import annotations

from typing import Any

import pytest


def make_use_case(client: Any, admin: dict[str, str], key: str = "credit-decision", owner: str | None = None) -> str:
    body = {"key": key, "name": "Credit decision automation", "purpose": "Decide consumer credit",
            "data_sources": ["applications"], "expected_users": 25, "risk_tier": "high", "business_owner": owner,
            "kpis": {"north_star": {"name": "decision time", "unit": "h", "direction": "lower_is_better",
                                    "baseline": 48.0, "target": 4.0},
                     "guardrails": [{"name": "default rate", "unit": "ratio", "direction": "lower_is_better",
                                     "target": 0.03},
                                    {"name": "approval parity gap", "unit": "ratio", "direction": "lower_is_better",
                                     "target": 0.05}]}}
    r = client.post("/api/v1/usecases", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return key


@pytest.fixture
def usecase(client, admin, users):  # type: ignore[no-untyped-def]
    owner = users.create("business_owner", username="olivia")
    return make_use_case(client, admin, owner=owner)
