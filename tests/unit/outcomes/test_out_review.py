import pytest

from takeoff.outcomes.review import UseCaseFacts, suggest_actions


def actions_of(actions, use_case):
    return [a.action for a in actions if a.use_case == use_case]


def test_quarterly_review_suggests_each_kind_of_action_with_reasons():
    facts = [
        UseCaseFacts("reply assist", "production", 51.2, adoption_trend=0.22),
        UseCaseFacts("invoice anomalies", "pilot", 12.0, adoption_trend=-0.1),
        UseCaseFacts("call summaries", "production", 38.4, guardrail_breaches=2),
        UseCaseFacts("credit decisions", "pilot", 30.0, incidents=1, audit_findings=2),
        UseCaseFacts("doc search", "production", 45.0, adoption_trend=0.02),
    ]
    actions = suggest_actions(facts)
    assert actions_of(actions, "reply assist") == ["scale"]
    assert actions_of(actions, "invoice anomalies") == ["retire"]
    assert actions_of(actions, "call summaries") == ["fix_guardrail"]
    assert actions_of(actions, "credit decisions") == ["revisit_governance"]
    assert actions_of(actions, "doc search") == ["keep"]
    # most urgent first
    assert [a.action for a in actions] == ["fix_guardrail", "revisit_governance", "retire", "scale", "keep"]
    gov = next(a for a in actions if a.action == "revisit_governance")
    assert any("1 incident" in r for r in gov.reasons) and any("2 audit finding(s) open during the quarter" in r for r in gov.reasons)
    retire = next(a for a in actions if a.action == "retire")
    assert any("priority 12.0 < 20" in r for r in retire.reasons)
    keep = next(a for a in actions if a.action == "keep")
    assert any("scale once adoption grows" in r for r in keep.reasons)


def test_a_top_performer_with_an_incident_is_not_scaled():
    actions = suggest_actions([UseCaseFacts("reply assist", "production", 60, incidents=1, adoption_trend=0.5)])
    assert actions_of(actions, "reply assist") == ["revisit_governance"]


def test_breaching_guardrails_blocks_scaling_and_gets_fixed():
    actions = suggest_actions([UseCaseFacts("x", "production", 60, guardrail_breaches=1, adoption_trend=0.5)])
    assert actions_of(actions, "x") == ["fix_guardrail"]


def test_low_impact_with_growing_adoption_is_not_retired():
    actions = suggest_actions([UseCaseFacts("x", "pilot", 15, adoption_trend=0.3)])
    assert actions_of(actions, "x") == ["keep"]


def test_retiring_replaces_fixing_guardrails():
    actions = suggest_actions([UseCaseFacts("x", "pilot", 8, guardrail_breaches=3)])
    assert actions_of(actions, "x") == ["retire"]
    assert any("retiring ends them" in r for r in actions[0].reasons)


def test_shadow_ai_found_in_telemetry_needs_governance():
    actions = suggest_actions([UseCaseFacts("gpt in spreadsheets", "discovered", 0)])
    assert actions_of(actions, "gpt in spreadsheets") == ["revisit_governance"]
    assert "shadow AI" in actions[0].reasons[0]


def test_retired_use_cases_get_no_action_and_empty_review_is_empty():
    assert suggest_actions([UseCaseFacts("old", "retired", 5)]) == []
    assert suggest_actions([]) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(use_case="x", status="live", priority_score=10), "status of 'x' must be one of"),
        (dict(use_case="x", status="pilot", priority_score=101), "from 0 to 100"),
        (dict(use_case="x", status="pilot", priority_score=-1), "from 0 to 100"),
        (dict(use_case="x", status="pilot", priority_score=10, incidents=-1), "incidents of 'x' must be a whole number"),
        (dict(use_case="x", status="pilot", priority_score=10, audit_findings=1.5), "audit_findings"),
        (dict(use_case="x", status="pilot", priority_score=10, adoption_trend=-2), "adoption_trend"),
        (dict(use_case="", status="pilot", priority_score=10), "use_case must be a non-empty name"),
    ],
)
def test_bad_facts_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UseCaseFacts(**kwargs)


def test_duplicate_or_wrong_items_are_refused():
    with pytest.raises(ValueError, match="appears twice"):
        suggest_actions([UseCaseFacts("x", "pilot", 10), UseCaseFacts("x", "pilot", 20)])
    with pytest.raises(ValueError, match="must be UseCaseFacts"):
        suggest_actions([{"use_case": "x"}])
