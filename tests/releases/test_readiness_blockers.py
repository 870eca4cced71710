"""Readiness never reads "ready to scale" while something blocks it, and names each blocking item with its link:
an open severity 1-2 incident, a canary never analysed, production features without a drift baseline, an open
critical finding, a breached data SLA on a source the use case depends on (both backends)."""
from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from takeoff.core.db import transaction
from takeoff.readiness import service as readiness

from .conftest import cases, make_use_case
from .test_releases_web import _login


def _ship(env, release_id: str, to: dict[str, Any]) -> None:
    env.evaluate(release_id)
    r = env.client.post(f"/api/v1/releases/{release_id}/approve", json={"comment": "ok"},
                        headers=env.users.headers("product_owner"))
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    detail = env.client.get(f"/api/v1/releases/{release_id}", headers=env.engineer).json()
    for item in detail["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"]:
            r = env.client.post(f"/api/v1/releases/{release_id}/attest",
                                json={"item_id": item["id"], "statement": "checked by hand"}, headers=env.engineer)
            assert r.status_code == 201, r.text
    r = env.client.post(f"/api/v1/releases/{release_id}/promote", json=to, headers=env.engineer)
    assert r.status_code == 200, r.text


def _production(env, factory) -> None:
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(20))
    assert env.release().status_code == 201
    _ship(env, "support-reply:1", {"to": "production"})


def _blocking(env) -> list[dict[str, str]]:
    r = env.client.get("/api/v1/usecases/support-reply/readiness", headers=env.admin)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["verdict"]["ready"] is False or not d["verdict"]["blocking"]
    return d["verdict"]["blocking"]


def _kinds(blocking: list[dict[str, str]]) -> set[str]:
    return {b["kind"] for b in blocking}


def test_open_severity_1_or_2_incident_blocks_and_is_named_with_its_link(env, factory):
    make_use_case(factory)
    minor = env.client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": "Slow replies",
                                                       "severity": 3}, headers=env.admin).json()
    assert "no_severe_incident_open" not in _kinds(_blocking(env))
    inc = env.client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": "Leaks account numbers",
                                                     "severity": 2}, headers=env.admin).json()
    blocking = _blocking(env)
    assert {"kind": "no_severe_incident_open", "text": f"open incident {inc['id']} (severity 2): Leaks account "
            "numbers", "link": f"/incidents/{inc['id']}"} in blocking
    assert not any(str(minor["id"]) in b["text"] for b in blocking)
    d = env.client.get("/api/v1/usecases/support-reply/readiness", headers=env.admin).json()
    assert f"open incident {inc['id']} (severity 2): Leaks account numbers" in d["verdict"]["reasons"]
    r = env.client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "masked",
                                                                        "root_cause_category": "model"},
                        headers=env.admin)
    assert r.status_code == 200, r.text
    assert "no_severe_incident_open" not in _kinds(_blocking(env))


def test_a_canary_never_analysed_blocks_until_it_is(env, factory):
    _production(env, factory)
    assert env.release(notes="v2").status_code == 201
    _ship(env, "support-reply:2", {"to": "canary", "weight": 10})
    blocking = _blocking(env)
    assert {"kind": "canary_analysed", "text": "canary support-reply:2 serves 10% of traffic and was never analysed",
            "link": "/releases/support-reply:2"} in blocking
    r = env.client.post("/api/v1/monitoring/canary/run", headers=env.admin)
    assert r.status_code == 200 and [c["canary_release_id"] for c in r.json()] == ["support-reply:2"], r.text
    assert "canary_analysed" not in _kinds(_blocking(env))


def _event(release: str | None, features: dict[str, Any] | None = None) -> dict[str, Any]:
    e = {"id": uuid.uuid4().hex, "use_case": "support-reply", "release": release, "unit_id": "u1",
         "ts": time.time() - 5, "latency_ms": 120.0, "status": "ok", "outcome": "success",
         "tokens": {"input": 100, "output": 20}, "cost_usd": 0.002}
    if features:
        e["features"] = features
    return e


