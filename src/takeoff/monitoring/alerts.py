"""Alert rules and the alert lifecycle: rules on a metric over a window, fired once per key (deduplicated, an
incident opened through the incidents flow, notified) and resolved when back to normal; the quality alert on
hallucination-like and safety error categories."""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import SYSTEM, Actor
from takeoff.core.db import one_of, utcnow
from takeoff.core.errors import NotFound
from takeoff.core.events import AlertFired, AlertResolved, publish
from takeoff.monitoring import notifications, settings, traffic
from takeoff.monitoring.models import Alert, AlertRule, DriftResult
from takeoff.monitoring.schemas import RuleIn
from takeoff.monitoring.thresholds import (breaches, check_metric, check_op, invalid_field, metric_from_stats,
                                           parse_threshold, parse_window)
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.metrics import QUALITY_ERROR_CATEGORIES as QUALITY_CATEGORIES
from takeoff.telemetry.metrics import quality_errors


QUALITY_MIN_EVENTS = 20
QUALITY_WINDOW_S = 3600


def create_rule(session: Session, actor: Actor, body: RuleIn) -> AlertRule:
    """Add an alert rule; an unknown metric, operator, window or a malformed threshold is a 422 naming the field."""
    try:
        metric = check_metric(body.metric)
    except ValueError as exc:
        raise invalid_field(exc, "metric") from None
    try:
        threshold = parse_threshold(body.threshold)
    except ValueError as exc:
        raise invalid_field(exc, "threshold") from None
    try:
        op = check_op(body.op)
    except ValueError as exc:
        raise invalid_field(exc, "op") from None
    try:
        window_s = parse_window(body.window)
    except ValueError as exc:
        raise invalid_field(exc, "window") from None
    uc = portfolio.get(session, body.use_case)
    name = body.name.strip() or f"{metric} {op} {threshold:g} over {window_s // 60} min"
    rule = AlertRule(use_case_key=uc.key, name=name, metric=metric, op=op, threshold=threshold, window_s=window_s,
                     severity=body.severity, open_incident=body.open_incident, created_by=actor.username)
    session.add(rule)
    session.flush()
    audit.record(session, actor, "alert_rule.create", "alert_rule", rule.id, None, rule_view(rule))
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    """Disable a rule and resolve its firing alert."""
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"alert rule {rule_id} not found")
    before = rule_view(rule)
    rule.enabled = False
    clear(session, f"rule:{rule.id}", utcnow(), "rule disabled")
    audit.record(session, actor, "alert_rule.disable", "alert_rule", rule.id, before, rule_view(rule))


def rules(session: Session, use_case_key: str | None = None) -> list[AlertRule]:
    """Alert rules, enabled first."""
    q = select(AlertRule)
    if use_case_key:
        q = q.where(AlertRule.use_case_key == use_case_key)
    return list(session.scalars(q.order_by(AlertRule.enabled.desc(), AlertRule.id)))


def rules_many(session: Session, keys: list[str]) -> dict[str, list[AlertRule]]:
    """`rules` of each use case in `keys`, in one query."""
    out: dict[str, list[AlertRule]] = {k: [] for k in keys}
    if keys:
        for r in session.scalars(select(AlertRule).where(one_of(session, AlertRule.use_case_key, sorted(set(keys))))
                                 .order_by(AlertRule.enabled.desc(), AlertRule.id)):
            out[r.use_case_key].append(r)
    return out


def rule_view(r: AlertRule) -> dict[str, Any]:
    """A rule as JSON."""
    return {"id": r.id, "use_case": r.use_case_key, "name": r.name, "metric": r.metric, "op": r.op,
            "threshold": r.threshold, "window_s": r.window_s, "severity": r.severity,
            "open_incident": r.open_incident, "enabled": r.enabled}


def alerts(session: Session, *, state: str | None = None, use_case_key: str | None = None,
           limit: int = 200) -> list[Alert]:
    """Alerts newest first."""
    q = select(Alert)
    if state:
        q = q.where(Alert.state == state)
    if use_case_key:
        q = q.where(Alert.use_case_key == use_case_key)
    return list(session.scalars(q.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit)))


