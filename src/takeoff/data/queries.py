"""Data-source lookups and read views: find a source, its check runs, its connection opened read-only, the context
pipeline's history and the release bundles that name a collection. Writes nothing."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from takeoff.core.errors import NotFound
from takeoff.data import secrets
from takeoff.data.connect import SourceConn, SourceError, open_source
from takeoff.data.models import DataCheckRun, DataSource
from takeoff.releases.models import Release

log = logging.getLogger("takeoff.data")

CHECK_EVERY_S = 900
NEWEST_FIRST = (DataCheckRun.started_at.desc(), DataCheckRun.id.desc())  # a source's runs; ties in time: highest id
MAX_EVIDENCE_AGE_S = 24 * 3600 + 2 * CHECK_EVERY_S
DEFAULT_TIMEOUT_S = 30.0


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
                          .order_by(*NEWEST_FIRST).limit(1))


def latest_run_ids() -> Select[tuple[int | None]]:
    """The id of every source's most recent run (ties in time: the highest id, as `latest_run`), NULL for a source
    never checked: one seek a source on ix_data_check_runs_source_started, however many runs are kept."""
    newest = (select(DataCheckRun.id).where(DataCheckRun.source_id == DataSource.id)
              .order_by(*NEWEST_FIRST).limit(1)
              .correlate(DataSource).scalar_subquery())
    return select(newest).select_from(DataSource)


def latest_runs(session: Session) -> dict[int, DataCheckRun]:
    """Every checked source's most recent run, by source id."""
    return {r.source_id: r for r in session.scalars(select(DataCheckRun).where(DataCheckRun.id.in_(latest_run_ids())))}


def latest_statuses(session: Session) -> dict[int, str]:
    """Every checked source's most recent run's status (pass | breach | error), by source id."""
    rows = session.execute(select(DataCheckRun.source_id, DataCheckRun.status)
                           .where(DataCheckRun.id.in_(latest_run_ids())))
    return {sid: status for sid, status in rows}


def runs(session: Session, name: str, limit: int = 50) -> list[DataCheckRun]:
    """A source's check runs, newest first."""
    src = get(session, name)
    return list(session.scalars(select(DataCheckRun).where(DataCheckRun.source_id == src.id)
                                .order_by(*NEWEST_FIRST).limit(limit)))


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


def declared_table(src: DataSource) -> str:
    return src.table_name or "data"


def connection_of(session: Session, src: DataSource) -> str:
    return secrets.decrypt(secrets.secret_for(session), src.connection_enc)


def open_readonly(session: Session, src: DataSource, timeout_s: float) -> SourceConn:
    """Open the source read-only; SourceError (readable, password-free) on any fault."""
    try:
        location = connection_of(session, src)
    except ValueError as e:
        raise SourceError(str(e)) from None
    try:
        return open_source(location, connect_timeout_s=min(10.0, timeout_s), statement_timeout_s=timeout_s)
    except SourceError:
        raise
    except ValueError as e:
        raise SourceError(str(e)) from None


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
