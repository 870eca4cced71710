"""Issue 16.1: in-process eval code only from the operator's allow-list (empty by default), run in a worker
subprocess without the server's secrets, with hangs and crashes as case errors."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takeoff.app import create_app
from takeoff.core.db import transaction
from takeoff.evals import sandbox
from takeoff.evals.models import EvalRun
from takeoff.evals.targets import PythonTarget, TargetError, make_target
from takeoff.jobs.models import Job
from takeoff.portfolio.models import UseCase

from .conftest import jsonl, rows

DANGEROUS = ["yaml:unsafe_load", "os:system", "subprocess:run", "builtins:eval"]


def _client_with(settings, engine, **update: Any) -> TestClient:
    app = create_app(settings.model_copy(update=update), engine=engine, start_worker=False)
    return TestClient(app)


def _counts(factory) -> tuple[int, int]:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(EvalRun)), s.scalar(select(func.count()).select_from(Job))


def _release_body(target: dict[str, Any], scorers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"use_case": "faq", "model": "openai/gpt-4o-mini", "prompts": {"system": "Be brief."}, "parameters": {},
            "eval_set": {"name": "golden"}, "eval": {"target": target, "scorers": scorers}}


def test_default_settings_refuse_every_callable_by_name(settings, engine, factory, users, use_case):
    """With the default (empty) allow-list no python target or custom scorer is accepted, whatever the role."""
    eng = users.headers("ai_engineer")
    root = users.headers("admin")
    with _client_with(settings, engine, eval_python_modules="") as client:
        assert client.post("/api/v1/evalsets/golden/versions?create=true", content=jsonl(rows(2)),
                           headers=eng).status_code == 201
        r = client.post("/api/v1/catalog/models", headers=root, json={
            "provider": "openai", "model": "gpt-4o-mini", "approved_tiers": ["low"],
            "price": {"input": 0.15, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"},
            "data_retention": "30 days", "contract_terms": {}})
        assert r.status_code == 201, r.text
        before = _counts(factory)
        for i, ref in enumerate([*DANGEROUS, "tests.eval_targets:echo"]):
            who = (eng, root)[i % 2]  # the role does not matter
            for target, scorers, field in (
                    ({"type": "python", "ref": ref}, [{"type": "exact"}], "target.ref"),
                    ({"type": "http", "url": "https://model.example/v1"},
                     [{"type": "custom", "ref": ref}], "scorers[0].ref")):
                r = client.post("/api/v1/evalruns", headers=who,
                                json={"eval_set": "golden", "target": target, "scorers": scorers})
                assert r.status_code == 422, (ref, r.text)
                err = r.json()["error"]
                assert ref in err["message"] and "TAKEOFF_EVAL_PYTHON_MODULES" in err["message"]
                assert err["details"][0]["field"] == field
            r = client.post("/api/v1/releases", headers=who, json=_release_body(*[
                {"type": "python", "ref": ref}, [{"type": "exact"}]]))
            assert r.status_code == 422 and ref in r.json()["error"]["message"], r.text
        assert _counts(factory) == before  # nothing recorded, nothing queued, nothing ran


def test_an_allow_list_loads_only_what_it_lists(settings, engine, users, use_case):
    eng = users.headers("ai_engineer")
    with _client_with(settings, engine, eval_python_modules="tests.eval_targets:echo") as client:
        client.post("/api/v1/evalsets/golden/versions?create=true", content=jsonl(rows(3)), headers=eng)
        ok = client.post("/api/v1/evalruns", headers=eng, json={
            "eval_set": "golden", "target": {"type": "python", "ref": "tests.eval_targets:echo"},
            "scorers": [{"type": "exact"}]})
        assert ok.status_code == 202, ok.text
        for ref in ("tests.eval_targets:garbage", "tests.eval_targets_other:echo", "tests:echo"):
            r = client.post("/api/v1/evalruns", headers=eng, json={
                "eval_set": "golden", "target": {"type": "python", "ref": ref}, "scorers": [{"type": "exact"}]})
            assert r.status_code == 422 and "refused" in r.json()["error"]["message"], r.text
        client.app.state.worker.drain()
        got = client.get(f"/api/v1/evalruns/{ok.json()['id']}", headers=eng).json()
        assert got["status"] == "done" and got["summary"]["passed"] == 3


def test_the_allow_list_is_checked_again_when_the_run_starts(app, client, users, use_case, importer):
    eng = users.headers("ai_engineer")
    importer("golden", rows(2))
    r = client.post("/api/v1/evalruns", headers=eng, json={
        "eval_set": "golden", "target": {"type": "python", "ref": "tests.eval_targets:echo"},
        "scorers": [{"type": "exact"}]})
    assert r.status_code == 202
    sandbox.configure(sandbox.parse_allow(""))  # the operator empties the list before a worker picks the run up
    app.state.worker.drain()
    got = client.get(f"/api/v1/evalruns/{r.json()['id']}", headers=eng).json()
    assert got["status"] == "failed" and "refused" in got["error"] and got["done"] == 0


@pytest.mark.parametrize("entries, ref, allowed", [
    ("", "tests.eval_targets:echo", False),
    ("myco.evals", "myco.evals:f", True),
    ("myco.evals", "myco.evals.sub:f", True),
    ("myco.evals", "myco.evalsX:f", False),
    ("myco.evals.", "myco.evals:f", False),
    ("myco.evals.", "myco.evals.sub:f", True),
    ("myco.targets:answer", "myco.targets:answer", True),
    ("myco.targets:answer", "myco.targets:other", False),
    ("os", "os:system", True),  # the operator may list anything; nothing is listed by default
    ("myco", "myco:f:g", False),
])
def test_allow_list_entries(entries, ref, allowed):
    assert sandbox.parse_allow(entries).allows(ref) is allowed


@pytest.mark.parametrize("bad", ["my co", "myco/evals", "myco:", ":f", "myco..x", "myco:f.g"])
def test_bad_allow_list_entries_are_a_startup_error(bad, monkeypatch):
    from pydantic import ValidationError

    from takeoff.core.config import Settings

    with pytest.raises(ValidationError, match="TAKEOFF_EVAL_PYTHON_MODULES"):
        Settings(eval_python_modules=f"tests.,{bad}")


def _call(target: Any, value: Any) -> Any:
    async def go() -> Any:
        try:
            return await target.call(value)
        finally:
            await target.aclose()

    return asyncio.run(go())


def test_the_child_gets_no_secrets_in_its_environment(monkeypatch):
    secrets = {"TAKEOFF_SECRET_KEY": "s3cret", "TAKEOFF_DATABASE_URL": "postgresql://u:p@db/x",
               "TAKEOFF_ADMIN_PASSWORD": "pw", "PGPASSWORD": "pw", "OPENAI_API_KEY": "sk-1",
               "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "t", "SOME_DB_PASSWORD": "pw", "DATABASE_URL": "x"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "1")
    keys = _call(PythonTarget("tests.eval_targets:env_keys"), {}).output
    assert "HARMLESS_SETTING" in keys and "PATH" in keys
    assert not set(secrets) & set(keys)
    assert not [k for k in keys if k.startswith("TAKEOFF_")]


def test_a_run_with_a_hanging_and_a_crashing_case_records_case_errors(app, client, users, use_case, importer):
    eng = users.headers("ai_engineer")
    data = rows(6)
    data[1]["input"]["sleep"] = 3
    data[3]["input"]["crash"] = True
    importer("golden", data)

    def start(ref: str, timeout_s: float = 0.5) -> int:
        r = client.post("/api/v1/evalruns", headers=eng, json={
            "eval_set": "golden", "target": {"type": "python", "ref": ref, "timeout_s": timeout_s},
            "scorers": [{"type": "exact"}], "concurrency": 1})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    hang, crash = start("tests.eval_targets:sleepy_echo"), start("tests.eval_targets:crash_on", 10)
    app.state.worker.drain()
    for run_id, bad, words in ((hang, "c1", "timeout"), (crash, "c3", "exited")):
        got = client.get(f"/api/v1/evalruns/{run_id}", headers=eng).json()
        assert got["status"] == "done" and got["summary"]["n"] == 6 and got["summary"]["passed"] == 5, got
        fails = client.get(f"/api/v1/evalruns/{run_id}/failures", headers=eng).json()["items"]
        assert [f["case_id"] for f in fails] == [bad]
        assert fails[0]["error_category"] == "timeout_or_error" and words in fails[0]["error"]


def test_python_targets_and_custom_scorers_share_one_child_per_run():
    box = sandbox.Sandbox(sandbox.parse_allow("tests.eval_targets"))
    from takeoff.evals.evalset_io import Case
    from takeoff.evals.scorers import make_scorers

    target = make_target({"type": "python", "ref": "tests.eval_targets:noisy"}, sandbox=box)
    scorer = make_scorers([{"type": "custom", "ref": "tests.eval_targets:is_upper"}], sandbox=box)[0]

    async def go() -> list[Any]:
        await box.load()
        out = []
        for answer in ("HI", "lo"):
            case = Case("k" + answer, {"answer": answer}, tags=("t",))
            resp = await target.call(case.input)
            out.append((resp.output, await scorer.score(case, resp)))
        return out

    try:
        (o1, s1), (o2, s2) = asyncio.run(go())
        pids = {box._child.proc.pid}
    finally:
        box.close()
    assert (o1, s1.passed, o2, s2.passed) == ("HI", True, "lo", False)
    assert "case kHI tags ['t']" in s1.detail and len(pids) == 1


def test_a_missing_function_fails_the_load_not_the_server():
    box = sandbox.Sandbox(sandbox.parse_allow("tests.eval_targets"))
    box.add("tests.eval_targets:no_such_function")
    try:
        with pytest.raises(ValueError, match="no callable 'no_such_function'"):
            asyncio.run(box.load())
    finally:
        box.close()
    with pytest.raises(ValueError, match="cannot be imported"):
        sandbox.Sandbox(sandbox.parse_allow("tests.")).add("tests.no_such_module_xyz:f")


def test_a_target_past_its_timeout_is_a_case_error():
    with pytest.raises(TargetError) as info:
        _call(PythonTarget("tests.eval_targets:sleepy", timeout_s=0.3), {"sleep": 5})
    assert info.value.kind == "timeout"


def test_a_child_with_too_many_hung_calls_is_replaced_and_stopped():
    box = sandbox.Sandbox(sandbox.parse_allow("tests.eval_targets"), threads=2)
    box.add("tests.eval_targets:sleepy")

    async def go() -> tuple[Any, Any]:
        await box.load()
        first = box._child
        hung = [box.call("tests.eval_targets:sleepy", [{"sleep": 30}], 0.3) for _ in range(sandbox.STUCK_LIMIT)]
        results = await asyncio.gather(*hung, return_exceptions=True)
        assert all(isinstance(r, sandbox.SandboxError) and r.kind == "timeout" for r in results)
        assert await box.call("tests.eval_targets:sleepy", [{"sleep": 0}], 10) == "awake"
        return first, box._child

    try:
        first, second = asyncio.run(go())
        assert first is not None and second is not None and first.proc.pid != second.proc.pid
        assert first.proc.wait(timeout=5) is not None  # the hung child was stopped, not left running
    finally:
        box.close()