def alert_view(a: Alert) -> dict[str, Any]:
    """An alert as JSON."""
    return {"id": a.id, "rule_id": a.rule_id, "use_case": a.use_case_key, "kind": a.kind, "name": a.name,
            "state": a.state, "value": a.value, "threshold": a.threshold, "detail": a.detail,
            "incident_id": a.incident_id, "started_at": a.started_at.isoformat(),
            "last_seen_at": a.last_seen_at.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None}


def fire(session: Session, *, key: str, use_case_key: str, kind: str, name: str, value: float | None,
          threshold: float | None, detail: str, severity: int, now: datetime, rule_id: int | None = None,
          open_incident: bool = True) -> tuple[Alert, bool]:
    """Fire once per key: a firing alert is refreshed; a new one opens its incident and notifies (dedup by key)."""
    existing = session.scalar(select(Alert).where(Alert.fire_key == key))
    if existing is not None:
        existing.last_seen_at, existing.value = now, value
        return existing, False
    alert = Alert(rule_id=rule_id, use_case_key=use_case_key, kind=kind, name=name, fire_key=key, value=value,
                  threshold=threshold, detail=detail, started_at=now, last_seen_at=now)
    try:
        with session.begin_nested():  # a concurrent evaluation may fire the same key: the unique key decides
            session.add(alert)
    except IntegrityError:
        existing = session.scalar(select(Alert).where(Alert.fire_key == key))
        if existing is None:
            raise
        return existing, False
    audit.record(session, SYSTEM, "alert.fire", "alert", alert.id, None, alert_view(alert))
    if open_incident:  # the incidents flow opens (or joins) the alert's incident and answers its id
        answers = publish(session, AlertFired(key=key, use_case_key=use_case_key, kind=kind, name=name,
                                              severity=severity, detail=detail, detected_at=now,
                                              release_id=traffic.production_release_id(session, use_case_key)))
        alert.incident_id = answers[0] if answers else None
    notifications.notify(session, use_case_key, "alert.firing", {"alert_id": alert.id, "name": name, "kind": kind,
                                                   "value": value, "threshold": threshold, "severity": severity,
                                                   "detail": detail, "incident_id": alert.incident_id})
    return alert, True


def clear(session: Session, key: str, now: datetime, why: str = "back to normal") -> Alert | None:
    """Resolve the firing alert of a key (its incident stays open for people to resolve)."""
    alert = session.scalar(select(Alert).where(Alert.fire_key == key))
    if alert is None:
        return None
    alert.state, alert.fire_key, alert.resolved_at = "resolved", None, now
    audit.record(session, SYSTEM, "alert.resolve", "alert", alert.id, None, {"state": "resolved", "why": why})
    # the incident stays open (people confirm recovery), but the incidents flow notes it on its timeline
    publish(session, AlertResolved(alert_id=alert.id, name=alert.name, incident_id=alert.incident_id, why=why, at=now))
    notifications.notify(session, alert.use_case_key, "alert.resolved", {"alert_id": alert.id, "name": alert.name, "why": why,
                                                          "incident_id": alert.incident_id})
    return alert


def rule_value(session: Session, rule: AlertRule, now: datetime) -> float | None:
    """The rule's metric over its window ending now (drift metrics read the latest drift result)."""
    if rule.metric == "drift" or rule.metric.startswith("drift:"):
        last = session.scalar(select(DriftResult).where(DriftResult.use_case_key == rule.use_case_key)
                              .order_by(DriftResult.id.desc()).limit(1))
        if last is None or last.status == "not_enough_data":
            return None
        if rule.metric == "drift":
            return float(len(last.drifted or []))
        feature = rule.metric[len("drift:"):]
        for f in (last.report or {}).get("features", []):
            if f.get("feature") == feature:
                return float((f.get("statistics") or {}).get("psi", 0.0))
        return None
    start = now - timedelta(seconds=rule.window_s)
    if rule.metric == "repeat_users":
        # returning users of the rule's window against the window before it, production traffic of both
        prod = traffic.production_releases(session, rule.use_case_key, start - timedelta(seconds=rule.window_s), now)
        return telemetry_window.returning_units(session, rule.use_case_key, prod, start, now)
    ws = traffic.production_totals(session, rule.use_case_key, start, now)
    return None if ws is None else metric_from_stats(rule.metric, ws, rule.window_s)


