"""Outcome tables: KPI measurements, ROI inputs, usage policies, role-based training, quarterly reviews."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class KpiMeasurement(Base):
    """One dated value of a use case's north-star KPI or guardrail, with where it came from."""

    __tablename__ = "kpi_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    kpi: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    measured_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | csv | telemetry | web
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoiAssumptions(Base):
    """The money figures ROI needs that no system measures (build cost, rates, unit value), per use case."""

    __tablename__ = "roi_assumptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), unique=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsagePolicy(Base):
    """Approved and prohibited uses, red flags that require escalation, and when to trust versus verify."""

    __tablename__ = "usage_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), unique=True)
    approved_uses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prohibited_uses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    red_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    trust_vs_verify: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingItem(Base):
    """One enablement item for a role (executives, managers, frontline users, builders) on a use case."""

    __tablename__ = "training_items"
    __table_args__ = (UniqueConstraint("use_case_key", "audience", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    audience: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingCompletion(Base):
    """A person completed a training item."""

    __tablename__ = "training_completions"
    __table_args__ = (UniqueConstraint("item_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("training_items.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarterlyReview(Base):
    """A quarter's portfolio snapshot, re-scores beside last quarter's, and the suggested actions."""

    __tablename__ = "quarterly_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), unique=True)
    snapshot: Mapped[list[Any]] = mapped_column(JSON, default=list)
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewDecision(Base):
    """What an accountable person decided for one use case in a review."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("review_id", "use_case_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("quarterly_reviews.id", ondelete="CASCADE"), index=True)
    use_case_key: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    rationale: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