def test_production_release_sending_features_without_a_drift_baseline_blocks(env, factory):
    _production(env, factory)
    r = env.client.post("/api/v1/events", json={"events": [_event("support-reply:1")]}, headers=env.admin)
    assert r.status_code == 200, r.text
    assert "drift_baseline_set" not in _kinds(_blocking(env))  # no features sent: nothing to compare
    events = [_event("support-reply:1", {"amount": 10.0 + i, "channel": "email"}) for i in range(30)]
    assert env.client.post("/api/v1/events", json={"events": events}, headers=env.admin).status_code == 200
    blocking = _blocking(env)
    assert {"kind": "drift_baseline_set", "text": "production release support-reply:1 sends features (amount, "
            "channel) but no drift baseline is set", "link": "/usecases/support-reply#monitoring"} in blocking
    now = datetime.now(UTC)
    r = env.client.post("/api/v1/telemetry/baselines", json={"use_case": "support-reply", "release": "support-reply:1",
                                                            "start": (now - timedelta(hours=1)).isoformat(),
                                                            "end": (now + timedelta(minutes=1)).isoformat()},
                        headers=env.admin)
    assert r.status_code == 201, r.text
    assert "drift_baseline_set" not in _kinds(_blocking(env))


def test_open_critical_finding_blocks_with_its_link(env, factory):
    make_use_case(factory)
    f = env.client.post("/api/v1/findings", json={"use_case": "support-reply", "title": "Declines not reviewed",
                                                  "severity": "critical", "source": "readiness_review"},
                        headers=env.admin).json()
    assert {"kind": "no_critical_finding_open", "text": "open critical audit finding: Declines not reviewed",
            "link": f"/findings?use_case=support-reply#finding-{f['id']}"} in _blocking(env)
    env.client.post(f"/api/v1/findings/{f['id']}/close", json={"resolution": "reviewed"}, headers=env.admin)
    assert "no_critical_finding_open" not in _kinds(_blocking(env))


def test_breached_data_sla_on_a_dependent_source_blocks_with_its_link(env, factory):
    from takeoff.data.models import DataCheckRun, DataSource

    make_use_case(factory)
    owner = env.users.create("data_owner", username="dana")
    with transaction(factory) as s:
        for name, keys in (("tickets", ["support-reply"]), ("ledger", ["other"])):
            s.add(DataSource(name=name, entity=name, owner=owner, interface="sql", connection_enc="x",
                             table_name=name, checks=[], use_cases=keys))
        s.flush()
        for src in s.query(DataSource).all():
            s.add(DataCheckRun(source_id=src.id, status="breach", results=[
                {"kind": "freshness", "name": "fresh", "status": "breach", "reason": "3 days old"}]))
    blocking = _blocking(env)
    assert {"kind": "data_sla_met", "text": "data source tickets breaches its SLA (fresh)",
            "link": "/datasources/tickets"} in blocking
    assert not any("ledger" in b["text"] for b in blocking)  # a source it does not depend on
    with transaction(factory) as s:
        src = s.query(DataSource).filter_by(name="tickets").one()
        s.add(DataCheckRun(source_id=src.id, status="pass", started_at=datetime.now(UTC) + timedelta(seconds=1),
                           results=[{"kind": "freshness", "name": "fresh", "status": "pass"}]))
    assert "data_sla_met" not in _kinds(_blocking(env))


def test_portfolio_view_carries_the_blocking_items(env, factory):
    make_use_case(factory)
    env.client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": "Down", "severity": 1},
                    headers=env.admin)
    with transaction(factory) as s:
        d = readiness.portfolio_view(s)["use_cases"][0]
    assert not d["verdict"]["ready"] and d["blockers"]["no_severe_incident_open"]["status"] == "fail"
    _login(env.client, env.users, "viewer", username="vera")
    page = env.client.get("/readiness/support-reply")
    assert page.status_code == 200
    assert re.search(r'<li data-kind="no_severe_incident_open"><strong>blocks scaling:</strong> <a href="/incidents/\d+">'
                     r'open incident \d+ \(severity 1\): Down</a>', page.text), page.text
    assert 'data-scope="mixed"' in page.text and "organization-wide: " in page.text
