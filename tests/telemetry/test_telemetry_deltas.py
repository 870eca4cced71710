"""Rollup deltas: ingestion appends, the compactor merges; every read is the same before and after compaction."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from takeoff.core.actor import Actor
from takeoff.core.db import transaction
from takeoff.telemetry import service
from takeoff.telemetry import compaction as telemetry_compaction
from takeoff.telemetry import overview as telemetry_overview
from takeoff.telemetry import series as telemetry_series
from takeoff.telemetry import store as telemetry_store
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.compaction import Compactor, compact_all
from takeoff.telemetry.rollup import unit_key as _unit_key

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")

ACTOR = Actor("test", ("admin",))


def _events(n: int, start: float, spread_s: float, release: str = "1") -> list[dict]:
    return [{"id": uuid.uuid4().hex, "use_case": "deltas-uc", "release": f"deltas-uc:{release}", "unit_id": f"u{i % 9}",
             "ts": start + spread_s * i / n, "latency_ms": 50.0 + i % 400, "status": "error" if i % 10 == 0 else "ok",
             "outcome": "overridden" if i % 7 == 0 else "success", "tokens": {"input": 10, "output": 2},
             "cost_usd": 0.001 * (1 + i % 3), "scores": {"q": (i % 5) / 4}, "features": {"lang": "en" if i % 2 else "de"},
             "attributes": {}} for i in range(n)]


def _ingest(factory, events: list[dict]) -> None:
    for i in range(0, len(events), 300):
        with transaction(factory) as s:
            service.ingest_events(s, ACTOR, events[i:i + 300], late_s=3 * 86400, unit_key=TEST_UNIT_KEY)


def _reads(factory, start: datetime, end: datetime) -> dict:
    with transaction(factory) as s:
        return {
            "window": asdict(telemetry_window.window_stats(s, "deltas-uc", None, start, end)),
            "release": asdict(telemetry_window.window_stats(s, "deltas-uc", "deltas-uc:2", start, end)),
            "series": telemetry_series.series_many(s, "deltas-uc", ["throughput", "error_rate", "latency_p95", "cost_per_task",
                                                          "override_rate", "active_users", "repeat_users", "quality_q"],
                                          start, end, 3600),
            "releases": telemetry_window.releases_in_window(s, "deltas-uc", start, end),
            "last": telemetry_window.last_event_at(s, "deltas-uc"),
            "overview": [o for o in telemetry_overview.overview(s, start, end) if o["use_case"] == "deltas-uc"],
        }


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v) for v in value)
    return value


def test_reads_are_the_same_before_and_after_compaction(factory) -> None:
    now = time.time()
    events = _events(1500, now - 2 * 86400, 2 * 86400 - 120) + _events(200, now - 600, 500, release="2")
    _ingest(factory, events)
    start, end = datetime.fromtimestamp(now - 3 * 86400, UTC), datetime.fromtimestamp(now + 60, UTC)
    with transaction(factory) as s:
        pending = telemetry_compaction.pending_deltas(s)
    assert pending > 100  # two days of events spread over many minutes: one delta per minute and release
    before = _reads(factory, start, end)
    assert before["window"]["count"] == 1700 and before["release"]["count"] == 200
    assert before["releases"] == ["deltas-uc:1", "deltas-uc:2"]
    assert before["overview"][0]["count"] == 1700
    merged = compact_all(factory, chunk=97)  # several chunks
    assert merged == pending
    with transaction(factory) as s:
        assert telemetry_compaction.pending_deltas(s) == 0
    after = _reads(factory, start, end)
    assert _rounded(after) == _rounded(before)  # sums taken in another order differ in the last float bits


def test_half_compacted_reads_count_each_event_once(factory) -> None:
    now = time.time()
    _ingest(factory, _events(600, now - 7200, 7000))
    with transaction(factory) as s:
        telemetry_compaction.compact_rollups(s, limit=10)  # some deltas merged, most pending
        assert telemetry_compaction.pending_deltas(s) > 0
    start, end = datetime.fromtimestamp(now - 86400, UTC), datetime.fromtimestamp(now + 60, UTC)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "deltas-uc", None, start, end)
        assert st.count == 600 and st.errors == 60
        points = telemetry_series.series(s, "deltas-uc", "throughput", start, end, 86400 * 2)
        assert sum(v or 0 for _, v in points) * (86400 * 2 / 60) == pytest.approx(600)


def test_compactor_thread_drains_deltas_and_stops(factory) -> None:
    _ingest(factory, _events(300, time.time() - 3000, 2900))
    stop = threading.Event()
    c = Compactor(factory, stop, interval_s=0.05)
    c.start()
    deadline = time.time() + 20
    while time.time() < deadline:
        with transaction(factory) as s:
            if telemetry_compaction.pending_deltas(s) == 0:
                break
        time.sleep(0.05)
    stop.set()
    c.join(timeout=10)
    assert not c.is_alive()
    with transaction(factory) as s:
        assert telemetry_compaction.pending_deltas(s) == 0
        st = telemetry_window.window_stats(s, "deltas-uc", None, datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC))
        assert st.count == 300


def test_compact_limit_is_validated(factory) -> None:
    with transaction(factory) as s:
        for bad in (0, -1, True, 1.5, "10"):
            with pytest.raises(ValueError, match="limit"):
                telemetry_compaction.compact_rollups(s, bad)


def test_postgres_copy_refused_by_a_concurrent_duplicate_falls_back_to_on_conflict(factory, engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    ev = _events(3, time.time(), 1)
    with transaction(factory) as s:
        service.ingest_events(s, ACTOR, ev[:1], late_s=3600, unit_key=TEST_UNIT_KEY)
    with transaction(factory) as s:
        rows, _ = service._prepare({e["id"]: e for e in ev}, set(), {}, None, "json", telemetry_store.POSTGRES, TEST_UNIT_KEY)
        # the first id "appears" between the existence check and the COPY, as when another process stores it
        real = s.connection().exec_driver_sql

        def blind_check(sql, *args, **kw):
            if sql.startswith("SELECT id FROM telemetry_events"):
                return real("SELECT id FROM telemetry_events WHERE false AND id = ANY(%s)", *args, **kw)
            return real(sql, *args, **kw)

        conn = s.connection()
        conn.exec_driver_sql = blind_check  # type: ignore[method-assign]
        stored = telemetry_store.POSTGRES.insert_events(s, rows)
    assert stored == {ev[1]["id"], ev[2]["id"]}
    with transaction(factory) as s:
        from sqlalchemy import func, select

        from takeoff.telemetry.models import TelemetryEvent

        assert s.scalar(select(func.count()).select_from(TelemetryEvent).where(TelemetryEvent.use_case == "deltas-uc")) == 3


def test_metrics_expose_pending_deltas(client, users, factory) -> None:
    import re

    h = users.headers("ai_engineer")
    r = client.post("/api/v1/events", json={"events": _events(50, time.time() - 1800, 1500)}, headers=h)
    assert r.status_code == 200, r.text

    def gauge() -> float:
        m = re.search(r"^takeoff_rollup_deltas_pending (\S+)$", client.get("/metrics").text, re.M)
        assert m, "gauge missing"
        return float(m.group(1))

    assert gauge() > 0  # the test app runs no compactor
    compact_all(factory)
    assert gauge() == 0


def test_a_backfill_over_thousands_of_minutes_is_one_ingest(factory) -> None:
    now = time.time()
    events = _events(12_000, now - 11 * 86400, 10 * 86400)  # one event every 72 s: 12k minutes, 12k deltas
    with transaction(factory) as s:
        assert service.ingest_events(s, ACTOR, events, late_s=12 * 86400, unit_key=TEST_UNIT_KEY) == (12_000, 0)
    with transaction(factory) as s:
        assert telemetry_compaction.pending_deltas(s) == 12_000
        st = telemetry_window.window_stats(s, "deltas-uc", None, datetime.fromtimestamp(now - 12 * 86400, UTC),
                                  datetime.fromtimestamp(now, UTC))
        assert st.count == 12_000


def test_sqlite_insert_refused_by_a_concurrent_duplicate_checks_again_under_the_lock(factory, engine, monkeypatch) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the optimistic insert is SQLite's")
    ev = _events(4, time.time() - 5, 1)  # in the past: the read below ends at now
    with transaction(factory) as s:
        service.ingest_events(s, ACTOR, ev[1:2], late_s=3600, unit_key=TEST_UNIT_KEY)
    real = telemetry_store._stored_ids
    calls = []

    def blind_snapshot(session, ids):  # the read snapshot predates the other batch's commit
        calls.append(len(ids))
        return set() if len(calls) == 1 else real(session, ids)

    monkeypatch.setattr(telemetry_store, "_stored_ids", blind_snapshot)
    with transaction(factory) as s:
        assert service.ingest_events(s, ACTOR, ev, late_s=3600, unit_key=TEST_UNIT_KEY) == (3, 1)
    assert len(calls) == 2  # the refused insert asked again, inside the write transaction
    compact_all(factory)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "deltas-uc", None, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
        assert st.count == 4  # each event once in the rollups, the duplicate not folded twice


def test_portfolio_reads_match_the_single_use_case_reads(factory) -> None:
    """totals_many / last_event_many (readiness for every use case at once) give window_stats' and last_event_at's
    figures, with deltas pending and after compaction; a use case without telemetry gets zeros and None."""
    now = time.time()
    _ingest(factory, _events(400, now - 2 * 86400, 2 * 86400 - 120) + _events(50, now - 300, 200, release="2"))
    start, end = datetime.fromtimestamp(now - 30 * 86400, UTC), datetime.fromtimestamp(now + 60, UTC)
    for compact in (False, True):
        if compact:
            compact_all(factory)
        with transaction(factory) as s:
            one = telemetry_window.window_stats(s, "deltas-uc", None, start, end)
            many = telemetry_window.totals_many(s, ["deltas-uc", "quiet-uc"], start, end,
                                                ("count", "errors", "fallbacks", "cost_usd", "last_ts", "scores"))
            assert many["deltas-uc"]["count"] == one.count == 450 and many["deltas-uc"]["errors"] == one.errors
            assert many["deltas-uc"]["cost_usd"] == pytest.approx(one.cost_usd)
            assert many["deltas-uc"]["last_ts"] == one.last_ts
            assert _rounded({k: tuple(v) for k, v in many["deltas-uc"]["scores"].items()}) == _rounded(one.scores)
            assert many["quiet-uc"]["count"] == 0 and many["quiet-uc"]["last_ts"] is None
            last = telemetry_window.last_event_many(s, ["deltas-uc", "quiet-uc"])
            assert last == {"deltas-uc": telemetry_window.last_event_at(s, "deltas-uc"), "quiet-uc": None}
            assert last["deltas-uc"] is not None
