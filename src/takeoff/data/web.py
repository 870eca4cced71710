"""Data pages: sources with their check history and figures, access rules, requests/grants, the access log."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takeoff.data import access, evidence, queries, runs
from takeoff.data.api import remember_key
from takeoff.data.schemas import AccessRequestIn
from takeoff.core.errors import AppError, Invalid
from takeoff.web.render import PageFor
from takeoff.core.types import Id

router = APIRouter(include_in_schema=False, dependencies=[Depends(remember_key)])

CHART_METRICS = ("age_s", "rate", "share", "rel_diff")


def _back(path: str, error: str | None = None, notice: str | None = None) -> RedirectResponse:
    params = {k: v for k, v in (("error", error), ("notice", notice)) if v}
    return RedirectResponse(path + ("?" + urlencode(params) if params else ""), status_code=303)


@router.get("/datasources", response_class=HTMLResponse)
def sources_page(page: PageFor("read"), error: str | None = None, notice: str | None = None) -> Response:
    """Every source with owner, interface, dependent use cases and latest status; pending access requests."""
    s = page.session
    sources = [queries.source_view(s, src) for src in queries.list_sources(s)]
    pending = [access.request_view(r, n) for r, n in access.list_requests(s, status="pending")]
    return page.render("data/list.html", sources=sources, pending=pending, error=error, notice=notice,
                       can_approve=page.actor.can("access.approve"))


@router.get("/datasources/access-log", response_class=HTMLResponse)
def access_log_page(page: PageFor("read"), actor: str = "", source: str = "", action: str = "", since: str = "",
                    until: str = "", offset: int = 0) -> Response:
    """The access log, filterable, with a CSV export of the same filter."""
    filters = {"actor": actor, "source": source, "action": action, "since": since, "until": until}
    error = None
    try:
        parsed = {k: (datetime.fromisoformat(v) if v else None) for k, v in (("since", since), ("until", until))}
    except ValueError:
        parsed, error = {"since": None, "until": None}, "dates must look like 2026-11-25 or 2026-11-25T10:00"
    rows, total = access.access_log(page.session, actor=actor or None, source=source or None, action=action or None,
                                     since=parsed["since"], until=parsed["until"], limit=100, offset=max(0, offset))
    query = urlencode({k: v for k, v in filters.items() if v})
    return page.render("data/access_log.html", rows=rows, total=total, filters=filters, offset=max(0, offset),
                       query=query, error=error)


@router.get("/datasources/fragment/usecase/{key}", response_class=HTMLResponse)
def usecase_fragment(key: str, page: PageFor("read")) -> Response:
    """The data section of a use-case page: dependent sources, latest check status, the readiness verdict."""
    s = page.session
    sources = [queries.source_view(s, src) for src in queries.list_sources(s, key)]
    ev = evidence.readiness_evidence(s, key)
    return page.render("data/usecase_fragment.html", sources=sources, evidence=ev, key=key)


@router.get("/datasources/{name}", response_class=HTMLResponse)
def source_page(name: str, page: PageFor("read"), error: str | None = None, notice: str | None = None) -> Response:
    """One source: definition, latest run, history with figures, access rules, requests and the context pipeline."""
    s = page.session
    src = queries.get(s, name)
    view = queries.source_view(s, src)
    history = [queries.run_view(r) for r in queries.runs(s, name, 50)]
    rules = [access.rule_view(r) for r in access.access_rules(s, name)]
    requests = [access.request_view(r, n) for r, n in access.list_requests(s, name)]
    log_rows, log_total = access.access_log(s, source=name, limit=20)
    readable = access.readable_fields(s, page.actor, src)
    context = queries.context_history(s, name) if src.kind == "collection" else []
    bundles = queries.bundles_referencing(s, name) if src.kind == "collection" else []
    return page.render("data/source.html", src=view, history=history, rules=rules, requests=requests,
                       log_rows=log_rows, log_total=log_total, readable=readable, context=context, bundles=bundles,
                       chart=_chart(history), context_chart=_context_chart(context), error=error, notice=notice,
                       can_check=page.actor.can("datasource.check"), can_approve=page.actor.can("access.approve"))


def _chart(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A line per check figure (age, rate, share) across runs, oldest first."""
    runs = list(reversed(history))
    series: dict[str, list[Any]] = {}
    for i, run in enumerate(runs):
        for r in run["results"]:
            for metric in CHART_METRICS:
                if metric in (r.get("observed") or {}):
                    label = f"{r['kind']} {r['name']} ({metric})"
                    series.setdefault(label, [None] * len(runs))[i] = r["observed"][metric]
    if not series:
        return None
    # one axis per unit: ages in hours on the left, rates and shares (0-1) on the right
    datasets = [{"label": k, "spanGaps": True, "yAxisID": "age" if k.endswith("(age_s)") else "share",
                 "data": [None if x is None else round(x / 3600, 3) for x in v] if k.endswith("(age_s)") else v}
                for k, v in series.items()]
    scales: dict[str, Any] = {}
    if any(d["yAxisID"] == "age" for d in datasets):
        scales["age"] = {"position": "left", "beginAtZero": True, "title": {"display": True, "text": "age (hours)"}}
    if any(d["yAxisID"] == "share" for d in datasets):
        scales["share"] = {"position": "right", "beginAtZero": True, "grid": {"drawOnChartArea": not scales},
                           "title": {"display": True, "text": "rate or share (0-1)"}}
    return {"type": "line", "data": {"labels": [r["started_at"][:16].replace("T", " ") for r in runs],
                                     "datasets": datasets},
            "options": {"animation": False, "scales": scales}}


