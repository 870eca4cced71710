"""Data-foundation API: sources, on-demand SLA checks, access rules, requests/grants, previews and the access log.

No answer ever carries a connection string: sources show only its redacted form (scheme + host).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from takeoff.data import access, evidence, queries, runs, secrets, sources
from takeoff.data.schemas import (AccessRequestIn, AccessRulesIn, AnnouncementIn, CheckRunListOut, CheckRunNowOut,
                                  DecisionIn, SourceIn, SourcePatch)
from takeoff.deps import DB, Allowed
from takeoff.core.errors import Invalid
from takeoff.core.types import INT32_MAX, BoundedDateTime, Id


def remember_key(request: Request) -> None:
    """Let the data service (and jobs on this engine) decrypt with this app's secret key."""
    secrets.remember(request.app.state.engine, request.app.state.settings.resolved_secret_key)


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
router = APIRouter(tags=["data"], dependencies=[Depends(remember_key)])


def _fields(raw: str | None) -> list[str]:
    return [f.strip() for f in (raw or "").split(",") if f.strip()]


@router.get("/datasources")
def list_sources(session: DB, actor: Allowed("read"), use_case: str | None = None) -> dict[str, Any]:
    """Every data source with its latest check status (optionally those a use case depends on)."""
    items = [queries.source_view(session, s) for s in queries.list_sources(session, use_case)]
    return {"items": items, "total": len(items)}


@router.post("/datasources", status_code=201)
def create_source(body: SourceIn, session: DB, actor: Allowed("datasource.write")) -> dict[str, Any]:
    """Register a source of truth; the owner must hold data_owner, use cases must exist."""
    return queries.source_view(session, sources.create_source(session, actor, body))


