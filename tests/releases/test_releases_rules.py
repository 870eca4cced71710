"""Pure release rules (bundle hash and diff, lifecycle, approver roles, promotion blockers) and inconclusive gates."""
from __future__ import annotations

import pytest

from takeoff.releases import bundle, lifecycle

from .conftest import cases, make_use_case


def test_bundle_hash_ignores_key_order_and_diff_reads_like_a_change_list():
    a = {"model": "openai/gpt-4o", "parameters": {"temperature": 0.2, "top_p": 1}, "prompts": {"system": "x"}}
    b = {"prompts": {"system": "x"}, "parameters": {"top_p": 1, "temperature": 0.2}, "model": "openai/gpt-4o"}
    assert bundle.content_hash(a) == bundle.content_hash(b)
    c = {**a, "parameters": {"temperature": 0.5}, "code_ref": "abc"}
    rows = {r["path"]: r for r in bundle.diff_bundles(a, c)}
    assert rows["parameters.temperature"] == {"path": "parameters.temperature", "change": "changed", "old": 0.2,
                                              "new": 0.5}
    assert rows["parameters.top_p"]["change"] == "removed" and rows["code_ref"]["change"] == "added"
    assert bundle.diff_bundles(a, b) == []
    with pytest.raises(ValueError):
        bundle.content_hash(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_lifecycle_moves():
    assert lifecycle.can_move("approved", "canary") and lifecycle.can_move("superseded", "production")
    assert not lifecycle.can_move("draft", "production") and not lifecycle.can_move("rejected", "draft")
    with pytest.raises(ValueError, match="unknown release status"):
        lifecycle.can_move("shipped", "draft")
    assert lifecycle.status_after_gate("fail", True) == "draft"
    assert lifecycle.status_after_gate("inconclusive", False) == "awaiting_approval"


def test_one_person_one_role_and_only_roles_they_hold():
    required = ["business_owner", "risk_partner"]
    assert lifecycle.choose_role(required, {}, ["risk_partner"]) == "risk_partner"
    assert lifecycle.choose_role(required, {"business_owner": "ann"}, ["business_owner", "risk_partner"]) == \
        "risk_partner"
    with pytest.raises(ValueError, match="hold none"):
        lifecycle.choose_role(required, {"risk_partner": "bo"}, ["viewer"])
    with pytest.raises(ValueError, match="already filled"):
        lifecycle.choose_role(required, {"risk_partner": "bo"}, ["risk_partner"], "risk_partner")
    assert lifecycle.choose_role(required, {}, ["admin"], "risk_partner") == "risk_partner"


def test_promotion_blockers_name_everything_missing():
    out = lifecycle.promotion_blockers("draft", "production", {"status": "fail", "blocks": True}, True,
                                       ["product_owner"], ["CL-MONITOR"])
    text = " | ".join(out)
    assert "only an approved release" in text and "gate is fail" in text
    assert "product_owner" in text and "CL-MONITOR" in text
    assert lifecycle.promotion_blockers("approved", "canary", {"status": "pass"}, True, [], []) == []
    assert "another eval set version" in lifecycle.promotion_blockers("approved", "canary", {"status": "pass"},
                                                                      False, [], [])[0]
    with pytest.raises(ValueError):
        lifecycle.promotion_blockers("approved", "staging", None, False, [], [])


def _set_inconclusive_blocks(env, value: bool) -> None:
    current = env.client.get("/api/v1/governance/policies/low", headers=env.admin).json()
    body = {k: current[k] for k in ("tier", "approver_roles", "checklist") if k in current}
    body["inconclusive_blocks"] = value
    r = env.client.put("/api/v1/governance/policies/low", json=body, headers=env.admin)
    assert r.status_code == 200, r.text


def test_inconclusive_gate_blocks_unless_the_policy_says_otherwise(env, factory):
    make_use_case(factory, min_rate=0.9)
    env.model()
    env.evalset("golden", cases(10))  # 10/10 passes, but the Wilson interval reaches down to ~72%
    env.release()
    env.evaluate("support-reply:1")
    r = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert r["gate"]["status"] == "inconclusive" and r["gate"]["ci_low"] < 0.9 < r["gate"]["ci_high"]
    assert r["status"] == "draft"
    _set_inconclusive_blocks(env, False)
    env.evaluate("support-reply:1")
    r = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert r["gate"]["status"] == "inconclusive" and r["status"] == "awaiting_approval"
    assert r["policy_version"] >= 2
    eval_item = next(i for i in r["checklist"]["items"] if i["evidence_kind"] == "eval_gate_passed")
    assert eval_item["status"] == "fail"  # inconclusive is never a silent pass
