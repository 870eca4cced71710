"""The event store: the dialect-specific writes of an ingest behind one small interface, with its SQLite and
PostgreSQL variants (raw SQL on the hot path, values already in the column formats SQLAlchemy would write).

`store_for(session)` picks the variant; ingestion (`service.ingest_events`) only calls the interface:
`stored_ids` on its read snapshot, `event_time` while it prepares rows, then `insert_events` and `append_deltas`.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pydantic_core
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import sqlite_time as _sqlite_time

Partials = dict[tuple[int, int, str, str], dict[str, Any]]


class EventStore(Protocol):
    """What ingestion writes through: one implementation per database dialect."""

    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        """Ids of these known to be stored on the read snapshot (dropped before the write phase)."""

    def event_time(self, ts: float) -> Any:
        """An event's time in the format its raw insert writes."""

    def insert_events(self, session: Session, rows: list[tuple[Any, ...]]) -> set[str]:
        """Insert the rows that are new (ids not stored yet); returns their ids."""

    def append_deltas(self, session: Session, partials: Partials) -> None:
        """Append a batch's minute partials as rollup deltas."""


def store_for(session: Session) -> EventStore:
    """The event store of the session's database."""
    return SQLITE if _is_sqlite(session) else POSTGRES


def upsert_insert(session: Session) -> Callable[..., Any]:
    """The dialect's `insert` construct (it has `on_conflict_do_nothing`)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# SQLite timestamps are written as SQLAlchemy's DATETIME text, "%Y-%m-%d %H:%M:%S.%f" (isoformat with microseconds
# minus the offset: 4x cheaper than strftime); raw inserts must match it exactly.
EVENT_COLS = ("id", "use_case", "release", "unit_id", "ts", "latency_ms", "status", "outcome", "model", "provider",
              "cost_usd", "error_category", "fallback_reason", "source", "data")
SQLITE_IN_CHUNK = 900  # bound parameters per statement stay well under SQLite's limit


def json_text(value: Any) -> str:
    """Compact JSON in pydantic-core (Rust), ~4x json.dumps on the ingest hot path; unknown types as str."""
    return pydantic_core.to_json(value, serialize_unknown=True).decode()


class SqliteStore:
    """SQLite: ids already stored are dropped on the read snapshot (outside the write lock), times are DATETIME
    text."""

    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        return _stored_ids(session, ids)

    def event_time(self, ts: float) -> Any:
        return _sqlite_time(ts)

    def insert_events(self, session: Session, rows: list[tuple[Any, ...]]) -> set[str]:
        """Insert the rows that are new; returns their ids."""
        # SQLite: the ids already stored were dropped on the read snapshot (`_stored_ids`, outside the write lock), so
        # the rows go straight in. If a concurrent batch stored one of the same ids since that snapshot, the unique
        # index refuses the statement (SQLite undoes that statement only) and the rest is checked again under the lock.
        from sqlalchemy.exc import IntegrityError

        insert = f"INSERT INTO telemetry_events ({', '.join(EVENT_COLS)})"
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

    def append_deltas(self, session: Session, partials: Partials) -> None:
        """Inserts only, so concurrent batches never wait on each other's rollup rows."""
        keyed = sorted(partials.items())
        _insert_values(session, _DELTA_INSERT,
                       [(_sqlite_time(b), uc, rel, json_text(agg)) for (_, b, uc, rel), agg in keyed])


class PostgresStore:
    """PostgreSQL: the insert itself skips stored ids (COPY, or ON CONFLICT after a race); times are datetimes."""

    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        return set()  # nothing to drop early: insert_events looks them up inside the write

    def event_time(self, ts: float) -> Any:
        return _dt(ts)

    def insert_events(self, session: Session, rows: list[tuple[Any, ...]]) -> set[str]:
        """Skip the ids already stored, COPY the others straight into the table (about half the server time of
        INSERT ... ON CONFLICT over json_to_recordset); if a concurrent batch stored one of the same ids in between,
        the unique index refuses the COPY, and the batch goes in through INSERT ... ON CONFLICT DO NOTHING."""
        from psycopg.errors import UniqueViolation

        conn = session.connection()
        existing = {r[0] for r in conn.exec_driver_sql("SELECT id FROM telemetry_events WHERE id = ANY(%s)",
                                                       ([r[0] for r in rows],))}
        fresh = [r for r in rows if r[0] not in existing]
        if not fresh:
            return set()
        cols = ", ".join(EVENT_COLS)
        try:
            raw = conn.connection.driver_connection  # inside the session's transaction: psycopg makes this a SAVEPOINT
            with raw.transaction(), raw.cursor() as cursor, cursor.copy(f"COPY telemetry_events ({cols}) FROM STDIN") as copy:
                for row in fresh:
                    copy.write_row(row)
            return {r[0] for r in fresh}
        except UniqueViolation:
            one = f"({', '.join(['%s'] * (len(EVENT_COLS) - 1))}, %s::json)"
            return {r[0] for r in _insert_values(session, f"INSERT INTO telemetry_events ({cols})", fresh, one,
                                                 "ON CONFLICT (id) DO NOTHING RETURNING id")}

    def append_deltas(self, session: Session, partials: Partials) -> None:
        """Inserts only, so concurrent batches never wait on each other's rollup rows."""
        keyed = sorted(partials.items())
        _insert_values(session, _DELTA_INSERT, [(float(b), uc, rel, json_text(agg)) for (_, b, uc, rel), agg in keyed],
                       "(to_timestamp(%s), %s, %s, %s::json)")


SQLITE: EventStore = SqliteStore()
POSTGRES: EventStore = PostgresStore()
_DELTA_INSERT = "INSERT INTO telemetry_rollup_deltas (bucket, use_case, release, agg)"


def _stored_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """Which of these event ids are stored already (SQLite; chunked under its bound-parameter limit)."""
    existing: set[str] = set()
    conn = session.connection()
    for i in range(0, len(ids), SQLITE_IN_CHUNK):
        chunk = ids[i:i + SQLITE_IN_CHUNK]
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
    """Whether the session writes to SQLite."""
    return session.get_bind().dialect.name == "sqlite"



