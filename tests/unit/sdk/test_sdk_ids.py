"""Event and feedback ids are UUIDv7: valid RFC 9562 UUIDs whose order follows the time they were made."""
from __future__ import annotations

import time
import uuid

from takeoff.sdk import Client
from takeoff.sdk.ids import span_request_id, uuid7_hex


def test_uuid7_layout_carries_the_millisecond_and_random_bits():
    value = uuid.UUID(uuid7_hex(1_800_000_000_123))
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_800_000_000_123
    assert len({uuid7_hex(5) for _ in range(10_000)}) == 10_000  # same millisecond: the random bits differ


def test_an_otlp_spans_request_id_is_its_end_millisecond_trace_and_span():
    tid, sid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    rid = span_request_id(tid, sid, 1_800_000_000_123_456_789)
    assert rid == f"{1_800_000_000_123:012x}{tid}{sid}" and len(rid) == 60
    # ordered by end time whatever the random W3C ids; the time field clipped to its 48 bits, never negative
    assert span_request_id("f" * 32, "f" * 16, 1_000_000) < span_request_id("0" * 32, "0" * 16, 2_000_000)
    assert span_request_id(tid, sid, -5).startswith("0" * 12)
    assert span_request_id(tid, sid, 2**70).startswith("f" * 12)


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
