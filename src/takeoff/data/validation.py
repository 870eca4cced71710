"""Validation of a source's registration: its owner, use cases, connection, context settings and checks (their SQL
held to the allow-list and to the source's declared table). Raises Invalid naming the field; writes nothing."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.auth.models import User
from takeoff.core.errors import Invalid
from takeoff.data.checks import Reconciliation, Rule, parse_checks
from takeoff.data.connect import check_local_path, check_source_host
from takeoff.data.queries import connection_of, declared_table, find
from takeoff.data.rules import normalize_measure, normalize_rule
from takeoff.data.schemas import ContextConfig
from takeoff.portfolio import service as portfolio


def check_owner(session: Session, username: str) -> None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or "data_owner" not in (user.roles or []) or not getattr(user, "active", True):
        raise Invalid(f"owner '{username}' must be an active user holding the data_owner role",
                      details=[{"field": "owner", "message": "needs the data_owner role"}])


def check_use_cases(session: Session, keys: Iterable[str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str) or portfolio.find(session, key) is None:
            raise Invalid(f"use case '{key}' does not exist", details=[{"field": "use_cases", "message": "unknown use case"}])
        if key not in out:
            out.append(key)
    return out


def check_specs(session: Session, name: str, raw: list[dict[str, Any]], connection: str | None = None,
                 table: str | None = None) -> list[dict[str, Any]]:
    """Typed, registered-only checks; with the source's connection and table, its SQL is held to the allow-list."""
    try:
        specs = parse_checks(raw)
    except ValueError as e:
        raise Invalid(str(e), details=[{"field": "checks", "message": str(e)}]) from None
    for spec in specs:
        # Only registered sources may be reconciled against: a raw URL here would be a secret stored in clear.
        if isinstance(spec, Reconciliation) and spec.other_source != name and find(session, spec.other_source) is None:
            raise Invalid(f"reconciliation {spec.name}: other_source '{spec.other_source}' is not a registered data source",
                          details=[{"field": "checks", "message": "unknown other_source"}])
    if connection is not None and table is not None:
        check_sql(session, name, specs, connection, table)
    return [s.model_dump(mode="json") for s in specs]


def _dialect_of(connection: str) -> str:
    """The SQL dialect of a connection without connecting: a file path is read through DuckDB."""
    if "://" not in connection:
        return "duckdb"
    try:
        return sa.make_url(connection).get_backend_name()
    except Exception:
        return ""


def other_table_refusal(session: Session, name: str, table: str, spec: Reconciliation) -> str | None:
    """Why a reconciliation may not read its other side, or None: it reads only the other source's declared table."""
    other = None if spec.other_source == name else find(session, spec.other_source)
    declared = table if spec.other_source == name else declared_table(other) if other is not None else None
    if declared is not None and spec.other_table != declared:
        return (f"reconciliation '{spec.name}' reads table {spec.other_table} of source {spec.other_source}, which "
                f"declares table {declared}: a reconciliation reads only the other source's declared table")
    return None


def check_sql(session: Session, name: str, specs: Sequence[Any], connection: str, table: str) -> None:
    """422 naming the check when a rule or measure reads beyond its source's declared table, calls a function off
    the allow-list (rules.ALLOWED_FUNCTIONS) or is not one read-only expression."""
    dialect = _dialect_of(connection)
    for i, spec in enumerate(specs):
        where = f"checks[{i}]"
        try:
            if isinstance(spec, Rule):
                where += ".expression"
                normalize_rule(spec.expression, dialect, table)
            elif isinstance(spec, Reconciliation):
                where += ".measure"
                normalize_measure(spec.measure, dialect, table)
                where = f"checks[{i}].other_table"
                refusal = other_table_refusal(session, name, table, spec)
                if refusal:
                    raise ValueError(refusal)
                other = None if spec.other_source == name else find(session, spec.other_source)
                if spec.other_source != name and other is None:
                    continue  # no longer registered: the run reports it, nothing of it is read
                other_dialect = dialect if other is None else _dialect_of(connection_of(session, other))
                where = f"checks[{i}].other_measure"
                normalize_measure(spec.other_measure or spec.measure, other_dialect, spec.other_table)
        except ValueError as e:
            label = f"rule '{spec.name}'" if isinstance(spec, Rule) else f"reconciliation '{spec.name}'"
            msg = str(e) if str(e).startswith(label) else f"{label} refused: {e}"
            raise Invalid(msg, details=[{"field": where, "message": str(e)}]) from None


def check_connection(connection: str, interface: str) -> str:
    text = connection.strip()
    if "://" in text:
        try:
            sa.make_url(text)
        except Exception:
            raise Invalid("connection is not a valid SQLAlchemy URL (dialect+driver://user:password@host/db)",
                          details=[{"field": "connection", "message": "invalid URL"}]) from None
        if interface == "file":
            raise Invalid("a source with interface 'file' needs a CSV or Parquet path, not a URL",
                          details=[{"field": "connection", "message": "expected a path"}])
        try:
            check_source_host(text)
        except ValueError as exc:
            raise Invalid(str(exc), details=[{"field": "connection", "message": "refused host"}]) from None
    elif interface not in ("file", "lakehouse"):
        raise Invalid(f"interface '{interface}' needs a SQLAlchemy URL; paths are for 'file' or 'lakehouse' sources",
                      details=[{"field": "connection", "message": "expected a URL"}])
    try:  # a file, folder, SQLite or DuckDB database: only inside the folders the operator lists
        check_local_path(text)
    except ValueError as exc:
        raise Invalid(f"connection refused: {exc}", details=[{"field": "connection", "message": str(exc)}]) from None
    return text


def check_context(kind: str, context: ContextConfig | None) -> dict[str, Any]:
    if kind == "collection" and context is None:
        raise Invalid("a document collection needs its context settings (freshness_sla_s and column names)",
                      details=[{"field": "context", "message": "required for collections"}])
    return context.model_dump() if context is not None else {}
