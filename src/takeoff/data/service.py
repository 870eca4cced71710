"""Data-foundation operations: sources of truth, SLA check runs, access rules/grants and the access log.

The only writer of the data_* tables. Checks run through the engine (`checks`, `context`) inside the
source itself; every read takeoff performs on a source is written to the access log.
"""
from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.permissions import ROLES
from takeoff.data import secrets
from takeoff.data.checks import (
    CheckResult,
    Completeness,
    Freshness,
    Reconciliation,
    Rule,
    Schema,
    parse_checks,
    run_checks,
)
from takeoff.data.connect import SourceConn, SourceError, check_local_path, check_source_host, open_source
from takeoff.data.context import context_stats
from takeoff.data.evidence import DEFAULT_REQUIRED_KINDS, Evidence, LatestCheck, SourceFacts, data_quality_evidence
from takeoff.data.models import DataAccessLog, DataAccessRequest, DataAccessRule, DataCheckRun, DataSource
from takeoff.data.rules import normalize_measure, normalize_rule
from takeoff.data.schemas import AccessRequestIn, AccessRuleIn, AnnouncementIn, ContextConfig, SourceIn, SourcePatch
from takeoff.core.db import paginate, utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.core.events import DataSlaBreached, publish
from takeoff.jobs import service as jobs
from takeoff.portfolio import service as portfolio
from takeoff.releases.models import Release

log = logging.getLogger("takeoff.data")

CHECK_EVERY_S = 900
MAX_EVIDENCE_AGE_S = 24 * 3600 + 2 * CHECK_EVERY_S
DEFAULT_TIMEOUT_S = 30.0
PREVIEW_MAX_ROWS = 1000


# -- lookups ---------------------------------------------------------------------------------------
def find(session: Session, name: str) -> DataSource | None:
    """The source with this name, or None."""
    return session.scalar(select(DataSource).where(DataSource.name == name))


def get(session: Session, name: str) -> DataSource:
    """The source with this name, or 404."""
    src = find(session, name)
    if src is None:
        raise NotFound(f"data source '{name}' not found")
    return src


def list_sources(session: Session, use_case_key: str | None = None) -> list[DataSource]:
    """Every source by name, optionally only those a use case depends on."""
    rows = list(session.scalars(select(DataSource).order_by(DataSource.name)))
    if use_case_key:
        rows = [s for s in rows if use_case_key in (s.use_cases or [])]
    return rows


def latest_run(session: Session, source_id: int) -> DataCheckRun | None:
    """The most recent check run of a source."""
    return session.scalar(select(DataCheckRun).where(DataCheckRun.source_id == source_id)
                          .order_by(DataCheckRun.started_at.desc(), DataCheckRun.id.desc()).limit(1))


def runs(session: Session, name: str, limit: int = 50) -> list[DataCheckRun]:
    """A source's check runs, newest first."""
    src = get(session, name)
    return list(session.scalars(select(DataCheckRun).where(DataCheckRun.source_id == src.id)
                                .order_by(DataCheckRun.started_at.desc(), DataCheckRun.id.desc()).limit(limit)))


def run_view(run: DataCheckRun) -> dict[str, Any]:
    """A check run as JSON."""
    return {"id": run.id, "status": run.status, "trigger": run.trigger, "actor": run.actor,
            "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat(),
            "duration_ms": run.duration_ms, "results": run.results, "context": run.context,
            "incidents": run.incidents}


def source_view(session: Session, src: DataSource, *, with_latest: bool = True) -> dict[str, Any]:
    """A source as JSON: never the connection itself, only its redacted form (scheme + host)."""
    out: dict[str, Any] = {
        "name": src.name, "entity": src.entity, "owner": src.owner, "interface": src.interface, "kind": src.kind,
        "connection": src.connection_redacted, "table": src.table_name, "checks": src.checks,
        "context": src.context or None, "use_cases": list(src.use_cases or []),
        "conflict_resolution": src.conflict_resolution, "description": src.description,
        "created_at": src.created_at.isoformat(), "updated_at": src.updated_at.isoformat(),
    }
    if with_latest:
        run = latest_run(session, src.id)
        out["latest_run"] = run_view(run) if run else None
        out["status"] = run.status if run else "unchecked"
    return out


# -- validation ------------------------------------------------------------------------------------
def _check_owner(session: Session, username: str) -> None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or "data_owner" not in (user.roles or []) or not getattr(user, "active", True):
        raise Invalid(f"owner '{username}' must be an active user holding the data_owner role",
                      details=[{"field": "owner", "message": "needs the data_owner role"}])


