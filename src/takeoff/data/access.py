"""Least-privilege access to a source's fields: access rules, requests and time-limited grants, the reads takeoff
performs on a source's data (preview, CSV export), and the access log every read is written to."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import paginate, utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.core.permissions import ROLES
from takeoff.data.connect import SourceConn, SourceError
from takeoff.data.models import DataAccessLog, DataAccessRequest, DataAccessRule, DataSource
from takeoff.data.queries import DEFAULT_TIMEOUT_S, get, open_readonly
from takeoff.data.schemas import AccessRequestIn, AccessRuleIn

PREVIEW_MAX_ROWS = 1000


def access_rules(session: Session, name: str) -> list[DataAccessRule]:
    """A source's access rules by field."""
    src = get(session, name)
    return list(session.scalars(select(DataAccessRule).where(DataAccessRule.source_id == src.id).order_by(DataAccessRule.field)))


def rule_view(r: DataAccessRule) -> dict[str, Any]:
    return {"field": r.field, "roles": list(r.roles or []), "sensitive": r.sensitive}


def set_access_rules(session: Session, actor: Actor, name: str, rules: Sequence[AccessRuleIn]) -> list[DataAccessRule]:
    """Replace a source's access rules (least privilege: a field with no rule is readable by its owner only)."""
    src = get(session, name)
    seen: set[str] = set()
    for r in rules:
        if r.field in seen:
            raise Invalid(f"field '{r.field}' has two rules", details=[{"field": "rules", "message": "duplicate field"}])
        seen.add(r.field)
        bad = [role for role in r.roles if role not in ROLES]
        if bad:
            raise Invalid(f"unknown role '{bad[0]}'; known roles: {', '.join(ROLES)}",
                          details=[{"field": "rules", "message": "unknown role"}])
    old = access_rules(session, name)
    before = {"rules": [rule_view(r) for r in old]}
    for r in old:
        session.delete(r)
    session.flush()
    new = [DataAccessRule(source_id=src.id, field=r.field, roles=list(dict.fromkeys(r.roles)), sensitive=r.sensitive)
           for r in rules]
    session.add_all(new)
    session.flush()
    audit.record(session, actor, "datasource.access_rules", "data_source", name, before,
                 {"rules": [rule_view(r) for r in new]})
    return sorted(new, key=lambda r: r.field)


