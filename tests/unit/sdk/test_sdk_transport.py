"""Background delivery: server down then up, bounded queue, 4xx not retried, 500 given up on, 422 split, exit flush."""
from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import textwrap
import uuid

import pytest

from takeoff.sdk import Transport, backoff_delay, classify_status
from takeoff.sdk.transport import named_bad_events


def event(n: int = 0) -> dict:
    return {"id": uuid.uuid4().hex, "use_case": "uc", "release": None, "unit_id": f"u{n}", "ts": 1.0,
            "latency_ms": 1.0, "status": "ok", "outcome": None, "model": None, "provider": None, "tokens": {},
            "cost_usd": None, "scores": {}, "features": {}, "error_category": None, "fallback_reason": None,
            "attributes": {}}


def fast_transport(url: str, **kw) -> Transport:
    opts = dict(flush_interval_s=0.02, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=2.0)
    opts.update(kw)
    return Transport(url, "tok", **opts)


def test_events_sent_in_batches_with_bearer_token(fake_server):
    t = fast_transport(fake_server.url, batch_size=10)
    for i in range(25):
        assert t.submit("event", event(i))
    assert t.flush(10)
    assert len(fake_server.events) == 25
    assert fake_server.event_posts >= 3
    assert set(fake_server.auth) == {"Bearer tok"}
    assert t.stats()["sent"] == 25
    t.close()


def test_server_down_then_up_delivers_each_event_exactly_once(fake_server):
    fake_server.fail_code = 503  # first the server errors ...
    t = fast_transport(fake_server.url, batch_size=7)
    sent = [event(i) for i in range(30)]
    for e in sent[:15]:
        t.submit("event", e)
    assert not t.flush(0.3)
    fake_server.stop()           # ... then it is down (connection refused)
    for e in sent[15:]:
        t.submit("event", e)
    assert not t.flush(0.3)
    assert t.stats()["retries"] > 0
    fake_server.fail_code = None
    fake_server.start()          # back on the same port
    assert t.flush(20)
    assert set(fake_server.events) == {e["id"] for e in sent}
    s = t.stats()
    assert s["sent"] == 30 and s["dropped_total"] == 0 and s["queue_size"] == 0
    t.close()


def test_4xx_batch_is_refused_once_and_counted_as_dropped(fake_server):
    fake_server.fail_code = 400
    t = fast_transport(fake_server.url, flush_interval_s=30)  # one batch: it goes out at flush()
    for i in range(5):
        t.submit("event", event(i))
    assert t.flush(10)
    assert len(fake_server.auth) == 1            # one request, no retry
    assert t.stats()["dropped"] == {"http_400": 5}
    assert t.stats()["retries"] == 0
    t.close()


@pytest.mark.parametrize("code", [429, 408, 502, 503, 504])
def test_retryable_codes_are_retried_until_accepted(fake_server, code):
    fake_server.fail_code = code
    t = fast_transport(fake_server.url)
    t.submit("event", event())
    assert not t.flush(0.3)
    fake_server.fail_code = None
    assert t.flush(10)
    assert len(fake_server.events) == 1 and t.stats()["retries"] >= 1
    t.close()


def test_bounded_queue_drops_are_counted_and_put_never_waits(fake_server):
    fake_server.hang.set()  # the sender gets stuck on its first request
    t = fast_transport(fake_server.url, max_queue=10, batch_size=1, timeout_s=30)
    accepted = [t.submit("event", event(i)) for i in range(200)]
    # every submit returned although the server does not answer: the caller never waits
    s = t.stats()
    assert s["dropped"]["queue_full"] == accepted.count(False)
    assert accepted.count(False) >= 200 - 11
    assert s["queue_size"] <= 10
    fake_server.release.set()
    assert t.flush(20)
    assert len(fake_server.events) == accepted.count(True)
    t.close()


def test_feedback_goes_to_its_own_endpoint(fake_server):
    t = fast_transport(fake_server.url)
    t.submit("feedback", {"id": "f1", "request_id": "r1", "use_case": "uc", "rating": 5, "comment": None,
                          "time_saved_s": 30.0, "unit_id": None, "ts": 1.0})
    t.submit("event", event())
    assert t.flush(10)
    assert fake_server.feedback["f1"]["rating"] == 5 and len(fake_server.events) == 1
    t.close()


