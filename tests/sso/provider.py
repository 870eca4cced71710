"""npm `oidc-provider` on loopback for the tests that sign in through a real OpenID provider (SSO, compose topology)."""
from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def oidc_provider(config_path: Path, client_secret: str, redirect_uri: str,
                  users: Any) -> Iterator[str]:
    """Start the provider with one client (`takeoff`) redirecting to `redirect_uri`; yields its issuer URL. The
    config file stays at `config_path` so a test may rewrite it (the script re-reads it)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "oidc-provider").exists():
        pytest.fail("node and node_modules/oidc-provider are needed: `make setup` installs package.json")
    config_path.write_text(json.dumps({"client_id": "takeoff", "client_secret": client_secret,
                                       "redirect_uris": [redirect_uri], "users": users}))
    proc = subprocess.Popen(["node", str(SCRIPT), str(free_port()), str(config_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready "), f"oidc-provider did not start: {line!r}"
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(10)
