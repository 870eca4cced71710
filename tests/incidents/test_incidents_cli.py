"""`takeoff incident list|open|resolve` against the app (HTTP client patched to a TestClient)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.commands import _http

from .test_incidents_api import make_use_case


@pytest.fixture
def run(app, users, monkeypatch):  # type: ignore[no-untyped-def]
    headers = users.headers("ai_engineer")

    def client(timeout: float = 60.0) -> TestClient:
        c = TestClient(app)
        c.headers.update(headers)
        return c

    monkeypatch.setattr(_http, "client", client)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_open_list_resolve(run, factory) -> None:  # type: ignore[no-untyped-def]
    make_use_case(factory)
    r = run("incident", "open", "support-reply", "Slow answers", "--severity", "2",
            "--started-at", "2026-02-01T09:00:00Z", "--release", "support-reply:1")
    assert r.exit_code == 0, r.output
    incident_id = r.output.strip().splitlines()[-1]
    assert "owned by oncall-ana" in r.output
    r = run("incident", "list", "--status", "open")
    assert r.exit_code == 0 and "Slow answers" in r.output and "SEV2" in r.output and "1 open" in r.output
    r = run("incident", "resolve", incident_id, "--resolution", "scaled the vector store", "--cause", "infrastructure")
    assert r.exit_code == 0 and "resolved incident" in r.output
    r = run("incident", "resolve", incident_id, "--resolution", "again")
    assert r.exit_code == 2 and "already resolved" in r.output
    r = run("incident", "open", "support-reply", "x", "--severity", "9")
    assert r.exit_code == 2
    r = run("incident", "open", "no-such-use-case", "x")
    assert r.exit_code == 2 and "not found" in r.output
