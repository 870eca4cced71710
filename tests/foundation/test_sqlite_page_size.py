"""SQLite databases are made with 16 KB pages (core.db.SQLITE_PAGE_SIZE); an existing file keeps the size it has."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from takeoff.core.db import SQLITE_PAGE_SIZE, make_engine


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_a_new_database_has_16_kb_pages(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    assert SQLITE_PAGE_SIZE == 16384 and _page_size(path) == 16384


def test_an_existing_database_keeps_its_page_size_and_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    conn.commit()
    conn.close()
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 1000
        c.execute(text("INSERT INTO t VALUES (1000)"))
    engine.dispose()
    assert _page_size(path) == 4096
