"""Default tier policies: approvers per tier, checklists that grow with risk, and policy validation."""

from __future__ import annotations

import copy

import pytest

from takeoff.governance.frameworks import load_controls
from takeoff.governance.policy_defaults import (
    DEFAULT_TIER_POLICIES,
    EVIDENCE_KINDS,
    default_tier_policy,
    validate_tier_policy,
)


def test_approver_roles_per_tier():
    assert default_tier_policy("low").approver_roles == ("product_owner",)
    assert default_tier_policy("medium").approver_roles == ("business_owner", "risk_partner")
    assert default_tier_policy("high").approver_roles == ("business_owner", "risk_partner", "security_partner")


def test_higher_tiers_require_strictly_more_evidence():
    low, medium, high = (default_tier_policy(t).mandatory_evidence for t in ("low", "medium", "high"))
    assert low < medium < high
    assert "eval_gate_passed" in low
    assert {"human_oversight", "data_sla_green", "incident_process"} <= medium
    assert {"audit_chain_verified", "access_least_privilege"} <= high


def test_checklist_evidence_kinds_are_known_and_controls_use_the_same_vocabulary():
    for tier in ("low", "medium", "high"):
        for item in default_tier_policy(tier).checklist:
            assert item.evidence_kind in EVIDENCE_KINDS
    assert {c.evidence_kind for c in load_controls()} <= set(EVIDENCE_KINDS)


def _policy():
    return copy.deepcopy(DEFAULT_TIER_POLICIES["medium"])


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda p: p.update(tier="extreme"), "tier must be one of"),
        (lambda p: p.update(approver_roles=[]), "non-empty list of roles"),
        (lambda p: p.update(approver_roles=["cfo"]), "unknown approver role 'cfo'"),
        (lambda p: p.update(approver_roles=["viewer"]), "viewer cannot approve"),
        (lambda p: p.update(approver_roles=["risk_partner", "risk_partner"]), "twice"),
        (lambda p: p.update(checklist=[]), "checklist must be a non-empty list"),
        (lambda p: p["checklist"].append(dict(p["checklist"][0])), "duplicate item id"),
        (lambda p: p["checklist"][0].update(evidence_kind="vibes"), "unknown evidence_kind 'vibes'"),
        (lambda p: p["checklist"][0].update(mandatory="yes"), "mandatory must be true or false"),
        (lambda p: p["checklist"][0].pop("title"), r"checklist\[0\]: missing title"),
        (lambda p: p.update(owner="me"), "unknown field 'owner'"),
        (lambda p: [i.update(mandatory=False) for i in p["checklist"]], "at least one checklist item"),
    ],
)
def test_invalid_policies_are_rejected(mutate, fragment):
    p = _policy()
    mutate(p)
    with pytest.raises(ValueError, match=fragment):
        validate_tier_policy(p)


def test_not_a_mapping():
    with pytest.raises(ValueError, match="must be a mapping"):
        validate_tier_policy(["low"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tier must be one of"):
        default_tier_policy("urgent")
