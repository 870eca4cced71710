"""Client.record(): calls that already happened, validated like track(), delivered through an injected HTTP client."""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takeoff.app import create_app
from takeoff.core.db import transaction
from takeoff.sdk import Client
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback


def _sdk(tc: TestClient, token: str, **kw) -> Client:
    return Client(str(tc.base_url), token, http_client=tc, flush_interval_s=0.02, backoff_base_s=0.01,
                  backoff_max_s=0.05, **kw)


def _minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def test_recorded_event_lands_with_its_time_and_latency_in_its_minute(app, users, factory):
    token = users.token(users.create("ai_engineer"))
    minute = _minute(datetime.now(UTC) - timedelta(hours=3))
    ts = minute + timedelta(seconds=17.25)
    with TestClient(app) as tc:
        sdk = _sdk(tc, token)
        rid = sdk.record("support-reply", ts=ts, latency_ms=1234.5, release="support-reply:1", unit_id="u7",
                         status="fallback", outcome="overridden", tokens={"input": 300, "output": 40}, cost_usd=0.004,
                         model="gpt-x", provider="openai", scores={"helpfulness": 0.7},
                         features={"amount": 12.5, "vendor_known": False, "lang": "de"},
                         error_category="wrong_answer", fallback_reason="timeout", attributes={"import": "csv"},
                         event_id="backfill-1")
        assert rid == "backfill-1"
        assert sdk.flush(20) and sdk.stats()["sent"] == 1 and sdk.stats()["dropped_total"] == 0
        fid = sdk.feedback(rid, 2, "wrong policy", 0, use_case="support-reply", ts=ts + timedelta(minutes=5))
        assert sdk.flush(20) and sdk.stats()["dropped_total"] == 0
        sdk.close()
        assert not tc.is_closed  # the injected client belongs to the caller
    with transaction(factory) as s:
        row = s.get(TelemetryEvent, "backfill-1")
        fb = s.get(TelemetryFeedback, fid)
        inside = telemetry_window.window_stats(s, "support-reply", None, minute, minute + timedelta(minutes=1))
        before = telemetry_window.window_stats(s, "support-reply", None, minute - timedelta(hours=1), minute)
        after = telemetry_window.window_stats(s, "support-reply", None, minute + timedelta(minutes=1), datetime.now(UTC))
    assert row.ts.replace(tzinfo=UTC).timestamp() == pytest.approx(ts.timestamp(), abs=1e-3)
    assert row.latency_ms == 1234.5
    assert (row.status, row.outcome, row.release) == ("fallback", "overridden", "support-reply:1")
    assert row.unit_id.startswith("h:") and "u7" not in row.unit_id  # stored keyed-hashed by default (capture policy)
    assert (row.error_category, row.fallback_reason, row.cost_usd) == ("wrong_answer", "timeout", 0.004)
    assert (inside.count, inside.fallbacks, before.count, after.count) == (1, 1, 0, 0)
    assert inside.tokens["input"] == 300 and inside.outcomes == {"overridden": 1}
    assert fb.request_id == "backfill-1" and fb.ts.replace(tzinfo=UTC) == ts + timedelta(minutes=5)


def test_history_older_than_the_lateness_needs_a_server_that_accepts_it(settings, engine, users, factory):
    """A backfill older than the server's lateness is refused and counted; live events in the same flush survive."""
    token = users.token(users.create("ai_engineer"))
    old = datetime.now(UTC) - timedelta(days=5)
    with TestClient(create_app(settings, engine=engine, start_worker=False)) as tc:  # 24 h lateness
        sdk = _sdk(tc, token)
        sdk.record("support-reply", ts=old, latency_ms=100.0)
        with sdk.track("support-reply") as live:
            pass
        assert sdk.flush(20)
        assert sdk.stats()["dropped"] == {"http_422": 1} and sdk.stats()["sent"] == 1
        sdk.close()
    wide = settings.model_copy(update={"late_event_seconds": 10 * 86400})
    with TestClient(create_app(wide, engine=engine, start_worker=False)) as tc:
        sdk = _sdk(tc, token)
        rid = sdk.record("support-reply", ts=old.timestamp(), latency_ms=100.0)
        assert sdk.flush(20) and sdk.stats()["dropped_total"] == 0
        sdk.close()
    with transaction(factory) as s:
        ids = set(s.scalars(select(TelemetryEvent.id)))
    assert ids == {live.request_id, rid}


def test_too_old_events_are_dropped_alone_and_the_rest_of_their_batch_is_stored(app, users, factory):
    """The server's 422 names each too-late event (`events.<i>.ts`): only those are dropped, the batch is resent."""
    token = users.token(users.create("ai_engineer"))
    now = datetime.now(UTC)
    with TestClient(app) as tc:  # 24 h lateness
        sdk = Client(str(tc.base_url), token, http_client=tc, flush_interval_s=30, backoff_base_s=0.01,
                     backoff_max_s=0.05)  # one batch, sent at flush()
        ages = [timedelta(days=5), timedelta(hours=1), timedelta(days=3), timedelta(minutes=2), timedelta(hours=20)]
        ids = [sdk.record("support-reply", ts=now - age, latency_ms=10.0) for age in ages]
        assert sdk.flush(20)
        s = sdk.stats()
        assert s["dropped"] == {"http_422": 2} and s["sent"] == 3
        assert s["last_refusal"]["status"] == 422 and s["last_refusal"]["items"] == 2
        sdk.close()
    with transaction(factory) as session:
        stored = set(session.scalars(select(TelemetryEvent.id).where(TelemetryEvent.id.in_(ids))))
    assert stored == {ids[1], ids[3], ids[4]}


