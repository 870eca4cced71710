"""Request and answer bodies of the review domain: queues with their rubric and sampling rules, items, reviews.
Shapes are checked here; the rubric and the rules by the pure modules (review.rubric, review.sampling), so every
edge gets the same 422 naming the field."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from takeoff.core.types import BoundedDateTime, Id32, Input


class ScoreSpecIn(Input):
    """A named score of the rubric on a whole-number scale (1-5, 0-1, ...)."""

    name: str = Field(max_length=40)
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)
    description: str = Field(default="", max_length=300)


class RubricIn(Input):
    """What a reviewer fills in: scores, labels to pick, free text."""

    scores: list[ScoreSpecIn] = Field(default_factory=list, max_length=10)
    labels: list[str] = Field(default_factory=list, max_length=30)
    free_text: bool = True


class RuleIn(Input):
    """A sampling rule: kind (traffic, fallbacks, errors, low_rated, canary, violations), the share of matching
    requests it takes, and the highest rating that counts as low (low_rated)."""

    kind: str = Field(max_length=16)
    share: float = 1.0
    max_rating: int = 2


class QueueIn(Input):
    """POST /api/v1/review/queues: a queue of a use case."""

    use_case: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=40)
    description: str = Field(default="", max_length=2000)
    rubric: RubricIn
    reviews_per_item: int = Field(default=1, ge=1, le=5)
    lease_minutes: int = Field(default=30, ge=1, le=1440)
    max_open_items: int = Field(default=500, ge=1, le=100_000)
    rules: list[RuleIn] = Field(default_factory=list, max_length=20)


class QueuePatch(Input):
    """PATCH /api/v1/review/queues/{id}: the fields given (the rubric stays: reviews were made against it)."""

    description: str | None = Field(default=None, max_length=2000)
    reviews_per_item: int | None = Field(default=None, ge=1, le=5)
    lease_minutes: int | None = Field(default=None, ge=1, le=1440)
    max_open_items: int | None = Field(default=None, ge=1, le=100_000)
    active: bool | None = None


class FilterIn(Input):
    """The requests explorer's filters (the queue's use case is implied)."""

    release: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=16)
    error_category: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=100)
    start: BoundedDateTime | None = None
    end: BoundedDateTime | None = None
    score: str | None = Field(default=None, max_length=100)
    score_min: float | None = None
    score_max: float | None = None
    rating_min: int | None = None
    rating_max: int | None = None
    has_content: bool | None = None
    q: str | None = Field(default=None, max_length=200)


class ItemsIn(Input):
    """POST /api/v1/review/queues/{id}/items: requests by id, or the newest `limit` requests matching a filter."""

    request_ids: list[str] = Field(default_factory=list, max_length=200)
    filter: FilterIn | None = None
    limit: int = Field(default=50, ge=1, le=200)


class SampleIn(Input):
    """POST /api/v1/review/queues/{id}/sample: run the rules now; `since` reads requests from that time (a backfill)
    instead of from where the last run stopped."""

    since: BoundedDateTime | None = None


class ReviewIn(Input):
    """POST /api/v1/review/items/{id}/reviews: one reviewer's review on the queue's rubric."""

    scores: dict[str, float] = Field(default_factory=dict, max_length=10)
    labels: list[str] = Field(default_factory=list, max_length=30)
    comment: str = Field(default="", max_length=4000)
    violation_handled: bool = False
    incident_id: Id32 | None = None


# ---- answers --------------------------------------------------------------------------------------------------
class ScoreAgreementOut(BaseModel):
    """Agreement on one score over the items with several reviews."""

    score: str
    items: int
    pairs: int
    exact: float | None
    alpha: float | None


class QueueOut(BaseModel):
    """A queue with its rubric, rules, progress and agreement."""

    id: int
    use_case: str
    name: str
    description: str
    rubric: dict[str, Any]
    reviews_per_item: int
    lease_minutes: int
    max_open_items: int
    active: bool
    sampled_through: str | None
    rules: list[dict[str, Any]]
    progress: dict[str, int]
    agreement: list[ScoreAgreementOut]
    created_by: str
    created_at: str


class QueueListOut(BaseModel):
    """Queues, of one use case or all."""

    queues: list[QueueOut]


class RuleOut(BaseModel):
    """A sampling rule."""

    id: int
    queue_id: int
    kind: str
    share: float
    max_rating: int
    enabled: bool


class ItemOut(BaseModel):
    """An item: its request, where it came from, its reviews so far, its claim."""

    id: int
    queue_id: int
    request_id: str
    request_ts: str
    source: str
    status: str
    reviews: int
    reviews_wanted: int
    claimed_by: str | None
    lease_until: str | None
    created_at: str
    completed_at: str | None
    mean_scores: dict[str, float]


class ItemListOut(BaseModel):
    """Items of a queue, oldest first."""

    items: list[ItemOut]


class ClaimOut(BaseModel):
    """The item claimed (None when nothing is left for this reviewer)."""

    item: ItemOut | None


class AddItemsOut(BaseModel):
    """What adding requests did."""

    added: int
    already: int
    not_found: list[str]
    items: list[int]


class SampleOut(BaseModel):
    """What a sampling run did."""

    queue_id: int
    read: int
    added: int
    by_rule: dict[str, int]
    capped: bool
    sampled_through: str | None


class ReviewOut(BaseModel):
    """A review (or skip) as stored, with the item after it and the request's scores after it."""

    id: int
    item_id: int
    request_id: str
    reviewer: str
    skipped: bool
    scores: dict[str, int]
    labels: list[str]
    comment: str
    violation_handled: bool
    incident_id: int | None
    seconds_spent: float | None
    created_at: str
    violations_resolved: int
    item: ItemOut
    request_scores: dict[str, float]


class ReviewListOut(BaseModel):
    """Reviews of an item or a queue, newest first."""

    reviews: list[dict[str, Any]]
