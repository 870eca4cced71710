"""The container image, built from the real Dockerfile with podman and run with `podman run` against the real
PostgreSQL: migrations, `serve` answering /readyz, its own health check and the offline API explorer, as the image's
non-root user (uid 10001), and a clean stop on SIGTERM (`podman stop`).

What this sandbox allows, said plainly: no container registry is reachable, so the base images are a local Debian
bookworm made by scripts/container_base.sh (cached in podman's store after the first build), and the build uses
`--isolation chroot`. Containers run with runc (crun refuses this kernel's hybrid cgroup v1/v2 mounts), on the host's
network, with explicit rlimits under the sandbox's caps (both runtimes are refused podman's default ones): RUN below.
`.ci/run` installs podman, runc and debootstrap and sets TAKEOFF_TEST_CONTAINER=1, which turns a missing podman or
runc into a failure, not a skip.
"""
from __future__ import annotations

import json
import os
import signal
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
# The image fixture's own steps are bounded (base 1,200 s, build 1,500 s) and its time counts toward the test's: the
# suite's 300 s per test failed a first build on a slow machine (debootstrap, then pip and npm in the build), which
# finished four minutes after the timeout. The test's bound is the sum of its steps' bounds.
pytestmark = pytest.mark.timeout(1200 + 1500 + 600)

for _tool in ("podman", "runc"):
    if shutil.which(_tool) is None:
        if os.environ.get("TAKEOFF_TEST_CONTAINER") == "1":
            raise RuntimeError(f"TAKEOFF_TEST_CONTAINER=1 but {_tool} is not installed (.ci/run installs it)")
        pytest.skip(f"{_tool} is not installed (set TAKEOFF_TEST_CONTAINER=1 to require it)", allow_module_level=True)

# `podman run` as this sandbox lets it: runc, the host network, rlimits below the sandbox's caps.
RUN = ("podman", "run", "--runtime=runc", "--network=host", "--ulimit", "nofile=4096:4096",
       "--ulimit", "nproc=4096:4096")


def _run(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args[:4])} … exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="module")
def image() -> str:
    _run("bash", "scripts/container_base.sh", BASE, timeout=1200)
    _run("podman", "build", "--format", "docker", "--isolation", "chroot", "--build-arg", f"PYTHON_IMAGE={BASE}",
         "--build-arg", f"NODE_IMAGE={BASE}", "-t", IMAGE, "-f", "Dockerfile", ".", timeout=1500)
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


def _up(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.HTTPError:
        return None


def test_the_image_migrates_serves_and_stops_cleanly_as_its_non_root_user(image: str, database: str) -> None:
    config = json.loads(_run("podman", "image", "inspect", image, "--format", "{{json .Config}}").stdout)
    assert config["User"] == "takeoff" and config["Entrypoint"] == ["takeoff"]
    assert config["Cmd"][0] == "serve" and "8080" in json.dumps(config.get("ExposedPorts") or {})
    health = json.loads(_run("podman", "image", "inspect", image, "--format", "{{json .HealthCheck}}").stdout)["Test"]
    assert "/readyz" in " ".join(health)
    who = _run(*RUN, "--rm", "--entrypoint", "id", image, timeout=120).stdout.split()
    assert who[0].startswith("uid=10001(takeoff)"), who
    env = ["-e", f"TAKEOFF_DATABASE_URL={database}", "-e", "TAKEOFF_SECRET_KEY=" + "k" * 48,
           "-e", "TAKEOFF_ADMIN_PASSWORD=container-admin-pw-1"]
    migrate = _run(*RUN, "--rm", *env, image, "migrate", timeout=240, check=False)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    port = _free_port()
    name = f"takeoff-test-{uuid.uuid4().hex[:8]}"
    _run(*RUN, "-d", "--name", name, *env, image, "serve", "--host", "127.0.0.1", "--port", str(port), timeout=120)
    try:
        deadline, ready = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            ready = _up(port)
            if ready is not None and ready.status_code == 200:
                break
            state = _run("podman", "inspect", name, "--format", "{{.State.Status}}").stdout.strip()
            assert state == "running", _run("podman", "logs", name, check=False).stdout[-3000:]
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, _run("podman", "logs", name).stderr[-3000:]
        docs = httpx.get(f"http://127.0.0.1:{port}/api/docs", timeout=5)
        assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "cdn." not in docs.text.lower()
        bundle = httpx.get(f"http://127.0.0.1:{port}/static/vendor/swagger-ui/swagger-ui-bundle.js", timeout=5)
        assert bundle.status_code == 200 and len(bundle.content) > 100_000  # from the image, not a CDN
        check = [a.replace("8080", str(port)) for a in health[1:]]  # the image's HEALTHCHECK, on this port
        if health[0] == "CMD-SHELL":
            check = ["/bin/sh", "-c", " ".join(check)]
        probe = _run("podman", "exec", name, *check, timeout=60, check=False)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        _run("podman", "stop", "-t", "30", name, timeout=60)  # SIGTERM, then 30 s before SIGKILL
        code = int(_run("podman", "inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip())
        logs = _run("podman", "logs", name)
        out = logs.stdout + logs.stderr
        # uvicorn shuts down (lifespan included), then re-raises the signal: 143 (128 + SIGTERM), or 0
        assert code in (0, 128 + signal.SIGTERM), (code, out[-3000:])
        assert "Finished server process" in out or "shutdown" in out.lower(), out[-3000:]
    finally:
        _run("podman", "rm", "-f", name, check=False)
