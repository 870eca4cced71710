"""Webhooks: signed generic and Slack bodies; a 500 or a timeout is retried with backoff, then marked failed and
visible, and never blocks the incident or check that caused it."""
from __future__ import annotations

import hashlib
import hmac
import json

from sqlalchemy import select, update

from takeoff.core.db import transaction, utcnow
from takeoff.jobs.models import Job
from takeoff.monitoring import webhooks

from .conftest import make_use_case

SECRET = "s3cret-signing-key"


def channel(client, h, url: str, **over):  # type: ignore[no-untyped-def]
    body = {"name": "ops", "kind": "webhook", "url": url, "secret": SECRET, **over}
    r = client.post("/api/v1/monitoring/channels", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert "secret" not in r.json()
    return r.json()


def open_incident(client, h, title: str = "Answers in the wrong language"):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": title, "severity": 2},
                    headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def due_now(factory) -> int:  # type: ignore[no-untyped-def]
    """Skip the backoff wait: make queued delivery retries due now; returns how many were queued."""
    with transaction(factory) as s:
        jobs = s.scalars(select(Job).where(Job.kind == "monitoring.deliver", Job.status == "queued")).all()
        for j in jobs:
            assert j.run_at > utcnow()  # the retry waits (backoff), it is not immediate
        s.execute(update(Job).where(Job.kind == "monitoring.deliver", Job.status == "queued").values(run_at=utcnow()))
        return len(jobs)


def test_channel_input_is_validated(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("platform_engineer")
    base = {"name": "x", "url": "https://hooks.example.com/a", "secret": SECRET}
    for patch in ({"url": "ftp://x/y"}, {"url": "not a url"}, {"kind": "email"}, {"secret": "short"},
                  {"events": ["alert.exploded"]}, {"timeout_s": 0}):
        r = client.post("/api/v1/monitoring/channels", json={**base, **patch}, headers=h)
        assert r.status_code == 422, (patch, r.text)
    assert client.post("/api/v1/monitoring/channels", json={**base, "use_case": "nope"}, headers=h).status_code == 404
    assert client.post("/api/v1/monitoring/channels", json=base, headers=h).status_code == 201
    assert client.post("/api/v1/monitoring/channels", json=base, headers=h).status_code == 409


def test_generic_and_slack_bodies_are_signed_and_name_the_on_call(client, users, factory, app, receiver) -> None:
    make_use_case(factory, on_call="oncall-ana")
    h = users.headers("platform_engineer")
    rx = receiver(200)
    channel(client, h, rx.url)
    channel(client, h, rx.url, name="slack", kind="slack", events=["incident.opened"])
    inc = open_incident(client, h)
    app.state.worker.drain()
    assert len(rx.requests) == 2
    by_kind = {}
    for headers, raw in rx.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["x-takeoff-signature"] == expected
        assert webhooks.verify(SECRET, raw, headers["x-takeoff-signature"])
        assert not webhooks.verify("other-secret", raw, headers["x-takeoff-signature"])
        doc = json.loads(raw)
        by_kind["slack" if "text" in doc else "generic"] = doc
    g = by_kind["generic"]
    assert g["event"] == "incident.opened" and g["use_case"] == "support-reply"
    assert g["data"]["incident_id"] == inc["id"] and g["data"]["on_call"] == "oncall-ana"
    assert "SEV2" in by_kind["slack"]["text"] and "@oncall-ana" in by_kind["slack"]["text"]
    assert by_kind["slack"]["blocks"][0]["type"] == "section"
    sent = client.get("/api/v1/monitoring/deliveries?status=sent", headers=h).json()
    assert len(sent) == 2 and all(d["attempts"] == 1 for d in sent)


def test_webhook_answering_500_is_retried_with_backoff_then_failed_and_visible(client, users, factory, app,
                                                                               receiver) -> None:
    make_use_case(factory)
    h = users.headers("platform_engineer")
    rx = receiver(500)
    channel(client, h, rx.url, max_attempts=3)
    inc = open_incident(client, h)  # the incident is opened whatever the webhook does
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=h).json()["status"] == "open"
    app.state.worker.drain()
    d = client.get("/api/v1/monitoring/deliveries", headers=h).json()[0]
    assert d["status"] == "retrying" and d["attempts"] == 1 and d["last_status_code"] == 500
    assert due_now(factory) == 1
    app.state.worker.drain()
    assert due_now(factory) == 1
    app.state.worker.drain()
    assert due_now(factory) == 0
    failed = client.get("/api/v1/monitoring/deliveries?status=failed", headers=h).json()
    assert len(failed) == 1 and failed[0]["attempts"] == 3 and "HTTP 500" in failed[0]["last_error"]
    assert len(rx.requests) == 3


def test_webhook_that_times_out_is_marked_failed_and_never_blocks_the_check(client, users, factory, app,
                                                                            receiver) -> None:
    make_use_case(factory, targets={})
    h = users.headers("platform_engineer")
    rx = receiver(200, delay_s=2.0)
    channel(client, h, rx.url, timeout_s=0.3, max_attempts=1)
    r = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "throughput",
                                                      "op": ">=", "threshold": 0, "window": "5m"}, headers=h)
    out = client.post(f"/api/v1/monitoring/rules/{r.json()['id']}/evaluate", headers=h)
    assert out.status_code == 200 and out.json()["state"] == "firing"  # the check completes before any send
    assert len(client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()) == 1
    app.state.worker.drain()
    failed = client.get("/api/v1/monitoring/deliveries?status=failed", headers=h).json()
    assert failed and all("timed out" in d["last_error"] for d in failed)
    assert {d["event"] for d in failed} == {"alert.firing", "incident.opened"}


def test_test_delivery_and_disabled_channel_sends_nothing(client, users, factory, app, receiver) -> None:
    make_use_case(factory)
    h = users.headers("platform_engineer")
    rx = receiver(200)
    ch = channel(client, h, rx.url)
    r = client.post(f"/api/v1/monitoring/channels/{ch['id']}/test", headers=h)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    app.state.worker.drain()
    assert json.loads(rx.requests[0][1])["event"] == "test"
    assert client.delete(f"/api/v1/monitoring/channels/{ch['id']}", headers=h).status_code == 204
    assert client.post(f"/api/v1/monitoring/channels/{ch['id']}/test", headers=h).status_code == 409
    open_incident(client, h)
    app.state.worker.drain()
    assert len(rx.requests) == 1
    assert client.get("/api/v1/monitoring/channels", headers=h).json()[0]["enabled"] is False
    assert client.delete("/api/v1/monitoring/channels/999", headers=h).status_code == 404
