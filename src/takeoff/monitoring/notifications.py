"""Notifications: webhook channels, and one signed delivery per matching channel and event, queued as a job with
retries (sent outside any transaction)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.config import get_settings
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.core.observability import NOTIFICATIONS
from takeoff.jobs import service as jobs
from takeoff.monitoring import webhooks
from takeoff.monitoring.models import Channel, Delivery
from takeoff.monitoring.schemas import ChannelIn
from takeoff.monitoring.thresholds import invalid_field
from takeoff.portfolio import service as portfolio


EVENTS: tuple[str, ...] = ("alert.firing", "alert.resolved", "incident.opened", "incident.resolved",
                           "canary.breach", "canary.rollback", "drift.detected", "gate.judged",
                           "approval.requested", "test")


# A Jira channel files an issue per event: without a filter of its own, for opened incidents (and its test button).
JIRA_EVENTS: tuple[str, ...] = ("incident.opened", "test")


def notify(session: Session, use_case_key: str, event: str, payload: dict[str, Any]) -> list[Delivery]:
    """Queue one signed webhook delivery per matching channel (sent by jobs with retries; never blocks the caller)."""
    if not isinstance(event, str) or not event:
        raise ValueError("event must be a non-empty string")
    if not isinstance(payload, Mapping):
        raise ValueError("payload must be a mapping")
    uc = portfolio.find(session, use_case_key)
    data = {"on_call": uc.on_call if uc else None, **dict(payload)}
    link = link_back(get_settings().public_url, use_case_key, data)
    if link and "link" not in data:
        data["link"] = link
    at = utcnow().isoformat()
    out: list[Delivery] = []
    for ch in session.scalars(select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id)):
        if ch.use_case_key not in (None, use_case_key) or (ch.events and event not in ch.events):
            continue
        raw = webhooks.body(ch.kind, event, use_case_key, data, at)
        d = Delivery(channel_id=ch.id, use_case_key=use_case_key, event=event, body=raw.decode())
        session.add(d)
        session.flush()
        job = jobs.enqueue(session, "monitoring.deliver", {"delivery_id": d.id}, max_attempts=ch.max_attempts)
        d.job_id = job.id
        out.append(d)
    return out


def link_back(public_url: str | None, use_case_key: str, payload: Mapping[str, Any]) -> str | None:
    """Where a person opens what the notification is about (an incident's page, else the use case's monitoring),
    when the operator set TAKEOFF_PUBLIC_URL; None otherwise (a link to localhost helps nobody)."""
    if not public_url:
        return None
    base = public_url.rstrip("/")
    if isinstance(payload.get("incident_id"), int):
        return f"{base}/incidents/{payload['incident_id']}"
    return f"{base}/usecases/{quote(use_case_key, safe='')}"


def deliver(factory: Any, delivery_id: int, attempt: int) -> dict[str, Any]:
    """Send one delivery once; raise to be retried with backoff, or mark it failed on the channel's last attempt."""
    with factory() as s, s.begin():
        d = s.get(Delivery, delivery_id)
        if d is None or d.status in ("sent", "failed"):
            return {"skipped": True}
        ch = s.get(Channel, d.channel_id)
        if ch is None:
            return {"skipped": True}
        url, raw, secret, event, timeout, max_attempts = (ch.url, d.body.encode(), ch.secret, d.event, ch.timeout_s,
                                                          ch.max_attempts)
        kind = ch.kind
    result = webhooks.send(url, raw, secret, event, timeout, kind=kind)  # outside any transaction: holds no lock
    if result.error:  # a receiver's answer may echo the URL's token or the secret: never stored or logged
        result = dataclasses.replace(result, error=webhooks.scrubbed(result.error, url, secret))
    with factory() as s, s.begin():
        d = s.get(Delivery, delivery_id)
        if d is None:
            return {"skipped": True}
        d.attempts = attempt
        d.last_status_code = result.status_code
        d.last_error = result.error
        if result.ok:
            d.status, d.sent_at = "sent", utcnow()
            NOTIFICATIONS.labels(kind, "sent").inc()
            return {"status": "sent", "attempts": attempt}
        d.status = "failed" if attempt >= max_attempts else "retrying"
    NOTIFICATIONS.labels(kind, "failed" if attempt >= max_attempts else "retrying").inc()
    if attempt >= max_attempts:
        return {"status": "failed", "attempts": attempt, "error": result.error}
    raise RuntimeError(f"webhook delivery {delivery_id} failed: {result.error}")


