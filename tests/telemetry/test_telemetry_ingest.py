"""Event ingestion over HTTP: idempotency, whole-batch refusal, lateness, discovery, rollups and the contract reads."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from takeoff.core.db import transaction
from takeoff.telemetry import histogram
from takeoff.telemetry import compaction as telemetry_compaction
from takeoff.telemetry import feedback as telemetry_feedback
from takeoff.telemetry import window as telemetry_window


def ev(**kw):
    base = {"id": uuid.uuid4().hex, "use_case": "support-reply", "release": "support-reply:1", "unit_id": "u1",
            "ts": time.time(), "latency_ms": 120.0, "status": "ok", "outcome": "success", "model": "gpt-x",
            "provider": "openai", "tokens": {"input": 100, "output": 20, "cache_read": 10}, "cost_usd": 0.002,
            "scores": {"faithfulness": 0.9}, "features": {"length": 40, "lang": "en"},
            "error_category": None, "fallback_reason": None, "attributes": {"k": "v"}}
    base.update(kw)
    return base


def post(client, headers, events):
    return client.post("/api/v1/events", json={"events": events}, headers=headers)


def test_resent_events_are_stored_once_and_rollups_count_them_once(client, users, factory):
    h = users.headers("ai_engineer")
    batch = [ev(unit_id=f"u{i % 7}", latency_ms=100 + i) for i in range(50)]
    r = post(client, h, batch)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 50, "duplicates": 0}
    r2 = post(client, h, batch[:20] + [ev(id="fresh-1")])
    assert r2.json() == {"accepted": 1, "duplicates": 20}
    now = datetime.now(UTC)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "support-reply", None, now - timedelta(hours=2), now + timedelta(minutes=1))
        assert st.count == 51
        assert st.active_units == 7
        assert sum(st.latency_counts) == 51
        assert st.tokens["input"] == 5100 and st.tokens["cache_read"] == 510
        assert abs(st.cost_usd - 0.102) < 1e-9
        assert st.outcomes == {"success": 51}
        assert st.scores["faithfulness"][0] == 51
        assert st.features["lang"]["counts"] == {"en": 51}
        last = telemetry_window.last_event_at(s, "support-reply")
        assert last is not None and abs(last.timestamp() - batch[-1]["ts"]) < 60
        by_release = telemetry_window.window_stats(s, "support-reply", "support-reply:2", now - timedelta(hours=1), now)
        assert by_release.count == 0


def test_bad_event_refuses_whole_batch_naming_index_and_field(client, users, factory):
    h = users.headers("ai_engineer")
    batch = [ev(), ev(), ev(latency_ms=-5), ev()]
    r = post(client, h, batch)
    assert r.status_code == 422
    fields = [d["field"] for d in r.json()["error"]["details"]]
    assert fields == ["events.2.latency_ms"]
    bad_status = post(client, h, [ev(status="weird")])
    assert bad_status.status_code == 422 and "events.0.status" in bad_status.json()["error"]["message"]
    with transaction(factory) as s:
        assert telemetry_window.last_event_at(s, "support-reply") is None  # nothing stored from the refused batches


def test_too_late_event_is_refused_with_its_index(client, users, factory):
    h = users.headers("ai_engineer")
    old = time.time() - 2 * 86400
    r = post(client, h, [ev(), ev(ts=old)])
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "events.1.ts"
    late_but_ok = time.time() - 3 * 3600
    r = post(client, h, [ev(ts=late_but_ok)])
    assert r.status_code == 200
    with transaction(factory) as s:
        t = datetime.fromtimestamp(late_but_ok, UTC)
        st = telemetry_window.window_stats(s, "support-reply", None, t - timedelta(minutes=1), t + timedelta(minutes=1))
        assert st.count == 1  # landed in its own minute, not in "now"


def test_unknown_use_case_is_kept_and_discovered(client, users, factory):
    from sqlalchemy import select

    from takeoff.portfolio.models import UseCase

    h = users.headers("ai_engineer")
    r = post(client, h, [ev(use_case="shadow-bot", release=None)])
    assert r.status_code == 200 and r.json()["accepted"] == 1
    with transaction(factory) as s:
        found = s.scalar(select(UseCase).where(UseCase.key == "shadow-bot"))
        assert found is not None and found.discovered and found.status == "discovered"
        now = datetime.now(UTC)
        assert telemetry_window.window_stats(s, "shadow-bot", None, now - timedelta(hours=1), now).count == 1


def test_viewer_cannot_ingest_and_bad_token_is_401(client, users):
    r = post(client, users.headers("viewer"), [ev()])
    assert r.status_code == 403 and "telemetry.ingest" in r.json()["error"]["message"]
    assert post(client, {"Authorization": "Bearer nope"}, [ev()]).status_code == 401


def test_feedback_is_idempotent_and_readable_by_use_case(client, users, factory):
    h = users.headers("ai_engineer")
    e = ev()
    post(client, h, [e])
    fb = {"id": "fb1", "request_id": e["id"], "use_case": None, "rating": 4, "comment": "good",
          "time_saved_s": 30, "unit_id": "u1", "ts": time.time()}
    assert client.post("/api/v1/feedback", json=fb, headers=h).json() == {"accepted": 1, "duplicates": 0}
    assert client.post("/api/v1/feedback", json=fb, headers=h).json() == {"accepted": 0, "duplicates": 1}
    bad = client.post("/api/v1/feedback", json={**fb, "id": "fb2", "rating": 9}, headers=h)
    assert bad.status_code == 422 and "rating" in bad.json()["error"]["message"]
    now = datetime.now(UTC)
    with transaction(factory) as s:
        rows = telemetry_feedback.feedback_for(s, "support-reply", now - timedelta(hours=1), now + timedelta(minutes=1))
        assert [(r["id"], r["rating"], r["time_saved_s"]) for r in rows] == [("fb1", 4, 30.0)]
        assert telemetry_feedback.feedback_for(s, "other", now - timedelta(hours=1), now) == []


def test_latency_quantiles_from_rollups_match_the_data(client, users, factory):
    h = users.headers("ai_engineer")
    lat = [float(x) for x in range(1, 1001)]
    post(client, h, [ev(latency_ms=v, unit_id=None) for v in lat])
    now = datetime.now(UTC)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "support-reply", None, now - timedelta(hours=1), now + timedelta(minutes=1))
        p95 = histogram.quantile(st.latency_counts, 0.95)
        assert abs(p95 - 950) / 950 < histogram.RELATIVE_BUCKET_WIDTH
        assert st.active_units == 0


def test_out_of_range_numbers_are_refused_not_a_500(client, users, factory):
    """Values whose rollup sums overflowed (a 500 on PostgreSQL, a compactor stuck on SQLite) are refused up front."""
    from takeoff.telemetry.schemas import MAX_COST_USD, MAX_LATENCY_MS, MAX_SCORE, MAX_TOKENS

    h = users.headers("ai_engineer")
    for bad, field in ((ev(tokens={"input": 10**30}), "events.1.tokens.input"),
                       (ev(tokens={"output": 2**63 - 1}), "events.1.tokens.output"),
                       (ev(cost_usd=1e200), "events.1.cost_usd"), (ev(scores={"q": 1e200}), "events.1.scores.q"),
                       (ev(latency_ms=1e308), "events.1.latency_ms"),
                       (ev(release="9" * 100), "events.1.release")):  # "support-reply:99…9" is no release id
        r = post(client, h, [ev(), bad])
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert [d["field"] for d in r.json()["error"]["details"]] == [field]
    with transaction(factory) as s:
        assert telemetry_window.last_event_at(s, "support-reply") is None
    at_max = [ev(tokens={k: MAX_TOKENS for k in ("input", "output", "cache_read", "cache_write", "reasoning")},
                 cost_usd=MAX_COST_USD, latency_ms=MAX_LATENCY_MS, scores={"q": -MAX_SCORE}) for _ in range(3)]
    assert post(client, h, at_max).status_code == 200
    now = datetime.now(UTC)
    with transaction(factory) as s:
        telemetry_compaction.compact_rollups(s)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "support-reply", None, now - timedelta(hours=1), now + timedelta(minutes=1))
        assert st.count == 3 and st.tokens["input"] == 3 * MAX_TOKENS and st.cost_usd == 3 * MAX_COST_USD
        assert st.scores["q"] == (3, -3 * MAX_SCORE, 3 * MAX_SCORE**2)


@pytest.mark.parametrize("field", ["id", "use_case", "release", "unit_id", "model", "provider", "error_category",
                                   "fallback_reason"])
def test_a_nul_character_in_a_text_field_is_a_422_naming_it_not_a_500(client, users, factory, field):
    """PostgreSQL's text columns cannot store NUL (it was a 500 there); JSON-stored parts keep it escaped."""
    from sqlalchemy import func, select

    from takeoff.telemetry.models import TelemetryEvent

    h = users.headers("ai_engineer")
    r = post(client, h, [ev(), ev(**{field: "a\x00b"})])
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == [f"events.1.{field}"]
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(TelemetryEvent)) == 0
    kept = post(client, h, [ev(attributes={"note": "a\x00b"}, scores={"n\x00": 1.0})])
    assert kept.status_code == 200 and kept.json()["accepted"] == 1


@pytest.mark.parametrize("field", ["id", "request_id", "use_case", "comment", "unit_id"])
def test_a_nul_character_in_feedback_is_a_422_naming_it(client, users, field):
    fb = {"id": uuid.uuid4().hex, "request_id": "r1", "use_case": "support-reply", "rating": 4, field: "a\x00b"}
    r = client.post("/api/v1/feedback", json=fb, headers=users.headers("ai_engineer"))
    assert r.status_code == 422, r.text
    assert field in r.text
