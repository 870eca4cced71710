"""The unit index: which requests hold a unit id, written behind ingestion in sorted merges (issue 18, tele0016).

An index on telemetry_events (unit_id, ts) put each batch's entries on pages all over it: unit ids are keyed hashes,
so a batch of 500 requests from a few hundred users dirtied a few hundred index pages, each a WAL frame at commit.
On SQLite that was 40 % of a batch's CPU after 100,000 events and half of it after 1.5 M (bench/README.md). Instead
an ingest appends its (unit, time, request) entries to `telemetry_unit_pending`, in the order they come (the same
few pages), and the compactor moves them into `telemetry_unit_refs`, keyed (unit_id, ts, event_id), in merges of up
to MERGE_ROWS entries sorted by key: a merge writes each unit's page once for all the batches it holds.

A read of a unit takes both tables (the pending one holds seconds of ingestion, scanned) and keeps a request only
while it still holds the unit id; a merge moves only entries whose request still holds it, so neither a deletion
(`forget`, under the same lock as a merge on PostgreSQL) nor the retention leaves a unit id behind."""
from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, text, union_all
from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.db import transaction
from takeoff.telemetry.request_models import UnitPending as P
from takeoff.telemetry.request_models import UnitRef as R

PENDING = P.__tablename__
REFS = R.__tablename__
MERGE_ROWS = 50_000  # entries a merge moves at most (one transaction)
MERGE_MIN = 20_000  # the compactor merges once this many are pending ...
MERGE_EVERY_S = 5.0  # ... or this long after its last merge
_PG_MERGE_KEY = 7_340_112  # advisory transaction lock: a merge and a unit's deletion never interleave
_SQLITE_PARAMS = 900


def entries(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, Any, str]]:
    """(unit_id, ts, event id) of the event rows (store.EVENT_COLS: id at 0, unit_id at 3, ts at 4) holding a
    unit id, in the rows' stored formats."""
    return [(r[3], r[4], r[0]) for r in rows if r[3] is not None]


def append(session: Session, units: Sequence[tuple[Any, Any, str]], sqlite: bool) -> None:
    """Queue the entries of a batch's new requests (COPY on PostgreSQL, multi-row INSERT on SQLite)."""
    if not units:
        return
    conn = session.connection()
    if not sqlite:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {PENDING} (unit_id, ts, event_id) FROM STDIN") as copy:
            for row in units:
                copy.write_row(row)
        return
    per = _SQLITE_PARAMS // 3
    for i in range(0, len(units), per):
        chunk = units[i:i + per]
        conn.exec_driver_sql(f"INSERT INTO {PENDING} (unit_id, ts, event_id) VALUES "
                             + ", ".join(["(?, ?, ?)"] * len(chunk)), tuple(chain.from_iterable(chunk)))


def event_ids(forms: Sequence[str]) -> Select[Any]:
    """The ids of the requests indexed or queued under any of these unit forms (capture.unit_forms)."""
    return union_all(select(R.event_id).where(R.unit_id.in_(forms)),
                     select(P.event_id).where(P.unit_id.in_(forms)))  # type: ignore[return-value]


def pending(session: Session) -> int:
    """About how many entries wait for a merge (the span of their sequence numbers)."""
    lo, hi = session.execute(select(P.seq).order_by(P.seq).limit(1)).scalar(), session.execute(
        select(P.seq).order_by(P.seq.desc()).limit(1)).scalar()
    return 0 if lo is None or hi is None else hi - lo + 1


def merge(factory: sessionmaker[Session], max_rows: int = MERGE_ROWS) -> int:
    """Move up to `max_rows` of the oldest pending entries into the refs, in key order, keeping those whose request
    still holds the unit id; returns how many left the queue."""
    with transaction(factory) as s:
        conn = s.connection()
        if conn.dialect.name == "sqlite":  # the write lock is held: nothing is appended meanwhile
            hi = conn.exec_driver_sql(f"SELECT seq FROM {PENDING} ORDER BY seq LIMIT 1 OFFSET ?",
                                      (max_rows - 1,)).scalar()
            if hi is None:
                hi = conn.exec_driver_sql(f"SELECT max(seq) FROM {PENDING}").scalar()
            if hi is None:
                return 0
            conn.exec_driver_sql(
                f"INSERT OR IGNORE INTO {REFS} (unit_id, ts, event_id) SELECT p.unit_id, p.ts, p.event_id "
                f"FROM {PENDING} p JOIN telemetry_events e ON e.id = p.event_id AND e.unit_id = p.unit_id "
                f"WHERE p.seq <= ? ORDER BY 1, 2, 3", (hi,))
            return int(conn.exec_driver_sql(f"DELETE FROM {PENDING} WHERE seq <= ?", (hi,)).rowcount or 0)
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_MERGE_KEY,))
        return int(conn.exec_driver_sql(
            f"WITH moved AS (DELETE FROM {PENDING} WHERE seq IN (SELECT seq FROM {PENDING} ORDER BY seq LIMIT %s "
            f"FOR UPDATE SKIP LOCKED) RETURNING unit_id, ts, event_id), "
            f"kept AS (INSERT INTO {REFS} (unit_id, ts, event_id) SELECT m.unit_id, m.ts, m.event_id FROM moved m "
            f"JOIN telemetry_events e ON e.id = m.event_id AND e.unit_id = m.unit_id ORDER BY 1, 2, 3 "
            f"ON CONFLICT DO NOTHING) SELECT count(*) FROM moved", (max_rows,)).scalar() or 0)


def merge_all(factory: sessionmaker[Session], max_rounds: int = 20) -> int:
    """Merge until the queue is empty (each round its own transaction); returns how many entries moved."""
    total = 0
    for _ in range(max_rounds):
        n = merge(factory)
        total += n
        if n < MERGE_ROWS:
            break
    return total


class MergeClock:
    """When the compactor merges: MERGE_MIN entries pending, or MERGE_EVERY_S since its last merge (large merges
    write each unit's page once for many batches; a quiet server still merges within seconds)."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def due(self, factory: sessionmaker[Session]) -> bool:
        if time.monotonic() - self.last >= MERGE_EVERY_S:
            return True
        with factory() as s:
            return pending(s) >= MERGE_MIN

    def merged(self) -> None:
        self.last = time.monotonic()


def lock(session: Session) -> None:
    """On PostgreSQL, wait for a merge in progress and keep the next one out until this transaction ends (SQLite's
    write lock does the same)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MERGE_KEY})


def forget(session: Session, forms: Sequence[str]) -> None:
    """Drop every entry of these unit forms (a unit's deletion, after its requests' unit ids are cleared)."""
    lock(session)
    session.execute(delete(R).where(R.unit_id.in_(forms)))
    session.execute(delete(P).where(P.unit_id.in_(forms)))


def forget_requests(session: Session, refs: Sequence[tuple[str, Any, str]], before: Any) -> None:
    """Drop the entries of requests the retention deletes ((unit_id, ts, event id) as their rows hold them), and
    pending entries older than `before`."""
    refs_table = R.__table__
    if refs:
        session.connection().execute(
            delete(refs_table).where(refs_table.c.unit_id == bindparam("u"), refs_table.c.ts == bindparam("t"),
                                     refs_table.c.event_id == bindparam("e")),
            [{"u": u, "t": t, "e": e} for u, t, e in refs])
    session.execute(delete(P).where(P.ts < before))
