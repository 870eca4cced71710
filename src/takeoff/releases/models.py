"""Release tables: immutable bundles with their lifecycle, approvals, attestations and transitions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class Release(Base):
    """One version of a use case's configuration; the bundle and its hash never change after creation."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("use_case_key", "version", name="uq_releases_use_case_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    bundle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str | None] = mapped_column(String(8), default=None)
    policy_version: Mapped[int | None] = mapped_column(default=None)
    canary_weight: Mapped[int | None] = mapped_column(default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    production_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def release_id(self) -> str:
        """The natural id 'use_case_key:version'."""
        return f"{self.use_case_key}:{self.version}"


class ReleaseApproval(Base):
    """An approve or reject decision by one person filling one of the tier's approver roles."""

    __tablename__ = "release_approvals"
    __table_args__ = (UniqueConstraint("release_pk", "username", name="uq_release_approvals_release_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(8))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleaseAttestation(Base):
    """A named person's statement that a checklist item holds (when the system has no evidence of its own)."""

    __tablename__ = "release_attestations"
    __table_args__ = (UniqueConstraint("release_pk", "item_id", name="uq_release_attestations_release_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleaseTransition(Base):
    """One lifecycle move of a release: who, when, why."""

    __tablename__ = "release_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
