"""Audit finding inputs (the vocabularies are checked in the service, so every edge gets the same message)."""
from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field

from takeoff.core.types import BoundedDateTime, Input


class FindingIn(Input):
    """Record a finding on a use case."""

    model_config = ConfigDict(extra="forbid")

    use_case: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    severity: str = Field(max_length=16)
    source: str = Field(default="internal_audit", max_length=32)
    control_id: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, max_length=100)
    found_on: date | None = None
    due_on: date | None = None


class FindingPatch(Input):
    """Change a finding (only the fields given): status open/in_progress, owner, due date, severity, control."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(default=None, max_length=16)
    owner: str | None = Field(default=None, max_length=100)
    due_on: date | None = None
    severity: str = Field(default=None, max_length=16)
    control_id: str | None = Field(default=None, max_length=64)


class CloseIn(Input):
    """Close a finding: what was done about it (required), optionally when."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(default="", max_length=20_000)  # blank is refused by the service with a clear message
    closed_at: BoundedDateTime | None = None
