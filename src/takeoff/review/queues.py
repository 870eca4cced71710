"""Annotation queues (the only writer of review_queues, review_rules and the items rules or people add): create and
change queues, their sampling rules, run the rules over new request records, add requests by hand or by filter.
Every change is in the audit log."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.portfolio import service as portfolio
from takeoff.releases import queries as releases
from takeoff.requests import queries
from takeoff.review import rubric as rubrics
from takeoff.review import sampling
from takeoff.review.models import ReviewItem, ReviewQueue, ReviewRule
from takeoff.review.schemas import ItemsIn, QueueIn, QueuePatch, RuleIn
from takeoff.telemetry.models import TelemetryEvent, TelemetryFeedback

LAG = timedelta(minutes=2)  # a run reads requests at least this old, so batches still in flight are not passed by
READ_PER_RUN = 20_000  # requests one run reads per queue; the cursor moves to the last one read
FIRST_LOOKBACK = timedelta(days=1)  # a new queue's first run reads the last day
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def invalid(field: str, message: str) -> Invalid:
    """A 422 naming the field."""
    return Invalid(f"{field}: {message}", details=[{"field": field, "message": message}])


def _from_value_error(exc: ValueError, prefix: str = "") -> Invalid:
    field, _, message = str(exc).partition(": ")
    return invalid(f"{prefix}{field}", message or str(exc))


def _rule(body: RuleIn, prefix: str) -> sampling.Rule:
    try:
        return sampling.check_rule(body.kind, body.share, body.max_rating)
    except ValueError as exc:
        raise _from_value_error(exc, prefix) from None


def _rubric(raw: Mapping[str, Any]) -> rubrics.Rubric:
    try:
        return rubrics.make_rubric(raw)
    except ValueError as exc:
        raise _from_value_error(exc) from None


def rubric_of(q: ReviewQueue) -> rubrics.Rubric:
    """The queue's rubric (stored valid)."""
    return rubrics.make_rubric(q.rubric)


def _snapshot(q: ReviewQueue) -> dict[str, Any]:
    return {"use_case": q.use_case_key, "name": q.name, "rubric": q.rubric, "reviews_per_item": q.reviews_per_item,
            "lease_minutes": q.lease_minutes, "max_open_items": q.max_open_items, "active": q.active}


def rule_view(r: ReviewRule) -> dict[str, Any]:
    """A rule as answered."""
    return {"id": r.id, "queue_id": r.queue_id, "kind": r.kind, "share": r.share, "max_rating": r.max_rating,
            "enabled": r.enabled}


def create_queue(session: Session, actor: Actor, body: QueueIn) -> ReviewQueue:
    """A new queue with its rubric and rules (404 unknown use case, 409 name taken, 422 naming a bad field)."""
    actor.require("annotation.write")
    uc = portfolio.get(session, body.use_case.strip())
    if not QUEUE_NAME.match(body.name):
        raise invalid("name", "lower-case letters, digits, - and _ (at most 40, starting with a letter)")
    rubric = _rubric(body.rubric.model_dump())
    rules = [_rule(r, f"rules[{i}].") for i, r in enumerate(body.rules)]
    if session.scalar(select(ReviewQueue.id).where(ReviewQueue.use_case_key == uc.key,
                                                   ReviewQueue.name == body.name)) is not None:
        raise Conflict(f"{uc.key} already has a queue named '{body.name}'",
                       details=[{"field": "name", "message": "taken in this use case"}])
    q = ReviewQueue(use_case_key=uc.key, name=body.name, description=body.description.strip(), rubric=rubric.view(),
                    reviews_per_item=body.reviews_per_item, lease_minutes=body.lease_minutes,
                    max_open_items=body.max_open_items, active=True, created_by=actor.username)
    try:
        with session.begin_nested():
            session.add(q)
    except IntegrityError:
        raise Conflict(f"{uc.key} already has a queue named '{body.name}'") from None
    for r in rules:
        session.add(ReviewRule(queue_id=q.id, kind=r.kind, share=r.share, max_rating=r.max_rating,
                               created_by=actor.username))
    session.flush()
    audit.record(session, actor, "review.queue.create", "review_queue", q.id, None,
                 {**_snapshot(q), "rules": [r.__dict__ for r in rules]})
    return q


def get_queue(session: Session, queue_id: int) -> ReviewQueue:
    """The queue, or 404."""
    q = session.get(ReviewQueue, queue_id) if isinstance(queue_id, int) else None
    if q is None:
        raise NotFound(f"review queue {queue_id} not found")
    return q


