"""Telemetry inputs: usage events (the SDK's format), batches, feedback; validated whole at the edge."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError,
                      field_validator, with_config)
from pydantic_core import InitErrorDetails
from typing_extensions import TypedDict
from typing import NotRequired

from takeoff.core.types import BoundedDateTime, Input, UnixTime
from takeoff.sdk.tracking import OUTCOMES, STATUSES

# The SDK's one event vocabulary (takeoff.sdk.tracking), as the types the edge validates against.
Status = Literal[STATUSES]
Outcome = Literal[OUTCOMES]
MAX_BATCH = 5000
# Upper bounds of one event's numbers: far above any real call, low enough that a day's rollup sums stay finite
# floats and 64-bit integers (an unbounded value overflowed them: a 500 on PostgreSQL, a stuck compactor).
MAX_TOKENS = 10**9
MAX_LATENCY_MS = 1e9  # ~11.6 days
MAX_COST_USD = 1e6
MAX_SCORE = 1e9  # a score's magnitude (its square is summed)


class Strict(Input):
    model_config = ConfigDict(extra="forbid")


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


def nonfinite_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], float]]:
    """Where NaN or ±Infinity sits inside a JSON-like value (the JSON columns refuse it on PostgreSQL)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from nonfinite_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from nonfinite_paths(v, (*path, i))


def _finite_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free attributes as sent, or one finite_number error at each NaN/Infinity inside, however deep."""
    bad = list(nonfinite_paths(value)) if value else []
    if bad:  # a nested ValidationError: pydantic-core puts its locations under the field's (events.<i>.attributes.…)
        raise ValidationError.from_exception_data("attributes", [
            InitErrorDetails(type="finite_number", loc=loc, input=v) for loc, v in bad])
    return value


NonNegative = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
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


# The request level (issue 18): the trace ids, the span tree (OTLP only) and the content of one call. Content is
# accepted as sent (bounded) and stored only where the use case's capture policy allows, redacted and capped there.
MAX_SPANS = 200
MAX_SPAN_ATTRIBUTES = 64
MAX_MESSAGES = 100
MAX_DOCUMENTS = 200
MAX_CONTENT_CHARS = 200_000  # one content string as received; the capture policy caps what is stored
TraceId = Annotated[str, StringConstraints(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
SpanId = Annotated[str, StringConstraints(min_length=16, max_length=16, pattern=r"^[0-9a-f]{16}$")]
SpanStatus = Literal["ok", "error", "unset"]
AttrValue = _text(4096) | bool | int | Annotated[float, Field(allow_inf_nan=False)] | None
Content = _text(MAX_CONTENT_CHARS)


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class SpanIn(TypedDict):
    """One span of the request's tree (from OTLP): ids, name, kind, status, start (Unix seconds), duration and the
    attributes the mapping kept (flat)."""

    trace_id: TraceId
    span_id: SpanId
    parent_span_id: NotRequired[SpanId | None]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    kind: NotRequired[_text(32) | None]
    status: NotRequired[SpanStatus]
    start: Annotated[float, Field(gt=0, description="Unix seconds the span started")]
    duration_ms: NotRequired[Annotated[float, Field(ge=0, le=MAX_LATENCY_MS)] | None]
    attributes: NotRequired[Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], AttrValue],
                                      Field(max_length=MAX_SPAN_ATTRIBUTES)]]


@with_config(ConfigDict(extra="forbid"))
class MessageIn(TypedDict):
    """One message of a prompt or an answer."""

    role: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    content: Content


@with_config(ConfigDict(extra="forbid"))
class ToolCallIn(TypedDict):
    """One tool call the model asked for; arguments as the JSON text the model wrote."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    arguments: NotRequired[Content | None]


@with_config(ConfigDict(extra="forbid"))
class ContentIn(TypedDict, total=False):
    """What was said: system instructions, input and output messages, tool calls, retrieved document ids."""

    system: Content | None
    input: Annotated[list[MessageIn], Field(max_length=MAX_MESSAGES)]
    output: Annotated[list[MessageIn], Field(max_length=MAX_MESSAGES)]
    tool_calls: Annotated[list[ToolCallIn], Field(max_length=MAX_MESSAGES)]
    documents: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=200)]],
                         Field(max_length=MAX_DOCUMENTS)]


MAX_VIOLATIONS = 20
SafetyStage = Literal["input", "output"]
SafetyAction = Literal["flag", "redact", "review", "block"]
DetectorName = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


