"""Telemetry operations: idempotent ingestion into raw events + rollups, and every read (from rollups only).

The only writer of the telemetry tables. Ingestion is not audited per batch (telemetry is data, not a governance
change, and the hash-chained audit log is serialised); baselines are audited.
"""
from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic_core
from sqlalchemy import JSON, LargeBinary, Text, and_, cast, delete, event, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from takeoff.core.actor import SYSTEM, Actor
from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.core.db import read_session, utcnow
from takeoff.core.errors import Invalid
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import histogram, requests_store, rollup
from takeoff.telemetry.ingest import (DROP_TEXT_FIELDS, EVENT_TEXT_FIELDS, nul_errors, release_errors, release_key,
                                      timing_errors)
from takeoff.telemetry.models import (TelemetryBaseline, TelemetryEvent, TelemetryFeedback, TelemetryRollup,
                                      TelemetryRollupDelta)
from takeoff.telemetry.schemas import FeedbackIn

MAX_SERIES_POINTS = 5000
EVENTS = TelemetryEvent.__table__
ROLLUPS = TelemetryRollup.__table__
DELTAS = TelemetryRollupDelta.__table__
COMPACT_CHUNK = 2000  # deltas merged per compaction transaction


class TelemetryInvalid(Invalid, ValueError):
    """Bad telemetry input: a 422 for the API and a ValueError for in-process callers."""


@dataclass
class WindowStats:
    """Rollup totals of one use case (optionally one release) over a time window."""

    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * histogram.BUCKET_COUNT)
    cost_usd: float = 0.0
    cost_sq: float = 0.0  # sum of squared per-event costs (events without a cost count as 0)
    tokens: dict[str, int] = field(default_factory=lambda: {k: 0 for k in rollup.TOKEN_KINDS})
    outcomes: dict[str, int] = field(default_factory=dict)
    error_categories: dict[str, int] = field(default_factory=dict)
    scores: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    active_units: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> events SDKs dropped before delivery


# ---------------------------------------------------------------------------------------------------- helpers
def _ins(session: Session) -> Callable[..., Any]:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _epoch(dt: datetime) -> float:
    return dt.timestamp()


def _dt(x: float) -> datetime:
    return datetime.fromtimestamp(x, UTC)


def _check_window(start: datetime, end: datetime) -> None:
    for name, v in (("start", start), ("end", end)):
        if not isinstance(v, datetime) or v.tzinfo is None:
            raise TelemetryInvalid(f"{name} must be a timezone-aware datetime")
    if end <= start:
        raise TelemetryInvalid("end must be after start")


def _check_key(use_case_key: str) -> None:
    if not isinstance(use_case_key, str) or not use_case_key or len(use_case_key) > 64:
        raise TelemetryInvalid("use_case_key must be a non-empty string of at most 64 characters")


def current_baseline(session: Session, use_case_key: str) -> dict[str, Any] | None:
    """The use case's latest frozen baseline as {"id", "release", "features"}, or None."""
    b = session.scalar(select(TelemetryBaseline).where(TelemetryBaseline.use_case == use_case_key)
                       .order_by(TelemetryBaseline.id.desc()).limit(1))
    if b is None:
        return None
    return {"id": b.id, "release": b.release, "start": b.start, "end": b.end, "features": b.features}


def _pricer(session: Session) -> Callable[[str | None, str, float, dict[str, int]], float | None] | None:
    """Cost from the model catalog, at the price in force at each event's time. A model's whole price schedule is
    read once per batch."""
    cache: dict[tuple[str | None, str], list[tuple[datetime, dict[str, float]]]] = {}

    def price(provider: str | None, model: str, ts: float, tokens: dict[str, int]) -> float | None:
        key = (provider, model)
        if key not in cache:
            try:
                with session.begin_nested():
                    cache[key] = catalog.price_schedule(session, provider, model)
            except Exception:  # a catalog problem must not refuse telemetry
                cache[key] = []
        try:
            prices = catalog.price_in_force(cache[key], _dt(ts))
            return float(catalog.cost_usd(prices, tokens)) if prices else None
        except Exception:
            return None

    return price


def _discover_one(session: Session, actor: Actor, key: str) -> None:
    """Register an unknown use-case key as discovered (shadow AI) so telemetry is never dropped (idempotent)."""
    portfolio.ensure_discovered(session, actor, key)


# ---------------------------------------------------------------------------------------------------- ingestion
_INGEST_SLOT = threading.Lock()


@contextlib.contextmanager
def ingest_slot(session: Session) -> Iterator[None]:
    """One ingest at a time per server process (HTTP and OTLP; serve runs a process per core), committed inside.

    Two batches in one process only shared its GIL: the one inside the SQLite write lock waited for the GIL after
    every statement while the other validated, so the lock was held 3-4x its work and the other process idled on
    it. The session's pending write (a token's last-use stamp) is committed before waiting: a thread holding the
    SQLite write lock while it waits for the slot would deadlock with the slot's holder waiting for that lock.
    Requests queue in the thread pool meanwhile, their bodies already read."""
    session.commit()
    with _INGEST_SLOT:
        yield
        session.commit()


