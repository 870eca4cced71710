"""The WAL checkpointer keeps the SQLite WAL bounded under sustained writes with overlapping readers."""
from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import text

from takeoff.db import _Checkpointer, make_engine, read_session


def _sustained_load(engine, checkpointer: _Checkpointer, seconds: float) -> int:
    """One writer and two staggered readers (one of them is nearly always reading: without a RESTART the WAL is
    never rewound) for `seconds`; returns the WAL file's largest size seen."""
    stop, errors, biggest = threading.Event(), [], [0]
    wal = f"{engine.url.database}-wal"
    blob = os.urandom(3000).hex()

    def writer() -> None:
        try:
            while not stop.is_set():
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": blob}] * 20)
                biggest[0] = max(biggest[0], os.path.getsize(wal))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader(offset: float) -> None:
        time.sleep(offset)
        try:
            while not stop.is_set():
                with read_session(engine) as s:  # like the server's token lookups: short, overlapping reads
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


@pytest.fixture
def engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with e.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    yield e
    e.dispose()


def _writer_lock(engine):
    with engine.connect() as conn:
        return type(conn.connection.dbapi_connection).writer_lock


def test_wal_is_restarted_under_sustained_writes_and_readers(engine):
    with engine.connect() as conn:
        page = conn.exec_driver_sql("PRAGMA page_size").scalar()
    restart_at = 512 * page
    cp = _Checkpointer(engine.url.database, _writer_lock(engine), interval_s=0.05, restart_bytes=restart_at)
    biggest = _sustained_load(engine, cp, 1.5)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    written = rows * 6000  # bytes of rows written, a lower bound on the WAL frames the run produced
    assert written > 3 * biggest, (written, biggest)  # the WAL was rewound, not grown
    assert biggest < 32 * 1024 * 1024


def test_restart_waits_for_the_writer_lock_and_rewinds_the_wal(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 5000}] * 200)
    lock = _writer_lock(engine)
    cp = _Checkpointer(engine.url.database, lock)
    import sqlite3

    conn = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    lock.acquire()  # a writer holds the lock: the restart queues behind it
    done = threading.Event()
    threading.Thread(target=lambda: (cp.restart(conn), done.set())).start()
    assert not done.wait(0.2)
    lock.release()
    assert done.wait(5)
    with engine.begin() as c:  # the next write starts the WAL over from its first frame
        c.execute(text("INSERT INTO t (v) VALUES ('y')"))
    busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames < 10
    conn.close()
