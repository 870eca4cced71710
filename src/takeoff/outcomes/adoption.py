"""Adoption operations: usage policies, enablement (training items and completions), feedback from the use-case
page, and the weekly adoption scorecard. The only writer of usage_policies and the training tables; a figure it
lacks the data for shows as "no evidence", never as a made-up one."""
from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.actor import Actor
from takeoff.core.db import one_of, utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.outcomes import scorecard as rules
from takeoff.outcomes import themes as theme_rules
from takeoff.outcomes.models import TrainingCompletion, TrainingItem, UsagePolicy
from takeoff.outcomes.schemas import AUDIENCES, TrainingItemIn, UsagePolicyIn, WidgetFeedbackIn
from takeoff.core.types import parse_body
from takeoff.outcomes.windows import WEEK_S, incidents_between, production, week_window
from takeoff.outcomes import economics
from takeoff.portfolio import service as portfolio
from takeoff.review import stats as review_stats
from takeoff.telemetry import schemas as telemetry_schemas
from takeoff.telemetry import feedback as telemetry_feedback
from takeoff.telemetry import series as telemetry_series
from takeoff.telemetry import window as telemetry
from takeoff.telemetry.metrics import violations_resolved, violations_with


def set_usage_policy(session: Session, actor: Actor, key: str, data: Any) -> UsagePolicy:
    """Write the use case's usage policy (approved, prohibited, red flags, trust vs verify)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = parse_body(UsagePolicyIn, data)
    row = usage_policy(session, uc.key)
    before = policy_view(row) if row else None
    if row is None:
        row = UsagePolicy(use_case_key=uc.key, updated_by=actor.username)
        session.add(row)
    for k, v in body.model_dump().items():
        setattr(row, k, v)
    row.updated_by, row.updated_at = actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "usage_policy.set", "use_case", uc.key, before, policy_view(row))
    return row


def usage_policy(session: Session, key: str) -> UsagePolicy | None:
    return session.scalar(select(UsagePolicy).where(UsagePolicy.use_case_key == key))


def usage_policies(session: Session, keys: list[str]) -> dict[str, UsagePolicy]:
    """The usage policy of each use case in `keys` that has one, in one query."""
    if not keys:
        return {}
    return {p.use_case_key: p for p in session.scalars(select(UsagePolicy).where(
        one_of(session, UsagePolicy.use_case_key, sorted(set(keys)))))}


def policy_view(p: UsagePolicy | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"approved_uses": list(p.approved_uses or []), "prohibited_uses": list(p.prohibited_uses or []),
            "red_flags": list(p.red_flags or []), "trust_vs_verify": p.trust_vs_verify,
            "updated_by": p.updated_by, "updated_at": p.updated_at.isoformat() if p.updated_at else None}


def add_training_item(session: Session, actor: Actor, key: str, data: Any) -> TrainingItem:
    """Add a training item for an audience of a use case (409 on a duplicate title)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = parse_body(TrainingItemIn, data)
    exists = session.scalar(select(TrainingItem).where(TrainingItem.use_case_key == uc.key,
                                                       TrainingItem.audience == body.audience,
                                                       TrainingItem.title == body.title))
    if exists:
        raise Conflict(f"training item '{body.title}' for {body.audience} already exists")
    row = TrainingItem(use_case_key=uc.key, audience=body.audience, title=body.title, url=body.url,
                       created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "training.add", "use_case", uc.key, None, body.model_dump())
    return row


def complete_training(session: Session, actor: Actor, item_id: int, username: str | None = None) -> TrainingCompletion:
    """Record that a person completed an item; others than oneself need outcome.write. Idempotent."""
    who = username or actor.username
    if who != actor.username:
        actor.require("outcome.write")
    item = session.get(TrainingItem, item_id)
    if item is None:
        raise NotFound(f"training item {item_id} not found")
    if session.scalar(select(User.id).where(User.username == who)) is None:
        raise Invalid(f"unknown person '{who}'", details=[{"field": "username", "message": "unknown person"}])
    row = session.scalar(select(TrainingCompletion).where(TrainingCompletion.item_id == item.id,
                                                          TrainingCompletion.username == who))
    if row is not None:
        return row
    row = TrainingCompletion(item_id=item.id, username=who)
    session.add(row)
    session.flush()
    audit.record(session, actor, "training.complete", "use_case", item.use_case_key, None,
                 {"item": item.title, "audience": item.audience, "username": who})
    return row


def enablement(session: Session, key: str) -> dict[str, Any]:
    """Training items per audience with who completed each, and the people trained (all items of an audience)."""
    items = list(session.scalars(select(TrainingItem).where(TrainingItem.use_case_key == key)
                                 .order_by(TrainingItem.audience, TrainingItem.id)))
    done: dict[int, list[str]] = {}
    if items:
        for c in session.scalars(select(TrainingCompletion).where(
                TrainingCompletion.item_id.in_([i.id for i in items])).order_by(TrainingCompletion.username)):
            done.setdefault(c.item_id, []).append(c.username)
    by_aud: dict[str, list[dict[str, Any]]] = {a: [] for a in AUDIENCES}
    for i in items:
        by_aud[i.audience].append({"id": i.id, "title": i.title, "url": i.url, "completed_by": done.get(i.id, [])})
    trained: set[str] = set()
    for its in by_aud.values():
        if its:
            people = set.intersection(*(set(x["completed_by"]) for x in its))
            trained |= people
    return {"audiences": by_aud, "trained_people": sorted(trained), "items": len(items)}


