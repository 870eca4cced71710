"""Eval set pages (list, one set with versions and diffs, one version's cases) and the run progress fragment."""
from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from takeoff.evals import runs, sets
from takeoff.web.render import PageFor
from takeoff.core.types import INT32_MAX, Id

router = APIRouter(include_in_schema=False)


@router.get("/evalsets", response_class=HTMLResponse)
def evalsets_page(page: PageFor("read")) -> Response:
    """Eval sets with their latest version."""
    return page.render("evals/list.html", sets=sets.list_sets(page.session))


@router.get("/evalsets/{name}", response_class=HTMLResponse)
def evalset_page(name: str, page: PageFor("read")) -> Response:
    """One eval set: its versions, each with hash, size and the diff against the one before."""
    es = sets.get_set(page.session, name)
    versions = [sets.version_view(page.session, v) for v in sets.versions(page.session, es)]
    return page.render("evals/set.html", es=es, versions=versions)


@router.get("/evalsets/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(name: str, version: Id, page: PageFor("read"), offset: int = Query(0, ge=0, le=INT32_MAX)) -> Response:
    """A page of one version's cases."""
    v = sets.get_version(page.session, name, version)
    return page.render("evals/version.html", name=name, v=sets.version_view(page.session, v),
                       cases=sets.cases_page(page.session, v, offset, 50), offset=offset)


@router.get("/evalruns", response_class=HTMLResponse)
def runs_page(page: PageFor("read"), use_case: str | None = Query(None, max_length=64)) -> Response:
    """Eval runs newest first (the last 100), optionally of one use case, each with progress and gate."""
    shown = [runs.run_view(page.session, r) for r in runs.list_runs(page.session, limit=100,
                                                                     use_case=use_case or None)]
    return page.render("evals/runs.html", runs=shown, use_case=use_case or None)


@router.get("/evalruns/fragment/usecase/{key}", response_class=HTMLResponse)
def runs_fragment(key: str, page: PageFor("read")) -> Response:
    """htmx fragment for the use-case page's releases section: its latest eval runs."""
    shown = [runs.run_view(page.session, r) for r in runs.list_runs(page.session, limit=10, use_case=key)]
    return page.render("evals/runs_fragment.html", runs=shown, key=key)


@router.get("/evalruns/{run_id}", response_class=HTMLResponse)
def run_page(run_id: Id, page: PageFor("read")) -> Response:
    """One eval run: what it evaluated (use case, release, eval set), its progress while it runs, then the gate,
    results per tag and the failing cases."""
    run = runs.get_run(page.session, run_id)
    return page.render("evals/run.html", run=runs.run_view(page.session, run),
                       failures=runs.failing_cases(page.session, run, 50) if run.status == "done" else [])


@router.get("/evalruns/{run_id}/fragment", response_class=HTMLResponse)
def run_fragment(run_id: Id, page: PageFor("read")) -> Response:
    """htmx fragment: a run's progress (polls itself while the run is going), then its summary and gate."""
    run = runs.get_run(page.session, run_id)
    return page.render("evals/run_fragment.html", run=runs.run_view(page.session, run),
                       failures=runs.failing_cases(page.session, run, 50) if run.status == "done" else [])
