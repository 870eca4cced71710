"""Concurrent batches into the same rollup buckets lose no update (row locks on PostgreSQL, one writer on SQLite)."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction
from takeoff.telemetry import service
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.rollup import unit_key as _unit_key

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")


def test_parallel_batches_with_overlapping_ids_count_each_event_once(factory):
    now = time.time()
    shared = [uuid.uuid4().hex for _ in range(50)]  # every thread also resends these
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for b in range(5):
                ids = [uuid.uuid4().hex for _ in range(40)] + shared
                events = [{"id": i, "use_case": "race", "release": "race:1", "unit_id": f"u{j % 9}", "ts": now - j % 3,
                           "latency_ms": 10.0, "status": "ok"} for j, i in enumerate(ids)]
                with transaction(factory) as s:
                    service.ingest_events(s, SYSTEM, events, late_s=3600, unit_key=TEST_UNIT_KEY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "race", None, datetime.now(UTC) - timedelta(hours=1),
                                  datetime.now(UTC) + timedelta(minutes=1))
    assert st.count == 4 * 5 * 40 + 50
    assert sum(st.latency_counts) == st.count and st.active_units == 9
