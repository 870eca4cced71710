"""Risk tier suggestion, overrides with justification, and the EU AI Act floor."""

from __future__ import annotations

import pytest

from takeoff.portfolio.tiers import (
    MIN_JUSTIFICATION_CHARS,
    TIER_ORDER,
    apply_eu_floor,
    check_override,
    lowers_tier,
    suggest_tier,
    tier_floor_for_eu,
)

BASE = {"harm_if_wrong": 1, "decision_mode": "assist", "personal_data": False,
        "regulated_domain": False, "external_users": False}
JUSTIFY = "Outputs are reviewed by a licensed agent before anything reaches the customer."


def f(**kw):
    return {**BASE, **kw}


def test_tier_order():
    assert TIER_ORDER == ("low", "medium", "high")


def test_internal_assistant_with_limited_harm_is_low():
    s = suggest_tier(f(harm_if_wrong=2, personal_data=True))
    assert s.tier == "low"
    assert any("internal" in r for r in s.reasons)


def test_credit_decision_automation_is_high_with_reasons():
    s = suggest_tier(f(harm_if_wrong=5, decision_mode="automate", personal_data=True,
                       regulated_domain=True, external_users=True))
    assert s.tier == "high"
    assert "automates decisions on personal data in a regulated domain" in s.reasons


@pytest.mark.parametrize(
    "kw,tier",
    [
        ({"harm_if_wrong": 5}, "high"),
        ({"harm_if_wrong": 4, "decision_mode": "automate"}, "high"),
        ({"harm_if_wrong": 4, "regulated_domain": True}, "high"),
        ({"harm_if_wrong": 1, "decision_mode": "automate", "personal_data": True, "regulated_domain": True}, "high"),
        ({"harm_if_wrong": 4}, "medium"),
        ({"harm_if_wrong": 3}, "medium"),
        ({"decision_mode": "automate"}, "medium"),
        ({"regulated_domain": True}, "medium"),
        ({"personal_data": True, "external_users": True}, "medium"),
        ({"external_users": True}, "low"),
        ({"harm_if_wrong": 2}, "low"),
    ],
)
def test_rule_table(kw, tier):
    assert suggest_tier(f(**kw)).tier == tier


def test_reasons_name_every_rule_that_fired():
    s = suggest_tier(f(harm_if_wrong=3, decision_mode="automate", regulated_domain=True))
    assert s.tier == "medium"
    assert len(s.reasons) == 3


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"harm_if_wrong": 0}, "harm_if_wrong must be from 1 to 5"),
        ({"harm_if_wrong": 6}, "harm_if_wrong must be from 1 to 5"),
        ({"harm_if_wrong": "3"}, "harm_if_wrong must be an integer"),
        ({"harm_if_wrong": True}, "harm_if_wrong must be an integer"),
        ({"decision_mode": "decide"}, "decision_mode must be"),
        ({"personal_data": "no"}, "personal_data must be true or false"),
    ],
)
def test_bad_factors_raise_value_error(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        suggest_tier(f(**kw))


def test_missing_or_unknown_factor():
    with pytest.raises(ValueError, match="missing: external_users"):
        suggest_tier({k: v for k, v in BASE.items() if k != "external_users"})
    with pytest.raises(ValueError, match="unknown tier factor: mood"):
        suggest_tier({**BASE, "mood": "good"})
    with pytest.raises(ValueError, match="mapping"):
        suggest_tier(None)  # type: ignore[arg-type]


def test_lowers_tier():
    assert lowers_tier("high", "medium") is True
    assert lowers_tier("low", "high") is False
    assert lowers_tier("medium", "medium") is False
    with pytest.raises(ValueError, match="tier must be one of"):
        lowers_tier("high", "severe")


def test_override_needs_a_justification():
    with pytest.raises(ValueError, match=f"at least {MIN_JUSTIFICATION_CHARS} characters"):
        check_override("high", "medium", "trust me")
    with pytest.raises(ValueError, match="justification"):
        check_override("high", "medium", None)  # type: ignore[arg-type]
    o = check_override("high", "medium", JUSTIFY)
    assert o.lowers is True and o.chosen == "medium"
    assert check_override("low", "high", JUSTIFY).lowers is False


def test_eu_floor_forces_high():
    assert tier_floor_for_eu("prohibited") == "high"
    assert tier_floor_for_eu("high_risk") == "high"
    assert tier_floor_for_eu("limited_risk") == "low"
    assert tier_floor_for_eu(None) == "low"
    assert apply_eu_floor("low", "high_risk") == "high"
    assert apply_eu_floor("medium", "minimal_risk") == "medium"
    with pytest.raises(ValueError, match="EU AI Act category must be one of"):
        tier_floor_for_eu("unacceptable")


def test_override_cannot_go_below_the_eu_floor():
    with pytest.raises(ValueError, match="requires tier high"):
        check_override("high", "medium", JUSTIFY, eu_category="high_risk")
    assert check_override("high", "medium", JUSTIFY, eu_category="limited_risk").lowers
