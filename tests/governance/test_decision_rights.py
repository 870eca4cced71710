"""Decision rights enforced at run time: a decision given to a role is refused (403 naming the decision and the role)
to users who hold the permission but not the role, and allowed to those who hold it; unassigned, nothing changes.
Runs on SQLite and PostgreSQL (the engine fixture)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from takeoff.catalog.models import CatalogModel
from takeoff.cli import app as cli
from takeoff.commands import _http
from takeoff.core.db import transaction
from takeoff.governance import decisions
from takeoff.incidents.models import Incident


def echo(inp: dict[str, Any]) -> str:
    """Eval target: returns the answer carried in the input."""
    return inp["answer"]


def give(client, admin, **rights: str | None) -> None:  # type: ignore[no-untyped-def]
    r = client.patch("/api/v1/governance/organization", json={"decision_rights": rights}, headers=admin)
    assert r.status_code == 200, r.text


def refused(r, decision: str, role: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "decision_right"
    assert f"decision '{decision}'" in err["message"] and f"role '{role}'" in err["message"]
    assert err["details"][0] == {"decision": decision, "role": role, "permission": decisions.permission_of(decision)}


def use_case(client, admin, key: str = "uc", **over: Any) -> None:  # type: ignore[no-untyped-def]
    body = {"key": key, "name": key, "purpose": "Draft replies", "data_sources": ["crm"], "expected_users": 10,
            "risk_factors": {"harm_if_wrong": 1, "decision_mode": "assist", "personal_data": False,
                             "regulated_domain": False, "external_users": False}, **over}
    r = client.post("/api/v1/usecases", json=body, headers=admin)
    assert r.status_code == 201, r.text


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# --- the pure rule ------------------------------------------------------------------------------------


def test_refusal_rule() -> None:
    rights = {"ship_to_production": "ai_engineer"}
    assert decisions.refusal({}, ["platform_engineer"], "ship_to_production") is None
    assert decisions.refusal(rights, ["ai_engineer"], "ship_to_production") is None
    assert decisions.refusal(rights, ["admin"], "ship_to_production") is None
    assert decisions.refusal(rights, ["platform_engineer"], "approve_tools") is None
    why = decisions.refusal(rights, ["platform_engineer", "viewer"], "ship_to_production")
    assert why and "'ai_engineer'" in why and "platform_engineer, viewer" in why
    with pytest.raises(KeyError, match="unknown decision"):
        decisions.refusal(rights, ["admin"], "launch_rockets")


# --- setting decision rights ----------------------------------------------------------------------------


def test_unassigned_by_default_and_validated(client, admin, users) -> None:
    org = client.get("/api/v1/governance/organization", headers=admin).json()
    assert org["decision_rights"] == {}
    assert org["decisions"]["ship_to_production"]["suggested_role"] == "ai_engineer"
    # Nothing assigned: the permission alone decides, as before.
    sec = users.headers("security_partner")
    r = client.post("/api/v1/catalog/models", json={"provider": "acme", "model": "m1"}, headers=sec)
    assert r.status_code == 201, r.text
    for bad, msg in (({"launch": "admin"}, "unknown decision 'launch'"),
                     ({"approve_tools": "wizard"}, "unknown role 'wizard'"),
                     ({"ship_to_production": "business_owner"}, "lacks permission 'release.promote'")):
        r = client.patch("/api/v1/governance/organization", json={"decision_rights": bad}, headers=admin)
        assert r.status_code == 422 and msg in r.json()["error"]["message"]
    give(client, admin, approve_tools="platform_engineer", incident_owner=None)
    assert client.get("/api/v1/governance/organization", headers=admin).json()["decision_rights"] == {
        "approve_tools": "platform_engineer"}
    give(client, admin, approve_tools="")  # unassigning restores the permission alone
    assert client.post("/api/v1/catalog/models", json={"provider": "acme", "model": "m2"}, headers=sec).status_code == 201


# --- each decision over the API ----------------------------------------------------------------------------


def test_fund_use_cases(client, admin, users) -> None:
    use_case(client, admin)
    give(client, admin, fund_use_cases="business_owner")
    po, bo = users.headers("product_owner"), users.headers("business_owner")
    r = client.post("/api/v1/usecases/uc/transitions", json={"to": "pilot", "reason": "go"}, headers=po)
    refused(r, "fund_use_cases", "business_owner")
    assert client.get("/api/v1/usecases/uc", headers=admin).json()["status"] == "proposed"
    r = client.post("/api/v1/usecases/uc/transitions", json={"to": "pilot", "reason": "funded"}, headers=bo)
    assert r.status_code == 201, r.text
    # Pausing is not funding: the permission alone decides.
    r = client.post("/api/v1/usecases/uc/transitions", json={"to": "paused", "reason": "hold"}, headers=po)
    assert r.status_code == 201, r.text


def test_approve_tools(client, admin, users, factory) -> None:
    give(client, admin, approve_tools="platform_engineer")
    sec, plat = users.headers("security_partner"), users.headers("platform_engineer")
    body = {"provider": "acme", "model": "m1", "approved_tiers": ["low"]}
    refused(client.post("/api/v1/catalog/models", json=body, headers=sec), "approve_tools", "platform_engineer")
    assert count(factory, CatalogModel) == 0
    assert client.post("/api/v1/catalog/models", json=body, headers=plat).status_code == 201
    # The decision check comes after the permission: a role without catalog.write still gets permission_denied.
    r = client.post("/api/v1/catalog/models", json=body, headers=users.headers("ai_engineer"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"


def test_set_risk_tier(client, admin, users) -> None:
    use_case(client, admin)
    give(client, admin, set_risk_tier="admin")
    just = "Customer-facing in three regulated markets; treat as medium."
    risk = users.headers("risk_partner")
    r = client.post("/api/v1/usecases/uc/risk/override", json={"tier": "medium", "justification": just}, headers=risk)
    refused(r, "set_risk_tier", "admin")
    assert client.get("/api/v1/usecases/uc", headers=admin).json()["risk_tier"] == "low"
    r = client.post("/api/v1/usecases/uc/risk/override", json={"tier": "medium", "justification": just}, headers=admin)
    assert r.status_code == 200 and r.json()["risk_tier"] == "medium"
    give(client, admin, set_risk_tier="risk_partner")
    r = client.post("/api/v1/usecases/uc/risk/override", json={"tier": "high", "justification": just}, headers=risk)
    assert r.status_code == 200 and r.json()["risk_tier"] == "high"


def test_set_risk_tier_through_intake_and_apply(client, admin, users) -> None:
    """Choosing another tier than the suggestion at intake or in an applied document is the same decision."""
    give(client, admin, set_risk_tier="admin")
    just = "Customer-facing in three regulated markets; treat as medium."
    both = users.headers("risk_partner", "business_owner")
    body = {"key": "pick", "name": "pick", "purpose": "p", "data_sources": ["d"], "expected_users": 1,
            "risk_factors": {"harm_if_wrong": 1, "decision_mode": "assist", "personal_data": False,
                             "regulated_domain": False, "external_users": False},
            "risk_tier": "medium", "risk_justification": just}
    refused(client.post("/api/v1/usecases", json=body, headers=both), "set_risk_tier", "admin")
    r = client.post("/api/v1/apply", json={"documents": [{"file": "uc.yaml", "line": 1,
                                                           "doc": {"kind": "UseCase", **body}}]}, headers=both)
    assert r.status_code == 403 and "set_risk_tier" in r.json()["error"]["message"]
    assert client.get("/api/v1/usecases/pick", headers=admin).status_code == 404
    body.pop("risk_tier"), body.pop("risk_justification")  # the rule's suggestion is no one's decision
    assert client.post("/api/v1/usecases", json=body, headers=both).status_code == 201


def _releasable(client, admin, users, app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A low-tier release that passed its eval gate, is approved and has its checklist attested; returns the
    engineer's headers (its author)."""
    use_case(client, admin, "ship", targets={"min_eval_pass_rate": 0.5})
    r = client.post("/api/v1/catalog/models", headers=admin, json={
        "provider": "openai", "model": "gpt-4o-mini", "approved_tiers": ["low"],
        "price": {"input": 0.15, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"}})
    assert r.status_code == 201, r.text
    eng = users.headers("ai_engineer", username="author")
    rows = "\n".join(json.dumps({"id": f"c{i}", "input": {"answer": f"a{i}"}, "expected": f"a{i}"}) for i in range(20))
    r = client.post("/api/v1/evalsets/golden/versions?create=true", content=rows.encode(), headers=eng)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/releases", headers=eng, json={
        "use_case": "ship", "model": "openai/gpt-4o-mini", "prompts": {"system": "Be brief."},
        "eval_set": {"name": "golden"},
        "eval": {"target": {"type": "python", "ref": "tests.eval_targets:echo"}, "scorers": [{"type": "exact"}]}})
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/releases/ship:1/evaluate", headers=eng).status_code == 202
    app.state.worker.drain()
    r = client.post("/api/v1/releases/ship:1/approve", json={"comment": "ok"}, headers=users.headers("product_owner"))
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    detail = client.get("/api/v1/releases/ship:1", headers=eng).json()
    for item in detail["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"] and item["evidence_kind"] != "eval_gate_passed":
            r = client.post("/api/v1/releases/ship:1/attest", json={"item_id": item["id"], "statement": "checked"},
                            headers=eng)
            assert r.status_code == 201, r.text
    return eng


def test_ship_to_production(client, admin, users, app) -> None:
    eng = _releasable(client, admin, users, app)
    give(client, admin, ship_to_production="ai_engineer")
    plat = users.headers("platform_engineer")
    # A canary is not the production decision: the permission alone decides.
    r = client.post("/api/v1/releases/ship:1/promote", json={"to": "canary", "weight": 10}, headers=plat)
    assert r.status_code == 200, r.text
    refused(client.post("/api/v1/releases/ship:1/promote", json={"to": "production"}, headers=plat),
            "ship_to_production", "ai_engineer")
    assert client.get("/api/v1/releases/ship:1", headers=eng).json()["status"] == "canary"
    r = client.post("/api/v1/releases/ship:1/promote", json={"to": "production"}, headers=eng)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/releases/ship:1", headers=eng).json()["status"] == "production"


def _incident(client, headers) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/incidents", json={"use_case": "uc", "title": "Wrong answers", "severity": 2},
                    headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_incident_owner(client, admin, users) -> None:
    use_case(client, admin)
    give(client, admin, incident_owner="ai_engineer")
    bo, eng = users.headers("business_owner"), users.headers("ai_engineer")
    iid = _incident(client, bo)  # anyone with incident.write may still open one and add to its timeline
    assert client.post(f"/api/v1/incidents/{iid}/entries", json={"text": "seen by sales"}, headers=bo).status_code == 201
    refused(client.patch(f"/api/v1/incidents/{iid}", json={"severity": 1}, headers=bo), "incident_owner", "ai_engineer")
    refused(client.post(f"/api/v1/incidents/{iid}/resolve", json={"resolution": "x"}, headers=bo),
            "incident_owner", "ai_engineer")
    got = client.get(f"/api/v1/incidents/{iid}", headers=bo).json()
    assert got["status"] == "open" and got["severity"] == 2
    assert client.patch(f"/api/v1/incidents/{iid}", json={"severity": 1}, headers=eng).status_code == 200
    r = client.post(f"/api/v1/incidents/{iid}/resolve", json={"resolution": "reverted prompt"}, headers=eng)
    assert r.status_code == 200 and r.json()["status"] == "resolved"


# --- the same decisions through the web forms and the CLI ------------------------------------------------


def test_web_forms_refuse_and_allow(client, admin, signin, factory) -> None:
    use_case(client, admin)
    give(client, admin, fund_use_cases="business_owner", set_risk_tier="admin", incident_owner="ai_engineer")
    iid = _incident(client, admin)
    csrf = signin("product_owner")
    page = client.get("/usecases/uc").text
    assert 'id="funding-decision"' in page and "business owner" in page
    r = client.post("/usecases/uc/transition", data={"csrf_token": csrf, "to": "pilot", "reason": "go"})
    assert r.status_code == 403 and "decision &#39;fund_use_cases&#39;" in r.text and 'id="action-error"' in r.text
    r = client.post(f"/incidents/{iid}/resolve", data={"csrf_token": csrf, "resolution": "fixed"})
    assert r.status_code == 403 and "incident_owner" in r.text
    csrf = signin("risk_partner")
    just = "Customer-facing in three regulated markets; treat as medium."
    r = client.post("/usecases/uc/override", data={"csrf_token": csrf, "tier": "medium", "justification": just})
    assert r.status_code == 403 and "set_risk_tier" in r.text
    csrf = signin("business_owner")
    r = client.post("/usecases/uc/transition", data={"csrf_token": csrf, "to": "pilot", "reason": "funded"},
                    follow_redirects=False)
    assert r.status_code == 303
    csrf = signin("ai_engineer")
    r = client.post(f"/incidents/{iid}/resolve", data={"csrf_token": csrf, "resolution": "fixed"},
                    follow_redirects=False)
    assert r.status_code == 303
    with transaction(factory) as s:
        assert s.get(Incident, iid).status == "resolved"
    assert client.get("/api/v1/usecases/uc", headers=admin).json()["status"] == "pilot"


def test_web_promote_form_refuses_production(client, admin, users, signin, app) -> None:
    _releasable(client, admin, users, app)
    give(client, admin, ship_to_production="ai_engineer")
    csrf = signin("platform_engineer")
    r = client.post("/releases/ship:1/promote", data={"csrf_token": csrf, "to": "production"})
    assert r.status_code == 403 and "ship_to_production" in r.text
    assert client.get("/api/v1/releases/ship:1", headers=admin).json()["status"] == "approved"
    csrf = signin("ai_engineer")
    r = client.post("/releases/ship:1/promote", data={"csrf_token": csrf, "to": "production"}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/releases/ship:1", headers=admin).json()["status"] == "production"


def test_cli_resolve_is_refused_with_the_decision(app, client, admin, users, monkeypatch) -> None:
    use_case(client, admin)
    iid = _incident(client, admin)
    give(client, admin, incident_owner="ai_engineer")
    headers = users.headers("business_owner")

    def http_client(timeout: float = 60.0) -> TestClient:
        c = TestClient(app)
        c.headers.update(headers)
        return c

    monkeypatch.setattr(_http, "client", http_client)
    r = CliRunner().invoke(cli, ["incident", "resolve", str(iid), "--resolution", "done"])
    assert r.exit_code == 2 and "incident_owner" in r.output and "ai_engineer" in r.output
    assert client.get(f"/api/v1/incidents/{iid}", headers=admin).json()["status"] == "open"
