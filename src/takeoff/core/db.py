"""Database engine, ORM base and sessions; one schema for SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    Select,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker

from takeoff.core.textfold import fold_sql

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use takeoff.core.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every takeoff table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def one_of(session: Session, column: ColumnElement[Any] | QueryableAttribute[Any],
           values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, as each backend reads it best. On PostgreSQL `column = ANY(:array)`: one array parameter,
    so the statement's text is the same whatever the number of values and the driver caches its parsing and prepares
    it (an IN list of 50 keys has more parameters than psycopg caches, so it re-parses the text on every execution, and
    SQLAlchemy renders the list again each time: ~0.3 ms of CPU a statement). Elsewhere an IN list."""
    found = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, found, type_=ARRAY(column.type), unique=True))
    return column.in_(found)


def is_sqlite(url_or_engine: str | Engine) -> bool:
    """True when the URL or engine is SQLite."""
    name = url_or_engine.dialect.name if isinstance(url_or_engine, Engine) else str(url_or_engine)
    return name.startswith("sqlite")


# The page size of a new SQLite database. Request records are wide rows (captured content, JSON documents) under
# eight indexes: with 16 KB pages 10M requests took 6.87 GB instead of 10.01, every explorer page answered as fast or
# faster, and a capture-on batch took 5-7 % less CPU in process (over HTTP within the machine's noise; bench/README.md,
# requests_bench.py --sqlite-page-size). SQLite fixes a file's page size at creation: older files keep 4 KB pages.
SQLITE_PAGE_SIZE = 16384


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for takeoff: SQLite in WAL with serialized writers, PostgreSQL pooled."""
    if is_sqlite(url):
        from sqlalchemy.engine import make_url

        from takeoff.core import sqlite_lock

        path = make_url(url).database
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
        writer_lock = None
        if path and path != ":memory:" and not path.startswith("file:"):
            writer_lock = sqlite_lock.WriterLock(os.path.abspath(path))
            connect_args["factory"] = sqlite_lock.connection_class(writer_lock)
        engine = create_engine(url, connect_args=connect_args, json_serializer=_dumps, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level so SQLAlchemy's BEGIN below is the only transaction control.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a new file only: an existing one keeps its own
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MB of pages: the events' id index stays in memory
            cur.execute("PRAGMA mmap_size=268435456")
            # text search's case folding of non-ASCII text (SQLite's lower() folds ASCII only)
            dbapi_conn.create_function("takeoff_fold", 1, fold_sql, deterministic=True)
            if checkpointer is not None:
                cur.execute("PRAGMA wal_autocheckpoint=0")  # commits never pay for a checkpoint: see below
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # One writer at a time: IMMEDIATE takes the write lock up front, so read-then-write
            # sequences (audit chain, job claims) never fail half-way with SQLITE_BUSY. A connection
            # marked read-only (engine.execution_options(takeoff_read_only=True)) reads a WAL snapshot
            # without the lock, so lookups that precede a write don't hold other writers back.
            # Writers queue on takeoff.core.sqlite_lock first, so the lock passes to the next one at once.
            if conn.get_execution_options().get("takeoff_read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                sqlite_lock.begin(conn.connection.dbapi_connection)

        database = engine.url.database
        checkpointer = _Checkpointer(database, writer_lock) if database and database != ":memory:" else None
        if checkpointer is not None:
            checkpointer.start()
            event.listen(engine, "engine_disposed", lambda _e: checkpointer.stop.set())
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, json_serializer=_dumps, **kwargs)


RESTART_WAIT_MS = 20  # longest a WAL restart holds writers back waiting for readers


class _Checkpointer(threading.Thread):
    """Copies the SQLite WAL into the database file from a background thread, instead of SQLite's automatic
    checkpoint inside whichever commit crosses 1000 pages (that commit paid the copy and an fsync, measured as 40 %
    of ingest time on long runs). Stops with the engine, or when the file is gone (it opens the file read-write
    only, never creating one).

    A PASSIVE checkpoint never blocks anyone, but under sustained writes it never catches up with the last commit,
    so SQLite never rewinds the WAL: it grew by ~5 KB per ingested event, without bound. Once the WAL holds more
    than `restart_bytes`, the checkpoint is a RESTART taken under the writer lock (writers queue for the few ms it
    takes to copy the frames the PASSIVE pass left), and the next commit writes the WAL from its start again.
    """

    def __init__(self, path: str, writer_lock: Any = None, interval_s: float = 1.0,
                 restart_bytes: int = 64 * 1024 * 1024) -> None:
        super().__init__(daemon=True, name="takeoff-wal-checkpoint")
        self.path, self.writer_lock, self.interval_s = path, writer_lock, interval_s
        self.restart_bytes, self.stop = restart_bytes, threading.Event()

    def run(self) -> None:
        import sqlite3

        conn = None
        try:
            while not self.stop.wait(self.interval_s):
                try:
                    if conn is None:
                        conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=1,
                                               isolation_level=None, check_same_thread=False)
                        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                    _busy, frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if self.writer_lock is not None and frames * page_size > self.restart_bytes:
                        self.restart(conn)
                except sqlite3.Error:
                    if not os.path.exists(self.path):
                        return  # the database was removed (a test's temporary file): nothing left to do
        finally:
            if conn is not None:
                conn.close()

    def restart(self, conn: Any) -> tuple[int, int, int]:
        """Checkpoint the whole WAL and let the next writer start it over. Readers that still need the WAL get
        RESTART_WAIT_MS, then it gives up until the next round (busy=1): writers never wait longer than that."""
        self.writer_lock.acquire(priority=True)  # sustained writers would otherwise starve it
        try:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            return tuple(conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone())
        finally:
            conn.execute("PRAGMA busy_timeout=1000")
            self.writer_lock.release()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def read_session(engine: Engine) -> Session:
    """A session for reads only: on SQLite its transaction is a deferred WAL snapshot that takes no write lock
    (see the begin listener in make_engine); elsewhere an ordinary session. Never write through it."""
    return Session(engine.execution_options(takeoff_read_only=True), expire_on_commit=False)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def paginate(session: Session, query: Select[Any], order_by: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a query's rows (ordered) with the total count, for list endpoints and pages."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(order_by).limit(limit).offset(offset)).all()
    return list(rows), total
