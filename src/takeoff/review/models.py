"""Review tables: annotation queues with their rubric and sampling rules, the items (requests) in them, the reviews
and skips of reviewers, and the policy violations a review or an incident resolved (once per request)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class ReviewQueue(Base):
    """An annotation queue of one use case: its rubric, how many reviews an item wants, the claim lease, the cap on
    open items, and how far the sampling job has read the use case's requests."""

    __tablename__ = "review_queues"
    __table_args__ = (UniqueConstraint("use_case_key", "name", name="uq_review_queues_uc_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    rubric: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reviews_per_item: Mapped[int] = mapped_column(default=1)
    lease_minutes: Mapped[int] = mapped_column(default=30)
    max_open_items: Mapped[int] = mapped_column(default=500)
    active: Mapped[bool] = mapped_column(default=True)
    sampled_through: Mapped[datetime | None] = mapped_column(default=None)  # request time the rules have read to
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReviewRule(Base):
    """A sampling rule of a queue (review.sampling): kind, share, and the highest low rating."""

    __tablename__ = "review_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    share: Mapped[float] = mapped_column(default=1.0)
    max_rating: Mapped[int] = mapped_column(default=2)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewItem(Base):
    """One request in a queue: where it came from (a rule or a person), its reviews so far, and the claim (a
    reviewer and a lease) while someone works on it."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("queue_id", "request_id", name="uq_review_items_queue_request"),
                      Index("ix_review_items_queue_status", "queue_id", "status"),
                      Index("ix_review_items_request", "request_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(128))
    request_ts: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(40))  # rule:<kind> | manual
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    reviews: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    added_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Review(Base):
    """One reviewer's review of an item (or skip): scores on the rubric, labels, free text, whether the request's
    policy violation was handled, and the incident it was escalated to."""

    __tablename__ = "review_reviews"
    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_review_reviews_item_reviewer"),
                      Index("ix_review_reviews_queue_at", "queue_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"))
    queue_id: Mapped[int] = mapped_column()
    request_id: Mapped[str] = mapped_column(String(128))
    reviewer: Mapped[str] = mapped_column(String(100))
    skipped: Mapped[bool] = mapped_column(default=False)
    scores: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    violation_handled: Mapped[bool] = mapped_column(default=False)
    incident_id: Mapped[int | None] = mapped_column(default=None, index=True)
    seconds_spent: Mapped[float | None] = mapped_column(default=None)  # claim to submit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ViolationResolution(Base):
    """A request's policy violations were resolved, once: by a review that handled them or by the resolution of an
    incident a review linked the request to. The count went into the rollups (policy_violations_resolved)."""

    __tablename__ = "review_violation_resolutions"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    violations: Mapped[int] = mapped_column()
    via: Mapped[str] = mapped_column(String(16))  # review | incident
    ref: Mapped[int] = mapped_column()  # the review or the incident id
    at: Mapped[datetime] = mapped_column(default=utcnow)
