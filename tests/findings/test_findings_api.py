"""Audit findings over the API: record, list with filters, work on, close with a resolution, audit log, bad input."""
from __future__ import annotations

from datetime import date, timedelta

import pytest


def _finding(**kw):  # type: ignore[no-untyped-def]
    return {"use_case": "credit-decision", "title": "Automated declines are not reviewed by a person",
            "severity": "critical", "source": "external_audit", "control_id": "TK-HO-01",
            "due_on": str(date.today() + timedelta(days=30)), **kw}


def test_record_list_work_on_and_close(client, admin, usecase):
    r = client.post("/api/v1/findings", json=_finding(), headers=admin)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["status"] == "open" and f["owner"] == "olivia" and f["control_id"] == "TK-HO-01"
    assert f["found_on"] == str(date.today()) and f["overdue"] is False
    low = client.post("/api/v1/findings", json=_finding(title="Model card missing the data lineage", severity="low",
                                                        source="internal_audit", control_id="tk-doc-01"),
                      headers=admin).json()
    assert low["control_id"] == "TK-DOC-01"  # ids are matched case-insensitively

    listed = client.get("/api/v1/findings", params={"use_case": usecase}, headers=admin).json()
    assert [x["id"] for x in listed] == [f["id"], low["id"]]  # most severe first
    assert [x["id"] for x in client.get("/api/v1/findings?severity=low", headers=admin).json()] == [low["id"]]
    assert [x["id"] for x in client.get("/api/v1/findings?source=external_audit", headers=admin).json()] == [f["id"]]

    r = client.patch(f"/api/v1/findings/{f['id']}", json={"status": "in_progress"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    assert client.patch(f"/api/v1/findings/{f['id']}", json={"status": "in_progress"}, headers=admin).status_code == 409

    r = client.post(f"/api/v1/findings/{f['id']}/close", json={"resolution": "   "}, headers=admin)
    assert r.status_code == 422 and "resolution" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/findings/{f['id']}/close", json={}, headers=admin)
    assert r.status_code == 422
    r = client.post(f"/api/v1/findings/{f['id']}/close",
                    json={"resolution": "Declines above 10k now go to an analyst"}, headers=admin)
    assert r.status_code == 200
    closed = r.json()
    assert closed["status"] == "closed" and closed["closed_at"] and closed["resolution"].startswith("Declines")
    assert client.post(f"/api/v1/findings/{f['id']}/close", json={"resolution": "again"}, headers=admin).status_code == 409

    assert [x["id"] for x in client.get("/api/v1/findings?status=closed", headers=admin).json()] == [f["id"]]
    assert [x["id"] for x in client.get("/api/v1/findings?open=true", headers=admin).json()] == [low["id"]]

    r = client.patch(f"/api/v1/findings/{f['id']}", json={"status": "open"}, headers=admin)  # reopened
    assert r.status_code == 200 and r.json()["closed_at"] is None and r.json()["resolution"] == ""

    actions = [e["action"] for e in client.get("/api/v1/audit", params={"object_type": "audit_finding"},
                                               headers=admin).json()["items"]]
    for a in ("finding.create", "finding.update", "finding.close"):
        assert a in actions, actions


def test_overdue_and_due_date_changes(client, admin, usecase):
    f = client.post("/api/v1/findings", json=_finding(found_on=str(date.today() - timedelta(days=40)),
                                                      due_on=str(date.today() - timedelta(days=10))),
                    headers=admin).json()
    assert f["overdue"] is True
    r = client.patch(f"/api/v1/findings/{f['id']}", json={"due_on": str(date.today() + timedelta(days=5))}, headers=admin)
    assert r.status_code == 200 and r.json()["overdue"] is False
    r = client.patch(f"/api/v1/findings/{f['id']}", json={"due_on": str(date.today() - timedelta(days=50))}, headers=admin)
    assert r.status_code == 422 and "before found_on" in r.json()["error"]["message"]


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"use_case": "no-such-case"}, 404, "no-such-case"),
    ({"severity": "urgent"}, 422, "severity must be one of low, medium, high, critical"),
    ({"source": "gossip"}, 422, "source must be one of"),
    ({"control_id": "TK-NOPE-99"}, 422, "unknown control"),
    ({"owner": "nobody-here"}, 422, "unknown person"),
    ({"due_on": "2026-13-45"}, 422, "due_on"),
    ({"found_on": str(date.today() + timedelta(days=3))}, 422, "in the future"),
    ({"found_on": str(date.today()), "due_on": str(date.today() - timedelta(days=1))}, 422, "before found_on"),
    ({"title": "   "}, 422, "title"),
    ({"colour": "red"}, 422, "colour"),
])
def test_bad_input_is_refused_and_nothing_is_recorded(client, admin, usecase, change, status, words):
    r = client.post("/api/v1/findings", json=_finding(**change), headers=admin)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err["message"] or any(words in str(d) for d in err["details"]), err
    assert client.get("/api/v1/findings", headers=admin).json() == []


def test_bad_updates_and_filters(client, admin, usecase):
    f = client.post("/api/v1/findings", json=_finding(), headers=admin).json()
    for body, code in (({"status": "closed"}, 422), ({"status": "done"}, 422), ({"severity": "huge"}, 422),
                       ({}, 422), ({"owner": "ghost"}, 422)):
        r = client.patch(f"/api/v1/findings/{f['id']}", json=body, headers=admin)
        assert r.status_code == code, (body, r.text)
    assert client.get(f"/api/v1/findings/{f['id']}", headers=admin).json()["status"] == "open"
    assert client.patch("/api/v1/findings/999", json={"status": "in_progress"}, headers=admin).status_code == 404
    assert client.post("/api/v1/findings/999/close", json={"resolution": "x"}, headers=admin).status_code == 404
    r = client.post(f"/api/v1/findings/{f['id']}/close",
                    json={"resolution": "done", "closed_at": "2099-01-01T00:00:00Z"}, headers=admin)
    assert r.status_code == 422 and "future" in r.json()["error"]["message"]
    assert client.get("/api/v1/findings?status=finished", headers=admin).status_code == 422
    assert client.get("/api/v1/findings?severity=huge", headers=admin).status_code == 422
    assert client.get("/api/v1/findings?use_case=nope", headers=admin).status_code == 404


def test_permission_matrix(assert_matrix, client, admin, usecase):
    f = client.post("/api/v1/findings", json=_finding(), headers=admin).json()
    assert_matrix({
        "read": ("GET", "/api/v1/findings", None),
        "finding.write": ("PATCH", f"/api/v1/findings/{f['id']}", {"owner": "olivia"}),
    })
