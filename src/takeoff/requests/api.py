"""Requests HTTP API: the explorer (list with filters and keyset pages, export, detail), capture policies per use
case, and deletion of a unit's data (mounted under /api/v1)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from takeoff.core.errors import Forbidden, Invalid
from takeoff.deps import DB, Allowed
from takeoff.requests import export, queries, service, to_evalset
from takeoff.requests.schemas import PolicyIn, PolicyPatch, ToEvalSetIn, ToEvalSetOut, UnitDeletionIn
from takeoff.telemetry import rollup

router = APIRouter(tags=["requests"])
FILTER_NAMES = tuple(f for f in queries.Filters.__dataclass_fields__)


def unit_key(request: Request) -> bytes:
    """The keyed-hash key of unit ids on this server."""
    return rollup.unit_key(request.app.state.settings.resolved_secret_key)


def _filters(request: Request) -> queries.Filters:
    unknown = sorted(set(request.query_params) - set(FILTER_NAMES) - {"limit", "cursor", "format", "max", "content"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a filter of requests",
                      details=[{"field": unknown[0], "message": f"not one of {', '.join(FILTER_NAMES)}"}])
    return queries.parse_filters(request.query_params)


@router.get("/requests")
def list_requests(request: Request, session: DB, actor: Allowed("read"), limit: int = Query(50, ge=1, le=200),
                  cursor: str | None = Query(None, max_length=600)) -> dict[str, Any]:
    """Requests newest first, filtered (use_case, release, status, error_category, model, provider, start, end,
    unit, score with score_min/score_max, rating_min/rating_max, has_content, q: text in stored content);
    `next_cursor` fetches the next page. A text search the index cannot narrow tests a bounded number of requests
    per page: the page may then hold fewer items than `limit` (even none), `searched_to` says how far back it
    looked, and `next_cursor` goes on from there (null only at the end)."""
    return queries.page(session, _filters(request), unit_key(request), limit, cursor)


@router.get("/requests/export", response_class=StreamingResponse, responses={200: {"content": {
    "application/x-ndjson": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}})
def export_requests(request: Request, session: DB, actor: Allowed("read"),
                    format: str = Query("jsonl", pattern="^(jsonl|csv)$"),
                    max: int = Query(10_000, ge=1, le=export.MAX_EXPORT),
                    content: bool = Query(False, description="each request's redacted content too (JSONL only; "
                                                             "needs content.read)")) -> StreamingResponse:
    """The filtered requests as JSONL or CSV, newest first, at most `max` rows, streamed: metadata, and with
    `content=true` (JSONL, content.read) each one's redacted content (null where none is stored; the export is
    audited as `requests.export_content` with its filters)."""
    if content and format != "jsonl":
        raise Invalid("content: the content is exported in JSONL only (format=jsonl)",
                      details=[{"field": "content", "message": "JSONL only (format=jsonl)"}])
    if content and not actor.can("content.read"):
        raise Forbidden("exporting content needs the content.read permission")
    rows = export.export_rows(request.app.state.engine, _filters(request), unit_key(request), max, content)
    if content:  # checked, not yet read: the record commits before the response starts
        service.audit_content_export(session, actor, {k: v for k, v in request.query_params.items()
                                                      if k in FILTER_NAMES}, max, unit_key(request))
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(export.export_lines(rows, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="requests.{format}"'})


@router.post("/requests/to-evalset", status_code=201, response_model=ToEvalSetOut,
             operation_id="requests_to_evalset")
def to_eval_set(body: ToEvalSetIn, request: Request, session: DB, actor: Allowed("evalset.write")) -> dict[str, Any]:
    """Add production requests (by id, the explorer's filters, or an incident's) to a new version of an eval set:
    input from the captured content, the output or a correction as expected, tags, provenance (audited; needs
    content.read too). Requests without captured content are skipped and counted; 422 when none is left, when the
    selection is empty or over the max batch size; 404 for an unknown request, incident or eval set."""
    return to_evalset.add_to_evalset(session, actor, body, unit_key(request))


@router.get("/requests/{request_id}")
def get_request(request_id: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One request: record, span tree, tokens, cost, latency, scores, feedback, links, and its redacted content for
    callers who may read content (`content.read`). 404 when unknown."""
    return queries.detail(session, request_id, actor.can("content.read"))


@router.get("/capture-policies/{use_case}")
def get_policy(use_case: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """A use case's content capture policy (the defaults when none was set: no content, unit ids hashed)."""
    return service.get_policy(session, use_case)


@router.put("/capture-policies/{use_case}")
def put_policy(use_case: str, body: PolicyIn, session: DB, actor: Allowed("privacy.write")) -> dict[str, Any]:
    """Set a use case's capture policy (audited): capture on/off, detectors, operator patterns (checked on save),
    size cap per field, content retention, hashed or raw unit ids."""
    return service.set_policy(session, actor, use_case, body)


@router.patch("/capture-policies/{use_case}")
def patch_policy(use_case: str, body: PolicyPatch, session: DB, actor: Allowed("privacy.write")) -> dict[str, Any]:
    """Change some fields of a use case's capture policy, keeping the others (audited; a patch that changes
    nothing writes nothing). `retention_days: null` keeps content as long as the events."""
    return service.patch_policy(session, actor, use_case, body)


@router.post("/requests/unit-deletions")
def delete_unit(body: UnitDeletionIn, request: Request, session: DB, actor: Allowed("privacy.write")
                ) -> dict[str, Any]:
    """A data subject's request: remove a unit's content and references from requests and feedback (audited);
    answers what was removed (`found: false` when the unit had no data)."""
    return service.delete_unit(session, actor, body.unit, unit_key(request))
