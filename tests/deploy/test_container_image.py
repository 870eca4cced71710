"""The container image, built from the real Dockerfile with podman, and its root filesystem run against the real
PostgreSQL: migrations, `serve` answering /readyz, its health check and the offline API explorer, as the image's
non-root user, and a clean stop on SIGTERM.

What cannot run here, said plainly: no container registry is reachable, so the base images are a local Debian
bookworm made by scripts/container_base.sh (cached in podman's store after the first build), and this sandbox's
kernel refuses the OCI runtime (crun cannot set rlimits or cgroups), so the build uses `--isolation chroot` and the
test runs the built image's own files with chroot as its user (uid 10001) instead of `podman run`. `.ci/run` installs
podman and debootstrap and sets TAKEOFF_TEST_CONTAINER=1, which turns a missing podman into a failure, not a skip.
"""
from __future__ import annotations

import json
import os
import re
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
    _run("podman", "build", "--format", "docker", "--isolation", "chroot", "--build-arg", f"PYTHON_IMAGE={BASE}",
         "--build-arg", f"NODE_IMAGE={BASE}", "-t", IMAGE, "-f", "Dockerfile", ".", timeout=1500)
    return IMAGE


@pytest.fixture
def rootfs(image: str) -> Iterator[Path]:
    """A container of the image, its writable root mounted, with /dev and /proc as a runtime would give it."""
    container = _run("podman", "create", image).stdout.strip()
    root = Path(_run("podman", "mount", container).stdout.strip())
    mounted: list[Path] = []
    try:
        for src, dst, args in (("/dev", root / "dev", ("--bind",)), ("proc", root / "proc", ("-t", "proc"))):
            _run("mount", *args, src, str(dst))
            mounted.append(dst)
        yield root
    finally:
        for dst in reversed(mounted):
            _run("umount", "-l", str(dst), check=False)
        _run("podman", "umount", container, check=False)
        _run("podman", "rm", "-f", container, check=False)


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


def _as_image_user(root: Path, config: dict, env: dict[str, str], *argv: str) -> list[str]:
    """The command line that runs argv inside the image's files as its USER, with its ENV plus env."""
    user = config["User"]
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    uid, gid = passwd[user][2], passwd[user][3]
    image_env = dict(item.split("=", 1) for item in config.get("Env") or [])
    return ["chroot", f"--userspec={uid}:{gid}", str(root), "/usr/bin/env", "-i",
            *[f"{k}={v}" for k, v in {**image_env, **env, "HOME": config.get("WorkingDir") or "/"}.items()], *argv]


def test_the_image_migrates_serves_and_stops_cleanly_as_its_non_root_user(image: str, rootfs: Path,
                                                                           database: str) -> None:
    config = json.loads(_run("podman", "image", "inspect", image, "--format", "{{json .Config}}").stdout)
    assert config["User"] == "takeoff" and config["Entrypoint"] == ["takeoff"]
    assert config["Cmd"][0] == "serve" and "8080" in json.dumps(config.get("ExposedPorts") or {})
    health = json.loads(_run("podman", "image", "inspect", image, "--format", "{{json .HealthCheck}}").stdout)["Test"]
    assert "/readyz" in " ".join(health)
    passwd = (rootfs / "etc/passwd").read_text()
    assert re.search(r"^takeoff:x:10001:", passwd, re.M), "the image's user is uid 10001"
    env = {"TAKEOFF_DATABASE_URL": database, "TAKEOFF_SECRET_KEY": "k" * 48,
           "TAKEOFF_ADMIN_PASSWORD": "container-admin-pw-1"}
    migrate = subprocess.run(_as_image_user(rootfs, config, env, *config["Entrypoint"], "migrate"),
                             capture_output=True, text=True, timeout=180)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    port = _free_port()
    serve = subprocess.Popen(_as_image_user(rootfs, config, env, *config["Entrypoint"], "serve", "--host",
                                            "127.0.0.1", "--port", str(port)),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, serve.stdout.read() if serve.poll() is not None else ""
        docs = httpx.get(f"http://127.0.0.1:{port}/api/docs", timeout=5)
        assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "cdn." not in docs.text.lower()
        bundle = httpx.get(f"http://127.0.0.1:{port}/static/vendor/swagger-ui/swagger-ui-bundle.js", timeout=5)
        assert bundle.status_code == 200 and len(bundle.content) > 100_000  # from the image, not a CDN
        check = [a.replace("8080", str(port)) for a in health[1:]]  # the image's HEALTHCHECK on this port
        probe = subprocess.run(_as_image_user(rootfs, config, {}, *check), capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=30)
        out = serve.stdout.read() if serve.stdout else ""
        # uvicorn shuts down (lifespan included), then re-raises the signal: -15, or 0 if the server handles it itself
        assert code in (0, -signal.SIGTERM), out[-3000:]
        assert "Finished server process" in out or "shutdown" in out.lower(), out[-3000:]
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
