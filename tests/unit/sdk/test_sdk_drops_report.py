"""Drops of events reach the server: counted per (use case, release, reason), riding on the next stored batch.

The queue is filled deterministically: with flush_interval_s=30 and batch_size above max_queue the sender sleeps
until flush(), so the first max_queue submits are queued and the rest are dropped as queue_full.
"""
from __future__ import annotations

import logging
import uuid

from takeoff.sdk import Transport
from takeoff.sdk.transport import MAX_REPORT_COUNT, names_report, report_key


def event(use_case: str = "uc", release: str | None = None, unit: str = "u") -> dict:
    return {"id": uuid.uuid4().hex, "use_case": use_case, "release": release, "unit_id": unit, "ts": 1.0,
            "latency_ms": 1.0, "status": "ok", "outcome": None, "model": None, "provider": None, "tokens": {},
            "cost_usd": None, "scores": {}, "features": {}, "error_category": None, "fallback_reason": None,
            "attributes": {}}


def feedback(n: int = 0) -> dict:
    return {"id": f"f{n}", "request_id": "r1", "use_case": "uc", "rating": 5, "comment": None,
            "time_saved_s": None, "unit_id": None, "ts": 1.0}


def quiet_transport(url: str, max_queue: int, **kw) -> Transport:
    """A sender that sends only at flush(): nothing leaves the queue before, so drops are deterministic."""
    opts = dict(max_queue=max_queue, batch_size=max_queue + 10, flush_interval_s=30, backoff_base_s=0.01,
                backoff_max_s=0.05, timeout_s=2.0)
    opts.update(kw)
    return Transport(url, "tok", **opts)


def event_bodies(fake) -> list[dict]:
    return [body for path, body in fake.posts if path == "/api/v1/events"]


def as_counts(report: list[dict]) -> dict[tuple, int]:
    keys = [(e["use_case"], e["release"], e["reason"]) for e in report]
    assert len(keys) == len(set(keys))  # one entry per key in a batch
    return {(e["use_case"], e["release"], e["reason"]): e["count"] for e in report}


def first_answers(*codes: int):
    """A server that answers its first POSTs with these codes, then normally."""
    left = iter(codes)

    def respond(path: str, body: dict):
        code = next(left, None)
        return None if code is None else (code, {"detail": "failing on purpose"})
    return respond


def fill(t: Transport, queued: list[dict], dropped: list[dict], kind: str = "event") -> None:
    for e in queued:
        assert t.submit(kind, e)
    for e in dropped:
        assert not t.submit(kind, e)


def test_queue_full_drops_ride_on_the_next_batch_grouped_per_use_case_release_and_reason(fake_server):
    t = quiet_transport(fake_server.url, max_queue=2)
    fill(t, [event(), event()], [event("a", "a:1")] * 3 + [event("a", "a:2")] + [event("b")] * 2)
    s = t.stats()
    assert s["dropped"] == {"queue_full": 6} and s["drops_unreported"] == 6 and s["drops_reported"] == 0
    assert t.flush(10)
    [body] = event_bodies(fake_server)
    assert len(body["events"]) == 2
    assert as_counts(body["dropped"]) == {("a", "a:1", "queue_full"): 3, ("a", "a:2", "queue_full"): 1,
                                          ("b", None, "queue_full"): 2}
    assert set(body["dropped"][0]) == {"use_case", "release", "reason", "count"}
    s = t.stats()
    assert s["drops_reported"] == 6 and s["drops_unreported"] == 0 and s["dropped"] == {"queue_full": 6}
    t.submit("event", event())
    assert t.flush(10)
    assert "dropped" not in event_bodies(fake_server)[-1]  # reported once, not again
    t.close()


def test_a_retried_batch_carries_the_same_report_and_it_is_counted_once(fake_server):
    fake_server.respond = first_answers(503)
    t = quiet_transport(fake_server.url, max_queue=2)
    fill(t, [event(), event()], [event("a")] * 3)
    assert t.flush(10)
    first, second = event_bodies(fake_server)
    assert first == second and as_counts(first["dropped"]) == {("a", None, "queue_full"): 3}
    s = t.stats()
    assert s["retries"] == 1 and s["sent"] == 2
    assert s["drops_reported"] == 3 and s["drops_unreported"] == 0
    t.close()


