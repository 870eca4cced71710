"""CI/CD through the CLI: evalset import, release create && eval run --wait exit codes, promote, rollback, export."""
from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.commands import _http
from takeoff.commands import eval as eval_cmd

from .conftest import cases, jsonl, make_use_case

runner = CliRunner()


@pytest.fixture
def takeoff(app, users, monkeypatch):
    """Run `takeoff ...` against the app as an ai_engineer; polling drains the job queue."""
    token = users.token(users.create("ai_engineer", username="ci"))
    monkeypatch.setattr(_http, "client", lambda timeout=60.0: TestClient(
        app, headers={"Authorization": f"Bearer {token}"}))
    monkeypatch.setattr(eval_cmd, "_sleep", lambda s: app.state.worker.drain())

    def run(*args: str):
        return runner.invoke(cli, list(args))

    return run


def _bundle(tmp_path, wrong: int) -> str:
    spec = {"use_case": "support-reply", "model": "openai/gpt-4o-mini", "prompts": {"system": "Be brief."},
            "eval_set": {"name": "golden"},
            "eval": {"target": {"type": "python", "ref": "tests.eval_targets:echo"},
                     "scorers": [{"type": "exact"}]}}
    path = tmp_path / f"bundle{wrong}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_create_then_eval_wait_exit_codes(takeoff, env, factory, tmp_path):
    make_use_case(factory, min_rate=0.8)
    env.model()
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl(cases(20)))
    r = takeoff("evalset", "import", "golden", str(good))
    assert r.exit_code == 0, r.output
    assert "golden@1 new version: 20 cases" in r.output

    r = takeoff("release", "create", "-f", _bundle(tmp_path, 0))
    assert r.exit_code == 0, r.output
    release_id = r.output.strip().splitlines()[-1]
    assert release_id == "support-reply:1"
    r = takeoff("eval", "run", "--release", release_id, "--wait", "--poll", "0.05")
    assert r.exit_code == 0, r.output
    assert "gate pass" in r.output

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl(cases(20, wrong=15)))
    assert takeoff("evalset", "import", "golden", str(bad)).exit_code == 0
    r = takeoff("release", "create", "-f", _bundle(tmp_path, 15))
    assert r.exit_code == 0, r.output
    r = takeoff("eval", "run", "--release", "support-reply:2", "--wait", "--poll", "0.05")
    assert r.exit_code == 1, r.output
    assert "gate fail" in r.output

    r = takeoff("eval", "run", "--release", "support-reply:99", "--wait")
    assert r.exit_code == 2 and "not found" in r.output
    r = takeoff("eval", "run", "--wait")
    assert r.exit_code == 2

    r = takeoff("release", "export", "support-reply:1", "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["eval_set"]["version"] == 1 and doc["create_request"]["model"] == "openai/gpt-4o-mini"
    assert "version" not in doc["bundle"]["eval_set"]  # the bundle names its eval set by content only
    assert "content_hash" in yaml.safe_load(takeoff("release", "export", "support-reply:1").output)

    r = takeoff("release", "promote", "support-reply:2", "--production")
    assert r.exit_code == 2 and "gate is fail" in r.output
    r = takeoff("release", "promote", "support-reply:1", "--canary", "10", "--production")
    assert r.exit_code == 2


def test_malformed_evalset_file_exits_2(takeoff, tmp_path):
    f = tmp_path / "broken.jsonl"
    f.write_text('{"input": "x"}\nnot json\n')
    r = takeoff("evalset", "import", "golden", str(f))
    assert r.exit_code == 2 and "line 2" in r.output
    assert takeoff("evalset", "import", "golden", str(tmp_path / "missing.jsonl")).exit_code == 2


def test_rollback_in_one_command(takeoff, env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(20))
    po = env.users.headers("product_owner")
    for rid in ("support-reply:1", "support-reply:2"):
        assert env.release(parameters={"v": rid}).status_code == 201
        env.evaluate(rid)
        assert env.client.post(f"/api/v1/releases/{rid}/approve", json={}, headers=po).status_code == 200
        detail = env.client.get(f"/api/v1/releases/{rid}", headers=env.engineer).json()
        for item in detail["checklist"]["items"]:
            if item["mandatory"] and not item["satisfied"]:
                r = takeoff("release", "attest", rid, item["id"], "--statement", "checked")
                assert r.exit_code == 0, r.output
        r = takeoff("release", "promote", rid, "--production")
        assert r.exit_code == 0, r.output
    r = takeoff("release", "rollback", "support-reply", "--reason", "regression in prod")
    assert r.exit_code == 0, r.output
    assert "now serves support-reply:1" in r.output
    r = takeoff("release", "rollback", "support-reply")
    assert r.exit_code == 2 and "nothing to roll back" in r.output


def test_export_with_cases_reproduces_the_eval_set_hash(takeoff, env, factory, tmp_path, client, users):
    make_use_case(factory, min_rate=0.8)
    env.model()
    src = tmp_path / "golden.jsonl"
    rows = cases(30)
    rows[3]["metadata"] = {"source": "ticket 4411", "lang": "fr"}
    rows[4]["expected"] = None
    src.write_bytes(jsonl(rows))
    assert takeoff("evalset", "import", "golden", str(src)).exit_code == 0
    r = takeoff("release", "create", "-f", _bundle(tmp_path, 0))
    release_id = r.output.strip().splitlines()[-1]
    out = tmp_path / "out" / "cases.jsonl"
    out.parent.mkdir()
    r = takeoff("release", "export", release_id, "--format", "json", "--cases-out", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["create_request"]["eval_set"] == {"name": "golden", "content_hash": doc["eval_set"]["content_hash"]}
    assert len(out.read_text().splitlines()) == 30
    # the exported cases, imported elsewhere, are the same content: same version hash
    r = takeoff("evalset", "import", "golden-copy", str(out))
    assert r.exit_code == 0, r.output
    h = users.headers("ai_engineer")
    original = client.get("/api/v1/evalsets/golden/versions/1", headers=h).json()["content_hash"]
    copy = client.get("/api/v1/evalsets/golden-copy/versions/1", headers=h).json()["content_hash"]
    assert original == copy
    resp = client.get("/api/v1/evalsets/golden/versions/1/cases.jsonl", headers=h)
    assert resp.status_code == 200 and resp.headers["x-content-hash"] == original
    assert json.loads(resp.text.splitlines()[3])["metadata"] == {"source": "ticket 4411", "lang": "fr"}
    # bad input: unknown version is a 404 before any byte is streamed; the CLI exits 2 and writes no file
    assert client.get("/api/v1/evalsets/golden/versions/9/cases.jsonl", headers=h).status_code == 404
    missing = tmp_path / "missing.jsonl"
    r = takeoff("evalset", "export", "golden", "9", "-o", str(missing))
    assert r.exit_code == 2 and not missing.exists() and not missing.with_name("missing.jsonl.part").exists()
    assert "error:" in r.output


def test_create_without_eval_set_proposes_the_latest_version(takeoff, env, factory, tmp_path):
    make_use_case(factory, min_rate=0.8)
    env.model()
    first = tmp_path / "v1.jsonl"
    first.write_bytes(jsonl(cases(5)))
    assert takeoff("evalset", "import", "golden", str(first)).exit_code == 0
    r = takeoff("release", "create", "--use-case", "support-reply", "--model", "openai/gpt-4o-mini")
    assert r.exit_code == 2 and "--eval-set is required" in r.output  # nothing to take it from yet
    r = takeoff("release", "create", "--use-case", "support-reply", "--model", "openai/gpt-4o-mini", "--eval-set", "golden")
    assert r.exit_code == 0 and "eval set golden@1" in r.output, r.output
    second = tmp_path / "v2.jsonl"
    second.write_bytes(jsonl(cases(6)))
    assert takeoff("evalset", "import", "golden", str(second)).exit_code == 0
    r = takeoff("release", "create", "--use-case", "support-reply", "--model", "openai/gpt-4o-mini")
    assert r.exit_code == 0 and "latest version v2 (the previous release used v1" in r.output, r.output
    assert "eval set golden@2" in r.output and r.output.strip().splitlines()[-1] == "support-reply:2"
