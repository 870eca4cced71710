"""Request records' storage: capture policies (read per batch through a short cache, set with an audit entry), the
ingestion hook (unit ids keyed-hashed, span trees and captured content inserted in bulk), retention and deletion of
a unit's data on a data subject's request. The explorer's reads are in takeoff.requests.queries."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import pydantic_core
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Invalid
from takeoff.telemetry import capture
from takeoff.telemetry.capture import Policy
from takeoff.telemetry.common import sqlite_time
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback
from takeoff.telemetry import text_index, unit_index
from takeoff.telemetry.request_models import CapturePolicy, RequestContent, TelemetrySpan

POLICY_TTL_S = 2.0
_SPAN_COLS = ("event_id", "span_id", "trace_id", "parent_span_id", "name", "kind", "status", "start", "duration_ms",
              "attributes")
_CONTENT_COLS = ("event_id", "use_case", "ts", "expires_at", "body", "redactions", "truncated", "batch")
_MAX_PARAMS = 900  # bound parameters per SQLite statement (under every build's limit)


# ---------------------------------------------------------------------------------------------------- policies
def _from_row(row: CapturePolicy) -> Policy:
    return capture.make_policy(row.use_case, row.capture, row.kinds or (), row.patterns or (), row.max_chars,
                               row.retention_days, row.unit_ids)


class _PolicyCache:
    """Policies per (database, use case) for POLICY_TTL_S: a batch reads them once; a change made in this process is
    seen at once (set_policy forgets it), one made by another process at most POLICY_TTL_S later."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Policy]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, use_cases: Iterable[str]) -> dict[str, Policy]:
        db, now = str(session.get_bind().url), time.monotonic()
        out: dict[str, Policy] = {}
        with self._lock:
            for uc in use_cases:
                hit = self._entries.get((db, uc))
                if hit is not None and hit[0] >= now:
                    out[uc] = hit[1]
        missing = sorted(set(use_cases) - set(out))
        if missing:
            found = read_policies(session, missing)
            with self._lock:
                for uc in missing:
                    self._entries[(db, uc)] = (now + POLICY_TTL_S, found[uc])
            out.update(found)
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHE = _PolicyCache()


def read_policies(session: Session, use_cases: Sequence[str]) -> dict[str, Policy]:
    """Each use case's policy as stored (the defaults where none is set)."""
    rows = {r.use_case: r for r in session.scalars(select(CapturePolicy).where(CapturePolicy.use_case.in_(use_cases)))}
    return {uc: _from_row(rows[uc]) if uc in rows else Policy(uc) for uc in use_cases}


def policies(session: Session, use_cases: Iterable[str]) -> dict[str, Policy]:
    """The policies of a batch's use cases (cached for POLICY_TTL_S)."""
    return _CACHE.get(session, use_cases)


def clear_policy_cache() -> None:
    """Forget cached policies (tests that empty tables)."""
    _CACHE.clear()


def set_policy(session: Session, actor: Actor, policy: Policy) -> Policy:
    """Store a use case's policy (validated by capture.make_policy) with an audit entry of before and after."""
    row = session.get(CapturePolicy, policy.use_case)
    before = _from_row(row).view() if row is not None else Policy(policy.use_case).view()
    if row is None:
        row = CapturePolicy(use_case=policy.use_case)
        session.add(row)
    row.capture, row.kinds, row.patterns = policy.capture, list(policy.kinds), policy.view()["patterns"]
    row.max_chars, row.retention_days, row.unit_ids = policy.max_chars, policy.retention_days, policy.unit_ids
    row.updated_by, row.updated_at = actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "capture_policy.set", "use_case", policy.use_case, before=before, after=policy.view())
    _CACHE.clear()
    return policy


# ---------------------------------------------------------------------------------------------------- ingestion
def protect_units(rows: list[tuple[Any, ...]], policies: dict[str, Policy], unit_key: bytes) -> list[tuple[Any, ...]]:
    """Event rows (service._EVENT_COLS: use_case at 1, unit_id at 3) with unit ids keyed-hashed unless the use
    case's policy keeps them raw."""
    raw = {uc for uc, p in policies.items() if p.unit_ids == "raw"}
    return [r if r[3] is None or r[1] in raw else (*r[:3], capture.unit_ref(r[3], unit_key), *r[4:]) for r in rows]


def trace_of(ev: dict[str, Any]) -> dict[str, Any]:
    """The trace ids an event carries, as kept in its data document."""
    return {"trace_id": ev.get("trace_id"), "span_id": ev.get("span_id"), "parent_span_id": ev.get("parent_span_id")}


