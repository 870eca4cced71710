"""Evidence kind review owns: people review the use case's production requests (human override and escalation),
read from the annotation queues with reviews completed in the last 30 days."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.review import work

WINDOW = timedelta(days=30)


def human_review(session: Session, s: Subject) -> Evidence:
    """Pass when a queue of the use case completed reviews in the last 30 days; fail when its queues have none;
    no evidence when it has no queue."""
    key = s.use_case.key
    since = s.now - WINDOW
    rows = batched(s, f"review.completed.{since.isoformat()}",
                   lambda keys: work.completed_since_many(session, keys, since)) or []
    link = f"/review?use_case={key}"
    if not rows:
        return Evidence("human_review", "no_evidence", "no annotation queue", link)
    done = [(q, n) for q, n in rows if n]
    if not done:
        return Evidence("human_review", "fail", f"no review completed in 30 days in {', '.join(q.name for q, _ in rows)}",
                        link)
    detail = ", ".join(f"{n} review(s) in {q.name}" for q, n in done)
    return Evidence("human_review", "pass", f"{detail} in 30 days", f"/review/queues/{done[0][0].id}")


def register(registry: Registry) -> None:
    registry.provide("human_review", human_review, title="People review production requests (annotation queues)",
                     domain="review")
