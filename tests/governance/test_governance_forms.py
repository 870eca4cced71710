"""People per use case (API, apply/export, form) and the governance page's forms: organization constraints,
platforms and operating model, decision rights, roles. Bad input shows a readable error and writes nothing."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from takeoff.audit.models import AuditEntry
from takeoff.core.db import transaction
from takeoff.governance.models import UseCaseRole
from takeoff.portfolio.models import UseCase


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def make_use_case(client, admin, key: str = "uc", **over: Any) -> None:  # type: ignore[no-untyped-def]
    body = {"key": key, "name": key, "purpose": "p", "data_sources": ["d"], "expected_users": 1, "risk_tier": "low",
            **over}
    assert client.post("/api/v1/usecases", json=body, headers=admin).status_code == 201


def org(client, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/governance/organization", headers=admin).json()


# --- people per use case over the API and apply/export --------------------------------------------------


def test_use_case_roles_api(client, admin, users, factory) -> None:
    make_use_case(client, admin)
    for name in ("bea", "dan", "eve", "ray"):
        users.create("viewer", username=name)
    r = client.get("/api/v1/usecases/uc/roles", headers=admin)
    assert r.status_code == 200 and r.json()["roles"]["data_owner"] == [] and len(r.json()["roles"]) == 7
    # an unknown role or a name that is not text: the request model names the field (issue 17.7)
    for body, msg in (({"wizard": ["dan"]}, "invalid input: wizard"),
                      ({"data_owner": ["ghost"]}, "unknown person 'ghost'"),
                      ({"business_owner": ["bea", "dan"]}, "one business owner"),
                      ({"ai_engineer": "eve", "data_owner": [3]}, "invalid input: data_owner.0")):
        r = client.put("/api/v1/usecases/uc/roles", json=body, headers=admin)
        assert r.status_code == 422 and msg in r.json()["error"]["message"], r.text
    assert count(factory, UseCaseRole) == 0
    r = client.put("/api/v1/usecases/uc/roles", headers=admin,
                   json={"business_owner": ["bea"], "data_owner": ["dan", "eve"], "risk_partner": "ray"})
    assert r.status_code == 200 and r.json()["changed"]
    roles = client.get("/api/v1/usecases/uc/roles", headers=admin).json()["roles"]
    assert roles["business_owner"] == ["bea"] and roles["data_owner"] == ["dan", "eve"] and roles["risk_partner"] == ["ray"]
    assert client.get("/api/v1/usecases/uc", headers=admin).json()["business_owner"] == "bea"  # the same owner
    r = client.put("/api/v1/usecases/uc/roles", json={"data_owner": ["dan", "eve"]}, headers=admin)
    assert r.status_code == 200 and not r.json()["changed"]
    # A risk partner (governance.write, no usecase.write) names people, but may not change the owners.
    risk = users.headers("risk_partner")
    r = client.put("/api/v1/usecases/uc/roles", json={"business_owner": ["dan"], "ai_engineer": ["eve"]}, headers=risk)
    assert r.status_code == 403 and "usecase.write" in r.json()["error"]["message"]
    assert client.get("/api/v1/usecases/uc/roles", headers=admin).json()["roles"]["ai_engineer"] == []
    r = client.put("/api/v1/usecases/uc/roles", json={"business_owner": ["bea"], "ai_engineer": ["eve"]}, headers=risk)
    assert r.status_code == 200
    assert client.put("/api/v1/usecases/uc/roles", json={"ai_engineer": []},
                      headers=users.headers("ai_engineer")).status_code == 403
    assert client.put("/api/v1/usecases/nope/roles", json={}, headers=admin).status_code == 404


def test_use_case_roles_apply_and_export_round_trip(client, admin, users, factory) -> None:
    users.create("viewer", username="dan")
    make_use_case(client, admin)
    doc = {"kind": "UseCaseRoles", "use_case": "uc", "roles": {"data_owner": ["dan"]}}

    def apply(*bodies: dict[str, Any]) -> Any:
        return client.post("/api/v1/apply", headers=admin, json={
            "documents": [{"file": "roles.yaml", "line": 1 + 5 * i, "doc": b} for i, b in enumerate(bodies)]})

    for bad, msg in (({**doc, "roles": {"business_owner": ["dan"]}}, "set business_owner on the UseCase document"),
                     ({**doc, "roles": {"data_owner": ["ghost"]}}, "unknown person 'ghost'"),
                     ({**doc, "extra": 1}, "field extra"),
                     ({"kind": "UseCaseRoles", "roles": {"data_owner": ["dan"]}}, "use_case")):
        r = apply(bad)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("roles.yaml") and msg in \
            r.json()["error"]["message"], r.text
    assert count(factory, UseCaseRole) == 0
    r = apply(doc)
    assert r.status_code == 200 and r.json()["changes"][0]["action"] == "updated"
    assert apply(doc).json()["summary"] == "no changes"
    exported = client.get("/api/v1/export", headers=admin).json()["documents"]
    assert doc in exported
    r = client.post("/api/v1/apply", headers=admin, json={
        "documents": [{"file": "export.yaml", "line": i + 1, "doc": d} for i, d in enumerate(exported)]})
    assert r.status_code == 200 and r.json()["summary"] == "no changes"


# --- the forms, through a signed-in session ---------------------------------------------------------------


def test_organization_form_saves_and_refuses_bad_input(client, admin, signin, factory) -> None:
    client.patch("/api/v1/governance/organization", headers=admin,
                 json={"constraints": {"budget": 200000, "regulations": ["GDPR", "EU AI Act"]}})
    csrf = signin("business_owner")
    page = client.get("/governance").text
    assert 'id="org-form"' in page and 'id="decision-rights-form"' in page and 'id="org-roles-form"' in page
    form = {"csrf_token": csrf, "name": "ACME", "operating_model": "hub_and_spoke",
            "constraints.regulations": "GDPR\nEU AI Act", "constraints.privacy": "No PII leaves the EU",
            "constraints.latency": "p95 under 2 s", "constraints.budget": "200000", "constraints.vendor_restrictions": "",
            "platforms.experimentation": "notebooks", "platforms.deployment": "Kubernetes",
            "platforms.monitoring": "takeoff", "platforms.access_control": "Okta groups"}
    r = client.post("/governance/organization", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/governance#organization"
    o = org(client, admin)
    assert o["name"] == "ACME" and o["operating_model"] == "hub_and_spoke"
    # Unchanged fields keep their stored value and type; a new one-line field is text.
    assert o["constraints"] == {"regulations": ["GDPR", "EU AI Act"], "privacy": "No PII leaves the EU",
                                "latency": "p95 under 2 s", "budget": 200000}
    assert o["platforms"]["access_control"] == "Okta groups"
    page = client.get("/governance").text
    assert "Okta groups" in page and "GDPR; EU AI Act" in page
    audits = count(factory, AuditEntry)
    for field, value, msg in (("constraints.privacy", "x" * 2001, "constraints.privacy: at most 2000 characters"),
                              ("name", "n" * 201, "at most 200 characters"),
                              ("operating_model", "anarchy", "operating_model must be one of")):
        r = client.post("/governance/organization", data={**form, "platforms.monitoring": "Grafana", field: value})
        assert r.status_code == 422, r.text
        alert = html.unescape(re.search(r'role="alert">([^<]+)<', r.text).group(1))
        assert msg in alert
        assert "Grafana" in r.text  # what was typed is kept on the page
    assert org(client, admin) == o and count(factory, AuditEntry) == audits  # nothing half-written
    r = client.post("/governance/organization", data={**form, "csrf_token": "wrong"})
    assert r.status_code == 403


def test_decision_rights_and_org_roles_forms(client, admin, users, signin) -> None:
    users.create("viewer", username="rita")
    csrf = signin("risk_partner")
    page = client.get("/governance").text
    assert "platform engineer (suggested)" in page
    data = {"csrf_token": csrf, "decision.fund_use_cases": "business_owner", "decision.approve_tools": "",
            "decision.set_risk_tier": "risk_partner", "decision.ship_to_production": "ai_engineer",
            "decision.incident_owner": ""}
    r = client.post("/governance/decision-rights", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert org(client, admin)["decision_rights"] == {"fund_use_cases": "business_owner",
                                                     "set_risk_tier": "risk_partner",
                                                     "ship_to_production": "ai_engineer"}
    assert 'data-decision="ship_to_production">ai engineer<' in client.get("/governance").text
    r = client.post("/governance/decision-rights", data={**data, "decision.ship_to_production": "business_owner"})
    assert r.status_code == 422 and "lacks permission &#39;release.promote&#39;" in r.text
    assert org(client, admin)["decision_rights"]["ship_to_production"] == "ai_engineer"
    r = client.post("/governance/roles", data={"csrf_token": csrf, "role.risk_partner": "rita, ghost"})
    assert r.status_code == 422 and "unknown person &#39;ghost&#39;" in r.text and "rita, ghost" in r.text
    assert client.get("/api/v1/governance/roles", headers=admin).json()["roles"]["risk_partner"] == []
    r = client.post("/governance/roles", data={"csrf_token": csrf, "role.risk_partner": "rita"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/governance/roles", headers=admin).json()["roles"]["risk_partner"] == ["rita"]
    signin("ai_engineer")
    page = client.get("/governance").text
    assert 'id="decision-rights-form"' not in page and 'id="org-form"' not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/tokens").text).group(1)
    assert client.post("/governance/decision-rights", data={**data, "csrf_token": csrf}).status_code == 403


def test_use_case_roles_form(client, admin, users, signin, factory) -> None:
    make_use_case(client, admin)
    for name in ("bea", "dan"):
        users.create("viewer", username=name)
    csrf = signin("business_owner")
    page = client.get("/usecases/uc/governance").text
    assert 'id="uc-roles-form"' in page and "security partner" in page
    form = {"csrf_token": csrf, "business_owner": "bea", "product_owner": "", "data_owner": "dan",
            "ai_engineer": "", "platform_engineer": "", "risk_partner": "", "security_partner": "dan"}
    r = client.post("/usecases/uc/roles", data={**form, "business_owner": "bea, dan"})
    assert r.status_code == 422 and "one business owner" in r.text and 'id="action-error"' in r.text
    r = client.post("/usecases/uc/roles", data={**form, "data_owner": "ghost"})
    assert r.status_code == 422 and "unknown person &#39;ghost&#39;" in r.text
    assert count(factory, UseCaseRole) == 0
    assert client.get("/api/v1/usecases/uc", headers=admin).json()["business_owner"] is None
    r = client.post("/usecases/uc/roles", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases/uc/governance").text
    assert 'data-role="data_owner">dan<' in page and 'data-role="business_owner">bea<' in page
    assert "business: bea" in client.get("/usecases/uc").text  # the intake's owner line reads the same column


@pytest.mark.browser
def test_browser_fills_the_governance_forms(live_server, page, users, factory) -> None:
    users.create("admin", username="gwen")
    users.create("viewer", username="dan")
    users.create("viewer", username="bea")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "gwen")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")

    # The organization: constraints, platforms, operating model.
    page.goto(f"{live_server}/governance")
    page.click("#organization summary")
    page.fill("#org-form input[name=name]", "ACME")
    page.select_option("#org-form select[name=operating_model]", "federated")
    page.fill("#org-form textarea[name='constraints.regulations']", "GDPR\nEU AI Act")
    page.fill("#org-form textarea[name='constraints.budget']", "200k EUR per year")
    page.fill("#org-form textarea[name='platforms.monitoring']", "takeoff")
    page.click("#org-save")
    page.wait_for_url(re.compile(r".*/governance#organization$"))
    settings = page.locator("#org-settings").inner_text()
    assert "GDPR; EU AI Act" in settings and "200k EUR per year" in settings and "takeoff" in settings
    assert "federated" in page.locator("#operating-model").inner_text()

    # Bad input: the readable error on the page, what was typed kept, nothing saved.
    page.click("#organization summary")
    page.fill("#org-form textarea[name='platforms.deployment']", "k" * 2100)
    page.click("#org-save")
    assert "platforms.deployment: at most 2000 characters" in page.locator("[role=alert]").inner_text()
    page.goto(f"{live_server}/governance")
    assert "kkkk" not in page.locator("#org-settings").inner_text()

    # Decision rights.
    page.locator("#decision-rights summary").click()
    page.select_option("#decision-rights-form select[name='decision.ship_to_production']", "platform_engineer")
    page.click("#decision-rights-save")
    page.wait_for_url(re.compile(r".*/governance#decision-rights$"))
    assert page.locator("[data-decision=ship_to_production]").inner_text() == "platform engineer"

    # People per use case.
    with transaction(factory) as s:
        s.add(UseCase(key="web-roles", name="Web roles", purpose="p", data_sources=["d"], expected_users=1,
                      risk_tier="low"))
    page.goto(f"{live_server}/usecases/web-roles/governance")
    page.locator("#uc-roles summary").click()
    page.fill("#uc-roles-form input[name=data_owner]", "dan, ghost")
    page.click("#uc-roles-save")
    assert "unknown person 'ghost'" in page.locator("#action-error").inner_text()
    assert page.locator("#uc-roles-form input[name=data_owner]").input_value() == "dan, ghost"  # still open, as typed
    assert page.url.split("#")[0].endswith("/usecases/web-roles/governance")  # the page's address, not the POST's
    page.fill("#uc-roles-form input[name=business_owner]", "bea")
    page.fill("#uc-roles-form input[name=data_owner]", "dan")
    page.click("#uc-roles-save")
    page.wait_for_url(f"{live_server}/usecases/web-roles/governance")
    assert page.locator("[data-role=data_owner]").inner_text() == "dan"
    assert page.locator("[data-role=business_owner]").inner_text() == "bea"