def test_close_counts_unsendable_events_as_dropped(fake_server):
    fake_server.stop()
    t = fast_transport(fake_server.url)
    for i in range(3):
        t.submit("event", event(i))
    t.close(timeout_s=0.2)
    assert t.stats()["dropped"] == {"unsent_at_exit": 3}
    assert not t.submit("event", event())
    assert t.stats()["dropped"]["client_closed"] == 1


def test_pending_events_are_flushed_at_interpreter_exit(fake_server, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(f"""
        from takeoff.sdk import Client
        client = Client({fake_server.url!r}, "tok", flush_interval_s=60)
        for i in range(50):
            with client.track("uc", unit_id=f"u{{i}}") as t:
                t.set_tokens(input=10, output=2)
        # no flush, no close: the atexit hook must deliver them
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(fake_server.events) == 50
    assert {e["tokens"]["input"] for e in fake_server.events.values()} == {10}


def test_backoff_grows_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.5, 30, rng) for a in range(1, 12)]
    assert 0.25 <= delays[0] <= 0.5
    assert 2 <= delays[3] <= 4
    assert all(d <= 30 for d in delays) and delays[-1] >= 15
    assert len({backoff_delay(3, 0.5, 30, rng) for _ in range(10)}) > 1


def test_classify_status():
    codes = (200, 202, 400, 401, 404, 408, 413, 422, 429, 500, 501, 502, 503, 504)
    assert [classify_status(c) for c in codes] == [
        "ok", "ok", "refused", "refused", "refused", "retry", "refused", "refused", "retry", "error", "error",
        "retry", "retry", "retry"]


def _poison(status: int, message: str = "boom: cannot store this batch"):
    """A server that always refuses, with `status`, any event batch holding an event of unit 'poison'."""
    def respond(path: str, body: dict):
        if path == "/api/v1/events" and any(e["unit_id"] == "poison" for e in body["events"]):
            return status, {"error": {"code": "internal", "message": message, "details": []}}
        return None
    return respond


def _batches_with(fake, unit: str) -> int:
    return sum(1 for path, body in fake.posts if path == "/api/v1/events"
               and any(e["unit_id"] == unit for e in body["events"]))


def test_batch_always_refused_with_500_is_dropped_after_bounded_attempts(fake_server, caplog):
    fake_server.respond = _poison(500)
    t = fast_transport(fake_server.url, batch_size=1, max_error_attempts=3)
    poison = dict(event(), unit_id="poison")
    t.submit("event", poison)
    later = [event(i) for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="takeoff.sdk"):
        for e in later:
            t.submit("event", e)
        assert t.flush(10)                       # the poison batch no longer blocks the queue
    assert _batches_with(fake_server, "poison") == 3
    assert set(fake_server.events) == {e["id"] for e in later}
    s = t.stats()
    assert s["dropped"] == {"http_500": 1} and s["sent"] == 20 and s["retries"] == 2
    assert s["last_refusal"]["status"] == 500 and "cannot store this batch" in s["last_refusal"]["message"]
    assert (s["last_refusal"]["items"], s["last_refusal"]["attempts"]) == (1, 3)
    warnings = [r.getMessage() for r in caplog.records if "http_500" in r.getMessage()]
    assert len(warnings) == 1 and "HTTP 500" in warnings[0] and "cannot store this batch" in warnings[0]
    t.close()


def test_default_error_limit_is_five_attempts(fake_server):
    fake_server.respond = _poison(500)
    t = fast_transport(fake_server.url)
    t.submit("event", dict(event(), unit_id="poison"))
    assert t.flush(10)
    assert _batches_with(fake_server, "poison") == 5 and t.stats()["dropped"] == {"http_500": 1}
    t.close()


def test_transient_answers_are_retried_past_the_error_limit(fake_server):
    answers = iter([503, 502, 504, 429, 503, 503, 502])  # more transient failures than max_error_attempts

    def respond(path: str, body: dict):
        code = next(answers, None)
        return None if code is None else (code, {"detail": "overloaded"})

    fake_server.respond = respond
    t = fast_transport(fake_server.url, max_error_attempts=2)
    e = event()
    t.submit("event", e)
    assert t.flush(10)
    assert set(fake_server.events) == {e["id"]}
    assert t.stats()["dropped_total"] == 0 and t.stats()["retries"] == 7
    t.close()


def _late_after(cutoff: float):
    """A server that refuses, like takeoff, a batch holding events older than cutoff: 422 naming each of them."""
    def respond(path: str, body: dict):
        bad = [i for i, e in enumerate(body["events"]) if e["ts"] < cutoff]
        if not bad:
            return None
        details = [{"field": f"events.{i}.ts", "message": "event is later than the allowed lateness"} for i in bad]
        return 422, {"error": {"code": "invalid", "message": "too late", "details": details}}
    return respond


def test_422_naming_bad_events_drops_only_those_and_resends_the_rest(fake_server):
    fake_server.respond = _late_after(100.0)
    t = fast_transport(fake_server.url, flush_interval_s=30)  # all in one batch, sent at flush()
    events = [dict(event(i), ts=50.0 if i % 4 == 0 else 200.0) for i in range(12)]
    for e in events:
        t.submit("record", e)
    assert t.flush(10)
    assert set(fake_server.events) == {e["id"] for e in events if e["ts"] == 200.0}
    s = t.stats()
    assert s["dropped"] == {"http_422": 3} and s["sent"] == 9 and s["retries"] == 0
    assert s["last_refusal"]["items"] == 3 and "events.0.ts" in s["last_refusal"]["message"]
    t.close()


def test_422_that_does_not_name_its_events_drops_the_batch_whole(fake_server):
    fake_server.respond = lambda path, body: (422, {"error": {"code": "invalid", "message": "bad batch",
                                                              "details": [{"field": "events", "message": "?"}]}})
    t = fast_transport(fake_server.url, flush_interval_s=30)
    for i in range(4):
        t.submit("event", event(i))
    assert t.flush(10)
    assert len(fake_server.posts) == 1 and t.stats()["dropped"] == {"http_422": 4}
    t.close()


def test_named_bad_events_is_only_trusted_when_every_detail_names_an_event():
    def answer(*fields):
        return {"error": {"details": [{"field": f, "message": "m"} for f in fields]}}

    assert named_bad_events(answer("events.3.ts", "events.1.tokens.input", "events.3.id"), 5) == [1, 3]
    assert named_bad_events(answer("events.4"), 5) == [4]
    assert named_bad_events(answer("events.5.ts"), 5) is None          # past the batch
    assert named_bad_events(answer("events.1.ts", "body"), 5) is None   # one detail names no event
    assert named_bad_events(answer("events"), 5) is None
    assert named_bad_events(answer(), 5) is None
    assert named_bad_events({"detail": "x"}, 5) is None and named_bad_events([1], 5) is None


def test_feedback_is_queued_and_retried_while_the_server_is_down(fake_server):
    fake_server.stop()
    t = fast_transport(fake_server.url)
    t.submit("feedback", {"id": "f9", "request_id": "r1", "use_case": "uc", "rating": 2, "comment": None,
                          "time_saved_s": None, "unit_id": None, "ts": 1.0})
    assert not t.flush(0.3) and t.stats()["retries"] > 0
    fake_server.start()
    assert t.flush(10)
    assert fake_server.feedback["f9"]["rating"] == 2 and t.stats()["dropped_total"] == 0
    t.close()


@pytest.mark.parametrize("kwargs", [dict(url="ftp://x"), dict(url=""), dict(max_queue=0), dict(batch_size=1001),
                                    dict(flush_interval_s=0), dict(token=None), dict(max_error_attempts=0)])
def test_bad_transport_settings_raise_value_error(kwargs):
    args = dict(url="http://127.0.0.1:1", token="t")
    args.update(kwargs)
    with pytest.raises(ValueError):
        Transport(args.pop("url"), args.pop("token"), **args)


def test_bad_submit_raises_value_error():
    t = Transport("http://127.0.0.1:1", "t")
    with pytest.raises(ValueError):
        t.submit("metric", {})
    with pytest.raises(ValueError):
        t.submit("event", ["not", "a", "dict"])
    with pytest.raises(ValueError):
        backoff_delay(0, 1, 1)
