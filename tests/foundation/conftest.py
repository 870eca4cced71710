"""Fixtures of the SQLite file-database tests (writer lock, WAL checkpoints)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from takeoff.core.db import make_engine


@pytest.fixture
def sqlite_file(tmp_path):
    """An engine on a SQLite file (so with takeoff's writer lock and WAL checkpointer) holding a table t(id, n, v)."""
    e = make_engine(f"sqlite:///{tmp_path / 'file.db'}")
    with e.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, v TEXT)"))
    yield e
    e.dispose()

