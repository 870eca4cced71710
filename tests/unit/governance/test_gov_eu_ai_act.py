"""EU AI Act classification, one case per path of the Act (Regulation 2024/1689), written from its text."""

from __future__ import annotations

import pytest

from takeoff.governance.eu_ai_act import (
    ANNEX_III_EXCLUSIONS,
    ANNEX_III_POINTS,
    ART_6_3_CONDITIONS,
    PROHIBITED_PRACTICES,
    AnswersError,
    EUAnswers,
    classify,
    upgrade_stored,
)
from takeoff.governance.frameworks import load_framework

DOC = {"art_6_3_assessment": "The tool only converts CVs into a common format; a recruiter reads every one."}


def _articles(result):
    return [t.article for t in result.triggers]


def test_nothing_flagged_is_minimal_risk():
    r = classify({})
    assert r.category == "minimal_risk" and r.triggers == () and r.obligations == ("Art.4",)
    assert r.tier_floor == "low" and r.gpai is False


# --- Article 5: prohibited practices, checked first -------------------------------------------------------------
@pytest.mark.parametrize("field,article", [(f, a) for f, (a, _) in PROHIBITED_PRACTICES.items()])
def test_each_prohibited_practice_maps_to_its_point(field, article):
    r = classify({field: True})
    assert r.category == "prohibited" and _articles(r) == [article] and r.tier_floor == "high"


def test_prohibition_wins_over_annex_iii_5b_and_annex_i():
    # social scoring (Art. 5(1)(c)) of credit applicants is prohibited even though credit scoring is Annex III 5(b)
    r = classify({"social_scoring": True, "annex_iii_points": ["5(b)"], "annex_i_product": True,
                  "annex_i_third_party_assessment": True})
    assert r.category == "prohibited" and _articles(r) == ["Art.5(1)(c)"]
    assert "Art.9" not in r.obligations and any("prohibited practice" in n for n in r.notes)


def test_5_1_f_emotion_recognition_at_work_except_for_medical_or_safety_reasons():
    assert classify({"emotion_recognition_work_education": True}).category == "prohibited"
    # "except where ... intended to be put in place or into the market for medical or safety reasons"
    r = classify({"emotion_recognition_work_education": True, "emotion_recognition_medical_or_safety": True,
                  "annex_iii_points": ["1(c)"]})
    assert r.category == "high_risk" and _articles(r) == ["AnnexIII.1(c)"]
    assert "Art.50(3)" in r.obligations  # the people exposed must be informed
    assert any("Art.5(1)(f) does not apply" in n for n in r.notes)


def test_5_1_h_realtime_remote_biometric_identification_and_its_exceptions():
    r = classify({"realtime_remote_biometric_id_law_enforcement": True})
    assert r.category == "prohibited" and r.triggers[0].article == "Art.5(1)(h)"
    # (h)(i): "the targeted search for specific victims of abduction, trafficking in human beings ..."
    r = classify({"realtime_remote_biometric_id_law_enforcement": True, "realtime_rbi_exception": "victim_search",
                  "annex_iii_points": ["1(a)"]})
    assert r.category == "high_risk" and _articles(r) == ["AnnexIII.1(a)"]
    assert any("Art.5(1)(h)(i)" in n and "Art.5(2)" in n for n in r.notes)


# --- Article 6(1): Annex I products ----------------------------------------------------------------------------
def test_6_1_annex_i_product_needing_third_party_assessment_is_high_risk():
    r = classify({"annex_i_product": True, "annex_i_third_party_assessment": True})
    assert r.category == "high_risk" and _articles(r) == ["Art.6(1)"]
    for n in range(9, 16):
        assert f"Art.{n}" in r.obligations


def test_6_1_needs_both_conditions():
    r = classify({"annex_i_product": True})
    assert r.category == "minimal_risk" and any("Art.6(1)(b)" in n for n in r.notes)


