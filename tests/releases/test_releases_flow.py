"""A release from bundle to production and back: gate, approvals with separation of duties, canary, rollback."""
from __future__ import annotations

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase

from .conftest import cases, make_use_case


def _attest_missing(env, release_id: str) -> None:
    detail = env.client.get(f"/api/v1/releases/{release_id}", headers=env.engineer).json()
    for item in detail["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"] and item["evidence_kind"] != "eval_gate_passed":
            r = env.client.post(f"/api/v1/releases/{release_id}/attest",
                                json={"item_id": item["id"], "statement": "checked by hand"}, headers=env.engineer)
            assert r.status_code == 201, r.text


def _ship(env, release_id: str, approver: dict[str, str]) -> None:
    env.evaluate(release_id)
    assert env.client.get(f"/api/v1/releases/{release_id}", headers=env.engineer).json()["status"] == \
        "awaiting_approval"
    r = env.client.post(f"/api/v1/releases/{release_id}/approve", json={"comment": "ok"}, headers=approver)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    _attest_missing(env, release_id)


def test_release_lifecycle_to_production_and_rollback(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(20))
    r = env.release()
    assert r.status_code == 201, r.text
    rel = r.json()
    assert rel["id"] == "support-reply:1" and rel["status"] == "draft" and len(rel["content_hash"]) == 64
    owner = env.users.headers("product_owner")

    _ship(env, "support-reply:1", owner)
    detail = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert detail["gate"]["status"] == "pass" and detail["gate"]["ci_low"] > 0.5
    assert detail["policy_version"] is not None

    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "production"},
                        headers=env.engineer)
    assert r.status_code == 200, r.text
    active = env.client.get("/api/v1/usecases/support-reply/active", headers=env.engineer).json()
    assert [(x["release_id"], x["weight"]) for x in active["releases"]] == [("support-reply:1", 100)]
    assert active["releases"][0]["model"] == "gpt-4o-mini" and active["releases"][0]["prompt"] == "Be brief."

    r = env.release(parameters={"temperature": 0.7})
    assert r.json()["id"] == "support-reply:2"
    diff = {d["path"]: d for d in r.json()["diff"]}
    assert diff["parameters.temperature"]["old"] == 0.2 and diff["parameters.temperature"]["new"] == 0.7
    _ship(env, "support-reply:2", env.users.headers("product_owner"))
    cmp = env.client.get("/api/v1/releases/support-reply:2", headers=env.engineer).json()["comparison"]
    assert cmp["baseline"] == "support-reply:1" and cmp["n_regressions"] == 0 and cmp["unchanged_pass"] == 20
    r = env.client.post("/api/v1/releases/support-reply:2/promote", json={"to": "canary", "weight": 10},
                        headers=env.engineer)
    assert r.status_code == 200, r.text
    weights = {x["release_id"]: x["weight"] for x in r.json()["active"]["releases"]}
    assert weights == {"support-reply:1": 90, "support-reply:2": 10}
    r = env.client.post("/api/v1/releases/support-reply:2/promote", json={"to": "production"},
                        headers=env.engineer)
    assert r.status_code == 200, r.text
    assert env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["status"] == "superseded"

    r = env.client.post("/api/v1/usecases/support-reply/rollback", json={"reason": "quality dropped"},
                        headers=env.engineer)
    assert r.status_code == 200, r.text
    assert r.json()["serving"]["id"] == "support-reply:1"
    assert env.client.get("/api/v1/releases/support-reply:2", headers=env.engineer).json()["status"] == \
        "rolled_back"
    active = env.client.get("/api/v1/usecases/support-reply/active", headers=env.engineer).json()
    assert [x["release_id"] for x in active["releases"]] == ["support-reply:1"]


def test_approval_rules_author_twice_and_role(env, factory):
    make_use_case(factory, tier="medium")
    env.model(tiers=("low", "medium"))
    env.evalset("golden", cases(20))
    author = env.users.create("ai_engineer", "business_owner", username="author")
    author_h = {"Authorization": f"Bearer {env.users.token(author)}"}
    assert env.release(headers=author_h).status_code == 201
    env.evaluate("support-reply:1")
    r = env.client.post("/api/v1/releases/support-reply:1/approve", json={}, headers=author_h)
    assert r.status_code == 403 and "separation of duties" in r.json()["error"]["message"]
    both = env.users.headers("business_owner", "risk_partner")
    assert env.client.post("/api/v1/releases/support-reply:1/approve", json={}, headers=both).status_code == 200
    r = env.client.post("/api/v1/releases/support-reply:1/approve", json={}, headers=both)
    assert r.status_code == 409 and "already decided" in r.json()["error"]["message"]
    detail = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert detail["status"] == "awaiting_approval"  # one person filled one role; risk_partner still missing
    other_bo = env.users.headers("business_owner")
    r = env.client.post("/api/v1/releases/support-reply:1/approve", json={}, headers=other_bo)
    assert r.status_code == 403  # business_owner is filled; this person holds no open role
    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "production"},
                        headers=env.engineer)
    assert r.status_code == 409 and "risk_partner" in r.json()["error"]["message"]
    r = env.client.post("/api/v1/releases/support-reply:1/approve", json={}, headers=env.users.headers("risk_partner"))
    assert r.json()["status"] == "approved"


def test_reject_with_comment_ends_the_release(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(20))
    env.release()
    env.evaluate("support-reply:1")
    r = env.client.post("/api/v1/releases/support-reply:1/reject", json={"comment": "prompt leaks PII"},
                        headers=env.users.headers("product_owner"))
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["approvals"][0]["comment"] == "prompt leaks PII"


