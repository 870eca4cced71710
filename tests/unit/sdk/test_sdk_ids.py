"""Event and feedback ids are UUIDv7: valid RFC 9562 UUIDs whose order follows the time they were made."""
from __future__ import annotations

import time
import uuid

from takeoff.sdk import Client
from takeoff.sdk.ids import uuid7_hex


def test_uuid7_layout_carries_the_millisecond_and_random_bits():
    value = uuid.UUID(uuid7_hex(1_800_000_000_123))
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_800_000_000_123
    assert len({uuid7_hex(5) for _ in range(10_000)}) == 10_000  # same millisecond: the random bits differ


def test_ids_made_later_sort_later():
    first = [uuid7_hex() for _ in range(200)]
    time.sleep(0.003)
    later = [uuid7_hex() for _ in range(200)]
    assert max(first) < min(later)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first + later)


def test_tracked_events_and_feedback_use_time_ordered_ids():
    sent: list[dict] = []
    client = Client("http://127.0.0.1:9", "tok", max_queue=100)
    client.transport.submit = lambda kind, item: sent.append(item)  # type: ignore[method-assign]
    with client.track("uc") as t1:
        pass
    time.sleep(0.002)
    with client.track("uc") as t2:
        pass
    time.sleep(0.002)
    fid = client.feedback(t1.request_id, rating=5)
    for rid in (t1.request_id, t2.request_id, fid):
        assert uuid.UUID(rid).version == 7
    assert t1.request_id < t2.request_id < fid
    assert [e["id"] for e in sent] == [t1.request_id, t2.request_id, fid]
    client.close()
