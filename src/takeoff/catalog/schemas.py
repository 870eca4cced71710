"""Catalog inputs: a model entry and a price change."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from takeoff.core.types import BoundedDateTime, Count, Input

Tier = Literal["low", "medium", "high"]
ENDPOINT_KINDS = ("openai", "azure_openai", "anthropic", "bedrock", "vertex", "vllm", "ollama", "http", "other")


class Strict(Input):
    model_config = ConfigDict(extra="forbid")


class PriceIn(Strict):
    """Prices in USD per 1M tokens; cache and reasoning prices default to the input/output price when absent."""

    effective_from: BoundedDateTime | None = None
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("effective_from needs a timezone, e.g. 2026-01-01T00:00:00Z")
        return v


class ContractTerms(Strict):
    """The vendor's contract terms the seed asks to track."""

    availability_sla_pct: float | None = Field(default=None, gt=0, le=100)
    incident_response_hours: float | None = Field(default=None, gt=0)
    notes: str = Field(default="", max_length=2000)


class RateLimits(Strict):
    requests_per_min: Count | None = Field(default=None, gt=0)
    tokens_per_min: Count | None = Field(default=None, gt=0)


class ModelIn(Strict):
    """A catalog entry; `price` sets the first (or a new) effective-dated price."""

    provider: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    model: str = Field(min_length=1, max_length=200)
    endpoint_kind: str = Field(default="openai")
    context_limit: Count | None = Field(default=None, gt=0)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    data_retention: str = Field(default="", max_length=2000)
    residency: list[str] = Field(default_factory=list)
    contract_terms: ContractTerms = Field(default_factory=ContractTerms)
    approved_tiers: list[Tier] = Field(default_factory=list)
    fallback_model: str | None = Field(default=None, max_length=300)
    notes: str = Field(default="", max_length=4000)
    price: PriceIn | None = None

    @field_validator("endpoint_kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ENDPOINT_KINDS:
            raise ValueError(f"endpoint_kind must be one of {', '.join(ENDPOINT_KINDS)}")
        return v

    @model_validator(mode="after")
    def _id_fits(self) -> ModelIn:
        if len(self.provider) + 1 + len(self.model) > 200:  # 'provider/model' names it (audit, releases): 200 chars
            raise ValueError("provider/model must be at most 200 characters together")
        return self
