"""`takeoff serve --workers 2`: two server processes ingest overlapping batches concurrently; each event is
stored and rolled up exactly once, and /metrics sums the request counts of both processes."""
from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import text

from takeoff.core.db import make_engine
from tests.telemetry.rollup_totals import rollup_totals

from .test_telemetry_crash import TAKEOFF, _free_port


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_server_processes_store_each_event_once(backend, tmp_path) -> None:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'workers.db'}"
    else:
        from tests.conftest import create_pg_database

        url, drop = create_pg_database("takeoff_workers")
    env = {**os.environ, "TAKEOFF_DATABASE_URL": url, "TAKEOFF_DATA_DIR": str(tmp_path),
           "TAKEOFF_SECRET_KEY": "workers-test-secret-key-0123456789", "TAKEOFF_ADMIN_PASSWORD": "workers-admin-pw"}
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([TAKEOFF, "serve", "--port", str(port), "--workers", "2"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"serve --workers 2 did not start: {log.read_text()[-2000:]}")
        out = subprocess.run([TAKEOFF, "token", "create", "--user", "admin", "--name", "w"], env=env,
                             capture_output=True, text=True, check=True)
        headers = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
        now = time.time()
        batches = [[{"id": f"e{b}-{i}", "use_case": "workers-uc", "release": "1", "unit_id": f"u{i % 7}",
                     "ts": now - i % 50, "latency_ms": 20.0 + i, "cost_usd": 0.001} for i in range(200)]
                   for b in range(12)]
        errors: list[str] = []
        posts = [0]
        lock = threading.Lock()

        def sender(order: list[int]) -> None:
            for b in order:  # fresh connection per request: the kernel spreads them over both processes
                r = httpx.post(base + "/api/v1/events", json={"events": batches[b]}, headers=headers, timeout=60)
                with lock:
                    posts[0] += 1
                    if r.status_code != 200:
                        errors.append(r.text[:200])

        # every batch is sent twice, by different senders at about the same time
        threads = [threading.Thread(target=sender, args=(list(range(12)),)),
                   threading.Thread(target=sender, args=(list(range(11, -1, -1)),)),
                   threading.Thread(target=sender, args=(list(range(0, 12, 2)) + list(range(1, 12, 2)),))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                n_rows = conn.scalar(text("SELECT count(*) FROM telemetry_events WHERE use_case='workers-uc'"))
                counted = rollup_totals(conn, "workers-uc")  # merged rows + pending deltas
                deadline = time.time() + 30
                merged = rollup_totals(conn, "workers-uc")
                while merged.pending and time.time() < deadline:  # both processes' compactors drain the deltas
                    time.sleep(0.2)
                    merged = rollup_totals(conn, "workers-uc")
        finally:
            engine.dispose()
        assert n_rows == 12 * 200
        assert counted == merged == {60: 2400, 3600: 2400, 86400: 2400}
        assert merged.pending == 0, "the servers' compactors left deltas behind"
        metrics = httpx.get(base + "/metrics", timeout=10).text
        served = sum(float(m) for m in re.findall(
            r'takeoff_http_requests_total\{[^}]*method="POST"[^}]*route="/api/v1/events"[^}]*status="200"[^}]*\} (\S+)',
            metrics))
        assert served == posts[0] == 36, (served, posts[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if drop is not None:
            drop()
