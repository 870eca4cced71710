"""Requests operations: capture policies and a data subject's deletion (the writes live in
takeoff.telemetry.requests_store, the owner of the request tables; this module checks and shapes them)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid
from takeoff.portfolio import service as portfolio
from takeoff.requests.schemas import PolicyIn, PolicyPatch
from takeoff.sdk import redact
from takeoff.telemetry import capture, requests_store
from takeoff.telemetry.request_models import CapturePolicy


def get_policy(session: Session, use_case_key: str) -> dict[str, Any]:
    """A use case's policy (404 for an unknown use case; the defaults when none was set)."""
    uc = portfolio.get(session, use_case_key)
    return requests_store.read_policies(session, [uc.key])[uc.key].view()


def policy_record(session: Session, use_case_key: str) -> dict[str, Any]:
    """The policy as stored, with who changed it last and when (both None when it was never set)."""
    row = session.get(CapturePolicy, use_case_key)
    return {**get_policy(session, use_case_key), "updated_by": row.updated_by if row else None,
            "updated_at": row.updated_at.isoformat() if row and row.updated_at else None}


def set_policy(session: Session, actor: Actor, use_case_key: str, body: PolicyIn) -> dict[str, Any]:
    """Validate and store a use case's policy (audited); Invalid naming the field when a pattern or value is bad."""
    uc = portfolio.get(session, use_case_key)
    return requests_store.set_policy(session, actor, _checked(uc.key, body)).view()


def _checked(use_case: str, body: PolicyIn) -> capture.Policy:
    """The policy a body asks for, checked (patterns compiled); Invalid naming the field when a value is bad."""
    try:
        return capture.make_policy(use_case, body.capture, body.kinds, [p.model_dump() for p in body.patterns],
                                   body.max_chars, body.retention_days, body.unit_ids)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise Invalid(str(exc), details=[{"field": field, "message": message or str(exc)}]) from None


NULLABLE = ("retention_days",)  # the one policy field whose null means something (no content retention of its own)


def patch_policy(session: Session, actor: Actor, use_case_key: str, body: PolicyPatch) -> dict[str, Any]:
    """Change only the fields given (audited with before and after, like a whole policy); a patch that changes
    nothing writes nothing. Invalid naming the field for a null where a value is needed."""
    uc = portfolio.get(session, use_case_key)
    given = body.model_fields_set
    nulls = sorted(f for f in given if getattr(body, f) is None and f not in NULLABLE)
    if nulls:
        raise Invalid(f"{nulls[0]}: a value is needed (leave the field out to keep it)",
                      details=[{"field": f, "message": "a value is needed (leave the field out to keep it)"}
                               for f in nulls])
    current = requests_store.read_policies(session, [uc.key])[uc.key].view()
    merged = {k: v for k, v in {**current, **body.model_dump(include=given)}.items() if k != "use_case"}
    policy = _checked(uc.key, PolicyIn.model_validate(merged))
    if policy.view() == current:  # detectors in another order, the same values: nothing to write
        return current
    return requests_store.set_policy(session, actor, policy).view()


def delete_unit(session: Session, actor: Actor, unit_id: str, unit_key: bytes) -> dict[str, Any]:
    """Remove a unit's content and references (see requests_store.delete_unit); says when it had no data."""
    return requests_store.delete_unit(session, actor, unit_id, unit_key)


def audit_content_export(session: Session, actor: Actor, filters: Mapping[str, str], max_rows: int,
                         unit_key: bytes) -> None:
    """Record an export of redacted content with the filters that chose it, as a policy change is recorded: who took
    which content out is accountable (a subject access request, a bulk review). The record holds no personal data:
    the unit as its keyed hash (as the deletion's record does), a text search redacted."""
    given = {k: v for k, v in filters.items() if v not in ("", None)}
    if "unit" in given:
        given["unit"] = capture.unit_ref(given["unit"], unit_key)
    if "q" in given:
        given["q"] = redact.redact(given["q"])[0]
    audit.record(session, actor, "requests.export_content", "requests", given.get("use_case", "*"),
                 after={"filters": given, "max": max_rows})
