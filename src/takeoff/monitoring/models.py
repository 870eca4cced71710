"""Monitoring tables: per-use-case settings, alert rules, alerts, drift results, canary checks, channels, deliveries."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class MonitorSetting(Base):
    """A use case's monitoring settings: auto-rollback (None = tier default), drift thresholds and baseline window."""

    __tablename__ = "monitor_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), unique=True)
    auto_rollback: Mapped[bool | None] = mapped_column(default=None)
    drift_thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    drift_features: Mapped[list[Any]] = mapped_column(JSON, default=list)
    drift_window_s: Mapped[int] = mapped_column(default=3600)
    baseline_start: Mapped[datetime | None] = mapped_column(default=None)
    baseline_end: Mapped[datetime | None] = mapped_column(default=None)
    canary_min_sample: Mapped[int] = mapped_column(default=500)
    canary_window_s: Mapped[int] = mapped_column(default=3600)
    quality_error_threshold: Mapped[float] = mapped_column(default=0.02)
    # the 0..1 score the quality SLO reads (an online evaluator's `online_<name>`, a review score); None: "pass"
    quality_slo_score: Mapped[str | None] = mapped_column(String(100), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertRule(Base):
    """A rule: metric (metrics API name or drift) compared with a threshold over a window."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    op: Mapped[str] = mapped_column(String(4), default=">")
    threshold: Mapped[float] = mapped_column(default=0.0)
    window_s: Mapped[int] = mapped_column(default=300)
    severity: Mapped[int] = mapped_column(default=3)
    open_incident: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """One firing episode of a rule (or built-in check); `fire_key` is set while firing and unique (dedup)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"), default=None,
                                                index=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(24), default="rule")  # rule | slo_burn | quality | drift
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="firing")  # firing | resolved
    fire_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    value: Mapped[float | None] = mapped_column(default=None)
    threshold: Mapped[float | None] = mapped_column(default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class DriftResult(Base):
    """One drift check of a use case: current window vs baseline window, with the per-feature report."""

    __tablename__ = "drift_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))  # ok | drift | not_enough_data
    drifted: Mapped[list[Any]] = mapped_column(JSON, default=list)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    baseline_start: Mapped[datetime | None] = mapped_column(default=None)
    baseline_end: Mapped[datetime | None] = mapped_column(default=None)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    window_end: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CanaryCheck(Base):
    """One canary analysis: verdict, breached metrics with both values, and the action taken."""

    __tablename__ = "canary_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    canary_release_id: Mapped[str] = mapped_column(String(100))
    production_release_id: Mapped[str | None] = mapped_column(String(100), default=None)
    verdict: Mapped[str] = mapped_column(String(24))  # safe_to_promote | breach | not_enough_data
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    action: Mapped[str] = mapped_column(String(24), default="none")  # none | rolled_back | rollback_disabled
    incident_id: Mapped[int | None] = mapped_column(default=None)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Channel(Base):
    """A notification channel: a webhook with a generic JSON or Slack-compatible body, signed with its secret."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="webhook")  # webhook | slack
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200))
    use_case_key: Mapped[str | None] = mapped_column(String(64), default=None)  # None: every use case
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty: every event
    timeout_s: Mapped[float] = mapped_column(default=5.0)
    max_attempts: Mapped[int] = mapped_column(default=4)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One notification sent (or being retried) to one channel, with its raw body and outcome."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | retrying | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    job_id: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class Budget(Base):
    """A cost budget of a use case (or of one of its releases) over a UTC day or month; spend is read from the
    rollups. `enforce`: alert only, or also tell SDKs through active() to use the fallback until the window resets."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    release_id: Mapped[str | None] = mapped_column(String(200), default=None)  # None: every release
    window: Mapped[str] = mapped_column(String(8), default="month")  # day | month
    limit_usd: Mapped[float] = mapped_column(default=0.0)
    warn_share: Mapped[float] = mapped_column(default=0.8)
    enforce: Mapped[str] = mapped_column(String(16), default="alert")  # alert | fallback
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
