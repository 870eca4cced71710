"""A release may carry a safety policy (issue 22): validated on create, part of the hashed bundle, handed to SDKs by
`active`, and from the high tier on the checklist requires output checks that no attestation can replace."""
from __future__ import annotations

from .conftest import cases, make_use_case

POLICY = {"input": [{"detector": "prompt_injection", "action": "block"}],
          "output": [{"detector": "secrets", "action": "redact"}], "fallback_answer": "Sorry, not this one."}


def _item(env, rid: str, item_id: str) -> dict:
    detail = env.client.get(f"/api/v1/releases/{rid}", headers=env.engineer).json()
    return next(i for i in detail["checklist"]["items"] if i["id"] == item_id)


def test_bad_policies_are_refused_naming_the_field(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(5))
    for bad, words in (({"output": [{"detector": "nope"}]}, "safety.output[0].detector: unknown detector"),
                       ({"input": [{"detector": "secrets", "threshold": 0}]}, "safety.input[0].threshold"),
                       ({"output": [{"detector": "json", "options": {"schema": {"oneOf": []}}}]}, "oneOf"),
                       ("block everything", "dictionary")):
        r = env.release(safety=bad)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["details"][0]["field"] == "safety" and words in r.text, r.text
    assert env.client.get("/api/v1/releases?use_case=support-reply", headers=env.engineer).json()["items"] == []


def test_policy_is_in_the_bundle_and_in_active(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(5))
    plain = env.release().json()
    assert "safety" not in plain["bundle"]  # no policy: the bundle (and its hash) is what it always was
    guarded = env.release(safety=POLICY).json()
    assert guarded["bundle"]["safety"] == POLICY and guarded["content_hash"] != plain["content_hash"]
    diff = env.client.get(f"/api/v1/releases/{guarded['id']}/diff/{plain['id']}", headers=env.engineer).json()
    assert any(row["path"].startswith("safety") for row in diff["changes"]), diff
    env.evaluate(guarded["id"])
    ok = env.client.post(f"/api/v1/releases/{guarded['id']}/approve", json={}, headers=env.users.headers("product_owner"))
    assert ok.status_code == 200, ok.text
    for item in env.client.get(f"/api/v1/releases/{guarded['id']}", headers=env.engineer).json()["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"]:
            a = env.client.post(f"/api/v1/releases/{guarded['id']}/attest",
                                json={"item_id": item["id"], "statement": "checked by hand"}, headers=env.engineer)
            assert a.status_code == 201, a.text
    r = env.client.post(f"/api/v1/releases/{guarded['id']}/promote", json={"to": "production"}, headers=env.engineer)
    assert r.status_code == 200, r.text
    active = env.client.get("/api/v1/usecases/support-reply/active", headers=env.engineer).json()
    assert active["releases"][0]["safety"] == POLICY


def test_high_tier_cannot_ship_without_output_checks(env, factory):
    make_use_case(factory, tier="high")
    env.model(tiers=("high",))
    env.evalset("golden", cases(20))
    rid = env.release().json()["id"]
    env.evaluate(rid)
    item = _item(env, rid, "CL-FILTERS")
    assert item["mandatory"] and item["status"] == "fail" and "no safety policy" in item["detail"]
    r = env.client.post(f"/api/v1/releases/{rid}/attest", json={"item_id": "CL-FILTERS", "statement": "trust me"},
                        headers=env.engineer)
    assert r.status_code == 409 and "not by attestation" in r.json()["error"]["message"]
    # a policy with input checks only is not enough: outputs must be checked
    rid2 = env.release(safety={"input": POLICY["input"]}).json()["id"]
    assert _item(env, rid2, "CL-FILTERS")["status"] == "fail"
    rid3 = env.release(safety=POLICY).json()["id"]
    passed = _item(env, rid3, "CL-FILTERS")
    assert passed["status"] == "pass" and "secrets (redact)" in passed["detail"]


def test_medium_tier_shows_the_item_without_requiring_it(env, factory):
    make_use_case(factory, tier="medium")
    env.model(tiers=("medium",))
    env.evalset("golden", cases(5))
    rid = env.release().json()["id"]
    item = _item(env, rid, "CL-FILTERS")
    assert not item["mandatory"] and item["status"] == "fail"


def test_high_tier_moderation_judge_must_fail_closed(env, factory):
    """A moderation judge in the request path of a high-risk use case may not let outputs through when it is down."""
    make_use_case(factory, tier="high")
    env.model(tiers=("high",))
    env.evalset("golden", cases(20))
    judge = {"detector": "moderation", "action": "block", "threshold": 0.7,
             "options": {"base_url": "https://moderation.example.com/v1", "timeout_s": 1.5}}
    bad = env.release(safety={"output": [{**judge, "options": {"base_url": "ftp://x", "timeout_s": 1}}]})
    assert bad.status_code == 422 and "safety.output[0].options.base_url" in bad.text, bad.text
    rid = env.release(safety={"output": [judge]}).json()["id"]
    item = _item(env, rid, "CL-FILTERS")
    assert item["status"] == "fail" and "fails open" in item["detail"], item
    rid2 = env.release(safety={"output": [judge], "on_error": "closed"}).json()["id"]
    assert _item(env, rid2, "CL-FILTERS")["status"] == "pass"
