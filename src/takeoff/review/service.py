"""The review domain's operations in one place for its edges: queues and rules (review.queues), a reviewer's work
and the reads of progress and agreement (review.work), and the queue as the API answers it."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from takeoff.review import queues, work
from takeoff.review.models import ReviewQueue

__all__ = ["queue_view", "queues", "work"]


def queue_view(session: Session, q: ReviewQueue) -> dict[str, Any]:
    """A queue with its rules, progress and agreement."""
    return {"id": q.id, "use_case": q.use_case_key, "name": q.name, "description": q.description,
            "rubric": q.rubric, "reviews_per_item": q.reviews_per_item, "lease_minutes": q.lease_minutes,
            "max_open_items": q.max_open_items, "active": q.active,
            "sampled_through": q.sampled_through.isoformat() if q.sampled_through else None,
            "rules": [queues.rule_view(r) for r in queues.rules_of(session, q.id)],
            "progress": work.progress(session, q), "agreement": work.agreement_of(session, q),
            "created_by": q.created_by, "created_at": q.created_at.isoformat()}
