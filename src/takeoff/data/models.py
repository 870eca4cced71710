"""Data-foundation tables: sources of truth, their SLA check runs, access rules, requests/grants and the access log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class DataSource(Base):
    """A system of record (or a document collection) that use cases depend on, with its owner and SLA checks.

    `connection_enc` is the Fernet-encrypted SQLAlchemy URL or file path; only `connection_redacted`
    (scheme + host) is ever shown.
    """

    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    entity: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(ForeignKey("users.username"))
    interface: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="dataset")  # dataset | collection
    connection_enc: Mapped[str] = mapped_column(Text)
    connection_redacted: Mapped[str] = mapped_column(String(300), default="")
    table_name: Mapped[str] = mapped_column(String(200), default="")
    checks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    use_cases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conflict_resolution: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DataCheckRun(Base):
    """One run of a source's SLA checks with every figure observed; status is the worst of its results."""

    __tablename__ = "data_check_runs"
    # a source's latest run is one index seek (data.queries.latest_runs), however many runs are kept (data0002)
    __table_args__ = (Index("ix_data_check_runs_source_started", "source_id", "started_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | schedule
    actor: Mapped[str] = mapped_column(String(100), default="system")
    status: Mapped[str] = mapped_column(String(8))  # pass | breach | error
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    incidents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataAccessRule(Base):
    """Which roles may read one field of a source; a sensitive field also needs a time-limited grant."""

    __tablename__ = "data_access_rules"
    __table_args__ = (UniqueConstraint("source_id", "field", name="uq_data_access_rules_source_field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class DataAccessRequest(Base):
    """A request to read sensitive fields; approved by a data owner it becomes a grant until `expires_at`."""

    __tablename__ = "data_access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id", ondelete="CASCADE"), index=True)
    requester: Mapped[str] = mapped_column(String(100), index=True)
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    hours: Mapped[int] = mapped_column(Integer, default=24)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected | revoked
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class DataAccessLog(Base):
    """Append-only: one row per read takeoff performed on a source (who, which fields, when, why)."""

    __tablename__ = "data_access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(16))  # check | preview | export | context
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    rows: Mapped[int | None] = mapped_column(default=None)