def test_a_refused_batch_gives_its_report_back_to_the_next_batch_with_its_own_drops(fake_server):
    fake_server.respond = first_answers(400)
    t = quiet_transport(fake_server.url, max_queue=2)
    fill(t, [event("a", "a:1"), event("b")], [event("a", "a:1")] * 3)
    assert t.flush(10)
    s = t.stats()
    assert s["dropped"] == {"queue_full": 3, "http_400": 2}
    assert s["drops_reported"] == 0 and s["drops_unreported"] == 5
    t.submit("event", event())
    assert t.flush(10)
    refused, accepted = event_bodies(fake_server)
    assert as_counts(refused["dropped"]) == {("a", "a:1", "queue_full"): 3}
    assert as_counts(accepted["dropped"]) == {("a", "a:1", "queue_full"): 3, ("a", "a:1", "http_400"): 1,
                                              ("b", None, "http_400"): 1}
    s = t.stats()
    assert s["drops_reported"] == 5 and s["drops_unreported"] == 0
    t.close()


def test_a_batch_given_up_on_after_500s_never_gives_its_report_back(fake_server):
    """A 500 may come after the commit, so the report may be counted already: it is not sent again (the server
    would count it twice); the batch's own http_500 drops go with the next batch."""
    fake_server.respond = lambda path, body: ((500, {"detail": "boom"})
                                              if any(e["unit_id"] == "poison" for e in body["events"]) else None)
    t = quiet_transport(fake_server.url, max_queue=1, max_error_attempts=2)
    fill(t, [event(unit="poison")], [event("a")] * 2)
    assert t.flush(10)
    assert t.stats()["drops_unreported"] == 1 and t.stats()["drops_reported"] == 2
    t.submit("event", event())
    assert t.flush(10)
    assert as_counts(event_bodies(fake_server)[-1]["dropped"]) == {("uc", None, "http_500"): 1}
    assert t.stats()["drops_reported"] == 3
    t.close()


def test_entries_the_server_would_refuse_are_never_reported(fake_server):
    """A NUL (PostgreSQL refuses it), a lone surrogate (httpx cannot encode it), a digits release too long once
    qualified: such an entry riding on every batch would get each one refused or stripped of its report."""
    t = quiet_transport(fake_server.url, max_queue=1)
    fill(t, [event("ok")], [event("nul\x00"), event("lone\ud800"), event("u" * 64, release="9" * 40),
                            event("fine", release="fine:\x00")])
    assert t.flush(10)
    assert as_counts(event_bodies(fake_server)[0]["dropped"]) == {("fine", None, "queue_full"): 1,
                                                                  ("u" * 64, None, "queue_full"): 1}
    assert t.stats()["drops_reported"] == 2 and t.stats()["dropped"] == {"queue_full": 4}
    t.close()


def test_422_naming_a_bad_event_drops_it_and_resends_the_rest_with_the_same_report(fake_server):
    def respond(path, body):
        bad = [i for i, e in enumerate(body["events"]) if e["latency_ms"] < 0]
        if not bad:
            return None
        return 422, {"error": {"code": "invalid", "message": "bad", "details": [
            {"field": f"events.{i}.latency_ms", "message": "must be >= 0"} for i in bad]}}

    fake_server.respond = respond
    t = quiet_transport(fake_server.url, max_queue=3)
    events = [event(unit="0"), dict(event("x", "x:1"), latency_ms=-1.0), event(unit="2")]
    fill(t, events, [event("a")] * 2)
    assert t.flush(10)
    refused, resent = event_bodies(fake_server)
    assert [e["id"] for e in resent["events"]] == [events[0]["id"], events[2]["id"]]
    assert resent["dropped"] == refused["dropped"] and as_counts(resent["dropped"]) == {("a", None, "queue_full"): 2}
    assert set(fake_server.events) == {events[0]["id"], events[2]["id"]}
    s = t.stats()
    assert s["dropped"] == {"queue_full": 2, "http_422": 1} and s["sent"] == 2
    assert s["drops_reported"] == 2 and s["drops_unreported"] == 1  # the bad event's drop waits for a later batch
    t.submit("event", event())
    assert t.flush(10)
    assert as_counts(event_bodies(fake_server)[-1]["dropped"]) == {("x", "x:1", "http_422"): 1}
    assert t.stats()["drops_unreported"] == 0 and t.stats()["drops_reported"] == 3
    t.close()