def _check_use_cases(session: Session, keys: Iterable[str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str) or portfolio.find(session, key) is None:
            raise Invalid(f"use case '{key}' does not exist", details=[{"field": "use_cases", "message": "unknown use case"}])
        if key not in out:
            out.append(key)
    return out


def _check_specs(session: Session, name: str, raw: list[dict[str, Any]], connection: str | None = None,
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
        _check_sql(session, name, specs, connection, table)
    return [s.model_dump(mode="json") for s in specs]


def _dialect_of(connection: str) -> str:
    """The SQL dialect of a connection without connecting: a file path is read through DuckDB."""
    if "://" not in connection:
        return "duckdb"
    try:
        return sa.make_url(connection).get_backend_name()
    except Exception:
        return ""


def _declared_table(src: DataSource) -> str:
    return src.table_name or "data"


def _other_table_refusal(session: Session, name: str, table: str, spec: Reconciliation) -> str | None:
    """Why a reconciliation may not read its other side, or None: it reads only the other source's declared table."""
    other = None if spec.other_source == name else find(session, spec.other_source)
    declared = table if spec.other_source == name else _declared_table(other) if other is not None else None
    if declared is not None and spec.other_table != declared:
        return (f"reconciliation '{spec.name}' reads table {spec.other_table} of source {spec.other_source}, which "
                f"declares table {declared}: a reconciliation reads only the other source's declared table")
    return None


def _check_sql(session: Session, name: str, specs: Sequence[Any], connection: str, table: str) -> None:
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
                refusal = _other_table_refusal(session, name, table, spec)
                if refusal:
                    raise ValueError(refusal)
                other = None if spec.other_source == name else find(session, spec.other_source)
                if spec.other_source != name and other is None:
                    continue  # no longer registered: the run reports it, nothing of it is read
                other_dialect = dialect if other is None else _dialect_of(_connection(session, other))
                where = f"checks[{i}].other_measure"
                normalize_measure(spec.other_measure or spec.measure, other_dialect, spec.other_table)
        except ValueError as e:
            label = f"rule '{spec.name}'" if isinstance(spec, Rule) else f"reconciliation '{spec.name}'"
            msg = str(e) if str(e).startswith(label) else f"{label} refused: {e}"
            raise Invalid(msg, details=[{"field": where, "message": str(e)}]) from None


def _check_connection(connection: str, interface: str) -> str:
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


def _check_context(kind: str, context: ContextConfig | None) -> dict[str, Any]:
    if kind == "collection" and context is None:
        raise Invalid("a document collection needs its context settings (freshness_sla_s and column names)",
                      details=[{"field": "context", "message": "required for collections"}])
    return context.model_dump() if context is not None else {}


def _snapshot(src: DataSource) -> dict[str, Any]:
    return {"name": src.name, "entity": src.entity, "owner": src.owner, "interface": src.interface, "kind": src.kind,
            "connection": src.connection_redacted, "table": src.table_name, "checks": src.checks,
            "context": src.context, "use_cases": src.use_cases, "conflict_resolution": src.conflict_resolution}


# -- sources ---------------------------------------------------------------------------------------
def create_source(session: Session, actor: Actor, data: SourceIn) -> DataSource:
    """Register a source; 422 when the owner lacks data_owner, a use case is unknown or a check is malformed."""
    if find(session, data.name) is not None:
        raise Conflict(f"data source '{data.name}' already exists")
    _check_owner(session, data.owner)
    use_cases = _check_use_cases(session, data.use_cases)
    connection = _check_connection(data.connection, data.interface)
    context = _check_context(data.kind, data.context)
    table = data.table.strip() or ("data" if "://" not in connection else "")
    if not table:
        raise Invalid("table is required for a database source", details=[{"field": "table", "message": "required"}])
    checks = _check_specs(session, data.name, data.checks, connection, table)
    src = DataSource(
        name=data.name, entity=data.entity.strip(), owner=data.owner, interface=data.interface, kind=data.kind,
        connection_enc=secrets.encrypt(secrets.secret_for(session), connection),
        connection_redacted=secrets.redact(connection), table_name=table, checks=checks, context=context,
        use_cases=use_cases, conflict_resolution=data.conflict_resolution, description=data.description,
    )
    session.add(src)
    session.flush()
    audit.record(session, actor, "datasource.create", "data_source", src.name, None, _snapshot(src))
    return src


def update_source(session: Session, actor: Actor, name: str, patch: SourcePatch) -> DataSource:
    """Change a source; the same validation as registering it."""
    src = get(session, name)
    before = _snapshot(src)
    fields = patch.model_dump(exclude_unset=True)
    if patch.owner is not None:
        _check_owner(session, patch.owner)
    use_cases = _check_use_cases(session, patch.use_cases) if patch.use_cases is not None else None
    interface = patch.interface or src.interface
    connection = _check_connection(patch.connection, interface) if patch.connection is not None else None
    if patch.interface is not None and patch.connection is None:
        _check_connection(secrets.decrypt(secrets.secret_for(session), src.connection_enc), interface)
    checks = None
    if patch.checks is not None or connection is not None or (patch.table is not None and patch.table.strip()):
        # The checks (new or kept) are judged against the connection and table the source will have.
        try:
            effective = connection if connection is not None else _connection(session, src)
        except ValueError as e:
            raise Invalid(str(e), details=[{"field": "connection", "message": str(e)}]) from None
        table = (patch.table or "").strip() or _declared_table(src)
        checks = _check_specs(session, name, patch.checks if patch.checks is not None else list(src.checks or []),
                              effective, table)
    if "context" in fields:
        src.context = _check_context(src.kind, patch.context)
    for attr in ("entity", "owner", "interface", "conflict_resolution", "description"):
        if fields.get(attr) is not None:
            setattr(src, attr, fields[attr])
    if patch.table is not None and patch.table.strip():
        src.table_name = patch.table.strip()
    if use_cases is not None:
        src.use_cases = use_cases
    if checks is not None:
        src.checks = checks
    if connection is not None:
        src.connection_enc = secrets.encrypt(secrets.secret_for(session), connection)
        src.connection_redacted = secrets.redact(connection)
    src.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "datasource.update", "data_source", src.name, before, _snapshot(src))
    return src


def delete_source(session: Session, actor: Actor, name: str) -> None:
    """Remove a source with its runs, rules and requests (the access log keeps its lines)."""
    src = get(session, name)
    before = _snapshot(src)
    for model in (DataCheckRun, DataAccessRule, DataAccessRequest):
        session.execute(sa.delete(model).where(model.source_id == src.id))
    session.delete(src)
    session.flush()
    audit.record(session, actor, "datasource.delete", "data_source", name, before, None)


def announce_change(session: Session, actor: Actor, name: str, data: AnnouncementIn) -> DataSource:
    """Record a schema change announced ahead: from its date on, the schema check does not alert for it."""
    src = get(session, name)
    before = _snapshot(src)
    specs = [dict(s) for s in src.checks or []]
    idx = [i for i, s in enumerate(specs) if s.get("kind") == "schema"]
    if not idx:
        raise Invalid(f"data source '{name}' has no schema check to announce a change to",
                      details=[{"field": "checks", "message": "add a schema check first"}])
    for i in idx:
        specs[i]["announced_changes"] = [*(specs[i].get("announced_changes") or []), data.model_dump(mode="json")]
    src.checks = _check_specs(session, name, specs)
    src.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "datasource.announce_change", "data_source", name, before, _snapshot(src))
    return src