# --- Annex III at the level of its points ------------------------------------------------------------------------
@pytest.mark.parametrize("point", list(ANNEX_III_POINTS))
def test_every_annex_iii_point_is_high_risk_citing_its_point(point):
    r = classify({"annex_iii_points": [point]})
    assert r.category == "high_risk" and _articles(r) == [f"AnnexIII.{point}"]
    assert r.triggers[0].reason == ANNEX_III_POINTS[point] and r.annex_iii_points == (point,)


def test_5b_creditworthiness_is_high_risk_with_a_fundamental_rights_impact_assessment():
    r = classify({"annex_iii_points": ["5(b)"]})
    assert r.category == "high_risk" and "creditworthiness" in r.triggers[0].reason
    assert "Art.27" in r.obligations  # Art. 27(1): deployers of 5(b) and 5(c) systems
    assert "Art.27" in classify({"annex_iii_points": ["5(c)"]}).obligations
    assert "Art.27" not in classify({"annex_iii_points": ["4(a)"]}).obligations


def test_5b_excludes_systems_used_to_detect_financial_fraud():
    # "with the exception of AI systems used for the purpose of detecting financial fraud"
    r = classify({"annex_iii_points": ["5(b)"], "financial_fraud_detection": True})
    assert r.category == "minimal_risk" and r.annex_iii_points == ()
    assert any("AnnexIII.5(b) does not apply" in n and "financial fraud" in n for n in r.notes)


def test_4a_recruitment_and_selection_is_high_risk():
    r = classify({"annex_iii_points": ["4(a)"]})
    assert r.category == "high_risk" and "recruitment or selection" in r.triggers[0].reason


@pytest.mark.parametrize("field", list(ANNEX_III_EXCLUSIONS))
def test_each_exclusion_lifts_only_its_own_point(field):
    point = ANNEX_III_EXCLUSIONS[field][0]
    assert classify({"annex_iii_points": [point], field: True}).category == "minimal_risk"
    other = "2" if point != "2" else "3(a)"
    r = classify({"annex_iii_points": [point, other], field: True})
    assert r.category == "high_risk" and _articles(r) == [f"AnnexIII.{other}"]


# --- Article 6(3): the derogation, its documentation and profiling ------------------------------------------------
@pytest.mark.parametrize("condition", list(ART_6_3_CONDITIONS))
def test_6_3_condition_without_significant_risk_is_not_high_risk_and_needs_documentation(condition):
    r = classify({"annex_iii_points": ["4(a)"], condition: True, "no_significant_risk": True, **DOC})
    assert r.category == "minimal_risk"
    assert _articles(r) == [ART_6_3_CONDITIONS[condition][0]]
    assert "Art.6(4)" in r.obligations and r.art_6_3_assessment == DOC["art_6_3_assessment"]
    assert r.tier_floor == "low"


def test_6_3_always_high_risk_when_the_system_profiles_natural_persons():
    r = classify({"annex_iii_points": ["4(a)"], "preparatory_task": True, "no_significant_risk": True,
                  "profiles_people": True, **DOC})
    assert r.category == "high_risk" and _articles(r) == ["AnnexIII.4(a)", "Art.6(3)"]
    assert "profiles natural persons" in r.triggers[-1].reason


def test_6_3_condition_with_a_significant_risk_stays_high_risk():
    r = classify({"annex_iii_points": ["3(b)"], "narrow_procedural_task": True, **DOC})
    assert r.category == "high_risk" and r.triggers[-1].answer == "no_significant_risk"


def test_6_3_documentation_is_required_when_claimed():
    with pytest.raises(AnswersError) as exc:
        classify({"annex_iii_points": ["4(a)"], "narrow_procedural_task": True, "no_significant_risk": True})
    assert exc.value.field == "art_6_3_assessment"
    with pytest.raises(AnswersError):
        classify({"annex_iii_points": ["4(a)"], "narrow_procedural_task": True, "art_6_3_assessment": "   "})


def test_6_3_does_not_lift_an_annex_i_product():
    r = classify({"annex_i_product": True, "annex_i_third_party_assessment": True, "annex_iii_points": ["2"],
                  "narrow_procedural_task": True, "no_significant_risk": True, **DOC})
    assert r.category == "high_risk" and _articles(r) == ["Art.6(1)"] and "Art.6(4)" in r.obligations


