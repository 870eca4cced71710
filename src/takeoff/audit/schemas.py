"""Audit responses: the hash chain's verification, which CI and operators read."""
from __future__ import annotations

from pydantic import Field

from takeoff.core.types import Output


class ChainProblemOut(Output):
    """The first entry whose hash does not verify, and why."""

    entry_id: int | None = Field(description="null when the problem is not one entry's (e.g. the chain's key)")
    reason: str


class VerifyOut(Output):
    """Whether the audit chain verifies end to end, over how many entries, and the first problem if not."""

    ok: bool
    entries: int
    problem: ChainProblemOut | None
