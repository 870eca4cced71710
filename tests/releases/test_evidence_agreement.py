"""A release checklist and readiness judge every evidence kind they share the same way for one use case: both read
the one provider of the kind in the evidence registry (both backends)."""
from __future__ import annotations

from typing import Any

import pytest

from takeoff.evidence.registry import Evidence, evidence_kinds

from .conftest import cases, make_use_case

APPROVERS = {"low": ("product_owner",), "high": ("business_owner", "risk_partner", "security_partner")}


def _to_production(env, factory, tier: str) -> None:
    make_use_case(factory, tier=tier)
    env.model(tiers=("low", "medium", "high"))
    env.evalset("golden", cases(20))
    # the high tier requires output safety checks in the bundle (no attestation replaces them)
    safety = {"safety": {"output": [{"detector": "secrets", "action": "redact"}]}} if tier == "high" else {}
    assert env.release(notes="first release", **safety).status_code == 201
    env.evaluate("support-reply:1")
    for role in APPROVERS[tier]:
        r = env.client.post("/api/v1/releases/support-reply:1/approve", json={"comment": "ok"},
                            headers=env.users.headers(role))
        assert r.status_code == 200, r.text
    detail = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    for item in detail["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"]:
            r = env.client.post("/api/v1/releases/support-reply:1/attest",
                                json={"item_id": item["id"], "statement": "checked by hand"}, headers=env.engineer)
            assert r.status_code == 201, r.text
    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "production"}, headers=env.engineer)
    assert r.status_code == 200, r.text


def _judgements(env) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(checklist evidence by kind, readiness evidence by kind) for the production release of the use case."""
    cl = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["checklist"]
    checklist = {i["evidence_kind"]: i["evidence"] for i in cl["items"]}
    d = env.client.get("/api/v1/usecases/support-reply/readiness", headers=env.admin).json()
    ready = {k["kind"]: k for i in d["items"] for k in i["kinds"]} | d["blockers"]
    return checklist, ready


def _assert_agree(env) -> set[str]:
    checklist, ready = _judgements(env)
    shared = set(checklist) & set(ready)
    for kind in shared:
        assert (checklist[kind]["status"], checklist[kind]["detail"]) == (ready[kind]["status"], ready[kind]["detail"]), kind
    return shared


@pytest.mark.parametrize("tier", ["low", "high"])
def test_checklist_and_readiness_agree_on_every_shared_kind(env, factory, tier):
    _to_production(env, factory, tier)
    shared = _assert_agree(env)
    assert {"owner_named", "eval_gate_passed", "monitoring_configured", "fallback_defined", "usage_policy"} <= shared
    if tier == "high":
        assert {"audit_chain_verified", "data_sla_green", "access_least_privilege"} <= shared


def test_monitoring_and_usage_policy_mean_the_same_in_both(env, factory):
    """Once "any alert rule" for a release and "a quality and a cost rule" for readiness; the usage policy was live
    evidence for readiness and "no evidence" on the release page."""
    _to_production(env, factory, "low")
    r = env.client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "latency_p95",
                                                           "threshold": 2000}, headers=env.admin)
    assert r.status_code == 201, r.text
    checklist, ready = _judgements(env)
    for view in (checklist, ready):
        assert view["monitoring_configured"]["status"] == "fail"
        assert "no alert rule on a quality metric" in view["monitoring_configured"]["detail"]
        assert view["usage_policy"]["status"] == "fail"
    for metric in ("error_rate", "cost_per_task"):
        r = env.client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": metric,
                                                               "threshold": 1}, headers=env.admin)
        assert r.status_code == 201, r.text
    r = env.client.put("/api/v1/usecases/support-reply/usage-policy",
                       json={"approved_uses": ["draft replies"], "prohibited_uses": ["refunds"],
                             "trust_vs_verify": "verify amounts"}, headers=env.admin)
    assert r.status_code in (200, 201), r.text
    checklist, ready = _judgements(env)
    for view in (checklist, ready):
        assert view["monitoring_configured"]["status"] == "pass", view["monitoring_configured"]
        assert view["usage_policy"]["status"] == "pass" and view["usage_policy"]["link"] == "/outcomes/support-reply"
    cl = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["checklist"]
    usage = next(i for i in cl["items"] if i["evidence_kind"] == "usage_policy")
    assert usage["status"] == "pass" and "usage policy: 1 approved and 1 prohibited" in usage["detail"]
    _assert_agree(env)


def test_a_third_party_kind_is_one_provider_plus_one_checklist_line(env, factory):
    """Register a provider, name its kind in the tier policy's checklist: the release checklist judges it."""
    seen = []

    def pen_test(session, subject) -> Evidence:
        seen.append(subject.release.release_id if subject.release else None)
        return Evidence("pen_test_done", "fail", "no pen test report on file", "/security/pen-tests")

    evidence_kinds.provide("pen_test_done", pen_test, title="Pen test done", domain="acme")
    try:
        make_use_case(factory)
        env.model()
        env.evalset("golden", cases(5))
        assert env.release().status_code == 201
        current = env.client.get("/api/v1/governance/policies/low", headers=env.admin).json()
        body = {k: current[k] for k in ("approver_roles", "checklist")}
        body["checklist"].append({"id": "CL-PEN", "title": "Pen test done", "evidence_kind": "pen_test_done",
                                  "mandatory": True})
        r = env.client.put("/api/v1/governance/policies/low", json=body, headers=env.admin)
        assert r.status_code == 200, r.text
        cl = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["checklist"]
        pen = next(i for i in cl["items"] if i["id"] == "CL-PEN")
        assert pen["status"] == "fail" and pen["detail"] == "no pen test report on file"
        assert "CL-PEN" in cl["missing"] and seen == ["support-reply:1"]
    finally:
        evidence_kinds.remove("pen_test_done")


def test_an_item_without_evidence_reads_no_evidence_never_pass(env, factory):
    make_use_case(factory)  # no data source, no release in production
    d = env.client.get("/api/v1/usecases/support-reply/readiness", headers=env.admin).json()
    items = {i["item"]: i for i in d["items"]}
    for name in ("data_quality", "evaluation"):
        assert items[name]["status"] == "no_evidence" and items[name]["reason"].startswith("no evidence"), items[name]
    assert "no release is in production" in items["evaluation"]["reason"]
    assert d["verdict"]["ready"] is False and d["verdict"]["passed"] < 7
