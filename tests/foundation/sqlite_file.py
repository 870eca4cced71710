"""Helpers of the SQLite file-database tests."""
from __future__ import annotations

from takeoff.core import sqlite_lock


def writer_lock_of(engine) -> sqlite_lock.WriterLock:
    """The writer lock of an engine's connections (file databases get the locking connection class)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert hasattr(raw, "begin_write"), "file databases get the locking connection class"
    return type(raw).writer_lock
