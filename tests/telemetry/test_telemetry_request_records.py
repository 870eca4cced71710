"""Ingestion of request records on both backends: unit ids keyed-hashed unless the policy keeps them raw, span
trees and captured content stored once (a resent batch adds nothing), the retention of content and spans."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import text

from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction, utcnow
from takeoff.telemetry import capture, requests_store, rollup, service, window

KEY = rollup.unit_key("test-secret-key-123")
TRACE = "0af7651916cd43dd8448eb211c80319c"


def _ev(uc: str, **kw):  # type: ignore[no-untyped-def]
    return {"id": uuid.uuid4().hex, "use_case": uc, "release": "", "ts": time.time(), "tokens": {}, **kw}


def _ingest(factory, events):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return service.ingest_events(s, SYSTEM, events, late_s=86400, unit_key=KEY)


def _rows(factory, sql):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return [tuple(r) for r in s.execute(text(sql))]


def _one(factory, sql, **params):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(text(sql), params)


def test_unit_ids_are_hashed_by_default_and_raw_on_request(factory):
    _ingest(factory, [_ev("rr-a", id="h1", unit_id="alice")])
    stored = _one(factory, "SELECT unit_id FROM telemetry_events WHERE id = 'h1'")
    assert stored == capture.unit_ref("alice", KEY) and "alice" not in stored
    with transaction(factory) as s:
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-a", unit_ids="raw"))
    _ingest(factory, [_ev("rr-a", id="h2", unit_id="alice")])
    assert _one(factory, "SELECT unit_id FROM telemetry_events WHERE id = 'h2'") == "alice"
    with transaction(factory) as s:  # the rollup's distinct units see one unit either way
        assert window.window_stats(s, "rr-a", None, utcnow() - timedelta(hours=1), utcnow()).active_units == 1


def test_spans_and_content_are_stored_once(factory):
    with transaction(factory) as s:
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-b", capture=True, max_chars=100))
    span = {"trace_id": TRACE, "span_id": "a" * 16, "name": "chat", "start": time.time(), "duration_ms": 5.0}
    events = [_ev("rr-b", id="s1", spans=[span, span, {**span, "span_id": "b" * 16, "parent_span_id": "a" * 16}],
                  content={"input": [{"role": "user", "content": "mail me: bob@example.org"}]}, trace_id=TRACE),
              _ev("rr-c", id="s2", content={"input": [{"role": "user", "content": "not captured"}]})]
    assert _ingest(factory, events) == (2, 0)
    assert _ingest(factory, events) == (0, 2)  # a resend stores nothing twice (and does not fail)
    assert _one(factory, "SELECT count(*) FROM telemetry_spans WHERE event_id = 's1'") == 2
    assert _one(factory, "SELECT count(*) FROM request_content") == 1
    body = _one(factory, "SELECT body FROM request_content WHERE event_id = 's1'")
    assert "[email]" in body and "bob@" not in body


def test_retention_deletes_expired_content_and_old_spans(factory):
    with transaction(factory) as s:
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-d", capture=True, retention_days=1))
    span = {"trace_id": TRACE, "span_id": "c" * 16, "name": "chat", "start": time.time() - 3600}
    _ingest(factory, [_ev("rr-d", id="x1", spans=[span], content={"system": "hello there"}, ts=time.time() - 3600)])
    with transaction(factory) as s:
        assert requests_store.delete_expired(s, utcnow() - timedelta(days=30)) == {
            "content_expired": 0, "content_policy": 0, "content_old": 0, "spans": 0}
    with transaction(factory) as s:  # two days later: the content expired; spans stay until the events' retention
        out = requests_store.delete_expired(s, utcnow() - timedelta(days=30), now=utcnow() + timedelta(days=2))
    assert out["content_expired"] == 1 and out["spans"] == 0
    with transaction(factory) as s:
        assert requests_store.delete_expired(s, utcnow())["spans"] == 1


def test_a_shortened_retention_applies_to_content_already_stored(factory):
    """Content stored under a 30-day retention goes once the policy says 7 and it is older than that; a longer
    retention later never extends the expiry content was stored with; other use cases are untouched."""
    with transaction(factory) as s:
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-e", capture=True, retention_days=30))
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-f", capture=True, retention_days=30))
    day = 86400
    with transaction(factory) as s:  # late events (a backfill): ten days old
        service.ingest_events(s, SYSTEM, [
            _ev("rr-e", id="old", content={"system": "ten days old"}, ts=time.time() - 10 * day),
            _ev("rr-e", id="new", content={"system": "one day old"}, ts=time.time() - day),
            _ev("rr-f", id="other", content={"system": "ten days old"}, ts=time.time() - 10 * day)],
            late_s=30 * day, unit_key=KEY)
    with transaction(factory) as s:
        assert requests_store.delete_expired(s, utcnow() - timedelta(days=90))["content_policy"] == 0
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-e", capture=True, retention_days=7))
    with transaction(factory) as s:
        out = requests_store.delete_expired(s, utcnow() - timedelta(days=90))
    assert out["content_policy"] == 1 and out["content_expired"] == 0
    assert sorted(r[0] for r in _rows(factory, "SELECT event_id FROM request_content")) == ["new", "other"]
    with transaction(factory) as s:  # longer now, but "new" was stored to expire after 30 days
        requests_store.set_policy(s, SYSTEM, capture.make_policy("rr-e", capture=True, retention_days=365))
    with transaction(factory) as s:
        out = requests_store.delete_expired(s, utcnow() - timedelta(days=900), now=utcnow() + timedelta(days=31))
    assert out["content_expired"] == 2 and _rows(factory, "SELECT event_id FROM request_content") == []
