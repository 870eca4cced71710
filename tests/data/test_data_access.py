"""Access rules, sensitive-field approval, the access log (filters + CSV), and the permission matrix."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from takeoff.core.db import transaction, utcnow

RULES = {"rules": [{"field": "id", "roles": ["ai_engineer", "viewer"]},
                   {"field": "amount", "roles": ["ai_engineer"]},
                   {"field": "ssn", "roles": ["ai_engineer"], "sensitive": True}]}


def _rules(client, owner):
    resp = client.put("/api/v1/datasources/orders/access-rules", json=RULES, headers=owner["headers"])
    assert resp.status_code == 200, resp.text


def test_roles_decide_fields_and_reads_are_logged(client, registered, owner, users):
    _rules(client, owner)
    eng = users.headers("ai_engineer", username="ana")
    viewer = users.headers("viewer", username="vic")
    ok = client.get("/api/v1/datasources/orders/preview", params={"fields": "id,amount", "reason": "debug prompt", "limit": 3},
                    headers=eng)
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["rows"]) == 3
    denied = client.get("/api/v1/datasources/orders/preview", params={"fields": "amount", "reason": "x"}, headers=viewer)
    assert denied.status_code == 403 and "amount" in denied.json()["error"]["message"]
    no_rule = client.get("/api/v1/datasources/orders/preview", params={"fields": "email", "reason": "x"}, headers=eng)
    assert no_rule.status_code == 403  # least privilege: a field without a rule is the owner's only
    no_reason = client.get("/api/v1/datasources/orders/preview", params={"fields": "id"}, headers=eng)
    assert no_reason.status_code == 422
    log = client.get("/api/v1/access-log", params={"actor": "ana"}, headers=owner["headers"]).json()
    assert log["total"] == 1
    entry = log["items"][0]
    assert entry["source"] == "orders" and entry["fields"] == ["id", "amount"] and entry["reason"] == "debug prompt"
    assert entry["action"] == "preview" and entry["rows"] == 3


def test_sensitive_field_needs_owner_approved_time_limited_grant(client, registered, owner, users, factory):
    _rules(client, owner)
    eng = users.headers("ai_engineer", username="ana")
    params = {"fields": "id,ssn", "reason": "fraud investigation"}
    assert client.get("/api/v1/datasources/orders/preview", params=params, headers=eng).status_code == 403
    not_sensitive = client.post("/api/v1/datasources/orders/access-requests",
                                json={"fields": ["amount"], "reason": "please"}, headers=eng)
    assert not_sensitive.status_code == 422
    req = client.post("/api/v1/datasources/orders/access-requests",
                      json={"fields": ["ssn"], "reason": "fraud investigation", "hours": 2}, headers=eng)
    assert req.status_code == 201, req.text
    rid = req.json()["id"]
    security = users.headers("security_partner", username="sam")  # holds access.approve but not data_owner
    refused = client.post(f"/api/v1/access-requests/{rid}/decision", json={"approve": True}, headers=security)
    assert refused.status_code == 403 and "data_owner" in refused.json()["error"]["message"]
    approved = client.post(f"/api/v1/access-requests/{rid}/decision", json={"approve": True, "note": "ok for 2h"},
                           headers=owner["headers"])
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = client.post(f"/api/v1/access-requests/{rid}/decision", json={"approve": False}, headers=owner["headers"])
    assert again.status_code == 409
    ok = client.get("/api/v1/datasources/orders/preview", params=params, headers=eng)
    assert ok.status_code == 200 and ok.json()["rows"][0][1].startswith("000-00-")
    # The grant expires: move it into the past.
    from takeoff.data.models import DataAccessRequest

    with transaction(factory) as s:
        s.get(DataAccessRequest, rid).expires_at = utcnow() - timedelta(minutes=1)
    assert client.get("/api/v1/datasources/orders/preview", params=params, headers=eng).status_code == 403
    listed = client.get("/api/v1/access-requests", params={"source": "orders"}, headers=eng).json()["items"]
    assert listed[0]["status"] == "expired"


def test_requester_cannot_approve_own_request(client, registered, owner, users):
    _rules(client, owner)
    other_owner = users.create("data_owner", "ai_engineer", username="otto")
    headers = {"Authorization": f"Bearer {users.token(other_owner)}"}
    rid = client.post("/api/v1/datasources/orders/access-requests", json={"fields": ["ssn"], "reason": "audit"},
                      headers=headers).json()["id"]
    resp = client.post(f"/api/v1/access-requests/{rid}/decision", json={"approve": True}, headers=headers)
    assert resp.status_code == 403 and "own" in resp.json()["error"]["message"]


def test_access_log_filters_and_csv(client, registered, owner, users):
    _rules(client, owner)
    client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    eng = users.headers("ai_engineer", username="ana")
    client.get("/api/v1/datasources/orders/export.csv", params={"fields": "id", "reason": "offline eval set"}, headers=eng)
    all_rows = client.get("/api/v1/access-log", headers=owner["headers"]).json()
    assert {e["action"] for e in all_rows["items"]} == {"check", "export"}
    check = client.get("/api/v1/access-log", params={"action": "check"}, headers=owner["headers"]).json()["items"]
    assert check[0]["actor"] == "dora" and "created_at" in check[0]["fields"] and "amount" in check[0]["fields"]
    future = client.get("/api/v1/access-log", params={"since": "2999-01-01T00:00:00Z"}, headers=owner["headers"]).json()
    assert future["total"] == 0
    resp = client.get("/api/v1/access-log.csv", params={"actor": "ana"}, headers=owner["headers"])
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["at", "actor", "source", "action", "fields", "reason", "rows"]
    assert len(rows) == 2 and rows[1][1:6] == ["ana", "orders", "export", "id", "offline eval set"]
    bad = client.get("/api/v1/access-log", params={"since": "yesterday"}, headers=owner["headers"])
    assert bad.status_code == 422


def test_access_rules_validation(client, registered, owner):
    dup = {"rules": [{"field": "id", "roles": ["viewer"]}, {"field": "id", "roles": ["admin"]}]}
    assert client.put("/api/v1/datasources/orders/access-rules", json=dup, headers=owner["headers"]).status_code == 422
    bad_role = {"rules": [{"field": "id", "roles": ["wizard"]}]}
    resp = client.put("/api/v1/datasources/orders/access-rules", json=bad_role, headers=owner["headers"])
    assert resp.status_code == 422 and "wizard" in resp.json()["error"]["message"]


def test_permission_matrix(assert_matrix, registered, use_case):
    assert_matrix({
        "read": ("GET", "/api/v1/datasources", None),
        "datasource.write": ("PATCH", "/api/v1/datasources/orders", {"description": "matrix"}),
        "datasource.check": ("POST", "/api/v1/datasources/orders/check", None),
        "access.approve": ("POST", "/api/v1/access-requests/999999/decision", {"approve": True}),
    })


def test_naive_dates_in_filters_mean_utc(client, registered, owner, app):
    client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    assert client.get("/api/v1/access-log", params={"since": "2000-01-01T00:00:00"},
                      headers=owner["headers"]).json()["total"] == 1
    assert client.get("/api/v1/access-log.csv", params={"until": "2000-01-01"}, headers=owner["headers"]).status_code == 200
