"""Graceful stop with real processes: `takeoff worker` on SIGTERM finishes or releases its jobs; `takeoff serve`
drains (/readyz 503) and answers its in-flight requests; bad shutdown settings exit 2 naming the variable."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from takeoff.core.db import make_sessionmaker, transaction
from takeoff.jobs import service as jobs

ROOT = Path(__file__).resolve().parents[2]
# The worker subprocess also registers the test job kind (tests/foundation/slow_jobs.py) before the CLI runs.
WORKER_WITH_TEST_JOBS = "import tests.foundation.slow_jobs; from takeoff.cli import main; main()"


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "TAKEOFF_DATABASE_URL": url,
            "TAKEOFF_DATA_DIR": str(tmp_path / "data"), "TAKEOFF_LOG_FORMAT": "text",
            "TAKEOFF_ADMIN_PASSWORD": "graceful-admin-pw-1", **extra}


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{what} (exit {proc.poll()}): {log.read_text()[-3000:]}")


def _statuses(factory, ids: list[int]) -> dict[int, tuple[str, str | None, int]]:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        out = {}
        for i in ids:
            job = jobs.get(s, i)
            assert job is not None
            out[i] = (job.status, job.locked_by, job.attempts)
        return out


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still alive at the end is killed."""
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def test_worker_sigterm_finishes_short_jobs_and_releases_long_ones(engine, tmp_path, stopped):
    """Two jobs running: the short one finishes within the grace period; the long one's lease is handed back at
    the end of it (queued, due now, the attempt not counted) and another worker claims it at once."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        short = jobs.enqueue(s, "test.sleep", {"seconds": 1.0}).id
        long = jobs.enqueue(s, "test.sleep", {"seconds": 60}).id
    url = engine.url.render_as_string(hide_password=False)
    log = tmp_path / "worker.log"
    env = _env(url, tmp_path, TAKEOFF_SHUTDOWN_GRACE_SECONDS="2")
    proc = subprocess.Popen([sys.executable, "-c", WORKER_WITH_TEST_JOBS, "worker", "--concurrency", "2"],
                            env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stopped.append(proc)
    _wait(lambda: all(st == "running" for st, _, _ in _statuses(factory, [short, long]).values()), 60,
          "the worker never ran both jobs", proc, log)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0, log.read_text()[-3000:]
    took = time.monotonic() - t0
    assert took < 8, f"the stop took {took:.1f} s with a 2 s grace period"
    after = _statuses(factory, [short, long])
    assert after[short][0] == "done"  # finished within the grace period
    assert after[long] == ("queued", None, 0)  # released: no holder, the interrupted attempt not counted
    assert "1 unfinished job(s) released" in log.read_text()
    with transaction(factory) as s:  # claimable now, not after the 60 s lease
        job = jobs.claim(s, "another-worker", ["test.sleep"], 60)
        assert job is not None and job.id == long and job.attempts == 1


def test_worker_second_sigterm_releases_at_once(engine, tmp_path, stopped):
    """A second signal cuts the grace period short: the running job is released, the worker exits quickly."""
    if engine.dialect.name != "sqlite":
        pytest.skip("signal handling, not the database: the release itself is tested on both backends above")
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        long = jobs.enqueue(s, "test.sleep", {"seconds": 60}).id
    log = tmp_path / "worker.log"
    env = _env(engine.url.render_as_string(hide_password=False), tmp_path, TAKEOFF_SHUTDOWN_GRACE_SECONDS="120")
    proc = subprocess.Popen([sys.executable, "-c", WORKER_WITH_TEST_JOBS, "worker"], env=env, cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stopped.append(proc)
    _wait(lambda: _statuses(factory, [long])[long][0] == "running", 60, "the worker never ran the job", proc, log)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None  # still within its 120 s grace period
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, log.read_text()[-3000:]
    assert _statuses(factory, [long])[long] == ("queued", None, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_sigterm_drains_with_readyz_503_and_answers_in_flight_requests(engine, tmp_path, stopped):
    """During the drain period /readyz is 503 while requests are still served; a request whose body is still
    arriving when the listener closes is answered, not cut."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the HTTP server's stop, not the database: runs once, on the migrated SQLite database")
    port = _free_port()
    log = tmp_path / "serve.log"
    env = _env(engine.url.render_as_string(hide_password=False), tmp_path, TAKEOFF_SHUTDOWN_DRAIN_SECONDS="1.5",
               TAKEOFF_SHUTDOWN_GRACE_SECONDS="10", TAKEOFF_EMBEDDED_WORKER="false")
    proc = subprocess.Popen([sys.executable, "-m", "takeoff.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stopped.append(proc)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(up, 60, "takeoff serve did not become ready", proc, log)
    answers: list[object] = []

    def slow_body() -> Iterator[bytes]:
        yield b'{"key": "slow-'
        for _ in range(12):  # about 3 s: the body is still arriving when the listener closes (after 1.5 s)
            time.sleep(0.25)
            yield b"x"
        yield b'", "name": "Slow"}'

    def in_flight() -> None:
        try:
            answers.append(httpx.post(f"{base}/api/v1/usecases", content=slow_body(), timeout=20,
                                      headers={"Content-Type": "application/json"}).status_code)
        except httpx.HTTPError as exc:
            answers.append(exc)

    t = threading.Thread(target=in_flight)
    t.start()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    ready = httpx.get(f"{base}/readyz", timeout=2)
    assert ready.status_code == 503 and "draining" in ready.json()["error"]["message"]
    assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200  # still serving while draining
    t.join(20)
    assert answers == [401], answers  # answered (refused for want of a token), not cut off mid-body
    proc.wait(15)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=1)


@pytest.mark.parametrize(("var", "value"), [("TAKEOFF_SHUTDOWN_GRACE_SECONDS", "-1"),
                                            ("TAKEOFF_SHUTDOWN_DRAIN_SECONDS", "soon"),
                                            ("TAKEOFF_JOB_LEASE_SECONDS", "1")])
def test_bad_shutdown_settings_exit_2_naming_the_variable(tmp_path, monkeypatch, var, value):
    from typer.testing import CliRunner

    from takeoff.cli import app

    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["worker"], env={var: value})
    assert result.exit_code == 2, result.output
    assert var in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
