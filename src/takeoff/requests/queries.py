"""Reads of request records for the explorer: filters checked at the edge, keyset pages (newest first, an opaque
cursor), one request's detail, and a bounded export. Every filter maps to an indexed first page (tele0007)."""
from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, text
from sqlalchemy.orm import Session

from takeoff.catalog import service as catalog
from takeoff.core.errors import Invalid, NotFound
from takeoff.requests import text_search
from takeoff.telemetry import capture, requests_store, text_index, unit_index
from takeoff.sdk.tracking import STATUSES  # the SDK's one event vocabulary
from takeoff.telemetry.ingest import parse_time, release_key
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback
from takeoff.telemetry.request_models import RequestContent, TelemetrySpan

E, C, F = TelemetryEvent, RequestContent, TelemetryFeedback
MAX_LIMIT = 200


@dataclass(frozen=True)
class Filters:
    """The explorer's filters (all optional, combined with AND)."""

    use_case: str | None = None
    release: str | None = None
    status: str | None = None
    error_category: str | None = None
    model: str | None = None
    provider: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    unit: str | None = None
    score: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    rating_min: int | None = None
    rating_max: int | None = None
    has_content: bool | None = None
    q: str | None = None

    def params(self) -> dict[str, str]:
        """The filters as query parameters (for links and the next page)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[f.name] = v.isoformat() if isinstance(v, datetime) else str(v).lower() if isinstance(v, bool) else str(v)
        return out


def _bad(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", details=[{"field": field, "message": message}])


def _text(raw: Mapping[str, Any], name: str, n: int) -> str | None:
    v = raw.get(name)
    if v is None or v == "":
        return None
    if not isinstance(v, str) or len(v) > n or "\x00" in v:
        raise _bad(name, f"text of at most {n} characters")
    return v


def _number(raw: Mapping[str, Any], name: str) -> float | None:
    v = raw.get(name)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _bad(name, f"a number, got {str(v)[:40]!r}") from None
    if not math.isfinite(x):
        raise _bad(name, "a finite number")
    return x


def parse_filters(raw: Mapping[str, Any]) -> Filters:
    """Filters from query parameters; Invalid (422) naming the first bad one."""
    status = _text(raw, "status", 16)
    if status is not None and status not in STATUSES:
        raise _bad("status", f"one of {', '.join(STATUSES)}")
    times: dict[str, datetime | None] = {}
    for name in ("start", "end"):
        v = raw.get(name)
        try:
            times[name] = parse_time(v, name) if v not in (None, "") else None
        except ValueError as exc:
            raise _bad(name, str(exc)) from None
    if times["start"] and times["end"] and times["end"] <= times["start"]:
        raise _bad("end", "must be after start")
    ratings: dict[str, int | None] = {}
    for name in ("rating_min", "rating_max"):
        x = _number(raw, name)
        if x is not None and (x != int(x) or not 1 <= x <= 5):
            raise _bad(name, "a whole rating from 1 to 5")
        ratings[name] = int(x) if x is not None else None
    score, lo, hi = _text(raw, "score", 100), _number(raw, "score_min"), _number(raw, "score_max")
    if (lo is not None or hi is not None) and not score:
        raise _bad("score", "name the score that score_min/score_max bound")
    if lo is not None and hi is not None and hi < lo:
        raise _bad("score_max", "must be at least score_min")
    has = raw.get("has_content")
    has_content = None
    if has not in (None, ""):
        if str(has).lower() not in ("true", "false", "1", "0"):
            raise _bad("has_content", "true or false")
        has_content = str(has).lower() in ("true", "1")
    q = _text(raw, "q", 200)
    if q is not None and len(q.strip()) < 2 and not text_index.cjk_letter(q.strip()):
        raise _bad("q", "search for at least 2 characters (or one Chinese, Japanese or Korean letter)")
    use_case = _text(raw, "use_case", 64)
    release = _text(raw, "release", 100)
    return Filters(use_case=use_case, release=release_key(use_case, release) if use_case and release else release,
                   status=status, error_category=_text(raw, "error_category", 100), model=_text(raw, "model", 200),
                   provider=_text(raw, "provider", 100), start=times["start"], end=times["end"],
                   unit=_text(raw, "unit", 200), score=score, score_min=lo, score_max=hi,
                   rating_min=ratings["rating_min"], rating_max=ratings["rating_max"], has_content=has_content,
                   q=q.strip() if q else None)


def _where(f: Filters, unit_key: bytes, sqlite: bool, drive: list[int] | None = None,
           floor: datetime | None = None) -> list[Any]:
    cond: list[Any] = []
    for col, v in ((E.use_case, f.use_case), (E.release, f.release), (E.status, f.status),
                   (E.error_category, f.error_category), (E.model, f.model), (E.provider, f.provider)):
        if v is not None:
            cond.append(col == v)
    if f.status is not None and f.status != "ok":  # the partial index's own term, literally (SQLite matches it so)
        cond.append(text("telemetry_events.status <> 'ok'"))
    if f.start:
        cond.append(E.ts >= f.start)
    if f.end:
        cond.append(E.ts < f.end)
    if f.unit:  # through the unit index (takeoff.telemetry.unit_index)
        cond += unit_index.holding(capture.unit_forms(f.unit, unit_key), sqlite)
    if f.score:
        value = E.data["scores"][f.score].as_float()
        cond.append(value.is_not(None))
        if f.score_min is not None:
            cond.append(value >= f.score_min)
        if f.score_max is not None:
            cond.append(value <= f.score_max)
    if f.rating_min is not None or f.rating_max is not None:
        rated = [F.request_id == E.id]
        if f.rating_min is not None:
            rated.append(F.rating >= f.rating_min)
        if f.rating_max is not None:
            rated.append(F.rating <= f.rating_max)
        cond.append(exists(select(F.id).where(*rated)))
    if f.q and drive is not None:  # few candidates: the ids of the matching content drive the query
        cond.append(E.id.in_(select(C.event_id).where(C.batch.in_(drive), text_search.exact(f.q, sqlite))))
    elif f.has_content is not None or f.q:
        found = [C.event_id == E.id]
        if f.q:  # many matches: the time index walk meets a page of them early, testing each row's content
            found.append(text_search.exact(f.q, sqlite))
            if floor is not None:  # content has its request's time: PostgreSQL otherwise estimates a rare text's
                # matches as few and reads all content for them (1 s at 10M requests) instead of the slice
                found.append(C.ts >= floor)
        cond.append(exists(select(C.event_id).where(*found)) if f.has_content is not False or f.q
                    else ~exists(select(C.event_id).where(*found)))
    return cond


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def encode_cursor(ts: datetime, event_id: str) -> str:
    """The opaque position after one row (its time and id)."""
    return base64.urlsafe_b64encode(json.dumps([ts.isoformat(), event_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor's position; Invalid naming `cursor` when it is not one this server made."""
    try:
        ts, eid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(eid, str) or not isinstance(ts, str) or len(eid) > 128 or "\x00" in eid:
            raise ValueError
        at = datetime.fromisoformat(ts)  # exact to the microsecond, as stored
        return (at if at.tzinfo else at.replace(tzinfo=UTC)), eid
    except (ValueError, TypeError, binascii.Error, OverflowError, OSError, UnicodeDecodeError):
        raise _bad("cursor", "not a cursor from a previous page") from None