def test_failed_gate_blocks_promotion(env, factory):
    make_use_case(factory, min_rate=0.9)
    env.model()
    env.evalset("golden", cases(20, wrong=10))
    env.release()
    run = env.evaluate("support-reply:1")
    got = env.client.get(f"/api/v1/evalruns/{run['id']}", headers=env.engineer).json()
    assert got["gate"]["status"] == "fail" and got["summary"]["passed"] == 10
    rel = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert rel["status"] == "draft"
    fails = env.client.get(f"/api/v1/evalruns/{run['id']}/failures", headers=env.engineer).json()["items"]
    assert len(fails) == 10 and fails[0]["error_category"] == "wrong_answer" and fails[0]["expected"] == "nope"
    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "canary", "weight": 5},
                        headers=env.engineer)
    assert r.status_code == 409
    msg = r.json()["error"]["message"]
    assert "gate is fail" in msg and "product_owner" in msg


def test_model_not_approved_for_tier_is_refused(env, factory):
    make_use_case(factory, tier="high")
    env.model(tiers=("low",))
    env.evalset("golden", cases(3))
    r = env.release()
    assert r.status_code == 422
    assert "not for the use case's 'high' risk tier" in r.json()["error"]["message"]
    r = env.release(model="acme/unknown")
    assert r.status_code == 422 and "not in the catalog" in r.json()["error"]["message"]
    assert env.client.get("/api/v1/releases", headers=env.engineer).json()["items"] == []


def test_checklist_reads_evidence_and_attestation(env, factory):
    make_use_case(factory)
    env.model(fallback_model=None)
    env.evalset("golden", cases(20))
    env.release()
    cl = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["checklist"]
    by_kind = {i["evidence_kind"]: i for i in cl["items"]}
    assert by_kind["eval_gate_passed"]["status"] == "no evidence"
    assert by_kind["release_versioned"]["status"] == "pass"
    assert by_kind["owner_named"]["status"] == "fail"
    assert cl["policy_version"] in (0, 1)
    r = env.client.post("/api/v1/releases/support-reply:1/attest",
                        json={"item_id": by_kind["owner_named"]["id"], "statement": "owners named in the charter"},
                        headers=env.engineer)
    assert r.status_code == 201
    item = next(i for i in r.json()["items"] if i["evidence_kind"] == "owner_named")
    assert item["status"] == "attested" and "eng" in item["detail"]
    r = env.client.post("/api/v1/releases/support-reply:1/attest", json={"item_id": "CL-NOPE", "statement": "x y z"},
                        headers=env.engineer)
    assert r.status_code == 422


def test_export_rebuilds_an_identical_bundle(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(3))
    first = env.release(code_ref="abc123").json()
    exported = env.client.get("/api/v1/releases/support-reply:1/export", headers=env.engineer).json()
    assert exported["content_hash"] == first["content_hash"]
    r = env.client.post("/api/v1/releases", json=exported["create_request"], headers=env.engineer)
    assert r.status_code == 201, r.text
    assert r.json()["content_hash"] == first["content_hash"] and r.json()["version"] == 2


def test_a_tier_raised_after_creation_blocks_a_model_approved_only_for_the_old_tier(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(20))
    env.release()
    _ship(env, "support-reply:1", env.users.headers("product_owner"))
    with transaction(factory) as s:
        uc = s.query(UseCase).filter_by(key="support-reply").one()
        uc.risk_tier = "medium"
    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "production"},
                        headers=env.engineer)
    assert r.status_code == 409
    msg = r.json()["error"]["message"]
    assert "not for the use case's 'medium' risk tier" in msg and "business_owner" in msg


def test_a_run_cannot_swap_the_target_the_bundle_names(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(3))
    env.release()
    r = env.client.post("/api/v1/releases/support-reply:1/evaluate",
                        json={"target": {"type": "python", "ref": "somewhere:else"}}, headers=env.engineer)
    assert r.status_code == 422 and "fixes its eval target" in r.json()["error"]["message"]
    r = env.client.post("/api/v1/releases/support-reply:1/evaluate", json={"repeats": 3}, headers=env.engineer)
    assert r.status_code == 202 and r.json()["repeats"] == 3


def test_high_tier_release_reaches_production_and_canary(env, factory):
    """A high-tier release whose checklist verifies the audit chain is really promoted, not only audited as such
    (the chain walk once detached the release from the session, so its status change was never written)."""
    make_use_case(factory, tier="high")
    env.model(tiers=("low", "medium", "high"))
    env.evalset("golden", cases(20))
    assert env.release(safety={"output": [{"detector": "secrets", "action": "redact"}]}).status_code == 201
    env.evaluate("support-reply:1")
    for role in ("business_owner", "risk_partner", "security_partner"):
        r = env.client.post("/api/v1/releases/support-reply:1/approve", json={"comment": "ok"},
                            headers=env.users.headers(role))
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    _attest_missing(env, "support-reply:1")
    r = env.client.post("/api/v1/releases/support-reply:1/promote", json={"to": "production"}, headers=env.engineer)
    assert r.status_code == 200, r.text
    assert env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["status"] == "production"
    active = env.client.get("/api/v1/usecases/support-reply/active", headers=env.engineer).json()
    assert [x["release_id"] for x in active["releases"]] == ["support-reply:1"]
    audit = env.client.get("/api/v1/audit?object_id=support-reply:1", headers=env.admin).json()
    assert any(e["action"] == "release.production" for e in audit["items"]), audit