# --- Article 50: transparency stacks on any outcome ---------------------------------------------------------------
def test_each_art_50_duty_alone_is_limited_risk():
    r = classify({"interacts_with_people": True, "generates_synthetic_content": True,
                  "emotion_recognition_or_biometric_categorisation": True, "deep_fake": True,
                  "public_interest_text": True})
    assert r.category == "limited_risk"
    assert _articles(r) == ["Art.50(1)", "Art.50(2)", "Art.50(3)", "Art.50(4)", "Art.50(4)"]
    assert r.obligations == ("Art.4", "Art.50(1)", "Art.50(2)", "Art.50(3)", "Art.50(4)")


def test_transparency_stacks_on_high_risk_and_on_the_6_3_derogation():
    r = classify({"annex_iii_points": ["5(b)"], "interacts_with_people": True})
    assert r.category == "high_risk" and "Art.50(1)" in r.obligations and [t.article for t in r.transparency] == [
        "Art.50(1)"]
    r = classify({"annex_iii_points": ["5(b)"], "narrow_procedural_task": True, "no_significant_risk": True,
                  "deep_fake": True, **DOC})
    assert r.category == "limited_risk" and "Art.50(4)" in r.obligations and "Art.6(4)" in r.obligations


def test_public_interest_text_under_editorial_responsibility_needs_no_disclosure():
    r = classify({"public_interest_text": True, "public_interest_text_editorial_control": True})
    assert r.category == "minimal_risk" and any("editorial" in n for n in r.notes)


def test_biometric_categorisation_point_implies_the_art_50_3_disclosure():
    r = classify({"annex_iii_points": ["1(b)"]})
    assert [t.article for t in r.transparency] == ["Art.50(3)"]


# --- General-purpose AI models ------------------------------------------------------------------------------------
def test_gpai_model_has_art_53_duties():
    r = classify({"is_gpai_model": True})
    assert r.gpai and not r.gpai_systemic_risk and r.gpai_obligations == ("Art.53",)


@pytest.mark.parametrize("flops,systemic", [(1e25, False), (1.0000001e25, True), (3e25, True), (0, False),
                                            (10**26, True)])
def test_gpai_systemic_risk_above_10_to_the_25_flops(flops, systemic):
    # Art. 51(2): "greater than 10^25"
    r = classify({"is_gpai_model": True, "gpai_training_flops": flops})
    assert r.gpai_systemic_risk is systemic
    assert ("Art.55" in r.gpai_obligations) is systemic
    if systemic:
        assert "Art.51(2)" in [t.article for t in r.gpai_triggers] and "Art.52(1)" in r.gpai_obligations


def test_gpai_systemic_risk_on_commission_designation():
    r = classify({"is_gpai_model": True, "gpai_training_flops": 1e22, "gpai_designated_systemic_risk": True,
                  "annex_iii_points": ["3(a)"]})
    assert r.category == "high_risk" and r.gpai_systemic_risk
    assert r.gpai_obligations == ("Art.53", "Art.55") and "Art.51(1)(b)" in [t.article for t in r.gpai_triggers]


def test_free_open_source_gpai_without_systemic_risk_keeps_only_copyright_and_summary():
    r = classify({"is_gpai_model": True, "gpai_free_open_source": True})
    assert r.gpai_obligations == ("Art.53(1)(c)", "Art.53(1)(d)")
    r = classify({"is_gpai_model": True, "gpai_free_open_source": True, "gpai_training_flops": 2e25})
    assert "Art.55" in r.gpai_obligations  # the open-source exception does not cover systemic risk


