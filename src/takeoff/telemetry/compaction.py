"""The rollup compactor: a background thread that merges the deltas ingestion appends into the rollups.

Every `takeoff serve` and every `takeoff worker` process runs one: it is the background service `rollup-compactor`
(`SERVICE`, registered through takeoff.core.background), which also reports the pending deltas at /metrics.
Merging once per interval instead of once per batch is what takes the read-modify-write of hot rollup rows (and
their row locks) off the ingest path: a busy minute gets one merge per interval whatever the number of batches. Readers add pending
deltas, so compaction lag never changes an answer, only the cost of reading the last seconds.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.background import BackgroundService
from takeoff.core.db import transaction
from takeoff.core.observability import ROLLUP_DELTAS
from takeoff.telemetry import service

log = logging.getLogger("takeoff.telemetry.compaction")


def compact_all(factory: sessionmaker[Session], chunk: int = service.COMPACT_CHUNK, max_rounds: int = 1000) -> int:
    """Compact until no delta is pending (each chunk in its own short transaction); returns how many merged."""
    total = 0
    for _ in range(max_rounds):
        with transaction(factory) as s:
            n = service.compact_rollups(s, chunk)
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
        while not self.stop.wait(self.interval_s):
            try:
                self.merged += compact_all(self.factory)
            except Exception:  # a database outage must not end the thread
                log.warning("rollup compaction failed; retrying", exc_info=True)
        try:  # a last round at shutdown, so a stopped server leaves little behind
            self.merged += compact_all(self.factory, max_rounds=20)
        except Exception:
            log.warning("final rollup compaction failed", exc_info=True)


def start_compactor(factory: sessionmaker[Session], stop: threading.Event) -> threading.Thread:
    """Start the compactor thread (it stops once `stop` is set)."""
    compactor = Compactor(factory, stop)
    compactor.start()
    return compactor


def report_pending(session: Session) -> None:
    """Health: the pending-delta gauge, a growing figure when no compactor runs (TAKEOFF_ROLLUP_COMPACTION)."""
    ROLLUP_DELTAS.set(service.pending_deltas(session))


SERVICE = BackgroundService(name="rollup-compactor", start=start_compactor,
                            enabled=lambda settings: settings.rollup_compaction, health=report_pending,
                            drain=compact_all)
