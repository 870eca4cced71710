"""Multi-node on one PostgreSQL: two `takeoff serve` and two `takeoff worker` processes under sustained ingestion
and a periodic job; one server and one worker killed with SIGKILL mid-run. No acknowledged event is lost or counted
twice, the periodic job runs once per interval, and the dead worker's jobs are taken over after their lease.
SQLite is single-node by design (one writer, one file): this runs on PostgreSQL only."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from takeoff.core.db import make_sessionmaker, transaction
from takeoff.jobs import service as jobs
from takeoff.telemetry.compaction import compact_all
from tests.foundation.test_graceful_shutdown import ROOT, WORKER_WITH_TEST_JOBS, _env, _free_port, _wait
from tests.telemetry.rollup_totals import rollup_totals

LEASE_S = 4
TICK_S = 2
USE_CASE = "multi-node-uc"


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_servers_two_workers_survive_a_sigkill_each(engine, users, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite is single-node by design (docs/deploy.md): several nodes need PostgreSQL")
    users.create("admin", username="ingest")
    token = users.token("ingest")
    url = engine.url.render_as_string(hide_password=False)
    ticks = tmp_path / "ticks.log"
    ticks.touch()
    env = _env(url, tmp_path, TAKEOFF_JOB_LEASE_SECONDS=str(LEASE_S), TAKEOFF_EMBEDDED_WORKER="false",
               TAKEOFF_TEST_TICK_LOG=str(ticks), TAKEOFF_TEST_TICK_SECONDS=str(TICK_S),
               TAKEOFF_SHUTDOWN_GRACE_SECONDS="5")
    ports = [_free_port(), _free_port()]
    procs: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("s0", "s1", "w0", "w1")}
    try:
        for i, port in enumerate(ports):
            procs[f"s{i}"] = subprocess.Popen([sys.executable, "-m", "takeoff.cli", "serve", "--port", str(port)],
                                              env=env, cwd=ROOT, stdout=logs[f"s{i}"].open("wb"),
                                              stderr=subprocess.STDOUT)
        for i in range(2):
            procs[f"w{i}"] = subprocess.Popen([sys.executable, "-c", WORKER_WITH_TEST_JOBS, "worker",
                                               "--concurrency", "2"], env=env, cwd=ROOT,
                                              stdout=logs[f"w{i}"].open("wb"), stderr=subprocess.STDOUT)
        for i, port in enumerate(ports):
            _wait(lambda p=port: _up(p), 180, f"server {i} did not become ready", procs[f"s{i}"], logs[f"s{i}"])
        for i in range(2):
            _wait(lambda n=f"w{i}": "running" in logs[n].read_text(), 180, f"worker {i} did not start",
                  procs[f"w{i}"], logs[f"w{i}"])
        t_start = time.time()

        # Sustained ingestion: one client per server, resending a batch until acknowledged (as the SDK does),
        # to the other server when its own is gone.
        acked: set[str] = set()
        lock = threading.Lock()
        stop = threading.Event()
        sent = Counter()

        def client(first: int) -> None:
            order = [ports[first], ports[1 - first]]
            rng_i = 0
            while not stop.is_set():
                batch = [{"id": uuid.uuid4().hex, "use_case": USE_CASE, "release": "1", "unit_id": f"u{k % 7}",
                          "ts": time.time(), "latency_ms": 5.0 + k, "tokens": {"input": 2, "output": 1}}
                         for k in range(100)]
                while not stop.is_set():
                    port = order[rng_i % 2]
                    try:
                        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/events", json={"events": batch}, timeout=10,
                                       headers={"Authorization": f"Bearer {token}"})
                    except httpx.HTTPError:
                        rng_i += 1  # that server is gone: fail over
                        continue
                    if r.status_code == 200:
                        with lock:
                            acked.update(e["id"] for e in batch)
                        sent[first] += 1
                        break
                    time.sleep(0.1)

        clients = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(2)]
        for c in clients:
            c.start()

        # Long jobs for the workers: each holds some (2 threads each, 4 jobs); worker 0 is killed holding its own.
        factory = make_sessionmaker(engine)
        _wait(lambda: sum(sent.values()) >= 10, 60, "ingestion did not get going", procs["s0"], logs["s0"])
        with transaction(factory) as s:  # 4 jobs for 4 threads: each worker holds at most 2, so both hold some
            slow = [jobs.enqueue(s, "test.sleep", {"seconds": 4}).id for _ in range(4)]
        w0_pid = procs["w0"].pid

        def held_by_w0() -> list[tuple[int, object]]:
            with engine.connect() as conn:
                return [(r[0], r[1]) for r in conn.execute(text(
                    "SELECT id, lease_until FROM jobs WHERE status = 'running' AND kind = 'test.sleep' "
                    "AND locked_by LIKE :w"), {"w": f"%:{w0_pid}:%"})]

        _wait(lambda: bool(held_by_w0()), 60, "worker 0 never held a job",
              procs["w0"], logs["w0"])
        held = held_by_w0()
        procs["s0"].send_signal(signal.SIGKILL)  # mid-ingestion
        procs["w0"].send_signal(signal.SIGKILL)  # holding a running job
        procs["s0"].wait(10)
        procs["w0"].wait(10)
        acked_at_kill = len(acked)

        # Ingestion goes on through server 1; the dead worker's jobs are taken over once their lease ends.
        def slow_done() -> bool:
            with engine.connect() as conn:
                return conn.scalar(text("SELECT count(*) FROM jobs WHERE kind = 'test.sleep' AND status = 'done'")) == 4

        _wait(slow_done, 60, "the dead worker's jobs were not taken over", procs["w1"], logs["w1"])
        time.sleep(TICK_S)  # at least one more interval with worker 1 alone
        stop.set()
        for c in clients:
            c.join(20)
        t_end = time.time()
        assert len(acked) > acked_at_kill  # ingestion went on after the kill

        with transaction(factory) as s:
            for job_id, lease_until in held:
                job = jobs.get(s, job_id)
                assert job is not None and job.status == "done"
                assert f":{w0_pid}:" not in (job.locked_by or "")  # finished by the surviving worker
                assert job.attempts == 2
                # claimed again only after the lease the dead worker held had run out
                assert job.finished_at is not None and lease_until is not None
                assert job.finished_at.timestamp() - 4 >= lease_until.timestamp() - 0.5
            assert set(slow) >= {j for j, _ in held}

        # Every interval while a worker lived has one tick job, done, executed once (twice only when the killed
        # worker died during it: then its second run is by the survivor).
        first_slot, last_slot = int(t_start) // TICK_S + 1, int(t_end) // TICK_S - 1
        keys = [f"sched:test.tick:{slot}" for slot in range(first_slot, last_slot + 1)]
        _wait(lambda: all(_tick_done(engine, k) for k in keys), 20, "an interval has no finished tick job",
              procs["w1"], logs["w1"])
        pids: dict[str, list[int]] = {}
        for line in ticks.read_text().splitlines():
            key, pid = line.split()
            pids.setdefault(key, []).append(int(pid))
        for key in keys:
            runs = pids.get(key, [])
            assert runs, f"{key} never ran"
            assert len(runs) == 1 or (len(runs) == 2 and w0_pid in runs), f"{key} ran {len(runs)} times: {runs}"
        assert last_slot - first_slot >= 2

        # Events: every acknowledged id stored once; the rollups count each stored event once.
        with engine.connect() as conn:
            stored = [r[0] for r in conn.execute(text("SELECT id FROM telemetry_events WHERE use_case = :u"),
                                                 {"u": USE_CASE})]
            compact_all(factory)
            totals = rollup_totals(conn, USE_CASE)
        assert len(stored) == len(set(stored))
        assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged events lost"
        assert dict(totals) == {60: len(stored), 3600: len(stored), 86400: len(stored)}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _tick_done(engine, key: str) -> bool:  # type: ignore[no-untyped-def]
    """The periodic job of this interval exists and has finished (it may wait behind the slow jobs)."""
    with engine.connect() as conn:
        return conn.scalar(text("SELECT status FROM jobs WHERE key = :k"), {"k": key}) == "done"
