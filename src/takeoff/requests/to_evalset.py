"""Production requests into an eval set: pick requests (by id, by the explorer's filters, or an incident's), turn each
captured request into a case (requests.cases), and have the evals service write them as a new version with their
provenance. One transaction: a refusal (404, 403, 422) writes nothing. Requests without captured content are skipped
and counted by reason; if none is left the call is refused."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Forbidden, Invalid, NotFound
from takeoff.core.events import INCIDENT_SCOPE, provided
from takeoff.evals import production
from takeoff.evals import sets as evals
from takeoff.requests import cases, queries
from takeoff.requests.schemas import MAX_BATCH, ToEvalSetIn
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.request_models import RequestContent

SKIP_REASONS = ("no_content", "no_input", "other_use_case")


def _bad(field: str, message: str, **extra: Any) -> Invalid:
    return Invalid(f"{field}: {message}", details=[{"field": field, "message": message, **extra}])


def select_requests(session: Session, body: ToEvalSetIn, unit_key: bytes) -> tuple[list[str], dict[str, Any] | None]:
    """The selected request ids (newest first for filters) and the incident they belong to, if one was named.
    404 for an unknown request or incident; 422 for no selection, two selections, an empty one, or one over MAX_BATCH."""
    given = [n for n in ("request_ids", "filters", "incident") if getattr(body, n) is not None]
    if len(given) != 1:
        raise _bad("request_ids", "give exactly one of request_ids, filters or incident"
                   + (f" (got {', '.join(given)})" if given else ""))
    if body.request_ids is not None:
        ids = list(dict.fromkeys(i.strip() for i in body.request_ids))
        if not ids or "" in ids:
            raise _bad("request_ids", "name at least one request (no empty id)")
        found = set(session.scalars(select(TelemetryEvent.id).where(TelemetryEvent.id.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no request with id {missing[0][:128]!r}"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        return ids, None
    incident: dict[str, Any] | None = None
    if body.incident is not None:
        scope = provided(INCIDENT_SCOPE)  # incidents share this floor: offered at start, not imported
        if scope is None:
            raise _bad("incident", "this build has no incidents; select the requests by filters")
        incident = scope(session, body.incident)
        f = queries.Filters(use_case=incident["use_case"], start=incident["start"], end=incident["end"])
        field = "incident"
    else:
        raw = body.filters or {}
        unknown = sorted(set(raw) - set(queries.Filters.__dataclass_fields__))
        if unknown:
            raise _bad(f"filters.{unknown[0]}", "not a filter of requests")
        try:
            f = queries.parse_filters(raw)
        except Invalid as exc:
            d = (exc.details or [{}])[0]
            raise _bad(f"filters.{d.get('field', '?')}", str(d.get("message", exc.message))) from None
        field = "filters"
    ids = queries.matching_ids(session, f, unit_key, MAX_BATCH + 1)
    if not ids:
        raise _bad(field, "no request matches this selection")
    if len(ids) > MAX_BATCH:
        raise _bad(field, f"more than {MAX_BATCH} requests match: over the max batch size ({MAX_BATCH}); narrow "
                   "the selection (a time range, a status, a release)", max_batch=MAX_BATCH)
    return ids, incident


def _expected(value: Any, rid: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _bad(f"corrections.{rid[:128]}", "a corrected expected output cannot be empty")
    return value.strip() if isinstance(value, str) else value


def _tags(body: ToEvalSetIn, incident: dict[str, Any] | None) -> list[str]:
    tags = []
    for i, t in enumerate(body.tags):
        if not isinstance(t, str) or not t.strip() or len(t.strip()) > 60:
            raise _bad(f"tags[{i}]", "a non-empty tag of at most 60 characters")
        tags.append(t.strip())
    tags.append("production")
    if incident is not None:
        tags.append(f"incident-{incident['id']}")
    if body.failure_category:
        tags.append(body.failure_category)
    return list(dict.fromkeys(tags))


def add_to_evalset(session: Session, actor: Actor, body: ToEvalSetIn, unit_key: bytes,
                   now: datetime | None = None) -> dict[str, Any]:
    """Add the selected requests to a new version of the eval set (see the module docstring); audited."""
    if not actor.can("content.read"):
        raise Forbidden("adding requests to an eval set copies their content: it needs content.read as well as "
                        "evalset.write")
    es = evals.get_set(session, body.eval_set)  # 404 first: nothing is read for a set that is not there
    ids, incident = select_requests(session, body, unit_key)
    for rid in body.corrections:
        if rid not in ids:
            raise _bad(f"corrections.{rid[:128]}", "not one of the selected requests")
    now = now or utcnow()
    events = {e.id: e for e in session.scalars(select(TelemetryEvent).where(TelemetryEvent.id.in_(ids)))}
    contents = {c.event_id: c for c in session.scalars(select(RequestContent).where(RequestContent.event_id.in_(ids)))}
    tags = _tags(body, incident)
    skipped: dict[str, int] = {}
    new: list[production.NewCase] = []
    redacted = 0
    for rid in ids:
        e, c = events[rid], contents.get(rid)
        reason = None
        if es.use_case_key and e.use_case != es.use_case_key:
            reason = "other_use_case"
        elif c is None or (c.expires_at is not None and c.expires_at <= now):
            reason = "no_content"  # captured off for its use case, expired, or removed on a data subject's request
        if reason is None and c is not None:
            content = json.loads(c.body or "{}")
            inp = cases.case_input(content)
            if inp is None:
                reason = "no_input"
        if reason is not None or c is None:
            skipped[reason or "no_content"] = skipped.get(reason or "no_content", 0) + 1
            continue
        expected = _expected(body.corrections[rid], rid) if rid in body.corrections else (
            cases.case_output(content) if body.reference == "output" else None)
        redacted += bool(c.redactions)
        new.append(production.NewCase(
            {"id": f"req-{rid}"[:200], "input": inp, "expected": expected, "tags": tags, "metadata": {}},
            {"source": "production", "request_id": rid, "use_case": e.use_case, "release": e.release or None,
             "incident": incident["id"] if incident else None, "failure_category": body.failure_category,
             "request_ts": e.ts.isoformat(), "corrected": rid in body.corrections, "added_by": actor.username,
             "redactions": dict(c.redactions or {}), "truncated_fields": c.truncated}))
    if not new:
        why = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
        raise _bad("request_ids" if body.request_ids is not None else "incident" if incident else "filters",
                   f"none of the {len(ids)} selected requests can become a case ({why}); content is captured only "
                   "where the use case's capture policy allows it", skipped=skipped)
    note = body.note.strip() or (f"{len(new)} cases from production"
                                 + (f" (incident #{incident['id']}: {incident['title']})" if incident else ""))
    done = production.add_cases(session, actor, es.name, new, note[:2000])
    label = f"{es.name}@{done.version.version}"
    if done.created:  # nothing changed, nothing to record
        audit.record(session, actor, "requests.to_evalset", "eval_set", label, None,
                     {"selected": len(ids), "added": len(done.added), "changed": len(done.changed),
                      "unchanged": len(done.unchanged), "skipped": skipped,
                      "incident": incident["id"] if incident else None})
    return {"eval_set": es.name, "version": done.version.version, "created": done.created, "selected": len(ids),
            "added": done.added, "changed": done.changed, "unchanged": done.unchanged, "skipped": skipped,
            "redacted": redacted, "incident": incident["id"] if incident else None,
            "url": f"/evalsets/{es.name}/versions/{done.version.version}"}