def test_422_naming_every_event_gives_the_report_back(fake_server):
    fake_server.respond = lambda path, body: (422, {"error": {"code": "invalid", "message": "bad", "details": [
        {"field": f"events.{i}.ts", "message": "too late"} for i in range(len(body["events"]))]}})
    t = quiet_transport(fake_server.url, max_queue=2)
    fill(t, [event(), event()], [event("a")])
    assert t.flush(10)
    assert len(event_bodies(fake_server)) == 1
    s = t.stats()
    assert s["dropped"] == {"queue_full": 1, "http_422": 2} and s["drops_unreported"] == 3
    assert s["drops_reported"] == 0
    t.close()


def test_422_naming_the_report_resends_the_events_without_it_and_discards_it(fake_server, caplog):
    def respond(path, body):
        if "dropped" in body:
            return 422, {"error": {"code": "invalid", "message": "bad report", "details": [
                {"field": "dropped.0.count", "message": "too big"}]}}
        return None

    fake_server.respond = respond
    t = quiet_transport(fake_server.url, max_queue=2)
    events = [event(), event()]
    fill(t, events, [event("a")] * 2)
    with caplog.at_level(logging.WARNING, logger="takeoff.sdk"):
        assert t.flush(10)
        fill(t, [event(), event()], [event("b")] * 2)
        assert t.flush(10)
    bodies = event_bodies(fake_server)
    assert ["dropped" in b for b in bodies] == [True, False, True, False]
    assert bodies[1]["events"] == bodies[0]["events"]
    assert len(fake_server.events) == 4
    s = t.stats()
    assert s["sent"] == 4 and s["dropped"] == {"queue_full": 4}  # no event was dropped for the report
    assert s["drops_reported"] == 0 and s["drops_unreported"] == 0
    assert len([r for r in caplog.records if "drop report" in r.getMessage()]) == 1
    t.close()


def test_feedback_drops_and_drops_at_exit_are_not_reported(fake_server):
    t = quiet_transport(fake_server.url, max_queue=2)
    assert t.submit("event", event()) and t.submit("feedback", feedback(1))
    assert not t.submit("feedback", feedback(2)) and not t.submit("feedback", feedback(3))
    assert t.stats()["dropped"] == {"queue_full": 2} and t.stats()["drops_unreported"] == 0
    assert t.flush(10)
    assert all("dropped" not in b for b in event_bodies(fake_server))
    t.close()
    fake_server.stop()
    t = quiet_transport(fake_server.url, max_queue=5)
    for _ in range(3):
        assert t.submit("event", event())
    t.close(timeout_s=0.2)
    assert not t.submit("event", event())
    s = t.stats()
    assert s["dropped"] == {"unsent_at_exit": 3, "client_closed": 1}
    assert s["drops_unreported"] == 0 and s["drops_reported"] == 0


def test_drops_whose_use_case_cannot_be_reported_are_skipped_and_bad_releases_sent_as_null(fake_server):
    t = quiet_transport(fake_server.url, max_queue=1)
    unreportable = [event("x" * 65), dict(event(), use_case=7), {k: v for k, v in event().items() if k != "use_case"},
                    event("")]
    fill(t, [event()], unreportable + [event("y" * 64, "r" * 101), dict(event("z"), release=5), event("w", "r" * 100)])
    s = t.stats()
    assert s["dropped"] == {"queue_full": 7} and s["drops_unreported"] == 3
    assert t.flush(10)
    [body] = event_bodies(fake_server)
    assert as_counts(body["dropped"]) == {("y" * 64, None, "queue_full"): 1, ("z", None, "queue_full"): 1,
                                          ("w", "r" * 100, "queue_full"): 1}
    assert t.stats()["drops_reported"] == 3
    t.close()


