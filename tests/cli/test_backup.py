"""`takeoff backup`: a consistent, checked copy of a SQLite database taken while writers keep writing; PostgreSQL is
refused with the pg_dump pointer; no half-written file is ever left."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.core.db import transaction


@pytest.fixture
def run(engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("TAKEOFF_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_backup_of_a_live_sqlite_database(run: Any, engine: Any, users: Any, factory: Any, tmp_path: Path) -> None:
    if engine.dialect.name != "sqlite":
        r = run("backup", str(tmp_path / "b.db"))
        assert r.exit_code == 2 and "pg_dump" in r.output and len(r.output.strip().splitlines()) == 1
        assert not (tmp_path / "b.db").exists()
        return
    users.create("viewer", username="before-backup")
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:  # a server keeps writing while the backup runs
        while not stop.is_set():
            with transaction(factory) as s:
                s.execute(text("INSERT INTO auth_throttle (key, failures) VALUES (:k, 1)"), {"k": f"w{len(written)}"})
            written.append(1)

    t = threading.Thread(target=writer)
    t.start()
    try:
        r = run("backup", str(tmp_path / "b.db"))
    finally:
        stop.set()
        t.join(10)
    assert r.exit_code == 0, r.output
    assert "backed up" in r.output and written
    copy = sqlite3.connect(tmp_path / "b.db")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT username FROM users WHERE username = 'before-backup'").fetchone() is not None
    copied = copy.execute("SELECT count(*) FROM auth_throttle").fetchone()[0]
    copy.close()
    assert 0 <= copied <= len(written)
    assert not list(tmp_path.glob(".b.db.partial"))
    # An existing file is not overwritten unless asked; a missing folder is an input error.
    again = run("backup", str(tmp_path / "b.db"))
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert run("backup", str(tmp_path / "b.db"), "--overwrite").exit_code == 0
    missing = run("backup", str(tmp_path / "nope" / "b.db"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
