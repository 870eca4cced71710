"""Request bodies of online evaluation: an evaluator (scorer or detectors), and a change to one."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from takeoff.core.types import Input


class FiltersIn(Input):
    """Which new requests an evaluator considers (all optional, combined with AND)."""

    release: str | None = Field(default=None, min_length=1, max_length=100)
    status: Literal["ok", "error", "fallback"] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)


class PricesIn(Input):
    """A judge's price in USD per 1M tokens (its cost counts against the daily budget)."""

    input: float = Field(ge=0, le=10_000)
    output: float = Field(ge=0, le=10_000)


class EvaluatorIn(Input):
    """POST /api/v1/usecases/{key}/evaluators: a scorer spec (any eval scorer; `llm_judge` through an
    OpenAI-compatible endpoint) or a safety policy (`safety`: the SDK's detectors run on stored content)."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["scorer", "detectors"] = "scorer"
    scorer: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    filters: FiltersIn = Field(default_factory=FiltersIn)
    daily_budget_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    prices: PricesIn | None = None
    enabled: bool = True
    since: datetime | None = None  # evaluate requests from this time on (a backfill); default: from now


class EvaluatorPatch(Input):
    """PATCH /api/v1/evaluators/{id}: the operational settings (the scorer itself is fixed: a new one is a new
    evaluator, so one score name never mixes two rubrics)."""

    sample_rate: float | None = Field(default=None, gt=0, le=1)
    filters: FiltersIn | None = None
    daily_budget_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    clear_budget: bool = False
    prices: PricesIn | None = None
    enabled: bool | None = None
