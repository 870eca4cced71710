"""SLA check runs: run every check of a source inside the source itself, store the run, log the read, publish its
breaches (DataSlaBreached); and the schedule that enqueues one keyed check job per source per interval."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlglot
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.events import DataSlaBreached, publish
from takeoff.data.access import log_access
from takeoff.data.checks import (CheckResult, Completeness, Freshness, Reconciliation, Rule, Schema, parse_checks,
                                 run_checks)
from takeoff.data.connect import SourceConn, SourceError
from takeoff.data.context import context_stats
from takeoff.data.models import DataCheckRun, DataSource
from takeoff.data.queries import (CHECK_EVERY_S, DEFAULT_TIMEOUT_S, connection_of, declared_table, find, get,
                                  open_readonly)
from takeoff.data.validation import check_sql, other_table_refusal
from takeoff.jobs import service as jobs

log = logging.getLogger("takeoff.data")


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
            location = connection_of(session, src)
        except ValueError:
            location = None  # the run below reports the unreadable connection as its error
        if location is not None:
            check_sql(session, src.name, parse_checks(src.checks or []), location, declared_table(src))
    t0 = time.perf_counter()
    results: list[CheckResult] = []
    context: dict[str, Any] | None = None
    conn: SourceConn | None = None
    others: dict[str, SourceConn] = {}
    try:
        conn = open_readonly(session, src, timeout_s)
        table = src.table_name or conn.default_table or ""
        specs = parse_checks(src.checks or [])
        unavailable: dict[str, str] = {}
        refused = {i: r for i, spec in enumerate(specs) if isinstance(spec, Reconciliation)
                   and (r := other_table_refusal(session, src.name, declared_table(src), spec))}
        for i, spec in enumerate(specs):
            if i in refused:
                continue
            if isinstance(spec, Reconciliation) and spec.other_source not in others | unavailable:
                other = find(session, spec.other_source)
                try:
                    if other is None:
                        raise SourceError(f"data source {spec.other_source} is no longer registered")
                    others[spec.other_source] = open_readonly(session, other, timeout_s)
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
