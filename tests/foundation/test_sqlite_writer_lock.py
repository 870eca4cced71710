"""The SQLite writer lock: writers queue on it across threads and processes and it is always released."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from takeoff.core import sqlite_lock
from takeoff.core.db import read_session
from tests.foundation.sqlite_file import writer_lock_of


def test_concurrent_writers_all_commit_one_at_a_time(sqlite_file) -> None:
    inside, most, errors = [0], [0], []
    guard = threading.Lock()

    def writer(i: int) -> None:
        try:
            for j in range(20):
                with sqlite_file.begin() as conn:
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": i * 100 + j})
                    time.sleep(0.001)
                    with guard:
                        inside[0] -= 1
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert most[0] == 1  # never two write transactions at once
    with sqlite_file.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM t")) == 80


def test_rollback_close_and_failed_statements_release_the_lock(sqlite_file) -> None:
    lock = writer_lock_of(sqlite_file)
    with pytest.raises(Exception):
        with sqlite_file.begin() as conn:
            conn.execute(text("INSERT INTO nope VALUES (1)"))  # fails inside the transaction: rolled back
    assert lock._local.acquire(timeout=1)
    lock._local.release()
    conn = sqlite_file.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    conn.close()  # closed mid-transaction: the pool rolls back
    assert lock._local.acquire(timeout=1)
    lock._local.release()
    with sqlite_file.begin() as c2:
        c2.execute(text("INSERT INTO t (n) VALUES (2)"))
    with sqlite_file.connect() as c3:
        assert c3.scalar(text("SELECT count(*) FROM t")) == 1


def test_read_sessions_do_not_queue_behind_a_writer(sqlite_file) -> None:
    writer = sqlite_file.connect()
    writer.begin()
    writer.execute(text("INSERT INTO t (n) VALUES (7)"))  # holds the writer lock
    try:
        with read_session(sqlite_file) as s:  # a WAL snapshot: no lock, answers at once
            assert s.scalar(text("SELECT count(*) FROM t")) == 0
    finally:
        writer.rollback()
        writer.close()


def test_another_process_holding_the_lock_makes_a_writer_wait_then_fail_cleanly(sqlite_file, tmp_path) -> None:
    lock = writer_lock_of(sqlite_file)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({lock.path!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(1.0)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        short = sqlite_lock.WriterLock(lock.path[: -len("-writer.lock")], timeout_s=0.2)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            short.acquire()
        assert short._local.acquire(timeout=0)  # the failed attempt left the thread lock free
        short._local.release()
        started = time.monotonic()
        with sqlite_file.begin() as conn:  # waits for the other process, then writes
            conn.execute(text("INSERT INTO t (n) VALUES (3)"))
        assert time.monotonic() - started < 10
    finally:
        holder.wait(timeout=10)


def test_a_priority_acquirer_goes_before_waiting_and_returning_writers(tmp_path) -> None:
    """The WAL restart takes the lock with priority: a writer already waiting, or one that releases and asks again
    at once, stands back (a threading.Lock alone let a sustained writer starve the checkpointer)."""
    lock = sqlite_lock.WriterLock(str(tmp_path / "db.sqlite"))
    order: list[str] = []
    lock.acquire()  # the sustained writer holds it

    def take(name: str, priority: bool) -> None:
        lock.acquire(priority=priority)
        order.append(name)
        time.sleep(0.01)
        lock.release()

    ordinary = threading.Thread(target=take, args=("writer", False))
    restart = threading.Thread(target=take, args=("restart", True))
    restart.start()
    time.sleep(0.05)  # the restart is waiting
    ordinary.start()
    time.sleep(0.05)
    lock.release()
    lock.acquire()  # the sustained writer asks again at once
    order.append("returning writer")
    lock.release()
    restart.join(2)
    ordinary.join(2)
    assert order[0] == "restart", order
    assert sorted(order) == ["restart", "returning writer", "writer"]
