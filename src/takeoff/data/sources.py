"""Registering data sources: create, change, delete, announce a schema change, record the expected schema.

The only writer of the data_sources table; each change is validated (`validation`) and audited in the caller's
transaction, and the connection is stored encrypted (`secrets`)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Invalid
from takeoff.data import secrets
from takeoff.data.access import log_access
from takeoff.data.connect import SourceError
from takeoff.data.models import DataAccessRequest, DataAccessRule, DataCheckRun, DataSource
from takeoff.data.queries import DEFAULT_TIMEOUT_S, connection_of, declared_table, find, get, open_readonly
from takeoff.data.schemas import AnnouncementIn, SourceIn, SourcePatch
from takeoff.data.validation import check_connection, check_context, check_owner, check_specs, check_use_cases


def _snapshot(src: DataSource) -> dict[str, Any]:
    return {"name": src.name, "entity": src.entity, "owner": src.owner, "interface": src.interface, "kind": src.kind,
            "connection": src.connection_redacted, "table": src.table_name, "checks": src.checks,
            "context": src.context, "use_cases": src.use_cases, "conflict_resolution": src.conflict_resolution}


def create_source(session: Session, actor: Actor, data: SourceIn) -> DataSource:
    """Register a source; 422 when the owner lacks data_owner, a use case is unknown or a check is malformed."""
    if find(session, data.name) is not None:
        raise Conflict(f"data source '{data.name}' already exists")
    check_owner(session, data.owner)
    use_cases = check_use_cases(session, data.use_cases)
    connection = check_connection(data.connection, data.interface)
    context = check_context(data.kind, data.context)
    table = data.table.strip() or ("data" if "://" not in connection else "")
    if not table:
        raise Invalid("table is required for a database source", details=[{"field": "table", "message": "required"}])
    checks = check_specs(session, data.name, data.checks, connection, table)
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
        check_owner(session, patch.owner)
    use_cases = check_use_cases(session, patch.use_cases) if patch.use_cases is not None else None
    interface = patch.interface or src.interface
    connection = check_connection(patch.connection, interface) if patch.connection is not None else None
    if patch.interface is not None and patch.connection is None:
        check_connection(secrets.decrypt(secrets.secret_for(session), src.connection_enc), interface)
    checks = None
    if patch.checks is not None or connection is not None or (patch.table is not None and patch.table.strip()):
        # The checks (new or kept) are judged against the connection and table the source will have.
        try:
            effective = connection if connection is not None else connection_of(session, src)
        except ValueError as e:
            raise Invalid(str(e), details=[{"field": "connection", "message": str(e)}]) from None
        table = (patch.table or "").strip() or declared_table(src)
        checks = check_specs(session, name, patch.checks if patch.checks is not None else list(src.checks or []),
                              effective, table)
    if "context" in fields:
        src.context = check_context(src.kind, patch.context)
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
    src.checks = check_specs(session, name, specs)
    src.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "datasource.announce_change", "data_source", name, before, _snapshot(src))
    return src


def baseline_schema(session: Session, actor: Actor, name: str) -> DataSource:
    """Record the table's current columns as the expected schema (adds or replaces the schema check)."""
    src = get(session, name)
    try:
        conn = open_readonly(session, src, DEFAULT_TIMEOUT_S)
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
    src.checks = check_specs(session, name, specs)
    src.updated_at = utcnow()
    session.flush()
    log_access(session, actor, name, "schema", ["(schema)"], "record the expected schema")
    audit.record(session, actor, "datasource.schema_baseline", "data_source", name, before, _snapshot(src))
    return src