class Prepared:
    """A batch's span and content rows, built before the write phase (redaction is the costly part: done outside the
    database's write lock, so another process's batch can write meanwhile), each keyed by its event id; its content
    rows share one text search block (`batch`, takeoff.telemetry.text_index); `units` are the unit index's entries
    of the batch's requests (takeoff.telemetry.unit_index), set by the caller from the stored rows."""

    __slots__ = ("spans", "contents", "batch", "units")

    def __init__(self) -> None:
        self.units: list[tuple[Any, Any, str]] = []
        self.spans: list[tuple[Any, ...]] = []
        self.contents: list[tuple[Any, ...]] = []
        self.batch = text_index.new_batch_id()


def prepare(events: Iterable[dict[str, Any]], policies: dict[str, Policy], sqlite: bool,
            now: datetime | None = None) -> Prepared:
    """Span rows and captured content (redacted, capped, serialised once) of a batch's events; nothing is done per
    event unless it carries spans or its use case captures content."""
    capturing = {uc for uc, p in policies.items() if p.capture}
    out = Prepared()
    spans, contents = out.spans, out.contents
    now = now or utcnow()
    expiry: dict[str, Any] = {}
    for ev in events:
        ev_spans = ev.get("spans")
        if ev_spans:
            eid = ev["id"]
            seen: set[str] | None = set() if len(ev_spans) > 1 else None
            for s in ev_spans:
                sid = s["span_id"]
                if seen is not None:
                    if sid in seen:  # one row per span id of a request
                        continue
                    seen.add(sid)
                attrs = s.get("attributes")
                spans.append((eid, sid, s["trace_id"], s.get("parent_span_id"), s["name"], s.get("kind"),
                              s.get("status") or "unset", _time(s["start"], sqlite), s.get("duration_ms"),
                              _json(attrs) if attrs else "{}"))
        uc = ev["use_case"]
        if capturing and uc in capturing and ev.get("content"):
            policy = policies[uc]
            body, found, cut = capture.apply(ev["content"], policy)
            if body:
                if uc not in expiry:  # one expiry per use case and batch
                    expiry[uc] = (_time((now + timedelta(days=policy.retention_days)).timestamp(), sqlite)
                                  if policy.retention_days else None)
                contents.append((ev["id"], uc, _time(ev["ts"], sqlite), expiry[uc], _json(body),
                                 _json(found) if found else "{}", cut, out.batch))
    return out


def write(session: Session, prepared: Prepared, new_ids: set[str], sqlite: bool) -> None:
    """Insert the prepared rows of the events that were new (a concurrent batch may have stored some first)."""
    spans = [r for r in prepared.spans if r[0] in new_ids]
    contents = [r for r in prepared.contents if r[0] in new_ids]
    unit_index.append(session, [u for u in prepared.units if u[2] in new_ids], sqlite)
    if spans:
        _bulk(session, "telemetry_spans", _SPAN_COLS, spans, sqlite, json_cols={9})
    if contents:
        _bulk(session, "request_content", _CONTENT_COLS, contents, sqlite, json_cols={5})
        text_index.queue(session, {prepared.batch: len(contents)})  # its text search block, built behind ingestion


def store(session: Session, events: Iterable[dict[str, Any]], policies: dict[str, Policy], sqlite: bool,
          now: datetime | None = None) -> None:
    """prepare + write, for events all newly stored."""
    evs = list(events)
    write(session, prepare(evs, policies, sqlite, now), {ev["id"] for ev in evs}, sqlite)


def _json(value: Any) -> str:
    return pydantic_core.to_json(value, serialize_unknown=True).decode()


def _time(x: float, sqlite: bool) -> Any:
    """Unix seconds as stored: SQLAlchemy's SQLite DATETIME text, an aware datetime for PostgreSQL."""
    return sqlite_time(x) if sqlite else datetime.fromtimestamp(x, UTC)


def _bulk(session: Session, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]], sqlite: bool,
          json_cols: set[int]) -> None:
    """Rows in: COPY on PostgreSQL, multi-row INSERT chunks on SQLite (the events' own insert paths)."""
    conn = session.connection()
    if not sqlite:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    one = f"({', '.join('?' * len(cols))})"
    per = max(1, _MAX_PARAMS // len(cols))
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([one] * len(chunk))}",
                             tuple(chain.from_iterable(chunk)))


# ---------------------------------------------------------------------------------------------------- retention
def content_expiry(stored: datetime | None, ts: datetime, retention_days: int | None) -> datetime | None:
    """When `delete_expired` removes a content row: the expiry it was stored with, or sooner when its use case's
    current retention is shorter (a longer one never extends it); None: kept as long as the events."""
    by_policy = ts + timedelta(days=retention_days) if retention_days else None
    return min((t for t in (stored, by_policy) if t is not None), default=None)