def test_report_key_bounds_use_case_release_and_reason():
    assert report_key("queue_full", {"use_case": "uc", "release": "uc:1"}) == ("uc", "uc:1", "queue_full")
    assert report_key("unsendable:" + "E" * 100, {"use_case": "uc"}) == ("uc", None, ("unsendable:" + "E" * 100)[:64])
    assert report_key("queue_full", {"use_case": "u" * 65}) is None
    assert report_key("queue_full", "not a dict") is None
    assert names_report({"error": {"details": [{"field": "events.0.ts"}, {"field": "dropped.3.reason"}]}})
    assert names_report({"error": {"details": [{"field": "dropped", "message": "needs an event"}]}})
    assert not names_report({"error": {"details": [{"field": "events.0.ts"}, {"field": "droppedx"}]}})
    assert not names_report({"detail": "x"}) and not names_report(None)


def test_counts_above_a_billion_are_split_over_batches(fake_server):
    t = quiet_transport(fake_server.url, max_queue=5)
    with t._lock:  # as many drops as no test can make: put them straight into the unreported counts
        t._unreported[("uc", None, "queue_full")] = 2 * MAX_REPORT_COUNT + 5
        t._stats.drops_unreported += 2 * MAX_REPORT_COUNT + 5
    counts = []
    for _ in range(3):
        t.submit("event", event())
        assert t.flush(10)
        counts.append(event_bodies(fake_server)[-1]["dropped"][0]["count"])
    assert counts == [MAX_REPORT_COUNT, MAX_REPORT_COUNT, 5]
    assert t.stats()["drops_reported"] == 2 * MAX_REPORT_COUNT + 5 and t.stats()["drops_unreported"] == 0
    t.close()


def test_at_most_100_entries_per_batch_the_rest_wait_for_the_next(fake_server):
    t = quiet_transport(fake_server.url, max_queue=1)
    fill(t, [event()], [event(f"uc{i}") for i in range(150)])
    assert t.flush(10)
    first = event_bodies(fake_server)[-1]["dropped"]
    assert len(first) == 100 and t.stats()["drops_reported"] == 100 and t.stats()["drops_unreported"] == 50
    t.submit("event", event())
    assert t.flush(10)
    second = event_bodies(fake_server)[-1]["dropped"]
    assert len(second) == 50
    assert {e["use_case"] for e in first + second} == {f"uc{i}" for i in range(150)}
    assert t.stats()["drops_reported"] == 150 and t.stats()["drops_unreported"] == 0
    t.close()


def test_a_report_on_a_batch_that_stores_nothing_new_waits_for_the_next(fake_server):
    t = quiet_transport(fake_server.url, max_queue=1)
    known = event()
    t.submit("event", known)
    assert t.flush(10)
    fill(t, [dict(known)], [event("a")])  # an import run again: the server already has this event
    assert t.flush(10)
    assert t.stats()["duplicates"] == 1 and t.stats()["drops_unreported"] == 1  # the server did not count it
    t.submit("event", event())
    assert t.flush(10)
    bodies = event_bodies(fake_server)
    assert bodies[1]["dropped"] == bodies[2]["dropped"] == [
        {"use_case": "a", "release": None, "reason": "queue_full", "count": 1}]
    assert t.stats()["drops_reported"] == 1 and t.stats()["drops_unreported"] == 0
    t.close()


def test_records_drops_are_reported_and_feedback_batches_carry_none(fake_server):
    t = quiet_transport(fake_server.url, max_queue=2)
    assert t.submit("record", event("r")) and t.submit("feedback", feedback())
    assert not t.submit("record", event("r", "r:1"))
    assert t.flush(10)
    [body] = event_bodies(fake_server)
    assert as_counts(body["dropped"]) == {("r", "r:1", "queue_full"): 1}
    assert all("dropped" not in b for p, b in fake_server.posts if p == "/api/v1/feedback")
    t.close()


def test_the_unreported_counts_start_empty_in_a_forked_child(fake_server):
    t = quiet_transport(fake_server.url, max_queue=1)
    fill(t, [event()], [event("a")])
    assert t.stats()["drops_unreported"] == 1
    t._after_fork_in_child()  # what the os.register_at_fork hook runs in the child
    assert t._unreported == {} and t.stats()["drops_unreported"] == 0 and t.stats()["drops_reported"] == 0
