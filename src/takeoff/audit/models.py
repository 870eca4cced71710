"""Audit tables: the chained entries and the chain head."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base


class AuditEntry(Base):
    """One state change: who, what, the before/after diff, chained to the previous entry's hash."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str] = mapped_column(String(200), index=True)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # 1: keyed HMAC chain; 0: a legacy unkeyed entry, keyed by `takeoff migrate` (takeoff.audit.chain)
    chain_version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="0")


class AuditHead(Base):
    """The chain head (last id and hash), updated with each append so a deleted tail is detected."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
