"""Outcome metrics read production telemetry only (monitoring's rule): telemetry tagged with a release of the use
case that never went live (a staging or smoke-test run) never counts in adoption, the scorecard, telemetry KPIs,
ROI inputs or the quarterly review; untagged traffic and live releases do."""
from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import update

from takeoff.core.db import transaction, utcnow
from takeoff.releases.models import Release


def _ev(unit: str, release: str | None, cost: float) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "use_case": "support-reply", "release": release, "unit_id": unit,
            "ts": time.time() - 5, "latency_ms": 100.0, "status": "ok", "outcome": "escalated",
            "tokens": {"input": 10, "output": 5}, "cost_usd": cost}


def test_staging_release_telemetry_never_counts_in_outcomes(client, admin, usecase, factory) -> None:
    with transaction(factory) as s:  # passed its gate, never promoted: its telemetry is staging traffic
        s.add(Release(use_case_key=usecase, version=1, status="approved", bundle={}, content_hash="a" * 64,
                      created_by="eng"))
    staging = [_ev(f"tester{i}", f"{usecase}:1", 1.0) for i in range(30)]
    prod = [_ev(f"user{i % 2}", None, 0.01) for i in range(4)]
    r = client.post("/api/v1/events", json={"events": staging + prod}, headers=admin)
    assert r.status_code == 200, r.text

    week = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()["weeks"][-1]
    assert (week["calls"], week["escalations"], week["active_users"]) == (4, 4, 2)
    assert client.put(f"/api/v1/usecases/{usecase}/roi", json={"build_cost": 1000, "unit_value": 2},
                      headers=admin).status_code == 200
    inputs = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()["inputs"]
    assert (inputs["monthly_volume"], inputs["telemetry_cost_per_month"], inputs["escalations_per_month"]) == (4, 0.04, 4)
    kpis = {m["metric"]: m for m in client.get(f"/api/v1/usecases/{usecase}/kpis",
                                               headers=admin).json()["telemetry"]["metrics"]}
    assert abs(kpis["cost_per_task"]["latest"] - 0.01) < 1e-9
    rev = client.post("/api/v1/reviews", json={}, headers=admin).json()
    assert rev["snapshot"][0]["active_users"] == 2

    # once the release serves production, its traffic is production traffic and counts
    with transaction(factory) as s:
        s.execute(update(Release).where(Release.version == 1).values(status="production", production_at=utcnow()))
    week = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()["weeks"][-1]
    assert (week["calls"], week["active_users"]) == (34, 32)


def test_scorecard_and_quarterly_review_count_policy_violations(client, admin, usecase) -> None:
    """Safety filter findings (issue 22) reach the weekly scorecard (with the blocked calls) and the quarterly review."""
    events = [_ev(f"user{i}", None, 0.01) for i in range(5)]
    events[0]["violations"] = [{"stage": "output", "detector": "pii", "action": "redact"}]
    events[1]["violations"] = [{"stage": "input", "detector": "prompt_injection", "action": "block"},
                               {"stage": "output", "detector": "pii", "action": "redact"}]
    assert client.post("/api/v1/events", json={"events": events}, headers=admin).status_code == 200
    week = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()["weeks"][-1]
    assert (week["policy_violations"], week["policy_blocks"]) == (3, 1)
    rev = client.post("/api/v1/reviews", json={}, headers=admin).json()
    assert rev["snapshot"][0]["policy_violations"] == 3
    md = client.get("/api/v1/reports/scorecard?format=md", headers=admin)
    assert md.status_code == 200 and "| 3 (1, 0) |" in md.text, md.text[:2000]
    assert week["review_hours"] == 0 and week["cost_of_quality"] is None  # no review yet, no ROI rates
