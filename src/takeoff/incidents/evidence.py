"""Evidence kinds incidents own: an on-call and incident process, and no open severity 1 or 2 incident."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.incidents import service as incidents

BLOCKING_SEVERITIES = (1, 2)


def incident_process(session: Session, s: Subject) -> Evidence:
    """Someone is on call for the use case (incidents are assigned and notified)."""
    uc = s.use_case
    link = f"/usecases/{uc.key}#intake"
    if uc.on_call:
        return Evidence("incident_process", "pass", f"on call: {uc.on_call}", link)
    return Evidence("incident_process", "fail", "no on-call named", link)


def no_severe_incident_open(session: Session, s: Subject) -> Evidence:
    """No incident of severity 1 or 2 is open for the use case; a failing verdict names each with its link."""
    key = s.use_case.key
    open_ = batched(s, "incidents.open_severe",
                    lambda keys: incidents.open_of(session, keys, BLOCKING_SEVERITIES)) or []
    if not open_:
        return Evidence("no_severe_incident_open", "pass", "no open incident of severity 1 or 2",
                        f"/incidents?use_case={key}")
    items = tuple((f"open incident {i.id} (severity {i.severity}): {i.title}", f"/incidents/{i.id}") for i in open_)
    first = open_[-1]
    return Evidence("no_severe_incident_open", "fail", "; ".join(t for t, _ in items), f"/incidents/{first.id}",
                    first.detected_at, items=items)


def register(registry: Registry) -> None:
    registry.provide("incident_process", incident_process, title="On-call and incident process are in place",
                     domain="incidents")
    registry.provide("no_severe_incident_open", no_severe_incident_open,
                     title="No open incident of severity 1 or 2", domain="incidents")
