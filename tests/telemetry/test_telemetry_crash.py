"""Reliability: kill -9 a real `takeoff serve` during sustained ingestion; every acknowledged event is there once."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from takeoff.core.db import make_engine, make_sessionmaker
from takeoff.telemetry.compaction import compact_all
from tests.telemetry.rollup_totals import rollup_totals

TAKEOFF = str(Path(sys.executable).parent / "takeoff")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([TAKEOFF, "serve", "--port", str(port)], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"takeoff serve did not start: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate a server started by _start (SIGTERM, then SIGKILL after 15 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_during_ingestion_loses_no_acknowledged_event(backend, tmp_path):
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        from tests.conftest import create_pg_database

        url, drop = create_pg_database("takeoff_crash")
    env = {**os.environ, "TAKEOFF_DATABASE_URL": url, "TAKEOFF_DATA_DIR": str(tmp_path),
           "TAKEOFF_SECRET_KEY": "crash-test-secret-key-0123456789", "TAKEOFF_ADMIN_PASSWORD": "crash-admin-pw-1"}
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = _start(env, port, log)
    try:
        out = subprocess.run([TAKEOFF, "token", "create", "--user", "admin", "--name", "crash"], env=env,
                             capture_output=True, text=True, check=True)
        token = out.stdout.strip().splitlines()[-1]
        acked: set[str] = set()
        stop = threading.Event()
        sent_batches = [0]

        def client() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=10) as http:
                while not stop.is_set():
                    batch = [{"id": uuid.uuid4().hex, "use_case": "crash-uc", "release": "1",
                              "unit_id": f"u{i % 13}", "ts": time.time(), "latency_ms": 10.0 + i,
                              "tokens": {"input": 3, "output": 1}} for i in range(200)]
                    while not stop.is_set():  # resend the same batch until acknowledged, like the SDK
                        try:
                            r = http.post("/api/v1/events", json={"events": batch})
                        except httpx.HTTPError:
                            time.sleep(0.1)
                            continue
                        if r.status_code == 200:
                            acked.update(e["id"] for e in batch)
                            sent_batches[0] += 1
                            break
                        time.sleep(0.1)

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        deadline = time.time() + 60
        while sent_batches[0] < 10 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: a batch is very likely in flight
        proc.wait(timeout=10)
        before_restart = len(acked)
        assert before_restart >= 2000
        proc = _start(env, port, log)
        after = sent_batches[0]
        deadline = time.time() + 60
        while sent_batches[0] < after + 5 and time.time() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=30)
        assert len(acked) > before_restart  # ingestion resumed after the restart
        _stop(proc)  # its compactor would hold deltas (SKIP LOCKED) while this test compacts and counts them
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                stored = {r[0] for r in conn.execute(text("SELECT id FROM telemetry_events WHERE use_case='crash-uc'"))}
                n_rows = conn.scalar(text("SELECT count(*) FROM telemetry_events WHERE use_case='crash-uc'"))
                # what the rollups count: merged rows plus the deltas the compactor had not merged yet
                before = rollup_totals(conn, "crash-uc")
                compact_all(make_sessionmaker(engine))
                after_compaction = rollup_totals(conn, "crash-uc")
        finally:
            engine.dispose()
        assert acked <= stored, f"{len(acked - stored)} acknowledged events lost"
        assert n_rows == len(stored)  # each id once
        assert before == after_compaction == {60: n_rows, 3600: n_rows, 86400: n_rows}  # each stored event once
        assert after_compaction.pending == 0
    finally:
        _stop(proc)
        if drop is not None:
            drop()
