"""Evals HTTP API: eval sets and versions (streamed imports), runs, progress, failures and comparisons."""
from __future__ import annotations

import os
import tempfile
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from takeoff.deps import DB, Allowed
from takeoff.core.errors import Invalid
from takeoff.core.events import START_RELEASE_RUN, provided
from takeoff.evals import runs, sets
from takeoff.evals.evalset_io import FORMATS
from takeoff.evals.schemas import EvalSetIn, RunIn, RunListOut, RunOut
from takeoff.core.types import INT32_MAX, Id, text_body

router = APIRouter(tags=["evals"])


@router.get("/evalsets")
def list_sets(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Every eval set with its latest version."""
    return {"items": [{"name": s.name, "use_case": s.use_case_key, "description": s.description,
                       "latest": sets.version_view(session, v, with_diff=False) if v else None}
                      for s, v in sets.list_sets(session)]}


@router.post("/evalsets", status_code=201)
def create_set(body: EvalSetIn, session: DB, actor: Allowed("evalset.write")) -> dict[str, Any]:
    """Create an empty eval set; cases arrive as versions."""
    es = sets.create_set(session, actor, body.name, body.use_case, body.description)
    return {"name": es.name, "use_case": es.use_case_key, "description": es.description, "versions": []}


@router.get("/evalsets/{name}")
def get_set(name: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """An eval set with all its versions, newest first."""
    es = sets.get_set(session, name)
    return {"name": es.name, "use_case": es.use_case_key, "description": es.description,
            "versions": [sets.version_view(session, v) for v in sets.versions(session, es)]}


@router.post("/evalsets/{name}/versions", status_code=201, openapi_extra=text_body("application/jsonl", "text/csv"))
async def import_version(name: str, request: Request, session: DB, actor: Allowed("evalset.write"),
                         format: str = Query("jsonl"), note: str = Query("", max_length=2000),
                         create: bool = Query(False, description="create the eval set if it does not exist"),
                         use_case: str | None = Query(None)) -> dict[str, Any]:
    """Import a JSONL or CSV body as a new version: streamed to a temp file, validated whole, inserted in batches."""
    if format not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", details=[{"field": "format",
                                                                              "message": "jsonl or csv"}])
    fd, path = tempfile.mkstemp(prefix="takeoff-evalset-", suffix=f".{format}")
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)

        def work() -> dict[str, Any]:
            if create:
                sets.ensure_set(session, actor, name, use_case)
            v, created = sets.import_version(session, actor, name, path, format, note)
            return {**sets.version_view(session, v), "created": created}

        return await run_in_threadpool(work)
    finally:
        os.unlink(path)


@router.get("/evalsets/{name}/versions/{version}")
def get_version(name: str, version: Id, session: DB, actor: Allowed("read"), offset: int = Query(0, ge=0, le=INT32_MAX),
                limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """One version with a page of its cases."""
    v = sets.get_version(session, name, version)
    cases = sets.cases_page(session, v, offset, limit)
    return {**sets.version_view(session, v), "cases": [
        {"id": c.case_id, "input": c.input, "expected": c.expected, "tags": c.tags, "metadata": c.meta,
         "provenance": c.provenance} for c in cases], "offset": offset}


@router.get("/evalsets/{name}/versions/{version}/cases.jsonl")
def download_cases(name: str, version: Id, request: Request, session: DB, actor: Allowed("read")) -> StreamingResponse:
    """All cases of a version as JSONL (the import format: re-importing it reproduces the content hash), streamed."""
    v = sets.get_version(session, name, version)
    return StreamingResponse(sets.iter_cases_jsonl(request.app.state.engine, v.id),
                             media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{name}-v{version}.jsonl"',
                                      "X-Content-Hash": v.content_hash})


@router.get("/evalsets/{name}/diff")
def diff(name: str, session: DB, actor: Allowed("read"), a: int = Query(..., ge=1, le=INT32_MAX, alias="from"),
         b: int = Query(..., ge=1, le=INT32_MAX, alias="to")) -> dict[str, Any]:
    """Cases added, removed and changed between two versions."""
    return sets.diff_between(session, name, a, b)


@router.post("/evalruns", status_code=202, response_model=RunOut, operation_id="evalruns_create")
def start_run(body: RunIn, session: DB, actor: Allowed("eval.run")) -> dict[str, Any]:
    """Start a run as a job: of a release (the bundle's eval set version and spec) or of an eval set ad hoc."""
    if body.release:
        if body.eval_set or body.version:
            raise Invalid("a release run uses the eval set version its bundle names; drop eval_set and version")
        # releases sit a floor above evals: they provide the run of a release at start (takeoff.flows_registry)
        start_release_run = provided(START_RELEASE_RUN)
        if start_release_run is None:
            raise Invalid("this build runs no release evals; give an eval_set with a target and scorers",
                          details=[{"field": "release", "message": "not available"}])
        run = start_release_run(session, actor, body.release, target=body.target, scorers=body.scorers,
                                repeats=body.repeats, concurrency=body.concurrency)
        return runs.run_view(session, run)
    if not body.eval_set or body.target is None or not body.scorers:
        raise Invalid("give either a release, or an eval_set with a target and scorers",
                      details=[{"field": "release", "message": "or eval_set + target + scorers"}])
    v = sets.get_version(session, body.eval_set, body.version)
    if body.use_case:
        from takeoff.portfolio import service as portfolio

        portfolio.get(session, body.use_case)
    run = runs.create_run(session, actor, v, body.target, body.scorers, repeats=body.repeats or 1,
                             concurrency=body.concurrency or 8, use_case_key=body.use_case)
    return runs.run_view(session, run)


@router.get("/evalruns", response_model=RunListOut, operation_id="evalruns_list")
def list_runs(session: DB, actor: Allowed("read"), release: str | None = None,
              limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Runs newest first, optionally of one release."""
    return {"items": [runs.run_view(session, r) for r in runs.list_runs(session, release, limit)]}


@router.get("/evalruns/compare")
def compare(session: DB, actor: Allowed("read"), a: int = Query(..., ge=1, le=INT32_MAX, description="baseline run id"),
            b: int = Query(..., ge=1, le=INT32_MAX, description="candidate run id")) -> dict[str, Any]:
    """Regressions and fixes case by case from run a to run b."""
    return runs.compare(session, a, b)


@router.get("/evalruns/{run_id}", response_model=RunOut, operation_id="evalruns_get")
def get_run(run_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """A run with progress (done/total), summary and gate."""
    return runs.run_view(session, runs.get_run(session, run_id))


@router.get("/evalruns/{run_id}/failures")
def failures(run_id: Id, session: DB, actor: Allowed("read"), offset: int = Query(0, ge=0, le=INT32_MAX),
             limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Failed cases with input, expected, output and error category."""
    run = runs.get_run(session, run_id)
    return {"items": runs.failing_cases(session, run, limit, offset)}
