"""Server-side CLI: users, tokens, exit codes, help."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from takeoff.cli import app as cli


@pytest.fixture
def run(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("TAKEOFF_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_user_and_token_lifecycle(run, client):
    r = run("user", "create", "erin", "--role", "ai_engineer", "--role", "viewer", "--password", "password123")
    assert r.exit_code == 0, r.output
    assert "erin\tai_engineer,viewer\tactive" in run("user", "list").output
    r = run("token", "create", "--user", "erin", "--name", "ci", "--expires-days", "7")
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("tko_") and " " not in token
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "erin"
    token_id = run("token", "list", "--user", "erin").output.split("\t")[0]
    assert run("token", "revoke", token_id).exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = run("token", "revoke", token_id)
    assert again.exit_code == 2 and "already revoked" in again.output


@pytest.mark.parametrize("args, message", [
    (["user", "create", "frank", "--role", "wizard"], "unknown role 'wizard'"),
    (["user", "create", "X Y", "--role", "viewer"], "username must be"),
    (["token", "create", "--user", "ghost", "--name", "ci"], "user 'ghost' not found"),
    (["token", "create", "--user", "admin0", "--name", "ci", "--expires-days", "0"], "expires_days"),
])
def test_bad_input_exits_2_with_one_line(run, args, message):
    run("user", "create", "admin0", "--role", "admin")
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_help_lists_every_command_with_a_line():
    out = subprocess.run([sys.executable, "-m", "takeoff.cli", "--help"], capture_output=True, text=True).stdout
    for command in ("serve", "demo", "worker", "migrate", "user", "token", "audit"):
        assert command in out


def test_unreachable_database_is_exit_2(monkeypatch, tmp_path):
    monkeypatch.setenv("TAKEOFF_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    r = CliRunner().invoke(cli, ["user", "list"])
    assert r.exit_code == 2 and "TAKEOFF_DATABASE_URL: cannot open the database" in r.output
