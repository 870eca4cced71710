"""Online evaluation tables: the evaluators of each use case, their counters per UTC day, and one row per
evaluated (or failed, or skipped) request, which is also what keeps a request from being evaluated twice."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class OnlineEvaluator(Base):
    """One online evaluator: a scorer spec (any eval scorer, the LLM judge included) or a safety policy (the SDK's
    detectors, run server-side), the share of new requests it samples, its filters and its daily judge budget.

    The cursor (`cursor_ts`, `cursor_id`) is the last request with content it looked at: it only ever reads forward,
    in bounded batches, from `since` (its creation time unless a backfill start was given)."""

    __tablename__ = "quality_evaluators"
    __table_args__ = (UniqueConstraint("use_case", "name", name="uq_quality_evaluators_uc_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # scorer | detectors
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # scorer spec or safety policy
    sample_rate: Mapped[float] = mapped_column(default=1.0)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # release, status, model
    daily_budget_usd: Mapped[float | None] = mapped_column(default=None)  # judges only; None = no limit
    prices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # judge USD per 1M tokens {input, output}
    enabled: Mapped[bool] = mapped_column(default=True)
    since: Mapped[datetime] = mapped_column()
    cursor_ts: Mapped[datetime | None] = mapped_column(default=None)
    cursor_id: Mapped[str] = mapped_column(String(128), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluatorDay(Base):
    """An evaluator's counters for one UTC day: what it scored, skipped (budget spent, nothing to score) and
    failed (judge error, timeout, malformed verdict), its judge spend, and when the budget ran out."""

    __tablename__ = "quality_evaluator_days"

    evaluator_id: Mapped[int] = mapped_column(ForeignKey("quality_evaluators.id", ondelete="CASCADE"),
                                              primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seen: Mapped[int] = mapped_column(default=0)  # requests with content read past the cursor
    evaluated: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    violations: Mapped[int] = mapped_column(default=0)  # detector findings marked after the fact
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    seconds: Mapped[float] = mapped_column(default=0.0)  # time spent evaluating (throughput)
    exhausted_at: Mapped[datetime | None] = mapped_column(default=None)


class OnlineEvaluation(Base):
    """One sampled request's result under one evaluator: a score, or why there is none (failed / skipped)."""

    __tablename__ = "quality_evaluations"
    __table_args__ = (UniqueConstraint("evaluator_id", "request_id", name="uq_quality_evaluations_evaluator_request"),
                      Index("ix_quality_evaluations_request", "request_id"),
                      Index("ix_quality_evaluations_evaluator_at", "evaluator_id", "evaluated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("quality_evaluators.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8))  # scored | failed | skipped
    value: Mapped[float | None] = mapped_column(default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # stage, detector, action, label
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
