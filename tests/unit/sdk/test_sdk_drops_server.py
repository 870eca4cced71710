"""The SDK's drop reports against the real app: what it dropped reaches the server's rollups once, by reason."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from takeoff.core.db import transaction
from takeoff.sdk import Client
from takeoff.telemetry import window as telemetry_window


def test_queue_full_and_refused_events_are_counted_by_the_server_once(app, users, factory):
    token = users.token(users.create("ai_engineer"))
    now = datetime.now(UTC)
    with TestClient(app) as tc:
        sdk = Client(str(tc.base_url), token, http_client=tc, flush_interval_s=30, max_queue=3,
                     backoff_base_s=0.01, backoff_max_s=0.05)  # batches go at flush()
        for i in range(5):  # the 4th and 5th find the queue full
            sdk.record("drops-e2e", ts=now - timedelta(minutes=1), release="drops-e2e:1", latency_ms=float(i))
        assert sdk.stats()["dropped"] == {"queue_full": 2}
        assert sdk.flush(20)
        sdk.record("drops-e2e", ts=now - timedelta(days=3), latency_ms=1.0)  # too late: 422 names it, dropped
        sdk.record("drops-e2e", ts=now, latency_ms=1.0)
        assert sdk.flush(20)
        s = sdk.stats()
        assert s["dropped"] == {"queue_full": 2, "http_422": 1} and s["drops_reported"] == 2
        assert s["drops_unreported"] == 1  # the 422 drop waits for a later stored batch
        sdk.record("drops-e2e", ts=now, latency_ms=2.0)
        assert sdk.flush(20)
        assert sdk.stats()["drops_reported"] == 3 and sdk.stats()["drops_unreported"] == 0
        sdk.close()
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "drops-e2e", None, now - timedelta(hours=1), now + timedelta(minutes=2))
        assert st.dropped == {"queue_full": 2, "http_422": 1} and st.count == 5
        one = telemetry_window.window_stats(s, "drops-e2e", "1", now - timedelta(hours=1), now + timedelta(minutes=2))
        assert one.dropped == {"queue_full": 2}  # reported under the dropped events' release
