"""How review reacts to incidents (a lower floor, through its event): a resolved incident resolves the policy
violations of the requests a review linked to it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.core.events import IncidentResolved, subscribe
from takeoff.review import work


def on_incident_resolved(session: Session, ev: IncidentResolved) -> None:
    """Count the linked requests' violations as resolved (once per request)."""
    incident_id = ev.payload.get("incident_id")
    if isinstance(incident_id, int):
        work.resolve_for_incident(session, incident_id)


def register() -> None:
    """Subscribe review's reactions (called once by the composition root)."""
    subscribe(IncidentResolved, on_incident_resolved)