def delete_expired(session: Session, events_before: datetime, now: datetime | None = None, limit: int = 20_000
                   ) -> dict[str, int]:
    """Delete up to `limit` each of: content past the expiry it was stored with, content older than its use case's
    current retention (a shortened retention applies to what is already stored; a longer one never extends the
    expiry content was stored with), content older than the raw events' retention, and spans older than that
    retention (the text search blocks of deleted content are rebuilt). Returns how many of each."""
    now = now or utcnow()
    out = {}
    retained = session.execute(select(CapturePolicy.use_case, CapturePolicy.retention_days)
                               .where(CapturePolicy.retention_days.is_not(None)).order_by(CapturePolicy.use_case))
    by_policy = [(RequestContent.use_case == uc) & (RequestContent.ts < now - timedelta(days=days))
                 for uc, days in retained]  # one (use_case, ts) index range per use case
    for name, conds in (
            ("content_expired", [RequestContent.expires_at < now]),
            ("content_policy", by_policy),
            ("content_old", [RequestContent.ts < events_before])):
        out[name] = 0
        for cond in conds:
            ids = select(RequestContent.event_id).where(cond).limit(limit).scalar_subquery()
            batches = list(session.scalars(delete(RequestContent).where(RequestContent.event_id.in_(ids))
                                           .returning(RequestContent.batch)))
            text_index.requeue(session, batches)
            out[name] += len(batches)
    old = select(TelemetrySpan.event_id).where(TelemetrySpan.start < events_before).limit(limit).scalar_subquery()
    out["spans"] = int(session.execute(delete(TelemetrySpan).where(TelemetrySpan.event_id.in_(old),
                                                                   TelemetrySpan.start < events_before)).rowcount or 0)
    return out


# ---------------------------------------------------------------------------------------------------- data subjects
MAX_UNIT_ID = 200


def delete_unit(session: Session, actor: Actor, unit_id: str, unit_key: bytes) -> dict[str, Any]:
    """Remove a unit's (a data subject's) content and references: its requests' captured content is deleted, the
    unit id is cleared on its requests and its feedback (whose comments are deleted), span attributes holding the
    id are dropped. Audited (with the unit's keyed hash, never the id). Returns what was removed.

    Rollups are not recomputed: they hold counts and a sketch of keyed 52-bit unit hashes, no unit id and no
    content, so nothing in them names the unit; removing its hash from past sketches would only change the distinct
    unit counts of periods already reported."""
    if not isinstance(unit_id, str) or not unit_id.strip() or len(unit_id) > MAX_UNIT_ID or "\x00" in unit_id:
        raise Invalid(f"unit: a unit id of 1-{MAX_UNIT_ID} characters",
                      details=[{"field": "unit", "message": f"a unit id of 1-{MAX_UNIT_ID} characters"}])
    forms = capture.unit_forms(unit_id, unit_key)
    sqlite = session.get_bind().dialect.name == "sqlite"
    ids = list(session.scalars(select(TelemetryEvent.id).where(*unit_index.holding(forms, sqlite))))
    contents = spans_changed = 0
    for i in range(0, len(ids), _MAX_PARAMS):
        chunk = ids[i:i + _MAX_PARAMS]
        batches = list(session.scalars(delete(RequestContent).where(RequestContent.event_id.in_(chunk))
                                       .returning(RequestContent.batch)))
        text_index.requeue(session, batches)  # no word of the unit's content stays in a text search block
        contents += len(batches)
        for span in session.scalars(select(TelemetrySpan).where(TelemetrySpan.event_id.in_(chunk))):
            kept = {k: v for k, v in (span.attributes or {}).items() if v != unit_id}
            if kept != span.attributes:
                span.attributes = kept
                spans_changed += 1
        session.execute(update(TelemetryEvent).where(TelemetryEvent.id.in_(chunk)).values(unit_id=None))
    if sqlite:
        unit_index.forget(session, forms)
    feedback = session.execute(update(TelemetryFeedback).where(TelemetryFeedback.unit_id.in_(forms))
                               .values(unit_id=None, comment="")).rowcount or 0
    result = {"unit": unit_id, "requests": len(ids), "content_deleted": contents, "spans_cleaned": spans_changed,
              "feedback": int(feedback), "found": bool(ids or feedback),
              "rollups": "unchanged: they hold counts and keyed hashes of unit ids, never the id or content"}
    audit.record(session, actor, "unit.delete", "unit", forms[1], after={k: v for k, v in result.items() if k != "unit"})
    return result