def baseline_schema(session: Session, actor: Actor, name: str) -> DataSource:
    """Record the table's current columns as the expected schema (adds or replaces the schema check)."""
    src = get(session, name)
    try:
        conn = _open(session, src, DEFAULT_TIMEOUT_S)
    except SourceError as e:
        raise Invalid(f"cannot read the schema of {name}: {e.reason}") from None
    try:
        columns = conn.columns(src.table_name or conn.default_table or "")
    except SourceError as e:
        raise Invalid(f"cannot read the schema of {name}: {e.reason}") from None
    finally:
        conn.close()
    before = _snapshot(src)
    specs = [dict(c) for c in src.checks or [] if c.get("kind") != "schema"]
    specs.append({"kind": "schema", "expected_columns": [list(c) for c in columns]})
    src.checks = _check_specs(session, name, specs)
    src.updated_at = utcnow()
    session.flush()
    log_access(session, actor, name, "schema", ["(schema)"], "record the expected schema")
    audit.record(session, actor, "datasource.schema_baseline", "data_source", name, before, _snapshot(src))
    return src


# -- opening a source ------------------------------------------------------------------------------
def _connection(session: Session, src: DataSource) -> str:
    return secrets.decrypt(secrets.secret_for(session), src.connection_enc)


def _open(session: Session, src: DataSource, timeout_s: float) -> SourceConn:
    """Open the source read-only; SourceError (readable, password-free) on any fault."""
    try:
        location = _connection(session, src)
    except ValueError as e:
        raise SourceError(str(e)) from None
    try:
        return open_source(location, connect_timeout_s=min(10.0, timeout_s), statement_timeout_s=timeout_s)
    except SourceError:
        raise
    except ValueError as e:
        raise SourceError(str(e)) from None