def request_view(r: DataAccessRequest, source: str) -> dict[str, Any]:
    now = utcnow()
    state = r.status
    if r.status == "approved" and r.expires_at is not None and r.expires_at <= now:
        state = "expired"
    return {"id": r.id, "source": source, "requester": r.requester, "fields": list(r.fields or []), "reason": r.reason,
            "hours": r.hours, "status": state, "decided_by": r.decided_by, "decision_note": r.decision_note,
            "requested_at": r.requested_at.isoformat(), "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None}


def request_access(session: Session, actor: Actor, name: str, data: AccessRequestIn) -> DataAccessRequest:
    """Ask for time-limited access to sensitive fields of a source."""
    src = get(session, name)
    sensitive = {r.field for r in access_rules(session, name) if r.sensitive}
    not_sensitive = [f for f in data.fields if f not in sensitive]
    if not_sensitive:
        raise Invalid(f"field '{not_sensitive[0]}' is not a sensitive field of {name}: no approval is needed or possible",
                      details=[{"field": "fields", "message": "not sensitive"}])
    req = DataAccessRequest(source_id=src.id, requester=actor.username, fields=list(dict.fromkeys(data.fields)),
                            reason=data.reason.strip(), hours=data.hours)
    session.add(req)
    session.flush()
    audit.record(session, actor, "access.request", "data_access_request", req.id, None, request_view(req, name))
    return req


def list_requests(session: Session, name: str | None = None, status: str | None = None) -> list[tuple[DataAccessRequest, str]]:
    """Access requests (with their source name), newest first."""
    q = select(DataAccessRequest, DataSource.name).join(DataSource, DataSource.id == DataAccessRequest.source_id)
    if name:
        q = q.where(DataSource.name == name)
    if status:
        q = q.where(DataAccessRequest.status == status)
    return [(r, n) for r, n in session.execute(q.order_by(DataAccessRequest.id.desc()).limit(500))]


def decide_request(session: Session, actor: Actor, request_id: int, approve: bool, note: str = "") -> tuple[DataAccessRequest, str]:
    """Approve (a grant until now + hours) or reject; the approver holds data_owner and is not the requester."""
    row = session.execute(select(DataAccessRequest, DataSource.name).join(DataSource, DataSource.id == DataAccessRequest.source_id)
                          .where(DataAccessRequest.id == request_id)).first()
    if row is None:
        raise NotFound(f"access request {request_id} not found")
    req, name = row
    if "data_owner" not in actor.roles and "admin" not in actor.roles:
        raise Forbidden("approving access to sensitive fields needs the data_owner role", code="permission_denied",
                        details=[{"permission": "access.approve"}])
    if req.requester == actor.username:
        raise Forbidden("you cannot approve your own access request", code="permission_denied")
    if req.status != "pending":
        raise Conflict(f"access request {request_id} is already {req.status}")
    before = request_view(req, name)
    now = utcnow()
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_note = actor.username, now, note
    req.expires_at = now + timedelta(hours=req.hours) if approve else None
    session.flush()
    audit.record(session, actor, "access.approve" if approve else "access.reject", "data_access_request", req.id,
                 before, request_view(req, name))
    return req, name


def readable_fields(session: Session, actor: Actor, src: DataSource, now: datetime | None = None) -> dict[str, str]:
    """field → why this actor may read it; fields absent are not readable (no rule, role, or live grant)."""
    now = now or utcnow()
    rules = {r.field: r for r in session.scalars(select(DataAccessRule).where(DataAccessRule.source_id == src.id))}
    grants: set[str] = set()
    for req in session.scalars(select(DataAccessRequest).where(
            DataAccessRequest.source_id == src.id, DataAccessRequest.requester == actor.username,
            DataAccessRequest.status == "approved")):
        if req.expires_at is not None and req.expires_at > now:
            grants.update(req.fields or [])
    out: dict[str, str] = {}
    for field, rule in rules.items():
        if actor.username == src.owner:
            out[field] = "owner"
        elif not (set(rule.roles or []) & set(actor.roles)) and "admin" not in actor.roles:
            continue
        elif rule.sensitive:
            if field in grants:
                out[field] = "grant"
        else:
            out[field] = "role"
    return out


def preview(session: Session, actor: Actor, name: str, fields: Sequence[str], reason: str, limit: int = 20,
            *, action: str = "preview") -> dict[str, Any]:
    """Read up to `limit` rows of permitted fields (logged with the reason); 403 naming a field not permitted."""
    src = get(session, name)
    if not reason or not reason.strip():
        raise Invalid("say why you read this data (reason)", details=[{"field": "reason", "message": "required"}])
    if not fields:
        raise Invalid("name the fields to read", details=[{"field": "fields", "message": "required"}])
    if not (1 <= limit <= PREVIEW_MAX_ROWS):
        raise Invalid(f"limit must be between 1 and {PREVIEW_MAX_ROWS}", details=[{"field": "limit", "message": "out of range"}])
    allowed = readable_fields(session, actor, src)
    denied = [f for f in fields if f not in allowed]
    if denied:
        raise Forbidden(f"you may not read field '{denied[0]}' of {name}: it needs a role rule"
                        + (" and an approved grant" if denied[0] in {r.field for r in access_rules(session, name) if r.sensitive}
                           else ""), code="field_denied", details=[{"field": denied[0]}])
    try:
        conn = open_readonly(session, src, DEFAULT_TIMEOUT_S)
    except SourceError as e:
        raise Invalid(f"cannot read {name}: {e.reason}") from None
    try:
        table = src.table_name or conn.default_table or ""
        cols = ", ".join(conn.quote(f) for f in fields)
        sql = f"SELECT {cols} FROM {conn.quote_table(table)} LIMIT {int(limit)}"
        rows = _fetch(conn, sql, table)
    except SourceError as e:
        raise Invalid(f"cannot read {name}: {e.reason}") from None
    finally:
        conn.close()
    log_access(session, actor, name, action, list(fields), reason.strip(), rows=len(rows))
    return {"source": name, "fields": list(fields), "rows": [[_jsonable(v) for v in r] for r in rows]}


def _fetch(conn: SourceConn, sql: str, table: str) -> list[tuple[Any, ...]]:
    try:
        if conn.duck is not None:
            cur = conn.duck.cursor()
            try:
                return [tuple(r) for r in cur.execute(sql).fetchall()]
            finally:
                cur.close()
        assert conn.engine is not None
        with conn.engine.connect() as c:
            trans = c.begin()
            try:
                if conn.dialect == "postgresql":
                    c.exec_driver_sql("SET TRANSACTION READ ONLY")
                return [tuple(r) for r in c.execute(sa.text(sql))]
            finally:
                trans.rollback()
    except Exception as e:
        raise SourceError(conn.reason_for(e, table)) from None


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return str(v)


def export_csv(session: Session, actor: Actor, name: str, fields: Sequence[str], reason: str, limit: int = PREVIEW_MAX_ROWS) -> str:
    """Permitted fields as CSV (logged as an export)."""
    data = preview(session, actor, name, fields, reason, limit, action="export")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(data["fields"])
    w.writerows(data["rows"])
    return buf.getvalue()


def log_access(session: Session, actor: Actor | str, source: str, action: str, fields: Sequence[str], reason: str,
               rows: int | None = None) -> DataAccessLog:
    """Append one line to the access log in the caller's transaction."""
    who = actor.username if isinstance(actor, Actor) else str(actor)
    entry = DataAccessLog(actor=who, source=source, action=action, fields=list(fields), reason=reason, rows=rows, at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def access_log(session: Session, *, actor: str | None = None, source: str | None = None, action: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[DataAccessLog], int]:
    """Access-log lines newest first, filtered, with the total count."""
    if limit < 1 or limit > 10_000 or offset < 0:
        raise Invalid("limit must be 1..10000 and offset >= 0")
    since, until = (_aware(d) for d in (since, until))
    q = select(DataAccessLog)
    if actor:
        q = q.where(DataAccessLog.actor == actor)
    if source:
        q = q.where(DataAccessLog.source == source)
    if action:
        q = q.where(DataAccessLog.action == action)
    if since:
        q = q.where(DataAccessLog.at >= since)
    if until:
        q = q.where(DataAccessLog.at < until)
    return paginate(session, q, DataAccessLog.id.desc(), limit, offset)


def _aware(value: datetime | None) -> datetime | None:
    # A date typed without a zone means UTC, the zone every page shows.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def log_view(e: DataAccessLog) -> dict[str, Any]:
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "source": e.source, "action": e.action,
            "fields": list(e.fields or []), "reason": e.reason, "rows": e.rows}


def access_log_csv(session: Session, **filters: Any) -> str:
    """The filtered access log as CSV (up to 10 000 lines)."""
    rows, _ = access_log(session, limit=10_000, **filters)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["at", "actor", "source", "action", "fields", "reason", "rows"])
    for e in rows:
        w.writerow([e.at.isoformat(), e.actor, e.source, e.action, " ".join(e.fields or []), e.reason,
                    "" if e.rows is None else e.rows])
    return buf.getvalue()
