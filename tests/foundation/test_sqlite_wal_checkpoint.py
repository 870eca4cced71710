"""The WAL checkpointer keeps the SQLite WAL bounded under sustained writes with overlapping readers."""
from __future__ import annotations

import os
import threading
import time

from sqlalchemy import text

from takeoff.core.db import _Checkpointer, read_session
from tests.foundation.sqlite_file import writer_lock_of


def _sustained_load(sqlite_file, checkpointer: _Checkpointer, seconds: float) -> int:
    """One writer and two staggered readers (one of them is nearly always reading: without a RESTART the WAL is
    never rewound) for `seconds`; returns the WAL file's largest size seen."""
    stop, errors, biggest = threading.Event(), [], [0]
    wal = f"{sqlite_file.url.database}-wal"
    blob = os.urandom(3000).hex()

    def writer() -> None:
        try:
            while not stop.is_set():
                with sqlite_file.begin() as conn:
                    conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": blob}] * 20)
                biggest[0] = max(biggest[0], os.path.getsize(wal))
                time.sleep(0.005)  # ~120 KB per 5 ms at most: a rate the WAL's extent can be judged against
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader(offset: float) -> None:
        time.sleep(offset)
        try:
            while not stop.is_set():
                with read_session(sqlite_file) as s:  # like the server's token lookups: short, overlapping reads
                    s.execute(text("SELECT count(*) FROM t")).scalar()
                    time.sleep(0.002)
                time.sleep(0.001)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader, args=(0,)),
               threading.Thread(target=reader, args=(0.002,))]
    checkpointer.start()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    checkpointer.stop.set()
    checkpointer.join()
    assert not errors, errors
    return biggest[0]


def test_wal_is_restarted_under_sustained_writes_and_readers(sqlite_file):
    # a threshold in bytes, not pages: at 512 pages it grew fourfold with 16 KB pages (core.db.SQLITE_PAGE_SIZE),
    # and the WAL's extent then came within the bound below (CI: 33.4 MB written, 11.6 MB of WAL)
    restart_at = 2 * 1024 * 1024
    cp = _Checkpointer(sqlite_file.url.database, writer_lock_of(sqlite_file), interval_s=0.05, restart_bytes=restart_at)
    biggest = _sustained_load(sqlite_file, cp, 2.0)
    with sqlite_file.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    written = rows * 6000  # bytes of rows written, a lower bound on the WAL frames the run produced
    # the WAL was rewound, not grown: its file (never shrunk) ends far below what went through it. Its extent is
    # the restart threshold plus what the writer adds during one checkpoint round, so the bound is relative: an
    # absolute one failed on a faster machine (46 MB at ~30 MB/s of unpaced writes).
    assert written > 3 * biggest, (written, biggest)


def test_restart_waits_for_the_writer_lock_and_rewinds_the_wal(sqlite_file):
    with sqlite_file.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 5000}] * 200)
    lock = writer_lock_of(sqlite_file)
    cp = _Checkpointer(sqlite_file.url.database, lock)
    import sqlite3

    conn = sqlite3.connect(sqlite_file.url.database, isolation_level=None, check_same_thread=False)
    lock.acquire()  # a writer holds the lock: the restart queues behind it
    done = threading.Event()
    threading.Thread(target=lambda: (cp.restart(conn), done.set())).start()
    assert not done.wait(0.2)
    lock.release()
    assert done.wait(5)
    with sqlite_file.begin() as c:  # the next write starts the WAL over from its first frame
        c.execute(text("INSERT INTO t (v) VALUES ('y')"))
    busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames < 10
    conn.close()
