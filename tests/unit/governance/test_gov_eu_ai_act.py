"""EU AI Act classification: order of checks, Art. 6(3) exemptions and profiling, Art. 50, GPAI and bad answers."""

from __future__ import annotations

import pytest

from takeoff.governance.eu_ai_act import (
    ANNEX_III_AREAS,
    PROHIBITED_PRACTICES,
    EUAnswers,
    classify,
)
from takeoff.governance.frameworks import load_framework


def _articles(result):
    return [t.article for t in result.triggers]


def test_nothing_flagged_is_minimal_risk():
    r = classify({})
    assert r.category == "minimal_risk"
    assert r.triggers == ()
    assert r.obligations == ("Art.4",)
    assert r.gpai is False


def test_prohibited_beats_annex_iii():
    r = classify({"social_scoring": True, "annex_iii_area": "essential_services"})
    assert r.category == "prohibited"
    assert _articles(r) == ["Art.5(1)(c)"]
    assert "Art.9" not in r.obligations


def test_prohibited_beats_annex_i_and_transparency():
    r = classify({"manipulative_techniques": True, "annex_i_product": True, "interacts_with_people": True})
    assert r.category == "prohibited"


@pytest.mark.parametrize("field,article", [(f, a) for f, (a, _) in PROHIBITED_PRACTICES.items()])
def test_each_prohibited_practice_maps_to_its_point(field, article):
    r = classify({field: True})
    assert r.category == "prohibited"
    assert _articles(r) == [article]


def test_5_1_h_is_realtime_remote_biometric_identification_for_law_enforcement():
    r = classify({"realtime_remote_biometric_id_law_enforcement": True})
    assert r.category == "prohibited"
    assert r.triggers[0].article == "Art.5(1)(h)"
    assert "real time" in r.triggers[0].reason and "law enforcement" in r.triggers[0].reason
    # informing people about biometric categorisation is an Art. 50(3) duty, not a prohibition
    r50 = classify({"emotion_recognition_or_biometric_categorisation": True})
    assert r50.category == "limited_risk" and _articles(r50) == ["Art.50(3)"]
    # sensitive-trait biometric categorisation is point (g), not (h)
    assert classify({"biometric_categorisation_sensitive": True}).triggers[0].article == "Art.5(1)(g)"


def test_annex_iii_area_is_high_risk_with_arts_9_to_15():
    r = classify({"annex_iii_area": "employment"})
    assert r.category == "high_risk"
    assert _articles(r) == ["AnnexIII.4"]
    for n in range(9, 16):
        assert f"Art.{n}" in r.obligations


@pytest.mark.parametrize(
    "exemption",
    ["narrow_procedural_task", "improves_completed_human_activity",
     "detects_patterns_without_replacing_review", "preparatory_task"],
)
def test_annex_iii_with_an_art_6_3_exemption_is_not_high_risk(exemption):
    r = classify({"annex_iii_area": "education", exemption: True})
    assert r.category == "minimal_risk"
    assert "Art.6(4)" in r.obligations
    assert r.notes and "Art. 6(4)" in r.notes[0]


def test_exemption_does_not_apply_when_the_system_profiles_people():
    r = classify({"annex_iii_area": "employment", "preparatory_task": True, "profiles_people": True})
    assert r.category == "high_risk"
    assert _articles(r) == ["AnnexIII.4", "Art.6(3)"]


def test_exempted_annex_iii_system_with_transparency_duty_is_limited_risk():
    r = classify({"annex_iii_area": "essential_services", "narrow_procedural_task": True,
                  "interacts_with_people": True})
    assert r.category == "limited_risk"
    assert "Art.50(1)" in r.obligations


def test_profiling_alone_without_annex_iii_is_not_high_risk():
    assert classify({"profiles_people": True}).category == "minimal_risk"


def test_annex_i_product_is_high_risk_even_with_annex_iii_exemption():
    assert classify({"annex_i_product": True}).category == "high_risk"
    r = classify({"annex_i_product": True, "annex_iii_area": "biometrics", "narrow_procedural_task": True})
    assert r.category == "high_risk"
    assert _articles(r)[0] == "Art.6(1)"


def test_high_risk_keeps_transparency_duties():
    r = classify({"annex_iii_area": "law_enforcement", "generates_synthetic_content": True})
    assert r.category == "high_risk"
    assert "Art.50(2)" in r.obligations


def test_each_art_50_trigger_makes_limited_risk():
    r = classify({"interacts_with_people": True, "generates_synthetic_content": True,
                  "emotion_recognition_or_biometric_categorisation": True,
                  "deepfake_or_public_interest_text": True})
    assert r.category == "limited_risk"
    assert _articles(r) == ["Art.50(1)", "Art.50(2)", "Art.50(3)", "Art.50(4)"]


def test_gpai_is_flagged_separately_from_the_category():
    r = classify({"is_gpai_model": True})
    assert r.category == "minimal_risk"
    assert r.gpai is True and r.gpai_obligations == ("Art.53",)
    r2 = classify({"is_gpai_model": True, "gpai_systemic_risk": True, "annex_iii_area": "education"})
    assert r2.category == "high_risk"
    assert r2.gpai_systemic_risk is True and r2.gpai_obligations == ("Art.53", "Art.55")


def test_every_article_the_classifier_cites_exists_in_the_eu_framework():
    eu = load_framework("eu-ai-act-2024-1689")
    cases = [{f: True} for f in PROHIBITED_PRACTICES] + [
        {"annex_iii_area": a} for a in ANNEX_III_AREAS
    ] + [
        {"annex_iii_area": "employment", "preparatory_task": True, "profiles_people": True},
        {"annex_iii_area": "employment", "preparatory_task": True, "deepfake_or_public_interest_text": True},
        {"annex_i_product": True, "interacts_with_people": True, "is_gpai_model": True, "gpai_systemic_risk": True},
    ]
    for answers in cases:
        r = classify(answers)
        for art in [*r.obligations, *r.gpai_obligations, *_articles(r)]:
            assert eu.has_item(art), (answers, art)


def test_typed_answers_are_accepted():
    assert classify(EUAnswers(annex_iii_area="migration_border")).category == "high_risk"


@pytest.mark.parametrize(
    "answers,fragment",
    [
        ({"annex_iii_area": "healthcare"}, "annex_iii_area"),
        ({"social_scoring": "yes"}, "social_scoring"),
        ({"is_a_robot": True}, "is_a_robot"),
        ({"gpai_systemic_risk": True}, "is_gpai_model"),
    ],
)
def test_bad_answers_raise_value_error_naming_the_field(answers, fragment):
    with pytest.raises(ValueError, match=fragment):
        classify(answers)


def test_non_mapping_answers_are_rejected():
    with pytest.raises(ValueError, match="mapping"):
        classify(["social_scoring"])  # type: ignore[arg-type]
