"""Review over HTTP on both backends: queues validate, rules sample, reviewers claim/skip/review, scores reach the
request and the rollups, agreement shows, violations are resolved by review and by incident, permissions hold."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from takeoff.core.db import transaction
from takeoff.telemetry.compaction import compact_all
from tests.review.conftest import RUBRIC


def _field(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.json()["error"]["details"][0]["field"]


def test_bad_queues_name_the_field(client, admin, traffic):  # type: ignore[no-untyped-def]
    base = {"use_case": traffic["use_case"], "name": "q", "rubric": RUBRIC}
    cases = [
        ({"name": "Bad Name"}, "name"),
        ({"rubric": {"scores": [{"name": "x", "min": 5, "max": 1}]}}, "rubric.scores[0].max"),
        ({"rubric": {"scores": [{"name": "x", "min": 1, "max": 5}, {"name": "x", "min": 0, "max": 1}]}},
         "rubric.scores[1].name"),
        ({"rubric": {"scores": [], "labels": []}}, "rubric.scores"),
        ({"rubric": {"labels": ["ok", "ok"]}}, "rubric.labels[1]"),
        ({"rules": [{"kind": "errors"}, {"kind": "everything"}]}, "rules[1].kind"),
        ({"rules": [{"kind": "traffic", "share": 0}]}, "rules[0].share"),
        ({"rules": [{"kind": "low_rated", "max_rating": 5}]}, "rules[0].max_rating"),
    ]
    for change, field in cases:
        r = client.post("/api/v1/review/queues", json={**base, **change}, headers=admin)
        assert r.status_code == 422 and _field(r) == field, (change, r.text)
    r = client.post("/api/v1/review/queues", json={**base, "reviews_per_item": 9}, headers=admin)
    assert r.status_code == 422 and "reviews_per_item" in r.text
    assert client.get("/api/v1/review/queues", headers=admin).json() == {"queues": []}  # nothing half-written
    assert client.post("/api/v1/review/queues", json={**base, "use_case": "nope"}, headers=admin).status_code == 404
    assert client.post("/api/v1/review/queues", json=base, headers=admin).status_code == 201
    assert client.post("/api/v1/review/queues", json=base, headers=admin).status_code == 409


def test_rules_sample_the_matching_requests_once(client, admin, queue):  # type: ignore[no-untyped-def]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = client.post(f"/api/v1/review/queues/{queue['id']}/sample", json={"since": since}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 4 and r.json()["by_rule"] == {"errors": 1, "fallbacks": 1, "violations": 1,
                                                               "low_rated": 1}
    items = client.get(f"/api/v1/review/queues/{queue['id']}/items", headers=admin).json()["items"]
    assert sorted(i["request_id"] for i in items) == ["r4", "r5", "r6", "r7"]
    again = client.post(f"/api/v1/review/queues/{queue['id']}/sample", json={"since": since}, headers=admin).json()
    assert again["added"] == 0  # already queued
    # the periodic run reads from its cursor (the first: the last day) and finds nothing new either
    r = client.post(f"/api/v1/review/queues/{queue['id']}/sample", json={}, headers=admin).json()
    assert r["added"] == 0 and r["sampled_through"] is not None


def test_a_share_of_traffic_is_stable_and_capped(client, admin, traffic):  # type: ignore[no-untyped-def]
    body = {"use_case": traffic["use_case"], "name": "half", "rubric": RUBRIC, "max_open_items": 3,
            "rules": [{"kind": "traffic", "share": 0.5}]}
    q = client.post("/api/v1/review/queues", json=body, headers=admin).json()
    out = client.post(f"/api/v1/review/queues/{q['id']}/sample", json={}, headers=admin).json()
    assert 0 < out["added"] <= 3
    from takeoff.review import sampling
    expected = [f"r{i}" for i in range(8) if sampling.in_share(f"review:{q['id']}:{q['rules'][0]['id']}", f"r{i}", 0.5)]
    got = [i["request_id"] for i in client.get(f"/api/v1/review/queues/{q['id']}/items", headers=admin).json()["items"]]
    assert got == expected[:3] and out["capped"] == (len(expected) > 3)


def test_items_by_hand_by_id_and_by_filter(client, admin, queue):  # type: ignore[no-untyped-def]
    url = f"/api/v1/review/queues/{queue['id']}/items"
    r = client.post(url, json={"request_ids": ["r0", "r1", "nope"]}, headers=admin)
    assert r.status_code == 201 and r.json()["added"] == 2 and r.json()["not_found"] == ["nope"], r.text
    r = client.post(url, json={"filter": {"status": "error"}}, headers=admin)
    assert r.json()["added"] == 1
    r = client.post(url, json={"filter": {"status": "broken"}}, headers=admin)
    assert r.status_code == 422 and _field(r) == "filter.status"
    assert client.post(url, json={}, headers=admin).status_code == 422
    assert client.post(url, json={"request_ids": ["r0"]}, headers=admin).json()["already"] == 1
    # items are queued in the order given, whatever order the database returns the requests in
    ids = client.post(url, json={"request_ids": ["r7", "r3", "r5", "r2"]}, headers=admin).json()["items"]
    got = [client.get(f"/api/v1/review/items/{i}", headers=admin).json()["request_id"] for i in ids]
    assert got == ["r7", "r3", "r5", "r2"]


def test_claim_skip_review_scores_and_agreement(client, admin, users, queue):  # type: ignore[no-untyped-def]
    url = f"/api/v1/review/queues/{queue['id']}"
    client.post(f"{url}/items", json={"request_ids": ["r0", "r1", "r2"]}, headers=admin)
    ann = users.headers("ai_engineer", username="ann")
    bob = users.headers("product_owner", username="bob")
    viewer = users.headers("viewer")
    first = client.post(f"{url}/claim", headers=ann).json()["item"]
    assert first["request_id"] == "r0" and first["claimed_by"] == "ann"
    assert client.post(f"{url}/claim", headers=ann).json()["item"]["id"] == first["id"]  # held item first
    taken = client.post(f"/api/v1/review/items/{first['id']}/claim", headers=bob)
    assert taken.status_code == 409 and "ann" in taken.text
    assert client.post(f"/api/v1/review/items/{first['id']}/reviews", json={"scores": {"helpful": 4, "correct": 1}},
                       headers=bob).status_code == 409
    assert client.post(f"{url}/claim", headers=viewer).status_code == 403
    bad = client.post(f"/api/v1/review/items/{first['id']}/reviews", json={"scores": {"helpful": 6, "correct": 1}},
                      headers=ann)
    assert bad.status_code == 422 and _field(bad) == "scores.helpful"
    bad = client.post(f"/api/v1/review/items/{first['id']}/reviews",
                      json={"scores": {"helpful": 4, "correct": 1}, "labels": ["nice"]}, headers=ann)
    assert bad.status_code == 422 and _field(bad) == "labels[0]"
    bad = client.post(f"/api/v1/review/items/{first['id']}/reviews",
                      json={"scores": {"helpful": 4, "correct": 1}, "violation_handled": True}, headers=ann)
    assert bad.status_code == 422 and _field(bad) == "violation_handled"
    ok = client.post(f"/api/v1/review/items/{first['id']}/reviews",
                     json={"scores": {"helpful": 4, "correct": 1}, "labels": ["wrong_tone"], "comment": "curt"},
                     headers=ann)
    assert ok.status_code == 201, ok.text
    assert ok.json()["item"]["status"] == "open" and ok.json()["request_scores"]["review_helpful"] == 4
    again = client.post(f"/api/v1/review/items/{first['id']}/claim", headers=ann)
    assert again.status_code == 409  # one review per reviewer
    # bob: skips r1's item? first he gets r0 (ann's is done by her, open for him)
    b1 = client.post(f"{url}/claim", headers=bob).json()["item"]
    assert b1["id"] == first["id"]
    r = client.post(f"/api/v1/review/items/{b1['id']}/reviews", json={"scores": {"helpful": 2, "correct": 1}},
                    headers=bob)
    assert r.json()["item"]["status"] == "done" and r.json()["request_scores"]["review_helpful"] == 3.0
    b2 = client.post(f"{url}/claim", headers=bob).json()["item"]
    assert client.post(f"/api/v1/review/items/{b2['id']}/skip", headers=bob).status_code == 200
    b3 = client.post(f"{url}/claim", headers=bob).json()["item"]
    assert b3["id"] != b2["id"]
    detail = client.get("/api/v1/requests/r0", headers=admin).json()
    assert detail["scores"]["review_helpful"] == 3.0 and detail["scores"]["review_correct"] == 1.0
    q = client.get(url, headers=admin).json()
    assert q["progress"]["done"] == 1 and q["progress"]["reviews"] == 2 and q["progress"]["skips"] == 1
    agreement = {a["score"]: a for a in q["agreement"]}
    assert agreement["correct"]["exact"] == 1.0 and agreement["helpful"]["exact"] == 0.0
    assert agreement["helpful"]["items"] == 1 and agreement["helpful"]["pairs"] == 1


def test_review_scores_reach_the_rollups_once(client, admin, users, queue, factory):  # type: ignore[no-untyped-def]
    url = f"/api/v1/review/queues/{queue['id']}"
    item = client.post(f"{url}/items", json={"request_ids": ["r1"]}, headers=admin).json()["items"][0]
    for who, score in (("ai_engineer", 5), ("risk_partner", 3)):
        h = users.headers(who)
        client.post(f"/api/v1/review/items/{item}/claim", headers=h)
        r = client.post(f"/api/v1/review/items/{item}/reviews", json={"scores": {"helpful": score, "correct": 1}},
                        headers=h)
        assert r.status_code == 201, r.text
    compact_all(factory)
    start = datetime.now(UTC) - timedelta(hours=1)
    r = client.get("/api/v1/metrics", params={"use_case": "support-reply", "metric": "quality_review_helpful",
                                              "from": start.isoformat(), "step": "1h"}, headers=admin)
    assert r.status_code == 200, r.text
    values = [p["value"] for p in r.json()["points"] if p["value"] is not None]
    assert values == [4.0]  # the mean of 5 and 3, counted once


def test_violations_resolved_by_review_and_by_incident(client, admin, users, traffic, factory):  # type: ignore[no-untyped-def]
    key = traffic["use_case"]
    body = {"use_case": key, "name": "safety", "rubric": {"labels": ["harmful", "fine"]}, "rules": []}
    q = client.post("/api/v1/review/queues", json=body, headers=admin).json()
    # a second request with a violation, for the incident path
    r = client.post("/api/v1/events", json={"events": [{"id": "r8", "use_case": key, "ts": time.time() - 100,
                                                        "violations": [{"stage": "input", "detector": "injection",
                                                                        "action": "flag"}] * 2}]}, headers=admin)
    assert r.status_code == 200
    items = client.post(f"/api/v1/review/queues/{q['id']}/items", json={"request_ids": ["r6", "r8"]},
                        headers=admin).json()["items"]
    h = users.headers("risk_partner")
    r = client.post(f"/api/v1/review/items/{items[0]}/reviews", json={"labels": ["harmful"], "violation_handled": True},
                    headers=h)
    assert r.status_code == 201 and r.json()["violations_resolved"] == 1, r.text
    inc = client.post("/api/v1/incidents", json={"use_case": key, "title": "Injection attempts", "severity": 3},
                      headers=admin).json()
    bad = client.post(f"/api/v1/review/items/{items[1]}/reviews", json={"labels": ["harmful"], "incident_id": 99999},
                      headers=h)
    assert bad.status_code == 422 and _field(bad) == "incident_id"
    r = client.post(f"/api/v1/review/items/{items[1]}/reviews", json={"labels": ["harmful"], "incident_id": inc["id"]},
                    headers=h)
    assert r.status_code == 201 and r.json()["violations_resolved"] == 0  # the incident is still open
    assert client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "blocked the phrasing"},
                       headers=admin).status_code == 200
    compact_all(factory)
    start = datetime.now(UTC) - timedelta(hours=1)
    points = {}
    for metric in ("policy_violations", "policy_violations_resolved"):
        r = client.get("/api/v1/metrics", params={"use_case": key, "metric": metric, "from": start.isoformat(),
                                                  "step": "1h"}, headers=admin)
        assert r.status_code == 200, r.text
        points[metric] = sum(p["value"] or 0 for p in r.json()["points"])
    assert points == {"policy_violations": 3, "policy_violations_resolved": 3}
    with transaction(factory) as s:  # resolving again (a reopened, re-resolved incident) counts nothing more
        from takeoff.review import work
        assert work.resolve_for_incident(s, inc["id"]) == 0


def test_permissions_of_review(client, users, queue):  # type: ignore[no-untyped-def]
    viewer = users.headers("viewer")
    data_owner = users.headers("data_owner")
    url = f"/api/v1/review/queues/{queue['id']}"
    assert client.get(url, headers=viewer).status_code == 200
    r = client.post(f"{url}/items", json={"request_ids": ["r0"]}, headers=data_owner)
    assert r.status_code == 403 and "annotation.write" in r.text
    assert client.post(f"{url}/claim", headers=data_owner).status_code == 403
    assert client.post("/api/v1/review/queues", json={"use_case": "support-reply", "name": "x", "rubric": RUBRIC},
                       headers=users.headers("risk_partner")).status_code == 403


def test_human_review_evidence(client, admin, users, queue, factory):  # type: ignore[no-untyped-def]
    from takeoff.evidence.registry import Subject
    from takeoff.portfolio import service as portfolio
    from takeoff.review.evidence import human_review

    def verdict() -> tuple[str, str]:
        with transaction(factory) as s:
            e = human_review(s, Subject(portfolio.get(s, "support-reply"), None, datetime.now(UTC)))
            return e.status, e.detail

    assert verdict() == ("fail", "no review completed in 30 days in replies")
    item = client.post(f"/api/v1/review/queues/{queue['id']}/items", json={"request_ids": ["r2"]},
                       headers=admin).json()["items"][0]
    h = users.headers("product_owner")
    assert client.post(f"/api/v1/review/items/{item}/reviews", json={"scores": {"helpful": 5, "correct": 1}},
                       headers=h).status_code == 201
    assert verdict() == ("pass", "1 review(s) in replies in 30 days")
    with transaction(factory) as s:
        from takeoff.readiness import service as readiness
        monitoring = {i["item"]: i for i in readiness.diagnose(s, "support-reply")["items"]}["monitoring"]
        assert any(k["kind"] == "human_review" and k["status"] == "pass" for k in monitoring["kinds"])


def test_the_periodic_job_samples_active_queues(client, admin, queue, factory):  # type: ignore[no-untyped-def]
    from takeoff.jobs.registry import JobContext
    from takeoff.review import jobs

    out = jobs.sample(JobContext(1, 1, factory, None), {})
    assert out == {"queues": 1, "added": 4, "failed": 0}  # the first run reads the last day: r4-r7
    assert jobs.sample(JobContext(2, 1, factory, None), {})["added"] == 0  # from its cursor: nothing new
    client.patch(f"/api/v1/review/queues/{queue['id']}", json={"active": False}, headers=admin)
    assert jobs.sample(JobContext(3, 1, factory, None), {})["queues"] == 0


def test_a_run_capped_by_its_read_limit_goes_on_from_there(client, admin, queue, factory, monkeypatch):  # type: ignore[no-untyped-def]
    from takeoff.core.actor import SYSTEM
    from takeoff.review import queues as review_queues

    monkeypatch.setattr(review_queues, "READ_PER_RUN", 3)
    seen = []
    for _ in range(4):
        with transaction(factory) as s:
            out = review_queues.sample(s, SYSTEM, review_queues.get_queue(s, queue["id"]))
            seen.append(out["added"])
    # r0-r2 (and r7, rated low since the start), then r2-r4 (the last time is read again), r4-r6, then nothing new
    assert seen == [1, 1, 2, 0]
