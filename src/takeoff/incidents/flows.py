"""How incidents react to same-floor facts (alerts, canary breaches and data SLA breaches open incidents), and the
capability they offer the domains beside them: a use case's open incidents (the monitoring section lists them)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.actor import SYSTEM
from takeoff.core.events import (INCIDENT_SCOPE, OPEN_INCIDENTS, AlertFired, AlertResolved, CanaryBreached, DataSlaBreached, provide,
                                 subscribe)
from takeoff.incidents import service

log = logging.getLogger("takeoff.incidents")


def on_alert_fired(session: Session, ev: AlertFired) -> int:
    """Open (or join, by the alert's key) the alert's incident; answers its id for the alert to link."""
    inc = service.open_incident(session, SYSTEM, ev.use_case_key, ev.name, ev.severity,
                                source=ev.kind if ev.kind in service.SOURCES else "alert", detected_at=ev.detected_at,
                                release_id=ev.release_id, detail=ev.detail, dedup_key=f"alert:{ev.key}")
    return inc.id


def on_alert_resolved(session: Session, ev: AlertResolved) -> None:
    """Note a resolved alert on its incident's timeline (the incident stays open until people confirm recovery)."""
    if ev.incident_id is not None:
        service.system_entry(session, ev.incident_id, "alert",
                             f"alert '{ev.name}' resolved ({ev.why}); resolve the incident once recovery is confirmed",
                             ev.at)


def on_canary_breached(session: Session, ev: CanaryBreached) -> int:
    """Open (or join) the breached canary's incident; answers its id for the canary check to link."""
    inc = service.open_incident(session, SYSTEM, ev.use_case_key, ev.title, 2, source="canary",
                                detected_at=ev.detected_at, release_id=ev.canary_release_id, detail=ev.detail,
                                dedup_key=f"canary:{ev.canary_release_id}")
    return inc.id


def on_data_sla_breached(session: Session, ev: DataSlaBreached) -> list[int]:
    """Open (or join) one incident per breached check, on the source's first use case; answers their ids.

    Opened by the system (whoever ran the check needs no incident.write; the detail names them)."""
    if not ev.use_cases:
        return []
    opened: list[int] = []
    use_case = sorted(ev.use_cases)[0]
    for b in ev.breaches:
        check = f"{b['kind']}:{b['name']}"
        try:
            with session.begin_nested():
                inc = service.open_incident(
                    session, SYSTEM, use_case, f"Data SLA breach on {ev.source}: {b['kind']} {b['name']}", 3,
                    source="data", detected_at=ev.detected_at,
                    detail=f"{b.get('reason', '')} (dependent use cases: {', '.join(ev.use_cases)}; "
                           f"check run by {ev.actor.username})",
                    dedup_key=f"data:{ev.source}:{check}",
                )
            opened.append(inc.id)
        except Exception:  # the breach is recorded on the run either way
            log.exception("could not open an incident for %s %s", ev.source, check)
    return opened


def open_for_use_case(session: Session, use_case_key: str) -> list[Any]:
    """The use case's open incidents, newest first."""
    return list(service.list_incidents(session, use_case_key=use_case_key, status="open"))


def scope(session: Session, incident_id: int) -> dict[str, Any]:
    """Which requests an incident covers (its use case, from its start to its resolution or now) and what an eval case
    added from them records; 404 for an unknown incident. The requests domain beside incidents reads it."""
    inc = service.get(session, incident_id)
    return {"id": inc.id, "use_case": inc.use_case_key, "start": inc.started_at, "end": inc.resolved_at,
            "release": inc.release_id, "root_cause": inc.root_cause_category, "title": inc.title}


def register() -> None:
    """Subscribe the incidents reactions and provide their capability (called once by the composition root)."""
    provide(OPEN_INCIDENTS, open_for_use_case)
    provide(INCIDENT_SCOPE, scope)
    subscribe(AlertFired, on_alert_fired)
    subscribe(AlertResolved, on_alert_resolved)
    subscribe(CanaryBreached, on_canary_breached)
    subscribe(DataSlaBreached, on_data_sla_breached)
