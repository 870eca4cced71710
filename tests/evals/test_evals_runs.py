"""Eval runs as jobs: per-case persistence, resume after a crash without re-calling finished cases, bad targets."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from takeoff.core.db import transaction
from takeoff.evals.models import EvalCaseResult
from takeoff.jobs.models import Job

from .conftest import rows

CALLS: list[str] = []
CRASH_AFTER: list[int] = []
ECHO = "tests.eval_targets:echo"  # python targets run in the run's worker subprocess, from a light module
GARBAGE = "tests.eval_targets:garbage"


class WorkerCrash(BaseException):
    """Stands in for a worker process dying: not an Exception, so nothing in the run catches it."""


@pytest.fixture
def counting(monkeypatch):
    """Counts the cases the (server-side) runner evaluates, and dies like a worker after CRASH_AFTER of them."""
    from takeoff.evals import runner

    real = runner.evaluate_case

    async def counted(case, target, scorers, repeats=1):
        CALLS.append(case.input["answer"])
        if CRASH_AFTER and len(CALLS) > CRASH_AFTER[0]:
            raise WorkerCrash()
        return await real(case, target, scorers, repeats)

    monkeypatch.setattr(runner, "evaluate_case", counted)
    CALLS.clear()
    CRASH_AFTER.clear()
    return {"type": "python", "ref": ECHO}


def _start(client, eng, use_case, target: dict[str, Any], name: str = "golden", concurrency: int = 1):
    r = client.post("/api/v1/evalruns", json={"eval_set": name, "use_case": use_case, "target": target,
                                              "scorers": [{"type": "exact"}], "concurrency": concurrency},
                    headers=eng)
    assert r.status_code == 202, r.text
    return r.json()


def test_run_resumes_after_crash_without_recalling_finished_cases(app, client, eng, use_case, importer, factory,
                                                                   counting):
    importer("golden", rows(10))
    CRASH_AFTER[:] = [4]
    run = _start(client, eng, use_case, counting)
    with pytest.raises(WorkerCrash):
        app.state.worker.drain()
    with transaction(factory) as s:
        finished = set(s.scalars(select(EvalCaseResult.case_id).where(EvalCaseResult.run_id == run["id"])))
        # the crashed worker's lease would run out; make it run out now
        s.execute(update(Job).where(Job.kind == "evals.run").values(
            lease_until=Job.created_at, run_at=Job.created_at))
    assert finished == {"c0", "c1", "c2", "c3"}
    mid = client.get(f"/api/v1/evalruns/{run['id']}", headers=eng).json()
    assert mid["status"] == "running" and mid["done"] == 4 and mid["total"] == 10
    first_phase = len(CALLS)
    CRASH_AFTER.clear()
    app.state.worker.drain()
    second_phase = CALLS[first_phase:]
    assert sorted(second_phase) == sorted(f"a{i}" for i in range(4, 10))  # c0..c3 never called again
    done = client.get(f"/api/v1/evalruns/{run['id']}", headers=eng).json()
    assert done["status"] == "done" and done["summary"]["n"] == 10 and done["summary"]["passed"] == 10
    assert done["gate"]["status"] == "pass"


def test_target_errors_and_garbage_mark_cases_and_the_run_goes_on(app, client, eng, use_case, importer):
    importer("golden", rows(6))
    run = _start(client, eng, use_case, {"type": "python", "ref": GARBAGE, "timeout_s": 0.2}, concurrency=3)
    app.state.worker.drain()
    got = client.get(f"/api/v1/evalruns/{run['id']}", headers=eng).json()
    assert got["status"] == "done" and got["summary"]["n"] == 6
    fails = {f["case_id"]: f for f in client.get(f"/api/v1/evalruns/{run['id']}/failures", headers=eng).json()["items"]}
    assert set(fails) == {"c1", "c2", "c3"}
    assert fails["c1"]["error_category"] == "timeout_or_error" and "RuntimeError" in fails["c1"]["error"]
    assert fails["c2"]["error_category"] == "timeout_or_error" and "timeout" in fails["c2"]["error"]
    assert fails["c3"]["error_category"] == "wrong_answer"
    assert got["summary"]["by_error_category"] == {"timeout_or_error": 2, "wrong_answer": 1}


def test_compare_lists_regressions_and_fixes(app, client, eng, use_case, importer):
    importer("golden", rows(6))
    a = _start(client, eng, use_case, {"type": "python", "ref": ECHO})
    b = _start(client, eng, use_case, {"type": "python", "ref": GARBAGE, "timeout_s": 0.2})
    app.state.worker.drain()
    cmp = client.get(f"/api/v1/evalruns/compare?a={a['id']}&b={b['id']}", headers=eng).json()
    assert [r["case_id"] for r in cmp["regressions"]] == ["c1", "c2", "c3"]
    assert cmp["fixes"] == [] and cmp["unchanged_pass"] == 3


def test_bad_run_requests(client, eng, use_case, importer):
    importer("golden", rows(2))
    bad_target = client.post("/api/v1/evalruns", json={"eval_set": "golden", "target": {"type": "smtp"},
                                                       "scorers": [{"type": "exact"}]}, headers=eng)
    assert bad_target.status_code == 422 and "target type" in bad_target.json()["error"]["message"]
    bad_scorer = client.post("/api/v1/evalruns", json={"eval_set": "golden",
                                                       "target": {"type": "python", "ref": ECHO},
                                                       "scorers": [{"type": "regex"}]}, headers=eng)
    assert bad_scorer.status_code == 422 and "pattern" in bad_scorer.json()["error"]["message"]
    nothing = client.post("/api/v1/evalruns", json={}, headers=eng)
    assert nothing.status_code == 422
    assert client.post("/api/v1/evalruns", json={"release": "nope"}, headers=eng).status_code == 422
    assert client.post("/api/v1/evalruns", json={"release": "nope:1"}, headers=eng).status_code == 404
    assert client.get("/api/v1/evalruns/999", headers=eng).status_code == 404


def test_in_process_code_must_be_listed_even_when_some_is(client, eng, use_case, importer):
    importer("golden", rows(2))  # the test settings list tests.* only
    for target, scorers, field in (({"type": "python", "ref": "os:system"}, [{"type": "exact"}], "target.ref"),
                                   ({"type": "python", "ref": ECHO}, [{"type": "exact"}, {"type": "custom",
                                    "ref": "subprocess:getoutput"}], "scorers[1].ref")):
        r = client.post("/api/v1/evalruns", json={"eval_set": "golden", "target": target, "scorers": scorers},
                        headers=eng)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert "refused" in err["message"] and "TAKEOFF_EVAL_PYTHON_MODULES" in err["message"]
        assert err["details"][0]["field"] == field


def test_progress_is_reported_through_the_job(app, client, eng, use_case, importer, factory):
    importer("golden", rows(5))
    run = _start(client, eng, use_case, {"type": "python", "ref": ECHO})
    app.state.worker.drain()
    with transaction(factory) as s:
        job = s.scalars(select(Job).where(Job.kind == "evals.run")).one()
        assert (job.status, job.progress_done, job.progress_total) == ("done", 5, 5)
        assert job.result["run_id"] == run["id"] and job.result["gate"] == "pass"


def test_a_run_whose_job_keeps_failing_ends_visibly_failed(app, client, eng, use_case, importer, factory, monkeypatch):
    from takeoff.evals import execution

    importer("golden", rows(2))
    run = _start(client, eng, use_case, {"type": "python", "ref": ECHO})

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(execution, "execute_run", broken)
    for _ in range(5):
        app.state.worker.drain()
        with transaction(factory) as s:  # skip the retry backoff
            s.execute(update(Job).where(Job.kind == "evals.run", Job.status == "queued").values(run_at=Job.created_at))
    got = client.get(f"/api/v1/evalruns/{run['id']}", headers=eng).json()
    assert got["status"] == "failed" and "database went away" in got["error"]
