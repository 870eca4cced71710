"""Incident tables: incidents and their timeline entries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class Incident(Base):
    """A production incident of one use case; `open_key` holds the dedup key while open (unique → one open incident)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[int] = mapped_column(default=3)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | resolved
    source: Mapped[str] = mapped_column(String(32), default="manual")  # manual | alert | canary | slo
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    release_id: Mapped[str | None] = mapped_column(String(100), default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    root_cause_category: Mapped[str | None] = mapped_column(String(40), default=None)
    resolution: Mapped[str] = mapped_column(Text, default="")
    postmortem: Mapped[str] = mapped_column(Text, default="")
    dedup_key: Mapped[str | None] = mapped_column(String(200), default=None)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IncidentEntry(Base):
    """One timeline entry of an incident (opened, note, status change, resolved)."""

    __tablename__ = "incident_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24), default="note")
    text: Mapped[str] = mapped_column(Text, default="")
