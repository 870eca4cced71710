"""The SDK against a real `takeoff serve` that goes down and comes back: the app keeps working, nothing is lost.

SQLite only: it starts the server twice (a few seconds each); the delivery logic under test is the SDK's, and the
server's idempotent ingestion on both backends is covered by test_telemetry_crash.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from takeoff.core.db import make_engine
from takeoff.sdk import Client
from tests.telemetry.rollup_totals import rollup_totals
from tests.telemetry.test_telemetry_crash import TAKEOFF, _free_port, _start, _stop

UC = "sdk-outage"


def _vendor(model: str, i: int):
    """The app's model call: "broken" always fails (its breaker opens), "healthy" answers."""
    def call() -> str:
        if model == "broken":
            raise ConnectionError("vendor down")
        return f"answer {i}"
    return call


def test_app_works_while_the_server_is_down_and_every_event_arrives_once_when_it_is_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'sdk.db'}"
    env = {**os.environ, "TAKEOFF_DATABASE_URL": url, "TAKEOFF_DATA_DIR": str(tmp_path),
           "TAKEOFF_SECRET_KEY": "sdk-outage-test-secret-0123456789", "TAKEOFF_ADMIN_PASSWORD": "sdk-admin-pw-1"}
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = _start(env, port, log)
    client = None
    try:
        out = subprocess.run([TAKEOFF, "token", "create", "--user", "admin", "--name", "sdk"], env=env,
                             capture_output=True, text=True, check=True)
        token = out.stdout.strip().splitlines()[-1]
        client = Client(f"http://127.0.0.1:{port}", token, flush_interval_s=0.1, backoff_base_s=0.05,
                        backoff_max_s=0.5, breaker_failures=3, guard_timeout_s=5,
                        defaults={UC: {"release_id": None, "model": "healthy", "prompt": "p"}})
        events: dict[str, str] = {}  # event id -> expected status
        feedback: list[str] = []

        def serve_one(i: int) -> None:
            """One app request: active config, a tracked and guarded model call, feedback now and then."""
            model = "broken" if i % 2 else "healthy"
            client.active(UC, unit_id=f"u{i}")
            with client.track(UC, unit_id=f"u{i}", model=model) as t:
                reply = client.guard(_vendor(model, i), fallback="canned")
                t.set_tokens(input=10, output=2)
            assert reply == ("canned" if model == "broken" else f"answer {i}")  # the app's call succeeds
            events[t.request_id] = "fallback" if model == "broken" else "ok"
            if i % 5 == 0:
                feedback.append(client.feedback(t.request_id, rating=4, use_case=UC))

        for i in range(10):  # server up
            serve_one(i)
        assert client.flush(30) and client.stats()["dropped_total"] == 0

        os.kill(proc.pid, signal.SIGKILL)  # the server goes down
        proc.wait(timeout=10)
        cfg = client.active(UC, unit_id="u-down")
        assert cfg is not None and cfg.model == "healthy"  # cached or default config, no exception
        for i in range(10, 40):
            serve_one(i)
        standalone = client.guard(lambda: "direct", use_case=UC, model="healthy")
        assert standalone == "direct"
        recorded = client.record(UC, ts=datetime.now(UTC) - timedelta(minutes=30), latency_ms=12.0)
        events[recorded] = "ok"
        assert not client.flush(1.0)
        down = client.stats()
        assert down["pending"] > 0 and down["retries"] > 0 and down["dropped_total"] == 0

        proc = _start(env, port, log)  # ... and comes back on the same port
        assert client.flush(60), client.stats()
        s = client.stats()
        assert s["dropped_total"] == 0 and s["pending"] == 0
        n_events = len(events) + 1  # + the standalone guard's own event
        assert s["sent"] == n_events + len(feedback)
        client.close()
        client = None

        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, status, fallback_reason FROM telemetry_events "
                                         "WHERE use_case = :uc"), {"uc": UC}).all()
                fb_ids = {r[0] for r in conn.execute(text("SELECT id FROM telemetry_feedback"))}
                totals = rollup_totals(conn, UC)
        finally:
            engine.dispose()
        by_id = {r[0]: (r[1], r[2]) for r in rows}
        assert len(by_id) == n_events                                   # nothing lost, nothing extra
        assert {eid: by_id[eid][0] for eid in events} == events
        reasons = {by_id[eid][1] for eid, st in events.items() if st == "fallback"}
        assert reasons == {"error:ConnectionError", "circuit_open"}      # the fallback and why, recorded
        assert set(feedback) <= fb_ids
        assert dict(totals) == {60: n_events, 3600: n_events, 86400: n_events}  # and counted once by rollups
    finally:
        if client is not None:
            client.close(timeout_s=1)
        _stop(proc)
