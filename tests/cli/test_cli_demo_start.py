"""`takeoff demo` as a newcomer meets it: a busy port or a running demo in the same folder is refused (exit 2, one
clear line) before anything is wiped or seeded; the port comes from --port or TAKEOFF_PORT; the closing banner
sets the password apart and gives a token command that reaches the demo's own database."""
from __future__ import annotations

import fcntl
import socket
from pathlib import Path

from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.cli import demo_banner


def _workspace(tmp_path: Path) -> Path:
    marker = tmp_path / "demo" / "takeoff.db"
    marker.parent.mkdir(parents=True)
    marker.write_text("a running demo's database")
    return marker


def test_a_busy_port_is_refused_before_the_workspace_is_touched(tmp_path, monkeypatch):
    marker = _workspace(tmp_path)
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("TAKEOFF_PORT", str(port))  # the port from the environment, as `make run PORT=` passes it
        r = CliRunner().invoke(cli, ["demo"])
    assert r.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in r.output and f"PORT={port + 1}" in r.output
    assert marker.read_text() == "a running demo's database"


def test_a_second_demo_in_the_same_folder_refuses_rather_than_wiping_the_first(tmp_path, monkeypatch):
    marker = _workspace(tmp_path)
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    with open(tmp_path / "demo.lock", "a+") as held:  # the first demo holds the folder's lock while it runs
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 4242, http://127.0.0.1:8080/\n")
        held.flush()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        r = CliRunner().invoke(cli, ["demo", "--port", str(free)])
    assert r.exit_code == 2
    assert "a demo is already running from" in r.output and "pid 4242" in r.output
    assert marker.read_text() == "a running demo's database"


def test_the_banner_sets_the_password_apart_with_a_working_token_command():
    text = demo_banner("http://127.0.0.1:8101", "s3cret-pass", Path(".takeoff/demo"))
    lines = text.splitlines()
    assert "  password     s3cret-pass" in lines and lines[1].startswith("====")
    assert "TAKEOFF_DATA_DIR=.takeoff/demo takeoff token create --user admin --name cli" in text
    assert "http://127.0.0.1:8101/" in text


def test_a_start_prints_no_dependency_deprecation_notice_but_keeps_takeoffs_own_warnings():
    import os
    import subprocess
    import sys

    code = ("from takeoff.cli import quiet_dependency_warnings\n"
            "quiet_dependency_warnings()\n"
            "import fastapi.testclient, takeoff.auth.oidc  # what the demo imports: each warned on every start\n"
            "import warnings\n"
            "warnings.warn('takeoff own notice', DeprecationWarning)\n")
    out = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "default"})
    assert out.returncode == 0, out.stderr
    assert "httpx" not in out.stderr and "takeoff own notice" in out.stderr, out.stderr
