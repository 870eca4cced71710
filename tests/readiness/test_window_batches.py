"""The portfolio-wide window reads readiness uses (totals_many, scored_many, last_event_many, features_sent_many)
answer for each use case exactly as the one-use-case reads (window_stats, last_event_at, the raw events) do, over
windows cut at odd minutes (minute, hour and day rows all in play), before compaction (pending deltas) and after."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from takeoff.core.actor import Actor
from takeoff.core.db import transaction
from takeoff.telemetry import compaction, feedback, service, window
from takeoff.telemetry import evidence as telemetry_evidence
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback
from takeoff.telemetry.rollup import TOKEN_COLUMNS, TOKEN_KINDS, unit_key

KEYS = ["win-a", "win-b", "win-c", "win-none"]
ACTOR = Actor("test", ("admin",))


def _ingest(factory, now: datetime) -> None:  # type: ignore[no-untyped-def]
    events = []
    for u, key in enumerate(KEYS[:3]):
        for i in range(120 * (u + 1)):
            ts = now - timedelta(minutes=7 + i * (29 + 11 * u))  # from minutes to days ago, at odd minutes
            events.append({"id": uuid.uuid4().hex, "use_case": key, "release": f"{key}:1", "unit_id": f"u{i % 5}",
                           "ts": ts.timestamp(), "latency_ms": 40.0 + i, "status": "error" if i % 9 == 0 else "ok",
                           "outcome": "fallback" if (i + u) % 13 == 0 else "success",
                           "tokens": {"input": 10 + u, "output": 2}, "cost_usd": 0.001 * (1 + i % 3) if u != 2 else None,
                           "scores": {"q": 0.5} if u != 1 else {}, "features": {"lang": "en"} if u == 0 else {},
                           "attributes": {}})
    for i in range(0, len(events), 300):
        with transaction(factory) as s:
            service.ingest_events(s, ACTOR, events[i:i + 300], late_s=30 * 86400,
                                  unit_key=unit_key("test-secret-key-for-unit-hashes"))


def _compare(factory, now: datetime) -> None:  # type: ignore[no-untyped-def]
    with factory() as s:
        for span in (timedelta(hours=24), timedelta(days=30), timedelta(hours=5, minutes=13)):
            start = now - span
            day = window.totals_many(s, KEYS, start, now, ("count", "errors", "fallbacks", "latency_n",
                                                             *TOKEN_COLUMNS, "cost_usd"))
            month = window.totals_many(s, KEYS, start, now, ("fallbacks", "last_ts"))
            scored = window.scored_many(s, KEYS, start, now)
            # the pending deltas read once for 30 days serve every narrower window as its own read does
            pending = window.pending_many(s, KEYS, now - timedelta(days=30), now)
            assert window.totals_many(s, KEYS, start, now, ("count", "errors", "fallbacks", "latency_n",
                                                              *TOKEN_COLUMNS, "cost_usd"), pending) == day
            assert window.totals_many(s, KEYS, start, now, ("fallbacks", "last_ts"), pending) == month
            assert window.scored_many(s, KEYS, start, now, pending) == scored
            for key in KEYS:
                one = window.window_stats(s, key, None, start, now)
                assert (day[key]["count"], day[key]["errors"], day[key]["fallbacks"]) == \
                    (one.count, one.errors, one.fallbacks), (key, span)
                assert {k: day[key][c] for k, c in zip(TOKEN_KINDS, TOKEN_COLUMNS)} == one.tokens
                assert abs(day[key]["cost_usd"] - one.cost_usd) < 1e-9
                assert (month[key]["fallbacks"], month[key]["last_ts"]) == (one.fallbacks, one.last_ts)
                assert scored[key] == bool(one.scores), (key, span)
        last = window.last_event_many(s, KEYS)
        assert last == {k: window.last_event_at(s, k) for k in KEYS}
        assert last["win-a"] is not None and last["win-none"] is None
        since = now - timedelta(days=30)
        sent = telemetry_evidence.features_sent_many(s, {k: f"{k}:1" for k in KEYS}, since)
        for key in KEYS:
            raw = s.scalars(select(TelemetryEvent.data).where(TelemetryEvent.use_case == key,
                                                              TelemetryEvent.ts >= since)).all()
            assert sent[key] == sorted({n for d in raw for n in ((d or {}).get("features") or {})})
        assert sent["win-a"] == ["lang"]


def test_feedback_counts_equal_the_single_reads(factory) -> None:  # type: ignore[no-untyped-def]
    """counts_many (one statement: feedback naming the use case, and feedback naming only one of its requests)
    counts for each use case what feedback_for finds."""
    now = datetime.now(UTC).replace(second=17, microsecond=0)
    _ingest(factory, now)
    with factory() as s:
        requests = {key: s.scalars(select(TelemetryEvent.id).where(TelemetryEvent.use_case == key)
                                   .order_by(TelemetryEvent.id).limit(3)).all() for key in KEYS[:3]}
    with transaction(factory) as s:
        for u, key in enumerate(KEYS[:3]):
            for i in range(2 * u + 1):  # named the use case
                s.add(TelemetryFeedback(id=f"fb-{key}-{i}", use_case=key, rating=4,
                                        ts=now - timedelta(minutes=1, days=i * 9)))
            for i, rid in enumerate(requests[key][:3 - u]):  # named only a request of it
                s.add(TelemetryFeedback(id=f"orphan-{key}-{i}", request_id=rid, use_case="", rating=2,
                                        ts=now - timedelta(days=1 + i * 12)))
    with factory() as s:
        for span in (timedelta(days=30), timedelta(days=10), timedelta(hours=1)):
            counts = feedback.counts_many(s, KEYS, now - span, now)
            assert counts == {k: len(feedback.feedback_for(s, k, now - span, now)) for k in KEYS}, span
        assert feedback.counts_many(s, KEYS, now - timedelta(days=30), now) == \
            {"win-a": 1 + 3, "win-b": 3 + 2, "win-c": 4 + 1, "win-none": 0}


def test_portfolio_window_reads_equal_the_single_reads(factory) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC).replace(second=17, microsecond=0)
    _ingest(factory, now)
    with factory() as s:  # the first comparison has pending deltas of several windows to share
        assert sum(map(len, window.pending_many(s, KEYS, now - timedelta(days=30), now).values())) > 100
    _compare(factory, now)  # pending deltas
    compaction.compact_all(factory)
    _compare(factory, now)  # compacted into minute, hour and day rows
