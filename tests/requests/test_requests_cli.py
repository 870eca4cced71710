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
    r = run("requests", "export", "--use-case", usecase, "--with-content")
    assert r.exit_code == 0 and json.loads(r.output.splitlines()[0])["content"]["input"][0]["content"] == \
        "[ticket] mail [email]"
    assert run("requests", "export", "--with-content", "--format", "csv").exit_code == 2
    r = run("requests", "delete", "--unit", "erin")
    assert r.exit_code == 0 and "1 request(s) unlinked, 1 content record(s) deleted" in r.output
    r = run("requests", "delete", "--unit", "erin")
    assert r.exit_code == 0 and "nothing to remove" in r.output


def test_policy_set_changes_only_the_options_given(run, usecase):
    """Setting a retention does not turn capture off or drop the operator patterns; --no-patterns and --no-retention
    clear them; every change is a PATCH of the stored policy."""
    assert run("requests", "policy", "set", usecase, "--capture", "--pattern", r"ticket=TCK-\d+", "--pattern",
               r"order=ORD-\d+", "--max-chars", "500").exit_code == 0
    r = run("requests", "policy", "set", usecase, "--retention-days", "30")
    assert r.exit_code == 0, r.output
    assert "content capture on" in r.output and "2 pattern(s) (ticket, order)" in r.output and "30 days" in r.output
    shown = json.loads(run("requests", "policy", "show", usecase).output)
    assert (shown["capture"], shown["max_chars"], shown["retention_days"]) == (True, 500, 30)
    r = run("requests", "policy", "set", usecase, "--no-patterns", "--no-retention", "--kinds", "email,phone")
    assert r.exit_code == 0 and "0 pattern(s) (none)" in r.output and "as long as the events" in r.output, r.output
    shown = json.loads(run("requests", "policy", "show", usecase).output)
    assert (shown["patterns"], shown["retention_days"], shown["kinds"], shown["capture"]) == (
        [], None, ["email", "phone"], True)
    r = run("requests", "policy", "set", usecase, "--no-capture")
    assert r.exit_code == 0 and "content capture off" in r.output and "detectors email,phone" in r.output


@pytest.mark.parametrize("args", [
    ("requests", "policy", "set", "support-reply", "--pattern", "no-equals-sign"),
    ("requests", "policy", "set", "support-reply", "--pattern", "bad=("),
    ("requests", "policy", "set", "support-reply", "--unit-ids", "plain"),
    ("requests", "policy", "set", "unknown-uc", "--capture"),
    ("requests", "policy", "set", "support-reply"),
    ("requests", "policy", "set", "support-reply", "--pattern", "a=b", "--no-patterns"),
    ("requests", "policy", "set", "support-reply", "--retention-days", "3", "--no-retention"),
    ("requests", "policy", "set", "support-reply", "--retention-days", "0"),
    ("requests", "show", "missing"),
    ("requests", "list", "--status", "bogus"),
    ("requests", "list", "--score-min", "0.5"),
    ("requests", "list", "--rating-min", "9"),
    ("requests", "list", "--cursor", "not-a-cursor"),
    ("requests", "export", "--score", "faithfulness", "--score-min", "1", "--score-max", "0"),
    ("requests", "export", "--format", "xml"),
    ("requests", "export", "--start", "not-a-time"),
    ("requests", "delete", "--unit", ""),
    ("requests", "delete"),
])
def test_bad_input_exits_2(run, usecase, args):
    r = run(*args)
    assert r.exit_code == 2, r.output


def test_list_and_export_take_every_filter_of_the_explorer(run, send, usecase, client, admin):
    """Score range, feedback rating, content or not, text and a cursor: the API's filters from the command line,
    pages followed by --cursor, --json for scripts; a bad value names its field once."""
    assert client.put(f"/api/v1/capture-policies/{usecase}", json={"capture": True}, headers=admin).status_code == 200
    send(*[event(usecase, id=f"f{i}", scores={"faithfulness": i / 10},
                 **({"content": {"input": [{"role": "user", "content": f"parcel {i}"}]}} if i % 2 else {}))
           for i in range(6)])
    assert client.post("/api/v1/feedback", json={"id": "fb1", "request_id": "f1", "use_case": usecase, "rating": 1},
                       headers=admin).status_code == 200

    def ids(*args: str) -> list[str]:
        r = run("requests", "list", "--use-case", usecase, "--json", *args)
        assert r.exit_code == 0, r.output
        return sorted(i["id"] for i in json.loads(r.output)["items"])

    assert ids("--score", "faithfulness", "--score-min", "0.3") == ["f3", "f4", "f5"]
    assert ids("--has-content") == ["f1", "f3", "f5"] and ids("--no-content") == ["f0", "f2", "f4"]
    assert ids("--rating-max", "2") == ["f1"] and ids("--search", "parcel 3") == ["f3"]
    first = run("requests", "list", "--use-case", usecase, "--limit", "4")
    assert "4 request(s) (more)" in first.output, first.output
    cursor = first.output.split("--cursor ")[1].split()[0]
    rest = run("requests", "list", "--use-case", usecase, "--limit", "4", "--cursor", cursor)
    assert rest.exit_code == 0 and "2 request(s)" in rest.output and "--cursor" not in rest.output, rest.output
    r = run("requests", "export", "--use-case", usecase, "--score", "faithfulness", "--score-max", "0.1")
    assert r.exit_code == 0 and sorted(json.loads(x)["id"] for x in r.output.splitlines()) == ["f0", "f1"]
    r = run("requests", "list", "--start", "yesterday")
    assert r.exit_code == 2 and r.output.count("yesterday") == 1, r.output


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