def ingest_events(session: Session, actor: Actor, events: Sequence[dict[str, Any]], *, late_s: int,
                  unit_key: bytes, source: str = "json", now: datetime | None = None,
                  dropped: Sequence[dict[str, Any]] = (), may_hold_nul: bool = True) -> tuple[int, int]:
    """Store new events (idempotent by id) and fold only the new ones into rollups; returns (accepted, duplicates).

    `events` are normalised dicts (see ingest.normalize). A batch holding an event older than `late_s` is refused
    whole (422 naming the index); the caller commits, and acknowledges only after the commit.

    `dropped` (ingest.normalize_drops) is an SDK's report of events it dropped before delivery; it is added to the
    minute of arrival only when the batch stores at least one new event, so the resend of a stored batch (a lost
    answer) does not count it twice. A report therefore needs events beside it (422 otherwise).

    `unit_key` (rollup.unit_key of the server secret, as every ingestion route passes it) keys the unit-id hashes of
    the rollup sketches.

    `may_hold_nul=False` skips the NUL check of the text fields: the JSON endpoint knows a body without the escape
    `\\u0000` cannot hold one (a raw NUL is not valid JSON).

    Two phases, so concurrent batches overlap: lookups (known use cases, baselines, model prices) and the CPU work
    (rows, minute partials) run before the first write, on a separate read connection when the caller's session
    has no transaction open yet (on SQLite that read takes no write lock); the write phase is then the insert of
    the new events, the append of their minute partials as rollup deltas (merged later by `compact_rollups`; no
    hot rollup row is read or locked here) and the caller's commit.
    """
    now_s = _epoch(now or utcnow())
    errors = timing_errors(events, now_s, late_s)
    if errors:
        raise TelemetryInvalid(f"{len(errors)} event(s) outside the accepted time range, first at {errors[0]['field']}",
                               details=errors)
    # only qualifying a release can make it longer than its column
    errors = release_errors(events) + release_errors(dropped, "dropped")
    if may_hold_nul:
        errors += nul_errors(events, "events", EVENT_TEXT_FIELDS) + nul_errors(dropped, "dropped", DROP_TEXT_FIELDS)
    if errors:
        raise TelemetryInvalid(f"invalid input: {', '.join(d['field'] for d in errors[:10])}", details=errors[:50])
    if dropped and not events:
        raise TelemetryInvalid("a drop report rides on a batch of events (it is counted when one of them is new)",
                               details=[{"field": "dropped", "message": "needs at least one event in the batch"}])
    if not events:
        return 0, 0
    unique: dict[str, dict[str, Any]] = {}
    for ev in events:
        unique.setdefault(ev["id"], ev)
    event_use_cases = {ev["use_case"] for ev in unique.values()}
    use_cases = event_use_cases | {d["use_case"] for d in dropped}
    sqlite = session.get_bind().dialect.name == "sqlite"
    with contextlib.ExitStack() as stack:
        if session.in_transaction():  # inside a caller's write (seeding, tests): read what it has written too
            reader, (known, baselines) = session, _lookups(session, use_cases)
        else:
            reader = stack.enter_context(read_session(session.get_bind()))
            known, baselines = _LOOKUPS.get(reader, use_cases)
        stored = _stored_ids(reader, list(unique)) if sqlite else set()
        rows, partials = _prepare(unique, stored, baselines, _pricer(reader), source, sqlite, unit_key)
        # --- request records (issue 18, telemetry.requests_store): unit ids keyed-hashed per capture policy
        policies = requests_store.policies(reader, event_use_cases)
        rows = requests_store.protect_units(rows, policies, unit_key)
        # --- end request records
    unknown = use_cases - known
    for key in sorted(unknown & event_use_cases):  # first write: the write phase starts here
        _discover_one(session, actor, key)
    new_ids = _insert_events(session, rows, sqlite)
    if len(new_ids) != len(rows):  # a concurrent batch stored some of them first: fold only the new ones
        fresh = [unique[i] for i in sorted(new_ids)]
        partials = _fold(fresh, baselines, unit_key)
    # --- request records (issue 18): span trees and captured content of the new events, in bulk
    requests_store.store(session, (unique[i] for i in new_ids), policies, sqlite)
    # --- end request records
    if new_ids:
        for key in sorted(unknown - event_use_cases):  # named only by the report: discovered once it counts
            _discover_one(session, actor, key)
        rollup.add_drops(partials, dropped, now_s)
        _append_deltas(session, partials, sqlite)
    return len(new_ids), len(events) - len(new_ids)


class _LookupCache:
    """Known use cases and their current baselines, per database, for LOOKUP_TTL_S: the reads every batch repeats.

    Only positive answers are kept (an unknown key is looked up again, then registered as discovered). A baseline
    frozen in this process is seen at once (set_baseline invalidates); one frozen by another process is used
    for binning at most LOOKUP_TTL_S later.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, use_cases: set[str]) -> tuple[set[str], dict[str, dict[str, Any] | None]]:
        db = str(session.get_bind().url)
        now = time.monotonic()
        with self._lock:
            hit = {uc: self._entries.get((db, uc)) for uc in use_cases}
        missing = {uc for uc, e in hit.items() if e is None or e[0] < now}
        known = use_cases - missing
        baselines = {uc: e[1] for uc, e in hit.items() if uc in known and e is not None}
        if missing:
            found, fresh = _lookups(session, missing)
            known |= found
            baselines.update(fresh)
            with self._lock:
                for uc in found:
                    self._entries[(db, uc)] = (now + LOOKUP_TTL_S, fresh.get(uc))
        return known, baselines

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, use_case: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[1] == use_case]:
                del self._entries[key]


LOOKUP_TTL_S = 2.0
_LOOKUPS = _LookupCache()


def clear_lookup_cache() -> None:
    """Forget every cached use-case lookup (use cases are never deleted; a test that empties tables calls this)."""
    _LOOKUPS.clear()
    requests_store.clear_policy_cache()


def _lookups(session: Session, use_cases: set[str]) -> tuple[set[str], dict[str, dict[str, Any] | None]]:
    """Use-case keys that exist, and each use case's current baseline (the reads of an ingest)."""
    known = set(session.scalars(select(UseCase.key).where(UseCase.key.in_(sorted(use_cases)))))
    return known, {uc: current_baseline(session, uc) for uc in sorted(use_cases)}


def _prepare(unique: dict[str, dict[str, Any]], stored: set[str], baselines: dict[str, dict[str, Any] | None],
             price: Callable[[str | None, str, float, dict[str, int]], float | None] | None, source: str,
             sqlite: bool, unit_key: bytes
             ) -> tuple[list[tuple[Any, ...]], dict[tuple[int, int, str, str], dict[str, Any]]]:
    """Row tuples for the insert (sorted by id: one lock order for concurrent batches) and the rollup partials,
    leaving out the ids known to be stored already."""
    if stored:
        unique = {k: v for k, v in unique.items() if k not in stored}
    rows = []
    for eid in sorted(unique):
        ev = unique[eid]
        if ev.get("cost_usd") is None and price is not None and ev.get("model") and ev.get("tokens"):
            ev["cost_usd"] = price(ev.get("provider"), ev["model"], ev["ts"], ev["tokens"])
        ts = _sqlite_time(ev["ts"]) if sqlite else _dt(ev["ts"])
        data = {k: ev.get(k) or {} for k in ("tokens", "scores", "features", "attributes")}
        if ev.get("trace_id"):  # request records (issue 18): the trace ids, for the explorer
            data["trace"] = requests_store.trace_of(ev)
        rows.append((eid, ev["use_case"], ev.get("release") or "", ev.get("unit_id"),
                     ts, ev.get("latency_ms"), ev.get("status") or "ok",
                     ev.get("outcome"), ev.get("model"), ev.get("provider"), ev.get("cost_usd"),
                     ev.get("error_category"), ev.get("fallback_reason"), source, _json(data)))
    return rows, _fold(list(unique.values()), baselines, unit_key)


