"""Eval inputs (eval sets and run requests) and the run view returned."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from takeoff.core.types import Id32, Input, Output


class Strict(Input):
    model_config = ConfigDict(extra="forbid")


NAME_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,99}$"


class EvalSetIn(Strict):
    """A new eval set (its cases arrive as versions)."""

    name: str = Field(pattern=NAME_PATTERN, description="lowercase letters, digits, '-', '_' and '.'")
    use_case: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=4000)


class EvalSpec(Strict):
    """What an eval calls and how it scores: a target spec, scorer specs, repeats and a concurrency limit."""

    target: dict[str, Any]
    scorers: list[dict[str, Any]] = Field(min_length=1)
    repeats: int = Field(default=1, ge=1, le=100)
    concurrency: int = Field(default=8, ge=1, le=1000)


class RunIn(Strict):
    """Start a run: for a release (its bundle names the eval set version and eval spec), or ad hoc."""

    release: str | None = Field(default=None, description="UC:VERSION")
    eval_set: str | None = None
    version: Id32 | None = None
    use_case: str | None = None
    target: dict[str, Any] | None = None
    scorers: list[dict[str, Any]] | None = None
    repeats: int | None = Field(default=None, ge=1, le=100)
    concurrency: int | None = Field(default=None, ge=1, le=1000)


class RunOut(Output):
    """An eval run with progress (done of total), its summary and gate once finished."""

    id: int
    release: str | None
    use_case: str | None
    eval_set: str | None = Field(description="'<name>@<version>'")
    status: str = Field(description="queued | running | done | failed")
    done: int
    total: int
    repeats: int
    concurrency: int
    summary: dict[str, Any] | None
    gate: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: str
    finished_at: str | None


class RunListOut(Output):
    """Eval runs newest first."""

    items: list[RunOut]
