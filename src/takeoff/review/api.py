"""Review HTTP API (mounted under /api/v1): annotation queues with rubric and sampling rules, items added by rules
or by hand (request ids or an explorer filter), and a reviewer's claim, skip and review."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from takeoff.core.types import Id
from takeoff.deps import DB, Allowed
from takeoff.review import queues, work
from takeoff.review.schemas import (
    AddItemsOut,
    ClaimOut,
    ItemListOut,
    ItemOut,
    ItemsIn,
    QueueIn,
    QueueListOut,
    QueueOut,
    QueuePatch,
    ReviewIn,
    ReviewListOut,
    ReviewOut,
    RuleIn,
    RuleOut,
    SampleIn,
    SampleOut,
)
from takeoff.review.service import queue_view
from takeoff.telemetry import rollup

router = APIRouter(tags=["review"])


@router.get("/review/queues", response_model=QueueListOut, operation_id="review_queues_list")
def list_queues(session: DB, actor: Allowed("read"), use_case: str | None = Query(None, max_length=64)
                ) -> dict[str, Any]:
    """Annotation queues (of one use case) with progress and agreement."""
    return {"queues": [queue_view(session, q) for q in queues.list_queues(session, use_case)]}


@router.post("/review/queues", status_code=201, response_model=QueueOut, operation_id="review_queues_create")
def create_queue(body: QueueIn, session: DB, actor: Allowed("annotation.write")) -> dict[str, Any]:
    """A queue of a use case with its rubric and sampling rules (422 naming a bad field, 409 name taken)."""
    return queue_view(session, queues.create_queue(session, actor, body))


@router.get("/review/queues/{queue_id}", response_model=QueueOut, operation_id="review_queues_get")
def get_queue(queue_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One queue: rubric, rules, progress, agreement per score."""
    return queue_view(session, queues.get_queue(session, queue_id))


@router.patch("/review/queues/{queue_id}", response_model=QueueOut, operation_id="review_queues_update")
def update_queue(queue_id: Id, body: QueuePatch, session: DB, actor: Allowed("annotation.write")) -> dict[str, Any]:
    """Change description, reviews per item, lease, cap on open items, or pause it (`active`)."""
    return queue_view(session, queues.update_queue(session, actor, queue_id, body))


@router.post("/review/queues/{queue_id}/rules", status_code=201, response_model=RuleOut,
             operation_id="review_rules_create")
def add_rule(queue_id: Id, body: RuleIn, session: DB, actor: Allowed("annotation.write")) -> dict[str, Any]:
    """Add a sampling rule (traffic, fallbacks, errors, low_rated, canary, violations; a share of them)."""
    return queues.rule_view(queues.add_rule(session, actor, queue_id, body))


@router.delete("/review/queues/{queue_id}/rules/{rule_id}", status_code=204, operation_id="review_rules_delete")
def remove_rule(queue_id: Id, rule_id: Id, session: DB, actor: Allowed("annotation.write")) -> None:
    """Remove a sampling rule of the queue."""
    queues.remove_rule(session, actor, queue_id, rule_id)


@router.post("/review/queues/{queue_id}/sample", response_model=SampleOut, operation_id="review_queues_sample")
def sample(queue_id: Id, body: SampleIn, session: DB, actor: Allowed("annotation.write")) -> dict[str, Any]:
    """Run the rules now (the periodic job does it every few minutes); `since` backfills from that time."""
    return queues.sample(session, actor, queues.get_queue(session, queue_id), since=body.since)


@router.get("/review/queues/{queue_id}/items", response_model=ItemListOut, operation_id="review_items_list")
def list_items(queue_id: Id, session: DB, actor: Allowed("read"),
               status: str | None = Query(None, max_length=8), limit: int = Query(200, ge=1, le=1000)
               ) -> dict[str, Any]:
    """Items of a queue, oldest first (status open or done)."""
    q = queues.get_queue(session, queue_id)
    return {"items": [work.item_view(session, i, q) for i in work.list_items(session, q.id, status, limit)]}


@router.post("/review/queues/{queue_id}/items", status_code=201, response_model=AddItemsOut,
             operation_id="review_items_add")
def add_items(queue_id: Id, body: ItemsIn, request: Request, session: DB, actor: Allowed("annotation.write")
              ) -> dict[str, Any]:
    """Add requests of the queue's use case by id, or the newest matching an explorer filter."""
    key = rollup.unit_key(request.app.state.settings.resolved_secret_key)
    return queues.add_items(session, actor, queues.get_queue(session, queue_id), body, key)


@router.post("/review/queues/{queue_id}/claim", response_model=ClaimOut, operation_id="review_queues_claim")
def claim_next(queue_id: Id, session: DB, actor: Allowed("annotation.review")) -> dict[str, Any]:
    """Take the next item for the queue's lease (your held item first); `item` is null when none is left for you."""
    item = work.claim_next(session, actor, queue_id)
    return {"item": work.item_view(session, item) if item is not None else None}


@router.get("/review/items/{item_id}", response_model=ItemOut, operation_id="review_items_get")
def get_item(item_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One item."""
    return work.item_view(session, work.get_item(session, item_id))


@router.post("/review/items/{item_id}/claim", response_model=ItemOut, operation_id="review_items_claim")
def claim(item_id: Id, session: DB, actor: Allowed("annotation.review")) -> dict[str, Any]:
    """Take this item (409 when another reviewer holds it, it is done, or you reviewed or skipped it)."""
    return work.item_view(session, work.claim(session, actor, item_id))


@router.post("/review/items/{item_id}/skip", response_model=ItemOut, operation_id="review_items_skip")
def skip(item_id: Id, session: DB, actor: Allowed("annotation.review")) -> dict[str, Any]:
    """Pass on this item: it stays open for the others."""
    r = work.skip(session, actor, item_id)
    return work.item_view(session, work.get_item(session, r.item_id))


@router.get("/review/items/{item_id}/reviews", response_model=ReviewListOut, operation_id="review_reviews_list")
def list_reviews(item_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The item's reviews and skips, oldest first."""
    work.get_item(session, item_id)
    return {"reviews": [work.review_view(r) for r in work.reviews_of(session, item_id)]}


@router.post("/review/items/{item_id}/reviews", status_code=201, response_model=ReviewOut,
             operation_id="review_reviews_create")
def submit(item_id: Id, body: ReviewIn, session: DB, actor: Allowed("annotation.review")) -> dict[str, Any]:
    """Review the item on the queue's rubric: scores on their scales, labels, free text, violation handled, the
    incident it was escalated to. The request's `review_<score>` quality scores become the reviewers' mean."""
    r, request_scores, resolved = work.submit(session, actor, item_id, body)
    return {**work.review_view(r), "violations_resolved": resolved, "request_scores": request_scores,
            "item": work.item_view(session, work.get_item(session, r.item_id))}