def _fold(events: list[dict[str, Any]], baselines: dict[str, dict[str, Any] | None], unit_key: bytes
          ) -> dict[tuple[int, int, str, str], dict[str, Any]]:
    """Rollup partials of events, each use case binned on its own baseline."""
    by_uc: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_uc.setdefault(ev["use_case"], []).append(ev)
    partials: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    for uc, evs in by_uc.items():
        partials.update(rollup.fold(evs, baselines.get(uc), grains=(60,), key=unit_key))  # coarser grains at compaction
    return partials


# SQLite timestamps are written as SQLAlchemy's DATETIME text, "%Y-%m-%d %H:%M:%S.%f" (isoformat with microseconds
# minus the offset: 4x cheaper than strftime); raw inserts must match it exactly.
_EVENT_COLS = ("id", "use_case", "release", "unit_id", "ts", "latency_ms", "status", "outcome", "model", "provider",
               "cost_usd", "error_category", "fallback_reason", "source", "data")
_SQLITE_IN_CHUNK = 900  # bound parameters per statement stay well under SQLite's limit


def _json(value: Any) -> str:
    """Compact JSON in pydantic-core (Rust), ~4x json.dumps on the ingest hot path; unknown types as str."""
    return pydantic_core.to_json(value, serialize_unknown=True).decode()


def _insert_events(session: Session, rows: list[tuple[Any, ...]], sqlite: bool) -> set[str]:
    """Insert the rows that are new; returns their ids (the hot path: raw SQL without per-row ORM type processing,
    values already in the column formats SQLAlchemy would write)."""
    if not sqlite:
        return _insert_events_pg(session, rows)
    # SQLite: the ids already stored were dropped on the read snapshot (`_stored_ids`, outside the write lock), so
    # the rows go straight in. If a concurrent batch stored one of the same ids since that snapshot, the unique
    # index refuses the statement (SQLite undoes that statement only) and the rest is checked again under the lock.
    from sqlalchemy.exc import IntegrityError

    insert = f"INSERT INTO telemetry_events ({', '.join(_EVENT_COLS)})"
    inserted: set[str] = set()
    try:
        for chunk in _chunks(session, rows):
            _insert_values(session, insert, chunk)
            inserted.update(r[0] for r in chunk)
        return inserted
    except IntegrityError:
        pass
    rest = [r for r in rows if r[0] not in inserted]
    existing = _stored_ids(session, [r[0] for r in rest])
    fresh = [r for r in rest if r[0] not in existing]
    _insert_values(session, insert, fresh)
    return inserted | {r[0] for r in fresh}


def _stored_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """Which of these event ids are stored already (SQLite; chunked under its bound-parameter limit)."""
    existing: set[str] = set()
    conn = session.connection()
    for i in range(0, len(ids), _SQLITE_IN_CHUNK):
        chunk = ids[i:i + _SQLITE_IN_CHUNK]
        existing.update(r[0] for r in conn.exec_driver_sql(
            f"SELECT id FROM telemetry_events WHERE id IN ({', '.join('?' * len(chunk))})", tuple(chunk)))
    return existing


def _insert_values(session: Session, insert: str, rows: Sequence[tuple[Any, ...]], row_sql: str | None = None,
                   suffix: str = "") -> list[Any]:
    """Multi-row `INSERT ... VALUES (...), (...)` in chunks that fit the database's bound-parameter limit; returns
    the rows of `suffix` (e.g. RETURNING id). `row_sql` is one row's placeholders (default: plain ones).

    On SQLite this replaces executemany, which steps once per row and takes the GIL back after each step: next to a
    busy thread of the same process each hand-back waits up to a switch interval, all inside the write lock
    (bench/sqlite_insert_gil.py: 500 rows, executemany vs one statement)."""
    out: list[Any] = []
    if not rows:
        return out
    one = row_sql or f"({', '.join(['?' if _is_sqlite(session) else '%s'] * len(rows[0]))})"
    for chunk in _chunks(session, rows):
        result = session.connection().exec_driver_sql(f"{insert} VALUES {', '.join([one] * len(chunk))} {suffix}",
                                                      tuple(v for row in chunk for v in row))
        if suffix:
            out += list(result)
    return out