@router.get("/datasources/{name}")
def get_source(name: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One source with its latest run, access rules and (for collections) referencing release bundles."""
    src = queries.get(session, name)
    out = queries.source_view(session, src)
    out["access_rules"] = [access.rule_view(r) for r in access.access_rules(session, name)]
    if src.kind == "collection":
        out["referenced_by_releases"] = queries.bundles_referencing(session, name)
    return out


@router.patch("/datasources/{name}")
def update_source(name: str, body: SourcePatch, session: DB, actor: Allowed("datasource.write")) -> dict[str, Any]:
    """Change a source (owner, connection, checks, dependent use cases...)."""
    return queries.source_view(session, sources.update_source(session, actor, name, body))


@router.delete("/datasources/{name}", status_code=204)
def delete_source(name: str, session: DB, actor: Allowed("datasource.write")) -> Response:
    """Remove a source (its access-log lines stay)."""
    sources.delete_source(session, actor, name)
    return Response(status_code=204)


@router.post("/datasources/{name}/check", response_model=CheckRunNowOut, operation_id="datasources_check_run")
def run_check(name: str, session: DB, actor: Allowed("datasource.check"),
              timeout_s: float = Query(queries.DEFAULT_TIMEOUT_S, gt=0, le=300)) -> dict[str, Any]:
    """Run the source's SLA checks now (synchronously, bounded by the timeout) and store the run."""
    run = runs.run_check(session, actor, name, trigger="manual", timeout_s=timeout_s)
    return {"source": name, **queries.run_view(run)}


@router.get("/datasources/{name}/runs", response_model=CheckRunListOut, operation_id="datasources_check_list")
def list_runs(name: str, session: DB, actor: Allowed("read"), limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Stored check runs, newest first, with their figures."""
    items = [queries.run_view(r) for r in queries.runs(session, name, limit)]
    return {"items": items, "total": len(items)}


@router.post("/datasources/{name}/announcements")
def announce(name: str, body: AnnouncementIn, session: DB, actor: Allowed("datasource.write")) -> dict[str, Any]:
    """Announce a schema change ahead so that, from its date, the schema check does not alert for it."""
    return queries.source_view(session, sources.announce_change(session, actor, name, body))


@router.post("/datasources/{name}/schema-baseline")
def schema_baseline(name: str, session: DB, actor: Allowed("datasource.write")) -> dict[str, Any]:
    """Take the table's current columns as the expected schema; later changes alert unless announced."""
    return queries.source_view(session, sources.baseline_schema(session, actor, name))


@router.get("/datasources/{name}/context")
def context(name: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Context-pipeline figures of a document collection over its recent runs."""
    src = queries.get(session, name)
    if src.kind != "collection":
        raise Invalid(f"data source '{name}' is not a document collection")
    return {"source": name, "history": queries.context_history(session, name),
            "referenced_by_releases": queries.bundles_referencing(session, name)}


@router.get("/datasources/{name}/access-rules")
def get_rules(name: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Which roles may read which fields, and which fields are sensitive."""
    return {"items": [access.rule_view(r) for r in access.access_rules(session, name)]}


@router.put("/datasources/{name}/access-rules")
def put_rules(name: str, body: AccessRulesIn, session: DB, actor: Allowed("datasource.write")) -> dict[str, Any]:
    """Replace the access rules of a source."""
    return {"items": [access.rule_view(r) for r in access.set_access_rules(session, actor, name, body.rules)]}


@router.post("/datasources/{name}/access-requests", status_code=201)
def request_access(name: str, body: AccessRequestIn, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Ask a data owner for time-limited access to sensitive fields."""
    return access.request_view(access.request_access(session, actor, name, body), name)


@router.get("/access-requests")
def list_requests(session: DB, actor: Allowed("read"), source: str | None = None,
                  status: str | None = None) -> dict[str, Any]:
    """Access requests and grants, newest first."""
    items = [access.request_view(r, n) for r, n in access.list_requests(session, source, status)]
    return {"items": items, "total": len(items)}


@router.post("/access-requests/{request_id}/decision")
def decide(request_id: Id, body: DecisionIn, session: DB, actor: Allowed("access.approve")) -> dict[str, Any]:
    """Approve (a grant for the requested hours) or reject; needs the data_owner role."""
    req, name = access.decide_request(session, actor, request_id, body.approve, body.note)
    return access.request_view(req, name)


@router.get("/datasources/{name}/preview")
def preview(name: str, session: DB, actor: Allowed("read"), fields: str = "", reason: str = "",
            limit: int = Query(20, ge=1, le=access.PREVIEW_MAX_ROWS)) -> dict[str, Any]:
    """A few rows of fields you may read (access rules + grants), written to the access log with your reason."""
    return access.preview(session, actor, name, _fields(fields), reason, limit)


@router.get("/datasources/{name}/export.csv", responses=CSV_RESPONSE)
def export(name: str, session: DB, actor: Allowed("read"), fields: str = "", reason: str = "",
           limit: int = Query(access.PREVIEW_MAX_ROWS, ge=1, le=access.PREVIEW_MAX_ROWS)) -> Response:
    """Permitted fields as CSV, written to the access log as an export."""
    body = access.export_csv(session, actor, name, _fields(fields), reason, limit)
    return Response(body, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _log_filters(actor_name: str | None, source: str | None, action: str | None, since: datetime | None,
                 until: datetime | None) -> dict[str, Any]:
    return {"actor": actor_name or None, "source": source or None, "action": action or None, "since": since, "until": until}


@router.get("/access-log")
def access_log(session: DB, actor: Allowed("read"), actor_name: str | None = Query(None, alias="actor"),
               source: str | None = None, action: str | None = None, since: BoundedDateTime | None = None,
               until: BoundedDateTime | None = None, limit: int = Query(100, ge=1, le=1000),
               offset: int = Query(0, ge=0, le=INT32_MAX)) -> dict[str, Any]:
    """Every read takeoff performed on a source: who, which source, which fields, when, why."""
    rows, total = access.access_log(session, limit=limit, offset=offset,
                                     **_log_filters(actor_name, source, action, since, until))
    return {"items": [access.log_view(e) for e in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/access-log.csv", responses=CSV_RESPONSE)
def access_log_csv(session: DB, actor: Allowed("read"), actor_name: str | None = Query(None, alias="actor"),
                   source: str | None = None, action: str | None = None, since: BoundedDateTime | None = None,
                   until: BoundedDateTime | None = None) -> Response:
    """The filtered access log as CSV."""
    body = access.access_log_csv(session, **_log_filters(actor_name, source, action, since, until))
    return Response(body, media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="access-log.csv"'})


@router.get("/usecases/{key}/data-quality")
def data_quality(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The readiness item "Data quality" for a use case, with its reasons and the sources behind it."""
    from takeoff.portfolio import service as portfolio

    portfolio.get(session, key)
    ev = evidence.readiness_evidence(session, key)
    return {"use_case": key, "status": ev.status, "reasons": ev.reasons,
            "sources": [f.name for f in evidence.sources_for_use_case(session, key)]}
