"""A reviewer's work on a queue (the only writer of review_reviews and review_violation_resolutions): claim an item
with a lease, skip it, review it on the rubric. Review scores go to the request as quality scores (mean over the
item's reviewers, `review_<score>`); a review may mark the request's policy violations handled or link it to an
incident whose resolution resolves them. Progress and agreement of a queue are read here too."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import one_of, utcnow
from takeoff.core.errors import Conflict, NotFound
from takeoff.incidents import service as incidents
from takeoff.review import agreement as agree
from takeoff.review import rubric as rubrics
from takeoff.review.models import Review, ReviewItem, ReviewQueue, ViolationResolution
from takeoff.review.queues import get_queue, invalid, rubric_of
from takeoff.review.schemas import ReviewIn
from takeoff.telemetry import resolutions
from takeoff.telemetry import scores as telemetry_scores
from takeoff.telemetry.models import TelemetryEvent


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _live(item: ReviewItem, now: datetime) -> bool:
    return item.claimed_by is not None and item.lease_until is not None and item.lease_until > now


def item_view(session: Session, item: ReviewItem, q: ReviewQueue | None = None) -> dict[str, Any]:
    """An item as answered, with the mean of each score over its reviews (a claim whose lease ran out is shown as
    unclaimed)."""
    q = q or get_queue(session, item.queue_id)
    now = utcnow()
    live = _live(item, now)
    return {"id": item.id, "queue_id": item.queue_id, "request_id": item.request_id,
            "request_ts": item.request_ts.isoformat(), "source": item.source, "status": item.status,
            "reviews": item.reviews, "reviews_wanted": q.reviews_per_item,
            "claimed_by": item.claimed_by if live else None, "lease_until": _iso(item.lease_until) if live else None,
            "created_at": item.created_at.isoformat(), "completed_at": _iso(item.completed_at),
            "mean_scores": mean_scores(_reviews(session, item.id))}


def _reviews(session: Session, item_id: int) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.item_id == item_id).order_by(Review.id)))


def mean_scores(reviews: list[Review]) -> dict[str, float]:
    """Each rubric score's mean over the reviews that are not skips."""
    sums: dict[str, list[float]] = {}
    for r in reviews:
        if r.skipped:
            continue
        for name, v in (r.scores or {}).items():
            s = sums.setdefault(name, [0.0, 0.0])
            s[0] += v
            s[1] += 1
    return {name: s / n for name, (s, n) in sums.items()}


def review_view(r: Review) -> dict[str, Any]:
    """A review as stored."""
    return {"id": r.id, "item_id": r.item_id, "request_id": r.request_id, "reviewer": r.reviewer,
            "skipped": r.skipped, "scores": dict(r.scores or {}), "labels": list(r.labels or []), "comment": r.comment,
            "violation_handled": r.violation_handled, "incident_id": r.incident_id,
            "seconds_spent": r.seconds_spent, "created_at": r.created_at.isoformat()}