def _chunks(session: Session, rows: Sequence[tuple[Any, ...]]) -> list[Sequence[tuple[Any, ...]]]:
    """Rows in chunks whose bound parameters fit one statement (PostgreSQL 65535; SQLite 32766 since 3.32, 999
    before: this build's own limit)."""
    if not rows:
        return []
    limit = 60_000
    if _is_sqlite(session):
        raw = session.connection().connection.dbapi_connection
        limit = min(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766) if hasattr(raw, "getlimit") else 999
    per = max(1, limit // len(rows[0]))
    return [rows[i:i + per] for i in range(0, len(rows), per)]


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _sqlite_time(x: float) -> str:
    return _dt(x).isoformat(" ", "microseconds")[:26]


def _append_deltas(session: Session, partials: dict[tuple[int, int, str, str], dict[str, Any]], sqlite: bool) -> None:
    """Append a batch's minute partials as rollup deltas: inserts only, so concurrent batches never wait on each
    other's rollup rows."""
    insert, keyed = "INSERT INTO telemetry_rollup_deltas (bucket, use_case, release, agg)", sorted(partials.items())
    if sqlite:
        _insert_values(session, insert, [(_sqlite_time(b), uc, rel, _json(agg)) for (_, b, uc, rel), agg in keyed])
    else:
        _insert_values(session, insert, [(float(b), uc, rel, _json(agg)) for (_, b, uc, rel), agg in keyed],
                       "(to_timestamp(%s), %s, %s, %s::json)")


def compact_rollups(session: Session, limit: int = COMPACT_CHUNK) -> int:
    """Merge up to `limit` pending deltas into the minute, hour and day rollups and delete them, in the caller's
    transaction (so a delta is counted exactly once); returns how many were merged. Concurrent compactors on
    PostgreSQL take disjoint deltas (SKIP LOCKED); on SQLite writers are serialised anyway."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise TelemetryInvalid(f"limit must be an integer >= 1, got {limit!r}")
    q = select(DELTAS.c.id, DELTAS.c.bucket, DELTAS.c.use_case, DELTAS.c.release, DELTAS.c.agg
               ).order_by(DELTAS.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = list(session.execute(q))
    if not rows:
        return 0
    grouped: dict[tuple[int, int, str, str], list[dict[str, Any]]] = {}
    for _, bucket, uc, rel, agg in rows:
        grouped.setdefault((60, int(_epoch(bucket)), uc, rel), []).append(agg)
    minutes = {key: aggs[0] if len(aggs) == 1 else rollup.merge_many(aggs) for key, aggs in grouped.items()}
    _merge_rollups(session, rollup.coarsen(minutes))
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), _SQLITE_IN_CHUNK):
        session.execute(delete(DELTAS).where(DELTAS.c.id.in_(ids[i:i + _SQLITE_IN_CHUNK])))
    return len(rows)


def pending_deltas(session: Session) -> int:
    """How many rollup deltas wait for compaction (a gauge of the compactor's lag)."""
    return int(session.scalar(select(func.count()).select_from(DELTAS)) or 0)


def _insert_events_pg(session: Session, rows: list[tuple[Any, ...]]) -> set[str]:
    """PostgreSQL: skip the ids already stored, COPY the others straight into the table (about half the server
    time of INSERT ... ON CONFLICT over json_to_recordset); if a concurrent batch stored one of the same ids in
    between, the unique index refuses the COPY, and the batch goes in through INSERT ... ON CONFLICT DO NOTHING."""
    from psycopg.errors import UniqueViolation

    conn = session.connection()
    existing = {r[0] for r in conn.exec_driver_sql("SELECT id FROM telemetry_events WHERE id = ANY(%s)",
                                                   ([r[0] for r in rows],))}
    fresh = [r for r in rows if r[0] not in existing]
    if not fresh:
        return set()
    cols = ", ".join(_EVENT_COLS)
    try:
        raw = conn.connection.driver_connection  # inside the session's transaction: psycopg makes this a SAVEPOINT
        with raw.transaction(), raw.cursor() as cursor, cursor.copy(f"COPY telemetry_events ({cols}) FROM STDIN") as copy:
            for row in fresh:
                copy.write_row(row)
        return {r[0] for r in fresh}
    except UniqueViolation:
        one = f"({', '.join(['%s'] * (len(_EVENT_COLS) - 1))}, %s::json)"
        return {r[0] for r in _insert_values(session, f"INSERT INTO telemetry_events ({cols})", fresh, one,
                                             "ON CONFLICT (id) DO NOTHING RETURNING id")}


def _merge_rollups(session: Session, partials: dict[tuple[int, int, str, str], dict[str, Any]]) -> None:
    """Add rollup partials into the minute, hour and day rows under row locks (no lost update between batches)."""
    keys = sorted(partials)
    empty_rows = [{"grain": g, "bucket": _dt(b), "use_case": uc, "release": rel, "count": 0, "errors": 0,
                   "fallbacks": 0, "latency_n": 0, "latency_sum_ms": 0.0, "cost_usd": 0.0, "cost_sq": 0.0,
                   **{c: 0 for c in rollup.TOKEN_COLUMNS}, "latency": {}, "outcomes": {}, "error_categories": {},
                   "scores": {}, "features": {}, "units": [], "dropped": {}} for g, b, uc, rel in keys]
    conn = session.connection()
    conn.execute(_ins(session)(ROLLUPS).on_conflict_do_nothing(
        index_elements=["grain", "use_case", "release", "bucket"]), empty_rows)
    groups: dict[tuple[int, str, str], list[datetime]] = {}
    for g, b, uc, rel in keys:  # one IN list per series: a backfill spanning hours stays one small statement
        groups.setdefault((g, uc, rel), []).append(_dt(b))
    cond = or_(*[and_(ROLLUPS.c.grain == g, ROLLUPS.c.use_case == uc, ROLLUPS.c.release == rel,
                      ROLLUPS.c.bucket.in_(buckets)) for (g, uc, rel), buckets in groups.items()])
    q = select(ROLLUPS).where(cond).order_by(ROLLUPS.c.grain, ROLLUPS.c.use_case, ROLLUPS.c.release,
                                             ROLLUPS.c.bucket).with_for_update()
    updates = []
    for row in conn.execute(q).mappings():
        key = (row["grain"], int(_epoch(row["bucket"])), row["use_case"], row["release"])
        part = partials.get(key)
        if part is None:
            continue
        cur = dict(row)
        for t in ("first_ts", "last_ts"):
            cur[t] = _epoch(cur[t]) if cur[t] is not None else None
        merged = rollup.merge(cur, part)
        values = {c: merged[c] for c in rollup.COUNTERS}
        values.update({c: merged[c] for c in ("latency_sum_ms", "cost_usd", "cost_sq", "latency", "outcomes",
                                               "error_categories", "scores", "features", "units", "dropped")})
        values["first_ts"] = _dt(merged["first_ts"]) if merged["first_ts"] is not None else None
        values["last_ts"] = _dt(merged["last_ts"]) if merged["last_ts"] is not None else None
        values["_id"] = row["id"]
        updates.append(values)
    if updates:
        from sqlalchemy import bindparam

        stmt = update(ROLLUPS).where(ROLLUPS.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in updates[0] if c != "_id"})
        conn.execute(stmt, updates)


def record_feedback(session: Session, actor: Actor, fb: FeedbackIn) -> tuple[int, int]:
    """Store one feedback (idempotent by id); returns (accepted, duplicates)."""
    use_case = fb.use_case
    if use_case is None and fb.request_id:
        use_case = session.scalar(select(TelemetryEvent.use_case).where(TelemetryEvent.id == fb.request_id))
    if use_case:
        _discover_one(session, actor, use_case)
    row = {"id": fb.id, "request_id": fb.request_id, "use_case": use_case or "", "rating": fb.rating,
           "comment": fb.comment or "", "time_saved_s": fb.time_saved_s, "unit_id": fb.unit_id,
           "ts": _dt(fb.ts) if fb.ts else utcnow(), "received_at": utcnow()}
    stmt = _ins(session)(TelemetryFeedback.__table__).on_conflict_do_nothing(index_elements=["id"]).returning(
        TelemetryFeedback.__table__.c.id)
    new = list(session.connection().execute(stmt, [row]).scalars())
    return len(new), 1 - len(new)


def feedback_for(session: Session, use_case_key: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Feedback of a use case in [start, end) (also feedback that named only a request of that use case)."""
    _check_key(use_case_key)
    _check_window(start, end)
    orphan = and_(TelemetryFeedback.use_case == "", TelemetryFeedback.request_id.in_(
        select(TelemetryEvent.id).where(TelemetryEvent.use_case == use_case_key)))
    rows = session.scalars(select(TelemetryFeedback).where(
        or_(TelemetryFeedback.use_case == use_case_key, orphan), TelemetryFeedback.ts >= start,
        TelemetryFeedback.ts < end).order_by(TelemetryFeedback.ts))
    return [{"id": f.id, "request_id": f.request_id, "use_case": use_case_key, "rating": f.rating,
             "comment": f.comment, "time_saved_s": f.time_saved_s, "unit_id": f.unit_id, "ts": f.ts}
            for f in rows]


def delete_old_events(session: Session, before: datetime, limit: int = 50_000) -> int:
    """Delete up to `limit` raw events older than `before` (rollups stay); returns how many.

    Walks the use cases in key order through the (use_case, ts) index, the only index on time (see the model)."""
    deleted = 0
    uc = session.scalar(select(func.min(TelemetryEvent.use_case)))
    while uc is not None and deleted < limit:
        ids = select(TelemetryEvent.id).where(TelemetryEvent.use_case == uc, TelemetryEvent.ts < before
                                              ).limit(limit - deleted)
        res = session.execute(delete(TelemetryEvent).where(TelemetryEvent.id.in_(ids.scalar_subquery())))
        deleted += int(res.rowcount or 0)
        uc = session.scalar(select(func.min(TelemetryEvent.use_case)).where(TelemetryEvent.use_case > uc))
    return deleted


# ---------------------------------------------------------------------------------------------------- reads
# A read's release selection: None = every release, one release id, or several ("" = events without a release).
Releases = str | Sequence[str] | None


def _release_is(col: Any, use_case_key: str, release_id: str | Sequence[str]) -> Any:
    """The filter on a release column for one release id or any of several."""
    if isinstance(release_id, str):
        return col == release_key(use_case_key, release_id)
    return col.in_(sorted({release_key(use_case_key, r) for r in release_id}))


def _rows(session: Session, use_case_key: str, release_id: Releases, grain: int, lo: datetime, hi: datetime,
          cols: Sequence[str]) -> list[Any]:
    q = select(*[ROLLUPS.c[c] for c in cols]).where(
        ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == grain, ROLLUPS.c.bucket >= lo, ROLLUPS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(ROLLUPS.c.release, use_case_key, release_id))
    return list(session.execute(q).mappings())


def _cover(s: float, e: float, grains: Sequence[int]) -> list[tuple[int, float, float]]:
    """(grain, lo, hi) ranges covering [s, e): coarsest whole buckets inside, finer ones at the edges."""
    g = grains[-1]
    if g == grains[0]:
        return [(g, math.floor(s / g) * g, e)] if e > s else []
    g0, g1 = math.ceil(s / g) * g, math.floor(e / g) * g
    if g0 >= g1:
        return _cover(s, e, grains[:-1])
    return _cover(s, g0, grains[:-1]) + [(g, g0, g1)] + _cover(g1, e, grains[:-1])


def _pending(session: Session, use_case_key: str, release_id: Releases, lo: datetime, hi: datetime
             ) -> list[dict[str, Any]]:
    """Deltas not yet compacted whose minute lies in [lo, hi), as rollup-row dicts (bucket and times as datetimes),
    so every read adds them and is exact before compaction; the compactor keeps them few."""
    q = select(DELTAS.c.bucket, DELTAS.c.agg).where(DELTAS.c.use_case == use_case_key, DELTAS.c.bucket >= lo,
                                                    DELTAS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(DELTAS.c.release, use_case_key, release_id))
    out = []
    for bucket, agg in session.execute(q):
        row = dict(agg)
        row["bucket"] = bucket
        for t in ("first_ts", "last_ts"):
            row[t] = _dt(row[t]) if row.get(t) is not None else None
        out.append(row)
    return out


def _window_rows(session: Session, use_case_key: str, release_id: Releases, start: datetime, end: datetime,
                 cols: Sequence[str]) -> list[Any]:
    """Rollup rows covering [start, end): day rows for whole days, hour rows for whole hours, minutes at the edges;
    plus the pending deltas of the same minutes."""
    out: list[Any] = []
    for grain, lo, hi in _cover(_epoch(start), _epoch(end), rollup.GRAINS):
        out += _rows(session, use_case_key, release_id, grain, _dt(lo), end if hi == _epoch(end) else _dt(hi), cols)
    return out + _pending(session, use_case_key, release_id, _dt(math.floor(_epoch(start) / 60) * 60), end)


ALL_COLS = ("bucket", *rollup.COUNTERS, "latency_sum_ms", "cost_usd", "cost_sq", "first_ts", "last_ts", "latency", "outcomes",
            "error_categories", "scores", "features", "units", "dropped")


def window_stats(session: Session, use_case_key: str, release_id: Releases, start: datetime,
                 end: datetime) -> WindowStats:
    """Totals of [start, end) from rollups (minute precision at the edges); release None = all releases, a list
    = those releases ("" = events without one)."""
    _check_key(use_case_key)
    _check_window(start, end)
    agg = rollup.merge_many(_window_rows(session, use_case_key, release_id, start, end, ALL_COLS))
    base = current_baseline(session, use_case_key)
    base_id = base["id"] if base else 0
    features: dict[str, dict[str, Any]] = {}
    for name, entry in agg["features"].items():
        if entry["b"] != base_id:
            continue  # binned on an older baseline: not comparable
        spec = (base or {}).get("features", {}).get(name, {})
        if isinstance(entry["c"], list):
            features[name] = {"kind": "numeric", "edges": spec.get("edges"), "counts": list(entry["c"])}
        else:
            features[name] = {"kind": "categorical", "edges": None, "counts": dict(entry["c"])}
    return WindowStats(
        count=agg["count"], errors=agg["errors"], fallbacks=agg["fallbacks"],
        latency_counts=rollup.dense_latency(agg["latency"]), cost_usd=agg["cost_usd"], cost_sq=agg["cost_sq"],
        tokens={k: agg[c] for k, c in zip(rollup.TOKEN_KINDS, rollup.TOKEN_COLUMNS)},
        outcomes=dict(agg["outcomes"]), error_categories=dict(agg["error_categories"]),
        scores={k: (int(v[0]), float(v[1]), float(v[2])) for k, v in agg["scores"].items()}, features=features,
        active_units=rollup.kmv_estimate(agg["units"]), first_ts=agg["first_ts"], last_ts=agg["last_ts"],
        dropped=dict(agg["dropped"]))


_METRIC_COLS: dict[str, tuple[str, ...]] = {
    "throughput": ("count",), "error_rate": ("count", "errors"), "fallback_rate": ("count", "fallbacks"),
    "tokens": ("tokens_input", "tokens_output"), "cost_per_task": ("count", "cost_usd"),
    "cost_per_active_user": ("cost_usd", "units"), "override_rate": ("outcomes",),
    "escalation_rate": ("outcomes",), "active_users": ("units",), "repeat_users": ("units",),
    "dropped_events": ("dropped",),
}


def series(session: Session, use_case_key: str, metric: str, start: datetime, end: datetime, step_s: int,
           release_id: Releases = None) -> list[tuple[datetime, float | None]]:
    """One metric per step-aligned bucket over [start, end), from rollups (the coarsest grain dividing the step)."""
    return series_many(session, use_case_key, [metric], start, end, step_s, release_id)[metric]


def _metric_cols(metric: str) -> tuple[str, ...]:
    """The rollup columns a metric is computed from."""
    if metric.startswith("latency_"):
        return ("latency",)
    if metric.startswith("quality_"):
        return ("scores",)
    return _METRIC_COLS[metric]


def series_many(session: Session, use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime,
                step_s: int, release_id: Releases = None) -> dict[str, list[tuple[datetime, float | None]]]:
    """Several metrics from ONE pass over the rollup rows; repeat users also read the unit sketches of the range's
    length before it (rollup.returning_estimates)."""
    first, n, grain = _series_args(use_case_key, metrics, start, end, step_s)
    totals = _bucketed(session, use_case_key, release_id, grain, _cols(metrics), first, n, step_s, end).get(None)
    totals = totals or [rollup.Totals() for _ in range(n)]
    history = _history(session, use_case_key, release_id, grain, first, n, step_s, metrics).get(None)
    values = _points(metrics, totals, history or [rollup.Totals() for _ in range(n)], step_s)
    times = [_dt(first + i * step_s) for i in range(n)]
    return {m: list(zip(times, values[m])) for m in metrics}


@dataclass
class Dashboard:
    """What a use-case dashboard draws, from one rollup read: per release, every metric's values over the
    step-aligned buckets starting at times[0]; and the totals of all releases over those buckets."""

    times: list[datetime]
    by_release: dict[str, dict[str, list[float | None]]]
    score_names: list[str]
    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    cost_usd: float = 0.0
    active_units: int = 0
    dropped: int = 0  # events SDKs reported dropping before delivery


def dashboard_series(session: Session, use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime,
                     step_s: int) -> Dashboard:
    """Every release's series of `metrics` over [start, end) in one pass (rollup.QUALITY_ALL stands for a
    quality_<score> per score name present), with the totals the dashboard's summary line shows."""
    first, n, grain = _series_args(use_case_key, [m for m in metrics if m != rollup.QUALITY_ALL], start, end, step_s)
    cols = _cols([m for m in metrics if m != rollup.QUALITY_ALL]
                 + ["throughput", "error_rate", "fallback_rate", "cost_per_task", "active_users", "dropped_events"]
                 + (["quality_"] if rollup.QUALITY_ALL in metrics else []))
    per_release = _bucketed(session, use_case_key, None, grain, cols, first, n, step_s, end, by_release=True)
    names = sorted({name for totals in per_release.values() for t in totals for name in t.scores})
    wanted = [x for m in metrics for x in ([f"quality_{name}" for name in names] if m == rollup.QUALITY_ALL else [m])]
    history = _history(session, use_case_key, None, grain, first, n, step_s, wanted, by_release=True)
    out = Dashboard(times=[_dt(first + i * step_s) for i in range(n)], score_names=names, by_release={
        rel: _points(wanted, per_release[rel], history.get(rel) or [rollup.Totals() for _ in range(n)], step_s)
        for rel in sorted(per_release)})
    for totals in per_release.values():
        for t in totals:
            out.count += t.count
            out.errors += t.errors
            out.fallbacks += t.fallbacks
            out.cost_usd += t.cost_usd
            out.dropped += t.dropped
    out.active_units = rollup.kmv_estimate(rollup.union_hashes(
        t.unit_sketch() for totals in per_release.values() for t in totals))
    return out


def _series_args(use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime, step_s: int
                 ) -> tuple[int, int, int]:
    """Validated (first bucket start, number of points, rollup grain) of a series read."""
    _check_key(use_case_key)
    _check_window(start, end)
    for metric in metrics:
        try:
            rollup.check_metric(metric)
        except ValueError as exc:
            raise TelemetryInvalid(str(exc), details=[{"field": "metric", "message": str(exc)}]) from None
    if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s < 60 or step_s % 60:
        raise TelemetryInvalid("step_s must be a whole number of minutes (>= 60)")
    first = math.floor(_epoch(start) / step_s) * step_s
    n = math.ceil((_epoch(end) - first) / step_s)
    if n > MAX_SERIES_POINTS:
        raise TelemetryInvalid(f"{n} points requested; at most {MAX_SERIES_POINTS}: use a larger step",
                               details=[{"field": "step", "message": "too many points"}])
    return first, n, max(g for g in rollup.GRAINS if step_s % g == 0)


def _cols(metrics: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for m in metrics for c in _metric_cols(m)))


