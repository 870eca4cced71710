"""Rollup counters hold sums past 2^31 on both backends (PostgreSQL's int4 overflowed and stopped compaction)."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from takeoff.core.actor import Actor
from takeoff.core.db import transaction
from takeoff.telemetry import service
from takeoff.telemetry import compaction as telemetry_compaction
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.compaction import compact_all
from takeoff.telemetry.models import TelemetryRollup
from takeoff.telemetry.rollup import unit_key as _unit_key

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")

ACTOR = Actor("test", ("admin",))
PER_EVENT = 900_000_000  # tokens of one kind in one event; five of them pass 2^31 in one minute


def test_token_sums_past_int32_are_compacted_and_read_back(factory) -> None:
    # Ten minutes into the previous hour: the five events share one minute, one hour and one day row whatever the
    # clock says (time.time() - 120 let them straddle a minute boundary, and that minute's rows held fewer than five).
    now = float((int(time.time()) // 3600 - 1) * 3600 + 600)
    events = [{"id": uuid.uuid4().hex, "use_case": "counters-uc", "release": "counters-uc:1", "ts": now + i,
               "tokens": {"input": PER_EVENT, "output": 1, "cache_read": PER_EVENT, "cache_write": PER_EVENT,
                          "reasoning": PER_EVENT}} for i in range(5)]
    with transaction(factory) as s:
        assert service.ingest_events(s, ACTOR, events, late_s=86400, unit_key=TEST_UNIT_KEY) == (5, 0)
    compact_all(factory)
    with transaction(factory) as s:
        assert telemetry_compaction.pending_deltas(s) == 0
        rows = s.scalars(select(TelemetryRollup).where(TelemetryRollup.use_case == "counters-uc")).all()
        assert {r.grain for r in rows} >= {60, 3600}
        assert all(r.tokens_input == 5 * PER_EVENT and r.tokens_reasoning == 5 * PER_EVENT for r in rows)
        start = datetime.fromtimestamp(now - 60, UTC)
        stats = telemetry_window.window_stats(s, "counters-uc", None, start, start + timedelta(hours=1))
    assert stats.tokens["input"] == stats.tokens["cache_write"] == 5 * PER_EVENT > 2**31
    assert stats.count == 5
