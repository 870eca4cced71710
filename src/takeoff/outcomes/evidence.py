"""Evidence kind outcomes own: the use case's usage policy (approved and prohibited uses, red flags)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject
from takeoff.outcomes import service as outcomes


def usage_policy(session: Session, s: Subject) -> Evidence:
    """A usage policy is written down for the use case."""
    key = s.use_case.key
    p = outcomes.usage_policy(session, key)
    link = f"/outcomes/{key}"
    if p is None:
        return Evidence("usage_policy", "fail", "no usage policy (approved and prohibited uses, red flags)", link)
    return Evidence("usage_policy", "pass", f"usage policy: {len(p.approved_uses or [])} approved and "
                    f"{len(p.prohibited_uses or [])} prohibited use(s)", link, getattr(p, "updated_at", None))


def register(registry: Registry) -> None:
    registry.provide("usage_policy", usage_policy, title="Approved and prohibited uses are written down",
                     domain="outcomes")
