"""The one way a release changes status: checked against the lifecycle, recorded as a transition, audited."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict
from takeoff.releases import lifecycle
from takeoff.releases.models import Release, ReleaseTransition


def move(session: Session, actor: Actor | str, rel: Release, to: str, reason: str = "") -> None:
    """Move a release to another status the lifecycle allows (409 otherwise), with its transition row and audit."""
    if not lifecycle.can_move(rel.status, to):
        raise Conflict(f"release {rel.release_id} is {rel.status}; it cannot become {to}")
    name = actor.username if isinstance(actor, Actor) else str(actor)
    session.add(ReleaseTransition(release_pk=rel.id, from_status=rel.status, to_status=to, actor=name,
                                  reason=reason))
    before = rel.status
    rel.status, rel.status_changed_at = to, utcnow()
    if to == "production":
        rel.production_at = utcnow()
    if to != "canary":
        rel.canary_weight = None
    audit.record(session, actor, f"release.{to}", "release", rel.release_id, {"status": before},
                 {"status": to, "reason": reason})