def _history(session: Session, use_case_key: str, release_id: Releases, grain: int, first: int, n: int,
             step_s: int, metrics: Sequence[str], by_release: bool = False) -> dict[str | None, list[rollup.Totals]]:
    """The unit sketches of the n buckets before the first one, when repeat users are asked for (their lookback)."""
    if "repeat_users" not in metrics:
        return {}
    return _bucketed(session, use_case_key, release_id, grain, ("units",), first - n * step_s, n, step_s,
                     _dt(first), by_release)


def _bucketed(session: Session, use_case_key: str, release_id: Releases, grain: int, cols: Sequence[str],
              first: int, n: int, step_s: int, end: datetime, by_release: bool = False
              ) -> dict[str | None, list[rollup.Totals]]:
    """Rollup rows and pending deltas of [first, end) summed into n step buckets, per release or all under None."""
    out: dict[str | None, list[rollup.Totals]] = {}
    for bucket, release, *values in _series_rows(session, use_case_key, release_id, grain, cols, _dt(first), end):
        i = (int(_epoch(bucket)) - first) // step_s
        if 0 <= i < n:
            group = release if by_release else None
            totals = out.get(group)
            if totals is None:
                totals = out[group] = [rollup.Totals() for _ in range(n)]
            _add_to_totals(totals[i], cols, values)
    return out


