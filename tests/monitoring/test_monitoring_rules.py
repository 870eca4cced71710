"""Alert rules over HTTP: bad input refused with 422, firing once while breached (one incident), resolving."""
from __future__ import annotations

from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.incidents.models import Incident
from takeoff.jobs import service as jobs
from takeoff.monitoring.models import Alert, AlertRule

from .conftest import ev, make_use_case, post_events


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def run_checks(app, factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        jobs.enqueue(s, "monitoring.evaluate", {})
    app.state.worker.drain()


def test_rule_on_unknown_metric_or_malformed_threshold_is_refused(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    good = {"use_case": "support-reply", "metric": "error_rate", "op": ">", "threshold": 0.1, "window": "5m"}
    for patch, field in (({"metric": "latency_p42x"}, "metric"), ({"metric": "vibes"}, "metric"),
                         ({"threshold": "ten"}, "threshold"), ({"threshold": None}, "threshold"),
                         ({"threshold": "nan"}, "threshold"), ({"threshold": [1]}, "threshold"),
                         ({"op": "=="}, "op"), ({"window": "5 weeks"}, "window"), ({"window": 5}, "window")):
        r = client.post("/api/v1/monitoring/rules", json={**good, **patch}, headers=h)
        assert r.status_code == 422, (patch, r.text)
        assert r.json()["error"]["details"][0]["field"] == field
    r = client.post("/api/v1/monitoring/rules", json={**good, "use_case": "nope"}, headers=h)
    assert r.status_code == 404
    assert count(factory, AlertRule) == 0
    r = client.post("/api/v1/monitoring/rules", json={**good, "threshold": "0.1"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["threshold"] == 0.1 and r.json()["window_s"] == 300
    for metric in ("quality_groundedness", "drift", "drift:length", "error_category_rate", "repeat_users"):
        r = client.post("/api/v1/monitoring/rules", json={**good, "metric": metric}, headers=h)
        assert r.status_code == 201, (metric, r.text)


def test_rule_fires_once_opens_one_incident_for_on_call_and_resolves(client, users, factory, app) -> None:
    make_use_case(factory, on_call="oncall-ana", targets={})  # no SLOs: only the rule speaks
    h = users.headers("ai_engineer")
    r = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "name": "errors high",
                                                      "metric": "error_rate", "op": ">", "threshold": 0.1,
                                                      "window": "10m", "severity": 2}, headers=h)
    rule_id = r.json()["id"]
    post_events(client, h, [ev(status="error" if i < 6 else "ok") for i in range(30)])
    run_checks(app, factory)
    firing = client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()
    assert len(firing) == 1 and firing[0]["rule_id"] == rule_id
    assert abs(firing[0]["value"] - 0.2) < 1e-9
    incidents = client.get("/api/v1/incidents", headers=h).json()
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["source"] == "alert" and inc["severity"] == 2 and inc["owner"] == "oncall-ana"
    assert inc["detected_at"] == firing[0]["started_at"]
    # evaluated again while still breached: no second alert, no second incident
    run_checks(app, factory)
    assert client.post(f"/api/v1/monitoring/rules/{rule_id}/evaluate", headers=h).json()["new"] is False
    assert count(factory, Alert) == 1 and count(factory, Incident) == 1
    # back to normal: the alert resolves (the incident stays for people to close)
    post_events(client, h, [ev() for _ in range(300)])
    run_checks(app, factory)
    assert client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json() == []
    alerts = client.get("/api/v1/monitoring/alerts", headers=h).json()
    assert alerts[0]["state"] == "resolved" and alerts[0]["resolved_at"]
    detail = client.get(f"/api/v1/incidents/{inc['id']}", headers=h).json()
    assert detail["status"] == "open"
    assert any(e["kind"] == "alert" and "resolved" in e["text"] for e in detail["timeline"]), detail["timeline"]


def test_rule_without_data_neither_fires_nor_crashes(client, users, factory, app) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    for metric in ("latency_p95", "error_rate", "drift", "quality_x", "repeat_users"):
        r = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": metric,
                                                          "threshold": 0}, headers=h)
        assert r.status_code == 201
        out = client.post(f"/api/v1/monitoring/rules/{r.json()['id']}/evaluate", headers=h).json()
        assert out["state"] in ("no_data", "ok"), (metric, out)
    assert count(factory, Alert) == 0


def test_quality_errors_fire_the_quality_alert(client, users, factory, app) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    cats = ["wrong_answer"] * 3 + ["unsafe_output"] + [None] * 36
    post_events(client, h, [ev(error_category=c, status="ok") for c in cats])
    run_checks(app, factory)
    firing = client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()
    kinds = {a["kind"] for a in firing}
    assert "quality" in kinds
    q = next(a for a in firing if a["kind"] == "quality")
    assert abs(q["value"] - 0.1) < 1e-9 and "unsafe_output 1" in q["detail"]
    inc = client.get(f"/api/v1/incidents/{q['incident_id']}", headers=h).json()
    assert inc["severity"] == 2  # a safety error raises the severity
    chart = client.get("/api/v1/monitoring/usecases/support-reply/error-categories", headers=h).json()
    assert chart["series"]["wrong_answer"][-1] == 3 and chart["series"]["unsafe_output"][-1] == 1


def test_slo_burn_rate_pages_with_an_incident_and_budget_shows(client, users, factory, app) -> None:
    make_use_case(factory, targets={"max_error_rate": 0.01, "latency_p95_ms": 5000})
    h = users.headers("ai_engineer")
    post_events(client, h, [ev(status="error" if i % 5 == 0 else "ok", latency_ms=100) for i in range(100)])
    run_checks(app, factory)
    firing = [a for a in client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json() if a["kind"] == "slo"]
    assert [a["name"] for a in firing] == ["support-reply: availability SLO burn rate"]
    assert firing[0]["value"] >= 14.4 and firing[0]["incident_id"]
    mon = client.get("/api/v1/monitoring/usecases/support-reply", headers=h).json()
    slos = {s["slo"]: s for s in mon["slos"]}
    assert slos["availability"]["remaining_budget"] < 0  # 20 % errors against a 1 % budget: overspent
    assert slos["latency_p95"]["remaining_budget"] == 1.0  # every call within 5 s
    assert slos["availability"]["events"] == 100


def test_scheduled_monitoring_jobs_run_cleanly(client, users, factory, app) -> None:
    from takeoff.jobs.models import Job

    make_use_case(factory)
    h = users.headers("ai_engineer")
    post_events(client, h, [ev() for _ in range(30)])
    client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "latency_p95",
                                                  "threshold": 10_000}, headers=h)
    app.state.worker.enqueue_schedules()
    app.state.worker.drain()
    with transaction(factory) as s:
        done = {j.kind: (j.status, j.result) for j in s.scalars(select(Job).where(Job.kind.like("monitoring.%")))}
    assert {k: v[0] for k, v in done.items()} == {"monitoring.evaluate": "done", "monitoring.drift": "done",
                                                  "monitoring.canary": "done"}
    assert done["monitoring.evaluate"][1] == {"rules": {"ok": 1, "failed": 0}, "use_cases": {"ok": 1, "failed": 0},
                                              "budgets": {"ok": 0, "failed": 0}}
    assert client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json() == []
