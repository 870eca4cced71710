"""The rollup compactor: a background thread that merges the deltas ingestion appends into the rollups.

Every `takeoff serve` and every `takeoff worker` process runs one: it is the background service `rollup-compactor`
(`SERVICE`, registered through takeoff.core.background), which also reports the pending deltas at /metrics.
Merging once per interval instead of once per batch is what takes the read-modify-write of hot rollup rows (and
their row locks) off the ingest path: a busy minute gets one merge per interval whatever the number of batches. Readers add pending
deltas, so compaction lag never changes an answer, only the cost of reading the last seconds.

`compact_rollups` is the merge itself (one chunk of deltas in the caller's transaction).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.background import BackgroundService
from takeoff.core.db import transaction
from takeoff.core.observability import ROLLUP_DELTAS
from takeoff.telemetry import rollup, text_index, unit_index
from takeoff.telemetry.common import TelemetryInvalid
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import epoch as _epoch
from takeoff.telemetry.store import SQLITE_IN_CHUNK as _SQLITE_IN_CHUNK
from takeoff.telemetry.store import upsert_insert as _ins
from takeoff.telemetry.window import DELTAS, ROLLUPS

log = logging.getLogger("takeoff.telemetry.compaction")
COMPACT_CHUNK = 2000  # deltas merged per compaction transaction


def compact_all(factory: sessionmaker[Session], chunk: int = COMPACT_CHUNK, max_rounds: int = 1000) -> int:
    """Compact until no delta is pending (each chunk in its own short transaction); returns how many merged."""
    total = 0
    for _ in range(max_rounds):
        with transaction(factory) as s:
            n = compact_rollups(s, chunk)
        total += n
        if n < chunk:
            break
    return total


class Compactor(threading.Thread):
    """Runs `compact_all` every `interval_s` until `stop` is set; a failing round (database away) is logged and
    retried at the next interval, never fatal."""

    def __init__(self, factory: sessionmaker[Session], stop: threading.Event, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True, name="takeoff-rollup-compactor")
        self.factory, self.stop, self.interval_s = factory, stop, interval_s
        self.merged = 0

    def run(self) -> None:
        units = unit_index.MergeClock()
        while not self.stop.wait(self.interval_s):
            try:
                self.merged += compact_all(self.factory)
                text_index.index_all(self.factory)  # text search blocks of the content stored since (tele0011)
                if units.due(self.factory):  # the unit index's entries in large sorted merges (tele0016)
                    unit_index.merge_all(self.factory)
                    units.merged()
            except Exception:  # a database outage must not end the thread
                log.warning("rollup compaction failed; retrying", exc_info=True)
        try:  # a last round at shutdown, so a stopped server leaves little behind
            self.merged += compact_all(self.factory, max_rounds=20)
            unit_index.merge_all(self.factory)
        except Exception:
            log.warning("final rollup compaction failed", exc_info=True)


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


def _merge_rollups(session: Session, partials: dict[tuple[int, int, str, str], dict[str, Any]]) -> None:
    """Add rollup partials into the minute, hour and day rows under row locks (no lost update between batches)."""
    keys = sorted(partials)
    empty_rows = [{"grain": g, "bucket": _dt(b), "use_case": uc, "release": rel, "count": 0, "errors": 0,
                   "fallbacks": 0, "latency_n": 0, "latency_sum_ms": 0.0, "cost_usd": 0.0, "cost_sq": 0.0,
                   **{c: 0 for c in rollup.TOKEN_COLUMNS}, "latency": {}, "outcomes": {}, "error_categories": {},
                   "scores": {}, "features": {}, "units": [], "dropped": {}, "violations": {}, "models": {}}
                  for g, b, uc, rel in keys]
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
                                               "error_categories", "scores", "features", "units", "dropped",
                                               "violations", "models")})
        values["first_ts"] = _dt(merged["first_ts"]) if merged["first_ts"] is not None else None
        values["last_ts"] = _dt(merged["last_ts"]) if merged["last_ts"] is not None else None
        values["_id"] = row["id"]
        updates.append(values)
    if updates:
        stmt = update(ROLLUPS).where(ROLLUPS.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in updates[0] if c != "_id"})
        conn.execute(stmt, updates)


def start_compactor(factory: sessionmaker[Session], stop: threading.Event) -> threading.Thread:
    """Start the compactor thread (it stops once `stop` is set)."""
    compactor = Compactor(factory, stop)
    compactor.start()
    return compactor


def report_pending(session: Session) -> None:
    """Health: the pending-delta gauge, a growing figure when no compactor runs (TAKEOFF_ROLLUP_COMPACTION)."""
    ROLLUP_DELTAS.set(pending_deltas(session))


SERVICE = BackgroundService(name="rollup-compactor", start=start_compactor,
                            enabled=lambda settings: settings.rollup_compaction, health=report_pending,
                            drain=compact_all)
