"""Open a data source read-only: any SQLAlchemy URL, or a CSV/Parquet file (or folder) through DuckDB.

Over ~400 lines on purpose: the read-only boundary to every source in one place: one SourceConn over each dialect
and the file and host policies deciding what it may open.

Every failure becomes a `SourceError` whose `reason` a data owner can act on ("cannot reach host …",
"authentication failed for user …", "table … does not exist") and never contains the password.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlglot import exp

from takeoff.core import netguard
from takeoff.core.policy import ProcessPolicy
from takeoff.data.rules import sqlglot_dialect

FILE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
DEFAULT_VIEW = "data"


class SourceError(ValueError):
    """A source could not be opened or queried; `reason` is one readable, password-free line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class SourceConn:
    """An open, read-only data source; for files, the data is the DuckDB view `default_table`."""

    label: str
    dialect: str
    engine: Engine | None = None
    duck: duckdb.DuckDBPyConnection | None = None
    default_table: str | None = None
    statement_timeout_s: float = 60.0
    _secret: str | None = field(default=None, repr=False)
    _host: str = field(default="", repr=False)
    _user: str = field(default="", repr=False)

    def close(self) -> None:
        """Release pooled connections (SQL) or the in-memory DuckDB database (files)."""
        if self.engine is not None:
            self.engine.dispose()
        if self.duck is not None:
            self.duck.close()

    def __enter__(self) -> SourceConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identifiers -------------------------------------------------------------------------------
    def quote(self, name: str) -> str:
        """Quote one identifier for this dialect (embedded quotes doubled), so user names are never raw SQL."""
        if not isinstance(name, str) or not name:
            raise ValueError("identifier must be a non-empty string")
        return exp.to_identifier(name, quoted=True).sql(dialect=sqlglot_dialect(self.dialect))

    def split_table(self, table: str) -> tuple[str | None, str]:
        """'schema.table' -> (schema, table); a bare name -> (None, name)."""
        if not isinstance(table, str) or not table.strip():
            raise ValueError("table name must be a non-empty string")
        parts = table.strip().split(".")
        if len(parts) == 1:
            return None, parts[0]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
        raise ValueError(f"table name {table!r} must be 'table' or 'schema.table'")

    def quote_table(self, table: str) -> str:
        schema, name = self.split_table(table)
        return (self.quote(schema) + "." if schema else "") + self.quote(name)

    def escape_text(self, sql: str) -> str:
        """Escape ':' in user-derived SQL so SQLAlchemy's text() never reads ':word' inside it as a parameter."""
        return sql if self.duck is not None else sql.replace(":", "\\:")

    def param(self, name: str) -> str:
        """Placeholder for a bound parameter in this source's query text."""
        return f"${name}" if self.duck is not None else f":{name}"

    # -- errors ------------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def reason_for(self, error: BaseException, table: str | None = None) -> str:
        """Readable, password-free reason for a driver or SQLAlchemy error."""
        return self.scrub(_describe(error, host=self._host, user=self._user, table=table, timeout=self.statement_timeout_s))

    # -- queries -----------------------------------------------------------------------------------
    def aggregate(self, sql: str, params: Mapping[str, Any] | None = None, table: str | None = None) -> dict[str, Any]:
        """Run one single-row aggregate in a read-only transaction that is always rolled back."""
        params = dict(params or {})
        try:
            if self.duck is not None:
                return self._duck_one(sql, params)
            assert self.engine is not None
            with self.engine.connect() as conn:
                trans = conn.begin()
                try:
                    if self.dialect in ("postgresql", "mysql", "mariadb"):
                        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    row = conn.execute(sa.text(sql), params).mappings().one()
                    return dict(row)
                finally:
                    trans.rollback()
        except SourceError:
            raise
        except Exception as e:  # every driver error becomes a readable reason, never a crash
            raise SourceError(self.reason_for(e, table)) from None

    def scalar_row(self, sql: str, params: Mapping[str, Any] | None = None, table: str | None = None) -> tuple | None:
        """Run a read-only query returning at most one row (used for nearest-rank percentiles)."""
        params = dict(params or {})
        try:
            if self.duck is not None:
                cur = self.duck.cursor()
                try:
                    r = cur.execute(sql, params).fetchone()
                    return tuple(r) if r is not None else None
                finally:
                    cur.close()
            assert self.engine is not None
            with self.engine.connect() as conn:
                trans = conn.begin()
                try:
                    if self.dialect in ("postgresql", "mysql", "mariadb"):
                        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    r = conn.execute(sa.text(sql), params).first()
                    return tuple(r) if r is not None else None
                finally:
                    trans.rollback()
        except Exception as e:
            raise SourceError(self.reason_for(e, table)) from None

    def _duck_one(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.duck is not None
        cur = self.duck.cursor()
        # DuckDB has no statement timeout; interrupt the cursor from a timer instead.
        timer = threading.Timer(self.statement_timeout_s, cur.interrupt)
        timer.start()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute(sql, params)
                names = [d[0] for d in cur.description or []]
                row = cur.fetchone()
                return dict(zip(names, row, strict=True)) if row is not None else {}
            finally:
                cur.execute("ROLLBACK")
        finally:
            timer.cancel()
            cur.close()

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of every column of `table`, read from the catalog (no rows fetched)."""
        schema, name = self.split_table(table)
        try:
            if self.duck is not None:
                cur = self.duck.cursor()
                try:
                    rows = cur.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = $t AND ($s IS NULL OR table_schema = $s) ORDER BY ordinal_position",
                        {"t": name, "s": schema},
                    ).fetchall()
                finally:
                    cur.close()
                if not rows:
                    raise SourceError(f"table {table} does not exist")
                return [(str(n), str(t)) for n, t in rows]
            assert self.engine is not None
            with self.engine.connect() as conn:
                trans = conn.begin()
                try:
                    if self.dialect in ("postgresql", "mysql", "mariadb"):
                        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    cols = sa.inspect(conn).get_columns(name, schema=schema)
                finally:
                    trans.rollback()
            return [(str(c["name"]), _type_name(c["type"], self.engine)) for c in cols]
        except SourceError:
            raise
        except sa.exc.NoSuchTableError:
            raise SourceError(f"table {table} does not exist") from None
        except Exception as e:
            raise SourceError(self.reason_for(e, table)) from None


def _type_name(type_: Any, engine: Engine) -> str:
    try:
        return str(type_.compile(dialect=engine.dialect))
    except Exception:  # NullType and exotic types have no DDL spelling
        return type(type_).__name__


def _short(msg: str) -> str:
    lines = [ln.strip() for ln in str(msg).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _quoted_after(msg: str, marker: str) -> str | None:
    m = re.search(marker + r'\s*"?([^"\s:]+)"?', msg)
    return m.group(1) if m else None


def _describe(error: BaseException, *, host: str, user: str, table: str | None, timeout: float) -> str:
    orig = getattr(error, "orig", None) or error
    msg = str(orig)
    low = msg.lower()
    cls = type(orig).__name__
    where = f" in table {table}" if table else ""
    if "password authentication failed" in low or "authentication failed" in low or (
        re.search(r'role "[^"]+" does not exist', low) and "database" not in low.split("role")[0][-20:]
    ) or "access denied for user" in low or "no password supplied" in low:
        who = _quoted_after(msg, "for user") or _quoted_after(msg, "role") or user
        return f"authentication failed for user {who}"
    if re.search(r'database "[^"]+" does not exist', low):
        return f"database {_quoted_after(msg, 'database')} does not exist on {host}"
    if any(
        s in low
        for s in (
            "connection refused", "could not translate host", "timeout expired", "no route to host",
            "network is unreachable", "name or service not known", "could not connect", "connection timed out",
            "temporary failure in name resolution", "nodename nor servname",
        )
    ):
        return f"cannot reach host {host} ({_short(msg).split(': ')[-1]})"
    if "unable to open database file" in low:
        return f"cannot open SQLite database {host} (missing file or no read permission)"
    if cls == "UndefinedTable" or "no such table" in low or re.search(r"(relation|table with name) .* does not exist", low):
        name = table or _quoted_after(msg, "relation") or _quoted_after(msg, "no such table:")
        return f"table {name} does not exist"
    if cls == "UndefinedColumn" or "no such column" in low or ("referenced column" in low and "not found" in low):
        col = (
            _quoted_after(msg, "column")
            or _quoted_after(msg, "no such column:")
            or _quoted_after(msg, "Referenced column")
        )
        return f"column {col} does not exist{where}"
    if cls == "ReadOnlySqlTransaction" or "read-only transaction" in low or "readonly database" in low:
        return "refused: the query tried to write, and checks run read-only"
    if cls == "QueryCanceled" or "statement timeout" in low or "interrupt" in low:
        return f"query stopped after the statement timeout of {timeout:g}s"
    if cls == "DatatypeMismatch" and "boolean" in low:
        return f"expression is not boolean: {_short(msg)}"
    return f"{cls}: {_short(msg)}" if _short(msg) else cls


def _file_source(location: str, view_name: str, statement_timeout_s: float) -> SourceConn:
    path = Path(location).expanduser()
    kind: str | None
    if path.is_dir():
        kinds = {FILE_SUFFIXES.get(p.suffix.lower()) for p in path.iterdir() if p.is_file()} - {None}
        if not kinds:
            raise SourceError(f"folder {location} holds no CSV or Parquet file")
        kind = "parquet" if "parquet" in kinds else "csv"
        suffixes = [s for s, k in FILE_SUFFIXES.items() if k == kind]
        for p in path.iterdir():  # a file of the folder may be a symlink out of the listed roots
            if p.suffix.lower() in suffixes:
                try:
                    check_local_path(str(p))
                except ValueError as exc:
                    raise SourceError(f"refused: {exc}") from None
        pattern = [str(path / f"*{s}") for s in suffixes if any(path.glob(f"*{s}"))]
    else:
        if not path.exists():
            raise SourceError(f"file {location} does not exist")
        suffix = "".join(path.suffixes[-2:]).lower().removesuffix(".gz") or path.suffix.lower()
        kind = FILE_SUFFIXES.get(Path("x" + suffix).suffix.lower()) if suffix else None
        if kind is None:
            raise SourceError(f"file {location} is neither CSV nor Parquet (by its extension)")
        pattern = [str(path)]
    con = duckdb.connect(":memory:")
    try:
        try:
            con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # ICU extension unavailable: timestamps stay naive, which we read as UTC
            pass
        files = "[" + ", ".join(exp.Literal.string(p).sql(dialect="duckdb") for p in pattern) + "]"
        reader = "read_parquet" if kind == "parquet" else "read_csv_auto"
        view = exp.to_identifier(view_name, quoted=True).sql(dialect="duckdb")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {reader}({files})")
        con.execute(f"SELECT * FROM {view} LIMIT 0")  # surfaces unreadable or malformed files now
    except duckdb.Error as e:
        con.close()
        raise SourceError(f"cannot read {kind.upper()} {location}: {_short(str(e))}") from None
    return SourceConn(
        label=str(path), dialect="duckdb", duck=con, default_table=view_name,
        statement_timeout_s=statement_timeout_s, _host=str(path),
    )


_LOCAL_BACKENDS = ("sqlite", "duckdb")

# -- local paths: which folders file, SQLite and DuckDB sources may read ----------------------------
FILE_ROOTS_SETTING = "TAKEOFF_DATA_FILE_ROOTS"


@dataclass(frozen=True)
class FilePolicy:
    """Folders local sources may read (resolved), and what they never may: the server's data folder and database."""

    roots: tuple[Path, ...] = ()
    refused: tuple[Path, ...] = ()
    database: Path | None = None


def file_policy(roots: str | None, data_dir: Path | str, database_url: str | None = None) -> FilePolicy:
    """The policy of TAKEOFF_DATA_FILE_ROOTS (a comma list of folders; relative ones from the working directory)
    for a server whose data folder and database URL are these."""
    listed = tuple(dict.fromkeys(Path(e.strip()).expanduser().resolve() for e in (roots or "").split(",") if e.strip()))
    database = None
    if database_url:
        try:
            url = sa.make_url(database_url)
        except Exception:
            url = None
        if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = Path(str(url.database).removeprefix("file:")).expanduser().resolve()
    return FilePolicy(listed, (Path(data_dir).expanduser().resolve(),), database)


# This process's file policy: the app configures it; without an app, the settings in the environment.
FILES: ProcessPolicy[FilePolicy] = ProcessPolicy(
    "data files", lambda s: file_policy(s.data_file_roots, s.data_dir, s.database_url))
configure_files = FILES.configure
active_files = FILES.active


def local_path(location: str) -> Path | None:
    """The file or folder a source location names on this machine; None for a network database or in-memory one.
    ValueError for a SQLite/DuckDB `file:` URI (its path could not be checked as written)."""
    text = location.strip()
    if "://" not in text:
        return Path(text).expanduser()
    try:
        url = sa.make_url(text)
    except Exception:
        return None  # not a URL: the caller reports the malformed connection itself
    if url.get_backend_name() not in _LOCAL_BACKENDS:
        return None
    db = url.database or ""
    if db in ("", ":memory:"):
        return None
    if db.startswith("file:"):
        raise ValueError("give a SQLite or DuckDB database as a path (sqlite:///folder/file.db), not a file: URI")
    return Path(db).expanduser()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_local_path(location: str, policy: FilePolicy | None = None) -> None:
    """ValueError unless a local source (file, folder, SQLite or DuckDB database) lies, once symlinks and '..' are
    resolved, inside a listed root and outside the server's data folder and database file."""
    path = local_path(location)
    if path is None:
        return
    policy = policy if policy is not None else active_files()
    real = path.resolve()
    db = policy.database
    if any(_inside(real, folder) for folder in policy.refused) or (
            db is not None and real.parent == db.parent and real.name.startswith(db.name)):
        raise ValueError("the path is the server's own data (its data folder or database file); no source may read it")
    if not policy.roots:
        raise ValueError(f"local sources are refused: {FILE_ROOTS_SETTING} lists no folder they may read")
    if not any(_inside(real, root) for root in policy.roots):
        raise ValueError(f"the path is outside the folders local sources may read ({FILE_ROOTS_SETTING})")


def check_source_host(location: str, policy: netguard.OutboundPolicy | None = None) -> None:
    """Creation-time check of a SQL URL's host without DNS: ValueError for a literal internal address,
    'localhost', an empty host (a local socket) or a host given in the query string."""
    if "://" not in location:
        return
    try:
        url = sa.make_url(location.strip())
    except Exception:
        return  # the caller reports a malformed URL itself
    if url.get_backend_name() in _LOCAL_BACKENDS:
        return
    if {"host", "hostaddr", "unix_socket"} & {k.lower() for k in url.query}:
        raise ValueError("give the data source's host in the URL, not as a host/hostaddr/unix_socket option")
    try:
        netguard.check_host_literal(url.host, policy if policy is not None else netguard.active(), "data source")
    except netguard.OutboundRefused as exc:
        raise ValueError(str(exc)) from None


def _pin_host(url: sa.URL, backend: str, connect_args: dict[str, Any]) -> sa.URL:
    """Resolve and check the URL's host now (netguard) and make the driver connect to that checked address."""
    try:
        check_source_host(url.render_as_string(hide_password=False))
        policy = netguard.active()
        addrs = netguard.resolve_checked(url.host or "localhost", url.port or 0, policy, "data source")
    except (ValueError, netguard.OutboundRefused) as exc:
        raise SourceError(f"refused: {exc}") from None
    except OSError as exc:
        raise SourceError(f"cannot reach host {url.host} ({exc})") from None
    ip = addrs[0][1]
    if backend == "postgresql":
        connect_args["hostaddr"] = ip  # libpq connects here and still verifies TLS against the host name
        return url
    return url.set(host=ip)


def open_source(
    location: str,
    *,
    connect_timeout_s: float = 5.0,
    statement_timeout_s: float = 60.0,
    view_name: str = DEFAULT_VIEW,
) -> SourceConn:
    """Open a SQLAlchemy URL (read-only where the database allows) or a CSV/Parquet path via DuckDB.

    Does not connect yet for SQL URLs: reachability and credential errors surface on first use,
    as `SourceError`, so that one unreachable source becomes failed checks rather than an exception.
    """
    if not isinstance(location, str) or not location.strip():
        raise ValueError("source must be a SQLAlchemy URL or a CSV/Parquet path")
    if not (0 < connect_timeout_s <= 600) or not (0 < statement_timeout_s <= 86400):
        raise ValueError("timeouts must be positive (connect at most 600s)")
    location = location.strip()
    try:
        check_local_path(location)
    except ValueError as exc:
        raise SourceError(f"refused: {exc}") from None
    if "://" not in location:
        return _file_source(location, view_name, statement_timeout_s)
    try:
        url = sa.make_url(location)
    except Exception:
        raise ValueError("source URL is not a valid SQLAlchemy URL (dialect+driver://user:password@host/db)") from None
    backend = url.get_backend_name()
    secret = url.password if isinstance(url.password, str) and url.password else None
    label = url.render_as_string(hide_password=True)
    connect_args: dict[str, Any] = {}
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2}
    host = f"{url.host or 'localhost'}:{url.port or ''}".rstrip(":")
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": max(1, int(connect_timeout_s)),
            "application_name": "takeoff-data-checks",
            # Read-only at the session level too, so even a statement outside our transaction cannot write.
            "options": (
                f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_s * 1000)}"
                " -c TimeZone=UTC"
            ),
        }
        host = f"{url.host or 'localhost'}:{url.port or 5432}"
    elif backend == "sqlite":
        db = url.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            if not Path(db).exists():
                raise SourceError(f"SQLite database file {db} does not exist")
            url = url.set(database=f"file:{db}", query={**url.query, "mode": "ro", "uri": "true"})
        connect_args = {"timeout": connect_timeout_s}
        kwargs = {}
        host = db or ":memory:"
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": max(1, int(connect_timeout_s))}
    if backend not in _LOCAL_BACKENDS:
        url = _pin_host(url, backend, connect_args)
    try:
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    except Exception as e:  # unknown dialect or missing driver
        raise SourceError(f"cannot open {label}: {_short(str(e))}".replace(secret or "\0", "***")) from None
    if backend == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only = ON")

    try:
        sqlglot_dialect(engine.dialect.name)
    except ValueError:
        engine.dispose()
        raise SourceError(f"database type {engine.dialect.name} is not supported (postgresql, sqlite, mysql, duckdb files)") from None
    return SourceConn(
        label=label, dialect=engine.dialect.name, engine=engine,
        statement_timeout_s=statement_timeout_s, _secret=secret, _host=host, _user=url.username or "",
    )
