"""`takeoff requests ...` against the app: policy set/show, list, export, show, delete; exit codes 0 and 2."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from takeoff.commands import _http
from tests.requests.conftest import event


@pytest.fixture
def run(cli_as):  # type: ignore[no-untyped-def]
    return cli_as("risk_partner", "rita", "takeoff.commands.requests.client")


def test_requests_commands(run, send, usecase):
    r = run("requests", "policy", "set", usecase, "--capture", "--pattern", r"ticket=TCK-\d+", "--retention-days", "30")
    assert r.exit_code == 0, r.output
    assert "content capture on" in r.output and "1 pattern(s)" in r.output
    assert json.loads(run("requests", "policy", "show", usecase).output)["retention_days"] == 30
    send(event(usecase, id="c1", unit_id="erin", content={"input": [{"role": "user", "content": "TCK-99 mail e@x.io"}]}))
    r = run("requests", "list", "--use-case", usecase)
    assert r.exit_code == 0 and "c1" in r.output and "[content]" in r.output and "1 request(s)" in r.output
    shown = json.loads(run("requests", "show", "c1").output)
    assert shown["content"]["body"]["input"][0]["content"] == "[ticket] mail [email]"
    r = run("requests", "export", "--use-case", usecase, "--format", "csv")
    assert r.exit_code == 0 and r.output.splitlines()[0].startswith("id,ts,use_case") and "c1" in r.output
    r = run("requests", "delete", "--unit", "erin")
    assert r.exit_code == 0 and "1 request(s) unlinked, 1 content record(s) deleted" in r.output
    r = run("requests", "delete", "--unit", "erin")
    assert r.exit_code == 0 and "nothing to remove" in r.output


@pytest.mark.parametrize("args", [
    ("requests", "policy", "set", "support-reply", "--pattern", "no-equals-sign"),
    ("requests", "policy", "set", "support-reply", "--pattern", "bad=("),
    ("requests", "policy", "set", "support-reply", "--unit-ids", "plain"),
    ("requests", "policy", "set", "unknown-uc"),
    ("requests", "show", "missing"),
    ("requests", "list", "--status", "bogus"),
    ("requests", "export", "--format", "xml"),
    ("requests", "export", "--start", "not-a-time"),
    ("requests", "delete", "--unit", ""),
    ("requests", "delete"),
])
def test_bad_input_exits_2(run, usecase, args):
    r = run(*args)
    assert r.exit_code == 2, r.output


def test_to_evalset_command(run, client, admin, users, send, usecase, monkeypatch):
    headers = users.headers("ai_engineer", username="erin")  # may write eval sets (rita, the risk partner, may not)

    def as_erin(timeout: float = 60.0) -> TestClient:
        c = TestClient(client.app)
        c.headers.update(headers)
        return c

    monkeypatch.setattr(_http, "client", as_erin)
    assert client.put(f"/api/v1/capture-policies/{usecase}", json={"capture": True}, headers=admin).status_code == 200
    assert client.post("/api/v1/evalsets", json={"name": "golden", "use_case": usecase}, headers=admin).status_code == 201
    send(event(usecase, id="t1", content={"input": [{"role": "user", "content": "refund please"}],
                                          "output": [{"role": "assistant", "content": "no"}]}), event(usecase, id="t2"))
    r = run("requests", "to-evalset", "golden", "-r", "t1", "-r", "t2", "--correct", "t1=refund", "--strict")
    assert r.exit_code == 1 and "golden@1: 1 case(s) added" in r.output and "1 no content" in r.output, r.output
    r = run("requests", "to-evalset", "golden", "--use-case", usecase, "--category", "wrong_answer")
    assert r.exit_code == 0 and "golden@2" in r.output, r.output
    r = run("requests", "to-evalset", "golden", "-r", "t1", "--incident", "3")
    assert r.exit_code == 2 and "one way" in r.output
    r = run("requests", "to-evalset", "golden", "-r", "nope")
    assert r.exit_code == 2 and "no request with id 'nope'" in r.output
    r = run("requests", "to-evalset", "golden", "-r", "t1", "--correct", "t1")
    assert r.exit_code == 2 and "REQUEST_ID=EXPECTED" in r.output