def _query(f: Filters, unit_key: bytes, after: tuple[datetime, str] | None, sqlite: bool,
           drive: list[int] | None = None, floor: datetime | None = None) -> Select[Any]:
    q = select(E).where(*_where(f, unit_key, sqlite, drive, floor))
    if after is not None:
        ts, eid = after
        # ts <= t first: a range the index seeks to (an OR alone makes both backends walk from the newest row)
        q = q.where(E.ts <= ts, or_(E.ts < ts, E.id < eid))
    if drive is not None and sqlite:  # the same order, but not from the time index (SQLite's unary plus): the id lookups drive
        return q.order_by(text("+telemetry_events.ts DESC"), E.id.desc())
    return q.order_by(E.ts.desc(), E.id.desc())


def matching_ids(session: Session, f: Filters, unit_key: bytes, limit: int) -> list[str]:
    """The ids of up to `limit` requests matching the filters, newest first (a selection to act on)."""
    return list(session.scalars(select(E.id).where(*_where(f, unit_key, *_plan(session, f))).order_by(E.ts.desc(), E.id.desc())
                                .limit(limit)))


def _plan(session: Session, f: Filters) -> tuple[bool, list[int] | None]:
    """(SQLite?, the content batches that drive a text search, or None) for a read of these filters. On PostgreSQL it also turns
    parallel workers off for the rest of the transaction: a page stops after a few thousand index entries, and
    starting workers cost more than that walk (rating <= 2 at 1M requests: 58 ms with two workers, 22 ms without)."""
    sqlite = _is_sqlite(session)
    if not sqlite:
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return sqlite, text_search.candidates(session, f.q, sqlite) if f.q else None


