"""Incident inputs."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from takeoff.core.types import BoundedDateTime, Input


class IncidentIn(Input):
    """Open an incident by hand (started_at may predate detection; detected_at defaults to now)."""

    model_config = ConfigDict(extra="forbid")

    use_case: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    severity: int = Field(ge=1, le=4)
    started_at: BoundedDateTime | None = None
    detected_at: BoundedDateTime | None = None
    release_id: str | None = Field(default=None, max_length=100)
    detail: str = Field(default="", max_length=20_000)


class IncidentPatch(Input):
    """Change an incident's fields (only those given)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default=None, min_length=1, max_length=300)
    severity: int = Field(default=None, ge=1, le=4)
    release_id: str | None = Field(default=None, max_length=100)
    root_cause_category: str | None = Field(default=None, max_length=40)
    postmortem: str = Field(default=None, max_length=100_000)
    started_at: BoundedDateTime = Field(default=None)


class EntryIn(Input):
    """A timeline entry."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)


class ResolveIn(Input):
    """Resolve an incident: what fixed it, the root cause category, optionally when and the postmortem."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=20_000)
    root_cause_category: str | None = Field(default=None, max_length=40)
    resolved_at: BoundedDateTime | None = None
    postmortem: str | None = Field(default=None, max_length=100_000)