def evaluate_rule(session: Session, rule: AlertRule, now: datetime | None = None) -> dict[str, Any]:
    """Evaluate one rule now: fire (once, deduplicated) when breached, resolve when back to normal."""
    now = now or utcnow()
    value = rule_value(session, rule, now)
    key = f"rule:{rule.id}"
    if breaches(rule.op, value, rule.threshold):
        detail = f"{rule.metric} = {value:.4g} {rule.op} {rule.threshold:g} over the last {rule.window_s // 60} min"
        alert, new = fire(session, key=key, use_case_key=rule.use_case_key, kind="alert", name=rule.name,
                           value=value, threshold=rule.threshold, detail=detail, severity=rule.severity, now=now,
                           rule_id=rule.id, open_incident=rule.open_incident)
        return {"rule_id": rule.id, "state": "firing", "value": value, "new": new, "alert_id": alert.id}
    if value is not None:
        clear(session, key, now)
    return {"rule_id": rule.id, "state": "ok" if value is not None else "no_data", "value": value}


def evaluate_quality(session: Session, uc: UseCase, now: datetime | None = None) -> dict[str, Any]:
    """Fire the use case's quality alert when hallucination-like / safety errors exceed their share of the last
    hour's production traffic. Eval runs never count: their failures are judged by the release gate, and a use case
    that serves nothing in production has no production alert."""
    now = now or utcnow()
    s = settings.setting(session, uc.key)
    threshold = s.quality_error_threshold if s else 0.02
    since = now - timedelta(seconds=QUALITY_WINDOW_S)
    ws = traffic.production_totals(session, uc.key, since, now)
    cats = dict(ws.error_categories) if ws is not None else {}
    total = ws.count if ws is not None else 0
    if total < QUALITY_MIN_EVENTS:
        return {"state": "no_data"}
    rate = quality_errors(cats) / total
    key = f"quality:{uc.key}"
    if rate > threshold:
        listed = ", ".join(f"{k} {n}" for k, n in sorted(cats.items()) if k in QUALITY_CATEGORIES)
        severity = 2 if cats.get("unsafe_output") else 3
        fire(session, key=key, use_case_key=uc.key, kind="quality", name=f"{uc.key}: quality errors",
              value=rate, threshold=threshold,
              detail=f"{rate:.1%} of {total} production events in the last hour ({listed})",
              severity=severity, now=now)
        return {"state": "firing", "rate": rate}
    clear(session, key, now)
    return {"state": "ok", "rate": rate}


def error_categories_over_time(session: Session, key: str, end: datetime | None = None, buckets: int = 14,
                               step_s: int = 86400) -> dict[str, Any]:
    """Error categories of production traffic per bucket (default: per day over two weeks) for the use-case page."""
    end = end or utcnow()
    end = datetime.fromtimestamp(math.ceil(end.timestamp() / step_s) * step_s, tz=end.tzinfo)
    labels: list[str] = []
    per: list[dict[str, int]] = []
    prod = traffic.production_releases(session, key, end - timedelta(seconds=buckets * step_s), end)
    for i in range(buckets, 0, -1):
        lo, hi = end - timedelta(seconds=i * step_s), end - timedelta(seconds=(i - 1) * step_s)
        ws = traffic.window_totals(session, key, prod, lo, hi)
        labels.append(lo.strftime("%m-%d") if step_s >= 86400 else lo.strftime("%H:%M"))
        per.append(dict(ws.error_categories) if ws is not None else {})
    cats = sorted({c for p in per for c in p})
    return {"labels": labels, "categories": cats, "series": {c: [p.get(c, 0) for p in per] for c in cats},
            "total": sum(sum(p.values()) for p in per)}
