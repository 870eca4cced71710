"""Reconciliation between two registered sources, schema baseline, and incidents opened on a breach."""
from __future__ import annotations

import sqlite3
import types

import sqlalchemy as sa

from takeoff.core import events
from takeoff.core.events import DataSlaBreached
from takeoff.incidents import service as incidents_service
from takeoff.monitoring import notifications as monitoring_notifications

from .conftest import source_body


def _ledger(tmp_path, total: float) -> str:
    path = tmp_path / "ledger.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE ledger (total REAL)")
    con.execute("INSERT INTO ledger VALUES (?)", (total,))
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_reconciliation_between_registered_sources(client, owner, source_db, tmp_path):
    # orders.amount sums to 10*(1..20) - 70 - 1 = 2029
    ledger = _ledger(tmp_path, 2030.0)
    assert client.post("/api/v1/datasources", json=source_body(ledger, None, owner["name"], name="ledger", table="ledger",
                                                               checks=[]), headers=owner["headers"]).status_code == 201
    rec = {"kind": "reconciliation", "name": "amount_vs_ledger", "other_source": "ledger", "other_table": "ledger",
           "measure": "sum(amount)", "other_measure": "sum(total)", "tolerance_abs": 0.5}
    body = source_body(source_db, None, owner["name"], checks=[rec])
    assert client.post("/api/v1/datasources", json=body, headers=owner["headers"]).status_code == 201
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    r = run["results"][0]
    assert r["status"] == "breach" and r["observed"]["diff"] == 1.0
    client.patch("/api/v1/datasources/orders", json={"checks": [dict(rec, tolerance_abs=2)]}, headers=owner["headers"])
    assert client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()["status"] == "pass"
    # The other side disappears: a clear error, and the engine never opens the name as a path.
    client.patch("/api/v1/datasources/ledger", json={"connection": "postgresql+psycopg://u:p@127.0.0.1:1/x"},
                 headers=owner["headers"])
    run = client.post("/api/v1/datasources/orders/check", params={"timeout_s": 3}, headers=owner["headers"]).json()
    assert run["results"][0]["status"] == "error"
    assert "other side ledger: cannot reach host" in run["results"][0]["reason"]


def test_schema_baseline_then_change_alerts(client, registered, owner, source_db):
    resp = client.post("/api/v1/datasources/orders/schema-baseline", headers=owner["headers"])
    assert resp.status_code == 200, resp.text
    assert any(c["kind"] == "schema" for c in resp.json()["checks"])
    assert client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()["status"] == "pass"
    con = sqlite3.connect(sa.make_url(source_db).database)
    con.execute("ALTER TABLE orders ADD COLUMN region TEXT")
    con.commit()
    con.close()
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    schema = next(r for r in run["results"] if r["kind"] == "schema")
    assert schema["status"] == "breach" and "added region" in schema["reason"]


def test_breach_opens_incident_when_incidents_exist(client, registered, owner, use_case, monkeypatch):
    calls = []

    def open_incident(session, actor, use_case_key, title, severity, *, source, detected_at=None, started_at=None,
                      release_id=None, detail="", dedup_key=None):
        calls.append({"use_case": use_case_key, "title": title, "source": source, "dedup_key": dedup_key})
        return types.SimpleNamespace(id=len(calls))

    monkeypatch.setattr(incidents_service, "open_incident", open_incident)  # the incidents flow opens through it
    client.patch("/api/v1/datasources/orders", json={"checks": [
        {"kind": "rule", "name": "positive", "expression": "amount > 0"}]}, headers=owner["headers"])
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    assert run["status"] == "breach" and run["incidents"] == [1]
    assert calls == [{"use_case": use_case, "title": "Data SLA breach on orders: rule positive", "source": "data",
                      "dedup_key": "data:orders:rule:positive"}]


def _without_incidents_flow(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No incidents reaction to a data breach subscribed (a build without it)."""
    kept = [h for h in events.handlers(DataSlaBreached) if h.__module__ != "takeoff.incidents.flows"]
    monkeypatch.setitem(events._handlers, DataSlaBreached, kept)


def test_breach_without_incidents_flow_is_recorded_only(client, registered, owner, monkeypatch):
    _without_incidents_flow(monkeypatch)
    client.patch("/api/v1/datasources/orders", json={"checks": [
        {"kind": "rule", "name": "positive", "expression": "amount > 0"}]}, headers=owner["headers"])
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    assert run["status"] == "breach" and run["incidents"] == []


def test_breach_notifies_dependent_use_cases_through_monitoring(client, registered, owner, use_case, monkeypatch):
    sent = []
    monkeypatch.setattr(monitoring_notifications, "notify",
                        lambda session, key, event, payload: sent.append(
                            (key, event, payload["source"], payload["breaches"][0]["name"])))
    _without_incidents_flow(monkeypatch)
    client.patch("/api/v1/datasources/orders", json={"checks": [
        {"kind": "rule", "name": "positive", "expression": "amount > 0"}]}, headers=owner["headers"])
    client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    assert sent == [(use_case, "data.breach", "orders", "positive")]


def test_breach_opens_one_real_incident_deduplicated(client, registered, owner, use_case, factory):
    from takeoff.core.db import transaction
    from takeoff.incidents.models import Incident

    client.patch("/api/v1/datasources/orders", json={"checks": [
        {"kind": "rule", "name": "positive", "expression": "amount > 0"}]}, headers=owner["headers"])
    first = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    second = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    assert first["incidents"] and first["incidents"] == second["incidents"]
    with transaction(factory) as s:
        rows = s.query(Incident).all()
        assert len(rows) == 1
        assert rows[0].use_case_key == use_case and rows[0].dedup_key == "data:orders:rule:positive"
        assert "orders" in rows[0].title
