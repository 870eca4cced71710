"""EU AI Act over HTTP and the web form: each article path sets the category, tier and controls; bad input is a
422 naming the field and changes nothing; answers stored by the earlier questionnaire still read."""
from __future__ import annotations

from sqlalchemy import update

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase

from .test_governance_api import intake

DOC = "Only reformats applications into one template; a recruiter reads every application."


def _put(client, headers, key, answers):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/usecases/{key}/eu-ai-act", json=answers, headers=headers)


def _controls(client, headers, key) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["id"] for c in client.get(f"/api/v1/usecases/{key}/controls", headers=headers).json()["controls"]}


def test_credit_scoring_5b_is_high_risk_raising_suggested_and_current_tier(client, admin) -> None:
    assert client.post("/api/v1/usecases", json=intake("credit"), headers=admin).status_code == 201
    before = client.get("/api/v1/usecases/credit", headers=admin).json()
    assert before["risk_tier"] == "low" and "TK-IMPACT-01" not in _controls(client, admin, "credit")
    r = _put(client, admin, "credit", {"annex_iii_points": ["5(b)"], "profiles_people": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["eu_category"] == "high_risk" and body["risk_tier"] == "high" and body["risk_tier_suggested"] == "high"
    assert [t["article"] for t in body["result"]["triggers"]] == ["AnnexIII.5(b)"]
    assert "Art.27" in body["result"]["obligations"] and body["result"]["tier_floor"] == "high"
    uc = client.get("/api/v1/usecases/credit", headers=admin).json()
    assert any("AnnexIII.5(b)" in reason for reason in uc["risk_tier_reasons"])
    controls = _controls(client, admin, "credit")
    assert {"TK-IMPACT-01", "TK-RMS-01", "TK-DOC-01"} <= controls and "TK-TRANS-01" not in controls
    # the fraud-detection exclusion of 5(b): no longer high-risk; the suggestion falls back to the factors' tier
    r = _put(client, admin, "credit", {"annex_iii_points": ["5(b)"], "financial_fraud_detection": True})
    assert r.json()["eu_category"] == "minimal_risk" and r.json()["risk_tier_suggested"] == "low"
    assert "financial fraud" in r.json()["result"]["notes"][0]


def test_art_6_3_derogation_needs_its_documentation_and_profiling_overrides_it(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("cv-format"), headers=admin)
    claim = {"annex_iii_points": ["4(a)"], "narrow_procedural_task": True, "no_significant_risk": True}
    r = _put(client, admin, "cv-format", claim)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "art_6_3_assessment"
    r = _put(client, admin, "cv-format", {**claim, "art_6_3_assessment": DOC})
    assert r.json()["eu_category"] == "minimal_risk" and r.json()["risk_tier"] == "low"
    assert r.json()["result"]["art_6_3_assessment"] == DOC and "Art.6(4)" in r.json()["result"]["obligations"]
    r = _put(client, admin, "cv-format", {**claim, "art_6_3_assessment": DOC, "profiles_people": True})
    assert r.json()["eu_category"] == "high_risk" and r.json()["risk_tier"] == "high"
    assert r.json()["result"]["triggers"][-1]["article"] == "Art.6(3)"


def test_prohibition_wins_and_transparency_stacks_with_its_control(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("bot"), headers=admin)
    r = _put(client, admin, "bot", {"interacts_with_people": True})
    assert r.json()["eu_category"] == "limited_risk" and r.json()["risk_tier"] == "low"
    assert "TK-TRANS-01" in _controls(client, admin, "bot")
    r = _put(client, admin, "bot", {"interacts_with_people": True, "annex_iii_points": ["5(d)"]})
    assert r.json()["eu_category"] == "high_risk" and "Art.50(1)" in r.json()["result"]["obligations"]
    assert "TK-TRANS-01" in _controls(client, admin, "bot")  # Art. 50 stacks on high risk
    r = _put(client, admin, "bot", {"exploits_vulnerabilities": True, "annex_iii_points": ["5(d)"],
                                    "annex_i_product": True, "annex_i_third_party_assessment": True})
    assert r.json()["eu_category"] == "prohibited" and r.json()["result"]["triggers"][0]["article"] == "Art.5(1)(b)"


def test_annex_i_product_and_gpai_systemic_risk_by_compute(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("model"), headers=admin)
    r = _put(client, admin, "model", {"annex_i_product": True, "annex_i_third_party_assessment": True})
    assert r.json()["eu_category"] == "high_risk" and r.json()["result"]["triggers"][0]["article"] == "Art.6(1)"
    r = client.post("/api/v1/governance/eu-ai-act/classify", headers=admin,
                    json={"is_gpai_model": True, "gpai_training_flops": 2.5e25})
    assert r.status_code == 200 and r.json()["gpai_systemic_risk"] is True
    assert r.json()["gpai_obligations"] == ["Art.52(1)", "Art.53", "Art.55"]
    r = _put(client, admin, "model", {"is_gpai_model": True, "gpai_training_flops": 9e24})
    assert r.json()["result"]["gpai_systemic_risk"] is False and r.json()["result"]["gpai_obligations"] == ["Art.53"]
    assert "TK-GPAI-01" in _controls(client, admin, "model")


def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(client, admin) -> None:
    client.post("/api/v1/usecases", json=intake("strict"), headers=admin)
    assert _put(client, admin, "strict", {"annex_iii_points": ["4(a)"]}).status_code == 200
    bad = [
        ({"annex_iii_points": ["5(z)"]}, "annex_iii_points"),
        ({"financial_fraud_detection": True}, "financial_fraud_detection"),
        ({"is_gpai_model": True, "gpai_training_flops": -1e20}, "gpai_training_flops"),
        ({"is_gpai_model": True, "gpai_training_flops": "lots"}, "gpai_training_flops"),
        ({"annex_iii_area": "employment"}, "annex_iii_area"),
        ({"narrow_procedural_task": True}, "narrow_procedural_task"),
    ]
    for answers, field in bad:
        for path, method in (("/api/v1/usecases/strict/eu-ai-act", "PUT"),
                             ("/api/v1/governance/eu-ai-act/classify", "POST")):
            r = client.request(method, path, json=answers, headers=admin)
            assert r.status_code == 422, (answers, r.text)
            # the field, or an item of it (annex_iii_points.0: the body is validated at the edge, issue 17.7)
            assert r.json()["error"]["details"][0]["field"].split(".")[0] == field and field in r.json()["error"]["message"]
    uc = client.get("/api/v1/usecases/strict", headers=admin).json()
    assert uc["eu_category"] == "high_risk" and uc["eu_answers"] == {"annex_iii_points": ["4(a)"]}


def test_a_classification_stored_by_the_earlier_questionnaire_still_reads(client, admin, factory, signin) -> None:
    client.post("/api/v1/usecases", json=intake("old"), headers=admin)
    legacy_result = {"category": "high_risk", "obligations": ["Art.4", "Art.9"], "gpai": False,
                     "gpai_systemic_risk": False, "gpai_obligations": [], "notes": [],
                     "triggers": [{"answer": "annex_iii_area", "article": "AnnexIII.4",
                                   "reason": "is used in the Annex III area employment"}]}
    with transaction(factory) as s:
        s.execute(update(UseCase).where(UseCase.key == "old").values(
            eu_answers={"annex_iii_area": "employment", "interacts_with_people": True}, eu_result=legacy_result,
            eu_category="high_risk", risk_tier="high"))
    got = client.get("/api/v1/usecases/old/eu-ai-act", headers=admin).json()
    assert got["result"] == legacy_result and got["answers_now"] == {"interacts_with_people": True}
    assert "4(a), 4(b)" in got["not_carried_over"][0]
    assert client.get("/api/v1/usecases/old/controls", headers=admin).json()["tier"] == "high"
    signin("admin")
    page = client.get("/usecases/old/governance")
    assert page.status_code == 200 and "AnnexIII.4: is used in the Annex III area employment" in page.text
    assert "choose its point (4(a), 4(b))" in page.text


def test_the_web_form_classifies_with_points_compute_and_assessment(client, admin, signin) -> None:
    client.post("/api/v1/usecases", json=intake("form"), headers=admin)
    csrf = signin("admin")
    r = client.post("/usecases/form/eu-ai-act", data={"csrf_token": csrf, "annex_iii_points": ["5(b)"],
                                                      "profiles_people": "on", "is_gpai_model": "on",
                                                      "gpai_training_flops": "10^26"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    uc = client.get("/api/v1/usecases/form", headers=admin).json()
    assert uc["eu_category"] == "high_risk" and uc["eu_result"]["gpai_systemic_risk"] is True
    assert uc["eu_answers"]["gpai_training_flops"] == 1e26
    page = client.get("/usecases/form/governance").text
    assert "AnnexIII.5(b)" in page and 'value="5(b)" checked' in page
    r = client.post("/usecases/form/eu-ai-act", data={"csrf_token": csrf, "annex_iii_points": ["4(a)"],
                                                      "preparatory_task": "on", "no_significant_risk": "on"})
    assert r.status_code == 422 and "art_6_3_assessment" in r.text
    r = client.post("/usecases/form/eu-ai-act", data={"csrf_token": csrf, "is_gpai_model": "on",
                                                      "gpai_training_flops": "many"})
    assert r.status_code == 422 and "gpai_training_flops" in r.text
    assert client.get("/api/v1/usecases/form", headers=admin).json()["eu_category"] == "high_risk"