def _referenced_fields(src: DataSource, dialect: str = "") -> list[str]:
    """Columns the checks read, for the access log."""
    out: list[str] = []
    for raw in src.checks or []:
        kind = raw.get("kind")
        if kind == "freshness":
            out.append(raw["column"])
        elif kind == "completeness":
            out.extend(raw.get("fields", {}))
        elif kind in ("rule", "reconciliation"):
            text = raw.get("expression") or raw.get("measure") or ""
            try:
                out.extend(c.name for c in sqlglot.parse_one(text).find_all(exp.Column))
            except Exception:  # an unparsable rule reads nothing: it is refused before running
                pass
        elif kind == "schema":
            out.append("(schema)")
    if src.kind == "collection" and src.context:
        out.extend([src.context["id_column"], src.context["updated_column"], src.context["labels_column"]])
    return list(dict.fromkeys(out))


# -- check runs ------------------------------------------------------------------------------------
def _worst(statuses: Iterable[str]) -> str:
    seen = set(statuses)
    return "error" if "error" in seen else "breach" if "breach" in seen else "pass"


def run_check(session: Session, actor: Actor, name: str, *, trigger: str = "manual", now: datetime | None = None,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> DataCheckRun:
    """Run every SLA check of a source now and store the run; source faults become `error` results, never exceptions.

    Checks datasource.check itself: the scheduled job calls it too (as its admin scheduler actor)."""
    actor.require("datasource.check")
    src = get(session, name)
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if trigger == "manual":
        # A rule that reads beyond its table is the caller's to fix: 422 naming it, and nothing runs or is stored.
        # (Scheduled runs record the same refusal as an error result.)
        try:
            location = _connection(session, src)
        except ValueError:
            location = None  # the run below reports the unreadable connection as its error
        if location is not None:
            _check_sql(session, src.name, parse_checks(src.checks or []), location, _declared_table(src))
    t0 = time.perf_counter()
    results: list[CheckResult] = []
    context: dict[str, Any] | None = None
    conn: SourceConn | None = None
    others: dict[str, SourceConn] = {}
    try:
        conn = _open(session, src, timeout_s)
        table = src.table_name or conn.default_table or ""
        specs = parse_checks(src.checks or [])
        unavailable: dict[str, str] = {}
        refused = {i: r for i, spec in enumerate(specs) if isinstance(spec, Reconciliation)
                   and (r := _other_table_refusal(session, src.name, _declared_table(src), spec))}
        for i, spec in enumerate(specs):
            if i in refused:
                continue
            if isinstance(spec, Reconciliation) and spec.other_source not in others | unavailable:
                other = find(session, spec.other_source)
                try:
                    if other is None:
                        raise SourceError(f"data source {spec.other_source} is no longer registered")
                    others[spec.other_source] = _open(session, other, timeout_s)
                except SourceError as e:
                    unavailable[spec.other_source] = f"other side {spec.other_source}: {e.reason}"
        # The engine would open an unknown other_source as a URL/path itself: never let it, answer here instead.
        runnable = [s for i, s in enumerate(specs) if i not in refused
                    and not (isinstance(s, Reconciliation) and s.other_source in unavailable)]
        ran = iter(run_checks(conn, table, runnable, now, others=others) if runnable else [])
        for i, spec in enumerate(specs):
            if i in refused:
                results.append(CheckResult(kind="reconciliation", name=spec.name, status="error",
                                           reason=f"refused: {refused[i]}"))
            elif isinstance(spec, Reconciliation) and spec.other_source in unavailable:
                results.append(CheckResult(kind="reconciliation", name=spec.name, status="error",
                                           reason=unavailable[spec.other_source]))
            else:
                n = len(spec.fields) if isinstance(spec, Completeness) else 1
                results.extend(next(ran) for _ in range(n))
        if src.kind == "collection" and src.context:
            cfg = src.context
            stats = context_stats(conn, table, now=now, freshness_sla_s=float(cfg["freshness_sla_s"]),
                                  id_column=cfg["id_column"], updated_column=cfg["updated_column"],
                                  labels_column=cfg["labels_column"], max_stale_share=float(cfg["max_stale_share"]),
                                  max_unlabeled=int(cfg["max_unlabeled"]))
            context = {k: getattr(stats, k) for k in stats.__dataclass_fields__}
    except SourceError as e:
        results = _all_errors(src, e.reason)
        if src.kind == "collection":
            context = {"status": "error", "reason": e.reason}
    except Exception as e:  # never let one source crash the worker or the server
        log.exception("data check of %s failed", name)
        reason = f"check could not run: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        results = _all_errors(src, reason)
        if src.kind == "collection":
            context = {"status": "error", "reason": reason}
    finally:
        for c in [conn, *others.values()]:
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
    statuses = [r.status for r in results] + ([context["status"]] if context else [])
    run = DataCheckRun(source_id=src.id, trigger=trigger, actor=actor.username, status=_worst(statuses) if statuses else "error",
                       results=[r.model_dump(mode="json") for r in results], context=context,
                       duration_ms=round((time.perf_counter() - t0) * 1000, 3), started_at=now, finished_at=utcnow())
    if not statuses:
        run.results = [{"kind": "none", "name": "none", "status": "error", "observed": {}, "threshold": {},
                        "reason": "no SLA check is defined for this source", "duration_ms": 0.0}]
    session.add(run)
    session.flush()
    log_access(session, actor, src.name, "check", _referenced_fields(src), f"{trigger} SLA check run {run.id}")
    run.incidents = _raise_incidents(session, actor, src, run)
    session.flush()
    return run


def _all_errors(src: DataSource, reason: str) -> list[CheckResult]:
    out: list[CheckResult] = []
    try:
        specs = parse_checks(src.checks or [])
    except ValueError:
        specs = []
    for spec in specs:
        if isinstance(spec, Freshness):
            out.append(CheckResult(kind="freshness", name=spec.column, status="error", reason=reason))
        elif isinstance(spec, Completeness):
            out.extend(CheckResult(kind="completeness", name=f, status="error", reason=reason) for f in spec.fields)
        elif isinstance(spec, Schema):
            out.append(CheckResult(kind="schema", name="schema", status="error", reason=reason))
        elif isinstance(spec, (Rule, Reconciliation)):
            out.append(CheckResult(kind=spec.kind, name=spec.name, status="error", reason=reason))
    return out


def _raise_incidents(session: Session, actor: Actor, src: DataSource, run: DataCheckRun) -> list[Any]:
    """Publish the run's breaches: monitoring notifies the dependent use cases, incidents opens one per breach."""
    breaches = [r for r in run.results if r.get("status") == "breach"]
    if run.context and run.context.get("status") == "breach":
        breaches.append({"kind": "context", "name": "context", "reason": run.context.get("reason", "")})
    if not breaches or not src.use_cases:
        return []
    answers = publish(session, DataSlaBreached(actor=actor, source=src.name, run_id=run.id, status=run.status,
                                               use_cases=tuple(src.use_cases), breaches=tuple(breaches),
                                               detected_at=run.started_at))
    return [incident_id for ids in answers for incident_id in ids]


def enqueue_due_checks(session: Session, now: datetime | None = None, every_s: int = CHECK_EVERY_S) -> int:
    """Enqueue one check job per source for this interval; the job key makes concurrent workers agree."""
    now = now or utcnow()
    slot = int(now.timestamp()) // every_s
    n = 0
    for name in session.scalars(select(DataSource.name).order_by(DataSource.name)):
        jobs.enqueue(session, "data.check", {"source": name}, key=f"data.check:{name}:{slot}", priority=150, max_attempts=2)
        n += 1
    return n


# -- readiness evidence ----------------------------------------------------------------------------
def sources_for_use_case(session: Session, use_case_key: str) -> list[SourceFacts]:
    """Facts about every source the use case depends on (owner, defined check kinds, latest results)."""
    if not isinstance(use_case_key, str) or not use_case_key:
        raise ValueError("use_case_key must be a non-empty string")
    out: list[SourceFacts] = []
    for src in list_sources(session, use_case_key):
        kinds = {str(c.get("kind")) for c in src.checks or []}
        if src.kind == "collection" and src.context:
            kinds.add("context")
        required = frozenset({"context"}) if src.kind == "collection" else DEFAULT_REQUIRED_KINDS
        latest: list[LatestCheck] = []
        run = latest_run(session, src.id)
        if run is not None:
            for r in run.results or []:
                status = r.get("status") if r.get("status") in ("pass", "breach", "error") else "error"
                kind = r.get("kind") if r.get("kind") in _KINDS else "rule"
                latest.append(LatestCheck(kind=kind, name=str(r.get("name")), status=status,
                                          checked_at=run.started_at, reason=str(r.get("reason", ""))))
            if run.context:
                status = run.context.get("status") if run.context.get("status") in ("pass", "breach", "error") else "error"
                latest.append(LatestCheck(kind="context", name="context", status=status, checked_at=run.started_at,
                                          reason=str(run.context.get("reason", ""))))
        out.append(SourceFacts(name=src.name, owner=src.owner, defined_kinds=tuple(sorted(kinds & _KINDS)),
                               required_kinds=required, latest=tuple(latest)))
    return out


_KINDS = frozenset({"freshness", "completeness", "rule", "reconciliation", "schema", "context"})


def readiness_evidence(session: Session, use_case_key: str, now: datetime | None = None) -> Evidence:
    """The readiness item "Data quality" for a use case; a latest check over a day old is stale evidence."""
    return data_quality_evidence(sources_for_use_case(session, use_case_key), now=now or utcnow(),
                                 max_check_age_s=float(MAX_EVIDENCE_AGE_S))


# -- access rules, requests and grants -------------------------------------------------------------
def access_rules(session: Session, name: str) -> list[DataAccessRule]:
    """A source's access rules by field."""
    src = get(session, name)
    return list(session.scalars(select(DataAccessRule).where(DataAccessRule.source_id == src.id).order_by(DataAccessRule.field)))


def rule_view(r: DataAccessRule) -> dict[str, Any]:
    return {"field": r.field, "roles": list(r.roles or []), "sensitive": r.sensitive}


def set_access_rules(session: Session, actor: Actor, name: str, rules: Sequence[AccessRuleIn]) -> list[DataAccessRule]:
    """Replace a source's access rules (least privilege: a field with no rule is readable by its owner only)."""
    src = get(session, name)
    seen: set[str] = set()
    for r in rules:
        if r.field in seen:
            raise Invalid(f"field '{r.field}' has two rules", details=[{"field": "rules", "message": "duplicate field"}])
        seen.add(r.field)
        bad = [role for role in r.roles if role not in ROLES]
        if bad:
            raise Invalid(f"unknown role '{bad[0]}'; known roles: {', '.join(ROLES)}",
                          details=[{"field": "rules", "message": "unknown role"}])
    old = access_rules(session, name)
    before = {"rules": [rule_view(r) for r in old]}
    for r in old:
        session.delete(r)
    session.flush()
    new = [DataAccessRule(source_id=src.id, field=r.field, roles=list(dict.fromkeys(r.roles)), sensitive=r.sensitive)
           for r in rules]
    session.add_all(new)
    session.flush()
    audit.record(session, actor, "datasource.access_rules", "data_source", name, before,
                 {"rules": [rule_view(r) for r in new]})
    return sorted(new, key=lambda r: r.field)


def request_view(r: DataAccessRequest, source: str) -> dict[str, Any]:
    now = utcnow()
    state = r.status
    if r.status == "approved" and r.expires_at is not None and r.expires_at <= now:
        state = "expired"
    return {"id": r.id, "source": source, "requester": r.requester, "fields": list(r.fields or []), "reason": r.reason,
            "hours": r.hours, "status": state, "decided_by": r.decided_by, "decision_note": r.decision_note,
            "requested_at": r.requested_at.isoformat(), "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None}


def request_access(session: Session, actor: Actor, name: str, data: AccessRequestIn) -> DataAccessRequest:
    """Ask for time-limited access to sensitive fields of a source."""
    src = get(session, name)
    sensitive = {r.field for r in access_rules(session, name) if r.sensitive}
    not_sensitive = [f for f in data.fields if f not in sensitive]
    if not_sensitive:
        raise Invalid(f"field '{not_sensitive[0]}' is not a sensitive field of {name}: no approval is needed or possible",
                      details=[{"field": "fields", "message": "not sensitive"}])
    req = DataAccessRequest(source_id=src.id, requester=actor.username, fields=list(dict.fromkeys(data.fields)),
                            reason=data.reason.strip(), hours=data.hours)
    session.add(req)
    session.flush()
    audit.record(session, actor, "access.request", "data_access_request", req.id, None, request_view(req, name))
    return req


def list_requests(session: Session, name: str | None = None, status: str | None = None) -> list[tuple[DataAccessRequest, str]]:
    """Access requests (with their source name), newest first."""
    q = select(DataAccessRequest, DataSource.name).join(DataSource, DataSource.id == DataAccessRequest.source_id)
    if name:
        q = q.where(DataSource.name == name)
    if status:
        q = q.where(DataAccessRequest.status == status)
    return [(r, n) for r, n in session.execute(q.order_by(DataAccessRequest.id.desc()).limit(500))]


def decide_request(session: Session, actor: Actor, request_id: int, approve: bool, note: str = "") -> tuple[DataAccessRequest, str]:
    """Approve (a grant until now + hours) or reject; the approver holds data_owner and is not the requester."""
    row = session.execute(select(DataAccessRequest, DataSource.name).join(DataSource, DataSource.id == DataAccessRequest.source_id)
                          .where(DataAccessRequest.id == request_id)).first()
    if row is None:
        raise NotFound(f"access request {request_id} not found")
    req, name = row
    if "data_owner" not in actor.roles and "admin" not in actor.roles:
        raise Forbidden("approving access to sensitive fields needs the data_owner role", code="permission_denied",
                        details=[{"permission": "access.approve"}])
    if req.requester == actor.username:
        raise Forbidden("you cannot approve your own access request", code="permission_denied")
    if req.status != "pending":
        raise Conflict(f"access request {request_id} is already {req.status}")
    before = request_view(req, name)
    now = utcnow()
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_note = actor.username, now, note
    req.expires_at = now + timedelta(hours=req.hours) if approve else None
    session.flush()
    audit.record(session, actor, "access.approve" if approve else "access.reject", "data_access_request", req.id,
                 before, request_view(req, name))
    return req, name


def readable_fields(session: Session, actor: Actor, src: DataSource, now: datetime | None = None) -> dict[str, str]:
    """field → why this actor may read it; fields absent are not readable (no rule, role, or live grant)."""
    now = now or utcnow()
    rules = {r.field: r for r in session.scalars(select(DataAccessRule).where(DataAccessRule.source_id == src.id))}
    grants: set[str] = set()
    for req in session.scalars(select(DataAccessRequest).where(
            DataAccessRequest.source_id == src.id, DataAccessRequest.requester == actor.username,
            DataAccessRequest.status == "approved")):
        if req.expires_at is not None and req.expires_at > now:
            grants.update(req.fields or [])
    out: dict[str, str] = {}
    for field, rule in rules.items():
        if actor.username == src.owner:
            out[field] = "owner"
        elif not (set(rule.roles or []) & set(actor.roles)) and "admin" not in actor.roles:
            continue
        elif rule.sensitive:
            if field in grants:
                out[field] = "grant"
        else:
            out[field] = "role"
    return out


def preview(session: Session, actor: Actor, name: str, fields: Sequence[str], reason: str, limit: int = 20,
            *, action: str = "preview") -> dict[str, Any]:
    """Read up to `limit` rows of permitted fields (logged with the reason); 403 naming a field not permitted."""
    src = get(session, name)
    if not reason or not reason.strip():
        raise Invalid("say why you read this data (reason)", details=[{"field": "reason", "message": "required"}])
    if not fields:
        raise Invalid("name the fields to read", details=[{"field": "fields", "message": "required"}])
    if not (1 <= limit <= PREVIEW_MAX_ROWS):
        raise Invalid(f"limit must be between 1 and {PREVIEW_MAX_ROWS}", details=[{"field": "limit", "message": "out of range"}])
    allowed = readable_fields(session, actor, src)
    denied = [f for f in fields if f not in allowed]
    if denied:
        raise Forbidden(f"you may not read field '{denied[0]}' of {name}: it needs a role rule"
                        + (" and an approved grant" if denied[0] in {r.field for r in access_rules(session, name) if r.sensitive}
                           else ""), code="field_denied", details=[{"field": denied[0]}])
    try:
        conn = _open(session, src, DEFAULT_TIMEOUT_S)
    except SourceError as e:
        raise Invalid(f"cannot read {name}: {e.reason}") from None
    try:
        table = src.table_name or conn.default_table or ""
        cols = ", ".join(conn.quote(f) for f in fields)
        sql = f"SELECT {cols} FROM {conn.quote_table(table)} LIMIT {int(limit)}"
        rows = _fetch(conn, sql, table)
    except SourceError as e:
        raise Invalid(f"cannot read {name}: {e.reason}") from None
    finally:
        conn.close()
    log_access(session, actor, name, action, list(fields), reason.strip(), rows=len(rows))
    return {"source": name, "fields": list(fields), "rows": [[_jsonable(v) for v in r] for r in rows]}


def _fetch(conn: SourceConn, sql: str, table: str) -> list[tuple[Any, ...]]:
    try:
        if conn.duck is not None:
            cur = conn.duck.cursor()
            try:
                return [tuple(r) for r in cur.execute(sql).fetchall()]
            finally:
                cur.close()
        assert conn.engine is not None
        with conn.engine.connect() as c:
            trans = c.begin()
            try:
                if conn.dialect == "postgresql":
                    c.exec_driver_sql("SET TRANSACTION READ ONLY")
                return [tuple(r) for r in c.execute(sa.text(sql))]
            finally:
                trans.rollback()
    except Exception as e:
        raise SourceError(conn.reason_for(e, table)) from None


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return str(v)


def export_csv(session: Session, actor: Actor, name: str, fields: Sequence[str], reason: str, limit: int = PREVIEW_MAX_ROWS) -> str:
    """Permitted fields as CSV (logged as an export)."""
    data = preview(session, actor, name, fields, reason, limit, action="export")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(data["fields"])
    w.writerows(data["rows"])
    return buf.getvalue()


# -- access log ------------------------------------------------------------------------------------
def log_access(session: Session, actor: Actor | str, source: str, action: str, fields: Sequence[str], reason: str,
               rows: int | None = None) -> DataAccessLog:
    """Append one line to the access log in the caller's transaction."""
    who = actor.username if isinstance(actor, Actor) else str(actor)
    entry = DataAccessLog(actor=who, source=source, action=action, fields=list(fields), reason=reason, rows=rows, at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def access_log(session: Session, *, actor: str | None = None, source: str | None = None, action: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[DataAccessLog], int]:
    """Access-log lines newest first, filtered, with the total count."""
    if limit < 1 or limit > 10_000 or offset < 0:
        raise Invalid("limit must be 1..10000 and offset >= 0")
    since, until = (_aware(d) for d in (since, until))
    q = select(DataAccessLog)
    if actor:
        q = q.where(DataAccessLog.actor == actor)
    if source:
        q = q.where(DataAccessLog.source == source)
    if action:
        q = q.where(DataAccessLog.action == action)
    if since:
        q = q.where(DataAccessLog.at >= since)
    if until:
        q = q.where(DataAccessLog.at < until)
    return paginate(session, q, DataAccessLog.id.desc(), limit, offset)


def _aware(value: datetime | None) -> datetime | None:
    # A date typed without a zone means UTC, the zone every page shows.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def log_view(e: DataAccessLog) -> dict[str, Any]:
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "source": e.source, "action": e.action,
            "fields": list(e.fields or []), "reason": e.reason, "rows": e.rows}


def access_log_csv(session: Session, **filters: Any) -> str:
    """The filtered access log as CSV (up to 10 000 lines)."""
    rows, _ = access_log(session, limit=10_000, **filters)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["at", "actor", "source", "action", "fields", "reason", "rows"])
    for e in rows:
        w.writerow([e.at.isoformat(), e.actor, e.source, e.action, " ".join(e.fields or []), e.reason,
                    "" if e.rows is None else e.rows])
    return buf.getvalue()


# -- context pipeline ------------------------------------------------------------------------------
def context_history(session: Session, name: str, limit: int = 30) -> list[dict[str, Any]]:
    """Stored context-pipeline figures of a collection, oldest first (for the chart)."""
    out = [{"at": r.started_at.isoformat(), **(r.context or {})} for r in runs(session, name, limit) if r.context]
    return list(reversed(out))


def bundles_referencing(session: Session, name: str) -> list[str]:
    """Release ids ("uc:version") whose bundle's retrieval configuration names this collection (any string value equal
    to the name, e.g. {"collection": "kb"} or {"collections": ["kb"]})."""
    out: list[str] = []
    try:
        with session.begin_nested():
            for rel in session.scalars(select(Release).order_by(Release.use_case_key, Release.version)):
                retrieval = (getattr(rel, "bundle", None) or {}).get("retrieval") or {}
                if name in _strings(retrieval):
                    out.append(f"{rel.use_case_key}:{rel.version}")
    except Exception:  # a releases schema we do not know: no reference rather than a broken page
        log.exception("could not read release bundles")
        return []
    return out


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()
