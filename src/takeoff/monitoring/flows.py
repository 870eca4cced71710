"""How monitoring reacts to same-floor facts: incidents and data SLA breaches notify the use case's channels."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from takeoff.core.events import DataSlaBreached, IncidentOpened, IncidentResolved, subscribe
from takeoff.monitoring import notifications

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


def register() -> None:
    """Subscribe the monitoring reactions (called once by the composition root; before incidents' for data breaches,
    so channels hear of the breach before the incidents it opens)."""
    subscribe(IncidentOpened, on_incident_opened)
    subscribe(IncidentResolved, on_incident_resolved)
    subscribe(DataSlaBreached, on_data_sla_breached)