def _points(metrics: Sequence[str], totals: list[rollup.Totals], history: list[rollup.Totals], step_s: int
            ) -> dict[str, list[float | None]]:
    """Each metric's value per bucket; repeat users look back over the history buckets too."""
    out = {m: [rollup.metric_value(m, t, step_s) for t in totals] for m in metrics if m != "repeat_users"}
    if "repeat_users" in metrics:
        out["repeat_users"] = rollup.returning_estimates([t.unit_sketch() for t in history + totals], len(totals))
    return out


_JSON_COLS = frozenset(c.name for c in ROLLUPS.columns if isinstance(c.type, JSON))


def _series_rows(session: Session, use_case_key: str, release_id: Releases, grain: int, cols: Sequence[str],
                 lo: datetime, hi: datetime) -> Iterator[tuple[Any, ...]]:
    """(bucket, release, *cols) of the rollup rows of one grain in [lo, hi), then of the pending deltas there.

    JSON columns are fetched as text and parsed by pydantic-core (Rust): about half the time of the driver's
    json.loads, and parsing is most of a dashboard read."""
    json_at = [2 + i for i, c in enumerate(cols) if c in _JSON_COLS]
    q = select(ROLLUPS.c.bucket, ROLLUPS.c.release, *[_raw_col(c) for c in cols]).where(
        ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == grain, ROLLUPS.c.bucket >= lo, ROLLUPS.c.bucket < hi)
    pending = select(DELTAS.c.bucket, DELTAS.c.release, DELTAS.c.agg).where(
        DELTAS.c.use_case == use_case_key, DELTAS.c.bucket >= lo, DELTAS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(ROLLUPS.c.release, use_case_key, release_id))
        pending = pending.where(_release_is(DELTAS.c.release, use_case_key, release_id))
    for row in session.execute(q):
        if json_at:
            row = list(row)
            for i in json_at:
                row[i] = pydantic_core.from_json(row[i]) if row[i] is not None else None
        yield row
    for bucket, release, agg in session.execute(pending):
        yield (bucket, release, *[agg.get(c) for c in cols])


