"""The portfolio, use-case, intake, governance and reports pages through a signed-in browser session."""
from __future__ import annotations

import re


def login(client, users, *roles: str) -> str:  # type: ignore[no-untyped-def]
    name = users.create(*roles)
    client.get("/login")
    token = client.cookies.get("takeoff_login_csrf")
    r = client.post("/login", data={"username": name, "password": "password123", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1) if 'name="csrf_token"' in page else ""


def test_intake_form_shows_every_problem_at_once_in_plain_words(client, users) -> None:
    csrf = login(client, users, "product_owner")
    r = client.post("/usecases/new", data={"csrf_token": csrf, "key": "Bad Key!", "name": "", "purpose": "Help",
                                           "data_sources": "crm", "expected_users": "twelve", "risk_tier": "low",
                                           "monthly_volume": "-3"})
    assert r.status_code == 422 and "4 things to fix" in r.text
    assert 'id="key-error" role="alert">use 2 to 64 lowercase letters' in r.text
    assert 'id="name-error" role="alert">is required<' in r.text
    assert 'id="expected_users-error" role="alert">must be a whole number' in r.text
    assert 'id="monthly_volume-error" role="alert">must be a whole number' in r.text
    assert "String should" not in r.text and "pattern" not in r.text.split('id="intake-form"')[0]
    assert 'value="Bad Key!"' in r.text and ">Help</textarea>" in r.text  # what was typed stays
    r = client.post("/usecases/new", data={"csrf_token": csrf, "key": "web-uc2", "name": "X", "purpose": "Help",
                                           "data_sources": "crm", "expected_users": "3", "risk_tier": "low",
                                           "business_owner": "nobody"})
    assert r.status_code == 422 and 'id="business_owner-error" role="alert">unknown person' in r.text


def test_intake_form_refuses_missing_information_then_registers(client, users) -> None:
    csrf = login(client, users, "product_owner")
    assert csrf
    r = client.post("/usecases/new", data={"csrf_token": csrf, "key": "web-uc", "name": "Web UC"})
    assert r.status_code == 422 and "4 things to fix" in r.text
    for field, words in (("purpose", "say what the use case is for"), ("data_sources", "name at least one data source"),
                         ("expected_users", "give the expected users or the user groups"),
                         ("risk_tier", "choose a risk tier")):
        assert f'id="{field}-error" role="alert">{words}<' in r.text, field  # each message beside its field
    assert "Web UC" in r.text  # the form keeps what was typed
    r = client.post("/usecases/new", data={"csrf_token": csrf, "key": "web-uc", "name": "Web UC", "purpose": "Help",
                                           "data_sources": "crm, kb", "expected_users": "12", "risk_tier": "low"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/usecases/web-uc"
    page = client.get("/usecases/web-uc").text
    assert 'id="to-pilot"' in page and "crm, kb" in page
    r = client.post("/usecases/web-uc/transition", data={"to": "pilot", "reason": "start", "csrf_token": "wrong"})
    assert r.status_code == 403
    r = client.post("/usecases/web-uc/transition", data={"to": "pilot", "reason": "start", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases/web-uc").text
    assert 'id="status">pilot<' in page and 'id="to-production"' not in page  # no business owner yet
    r = client.post("/usecases/web-uc/transition", data={"to": "production", "reason": "go", "csrf_token": csrf})
    assert r.status_code == 409 and "business owner" in r.text


def test_portfolio_page_shows_matrix_chart_and_recommendation(client, users, admin) -> None:
    for key, (v, f, risk) in {"aa-one": (4, 4, 2), "bb-two": (5, 2, 5)}.items():
        client.post("/api/v1/usecases", headers=admin, json={"key": key, "name": key, "purpose": "p",
                                                             "data_sources": ["d"], "expected_users": 1,
                                                             "risk_tier": "low"})
        client.post(f"/api/v1/usecases/{key}/scores", headers=admin, json={"value": v, "feasibility": f, "risk": risk})
    login(client, users, "viewer")
    page = client.get("/usecases").text
    assert 'id="scoring-matrix"' in page and "data-chart=" in page and '"type": "bubble"' in page
    assert "Near term:</strong> aa-one" in page and "Longer term:</strong> bb-two" in page
    assert "Register a use case" not in page  # a viewer cannot register
    assert client.get("/usecases?status=pilot").text.count("<tr><td><a href=\"/usecases/") == 0
    assert client.get("/usecases/new").status_code == 403
    gov = client.get("/governance")
    assert gov.status_code == 200 and "nist-ai-rmf-1.0" in gov.text and "id=\"usecase-coverage\"" in gov.text
    reports = client.get("/reports")
    assert reports.status_code == 200 and "/reports/inventory" in reports.text
    assert client.get("/reports/inventory").text.startswith("<!doctype html>")


def test_risk_override_form_records_the_justification(client, users, admin) -> None:
    client.post("/api/v1/usecases", headers=admin, json={
        "key": "ov-web", "name": "ov", "purpose": "p", "data_sources": ["d"], "expected_users": 1,
        "risk_factors": {"harm_if_wrong": 1, "decision_mode": "assist", "personal_data": False,
                         "regulated_domain": False, "external_users": False}})
    csrf = login(client, users, "risk_partner")
    page = client.get("/usecases/ov-web/governance").text
    assert 'id="override-form"' in page
    r = client.post("/usecases/ov-web/override", data={"csrf_token": csrf, "tier": "medium", "justification": "short"})
    assert r.status_code == 422
    just = "Regulators asked us to treat all drafting tools as medium."
    r = client.post("/usecases/ov-web/override", data={"csrf_token": csrf, "tier": "medium", "justification": just},
                    follow_redirects=False)
    assert r.status_code == 303
    assert just in client.get("/usecases/ov-web/governance").text


def test_eu_raci_and_policy_forms(client, users, admin) -> None:
    client.post("/api/v1/usecases", headers=admin, json={"key": "forms", "name": "forms", "purpose": "p",
                                                         "data_sources": ["d"], "expected_users": 1, "risk_tier": "low"})
    csrf = login(client, users, "admin")
    page = client.get("/usecases/forms/governance").text
    assert 'id="eu-form"' in page and "Art.5(1)(c)" in page
    r = client.post("/usecases/forms/eu-ai-act", data={"csrf_token": csrf, "social_scoring": "on"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases/forms").text
    assert 'id="eu-category">prohibited<' in page and 'id="to-pilot"' not in page
    r = client.post("/usecases/forms/raci", data={"csrf_token": csrf, "responsible": "ghost", "accountable": "ghost"})
    assert r.status_code == 422 and "unknown person" in r.text
    gov = client.get("/governance").text
    assert 'id="policy-form-low"' in gov
    r = client.post("/governance/policies/low", data={"csrf_token": csrf, "policy": "approver_roles: [wizard]\n"})
    assert r.status_code == 422
    r = client.post("/governance/policies/low", follow_redirects=False, data={
        "csrf_token": csrf, "note": "add business owner",
        "policy": "approver_roles: [product_owner, business_owner]\nchecklist:\n"
                  "  - {id: A, title: Eval gate, evidence_kind: eval_gate_passed, mandatory: true}\n"})
    assert r.status_code == 303
    assert "low</strong> · version 2" in client.get("/governance").text


def test_intake_stays_editable_audited_and_a_refused_edit_keeps_the_input(client, users, admin) -> None:
    csrf = login(client, users, "product_owner")
    r = client.post("/usecases/new", data={"csrf_token": csrf, "key": "edit-uc", "name": "Edit UC", "purpose": "Help",
                                           "data_sources": "crm", "expected_users": "5", "risk_tier": "low"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases/edit-uc").text
    assert 'id="intake-edit-form"' in page and 'class="uc-nav"' in page and "<details id=\"intake-edit\" >" in page
    form = {"csrf_token": csrf, "name": "Edit UC", "purpose": "Help agents reply", "data_sources": "crm, kb",
            "expected_users": "lots", "monthly_volume": "1200", "team": "support"}
    r = client.post("/usecases/edit-uc/intake", data=form)
    assert r.status_code == 422
    assert 'id="expected_users-error" role="alert">must be a whole number' in r.text
    assert 'value="lots"' in r.text and ">Help agents reply</textarea>" in r.text  # kept, and the form is open
    assert 'id="intake-edit" open data-failed' in r.text
    r = client.post("/usecases/edit-uc/intake", data={**form, "expected_users": "40"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/usecases/edit-uc").text
    assert "Help agents reply" in page and "crm, kb" in page and "1,200" in page
    entries = client.get("/api/v1/audit?object_id=edit-uc&action=usecase.update", headers=admin).json()
    items = entries.get("items", entries) if isinstance(entries, dict) else entries
    assert any(e["diff"]["purpose"] == {"from": "Help", "to": "Help agents reply"} for e in items), entries
