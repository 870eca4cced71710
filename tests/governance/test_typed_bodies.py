"""Governance request bodies are models (issue 17.7): a wrong shape is a 422 naming the field and writes nothing;
the accepted shapes (one username as a string, null for nobody, a partial organization) still work."""
from __future__ import annotations

from sqlalchemy import func, select

from takeoff.audit.models import AuditEntry
from takeoff.core.db import transaction


def _audited(factory) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _field(r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid" and err["details"][0]["field"] in err["message"]
    return str(err["details"][0]["field"])


def test_governance_bodies_name_the_field(client, admin, users, factory) -> None:  # type: ignore[no-untyped-def]
    body = {"key": "tb", "name": "tb", "purpose": "p", "data_sources": ["d"], "expected_users": 1, "risk_tier": "low"}
    assert client.post("/api/v1/usecases", json=body, headers=admin).status_code == 201
    bo = users.create("business_owner", username="bo")
    before = _audited(factory)
    cases = [
        ("PATCH", "/api/v1/governance/organization", {"name": 5}, "name"),
        ("PATCH", "/api/v1/governance/organization", {"operating_model": "anarchy"}, "operating_model"),
        ("PATCH", "/api/v1/governance/organization", {"self_check": {"demand": "huge"}}, "self_check.demand"),
        ("PATCH", "/api/v1/governance/organization", {"constraints": {"budget": True}}, "constraints.budget"),
        ("PATCH", "/api/v1/governance/organization", {"platforms": {"moon": "x"}}, "platforms.moon"),
        ("PUT", "/api/v1/usecases/tb/raci", {"accountable": [bo], "oracle": [bo]}, "oracle"),
        ("PUT", "/api/v1/governance/roles", {"risk_partner": "bo"}, "risk_partner"),
        ("PUT", "/api/v1/governance/policies/low", {"approver_roles": ["product_owner"],
                                                     "checklist": [{"id": "X", "title": "t", "evidence_kind": "owner_named",
                                                                    "mandatory": "yes"}]}, "checklist.0.mandatory"),
        ("POST", "/api/v1/apply", {"documents": "all of them"}, "documents"),
        ("POST", "/api/v1/governance/eu-ai-act/classify", {"deepfake_or_public_interest_text": True},
         "deepfake_or_public_interest_text"),
    ]
    for method, path, payload, field in cases:
        assert _field(client.request(method, path, json=payload, headers=admin)) == field, (path, payload)
    assert _audited(factory) == before
    # what the routes accepted before they were typed, still accepted
    r = client.put("/api/v1/usecases/tb/raci", json={"responsible": bo, "accountable": [bo], "informed": None},
                   headers=admin)
    assert r.status_code == 200 and r.json() == {"responsible": [bo], "accountable": [bo], "consulted": [],
                                                 "informed": []}
    r = client.patch("/api/v1/governance/organization", json={"name": "Acme", "decision_rights": {}}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "Acme" and r.json()["operating_model"] is None
    r = client.put("/api/v1/governance/policies/low", headers=admin, json={
        "tier": "low", "note": "owners first", "approver_roles": ["product_owner"],
        "checklist": [{"id": "CL-OWNER", "title": "Owners named", "evidence_kind": "owner_named", "mandatory": True}]})
    assert r.status_code == 200 and r.json()["changed"] and r.json()["version"] == 2
    assert client.get("/api/v1/governance/policies/low", headers=admin).json()["history"][0]["note"] == "owners first"
