"""Governance tables: organization settings, versioned tier policies, RACI, role assignments (organization-wide and
per use case), loaded frameworks."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class Organization(Base):
    """The one organization row: operating model (+ its self-check), constraints, platforms, decision rights."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    operating_model: Mapped[str | None] = mapped_column(String(16), default=None)
    self_check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    platforms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decision_rights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TierPolicyVersion(Base):
    """One version of a tier's policy; every edit adds a row and the highest version is current."""

    __tablename__ = "tier_policy_versions"
    __table_args__ = (UniqueConstraint("tier", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), index=True)
    version: Mapped[int] = mapped_column()
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UseCaseRaci(Base):
    """Who is Responsible, Accountable, Consulted and Informed for one use case (usernames)."""

    __tablename__ = "use_case_raci"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), unique=True)
    responsible: Mapped[list[Any]] = mapped_column(JSON, default=list)
    accountable: Mapped[list[Any]] = mapped_column(JSON, default=list)
    consulted: Mapped[list[Any]] = mapped_column(JSON, default=list)
    informed: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoleAssignment(Base):
    """A person holding one of the seed's governance roles (business owner, risk partner, ...)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("role", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FrameworkRecord(Base):
    """A control framework an admin loaded at run time (the YAML text as given, validated on load)."""

    __tablename__ = "frameworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(400))
    version: Mapped[str] = mapped_column(String(40))
    yaml_text: Mapped[str] = mapped_column(Text)
    loaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UseCaseRole(Base):
    """A person wearing one of the seed's roles for one use case (data owner, AI engineer, risk partner, ...).

    The business and product owner of a use case are its own columns (use_cases.business_owner/product_owner)."""

    __tablename__ = "use_case_roles"
    __table_args__ = (UniqueConstraint("use_case_id", "role", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
