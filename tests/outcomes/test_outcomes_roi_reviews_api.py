"""ROI with formulas (negative inputs refused), usage policy, enablement, scorecard, quarterly reviews, permissions."""
from __future__ import annotations

from datetime import date

TODAY = date.today()


def _measure(client, admin, key, value):
    r = client.post(f"/api/v1/usecases/{key}/kpis/measurements",
                    json={"kpi": "handle time", "value": value, "unit": "min", "measured_on": str(TODAY)}, headers=admin)
    assert r.status_code == 201, r.text


def test_roi_names_what_is_missing_then_computes_with_formulas(client, admin, usecase):
    r = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin)
    assert r.status_code == 200 and r.json()["result"] is None
    assert "ROI assumptions" in r.json()["missing"][0]
    body = {"build_cost": 30000, "infrastructure_cost_per_month": 500, "unit_value": 0.75, "monthly_volume": 3000,
            "telemetry_cost_per_month": 400, "escalations_per_month": 0, "horizon_months": 12}
    r = client.put(f"/api/v1/usecases/{usecase}/roi", json=body, headers=admin)
    assert r.status_code == 200
    assert any("north-star" in m for m in r.json()["missing"])  # no measurement yet: no figure invented
    _measure(client, admin, usecase, 9.0)
    out = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()
    res = out["result"]
    # benefit = (12 - 9) × 0.75 × 3000 = 6750; run = 900; net = 5850; payback = 30000 / 5850
    assert res["benefit_per_month"] == 6750
    assert round(res["payback_months"], 2) == 5.13
    assert "30,000.00 / net 5,850.00" in res["formulas"]["payback_months"]
    assert out["sources"]["kpi_current"].startswith("latest measurement")


def test_roi_never_pays_back_when_benefit_is_negative(client, admin, usecase):
    client.put(f"/api/v1/usecases/{usecase}/roi", json={"build_cost": 1000, "unit_value": 1, "monthly_volume": 100,
                                                          "telemetry_cost_per_month": 10}, headers=admin)
    _measure(client, admin, usecase, 14.0)  # worse than baseline 12
    res = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()["result"]
    assert res["payback_months"] == "never"


def test_negative_roi_inputs_are_422(client, admin, usecase):
    for field in ("build_cost", "hourly_rate", "monthly_volume", "unit_value"):
        body = {"build_cost": 1000, "unit_value": 1, field: -5}
        r = client.put(f"/api/v1/usecases/{usecase}/roi", json=body, headers=admin)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"]["details"][0]["field"] == field
    assert client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()["inputs"] == {}


def test_usage_policy_and_enablement(client, admin, users, usecase):
    policy = {"approved_uses": ["draft replies for agents to edit"], "prohibited_uses": ["send replies unreviewed"],
              "red_flags": ["legal threats"], "trust_vs_verify": "Verify any refund amount."}
    r = client.put(f"/api/v1/usecases/{usecase}/usage-policy", json=policy, headers=admin)
    assert r.status_code == 200
    got = client.get(f"/api/v1/usecases/{usecase}/usage-policy", headers=admin).json()["policy"]
    assert got["prohibited_uses"] == ["send replies unreviewed"]
    assert client.put(f"/api/v1/usecases/{usecase}/usage-policy", json={**policy, "approved_uses": []},
                      headers=admin).status_code == 422
    item = client.post(f"/api/v1/usecases/{usecase}/training", json={"audience": "frontline", "title": "Editing drafts"},
                       headers=admin).json()
    assert client.post(f"/api/v1/usecases/{usecase}/training", json={"audience": "interns", "title": "x"},
                       headers=admin).status_code == 422
    agent = users.create("viewer", username="agent1")
    r = client.post(f"/api/v1/training/{item['id']}/complete", json={},
                    headers={"Authorization": f"Bearer {users.token(agent)}"})
    assert r.status_code == 201 and r.json()["username"] == "agent1"
    en = client.get(f"/api/v1/usecases/{usecase}/enablement", headers=admin).json()
    assert en["trained_people"] == ["agent1"]
    assert en["audiences"]["frontline"][0]["completed_by"] == ["agent1"]


def test_widget_feedback_shows_on_the_scorecard(client, admin, usecase):
    for text in ("great draft saved me time", "draft was wrong about refund policy", "saved time on replies"):
        r = client.post(f"/api/v1/usecases/{usecase}/feedback", json={"rating": 4, "comment": text, "time_saved_s": 360},
                        headers=admin)
        assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/usecases/{usecase}/feedback", json={"rating": 9}, headers=admin).status_code == 422
    card = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=2", headers=admin).json()
    assert card["weeks"][-1]["feedback"] == 3
    assert card["weeks"][-1]["time_saved_h"] == 0.3
    assert sum(t["size"] for t in card["themes"]) == 3
    assert all(t["examples"] for t in card["themes"])


def test_quarterly_review_suggests_and_records_accountable_decisions(client, admin, users, usecase):
    client.post(f"/api/v1/usecases/{usecase}/scores", json={"value": 5, "feasibility": 4, "risk": 2}, headers=admin)
    r = client.post("/api/v1/reviews", json={}, headers=admin)
    assert r.status_code == 201, r.text
    rev = r.json()
    assert rev["snapshot"][0]["use_case"] == usecase
    assert rev["actions"] and rev["actions"][0]["reasons"]
    assert client.post("/api/v1/reviews", json={}, headers=admin).status_code == 409
    q = rev["quarter"]
    other = users.headers("business_owner")
    d = {"use_case": usecase, "action": "keep", "rationale": "adoption still growing"}
    r = client.post(f"/api/v1/reviews/{q}/decisions", json=d, headers=other)
    assert r.status_code == 403 and "accountable" in r.json()["error"]["message"]
    owner = {"Authorization": f"Bearer {users.token('olivia')}"}
    r = client.post(f"/api/v1/reviews/{q}/decisions", json=d, headers=owner)
    assert r.status_code == 201 and r.json()["decided_by"] == "olivia"
    assert client.get(f"/api/v1/reviews/{q}", headers=admin).json()["decisions"][usecase]["action"] == "keep"
    assert client.post("/api/v1/reviews", json={"quarter": "2026-Q9"}, headers=admin).status_code == 422


def test_permission_matrix(assert_matrix, client, admin, usecase):
    assert_matrix({
        "read": ("GET", f"/api/v1/usecases/{usecase}/kpis", None),
        "outcome.write": ("PUT", f"/api/v1/usecases/{usecase}/usage-policy",
                          {"approved_uses": ["a"], "prohibited_uses": ["b"], "trust_vs_verify": "c"}),
        "review.write": ("POST", "/api/v1/reviews", {"quarter": "2020-Q1"}),
    })


def test_weekly_scorecard_job_runs(app, client, admin, usecase, factory):
    from takeoff.jobs import service as jobs

    client.post(f"/api/v1/usecases/{usecase}/transitions", json={"to": "pilot", "reason": "go"}, headers=admin)
    client.post(f"/api/v1/usecases/{usecase}/feedback", json={"rating": 5, "comment": "fast"}, headers=admin)
    from takeoff.core.db import transaction

    with transaction(factory) as s:
        job = jobs.enqueue(s, "outcomes.weekly_scorecard", {})
    app.state.worker.drain()
    with transaction(factory) as s:
        done = jobs.get(s, job.id)
        assert done.status == "done", done.last_error
        assert done.result["use_cases"] == 1
