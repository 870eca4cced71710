"""One SQLite writer at a time across threads and processes, handed over as soon as it is released.

SQLite serialises writers itself, but a writer that finds the database locked sleeps in its busy handler
(1, 2, 5, 10, ... 100 ms between retries), so under concurrent ingestion the lock sat free while the next writer
slept: measured here as ~100 ms of waiting per 500-event batch. Taking this lock before `BEGIN IMMEDIATE` queues
writers on a threading lock (within a process) and an flock on `<database>-writer.lock` (between processes), and
they get the database the moment the previous transaction ends. The lock is released by the connection's own
commit/rollback/close, so nothing outside this module has to remember it; a crashed process's flock is dropped by
the kernel.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from typing import Any


class WriterLock:
    """A threading lock plus an exclusive flock on a side file; waits at most `timeout_s` like busy_timeout."""

    def __init__(self, database_path: str, timeout_s: float = 30.0) -> None:
        self.path = f"{database_path}-writer.lock"
        self.timeout_s = timeout_s
        self._local = threading.Lock()
        self._fd: int | None = None
        self._priority_waiting = 0  # priority acquirers waiting in this process: ordinary ones stand back
        self._count_lock = threading.Lock()

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def acquire(self, priority: bool = False) -> None:
        """Block until this thread is the only writer of the database in every process (or OperationalError).

        A threading.Lock is not fair: a writer that releases it and takes it again at once (sustained ingestion)
        wins over a thread woken to take it. `priority` (the WAL restart) makes this process's ordinary writers
        stand back until it has the lock, so the checkpointer is not starved while the WAL grows."""
        deadline = time.monotonic() + self.timeout_s
        if priority:
            with self._count_lock:
                self._priority_waiting += 1
        else:
            while self._priority_waiting and time.monotonic() < deadline:
                time.sleep(0.0002)
        try:
            got = self._local.acquire(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            if priority:
                with self._count_lock:
                    self._priority_waiting -= 1
        if not got:
            raise sqlite3.OperationalError("database is locked (another writer in this process held it too long)")
        try:
            fd = self._file()
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError("database is locked (another process held it too long)") from None
                    time.sleep(pause)  # at most 1 ms: one poller per process, the others wait on the thread lock
                    pause = min(pause * 2, 0.001)
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        """Let the next writer in."""
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._local.release()


def connection_class(lock: WriterLock) -> type[sqlite3.Connection]:
    """A sqlite3.Connection class whose commit, rollback and close release `lock` when this connection holds it."""

    class LockingConnection(sqlite3.Connection):
        writer_lock = lock
        holds_writer_lock = False

        def begin_write(self) -> None:
            """Take the writer lock, then start the write transaction (called instead of executing BEGIN IMMEDIATE)."""
            lock.acquire()
            self.holds_writer_lock = True
            try:
                self.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._let_go()
                raise

        def _let_go(self) -> None:
            if self.holds_writer_lock:
                self.holds_writer_lock = False
                lock.release()

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                if not self.in_transaction:
                    self._let_go()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._let_go()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._let_go()

    return LockingConnection


def begin(dbapi_connection: Any) -> None:
    """Start a write transaction on a connection made by `connection_class` (plain BEGIN IMMEDIATE otherwise)."""
    if hasattr(dbapi_connection, "begin_write"):
        dbapi_connection.begin_write()
    else:
        dbapi_connection.execute("BEGIN IMMEDIATE")