NOW = datetime.now(UTC)


@pytest.mark.parametrize("kwargs, message", [
    (dict(ts=datetime(2026, 1, 5, 9, 30)), "timezone-aware"),
    (dict(ts=math.nan), "finite"),
    (dict(ts=math.inf), "finite"),
    (dict(ts="2026-01-05T09:30:00Z"), "finite Unix seconds"),
    (dict(ts=0), "after 1970"),
    (dict(ts=NOW + timedelta(hours=2)), "future"),
    (dict(latency_ms=-1.0), "latency_ms must be >= 0"),
    (dict(latency_ms=math.nan), "latency_ms must be a finite number"),
    (dict(status="okay"), "status must be one of ok, error, fallback"),
    (dict(outcome="great"), "outcome must be one of"),
    (dict(tokens={"input": -3}), "tokens input"),
    (dict(tokens={"prompt": 3}), "tokens kinds must be among"),
    (dict(cost_usd=-0.1), "cost_usd"),
    (dict(features={"f": None}), "feature f"),
    (dict(scores=[0.5]), "scores must be a dict"),
    (dict(error_category="oops"), "error category"),
    (dict(event_id=""), "event_id"),
    (dict(event_id="x" * 129), "event_id"),
    (dict(unit_id=5), "unit_id"),
    (dict(violations="pii"), "violations must be a list"),
    (dict(violations=[{"stage": "output", "detector": "pii"}]), "stage, detector and action"),
])
def test_bad_input_raises_one_clear_value_error_and_queues_nothing(kwargs, message):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, got {request.url}")

    sdk = Client("http://takeoff.test", "tok", http_transport=httpx.MockTransport(refuse))
    args = dict(ts=NOW - timedelta(hours=1), latency_ms=10.0) | kwargs
    with pytest.raises(ValueError, match=message):
        sdk.record("support-reply", **args)
    with pytest.raises(ValueError, match="use_case"):
        sdk.record("", ts=NOW, latency_ms=1.0)
    assert sdk.stats()["pending"] == 0 and sdk.transport._thread is None  # no sender started for nothing
    sdk.close()


def test_feedback_ts_is_validated_like_an_event_time():
    sdk = Client("http://takeoff.test", "tok", http_transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    for bad in (datetime(2026, 1, 5), math.nan, NOW + timedelta(hours=2)):
        with pytest.raises(ValueError, match="ts"):
            sdk.feedback("req", 4, ts=bad)
    assert sdk.stats()["pending"] == 0
    sdk.close()


def test_injected_transport_carries_active_fetches_and_batches():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"use_case": "uc", "releases": [
                {"release_id": "uc:3", "weight": 100, "model": "m"}]})
        return httpx.Response(200, json={"accepted": 1, "duplicates": 0})

    sdk = Client("http://takeoff.test", "tok-1", http_transport=httpx.MockTransport(handler), flush_interval_s=0.02)
    assert sdk.active("uc", "u1").release_id == "uc:3"
    with sdk.track("uc") as live:
        pass
    rid = sdk.record("uc", ts=NOW - timedelta(minutes=5), latency_ms=42.0)
    assert sdk.flush(10) and sdk.stats()["sent"] == 2
    sdk.close()
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/api/v1/usecases/uc/active"), ("POST", "/api/v1/events"), ("POST", "/api/v1/events")]
    assert all(r.headers["authorization"] == "Bearer tok-1" and r.headers["user-agent"] == "takeoff-sdk" for r in seen)
    batches = [[e["id"] for e in json.loads(r.content)["events"]] for r in seen[1:]]
    assert batches == [[live.request_id], [rid]]  # a recorded event never shares a batch with live ones


def test_injected_http_client_is_used_and_left_open():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"accepted": 1, "duplicates": 0})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    sdk = Client("http://takeoff.test", "tok-2", http_client=http, flush_interval_s=0.02)
    sdk.record("uc", ts=NOW - timedelta(minutes=1), latency_ms=1.0)
    assert sdk.flush(10)
    sdk.close()
    assert seen == ["Bearer tok-2"] and not http.is_closed
    http.close()


@pytest.mark.parametrize("kwargs", [dict(http_client="http://x"), dict(http_transport=object()),
                                    dict(http_client=httpx.Client(), http_transport=httpx.MockTransport(print))])
def test_bad_injection_raises_value_error(kwargs):
    with pytest.raises(ValueError, match="http_"):
        Client("http://takeoff.test", "tok", **kwargs)
