from datetime import datetime, timezone

import pytest

from takeoff.portfolio.lifecycle import (
    TransitionError,
    allowed_targets,
    check_transition,
    make_transition,
)

OK = dict(has_business_owner=True, eu_category="minimal")


@pytest.mark.parametrize(
    "current, target",
    [
        ("discovered", "proposed"),
        ("discovered", "retired"),
        ("proposed", "pilot"),
        ("pilot", "production"),
        ("proposed", "paused"),
        ("pilot", "paused"),
        ("production", "paused"),
        ("proposed", "retired"),
        ("pilot", "retired"),
        ("production", "retired"),
        ("paused", "retired"),
    ],
)
def test_legal_transitions(current, target):
    assert check_transition(current, target, **OK) is None


@pytest.mark.parametrize(
    "current, target, message",
    [
        ("proposed", "production", "cannot move from proposed to production"),
        ("production", "pilot", "cannot move from production to pilot"),
        ("discovered", "pilot", "cannot move from discovered to pilot"),
        ("retired", "proposed", "final state"),
        ("pilot", "pilot", "already pilot"),
    ],
)
def test_illegal_transitions_raise_transition_error(current, target, message):
    with pytest.raises(TransitionError, match=message):
        check_transition(current, target, **OK)


def test_transition_error_is_a_value_error():
    assert issubclass(TransitionError, ValueError)


def test_production_requires_a_business_owner():
    with pytest.raises(TransitionError, match="named business owner"):
        check_transition("pilot", "production", has_business_owner=False, eu_category=None)
    assert "production" not in allowed_targets("pilot", has_business_owner=False, eu_category=None)


@pytest.mark.parametrize("category", ["prohibited", "Unacceptable risk", "unacceptable-risk"])
def test_prohibited_use_case_cannot_leave_proposed_except_to_stop(category):
    with pytest.raises(TransitionError, match="prohibited under the EU AI Act"):
        check_transition("proposed", "pilot", has_business_owner=True, eu_category=category)
    assert allowed_targets("proposed", has_business_owner=True, eu_category=category) == ["paused", "retired"]


def test_prohibited_pilot_cannot_reach_production_or_resume():
    with pytest.raises(TransitionError, match="prohibited"):
        check_transition("pilot", "production", has_business_owner=True, eu_category="prohibited")
    with pytest.raises(TransitionError, match="prohibited"):
        check_transition("paused", "pilot", has_business_owner=True, eu_category="prohibited", paused_from="pilot")


def test_paused_resumes_to_where_it_was_paused_from_or_pilot():
    assert allowed_targets("paused", paused_from="production", **OK) == ["pilot", "production", "retired"]
    assert allowed_targets("paused", paused_from="proposed", **OK) == ["proposed", "pilot", "retired"]
    assert allowed_targets("paused", **OK) == ["pilot", "retired"]
    with pytest.raises(TransitionError, match="paused from \\(pilot\\)"):
        check_transition("paused", "production", paused_from="pilot", **OK)


def test_resume_to_production_still_needs_an_owner():
    with pytest.raises(TransitionError, match="business owner"):
        check_transition("paused", "production", has_business_owner=False, eu_category=None, paused_from="production")


def test_retired_is_terminal():
    assert allowed_targets("retired", **OK) == []


def test_discovered_shadow_ai_may_be_registered_or_retired():
    assert allowed_targets("discovered", **OK) == ["proposed", "retired"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(current="live", target="pilot", has_business_owner=True, eu_category=None), "current status must be one of"),
        (dict(current="pilot", target="done", has_business_owner=True, eu_category=None), "target status must be one of"),
        (dict(current="paused", target="pilot", has_business_owner="yes", eu_category=None), "true or false"),
        (dict(current="pilot", target="paused", has_business_owner=True, eu_category=3), "eu_category"),
        (
            dict(current="paused", target="pilot", has_business_owner=True, eu_category=None, paused_from="retired"),
            "paused_from must be one of",
        ),
    ],
)
def test_bad_input_is_a_plain_value_error(kwargs, message):
    current = kwargs.pop("current")
    target = kwargs.pop("target")
    with pytest.raises(ValueError, match=message) as exc:
        check_transition(current, target, **kwargs)
    assert not isinstance(exc.value, TransitionError)


def test_make_transition_records_who_when_why_and_pause_origin():
    at = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
    t = make_transition("reply assist", "production", "paused", actor="dana", reason="vendor outage", at=at, **OK)
    assert (t.from_status, t.to_status, t.actor, t.reason, t.at) == ("production", "paused", "dana", "vendor outage", at)
    assert t.paused_from == "production"
    resumed = make_transition(
        "reply assist", "paused", "production", actor="dana", reason="vendor back", at=at, paused_from=t.paused_from, **OK
    )
    assert resumed.paused_from is None


def test_make_transition_needs_actor_and_reason():
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="who"):
        make_transition("x", "proposed", "pilot", actor="", reason="go", at=at, **OK)
    with pytest.raises(ValueError, match="why"):
        make_transition("x", "proposed", "pilot", actor="dana", reason="  ", at=at, **OK)
    with pytest.raises(TransitionError):
        make_transition("x", "proposed", "production", actor="dana", reason="go", at=at, **OK)