SCAN_BUDGET = 50_000  # requests a text search without usable index candidates tests per page (~1 us each)


def _scan_floor(session: Session, f: Filters, unit_key: bytes, after: tuple[datetime, str] | None, sqlite: bool
                ) -> datetime | None:
    """The time of the SCAN_BUDGET-th request below `after` (a quarter of it for a text SQLite tests folded), in
    the order of the filters the time indexes serve (use case, release, status, error category, model, provider,
    time range; the others are left out so that this stays an index-only walk: reading the ids too cost 30 ms at 10M
    requests on SQLite, the times alone 0.7 ms); None when fewer are left. A text search that walks reads no request
    older than this."""
    plain = Filters(use_case=f.use_case, release=f.release, status=f.status, error_category=f.error_category,
                    model=f.model, provider=f.provider, start=f.start, end=f.end)
    q = select(E.ts).where(*_where(plain, unit_key, sqlite))
    if after is not None:
        q = q.where(E.ts <= after[0], or_(E.ts < after[0], E.id < after[1]))
    budget = text_search.budget(SCAN_BUDGET, f.q, sqlite) if f.q else SCAN_BUDGET
    found: datetime | None = session.scalar(q.order_by(E.ts.desc()).offset(budget - 1).limit(1))
    return found


def page(session: Session, f: Filters, unit_key: bytes, limit: int = 50, cursor: str | None = None
         ) -> dict[str, Any]:
    """One page of requests, newest first, and the cursor of the next page (None at the end).

    A text search the index cannot narrow walks the time index testing each request's content; it tests at most
    SCAN_BUDGET requests a page, so a rare text answers in bounded time: the page then holds the matches found so
    far (maybe none), `searched_to` says how far back it looked, and `next_cursor` goes on from there. Following
    the cursors to the end gives every match, in order, as one unbounded walk would."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"an integer from 1 to {MAX_LIMIT}")
    after = decode_cursor(cursor) if cursor else None
    sqlite, drive = _plan(session, f)
    floor = _scan_floor(session, f, unit_key, after, sqlite) if f.q and drive is None else None
    query = _query(f, unit_key, after, sqlite, drive, floor)
    if floor is not None:  # every request at the floor's time is tested too: the next page starts below it
        query = query.where(E.ts >= floor)
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.id for r in rows]
    with_content = set(session.scalars(select(C.event_id).where(C.event_id.in_(ids)))) if ids else set()
    ratings: dict[str, int] = {}
    if ids:
        for rid, rating in session.execute(select(F.request_id, func.min(F.rating)).where(
                F.request_id.in_(ids), F.rating.is_not(None)).group_by(F.request_id)):
            ratings[rid] = rating
    items = [summary(r, r.id in with_content, ratings.get(r.id)) for r in rows]
    if more and rows:
        return {"items": items, "next_cursor": encode_cursor(rows[-1].ts, rows[-1].id), "searched_to": None}
    if floor is not None:  # below every request at the floor's time (no id is below "")
        return {"items": items, "next_cursor": encode_cursor(floor, ""), "searched_to": floor.isoformat()}
    return {"items": items, "next_cursor": None, "searched_to": None}


def summary(e: TelemetryEvent, has_content: bool, rating: int | None) -> dict[str, Any]:
    """One row of the list."""
    tokens = (e.data or {}).get("tokens") or {}
    return {"id": e.id, "use_case": e.use_case, "release": e.release or None, "ts": e.ts.isoformat(),
            "status": e.status, "outcome": e.outcome, "latency_ms": e.latency_ms, "model": e.model,
            "provider": e.provider, "cost_usd": e.cost_usd, "tokens": tokens, "error_category": e.error_category,
            "unit": _unit_view(e.unit_id), "has_content": has_content, "rating": rating,
            "scores": (e.data or {}).get("scores") or {}, "source": e.source}


def _unit_view(unit_id: str | None) -> str | None:
    if unit_id is None:
        return None
    return "(hashed)" if unit_id.startswith(capture.UNIT_PREFIX) else unit_id


def detail(session: Session, event_id: str, with_content: bool) -> dict[str, Any]:
    """One request: the record, its span tree (flat, by start), feedback, and its content when the caller may see
    it; 404 when no request has this id."""
    e = session.get(E, event_id) if 0 < len(event_id) <= 128 and "\x00" not in event_id else None
    if e is None:
        raise NotFound(f"no request with id {event_id[:128]!r}")
    data = e.data or {}
    spans = [{"span_id": s.span_id, "trace_id": s.trace_id, "parent_span_id": s.parent_span_id, "name": s.name,
              "kind": s.kind, "status": s.status, "start": s.start.isoformat(), "duration_ms": s.duration_ms,
              "attributes": s.attributes or {}}
             for s in session.scalars(select(TelemetrySpan).where(TelemetrySpan.event_id == e.id)
                                      .order_by(TelemetrySpan.start, TelemetrySpan.span_id))]
    feedback = [{"id": fb.id, "rating": fb.rating, "comment": fb.comment, "time_saved_s": fb.time_saved_s,
                 "ts": fb.ts.isoformat()}
                for fb in session.scalars(select(F).where(F.request_id == e.id).order_by(F.ts))]
    c = session.get(C, e.id)
    content: dict[str, Any] | None = None
    if c is not None:
        days = requests_store.read_policies(session, [c.use_case])[c.use_case].retention_days
        expires = requests_store.content_expiry(c.expires_at, c.ts, days)
        content = {"stored": True, "visible": with_content, "redactions": c.redactions or {},
                   "truncated_fields": c.truncated, "expires_at": expires.isoformat() if expires else None,
                   **({"body": json.loads(c.body)} if with_content else {})}
    out = summary(e, c is not None, min((f["rating"] for f in feedback if f["rating"] is not None), default=None))
    return {**out, "fallback_reason": e.fallback_reason, "features": data.get("features") or {},
            "attributes": data.get("attributes") or {}, "trace": data.get("trace"), "spans": spans,
            "violations": data.get("violations") or [], "price_snapshots": _price_snapshots(session, e),
            "feedback": feedback, "content": content, "links": links(e)}


def _price_snapshots(session: Session, e: TelemetryEvent) -> list[str]:
    """The snapshot date of the catalog price in force for the request's model at its time, when that price is the
    shipped snapshot's (the cost the page shows was made from it); empty otherwise."""
    if e.cost_usd is None or not e.model:
        return []
    return catalog.snapshot_dates(session, [f"{e.provider or ''}/{e.model}"], e.ts, e.ts)


def links(e: TelemetryEvent) -> dict[str, str]:
    """Where this request's context lives: its use case, release, the incidents and alerts of its use case around
    its time (pages with filters; the explorer imports no other domain)."""
    out = {"use_case": f"/usecases/{e.use_case}", "incidents": f"/incidents?use_case={e.use_case}",
           "alerts": "/monitoring"}
    if e.release:
        out["release"] = f"/releases/{e.release}"
    return {k: v for k, v in out.items() if v}
