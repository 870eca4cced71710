"""The seven readiness items as pure rules: each status with its reason, missing capabilities, the verdict."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from takeoff.readiness import checks as c

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def ready() -> c.ReadinessEvidence:
    return c.ReadinessEvidence(
        use_case="support-reply", risk_tier="medium", now=NOW,
        data_quality=c.DataQuality("pass", ["source tickets: owner dana, 3 checks green"]),
        ownership=c.Ownership("olivia", "handle time", ["olivia"]),
        evaluation=c.Evaluation(1, "support-reply:2", {"status": "pass", "pass_rate": 0.93}),
        monitoring=c.Monitoring(NOW - timedelta(minutes=5), True, True, 1, 1),
        security=c.Security({"admin": 1, "ai_engineer": 2}, 3, 3, 120, None),
        change_management=c.ChangeManagement(True, True, 12),
        fallbacks=c.Fallbacks(["small-model"], 4))


def by_item(ev: c.ReadinessEvidence) -> dict[str, c.ItemResult]:
    return {i.item: i for i in c.evaluate(ev)}


def test_all_evidence_green_is_ready_to_scale():
    items = c.evaluate(ready())
    assert [i.item for i in items] == list(c.ITEMS)
    assert all(i.status == "pass" for i in items)
    v = c.verdict(items)
    assert v.ready and v.label == "ready to scale" and v.passed == 7
    assert {i.gap for i in items} == set(c.GAPS)


def test_owner_not_accountable_fails_ownership():
    r = by_item(replace(ready(), ownership=c.Ownership("olivia", "handle time", ["sam"])))["decision_ownership"]
    assert r.status == "fail" and "not accountable" in r.reason
    r = by_item(replace(ready(), ownership=c.Ownership(None, "handle time", [])))["decision_ownership"]
    assert r.status == "fail" and "no business owner" in r.reason
    r = by_item(replace(ready(), ownership=c.Ownership("olivia", None, [])))["decision_ownership"]
    assert r.status == "fail" and "north-star" in r.reason


def test_missing_capability_is_no_evidence_naming_it():
    ev = replace(ready(), monitoring=c.Missing("takeoff.telemetry.service.last_event_at"))
    r = by_item(ev)["monitoring"]
    assert r.status == "no_evidence" and "takeoff.telemetry.service.last_event_at" in r.reason
    v = c.verdict(c.evaluate(ev))
    assert not v.ready and any("Monitoring" in x for x in v.reasons)  # monitoring is mandatory for medium


def test_stale_telemetry_and_missing_alert_rules_fail_monitoring():
    r = by_item(replace(ready(), monitoring=c.Monitoring(NOW - timedelta(hours=30), True, True, 1, 0)))["monitoring"]
    assert r.status == "fail" and "more than 24 h" in r.reason and "cost metric" in r.reason


def test_gate_failing_and_no_release():
    r = by_item(replace(ready(), evaluation=c.Evaluation(1, "support-reply:2", {"status": "inconclusive"})))["evaluation"]
    assert r.status == "fail" and "inconclusive" in r.reason
    r = by_item(replace(ready(), evaluation=c.Evaluation(0, None, None)))["evaluation"]
    assert r.status == "fail" and "no eval set" in r.reason


def test_security_needs_least_privilege_expiring_tokens_and_verified_chain():
    r = by_item(replace(ready(), security=c.Security({"admin": 3}, 2, 1, 10, "entry 4 hash mismatch")))["security"]
    assert r.status == "fail"
    assert "every active user is an admin" in r.reason and "1 of 2" in r.reason and "entry 4" in r.reason


def test_fallback_defined_but_never_exercised_fails():
    r = by_item(replace(ready(), fallbacks=c.Fallbacks(["small-model"], 0)))["fallbacks"]
    assert r.status == "fail" and "never exercised" in r.reason


def test_verdict_needs_most_items_and_every_mandatory_one():
    # Low tier: fallbacks is not mandatory, so one failing optional item still leaves it ready.
    low = replace(ready(), risk_tier="low", fallbacks=c.Fallbacks([], 0))
    assert c.verdict(c.evaluate(low)).ready
    # Medium tier makes fallbacks mandatory.
    assert not c.verdict(c.evaluate(replace(low, risk_tier="medium"))).ready
    # Four non-mandatory failures on low tier: most items do not pass.
    many = replace(low, data_quality=c.DataQuality("fail", ["x"]), security=c.Security({"admin": 1}, 0, 0, 1, None),
                   change_management=c.ChangeManagement(False, False, 0))
    v = c.verdict(c.evaluate(many))
    assert not v.ready and "only 3 of 7" in v.reasons[-1]


def test_tier_policy_evidence_kinds_decide_mandatory_items():
    assert c.mandatory_items("low", ["owner_named", "fallback_defined"]) == {"decision_ownership", "fallbacks"}
    assert c.mandatory_items(None) == frozenset(c.ITEMS)
    with pytest.raises(ValueError, match="risk tier"):
        c.mandatory_items("extreme")


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError):
        c.evaluate("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        c.verdict([])


def test_open_critical_audit_finding_blocks_the_verdict():
    items = c.evaluate(ready())
    v = c.verdict(items, ["Declines are not reviewed by a person"])
    assert not v.ready and "open critical audit finding: Declines are not reviewed by a person" in v.reasons
    assert c.verdict(items, []).ready
    unknown = c.verdict(items, c.Missing("takeoff.findings.service.open_critical"))
    assert unknown.ready and any("audit findings unknown" in r for r in unknown.reasons)
    with pytest.raises(ValueError):
        c.verdict(items, "a title")  # type: ignore[arg-type]
