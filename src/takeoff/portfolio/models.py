"""Portfolio tables: use cases (the unit everything else hangs on) and their lifecycle transitions."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class UseCase(Base):
    """An AI use case: intake facts, status, owners, risk tier, scale definition and targets.

    `targets` holds the measurable scale targets (see portfolio.schemas.ScaleTargets) that later floors read as
    SLOs and release gates; `kpis` holds the north-star KPI and its two guardrails.
    """

    __tablename__ = "use_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[str] = mapped_column(String(200), default="")
    workflows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expected_users: Mapped[int | None] = mapped_column(default=None)
    user_groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    regions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    system_of_record: Mapped[str] = mapped_column(String(200), default="")
    data_sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    paused_from: Mapped[str | None] = mapped_column(String(16), default=None)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    risk_tier: Mapped[str | None] = mapped_column(String(8), default=None)
    risk_tier_suggested: Mapped[str | None] = mapped_column(String(8), default=None)
    risk_tier_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The five answers the tier rule reads (portfolio.tiers.TierFactors) and, when a person chose another tier
    # than the suggestion, who did, when and why.
    risk_factors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    risk_override: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The EU AI Act questionnaire as answered and the classification it produced (governance.eu_ai_act).
    eu_answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    eu_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    eu_category: Mapped[str | None] = mapped_column(String(16), default=None)
    business_owner: Mapped[str | None] = mapped_column(ForeignKey("users.username"), default=None)
    product_owner: Mapped[str | None] = mapped_column(ForeignKey("users.username"), default=None)
    on_call: Mapped[str | None] = mapped_column(String(200), default=None)
    biggest_bottleneck: Mapped[str | None] = mapped_column(String(16), default=None)
    risk_constraint: Mapped[str] = mapped_column(Text, default="")
    monthly_volume: Mapped[int | None] = mapped_column(default=None)
    scale: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    targets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    discovered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UseCaseTransition(Base):
    """One lifecycle move: who, when, why."""

    __tablename__ = "use_case_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class UseCaseScore(Base):
    """One scorer's dated value / feasibility / risk scores (1-5) for a use case, with the criteria behind them."""

    __tablename__ = "use_case_scores"
    __table_args__ = (UniqueConstraint("use_case_id", "scorer", "scored_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    scorer: Mapped[str] = mapped_column(ForeignKey("users.username"))
    scored_on: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    feasibility: Mapped[float] = mapped_column(Float)
    risk: Mapped[float] = mapped_column(Float)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # lens → {criterion: 1-5}
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
