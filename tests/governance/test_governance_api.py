"""Governance over HTTP: tier policies (versioned), RACI, roles, organization, risk override, EU AI Act, frameworks."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.governance import people
from takeoff.governance import policies
from takeoff.governance.models import FrameworkRecord, RoleAssignment, TierPolicyVersion, UseCaseRaci


def intake(key: str, **over: Any) -> dict[str, Any]:
    body = {"key": key, "name": key, "purpose": "Draft replies", "data_sources": ["crm"], "expected_users": 10,
            "risk_factors": {"harm_if_wrong": 2, "decision_mode": "assist", "personal_data": False,
                             "regulated_domain": False, "external_users": False}}
    body.update(over)
    return body


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_tier_policy_defaults_then_versioned_edits(client, admin, users, factory) -> None:
    with transaction(factory) as s:
        v, p = policies.tier_policy(s, "medium")
    assert v == 1 and p.approver_roles == ("business_owner", "risk_partner") and p.inconclusive_blocks
    cur = client.get("/api/v1/governance/policies/high", headers=admin).json()
    body = {k: cur[k] for k in ("approver_roles", "checklist")}
    body["approver_roles"] = ["business_owner", "risk_partner", "security_partner", "data_owner"]
    r = client.put("/api/v1/governance/policies/high", json={**body, "note": "data owner signs too"}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["changed"]
    r = client.put("/api/v1/governance/policies/high", json=body, headers=admin)
    assert r.json()["version"] == 2 and not r.json()["changed"]
    with transaction(factory) as s:
        v, p = policies.tier_policy(s, "high")
    assert v == 2 and "data_owner" in p.approver_roles
    hist = client.get("/api/v1/governance/policies/high", headers=admin).json()["history"]
    assert [h["version"] for h in hist] == [2, 1]
    bad = client.put("/api/v1/governance/policies/high", json={**body, "approver_roles": ["wizard"]}, headers=admin)
    assert bad.status_code == 422 and "unknown approver role 'wizard'" in bad.json()["error"]["message"]
    risk = users.headers("ai_engineer")
    assert client.put("/api/v1/governance/policies/high", json=body, headers=risk).status_code == 403
    assert count(factory, TierPolicyVersion) == 1


def test_raci_needs_existing_people(client, admin, users, factory) -> None:
    client.post("/api/v1/usecases", json=intake("raci-uc"), headers=admin)
    bo, eng = users.create("business_owner"), users.create("ai_engineer")
    r = client.put("/api/v1/usecases/raci-uc/raci", json={"responsible": [eng], "accountable": ["ghost"]}, headers=admin)
    assert r.status_code == 422 and "unknown person 'ghost'" in r.json()["error"]["message"]
    assert count(factory, UseCaseRaci) == 0
    r = client.put("/api/v1/usecases/raci-uc/raci", json={"responsible": [eng], "accountable": [bo],
                                                          "informed": [bo, eng]}, headers=admin)
    assert r.status_code == 200
    with transaction(factory) as s:
        assert people.raci(s, "raci-uc") == {"responsible": [eng], "accountable": [bo], "consulted": [],
                                          "informed": [bo, eng]}


def test_roles_and_organization(client, admin, users, factory) -> None:
    alice = users.create("risk_partner", username="alice")
    r = client.put("/api/v1/governance/roles", json={"wizard": [alice]}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "wizard"  # an unknown role (17.7)
    r = client.put("/api/v1/governance/roles", json={"risk_partner": ["nobody"]}, headers=admin)
    assert r.status_code == 422
    assert count(factory, RoleAssignment) == 0
    r = client.put("/api/v1/governance/roles", json={"risk_partner": [alice]}, headers=admin)
    assert r.json()["roles"]["risk_partner"] == [alice]
    r = client.patch("/api/v1/governance/organization", headers=admin, json={
        "operating_model": "hub_and_spoke",
        "self_check": {"standards_maturity": 3, "domains": 4, "demand": "high", "regulated": True},
        "constraints": {"regulations": "GDPR, EU AI Act", "budget": "200k EUR/yr"},
        "platforms": {"monitoring": "takeoff"}})
    assert r.status_code == 200, r.text
    assert r.json()["suggestion"]["model"] == "hub_and_spoke"
    r = client.patch("/api/v1/governance/organization", json={"decision_rights": {"set_risk_tier": "viewer"}},
                     headers=admin)
    assert r.status_code == 422 and "lacks permission 'risk.override'" in r.json()["error"]["message"]


def test_override_needs_the_right_and_a_justification(client, admin, users, factory) -> None:
    client.post("/api/v1/usecases", json=intake("ov"), headers=admin)
    po = users.headers("product_owner")
    just = "Customer-facing in three regulated markets; treat as medium."
    r = client.post("/api/v1/usecases/ov/risk/override", json={"tier": "medium", "justification": just}, headers=po)
    assert r.status_code == 403 and "risk.override" in r.json()["error"]["message"]
    risk = users.headers("risk_partner", username="rita")
    r = client.post("/api/v1/usecases/ov/risk/override", json={"tier": "medium", "justification": "because"},
                    headers=risk)
    assert r.status_code == 422 and "justification" in r.json()["error"]["message"]
    uc = client.get("/api/v1/usecases/ov", headers=admin).json()
    assert uc["risk_tier"] == "low" and uc["risk_override"] == {}
    r = client.post("/api/v1/usecases/ov/risk/override", json={"tier": "medium", "justification": just}, headers=risk)
    assert r.status_code == 200
    assert r.json()["risk_tier"] == "medium" and r.json()["risk_override"]["by"] == "rita"
    # An intake that picks another tier than the suggestion is an override too.
    r = client.post("/api/v1/usecases", json=intake("ov2", risk_tier="high", risk_justification=just), headers=po)
    assert r.status_code == 403


def test_eu_ai_act_prohibited_blocks_pilot_and_high_risk_raises_tier(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("scoring"), headers=admin)
    r = client.put("/api/v1/usecases/scoring/eu-ai-act", json={"social_scoring": True, "annex_iii_points": ["4(b)"]},
                   headers=admin)
    assert r.status_code == 200 and r.json()["eu_category"] == "prohibited"
    assert r.json()["result"]["triggers"][0]["article"] == "Art.5(1)(c)"
    r = client.post("/api/v1/usecases/scoring/transitions", json={"to": "pilot", "reason": "try"}, headers=admin)
    assert r.status_code == 409 and "prohibited" in r.json()["error"]["message"]
    assert client.get("/api/v1/usecases/scoring", headers=admin).json()["status"] == "proposed"
    client.post("/api/v1/usecases", json=intake("hiring"), headers=admin)
    r = client.put("/api/v1/usecases/hiring/eu-ai-act", json={"annex_iii_points": ["4(a)"]}, headers=admin)
    assert r.json()["eu_category"] == "high_risk" and r.json()["risk_tier"] == "high"
    r = client.put("/api/v1/usecases/hiring/eu-ai-act", json={"annex_iii_points": ["astrology"]}, headers=admin)
    assert r.status_code == 422
    controls = client.get("/api/v1/usecases/hiring/controls", headers=admin).json()
    assert controls["tier"] == "high" and controls["coverage"]["eu-ai-act-2024-1689"]["covered"] > 0


FRAMEWORK = """id: acme-ai-policy
name: ACME AI policy
version: "2025.1"
publisher: ACME
items:
  - id: P1
    kind: principle
    title: Humans stay accountable
    children:
      - {id: P1.1, kind: rule, title: Name an owner}
"""


def test_admin_loads_another_framework_from_yaml(client, admin, users, factory) -> None:
    listed = client.get("/api/v1/frameworks", headers=admin).json()
    counts = {f["id"]: f["counts"] for f in listed["frameworks"]}
    assert counts["nist-ai-rmf-1.0"] == {"function": 4, "category": 19, "subcategory": 72}
    r = client.post("/api/v1/frameworks", content=FRAMEWORK.replace("title: Name an owner", "titel: x"),
                    headers={**admin, "content-type": "text/yaml"})
    assert r.status_code == 422 and "framework.yaml: line" in r.json()["error"]["message"]
    assert count(factory, FrameworkRecord) == 0
    eng = users.headers("ai_engineer")
    assert client.post("/api/v1/frameworks", content=FRAMEWORK, headers={**eng, "content-type": "text/yaml"}).status_code == 403
    r = client.post("/api/v1/frameworks", json={"yaml": FRAMEWORK}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["counts"] == {"principle": 1, "rule": 1}
    ids = [f["id"] for f in client.get("/api/v1/frameworks", headers=admin).json()["frameworks"]]
    assert "acme-ai-policy" in ids
