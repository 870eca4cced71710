"""Request bodies of the requests domain: a capture policy, a unit deletion."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from takeoff.core.types import Input
from takeoff.sdk import redact


class PatternIn(Input):
    """An operator-defined redaction pattern: its marker name and a regular expression."""

    name: str = Field(min_length=1, max_length=40)
    pattern: str = Field(min_length=1, max_length=redact.MAX_PATTERN_CHARS)


class PolicyIn(Input):
    """PUT /api/v1/capture-policies/{use_case}: the whole policy (unset fields take their defaults)."""

    capture: bool = False
    kinds: list[str] = Field(default_factory=lambda: list(redact.KINDS), max_length=len(redact.KINDS))
    patterns: list[PatternIn] = Field(default_factory=list, max_length=redact.MAX_PATTERNS)
    max_chars: int = Field(default=4000, ge=100, le=100_000)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    unit_ids: Literal["hashed", "raw"] = "hashed"


class UnitDeletionIn(Input):
    """POST /api/v1/requests/unit-deletions: a data subject's unit id."""

    unit: str = Field(min_length=1, max_length=200)
