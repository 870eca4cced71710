"""Registering sources, running checks on demand, breaches, secrets never shown, readiness evidence."""
from __future__ import annotations

from takeoff.data import evidence
from takeoff.core.db import transaction

from .conftest import source_body


def test_register_and_check_green(client, registered, owner, use_case, source_db):
    assert registered["connection"] == "sqlite://…"
    assert registered["status"] == "unchecked"
    resp = client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert run["status"] == "pass", run
    kinds = {(r["kind"], r["name"]) for r in run["results"]}
    assert ("completeness", "email") in kinds and ("freshness", "created_at") in kinds
    email = next(r for r in run["results"] if r["name"] == "email")
    assert email["observed"]["rate"] == 0.9
    listed = client.get("/api/v1/datasources", headers=owner["headers"]).json()["items"]
    assert listed[0]["status"] == "pass"
    runs = client.get("/api/v1/datasources/orders/runs", headers=owner["headers"]).json()["items"]
    assert len(runs) == 1 and runs[0]["results"]


def test_breach_is_stored_and_evidence_fails(client, registered, owner, use_case, factory):
    patch = {"checks": [{"kind": "rule", "name": "positive_amount", "expression": "amount > 0", "min_share": 1.0},
                        {"kind": "freshness", "column": "created_at", "max_age_s": 60}]}
    assert client.patch("/api/v1/datasources/orders", json=patch, headers=owner["headers"]).status_code == 200
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    assert run["status"] == "breach"
    rule = next(r for r in run["results"] if r["kind"] == "rule")
    assert rule["status"] == "breach" and rule["observed"]["satisfied"] == 19
    with transaction(factory) as s:
        facts = evidence.sources_for_use_case(s, use_case)
        assert [f.name for f in facts] == ["orders"]
        assert any(c.status == "breach" for c in facts[0].latest)
        ev = evidence.readiness_evidence(s, use_case)
    assert ev.status == "fail"
    assert any("completeness" in r for r in ev.reasons)  # completeness no longer defined
    body = client.get(f"/api/v1/usecases/{use_case}/data-quality", headers=owner["headers"]).json()
    assert body["status"] == "fail" and body["sources"] == ["orders"]


def test_green_evidence_passes(client, registered, owner, use_case, factory):
    client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    with transaction(factory) as s:
        assert evidence.readiness_evidence(s, use_case).status == "pass"
        assert evidence.sources_for_use_case(s, "nobody-depends") == []


def test_owner_without_data_owner_role_is_refused(client, source_db, use_case, users, owner):
    users.create("ai_engineer", username="eve")
    resp = client.post("/api/v1/datasources", json=source_body(source_db, use_case, "eve"), headers=owner["headers"])
    assert resp.status_code == 422
    assert "data_owner" in resp.json()["error"]["message"]
    assert client.get("/api/v1/datasources", headers=owner["headers"]).json()["total"] == 0


def test_unknown_use_case_and_bad_specs_are_422(client, source_db, owner):
    bad_uc = client.post("/api/v1/datasources", json=source_body(source_db, "no-such-uc", owner["name"]),
                         headers=owner["headers"])
    assert bad_uc.status_code == 422 and "no-such-uc" in bad_uc.json()["error"]["message"]
    bad_spec = client.post("/api/v1/datasources", json=source_body(
        source_db, None, owner["name"], checks=[{"kind": "freshness", "column": "x", "max_age_s": -1}]),
        headers=owner["headers"])
    assert bad_spec.status_code == 422
    raw_url = client.post("/api/v1/datasources", json=source_body(
        source_db, None, owner["name"], checks=[{"kind": "reconciliation", "name": "r", "other_source": "sqlite:///x.db",
                                                 "other_table": "t", "measure": "count(*)"}]), headers=owner["headers"])
    assert raw_url.status_code == 422 and "registered" in raw_url.json()["error"]["message"]
    dup = source_body(source_db, None, owner["name"])
    assert client.post("/api/v1/datasources", json=dup, headers=owner["headers"]).status_code == 201
    assert client.post("/api/v1/datasources", json=dup, headers=owner["headers"]).status_code == 409
    assert client.get("/api/v1/datasources/nope", headers=owner["headers"]).status_code == 404