def _raw_col(name: str) -> Any:
    """A rollup column as a dashboard read fetches it: JSON as text (parsed by pydantic-core), the unit sketch as
    its packed bytes (rollup.as_hashes reads them in place), others as they are."""
    if name in _JSON_COLS:
        return cast(ROLLUPS.c[name], Text)
    if name == "units":
        return type_coerce(ROLLUPS.c.units, LargeBinary)
    return ROLLUPS.c[name]


def _add_to_totals(t: rollup.Totals, cols: Sequence[str], values: Sequence[Any]) -> None:
    """Add one row's columns into a query bucket's totals (plain tuples, one branch per column: the dashboard's cost)."""
    for col, value in zip(cols, values):
        if col == "count":
            t.count += value
        elif col == "errors":
            t.errors += value
        elif col == "fallbacks":
            t.fallbacks += value
        elif col == "cost_usd":
            t.cost_usd += value
        elif col in ("tokens_input", "tokens_output"):
            t.tokens += value
        elif col == "latency":  # a bucket's first row lends its dict (each read parses its own): no copy
            lat = t.latency
            if not lat:
                t.latency = value
                continue
            for k, v in value.items():
                lat[k] = lat.get(k, 0) + v
        elif col == "outcomes":
            if not t.outcomes:
                t.outcomes = value
                continue
            for k, v in value.items():
                t.outcomes[k] = t.outcomes.get(k, 0) + v
        elif col == "scores":
            for k, (sn, ss, sq) in value.items():
                cur = t.scores.setdefault(k, [0, 0.0, 0.0])
                cur[0] += sn
                cur[1] += ss
                cur[2] += sq
        elif col == "units" and value:
            t.unit_rows.append(value)
        elif col == "dropped" and value:  # None in a delta appended before drop reports existed
            t.dropped += sum(value.values())


def releases_in_window(session: Session, use_case_key: str, start: datetime, end: datetime) -> list[str]:
    """Release ids ("" = none) with rollups in the window, for splitting dashboards by release."""
    q = select(ROLLUPS.c.release).where(ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == 3600,
                                        ROLLUPS.c.bucket >= _dt(math.floor(_epoch(start) / 3600) * 3600),
                                        ROLLUPS.c.bucket < end).distinct()
    pending = select(DELTAS.c.release).where(DELTAS.c.use_case == use_case_key,
                                             DELTAS.c.bucket >= _dt(math.floor(_epoch(start) / 3600) * 3600),
                                             DELTAS.c.bucket < end).distinct()
    return sorted(set(session.scalars(q)) | set(session.scalars(pending)))


def last_event_at(session: Session, use_case_key: str) -> datetime | None:
    """Time of the latest event of a use case (from rollups), or None if it never sent any."""
    _check_key(use_case_key)
    last = session.scalar(select(func.max(ROLLUPS.c.last_ts)).where(ROLLUPS.c.use_case == use_case_key,
                                                                     ROLLUPS.c.grain == 3600))
    newest = session.scalar(select(func.max(DELTAS.c.bucket)).where(DELTAS.c.use_case == use_case_key))
    if newest is None:
        return last
    pending = [r["last_ts"] for r in _pending(session, use_case_key, None, newest, newest + timedelta(minutes=1))]
    return max((t for t in [last, *pending] if t is not None), default=None)