@with_config(ConfigDict(extra="forbid"))
class ViolationIn(TypedDict):
    """A safety detector that fired on the call (takeoff.sdk.safety): where, which, and what was done; no content."""

    stage: SafetyStage
    detector: DetectorName
    action: SafetyAction


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class EventIn(TypedDict):
    """One usage event of an AI call, as the SDK sends it (id, use_case and ts required)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    use_case: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    release: NotRequired[_text(100) | None]
    unit_id: NotRequired[_text(200) | None]
    ts: Annotated[float, Field(gt=0, description="Unix seconds of the call")]
    latency_ms: NotRequired[Annotated[float, Field(ge=0, le=MAX_LATENCY_MS)] | None]
    status: NotRequired[Status]
    outcome: NotRequired[Outcome | None]
    model: NotRequired[_text(200) | None]
    provider: NotRequired[_text(100) | None]
    tokens: NotRequired[Tokens]
    cost_usd: NotRequired[Annotated[float, Field(ge=0, le=MAX_COST_USD)] | None]
    scores: NotRequired[Annotated[dict[Name, Annotated[float, Field(allow_inf_nan=False, ge=-MAX_SCORE, le=MAX_SCORE)]],
                                  Field(max_length=50)]]
    features: NotRequired[Annotated[dict[Name, FeatureValue], Field(max_length=100)]]
    error_category: NotRequired[_text(100) | None]
    fallback_reason: NotRequired[_text(200) | None]
    attributes: NotRequired[Annotated[dict[str, Any], Field(max_length=100), AfterValidator(_finite_json)]]
    trace_id: NotRequired[TraceId | None]
    span_id: NotRequired[SpanId | None]
    parent_span_id: NotRequired[SpanId | None]
    spans: NotRequired[Annotated[list[SpanIn], Field(max_length=MAX_SPANS)]]
    content: NotRequired[ContentIn | None]
    violations: NotRequired[Annotated[list[ViolationIn], Field(max_length=MAX_VIOLATIONS)]]


EVENT_IN = TypeAdapter(EventIn)  # one event: the check every mapped OTLP span passes, as a JSON batch's events do


MAX_DROP_ENTRIES = 100


@with_config(ConfigDict(extra="forbid"))
class DropIn(TypedDict):
    """Events an SDK dropped before delivery (queue full, refused, given up on), reported with a later batch."""

    use_case: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    release: NotRequired[_text(100) | None]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    count: Annotated[int, Field(ge=1, le=MAX_TOKENS)]


@with_config(ConfigDict(extra="forbid"))
class EventBatch(TypedDict):
    """POST /api/v1/events: a batch is validated whole; one bad event refuses the batch (422 naming it). `dropped`
    is counted only when the batch stores at least one new event, so a resent batch never counts it twice."""

    events: Annotated[list[EventIn], Field(max_length=MAX_BATCH)]
    dropped: NotRequired[Annotated[list[DropIn], Field(max_length=MAX_DROP_ENTRIES)]]


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
    ts: UnixTime | None = None

    @field_validator("time_saved_s", "ts")
    @classmethod
    def _finite_numbers(cls, v: float | None) -> float | None:
        return _finite(v)

    @field_validator("id", "request_id", "use_case", "comment", "unit_id")
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        if v is not None and "\x00" in v:  # PostgreSQL's text columns cannot store it (a 500 there)
            raise ValueError("must not contain a NUL character (\\u0000)")
        return v


class IngestResult(BaseModel):
    """What an ingestion call acknowledges (after the commit)."""

    accepted: int
    duplicates: int


class BaselineIn(Strict):
    """POST /api/v1/telemetry/baselines: freeze feature bins from a release's events in a window."""

    use_case: str = Field(min_length=1, max_length=64)
    release: str | None = Field(default=None, max_length=100)
    start: BoundedDateTime
    end: BoundedDateTime


class PointOut(TypedDict):
    """One step-aligned bucket: its start and the metric's value (null when the bucket has no data)."""

    t: str
    value: float | None


class SeriesOut(BaseModel):
    """A metric as a time series answered from rollups. Its fields are the route's own, so the model declares them
    all; points are a TypedDict, not a model: a 30-day series at 5 minutes is 8640 of them, and checking them as
    dicts adds about 1 ms to the answer where model instances (or `extra="allow"`) added 15-20 ms."""

    use_case: str
    release: str | None
    metric: str
    unit: str
    step_s: int
    from_: str = Field(alias="from")
    to: str
    points: list[PointOut]