def list_queues(session: Session, use_case_key: str | None = None) -> list[ReviewQueue]:
    """Queues (of one use case), by use case and name."""
    q = select(ReviewQueue)
    if use_case_key:
        q = q.where(ReviewQueue.use_case_key == use_case_key)
    return list(session.scalars(q.order_by(ReviewQueue.use_case_key, ReviewQueue.name)))


def update_queue(session: Session, actor: Actor, queue_id: int, body: QueuePatch) -> ReviewQueue:
    """Change the fields given (audited)."""
    actor.require("annotation.write")
    q = get_queue(session, queue_id)
    before = _snapshot(q)
    for name in ("description", "reviews_per_item", "lease_minutes", "max_open_items", "active"):
        v = getattr(body, name)
        if v is not None:
            setattr(q, name, v.strip() if isinstance(v, str) else v)
    if body.reviews_per_item is not None:  # items short of the new count open again; those at it are done
        for item in session.scalars(select(ReviewItem).where(ReviewItem.queue_id == q.id)):
            done = item.reviews >= q.reviews_per_item
            item.status = "done" if done else "open"
            item.completed_at = (item.completed_at or utcnow()) if done else None
    session.flush()
    audit.record(session, actor, "review.queue.update", "review_queue", q.id, before, _snapshot(q))
    return q


def rules_of(session: Session, queue_id: int) -> list[ReviewRule]:
    """The queue's rules in id order."""
    return list(session.scalars(select(ReviewRule).where(ReviewRule.queue_id == queue_id).order_by(ReviewRule.id)))


def add_rule(session: Session, actor: Actor, queue_id: int, body: RuleIn) -> ReviewRule:
    """Add a sampling rule to a queue (audited)."""
    actor.require("annotation.write")
    q = get_queue(session, queue_id)
    r = _rule(body, "")
    row = ReviewRule(queue_id=q.id, kind=r.kind, share=r.share, max_rating=r.max_rating, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "review.rule.add", "review_queue", q.id, None, rule_view(row))
    return row


def remove_rule(session: Session, actor: Actor, queue_id: int, rule_id: int) -> None:
    """Remove a rule of the queue (404 when it is not one of its rules; audited)."""
    actor.require("annotation.write")
    row = session.get(ReviewRule, rule_id)
    if row is None or row.queue_id != queue_id:
        raise NotFound(f"rule {rule_id} is not a rule of queue {queue_id}")
    audit.record(session, actor, "review.rule.remove", "review_queue", queue_id, rule_view(row), None)
    session.delete(row)
    session.flush()


def open_items(session: Session, queue_id: int) -> int:
    """Items of the queue still wanting reviews."""
    return int(session.scalar(select(func.count()).select_from(ReviewItem).where(
        ReviewItem.queue_id == queue_id, ReviewItem.status == "open")) or 0)


def _queued(session: Session, queue_id: int, request_ids: list[str]) -> set[str]:
    if not request_ids:
        return set()
    return set(session.scalars(select(ReviewItem.request_id).where(ReviewItem.queue_id == queue_id,
                                                                  ReviewItem.request_id.in_(request_ids))))


