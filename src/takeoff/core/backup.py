"""`takeoff backup`: a consistent copy of a SQLite database through SQLite's online backup API, taken while the
server runs (WAL readers never block writers). PostgreSQL is backed up with its own tool, pg_dump (docs/deploy.md)."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupRefused(ValueError):
    """The backup cannot be made as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class BackupResult:
    """What was written: the file, its size and how many tables it holds."""

    path: Path
    bytes: int
    tables: int


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite URL; BackupRefused for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(f"`takeoff backup` copies SQLite databases; for {url.get_backend_name()} use its own tool, "
                            "e.g. pg_dump --format=custom (see docs/deploy.md)")
    if not url.database or url.database == ":memory:":
        raise BackupRefused("the database is in memory; there is nothing to back up")
    path = Path(url.database)
    if not path.is_file():
        raise BackupRefused(f"no database file at {path}")
    return path


def backup_sqlite(database_url: str, output: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the database into `output` in one step of the backup API (one consistent snapshot), check the copy's
    integrity, then move it into place; a failed backup leaves no file behind."""
    source = sqlite_path(database_url)
    output = output.expanduser()
    if output.resolve() == source.resolve():
        raise BackupRefused("the output is the database itself")
    if output.exists() and not overwrite:
        raise BackupRefused(f"{output} exists; choose another file or pass --overwrite")
    if not output.parent.is_dir():
        raise BackupRefused(f"folder {output.parent} does not exist")
    partial = output.with_name(f".{output.name}.partial")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
                problems = dst.execute("PRAGMA integrity_check").fetchall()
                tables = dst.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        if problems != [("ok",)]:
            raise BackupRefused(f"the copy failed its integrity check: {problems[0][0]}")
        os.replace(partial, output)
    except sqlite3.Error as exc:
        raise BackupRefused(f"cannot back up {source}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(output, output.stat().st_size, int(tables))