def record_widget_feedback(session: Session, actor: Actor, key: str, data: Any) -> str:
    """Feedback from the use-case page, stored through the telemetry feedback service (the SDK's path)."""
    actor.require("telemetry.ingest")
    uc = portfolio.get(session, key)
    body = parse_body(WidgetFeedbackIn, data)
    if body.rating is None and not (body.comment or "").strip() and body.time_saved_s is None:
        raise Invalid("give a rating, a comment or the time saved")
    fid = f"web-{uuid.uuid4().hex}"
    fb = telemetry_schemas.FeedbackIn(id=fid, use_case=uc.key, rating=body.rating, comment=(body.comment or "").strip() or None,
                time_saved_s=body.time_saved_s, unit_id=actor.username, ts=utcnow().timestamp())
    telemetry_feedback.record_feedback(session, actor, fb)
    return fid


def _quality_cost(session: Session, key: str, start: datetime, end: datetime, escalations: int,
                  rates: tuple[float, float] | None) -> dict[str, Any]:
    """The week's cost of quality: hours reviewers spent (annotation queues) and, priced with the ROI's hourly rate
    and cost per escalation, review time plus escalations in money (None without ROI assumptions)."""
    reviews, seconds = review_stats.review_time(session, key, start, end)
    hours = round(seconds / 3600, 2)
    cost = None if rates is None else round(hours * rates[0] + escalations * rates[1], 2)
    return {"reviews": reviews, "review_hours": hours, "cost_of_quality": cost}


def weekly_scorecard(session: Session, key: str, weeks: int = 6, now: datetime | None = None) -> dict[str, Any]:
    """Per week: active and repeat users (with week-over-week change), time saved, feedback volume and rating,
    escalations and AI-related incidents; plus top feedback themes with representative comments and the share
    of active users trained."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 52:
        raise Invalid("weeks must be a whole number from 1 to 52")
    uc = portfolio.get(session, key)
    now = now or utcnow()
    start, end = week_window(now, weeks)
    notes: list[str] = []
    prod = production(session, key, start, end)
    active = [v for _, v in telemetry_series.series(session, key, "active_users", start, end, WEEK_S, prod)]
    repeat = [v for _, v in telemetry_series.series(session, key, "repeat_users", start, end, WEEK_S, prod)]
    feedback = telemetry_feedback.feedback_for(session, key, start, end)
    incidents = incidents_between(session, key, start, end)
    rates = economics.quality_rates(session, key)
    rows = []
    for w in range(weeks):
        ws, we = start + timedelta(seconds=WEEK_S * w), start + timedelta(seconds=WEEK_S * (w + 1))
        fb = [f for f in feedback if ws <= f["ts"] < we]
        ratings = [f["rating"] for f in fb if f["rating"] is not None]
        stats = telemetry.window_stats(session, key, prod, ws, we)
        a = active[w] if active else None
        rows.append({
            "week": ws.date().isoformat(),
            "active_users": None if a is None else int(a),
            "repeat_users": None if not repeat or repeat[w] is None else int(repeat[w]),
            "active_change": rules.change(a, active[w - 1]) if active and w else None,
            "calls": stats.count,
            "escalations": stats.outcomes.get("escalated", 0),
            "time_saved_h": round(sum(f["time_saved_s"] or 0 for f in fb) / 3600, 2),
            "feedback": len(fb),
            "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "incidents": sum(1 for i in incidents if ws <= i.detected_at < we),
            "policy_violations": violations_with(stats.violations),
            "policy_blocks": violations_with(stats.violations, "block"),
            "policy_violations_resolved": violations_resolved(stats.violations),
            **_quality_cost(session, key, ws, we, stats.outcomes.get("escalated", 0), rates),
        })
    comments = [f["comment"] for f in feedback if f.get("comment")]
    themes = [asdict(t) for t in theme_rules.feedback_themes(comments)] if comments else []
    en = enablement(session, key)
    last_active = rows[-1]["active_users"] if rows else None
    if last_active is None and len(rows) > 1:
        last_active = rows[-2]["active_users"]
    share = rules.trained_share(len(en["trained_people"]), last_active)
    return {"use_case": key, "name": uc.name, "weeks": rows, "themes": themes, "notes": notes,
            "trained_people": len(en["trained_people"]), "trained_share": share,
            "incident_list": [{"id": i.id, "title": i.title, "severity": i.severity, "status": i.status,
                               "detected_at": i.detected_at.isoformat()} for i in incidents],
            "usage_policy": policy_view(usage_policy(session, key))}


def scorecard_chart(card: dict[str, Any]) -> dict[str, Any]:
    """Chart.js bar/line config: active and repeat users per week."""
    labels = [r["week"] for r in card["weeks"]]
    return {"type": "bar", "data": {"labels": labels, "datasets": [
        {"label": "active users", "data": [r["active_users"] for r in card["weeks"]], "backgroundColor": "#1565c0"},
        {"label": "repeat users", "data": [r["repeat_users"] for r in card["weeks"]], "backgroundColor": "#7cb342"}]},
        "options": {"animation": False, "plugins": {"legend": {"position": "bottom"}}}}
