"""The unit index on SQLite: which requests hold a unit id, written behind ingestion in sorted merges (issue 18,
tele0016). PostgreSQL keeps its index on telemetry_events (unit_id, ts): it costs nothing measurable there.

On SQLite an index on telemetry_events (unit_id, ts) put each batch's entries on pages all over it: unit ids are
keyed hashes, so a batch of 500 requests from a few hundred users dirtied a few hundred index pages, each a WAL frame
of 16 KB at commit: 40 % of a batch's CPU after 100,000 events, half of it after 1.5 M (bench/README.md). PostgreSQL
logs only the changed entries, and the same stream took the same time with and without its index. So on SQLite an
ingest appends its (unit, time, request) entries to `telemetry_unit_pending`, in the order they come (the same few
pages), and the compactor moves them into `telemetry_unit_refs`, keyed (unit_id, ts, event_id), in merges of up to
MERGE_ROWS entries sorted by key: a merge writes each unit's page once for all the batches it holds. (The same
tables on PostgreSQL cost 15-20 % of a batch, measured, for nothing: they stay empty there.)

A read of a unit takes both tables (the pending one holds seconds of ingestion, scanned) and keeps a request only
while it still holds the unit id; a merge moves only entries whose request still holds it, and a unit's deletion and
the retention drop theirs (all under SQLite's one write lock), so no unit id is left behind."""
from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, delete, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.db import read_session, transaction
from takeoff.telemetry.models import TelemetryEvent as E
from takeoff.telemetry.request_models import UnitPending as P
from takeoff.telemetry.request_models import UnitRef as R

PENDING = P.__tablename__
REFS = R.__tablename__
MERGE_ROWS = 50_000  # entries a merge moves at most (one transaction)
MERGE_MIN = 20_000  # the compactor merges once this many are pending ...
MERGE_EVERY_S = 5.0  # ... or this long after its last merge
_SQLITE_PARAMS = 900


def entries(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, Any, str]]:
    """(unit_id, ts, event id) of the event rows (store.EVENT_COLS: id at 0, unit_id at 3, ts at 4) holding a
    unit id, in the rows' stored formats."""
    return [(r[3], r[4], r[0]) for r in rows if r[3] is not None]


def append(session: Session, units: Sequence[tuple[Any, Any, str]], sqlite: bool) -> None:
    """Queue the entries of a batch's new requests (SQLite; PostgreSQL's index on the events takes them)."""
    if not units or not sqlite:
        return
    conn = session.connection()
    per = _SQLITE_PARAMS // 3
    for i in range(0, len(units), per):
        chunk = units[i:i + per]
        conn.exec_driver_sql(f"INSERT INTO {PENDING} (unit_id, ts, event_id) VALUES "
                             + ", ".join(["(?, ?, ?)"] * len(chunk)), tuple(chain.from_iterable(chunk)))


def holding(forms: Sequence[str], sqlite: bool) -> list[Any]:
    """The conditions on telemetry_events of the requests holding any of these unit forms (capture.unit_forms):
    SQLite's are found through the refs and the queue, and must still hold the id; PostgreSQL's through its index."""
    if not sqlite:
        return [E.unit_id.in_(forms)]
    ids = union_all(select(R.event_id).where(R.unit_id.in_(forms)), select(P.event_id).where(P.unit_id.in_(forms)))
    return [E.id.in_(ids), E.unit_id.in_(forms)]


def pending(session: Session) -> int:
    """About how many entries wait for a merge (the span of their sequence numbers)."""
    lo, hi = session.execute(select(P.seq).order_by(P.seq).limit(1)).scalar(), session.execute(
        select(P.seq).order_by(P.seq.desc()).limit(1)).scalar()
    return 0 if lo is None or hi is None else hi - lo + 1


def merge(factory: sessionmaker[Session], max_rows: int = MERGE_ROWS) -> int:
    """Move up to `max_rows` of the oldest pending entries into the refs, in key order, keeping those whose request
    still holds the unit id; returns how many left the queue."""
    if factory.kw["bind"].dialect.name != "sqlite":
        return 0  # PostgreSQL queues nothing (the module's docstring)
    with transaction(factory) as s:  # the write lock is held: nothing is appended meanwhile
        conn = s.connection()
        hi = conn.exec_driver_sql(f"SELECT seq FROM {PENDING} ORDER BY seq LIMIT 1 OFFSET ?", (max_rows - 1,)).scalar()
        if hi is None:
            hi = conn.exec_driver_sql(f"SELECT max(seq) FROM {PENDING}").scalar()
        if hi is None:
            return 0
        conn.exec_driver_sql(
            f"INSERT OR IGNORE INTO {REFS} (unit_id, ts, event_id) SELECT p.unit_id, p.ts, p.event_id "
            f"FROM {PENDING} p JOIN telemetry_events e ON e.id = p.event_id AND e.unit_id = p.unit_id "
            f"WHERE p.seq <= ? ORDER BY 1, 2, 3", (hi,))
        return int(conn.exec_driver_sql(f"DELETE FROM {PENDING} WHERE seq <= ?", (hi,)).rowcount or 0)


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
        if factory.kw["bind"].dialect.name != "sqlite":
            return False  # nothing is queued on PostgreSQL
        if time.monotonic() - self.last >= MERGE_EVERY_S:
            return True
        with read_session(factory.kw["bind"]) as s:  # a snapshot: no write lock taken every round
            return pending(s) >= MERGE_MIN

    def merged(self) -> None:
        self.last = time.monotonic()


def forget(session: Session, forms: Sequence[str]) -> None:
    """Drop every entry of these unit forms (a unit's deletion; SQLite)."""
    session.execute(delete(R).where(R.unit_id.in_(forms)))
    session.execute(delete(P).where(P.unit_id.in_(forms)))


def forget_requests(session: Session, refs: Sequence[tuple[str, Any, str]], before: Any) -> None:
    """Drop the entries of requests the retention deletes ((unit_id, ts, event id) as their rows hold them), and
    pending entries older than `before` (SQLite)."""
    refs_table = R.__table__
    if refs:
        session.connection().execute(
            delete(refs_table).where(refs_table.c.unit_id == bindparam("u"), refs_table.c.ts == bindparam("t"),
                                     refs_table.c.event_id == bindparam("e")),
            [{"u": u, "t": t, "e": e} for u, t, e in refs])
    session.execute(delete(P).where(P.ts < before))
