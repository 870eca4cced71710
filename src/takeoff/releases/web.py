"""Release pages: list, one release (bundle, diff, eval, gate, checklist, approvals, rollout), forms, fragments."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takeoff.core.errors import AppError
from takeoff.evals import runs as evals
from takeoff.releases import approvals, queries, rollout, views
from takeoff.web.render import CurrentPage, PageDecides, PageFor

router = APIRouter(include_in_schema=False)


@router.get("/releases", response_class=HTMLResponse)
def releases_page(page: PageFor("read"), use_case: str | None = None, status: str | None = None) -> Response:
    """Releases newest first, filterable by use case and status."""
    rows = [views.view(page.session, r) for r in queries.list_releases(page.session, use_case or None,
                                                                          status or None)]
    return page.render("releases/list.html", releases=rows, filters={"use_case": use_case or "",
                                                                     "status": status or ""})


def _release_page(page: CurrentPage, release_id: str, error: str | None = None, status_code: int = 200) -> Response:
    rel = queries.get(page.session, release_id)
    detail = views.view(page.session, rel, detail=True)
    runs = [evals.run_view(page.session, r) for r in evals.list_runs(page.session, rel.release_id, 10)]
    return page.render("releases/detail.html", status_code=status_code, r=detail, runs=runs, error=error,
                       active=queries.active_config(page.session, rel.use_case_key))


@router.get("/releases/fragment/{key}", response_class=HTMLResponse)
def usecase_fragment(key: str, page: PageFor("read")) -> Response:
    """htmx fragment for the use-case page: what serves traffic now and the latest releases."""
    return page.render("releases/usecase_fragment.html", key=key, active=queries.active_config(page.session, key),
                       releases=[views.view(page.session, r) for r in queries.list_releases(page.session, key,
                                                                                               limit=5)])


@router.get("/releases/{release_id}", response_class=HTMLResponse)
def release_page(release_id: str, page: PageFor("read")) -> Response:
    """One release with everything an approver needs."""
    return _release_page(page, release_id)


def _act(page: CurrentPage, release_id: str, action) -> Response:
    try:
        with page.session.begin_nested():
            action()
    except AppError as exc:
        return _release_page(page, release_id, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/releases/{release_id}", status_code=303)


@router.post("/releases/{release_id}/decide", response_class=HTMLResponse)
def decide(release_id: str, page: PageFor("release.approve"), decision: Annotated[str, Form()] = "",
           comment: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Approve or reject from the release page (a rejection needs a comment)."""
    page.check_csrf(csrf_token)

    def act() -> None:
        if decision == "reject" and not comment.strip():
            raise AppError("a rejection needs a comment saying why")
        approvals.decide(page.session, page.actor, release_id, decision, comment.strip())

    return _act(page, release_id, act)


@router.post("/releases/{release_id}/attest", response_class=HTMLResponse)
def attest(release_id: str, page: PageFor("release.create", "release.approve", to="attest"),
           item_id: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "",
           csrf_token: Annotated[str, Form()] = "") -> Response:
    """Attest a checklist item under the signed-in user's name."""
    page.check_csrf(csrf_token)

    def act() -> None:
        if len(statement.strip()) < 3:
            raise AppError("write what you checked (at least a few words)")
        approvals.attest(page.session, page.actor, release_id, item_id, statement.strip())

    return _act(page, release_id, act)


@router.post("/releases/{release_id}/evaluate", response_class=HTMLResponse)
def evaluate(release_id: str, page: PageFor("eval.run"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Start an eval run with the bundle's eval spec."""
    page.check_csrf(csrf_token)
    return _act(page, release_id, lambda: rollout.start_eval(page.session, page.actor, release_id))


@router.post("/releases/{release_id}/promote", response_class=HTMLResponse)
def promote(release_id: str, page: PageDecides("ship_to_production", when={"to": ["production"]}),
            to: Annotated[str, Form()] = "", weight: Annotated[str, Form()] = "",
            csrf_token: Annotated[str, Form()] = "") -> Response:
    """Promote to canary (with a weight) or production."""
    page.check_csrf(csrf_token)

    def act() -> None:
        if to not in ("canary", "production"):
            raise AppError("choose canary or production")
        w = int(weight) if weight.strip().isdigit() else None
        rollout.promote(page.session, page.actor, release_id, to, w)

    return _act(page, release_id, act)


@router.post("/releases/{release_id}/rollback", response_class=HTMLResponse)
def rollback(release_id: str, page: PageFor("release.rollback"), reason: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
    """Roll the release's use case back one step."""
    page.check_csrf(csrf_token)
    rel = queries.get(page.session, release_id)
    return _act(page, release_id,
                lambda: rollout.rollback(page.session, page.actor, rel.use_case_key, reason.strip() or "manual rollback"))
