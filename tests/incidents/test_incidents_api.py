"""Incidents over HTTP: opened by hand (start before detection), timeline, resolve, MTTD / MTTR per use case and
per month, counts by severity, bad input refused with nothing written, permissions."""
from __future__ import annotations

from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.incidents.models import Incident
from takeoff.portfolio.models import UseCase


def make_use_case(factory, key: str = "support-reply", on_call: str | None = "oncall-ana") -> None:
    with transaction(factory) as s:
        s.add(UseCase(key=key, name=key, purpose="answer tickets", risk_tier="low", data_sources=["crm"],
                      expected_users=10, status="production", on_call=on_call))


def count(factory) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(Incident)) or 0


def test_open_by_hand_timeline_resolve_and_mttd_mttr(client, users, factory) -> None:
    make_use_case(factory)
    make_use_case(factory, "invoice-triage", on_call="rota-finance")
    h = users.headers("product_owner")
    r = client.post("/api/v1/incidents", headers=h, json={
        "use_case": "support-reply", "title": "Wrong refund policy quoted", "severity": 2,
        "started_at": "2026-03-01T08:00:00Z", "detected_at": "2026-03-01T10:00:00Z", "release_id": "support-reply:3"})
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["owner"] == "oncall-ana" and inc["status"] == "open" and inc["ttd_s"] == 7200
    assert inc["timeline"][0]["kind"] == "opened"
    r = client.post(f"/api/v1/incidents/{inc['id']}/entries", json={"text": "Prompt v3 lost the policy excerpt"},
                    headers=h)
    assert r.status_code == 201 and r.json()["timeline"][-1]["text"] == "Prompt v3 lost the policy excerpt"
    r = client.patch(f"/api/v1/incidents/{inc['id']}", json={"severity": 1, "postmortem": "## What happened"},
                     headers=h)
    assert r.status_code == 200 and r.json()["severity"] == 1 and "severity" in r.json()["timeline"][-1]["text"]
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", headers=h, json={
        "resolution": "Rolled back to v2", "root_cause_category": "prompt", "resolved_at": "2026-03-01T11:30:00Z"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "resolved" and done["ttr_s"] == 5400 and done["root_cause_category"] == "prompt"
    assert done["postmortem"] == "## What happened"
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "again"}, headers=h)
    assert r.status_code == 409
    # a second, still open incident in April for another use case
    client.post("/api/v1/incidents", headers=h, json={
        "use_case": "invoice-triage", "title": "Slow", "severity": 3,
        "started_at": "2026-04-02T09:00:00Z", "detected_at": "2026-04-02T09:10:00Z"})
    stats = client.get("/api/v1/incidents/stats", headers=h).json()
    assert stats["overall"]["count"] == 2 and stats["overall"]["open"] == 1
    assert stats["overall"]["by_severity"] == {"1": 1, "2": 0, "3": 1, "4": 0}
    per_uc = {row["use_case"]: row for row in stats["by_use_case"]}
    assert per_uc["support-reply"]["mttd_s"] == 7200 and per_uc["support-reply"]["mttr_s"] == 5400
    assert per_uc["invoice-triage"]["mttd_s"] == 600 and per_uc["invoice-triage"]["mttr_s"] is None
    assert [m["month"] for m in stats["by_month"]] == ["2026-04", "2026-03"]
    listed = client.get("/api/v1/incidents?status=open", headers=h).json()
    assert [i["use_case"] for i in listed] == ["invoice-triage"] and listed[0]["owner"] == "rota-finance"
    assert len(client.get("/api/v1/incidents?use_case=support-reply", headers=h).json()) == 1


def test_bad_incident_input_is_refused_and_writes_nothing(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    base = {"use_case": "support-reply", "title": "x", "severity": 2}
    for patch in ({"severity": 5}, {"severity": 0}, {"title": ""}, {"started_at": "yesterday"},
                  {"started_at": "2026-03-01T12:00:00Z", "detected_at": "2026-03-01T10:00:00Z"}, {"owner": "me"}):
        r = client.post("/api/v1/incidents", json={**base, **patch}, headers=h)
        assert r.status_code == 422, (patch, r.text)
    assert client.post("/api/v1/incidents", json={**base, "use_case": "nope"}, headers=h).status_code == 404
    assert count(factory) == 0
    inc = client.post("/api/v1/incidents", json=base, headers=h).json()
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "x", "root_cause_category": "gremlins"},
                    headers=h)
    assert r.status_code == 422 and "root cause" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "x",
                                                                     "resolved_at": "2000-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 422
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=h).json()["status"] == "open"
    assert client.get("/api/v1/incidents/99999", headers=h).status_code == 404
    assert client.get("/api/v1/incidents?status=maybe", headers=h).status_code == 422


def test_permission_matrix(assert_matrix, factory, client, admin) -> None:
    make_use_case(factory)
    inc = client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": "x", "severity": 3},
                      headers=admin).json()
    assert_matrix({
        "incident.write": ("POST", f"/api/v1/incidents/{inc['id']}/entries", {"text": "note"}),
        "read": ("GET", "/api/v1/incidents/stats", None),
    })
    assert_matrix({
        "monitor.write": ("POST", "/api/v1/monitoring/rules", {"use_case": "support-reply", "metric": "error_rate",
                                                               "threshold": 0.5}),
        "read": ("GET", "/api/v1/monitoring/alerts", None),
    })