# --- every citation exists; bad input names its field ------------------------------------------------------------
def test_every_article_the_classifier_cites_exists_in_the_eu_framework():
    eu = load_framework("eu-ai-act-2024-1689")
    cases = [{f: True} for f in PROHIBITED_PRACTICES] + [{"annex_iii_points": [p]} for p in ANNEX_III_POINTS] + [
        {"annex_iii_points": ["4(a)"], "preparatory_task": True, "profiles_people": True, **DOC},
        {"annex_iii_points": ["4(a)"], "preparatory_task": True, "no_significant_risk": True, "deep_fake": True,
         **DOC},
        {"annex_i_product": True, "annex_i_third_party_assessment": True, "interacts_with_people": True,
         "is_gpai_model": True, "gpai_training_flops": 5e25, "gpai_high_impact_capabilities": True},
        {"is_gpai_model": True, "gpai_free_open_source": True, "public_interest_text": True},
    ]
    for answers in cases:
        r = classify(answers)
        cited = [*r.obligations, *r.gpai_obligations, *_articles(r), *(t.article for t in r.transparency),
                 *(t.article for t in r.gpai_triggers)]
        for art in cited:
            assert eu.has_item(art), (answers, art)


@pytest.mark.parametrize(
    "answers,field",
    [
        ({"annex_iii_points": ["9(a)"]}, "annex_iii_points"),
        ({"annex_iii_points": "5(b)"}, "annex_iii_points"),
        ({"annex_iii_points": ["5(b)", "5(b)"]}, "annex_iii_points"),
        ({"social_scoring": "yes"}, "social_scoring"),
        ({"is_a_robot": True}, "is_a_robot"),
        ({"is_gpai_model": True, "gpai_training_flops": -1}, "gpai_training_flops"),
        ({"is_gpai_model": True, "gpai_training_flops": True}, "gpai_training_flops"),
        ({"gpai_training_flops": 3e25}, "gpai_training_flops"),
        ({"gpai_designated_systemic_risk": True}, "gpai_designated_systemic_risk"),
        ({"financial_fraud_detection": True}, "financial_fraud_detection"),
        ({"annex_iii_points": ["4(a)"], "financial_fraud_detection": True}, "financial_fraud_detection"),
        ({"narrow_procedural_task": True, **DOC}, "narrow_procedural_task"),
        ({"annex_i_third_party_assessment": True}, "annex_i_third_party_assessment"),
        ({"emotion_recognition_medical_or_safety": True}, "emotion_recognition_medical_or_safety"),
        ({"realtime_rbi_exception": "victim_search"}, "realtime_rbi_exception"),
        ({"realtime_remote_biometric_id_law_enforcement": True, "realtime_rbi_exception": "curiosity"},
         "realtime_rbi_exception"),
        ({"crime_prediction_profiling": True, "annex_iii_points": ["6(d)"]}, "annex_iii_points"),
        ({"public_interest_text_editorial_control": True}, "public_interest_text_editorial_control"),
        ({"annex_iii_area": "employment"}, "annex_iii_area"),
    ],
)
def test_bad_or_contradictory_answers_name_the_field(answers, field):
    with pytest.raises(AnswersError) as exc:
        classify(answers)
    assert exc.value.field == field and field in str(exc.value)


def test_typed_answers_are_checked_too():
    assert classify(EUAnswers(annex_iii_points=["7(d)"])).category == "high_risk"
    with pytest.raises(AnswersError):
        classify(EUAnswers(financial_fraud_detection=True))


def test_non_mapping_answers_are_rejected():
    with pytest.raises(AnswersError, match="mapping"):
        classify(["social_scoring"])  # type: ignore[arg-type]


def test_stored_answers_of_the_earlier_questionnaire_are_read_in_todays_shape():
    answers, left = upgrade_stored({"annex_iii_area": "employment", "annex_i_product": True,
                                    "deepfake_or_public_interest_text": True, "interacts_with_people": True})
    assert answers == {"annex_i_product": True, "annex_i_third_party_assessment": True,
                       "interacts_with_people": True}
    assert any("4(a), 4(b)" in x for x in left) and any("deep fake" in x for x in left)
    assert classify(answers).category == "high_risk"  # the Annex I answer kept its meaning
    answers, left = upgrade_stored({"annex_iii_area": "critical_infrastructure"})
    assert answers == {"annex_iii_points": ["2"]} and left == ()