def set_baseline(session: Session, actor: Actor, use_case_key: str, release_id: str | None, start: datetime,
                 end: datetime) -> dict[str, Any]:
    """Freeze per-feature bins from the release's raw events in [start, end); later rollups bin on them."""
    _check_key(use_case_key)
    _check_window(start, end)
    rel = release_key(use_case_key, release_id)
    q = select(TelemetryEvent.data).where(TelemetryEvent.use_case == use_case_key, TelemetryEvent.ts >= start,
                                              TelemetryEvent.ts < end)
    if release_id is not None:
        q = q.where(TelemetryEvent.release == rel)
    numeric: dict[str, list[float]] = {}
    categorical: dict[str, Counter[str]] = {}
    n = 0
    for data in session.scalars(q):
        n += 1
        for name, v in ((data or {}).get("features") or {}).items():
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                numeric.setdefault(name, []).append(float(v))
            else:
                categorical.setdefault(name, Counter())[str(v).lower() if isinstance(v, bool) else str(v)] += 1
    if n == 0:
        raise TelemetryInvalid(f"no raw events of '{use_case_key}' {rel or '(any release)'} in that window: "
                               "cannot freeze a baseline")
    specs: dict[str, Any] = {}
    for name in sorted(set(numeric) | set(categorical)):
        nums, cats = numeric.get(name, []), categorical.get(name, Counter())
        if len(nums) >= sum(cats.values()):
            specs[name] = {"kind": "numeric", "edges": histogram.baseline_edges(nums)}
        else:
            specs[name] = {"kind": "categorical",
                           "categories": [c for c, _ in cats.most_common(rollup.MAX_CATEGORIES)]}
    b = TelemetryBaseline(use_case=use_case_key, release=rel, start=start, end=end, events=n, features=specs,
                          created_by=actor.username)
    session.add(b)
    session.flush()
    _LOOKUPS.forget(use_case_key)  # and again once committed: a batch in between may have cached the old one
    event.listen(session, "after_commit", lambda _s: _LOOKUPS.forget(use_case_key), once=True)
    audit.record(session, actor, "telemetry.baseline", "telemetry_baseline", b.id, None,
                 {"use_case": use_case_key, "release": rel, "start": start.isoformat(), "end": end.isoformat(),
                  "events": n, "features": sorted(specs)})
    return {"id": b.id, "use_case": use_case_key, "release": rel, "events": n, "features": specs}


def overview(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every use case of the portfolio that is not retired, and every one that sent telemetry in the window
    (discovered ones, retired ones still in use): volume, key metrics and its status against every scale target."""
    _check_window(start, end)
    ucs = {u.key: u for u in session.scalars(select(UseCase))}
    keys = _keys_with_telemetry(session, start, end) | {k for k, u in ucs.items() if u.status != "retired"}
    return [_overview_row(session, key, ucs.get(key), start, end) for key in sorted(keys)]


def _keys_with_telemetry(session: Session, start: datetime, end: datetime) -> set[str]:
    """Use-case keys with hour rollups or pending deltas in (or just before) the window."""
    lo = start - timedelta(hours=1)
    keys = set(session.scalars(select(ROLLUPS.c.use_case).where(ROLLUPS.c.grain == 3600, ROLLUPS.c.bucket >= lo,
                                                                 ROLLUPS.c.bucket < end).distinct()))
    return keys | set(session.scalars(select(DELTAS.c.use_case).where(DELTAS.c.bucket >= lo, DELTAS.c.bucket < end)
                                      .distinct()))


def _overview_row(session: Session, key: str, uc: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """One use case's overview line: window totals, the metrics its targets name, and the checks against them."""
    st = window_stats(session, key, None, start, end)
    seen = rollup.Observed(
        count=st.count, latency_p95_ms=histogram.quantile(st.latency_counts, 0.95) if st.count else None,
        error_rate=st.errors / st.count if st.count else None,
        cost_per_task_usd=st.cost_usd / st.count if st.count else None,
        throughput_per_min=_peak_throughput(session, key, start, end, st.count) if st.count else None,
        pass_rate=rollup.pass_rate(st.scores, st.outcomes), error_categories=st.error_categories)
    targets = portfolio.targets(uc).model_dump() if uc is not None else {}
    checks = rollup.target_checks(targets, seen)
    return {"use_case": key, "name": uc.name if uc else key, "discovered": bool(uc and uc.discovered),
            "stage": uc.status if uc else None, "count": st.count, "p95_ms": seen.latency_p95_ms,
            "error_rate": seen.error_rate, "cost_per_task": seen.cost_per_task_usd,
            "throughput_per_min": seen.throughput_per_min, "pass_rate": seen.pass_rate,
            "active_units": st.active_units, "last_ts": st.last_ts,
            "last_event_at": st.last_ts if st.count else last_event_at(session, key),
            "status": rollup.target_status(st.count, targets, checks),
            "breaches": [c.name for c in checks if not c.ok],
            "checks": [{"name": c.name, "target": c.target, "observed": c.observed, "limit": c.limit, "ok": c.ok,
                        "guardrail": c.guardrail} for c in checks],
            "targets": targets}


def _peak_throughput(session: Session, key: str, start: datetime, end: datetime, count: int) -> float:
    """Events per minute of the busiest clock hour inside the window (an hour still running counts as a whole
    hour); a window shorter than that hour is averaged over its length."""
    first = math.ceil(_epoch(start) / 3600) * 3600
    if _epoch(end) - first < 3600:
        return count / ((_epoch(end) - _epoch(start)) / 60.0)
    points = series(session, key, "throughput", _dt(first), end, 3600)
    return max((v for _, v in points if v is not None), default=0.0)


__all__ = ["WindowStats", "window_stats", "compact_rollups", "pending_deltas", "series", "series_many",
           "Dashboard", "dashboard_series", "set_baseline", "last_event_at", "feedback_for",
           "ingest_events", "record_feedback", "delete_old_events", "overview", "releases_in_window",
           "current_baseline", "SYSTEM"]