def get_item(session: Session, item_id: int, *, lock: bool = False) -> ReviewItem:
    """The item, or 404 (locked for update on PostgreSQL when `lock`)."""
    stmt = select(ReviewItem).where(ReviewItem.id == item_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    item = session.scalar(stmt) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound(f"review item {item_id} not found")
    return item


def item_for(session: Session, queue_id: int, request_id: str) -> ReviewItem | None:
    """The queue's item of a request, if it has one."""
    return session.scalar(select(ReviewItem).where(ReviewItem.queue_id == queue_id,
                                                   ReviewItem.request_id == request_id))


def list_items(session: Session, queue_id: int, status: str | None = None, limit: int = 200) -> list[ReviewItem]:
    """Items of a queue, oldest first (status open or done)."""
    if status not in (None, "open", "done"):
        raise invalid("status", "open or done")
    q = select(ReviewItem).where(ReviewItem.queue_id == queue_id)
    if status:
        q = q.where(ReviewItem.status == status)
    return list(session.scalars(q.order_by(ReviewItem.id).limit(limit)))


def _mine(session: Session, item_id: int, reviewer: str) -> Review | None:
    return session.scalar(select(Review).where(Review.item_id == item_id, Review.reviewer == reviewer))


def _check_claimable(session: Session, actor: Actor, item: ReviewItem, now: datetime) -> None:
    if item.status == "done":
        raise Conflict(f"review item {item.id} already has the reviews it wants")
    if _live(item, now) and item.claimed_by != actor.username:
        raise Conflict(f"review item {item.id} is taken by {item.claimed_by} until {item.lease_until:%H:%M} UTC")
    if _mine(session, item.id, actor.username) is not None:
        raise Conflict(f"you already reviewed or skipped review item {item.id}")


def claim(session: Session, actor: Actor, item_id: int, now: datetime | None = None) -> ReviewItem:
    """Take an item for the queue's lease (renewed when it is already yours); 409 when another reviewer holds it,
    it is done, or you reviewed or skipped it."""
    actor.require("annotation.review")
    now = now or utcnow()
    item = get_item(session, item_id, lock=True)
    _check_claimable(session, actor, item, now)
    q = get_queue(session, item.queue_id)
    item.claimed_by, item.lease_until = actor.username, now + timedelta(minutes=q.lease_minutes)
    session.flush()
    audit.record(session, actor, "review.claim", "review_item", item.id, None,
                 {"claimed_by": actor.username, "lease_until": item.lease_until.isoformat()})
    return item


def claim_next(session: Session, actor: Actor, queue_id: int, now: datetime | None = None) -> ReviewItem | None:
    """The reviewer's claimed item if any, else the oldest open item nobody holds and they have not reviewed or
    skipped, claimed; None when nothing is left for them."""
    actor.require("annotation.review")
    now = now or utcnow()
    q = get_queue(session, queue_id)
    mine = session.scalar(select(ReviewItem).where(ReviewItem.queue_id == q.id, ReviewItem.status == "open",
                                                  ReviewItem.claimed_by == actor.username,
                                                  ReviewItem.lease_until > now).order_by(ReviewItem.id).limit(1))
    if mine is not None:
        return mine
    seen = select(Review.item_id).where(Review.queue_id == q.id, Review.reviewer == actor.username)
    stmt = select(ReviewItem).where(
        ReviewItem.queue_id == q.id, ReviewItem.status == "open", ReviewItem.id.not_in(seen),
        or_(ReviewItem.claimed_by.is_(None), ReviewItem.lease_until.is_(None), ReviewItem.lease_until <= now),
    ).order_by(ReviewItem.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    item = session.scalar(stmt)
    return claim(session, actor, item.id, now) if item is not None else None


def skip(session: Session, actor: Actor, item_id: int) -> Review:
    """Pass on an item: it stays open for the others and is not offered to this reviewer again (audited)."""
    actor.require("annotation.review")
    now = utcnow()
    item = get_item(session, item_id, lock=True)
    _check_claimable(session, actor, item, now)
    r = Review(item_id=item.id, queue_id=item.queue_id, request_id=item.request_id, reviewer=actor.username,
               skipped=True)
    _insert(session, r)
    if item.claimed_by == actor.username:
        item.claimed_by, item.lease_until = None, None
    session.flush()
    audit.record(session, actor, "review.skip", "review_item", item.id, None, {"reviewer": actor.username})
    return r


def _insert(session: Session, r: Review) -> None:
    try:
        with session.begin_nested():
            session.add(r)
    except IntegrityError:
        raise Conflict(f"you already reviewed or skipped review item {r.item_id}") from None


def submit(session: Session, actor: Actor, item_id: int, body: ReviewIn) -> tuple[Review, dict[str, float], int]:
    """Record a review on the rubric (422 naming a score off its scale or a bad label; 409 when another holds the
    item or it is done). The request's `review_<score>` quality scores become the mean over the item's reviewers;
    returns the review, the request's scores after it and the violations it resolved."""
    actor.require("annotation.review")
    now = utcnow()
    item = get_item(session, item_id, lock=True)
    _check_claimable(session, actor, item, now)
    q = get_queue(session, item.queue_id)
    rubric = rubric_of(q)
    try:
        scores = rubrics.check_review(rubric, body.scores, body.labels, body.comment)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise invalid(field, message) from None
    event = session.get(TelemetryEvent, item.request_id)
    violations = resolutions.violations_of(event) if event is not None else 0
    if body.violation_handled and not violations:
        raise invalid("violation_handled", "this request has no policy violation to handle")
    inc = None
    if body.incident_id is not None:
        try:
            inc = incidents.get(session, body.incident_id)
        except NotFound:
            raise invalid("incident_id", f"no incident {body.incident_id}") from None
        if inc.use_case_key != q.use_case_key:
            raise invalid("incident_id", f"incident {inc.id} is not an incident of {q.use_case_key}")
    spent = None
    if item.claimed_by == actor.username and item.lease_until is not None:
        spent = max((now - (item.lease_until - timedelta(minutes=q.lease_minutes))).total_seconds(), 0.0)
    r = Review(item_id=item.id, queue_id=q.id, request_id=item.request_id, reviewer=actor.username, scores=scores,
               labels=list(body.labels), comment=body.comment.strip(), violation_handled=body.violation_handled,
               incident_id=body.incident_id, seconds_spent=spent)
    _insert(session, r)
    item.reviews += 1
    item.claimed_by, item.lease_until = None, None
    if item.reviews >= q.reviews_per_item:
        item.status, item.completed_at = "done", now
    session.flush()
    request_scores: dict[str, float] = {}
    means = mean_scores(_reviews(session, item.id))
    if means and event is not None:
        request_scores = telemetry_scores.add_request_scores(
            session, actor, item.request_id, {rubrics.score_name(k): v for k, v in means.items()},
            source=f"review:{q.name}")
    resolved = 0
    if event is not None and violations:
        if body.violation_handled:
            resolved = _resolve(session, event, violations, "review", r.id)
        elif inc is not None and inc.status == "resolved":
            resolved = _resolve(session, event, violations, "incident", inc.id)
    audit.record(session, actor, "review.submit", "review_item", item.id, None,
                 {"reviewer": actor.username, "scores": scores, "labels": list(body.labels),
                  "violation_handled": body.violation_handled, "incident_id": body.incident_id,
                  "item_status": item.status})
    return r, request_scores, resolved


def _resolve(session: Session, event: TelemetryEvent, violations: int, via: str, ref: int) -> int:
    """Record the request's violations resolved, once, and count them in the rollups; 0 when already resolved."""
    if session.get(ViolationResolution, event.id) is not None:
        return 0
    session.add(ViolationResolution(request_id=event.id, use_case_key=event.use_case, violations=violations,
                                    via=via, ref=ref))
    session.flush()
    resolutions.add_resolved(session, event, violations)
    return violations


def resolve_for_incident(session: Session, incident_id: int) -> int:
    """The violations of every request a review linked to the incident, resolved now that it is; returns how many."""
    total = 0
    request_ids = sorted(set(session.scalars(select(Review.request_id).where(Review.incident_id == incident_id))))
    for rid in request_ids:
        event = session.get(TelemetryEvent, rid)
        if event is not None:
            total += _resolve(session, event, resolutions.violations_of(event), "incident", incident_id)
    return total


def reviews_of(session: Session, item_id: int) -> list[Review]:
    """An item's reviews and skips in order."""
    return _reviews(session, item_id)


def progress(session: Session, q: ReviewQueue) -> dict[str, int]:
    """Items open, done, held now; reviews and skips made."""
    now = utcnow()
    by_status = dict(session.execute(select(ReviewItem.status, func.count()).where(
        ReviewItem.queue_id == q.id).group_by(ReviewItem.status)).all())
    held = session.scalar(select(func.count()).select_from(ReviewItem).where(
        ReviewItem.queue_id == q.id, ReviewItem.status == "open", ReviewItem.claimed_by.is_not(None),
        ReviewItem.lease_until > now)) or 0
    kinds = dict(session.execute(select(Review.skipped, func.count()).where(Review.queue_id == q.id)
                                 .group_by(Review.skipped)).all())
    return {"items": int(sum(by_status.values())), "open": int(by_status.get("open", 0)),
            "done": int(by_status.get("done", 0)), "claimed": int(held), "reviews": int(kinds.get(False, 0)),
            "skips": int(kinds.get(True, 0))}


def agreement_of(session: Session, q: ReviewQueue) -> list[dict[str, Any]]:
    """Per rubric score: agreement over the queue's items with several reviews."""
    units: dict[int, list[Review]] = {}
    for r in session.scalars(select(Review).where(Review.queue_id == q.id, Review.skipped.is_(False))):
        units.setdefault(r.item_id, []).append(r)
    out = []
    for s in rubric_of(q).scores:
        values = [[float(r.scores[s.name]) for r in rs if s.name in (r.scores or {})] for rs in units.values()]
        a = agree.agreement(values)
        out.append({"score": s.name, "items": a.items, "pairs": a.pairs, "exact": a.exact, "alpha": a.alpha})
    return out


def completed_since(session: Session, use_case_key: str, since: datetime) -> list[tuple[ReviewQueue, int]]:
    """The use case's queues and how many reviews (not skips) each completed since the time."""
    return completed_since_many(session, [use_case_key], since)[use_case_key]


def completed_since_many(session: Session, keys: list[str], since: datetime) -> dict[str, list[tuple[ReviewQueue, int]]]:
    """`completed_since` of each use case in `keys`, in one query whatever their number."""
    out: dict[str, list[tuple[ReviewQueue, int]]] = {k: [] for k in keys}
    if not keys:
        return out
    rows = session.execute(select(ReviewQueue, func.count(Review.id)).outerjoin(
        Review, and_(Review.queue_id == ReviewQueue.id, Review.skipped.is_(False), Review.created_at >= since))
        .where(one_of(session, ReviewQueue.use_case_key, sorted(set(keys)))).group_by(ReviewQueue.id)
        .order_by(ReviewQueue.name, ReviewQueue.id))
    for q, n in rows:
        out[q.use_case_key].append((q, int(n)))
    return out
