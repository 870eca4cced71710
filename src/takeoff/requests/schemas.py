"""Request bodies of the requests domain: a capture policy, a unit deletion, adding requests to an eval set."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from takeoff.core.types import Input, Output
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


class PolicyPatch(Input):
    """PATCH /api/v1/capture-policies/{use_case}: only the fields given change (`retention_days: null` keeps content
    as long as the events); the others keep their stored values."""

    capture: bool | None = None
    kinds: list[str] | None = Field(default=None, max_length=len(redact.KINDS))
    patterns: list[PatternIn] | None = Field(default=None, max_length=redact.MAX_PATTERNS)
    max_chars: int | None = Field(default=None, ge=100, le=100_000)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    unit_ids: Literal["hashed", "raw"] | None = None


class UnitDeletionIn(Input):
    """POST /api/v1/requests/unit-deletions: a data subject's unit id."""

    unit: str = Field(min_length=1, max_length=200)


MAX_BATCH = 500  # requests one "add to eval set" may select (a filtered set over it is refused, naming the limit)
REFERENCES = ("output", "none")


class ToEvalSetIn(Input):
    """POST /api/v1/requests/to-evalset: which requests (ids, the explorer's filters, or an incident's), which eval
    set gets them as a new version, what each case expects, and its tags."""

    eval_set: str = Field(min_length=1, max_length=100, description="the eval set that gets a new version")
    request_ids: list[str] | None = Field(default=None, max_length=MAX_BATCH,
                                          description="requests by id (unknown ids: 404)")
    filters: dict[str, str] | None = Field(default=None, max_length=20,
                                           description="the explorer's filters (GET /api/v1/requests)")
    incident: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="the requests of an incident: its use case, from its start to its end")
    reference: Literal["output", "none"] = Field(default="output", description="expected = the request's output, "
                                                 "or none (corrections still apply)")
    corrections: dict[str, Any] = Field(default_factory=dict, max_length=MAX_BATCH,
                                        description="request id -> the corrected expected output (text or JSON)")
    tags: list[str] = Field(default_factory=list, max_length=10)
    failure_category: str | None = Field(default=None, max_length=60, pattern=r"^[A-Za-z0-9_.:\-]+$",
                                         description="added as a tag and to each case's provenance")
    note: str = Field(default="", max_length=2000)


class ToEvalSetOut(Output):
    """What adding requests to an eval set did: the version, cases added/changed/unchanged, requests skipped."""

    eval_set: str
    version: int
    created: bool = Field(description="false when every case was already in the latest version")
    selected: int = Field(description="requests the selection named")
    added: list[str]
    changed: list[str]
    unchanged: list[str]
    skipped: dict[str, int] = Field(description="reason -> requests not added (no_content, no_input, other_use_case)")
    redacted: int = Field(description="cases whose content had redaction markers (kept as markers)")
    incident: int | None
    url: str
