"""The container image, built from the real Dockerfile with podman and run against the real PostgreSQL: migrations,
`serve` answering /readyz and the offline API explorer, a non-root user, and a clean stop on SIGTERM.

No container registry is reachable here, so the base images are a local Debian bookworm made by
scripts/container_base.sh (cached in podman's store after the first build). `.ci/run` installs podman and debootstrap
and sets TAKEOFF_TEST_CONTAINER=1, which turns a missing podman into a failure instead of a skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/takeoff-base:bookworm"
IMAGE = "localhost/takeoff:test"
PG = "postgresql://postgres@127.0.0.1:5432"

if shutil.which("podman") is None:
    if os.environ.get("TAKEOFF_TEST_CONTAINER") == "1":
        raise RuntimeError("TAKEOFF_TEST_CONTAINER=1 but podman is not installed (.ci/run installs it)")
    pytest.skip("podman is not installed (set TAKEOFF_TEST_CONTAINER=1 to require it)", allow_module_level=True)


def _run(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args[:4])} … exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="module")
def image() -> str:
    _run("bash", "scripts/container_base.sh", BASE, timeout=1200)
    _run("podman", "build", "--build-arg", f"PYTHON_IMAGE={BASE}", "--build-arg", f"NODE_IMAGE={BASE}",
         "-t", IMAGE, "-f", "Dockerfile", ".", timeout=1500)
    return IMAGE


@pytest.fixture
def database() -> Iterator[str]:
    name = f"takeoff_image_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_image_migrates_serves_and_stops_cleanly_as_a_non_root_user(image: str, database: str) -> None:
    env = ["-e", f"TAKEOFF_DATABASE_URL={database}", "-e", "TAKEOFF_SECRET_KEY=" + "k" * 48,
           "-e", "TAKEOFF_ADMIN_PASSWORD=container-admin-pw-1"]
    migrate = _run("podman", "run", "--rm", "--network", "host", *env, image, "migrate", timeout=180)
    assert migrate.returncode == 0
    assert _run("podman", "run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip() == "10001"
    port = _free_port()
    name = f"takeoff-test-{uuid.uuid4().hex[:6]}"
    _run("podman", "run", "-d", "--name", name, "--network", "host", *env, image,
         "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, _run("podman", "logs", name, check=False).stderr[-3000:]
        docs = httpx.get(f"http://127.0.0.1:{port}/api/docs", timeout=5)
        assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
        bundle = httpx.get(f"http://127.0.0.1:{port}/static/vendor/swagger-ui/swagger-ui-bundle.js", timeout=5)
        assert bundle.status_code == 200 and len(bundle.content) > 100_000  # served from the image, not a CDN
        health = _run("podman", "healthcheck", "run", name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        stop = _run("podman", "stop", "-t", "20", name, timeout=60)
        assert stop.returncode == 0
        state = _run("podman", "inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
        assert state == "0", _run("podman", "logs", name, check=False).stderr[-3000:]  # SIGTERM: a clean exit
    finally:
        _run("podman", "rm", "-f", name, check=False)
