"""How monitoring reacts to same-floor facts: incidents and data SLA breaches notify the use case's channels."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from takeoff.core.events import (BUDGET_FALLBACK, DataSlaBreached, GateJudged, IncidentOpened, IncidentResolved, provide,
                                 subscribe)
from takeoff.evals.models import EvalRun
from takeoff.monitoring import budgets, notifications
from takeoff.releases import approvals as release_approvals, queries as release_queries

log = logging.getLogger("takeoff.monitoring")


def on_incident_opened(session: Session, ev: IncidentOpened) -> None:
    """Queue the incident.opened webhooks of the use case's channels."""
    notifications.notify(session, ev.use_case_key, "incident.opened", ev.payload)


def on_incident_resolved(session: Session, ev: IncidentResolved) -> None:
    """Queue the incident.resolved webhooks of the use case's channels."""
    notifications.notify(session, ev.use_case_key, "incident.resolved", ev.payload)


def on_data_sla_breached(session: Session, ev: DataSlaBreached) -> None:
    """Tell each dependent use case's channels (a failed notification never blocks the breach or its incidents)."""
    payload = {"source": ev.source, "run_id": ev.run_id, "status": ev.status,
               "breaches": [{"kind": b["kind"], "name": b["name"], "reason": b.get("reason", "")} for b in ev.breaches]}
    for key in ev.use_cases:
        try:
            with session.begin_nested():
                notifications.notify(session, key, "data.breach", payload)
        except Exception:
            log.exception("could not notify %s about the breach on %s", key, ev.source)


def on_gate_judged(session: Session, ev: GateJudged) -> None:
    """Tell the use case's channels how an eval gate came out and, when it moved a release to approvals, who must
    approve (a failed notification never blocks the gate)."""
    run = session.get(EvalRun, ev.run_id)
    if run is None or not run.use_case_key:
        return
    status = str((run.gate or {}).get("status", "unknown"))
    payload = {"title": f"eval gate {status}", "run_id": run.id, "release_id": run.release_id, "gate": status,
               "pass_rate": (run.summary or {}).get("pass_rate"), "reasons": (run.gate or {}).get("reasons")}
    try:
        with session.begin_nested():
            notifications.notify(session, run.use_case_key, "gate.judged", payload)
            _approval_requested(session, run)
    except Exception:
        log.exception("could not notify %s about eval run %s", run.use_case_key, run.id)


def _approval_requested(session: Session, run: EvalRun) -> None:
    """The release this run moved to awaiting_approval (releases' reaction runs first) asks its approvers."""
    if not run.release_id or run.finished_at is None:
        return
    rel = release_queries.get(session, run.release_id)
    if rel.status != "awaiting_approval" or rel.status_changed_at < run.finished_at:
        return
    missing = release_approvals.missing_approvals(session, rel)
    notifications.notify(session, rel.use_case_key, "approval.requested",
                   {"title": f"release {rel.release_id} awaits approval", "release_id": rel.release_id,
                    "approvals_missing": missing, "gate": (run.gate or {}).get("status")})


def register() -> None:
    """Subscribe the monitoring reactions (called once by the composition root; before incidents' for data breaches,
    so channels hear of the breach before the incidents it opens)."""
    subscribe(IncidentOpened, on_incident_opened)
    subscribe(IncidentResolved, on_incident_resolved)
    subscribe(DataSlaBreached, on_data_sla_breached)
    subscribe(GateJudged, on_gate_judged)
    provide(BUDGET_FALLBACK, budgets.fallback_until)  # active() sends SDKs to the fallback while a budget is spent