def test_connection_secret_never_in_any_answer(client, owner, tmp_path):
    secret_url = "postgresql+psycopg://reader:Sup3rSecretPw@db.internal.example:5432/erp_prod"
    resp = client.post("/api/v1/datasources", json=source_body(secret_url, None, owner["name"], name="erp"),
                       headers=owner["headers"])
    assert resp.status_code == 201
    csv_path = str(tmp_path / "hidden_folder_name" / "orders.csv")
    (tmp_path / "hidden_folder_name").mkdir()
    (tmp_path / "hidden_folder_name" / "orders.csv").write_text("id,created_at\n1,2026-01-01\n")
    resp2 = client.post("/api/v1/datasources", json=source_body(csv_path, None, owner["name"], name="orders-csv",
                                                                interface="file", table=""), headers=owner["headers"])
    assert resp2.status_code == 201, resp2.text
    answers = [resp.text, resp2.text]
    for path in ("/api/v1/datasources", "/api/v1/datasources/erp", "/api/v1/datasources/orders-csv",
                 "/api/v1/datasources/erp/runs", "/openapi.json"):
        answers.append(client.get(path, headers=owner["headers"]).text)
    answers.append(client.post("/api/v1/datasources/erp/check", params={"timeout_s": 3}, headers=owner["headers"]).text)
    answers.append(client.post("/api/v1/datasources/orders-csv/check", headers=owner["headers"]).text)
    answers.append(client.patch("/api/v1/datasources/erp", json={"description": "x"}, headers=owner["headers"]).text)
    for text in answers:
        assert "Sup3rSecretPw" not in text
        assert "reader" not in text
        assert "hidden_folder_name" not in text
        assert "erp_prod" not in text
    assert client.get("/api/v1/datasources/erp", headers=owner["headers"]).json()["connection"] == \
        "postgresql+psycopg://db.internal.example:5432"


def test_stored_connection_is_encrypted(client, registered, factory, source_db):
    from takeoff.data.models import DataSource

    with transaction(factory) as s:
        src = s.query(DataSource).one()
        assert source_db not in src.connection_enc and "orders.db" not in src.connection_enc


def test_file_source_and_collection_context(client, owner, use_case, source_db, tmp_path):
    docs = {"name": "kb", "entity": "knowledge article", "owner": owner["name"], "interface": "database",
            "connection": source_db, "table": "docs", "kind": "collection", "use_cases": [use_case],
            "context": {"freshness_sla_s": 30 * 86400, "max_stale_share": 0.5}}
    assert client.post("/api/v1/datasources", json=docs, headers=owner["headers"]).status_code == 201
    run = client.post("/api/v1/datasources/kb/check", headers=owner["headers"]).json()
    assert run["context"]["documents"] == 3
    assert run["context"]["unlabeled"] == 1
    assert run["status"] == "breach"  # one document has no permission label
    ctx = client.get("/api/v1/datasources/kb/context", headers=owner["headers"]).json()
    assert ctx["history"][-1]["stale"] == 1
    no_ctx = dict(docs, name="kb2")
    no_ctx.pop("context")
    assert client.post("/api/v1/datasources", json=no_ctx, headers=owner["headers"]).status_code == 422


def test_announced_schema_change_does_not_alert(client, registered, owner):
    expected = [["id", "INTEGER"], ["created_at", "TEXT"], ["amount", "REAL"], ["email", "TEXT"]]
    client.patch("/api/v1/datasources/orders", json={"checks": [{"kind": "schema", "expected_columns": expected}]},
                 headers=owner["headers"])
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    assert run["status"] == "breach" and "added ssn" in run["results"][0]["reason"]
    ann = client.post("/api/v1/datasources/orders/announcements",
                      json={"date": "2020-01-01", "description": "ssn column added", "columns": ["ssn"]},
                      headers=owner["headers"])
    assert ann.status_code == 200, ann.text
    assert client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()["status"] == "pass"


def test_collection_lists_release_bundles_that_reference_it(client, owner, use_case, source_db, factory):
    from takeoff.releases.models import Release

    with transaction(factory) as s:
        s.add(Release(use_case_key=use_case, version=1, bundle={"retrieval": {"collections": ["kb"], "top_k": 5}},
                      content_hash="a" * 64, created_by="t"))
        s.add(Release(use_case_key=use_case, version=2, bundle={"retrieval": {"collection": "kb-old"}, "notes": "kb"},
                      content_hash="b" * 64, created_by="t"))
    docs = {"name": "kb", "entity": "knowledge article", "owner": owner["name"], "interface": "database",
            "connection": source_db, "table": "docs", "kind": "collection", "use_cases": [use_case],
            "context": {"freshness_sla_s": 30 * 86400}}
    assert client.post("/api/v1/datasources", json=docs, headers=owner["headers"]).status_code == 201
    assert client.get("/api/v1/datasources/kb", headers=owner["headers"]).json()["referenced_by_releases"] == \
        [f"{use_case}:1"]
