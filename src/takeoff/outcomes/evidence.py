"""Evidence kind outcomes own: the use case's usage policy (approved and prohibited uses, red flags)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.outcomes import adoption, reviews


def usage_policy(session: Session, s: Subject) -> Evidence:
    """A usage policy is written down for the use case."""
    key = s.use_case.key
    p = batched(s, "outcomes.usage_policy", lambda keys: adoption.usage_policies(session, keys))
    link = f"/outcomes/{key}"
    if p is None:
        return Evidence("usage_policy", "fail", "no usage policy (approved and prohibited uses, red flags)", link)
    return Evidence("usage_policy", "pass", f"usage policy: {len(p.approved_uses or [])} approved and "
                    f"{len(p.prohibited_uses or [])} prohibited use(s)", link, getattr(p, "updated_at", None))


def quarterly_review(session: Session, s: Subject) -> Evidence:
    """The use case was part of this quarter's or last quarter's portfolio review."""
    key = s.use_case.key
    this = reviews.quarter_of(s.now.date())
    recent = (this, reviews.previous_quarter(this))
    for rev in reviews.list_reviews(session):
        if rev.quarter in recent and any(isinstance(f, dict) and f.get("use_case") == key for f in rev.snapshot or []):
            return Evidence("quarterly_review", "pass", f"reviewed in {rev.quarter}",
                            f"/outcomes/reviews/{rev.quarter}", rev.created_at)
    return Evidence("quarterly_review", "fail", f"not reviewed in {recent[1]} or {recent[0]}", "/outcomes")


def register(registry: Registry) -> None:
    registry.provide("quarterly_review", quarterly_review, title="The use case was reviewed this quarter",
                     domain="outcomes")
    registry.provide("usage_policy", usage_policy, title="Approved and prohibited uses are written down",
                     domain="outcomes")