def sample(session: Session, actor: Actor, q: ReviewQueue, now: datetime | None = None,
           since: datetime | None = None) -> dict[str, Any]:
    """Run the queue's enabled rules over the use case's requests from where the last run stopped (or from `since`,
    a backfill that leaves the cursor alone) to two minutes ago, adding the requests they take until the queue holds
    `max_open_items` open items; requests rated low since then count too. Moves the cursor to the last time read."""
    now = now or utcnow()
    end = now if since is not None else now - LAG
    rules = {r.id: sampling.Rule(r.kind, r.share, r.max_rating) for r in rules_of(session, q.id) if r.enabled}
    start = since if since is not None else (q.sampled_through or now - FIRST_LOOKBACK)
    result: dict[str, Any] = {"queue_id": q.id, "read": 0, "added": 0, "by_rule": {}, "capped": False,
                              "sampled_through": q.sampled_through.isoformat() if q.sampled_through else None}
    if not rules or not q.active:
        return result
    E, F = TelemetryEvent, TelemetryFeedback
    rows = list(session.execute(select(E.id, E.ts, E.status, E.release, E.data).where(
        E.use_case == q.use_case_key, E.ts >= start, E.ts <= end).order_by(E.ts, E.id).limit(READ_PER_RUN)))
    low = any(r.kind == "low_rated" for r in rules.values())
    ids = [r.id for r in rows]
    read_ids = set(ids)
    ratings: dict[str, int] = {}
    if low:
        rated_since = [F.received_at >= start] if since is None else [F.ts >= start]
        for rid, rating in session.execute(select(F.request_id, func.min(F.rating)).where(
                F.use_case.in_((q.use_case_key, "")), F.request_id.is_not(None), F.rating.is_not(None),
                *rated_since).group_by(F.request_id)):
            ratings[rid] = rating
    late_rated = [rid for rid in ratings if rid not in read_ids]
    if late_rated:  # rated since the last run, served before it: read them too
        rows += list(session.execute(select(E.id, E.ts, E.status, E.release, E.data).where(
            E.use_case == q.use_case_key, E.id.in_(late_rated[:READ_PER_RUN]))))
    canary = {rel for uc, rel, _ in releases.releases_in_canary(session) if uc == q.use_case_key}
    taken = _queued(session, q.id, [r.id for r in rows])
    room = q.max_open_items - open_items(session, q.id)
    salt = f"review:{q.id}"
    for r in rows:
        if r.id in taken:
            continue
        c = sampling.Candidate(r.id, r.status, r.release or "", len((r.data or {}).get("violations") or []),
                               ratings.get(r.id))
        rule_id = sampling.select(rules, c, salt, canary)
        if rule_id is None:
            continue
        if room <= 0:
            result["capped"] = True
            break
        kind = rules[rule_id].kind
        session.add(ReviewItem(queue_id=q.id, request_id=r.id, request_ts=r.ts, source=f"rule:{kind}",
                               added_by=actor.username))
        taken.add(r.id)
        room -= 1
        result["added"] += 1
        result["by_rule"][kind] = result["by_rule"].get(kind, 0) + 1
    result["read"] = len(rows)
    if since is None:  # the next run starts here (inclusive: a time read in part is read again, harmlessly)
        last = rows[len(ids) - 1].ts if len(ids) >= READ_PER_RUN else end
        if last <= start:  # a whole read at one instant: step past it rather than read it forever
            last = start + timedelta(microseconds=1)
        if q.sampled_through is None or last > q.sampled_through:
            q.sampled_through = last
    result["sampled_through"] = q.sampled_through.isoformat() if q.sampled_through else None
    session.flush()
    if result["added"]:
        audit.record(session, actor, "review.sample", "review_queue", q.id, None,
                     {"added": result["added"], "by_rule": result["by_rule"], "capped": result["capped"]})
    return result


def _filter_params(body: ItemsIn, use_case: str) -> dict[str, str]:
    raw: dict[str, str] = {"use_case": use_case}
    for name, v in (body.filter.model_dump() if body.filter else {}).items():
        if v is None:
            continue
        raw[name] = v.isoformat() if isinstance(v, datetime) else str(v).lower() if isinstance(v, bool) else str(v)
    return raw


def add_items(session: Session, actor: Actor, q: ReviewQueue, body: ItemsIn, unit_key: bytes) -> dict[str, Any]:
    """Add requests by hand: by id (each a request of the queue's use case) or the newest `limit` matching a filter;
    ones already queued are counted, unknown ids named (422 when none is given; audited)."""
    actor.require("annotation.write")
    if not body.request_ids and body.filter is None:
        raise invalid("request_ids", "give request ids or a filter")
    if body.request_ids and body.filter is not None:
        raise invalid("filter", "give request ids or a filter, not both")
    if body.request_ids:
        wanted = list(dict.fromkeys(body.request_ids))
        for i, rid in enumerate(wanted):
            if not rid or len(rid) > 128:
                raise invalid(f"request_ids[{i}]", "a request id of 1 to 128 characters")
        found = {e.id: e for e in session.scalars(select(TelemetryEvent).where(
            TelemetryEvent.id.in_(wanted), TelemetryEvent.use_case == q.use_case_key))}
        missing = [rid for rid in wanted if rid not in found]
        pairs = [(rid, found[rid].ts) for rid in wanted if rid in found]  # in the order given
    else:
        try:
            filters = queries.parse_filters(_filter_params(body, q.use_case_key))
        except Invalid as exc:
            field = (exc.details or [{}])[0].get("field", "filter")
            raise invalid(f"filter.{field}", (exc.details or [{}])[0].get("message", exc.message)) from None
        page = queries.page(session, filters, unit_key, body.limit)
        missing, pairs = [], [(r["id"], datetime.fromisoformat(r["ts"])) for r in page["items"]]
    taken = _queued(session, q.id, [rid for rid, _ in pairs])
    new = [ReviewItem(queue_id=q.id, request_id=rid, request_ts=ts, source="manual", added_by=actor.username)
           for rid, ts in pairs if rid not in taken]
    session.add_all(new)
    session.flush()
    if new:
        audit.record(session, actor, "review.items.add", "review_queue", q.id, None,
                     {"requests": [i.request_id for i in new][:50], "added": len(new)})
    return {"added": len(new), "already": len(taken), "not_found": missing, "items": [i.id for i in new]}
