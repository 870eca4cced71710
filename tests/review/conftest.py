"""Fixtures for review: a use case with requests (errors, a fallback, violations, a low rating), a queue on it."""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.requests.conftest import event, make_use_case

RUBRIC = {"scores": [{"name": "helpful", "min": 1, "max": 5}, {"name": "correct", "min": 0, "max": 1}],
          "labels": ["wrong_tone", "made_up"], "free_text": True}
VIOLATION = [{"stage": "output", "detector": "pii", "action": "redact"}]


@pytest.fixture
def traffic(client, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """support-reply with 8 requests: r0-r3 ok, r4 error, r5 fallback, r6 with a violation, r7 rated 1."""
    key = make_use_case(client, admin, "support-reply")
    now = time.time()
    events = [event(key, id=f"r{i}", ts=now - 600 + i) for i in range(8)]
    events[4]["status"], events[4]["error_category"] = "error", "timeout_or_error"
    events[5]["status"], events[5]["fallback_reason"] = "fallback", "timeout"
    events[6]["violations"] = VIOLATION
    r = client.post("/api/v1/events", json={"events": events}, headers=admin)
    assert r.status_code == 200 and r.json()["accepted"] == 8, r.text
    r = client.post("/api/v1/feedback", json={"id": "fb7", "request_id": "r7", "rating": 1},
                    headers=admin)
    assert r.status_code in (200, 202), r.text
    return {"use_case": key, "now": now}


@pytest.fixture
def queue(client, admin, traffic) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"use_case": traffic["use_case"], "name": "replies", "rubric": RUBRIC, "reviews_per_item": 2,
            "rules": [{"kind": "errors"}, {"kind": "fallbacks"}, {"kind": "violations"}, {"kind": "low_rated"}]}
    r = client.post("/api/v1/review/queues", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()
