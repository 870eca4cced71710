"""Portfolio over HTTP: intake rules, lifecycle, scoring, the seed's ranking and recommendation, bad input."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from takeoff.audit.models import AuditEntry
from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase, UseCaseScore


def intake(key: str, **over: Any) -> dict[str, Any]:
    body = {"key": key, "name": key.replace("-", " ").title(), "purpose": "Help agents answer faster",
            "data_sources": ["crm"], "expected_users": 50, "risk_tier": "low", "system_of_record": "Zendesk",
            "biggest_bottleneck": "data_access", "risk_constraint": "no customer PII leaves the EU",
            "monthly_volume": 20000}
    body.update(over)
    return body


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_intake_requires_purpose_data_sources_users_and_risk_tier(client, admin, factory) -> None:
    r = client.post("/api/v1/usecases", json={"key": "bare", "name": "Bare"}, headers=admin)
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    for field in ("purpose", "data_sources", "expected_users", "risk_tier"):
        assert field in msg
    assert count(factory, UseCase) == 0
    r = client.post("/api/v1/usecases", json=intake("ok"), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "proposed"
    r = client.post("/api/v1/usecases", json=intake("ok"), headers=admin)
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]


def test_risk_factors_suggest_a_tier_with_reasons(client, admin) -> None:
    body = intake("credit", risk_tier=None, risk_factors={"harm_if_wrong": 5, "decision_mode": "automate",
                                                          "personal_data": True, "regulated_domain": True,
                                                          "external_users": True})
    r = client.post("/api/v1/usecases", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["risk_tier"] == "high"
    assert any("harm if wrong is 5" in x for x in r.json()["risk_tier_reasons"])


def test_lifecycle_records_who_when_why_and_refuses_illegal_moves(client, users, admin, factory) -> None:
    owner = users.create("business_owner", username="bea")
    client.post("/api/v1/usecases", json=intake("reply"), headers=admin)
    r = client.post("/api/v1/usecases/reply/transitions", json={"to": "production", "reason": "go"}, headers=admin)
    assert r.status_code == 409 and "allowed from proposed" in r.json()["error"]["message"]
    r = client.post("/api/v1/usecases/reply/transitions", json={"to": "pilot", "reason": "start the pilot"},
                    headers=admin)
    assert r.status_code == 201
    r = client.post("/api/v1/usecases/reply/transitions", json={"to": "production", "reason": "scale"}, headers=admin)
    assert r.status_code == 409 and "business owner" in r.json()["error"]["message"]
    assert client.get("/api/v1/usecases/reply", headers=admin).json()["status"] == "pilot"
    assert client.patch("/api/v1/usecases/reply", json={"business_owner": owner}, headers=admin).status_code == 200
    r = client.post("/api/v1/usecases/reply/transitions", json={"to": "production", "reason": "KPI met"}, headers=admin)
    assert r.status_code == 201
    hist = client.get("/api/v1/usecases/reply/transitions", headers=admin).json()["transitions"]
    assert [(t["from"], t["to"], t["actor"], t["reason"]) for t in hist] == [
        ("proposed", "pilot", "root", "start the pilot"), ("pilot", "production", "root", "KPI met")]
    r = client.post("/api/v1/usecases/reply/transitions", json={"to": "pilot", "reason": ""}, headers=admin)
    assert r.status_code == 422


def test_unknown_owner_is_refused(client, admin, factory) -> None:
    r = client.post("/api/v1/usecases", json=intake("xx", business_owner="nobody"), headers=admin)
    assert r.status_code == 422 and "unknown person 'nobody'" in r.json()["error"]["message"]
    assert count(factory, UseCase) == 0


SEED = {  # the seed's table: value / feasibility / risk
    "support-reply-assist": (4, 4, 2),
    "invoice-anomaly-detection": (3, 3, 3),
    "credit-decision-automation": (5, 2, 5),
    "sales-call-summarization": (3, 4, 2),
}


def test_seed_table_ranking_and_recommendation_through_the_api(client, users, admin) -> None:
    scorer = users.headers("product_owner", username="pat")
    for key, (v, f, r) in SEED.items():
        assert client.post("/api/v1/usecases", json=intake(key, monthly_volume=None), headers=admin).status_code == 201
        resp = client.post(f"/api/v1/usecases/{key}/scores",
                           json={"value": v, "feasibility": f, "risk": r, "scored_on": "2026-10-01"}, headers=scorer)
        assert resp.status_code == 201, resp.text
    out = client.get("/api/v1/portfolio/ranking", headers=admin).json()
    order = [(x["use_case"], x["priority"]) for x in out["ranking"]]
    assert order == [("support-reply-assist", 51.2), ("sales-call-summarization", 38.4),
                     ("invoice-anomaly-detection", 21.6), ("credit-decision-automation", 8.0)]
    rec = out["recommendation"]
    assert rec["near_term"] == ["support-reply-assist", "sales-call-summarization"]
    assert rec["long_term"] == "credit-decision-automation"
    assert any("feasibility 2 < 3" in x for x in rec["reasons"]["credit-decision-automation"])
    assert any("longer-term" in x for x in rec["reasons"]["credit-decision-automation"])


def test_several_scorers_median_disagreement_and_quarter_history(client, users, admin) -> None:
    client.post("/api/v1/usecases", json=intake("multi"), headers=admin)
    a, b, c = (users.headers("product_owner") for _ in range(3))
    for h, v in ((a, 2), (b, 4), (c, 5)):
        client.post("/api/v1/usecases/multi/scores", json={"value": v, "feasibility": 3, "risk": 2,
                                                          "scored_on": "2026-07-15"}, headers=h)
    crit = {"revenue_lift": 5, "cost_reduction": 5, "risk_reduction": 4, "customer_experience": 5, "cycle_time": 5}
    r = client.post("/api/v1/usecases/multi/scores", json={"value": crit, "feasibility": 4, "risk": 2,
                                                          "scored_on": "2026-10-02"}, headers=a)
    assert r.status_code == 201 and r.json()["value"] == 4.8
    out = client.get("/api/v1/usecases/multi/scores", headers=admin).json()
    assert list(out["history"]) == ["2026-Q3", "2026-Q4"]
    assert out["history"]["2026-Q3"]["value"] == 4.0
    assert out["history"]["2026-Q3"]["disagreement"]["value"]["spread"] == 3.0
    assert "value" in out["history"]["2026-Q3"]["contested"]
    assert out["aggregate"]["value"] == 4.8  # a's re-score replaces a's earlier one


def test_scores_outside_1_to_5_are_refused(client, admin, factory) -> None:
    client.post("/api/v1/usecases", json=intake("ss"), headers=admin)
    for bad in ({"value": 6, "feasibility": 3, "risk": 2}, {"value": 0, "feasibility": 3, "risk": 2},
                {"value": {"revenue_lift": 9}, "feasibility": 3, "risk": 2},
                {"value": 3, "feasibility": 3, "risk": 2, "scorer": "ghost"}):
        r = client.post("/api/v1/usecases/ss/scores", json=bad, headers=admin)
        assert r.status_code == 422, (bad, r.text)
    assert count(factory, UseCaseScore) == 0


def test_scale_targets_and_kpis_need_exactly_two_guardrails(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("kk"), headers=admin)
    m = {"name": "CSAT", "unit": "score", "direction": "higher_is_better", "baseline": 4.1, "target": 4.4}
    r = client.patch("/api/v1/usecases/kk", json={"kpis": {"north_star": m, "guardrails": [m]}}, headers=admin)
    assert r.status_code == 422
    r = client.patch("/api/v1/usecases/kk", json={"kpis": {"north_star": m, "guardrails": [m, m]},
                                                 "targets": {"latency_p95_ms": 1200, "cost_per_task_usd": 0.02},
                                                 "scale": {"users_and_workflows": "40 agents, 2 queues"}},
                     headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["targets"] == {"latency_p95_ms": 1200.0, "cost_per_task_usd": 0.02}
    r = client.patch("/api/v1/usecases/kk", json={"scale": {"galaxy": "x"}}, headers=admin)
    assert r.status_code == 422


def test_writes_are_audited(client, admin, factory) -> None:
    client.post("/api/v1/usecases", json=intake("aud"), headers=admin)
    with transaction(factory) as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    assert "usecase.create" in actions


def test_same_key_registered_concurrently_is_409_not_500(client, admin, factory, monkeypatch) -> None:
    from takeoff.core.actor import Actor
    from takeoff.core.errors import Conflict
    from takeoff.portfolio import service

    assert client.post("/api/v1/usecases", json=intake("twin"), headers=admin).status_code == 201
    monkeypatch.setattr(service, "find", lambda session, key: None)  # the other request passed the check first
    before = count(factory, AuditEntry)
    try:
        with transaction(factory) as s:
            service.create(s, Actor("root", ("admin",)), intake("twin"))
        raise AssertionError("expected a conflict")
    except Conflict as exc:
        assert "already exists" in exc.message
    assert count(factory, UseCase) == 1 and count(factory, AuditEntry) == before