def create_channel(session: Session, actor: Actor, body: ChannelIn) -> Channel:
    """Register a webhook channel (409 when the name is taken)."""
    try:
        url = webhooks.check_url(body.url)
    except ValueError as exc:
        raise invalid_field(exc, "url") from None
    if body.kind not in webhooks.KINDS:
        raise Invalid(f"kind must be one of {', '.join(webhooks.KINDS)}", details=[{"field": "kind",
                                                                                   "message": "unknown kind"}])
    bad = [e for e in body.events if e not in EVENTS]
    if bad:
        raise Invalid(f"unknown event(s) {', '.join(bad)}; known: {', '.join(EVENTS)}",
                      details=[{"field": "events", "message": "unknown event"}])
    if body.use_case is not None:
        portfolio.get(session, body.use_case)
    if session.scalar(select(Channel).where(Channel.name == body.name)) is not None:
        raise Conflict(f"a channel named '{body.name}' already exists")
    ch = Channel(name=body.name, kind=body.kind, url=url, secret=body.secret, use_case_key=body.use_case,
                 events=list(body.events) or (list(JIRA_EVENTS) if body.kind == "jira" else []),
                 timeout_s=body.timeout_s, max_attempts=body.max_attempts,
                 created_by=actor.username)
    session.add(ch)
    session.flush()
    audit.record(session, actor, "channel.create", "notification_channel", ch.id, None, channel_view(ch))
    return ch


def delete_channel(session: Session, actor: Actor, channel_id: int) -> None:
    """Disable a channel (its deliveries stay visible)."""
    ch = session.get(Channel, channel_id)
    if ch is None:
        raise NotFound(f"channel {channel_id} not found")
    before = channel_view(ch)
    ch.enabled = False
    audit.record(session, actor, "channel.disable", "notification_channel", ch.id, before, channel_view(ch))


def test_channel(session: Session, actor: Actor, channel_id: int) -> Delivery:
    """Queue a 'test' delivery to one channel (to check the URL and the receiver's signature check)."""
    ch = session.get(Channel, channel_id)
    if ch is None:
        raise NotFound(f"channel {channel_id} not found")
    if not ch.enabled:
        raise Conflict(f"channel '{ch.name}' is disabled")
    key = ch.use_case_key or "-"
    raw = webhooks.body(ch.kind, "test", key, {"title": f"test from {actor.username}"}, utcnow().isoformat())
    d = Delivery(channel_id=ch.id, use_case_key=key, event="test", body=raw.decode())
    session.add(d)
    session.flush()
    d.job_id = jobs.enqueue(session, "monitoring.deliver", {"delivery_id": d.id}, max_attempts=ch.max_attempts).id
    return d


def channels(session: Session) -> list[Channel]:
    """Every channel, enabled first."""
    return list(session.scalars(select(Channel).order_by(Channel.enabled.desc(), Channel.id)))


def deliveries(session: Session, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
    """Recent deliveries, newest first."""
    q = select(Delivery)
    if status:
        q = q.where(Delivery.status == status)
    return list(session.scalars(q.order_by(Delivery.id.desc()).limit(limit)))


def channel_view(ch: Channel) -> dict[str, Any]:
    """A channel without its secret."""
    return {"id": ch.id, "name": ch.name, "kind": ch.kind, "url": webhooks.shown_url(ch.url), "use_case": ch.use_case_key,
            "events": list(ch.events or []), "timeout_s": ch.timeout_s, "max_attempts": ch.max_attempts,
            "enabled": ch.enabled}


def delivery_view(d: Delivery) -> dict[str, Any]:
    """A delivery's status and last error."""
    return {"id": d.id, "channel_id": d.channel_id, "use_case": d.use_case_key, "event": d.event,
            "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "created_at": d.created_at.isoformat(),
            "sent_at": d.sent_at.isoformat() if d.sent_at else None}
