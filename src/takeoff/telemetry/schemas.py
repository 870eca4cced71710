"""Telemetry inputs: usage events (the SDK's format), batches, feedback; validated whole at the edge."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, field_validator, with_config
from typing_extensions import NotRequired, TypedDict

Status = Literal["ok", "error", "fallback"]
Outcome = Literal["success", "failure", "escalated", "overridden"]
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
MAX_BATCH = 5000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


NonNegative = Annotated[int, Field(ge=0)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _text(n: int) -> Any:
    return Annotated[str, StringConstraints(max_length=n)]


FeatureValue = Annotated[float, Field(allow_inf_nan=False)] | _text(200) | bool | None


# The event schema is a TypedDict validated by pydantic-core straight from the request bytes into plain dicts:
# this is the ingestion hot path, and it is about twice as fast as building models and dumping them again.
@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class Tokens(TypedDict, total=False):
    """Token counts per usage type; cache_* are part of input and reasoning part of output (OpenTelemetry)."""

    input: NonNegative
    output: NonNegative
    cache_read: NonNegative
    cache_write: NonNegative
    reasoning: NonNegative


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class EventIn(TypedDict):
    """One usage event of an AI call, as the SDK sends it (id, use_case and ts required)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    use_case: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    release: NotRequired[_text(100) | None]
    unit_id: NotRequired[_text(200) | None]
    ts: Annotated[float, Field(gt=0, description="Unix seconds of the call")]
    latency_ms: NotRequired[Annotated[float, Field(ge=0)] | None]
    status: NotRequired[Status]
    outcome: NotRequired[Outcome | None]
    model: NotRequired[_text(200) | None]
    provider: NotRequired[_text(100) | None]
    tokens: NotRequired[Tokens]
    cost_usd: NotRequired[Annotated[float, Field(ge=0)] | None]
    scores: NotRequired[Annotated[dict[Name, Annotated[float, Field(allow_inf_nan=False)]], Field(max_length=50)]]
    features: NotRequired[Annotated[dict[Name, FeatureValue], Field(max_length=100)]]
    error_category: NotRequired[_text(100) | None]
    fallback_reason: NotRequired[_text(200) | None]
    attributes: NotRequired[Annotated[dict[str, Any], Field(max_length=100)]]


@with_config(ConfigDict(extra="forbid"))
class EventBatch(TypedDict):
    """POST /api/v1/events: a batch is validated whole; one bad event refuses the batch (422 naming it)."""

    events: Annotated[list[EventIn], Field(max_length=MAX_BATCH)]


EVENT_BATCH = TypeAdapter(EventBatch)


class FeedbackIn(Strict):
    """POST /api/v1/feedback: a user's rating of one AI response."""

    id: str = Field(min_length=1, max_length=128)
    request_id: str | None = Field(default=None, max_length=128)
    use_case: str | None = Field(default=None, min_length=1, max_length=64)
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=5000)
    time_saved_s: float | None = Field(default=None, ge=0)
    unit_id: str | None = Field(default=None, max_length=200)
    ts: float | None = Field(default=None, gt=0)

    @field_validator("time_saved_s", "ts")
    @classmethod
    def _finite_numbers(cls, v: float | None) -> float | None:
        return _finite(v)


class IngestResult(BaseModel):
    """What an ingestion call acknowledges (after the commit)."""

    accepted: int
    duplicates: int


class BaselineIn(Strict):
    """POST /api/v1/telemetry/baselines: freeze feature bins from a release's events in a window."""

    use_case: str = Field(min_length=1, max_length=64)
    release: str | None = Field(default=None, max_length=100)
    start: datetime
    end: datetime