def _context_chart(context: list[dict[str, Any]]) -> dict[str, Any] | None:
    points = [c for c in context if c.get("documents")]
    if not points:
        return None
    return {"type": "line", "data": {"labels": [c["at"][:16].replace("T", " ") for c in points], "datasets": [
        {"label": "stale share", "data": [c.get("stale_share") for c in points]},
        {"label": "unlabelled documents", "data": [c.get("unlabeled") for c in points]},
    ]}, "options": {"animation": False}}


@router.post("/datasources/{name}/check")
def check_now(name: str, page: PageFor("datasource.check"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Run the SLA checks now and come back to the source page."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            run = runs.run_check(page.session, page.actor, name, trigger="manual")
    except Invalid as e:  # a stored rule the allow-list refuses: say which, run nothing
        return _back(f"/datasources/{quote(name)}", error=e.message)
    return _back(f"/datasources/{quote(name)}", notice=f"check run {run.id}: {run.status}")


@router.post("/datasources/{name}/access-requests")
def request_access(name: str, page: PageFor("read"), fields: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                   hours: Annotated[int, Form()] = 24, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Ask for time-limited access to sensitive fields."""
    page.check_csrf(csrf_token)
    try:
        body = AccessRequestIn(fields=[f.strip() for f in fields.split(",") if f.strip()], reason=reason, hours=hours)
    except ValueError:
        return _back(f"/datasources/{quote(name)}", error="name at least one field, a reason (3+ characters) and 1-720 hours")
    try:
        with page.session.begin_nested():
            req = access.request_access(page.session, page.actor, name, body)
    except AppError as e:
        return _back(f"/datasources/{quote(name)}", error=e.message)
    return _back(f"/datasources/{quote(name)}", notice=f"access request {req.id} sent to the data owners")


@router.post("/datasources/access-requests/{request_id}/decision")
def decide(request_id: Id, page: PageFor("access.approve"), approve: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
           next: Annotated[str, Form()] = "/datasources", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Approve or reject an access request (data owners)."""
    page.check_csrf(csrf_token)
    target = next if next.startswith("/datasources") else "/datasources"
    try:
        with page.session.begin_nested():
            req, _ = access.decide_request(page.session, page.actor, request_id, approve == "yes", note)
    except AppError as e:
        return _back(target, error=e.message)
    return _back(target, notice=f"access request {req.id} {req.status}")


@router.get("/datasources/{name}/preview", response_class=HTMLResponse)
def preview_fragment(name: str, page: PageFor("read"), fields: str = "", reason: str = "") -> Response:
    """A few rows of permitted fields (htmx fragment); the read is written to the access log."""
    try:
        with page.session.begin_nested():
            data = access.preview(page.session, page.actor, name, [f.strip() for f in fields.split(",") if f.strip()],
                                   reason, 20)
    except (AppError, ValueError) as e:
        msg = e.message if isinstance(e, AppError) else str(e)
        return HTMLResponse(f"<p class='error'>{_esc(msg)}</p>")
    return page.render("data/preview_fragment.html", data=data)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["router"]
