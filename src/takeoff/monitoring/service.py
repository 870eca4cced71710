"""Monitoring operations (the only writer of the monitoring tables): notifications, alert rules and their
evaluation, SLOs and error budgets, drift checks, the quality alert and canary analysis with automatic rollback.

Every read of live behaviour goes through the telemetry contract (window_stats, series, set_baseline), consumed
defensively: without telemetry a check reports "not enough data" instead of failing. Checks read production
traffic only (production_releases): eval runs never count, nor telemetry of a release that never went live.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.core.actor import SYSTEM, Actor
from takeoff.audit import service as audit
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.core.events import AlertFired, AlertResolved, CanaryBreached, publish
from takeoff.jobs import service as jobs
from takeoff.monitoring import canary as canary_math
from takeoff.monitoring import drift as drift_math
from takeoff.monitoring import slo as slo_math
from takeoff.monitoring import webhooks
from takeoff.monitoring.models import (Alert, AlertRule, CanaryCheck, Channel, Delivery, DriftResult,
                                       MonitorSetting)
from takeoff.monitoring.schemas import BaselineIn, ChannelIn, RuleIn, SettingsIn
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.releases import service as release_service
from takeoff.releases.models import Release
from takeoff.telemetry import histogram, rollup
from takeoff.telemetry import baselines as telemetry_baselines
from takeoff.telemetry import series as telemetry_series
from takeoff.telemetry import window as telemetry

log = logging.getLogger("takeoff.monitoring")

# --------------------------------------------------------------------------------------------- pure rules
TELEMETRY_METRICS: tuple[str, ...] = (
    "latency_p50", "latency_p95", "latency_p99", "throughput", "error_rate", "fallback_rate", "tokens",
    "cost_per_task", "cost_per_active_user", "override_rate", "escalation_rate", "active_users", "repeat_users")
MONITOR_METRICS: tuple[str, ...] = ("error_category_rate", "drift")
OPS: dict[str, Any] = {">": lambda v, t: v > t, ">=": lambda v, t: v >= t, "<": lambda v, t: v < t,
                       "<=": lambda v, t: v <= t}
# Hallucination-like and safety errors (the SDK's error categories, minus plain technical failures).
QUALITY_CATEGORIES: tuple[str, ...] = ("wrong_answer", "unsafe_output", "missing_context", "format_error")
QUALITY_MIN_EVENTS = 20
QUALITY_WINDOW_S = 3600
EVENTS: tuple[str, ...] = ("alert.firing", "alert.resolved", "incident.opened", "incident.resolved",
                           "canary.breach", "canary.rollback", "drift.detected", "test")
SLO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "3d", "30d")
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_WINDOW_S, MAX_WINDOW_S = 60, 30 * 86400


def parse_window(value: Any) -> int:
    """A window in seconds from '5m', '1h', '2d', '90s' or a number of seconds (1 minute to 30 days)."""
    if isinstance(value, bool):
        raise ValueError(f"window must be like '5m', '1h' or seconds, got {value!r}")
    if isinstance(value, (int, float)) and math.isfinite(value):
        seconds = int(value)
    elif isinstance(value, str) and (m := _WINDOW.match(value)):
        seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    else:
        raise ValueError(f"window must be like '5m', '1h' or seconds, got {value!r}")
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValueError(f"window must be between 1 minute and 30 days, got {seconds} s")
    return seconds


def check_metric(metric: Any) -> str:
    """A metric an alert rule may watch: a metrics API name, quality_<score>, error_category_rate, drift[:feature]."""
    if isinstance(metric, str):
        m = metric.strip()
        if m in TELEMETRY_METRICS or m in MONITOR_METRICS:
            return m
        if (m.startswith("quality_") and len(m) > 8) or (m.startswith("drift:") and len(m) > 6):
            return m
    raise ValueError(f"unknown metric {metric!r}; known: {', '.join(TELEMETRY_METRICS + MONITOR_METRICS)}, "
                     "quality_<score name>, drift:<feature>")


def parse_threshold(value: Any) -> float:
    """A finite number (or numeric text) to compare a metric with."""
    if isinstance(value, bool):
        raise ValueError(f"threshold must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"threshold must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"threshold must be a finite number, got {value!r}")
    return float(value)


def check_op(op: Any) -> str:
    """One of >, >=, <, <=."""
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    return str(op)


def breaches(op: str, value: float | None, threshold: float) -> bool:
    """Whether a value breaks the rule; no value (no data) never fires."""
    return value is not None and bool(OPS[check_op(op)](value, threshold))


def quality_errors(error_categories: Mapping[str, int]) -> int:
    """Events tagged with a hallucination-like or safety error category."""
    return sum(int(n) for k, n in error_categories.items() if k in QUALITY_CATEGORIES)


def metric_from_stats(metric: str, ws: Any, window_s: int) -> float | None:
    """The value of a metric over one window from WindowStats-like totals; None where there is no data."""
    count = int(getattr(ws, "count", 0) or 0)
    if metric == "throughput":
        return count / (window_s / 60.0)
    if metric == "tokens":
        tokens = getattr(ws, "tokens", {}) or {}
        return float(tokens.get("input", 0) + tokens.get("output", 0))
    if metric == "active_users":
        return float(getattr(ws, "active_units", 0) or 0)
    if metric.startswith("latency_p"):
        counts = list(getattr(ws, "latency_counts", []) or [])
        if not sum(counts):
            return None
        return histogram.quantile(counts, int(metric[len("latency_p"):]) / 100.0)
    if metric.startswith("quality_"):
        s = (getattr(ws, "scores", {}) or {}).get(metric[len("quality_"):])
        return s[1] / s[0] if s and s[0] else None
    if metric in ("override_rate", "escalation_rate"):
        outcomes = getattr(ws, "outcomes", {}) or {}
        total = sum(outcomes.values())
        key = "overridden" if metric == "override_rate" else "escalated"
        return outcomes.get(key, 0) / total if total else None
    if metric == "cost_per_active_user":
        units = int(getattr(ws, "active_units", 0) or 0)
        return float(ws.cost_usd) / units if units else None
    if count == 0:
        return None
    if metric == "error_rate":
        return ws.errors / count
    if metric == "fallback_rate":
        return ws.fallbacks / count
    if metric == "cost_per_task":
        return float(ws.cost_usd) / count
    if metric == "error_category_rate":
        return quality_errors(getattr(ws, "error_categories", {}) or {}) / count
    raise ValueError(f"metric {metric!r} is not computed from window totals")


def slo_targets(targets: Any) -> dict[str, float]:
    """The slo.py target mapping from a use case's ScaleTargets (uptime wins over max error rate)."""
    out: dict[str, float] = {}
    if getattr(targets, "uptime_pct", None) is not None:
        out["availability"] = round(targets.uptime_pct / 100.0, 10)
    elif getattr(targets, "max_error_rate", None) is not None:
        out["max_error_rate"] = targets.max_error_rate
    if getattr(targets, "latency_p95_ms", None) is not None:
        out["latency_p95_ms"] = targets.latency_p95_ms
    if getattr(targets, "min_eval_pass_rate", None) is not None:
        out["min_quality"] = targets.min_eval_pass_rate
    if getattr(targets, "cost_per_task_usd", None) is not None and targets.cost_per_task_usd > 0:
        out["cost_per_task"] = targets.cost_per_task_usd
    # slo.py refuses an availability of exactly 1 (no budget at all); keep a sliver so budgets stay defined
    if out.get("availability") == 1.0:
        out["availability"] = 0.99999
    return out


def good_total(slo: slo_math.SLO, ws: Any, cost_slices: tuple[float, float] | None = None) -> tuple[float, float]:
    """(good, total) events of one SLO in one window; quality reads a 0/1 'pass' score, else outcomes."""
    if slo.name == "availability":
        return float(ws.count - ws.errors), float(ws.count)
    if slo.name == "latency_p95":
        counts = list(ws.latency_counts)
        total = float(sum(counts))
        return (min(slo_math.latency_good_count(counts, slo.threshold), total) if total else 0.0), total
    if slo.name == "quality":
        return rollup.quality_good_total(ws.scores or {}, ws.outcomes)
    return cost_slices or (0.0, 0.0)


OUTPUT_LATENCY, OUTPUT_OUTCOME = "output:latency_ms", "output:outcome"


def with_outputs(ws: Any) -> dict[str, Any]:
    """A window's feature histograms plus its outputs: latency on the fixed log bins, outcomes as categories."""
    feats = dict(getattr(ws, "features", {}) or {})
    counts = list(getattr(ws, "latency_counts", []) or [])
    if sum(counts) and len(counts) == len(histogram.LATENCY_EDGES_MS) + 1:
        # the fixed log-scale bins: bucket i holds [E[i-1], E[i]), the first and last are open-ended
        feats[OUTPUT_LATENCY] = {"kind": "numeric", "edges": list(histogram.LATENCY_EDGES_MS), "counts": counts}
    outcomes = dict(getattr(ws, "outcomes", {}) or {})
    if sum(outcomes.values()):
        feats[OUTPUT_OUTCOME] = {"kind": "categorical", "edges": None, "counts": outcomes}
    return feats


def drift_specs(reference: Mapping[str, Any], current: Mapping[str, Any],
                only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """drift.check_features input from two window_stats feature maps (same baseline bins); features missing
    from the current window count as empty."""
    specs: dict[str, dict[str, Any]] = {}
    for name, ref in reference.items():
        if only and name not in only:
            continue
        cur = current.get(name)
        kind = ref.get("kind")
        if kind == "numeric":
            edges = ref.get("edges")
            if not edges:
                continue
            ref_counts = list(ref.get("counts") or [])
            if cur is None or cur.get("kind") != "numeric" or len(cur.get("counts") or []) != len(ref_counts):
                cur_counts = [0] * len(ref_counts)
            else:
                cur_counts = list(cur["counts"])
            specs[name] = {"kind": "numeric", "edges": list(edges), "reference": ref_counts, "current": cur_counts}
        elif kind == "categorical":
            cur_counts = dict(cur.get("counts") or {}) if cur and cur.get("kind") == "categorical" else {}
            specs[name] = {"kind": "categorical", "reference": dict(ref.get("counts") or {}), "current": cur_counts}
    return specs


def canary_side(ws: Any, quality_score: str | None) -> dict[str, Any]:
    """canary.py's stats of one side from WindowStats; cost per task counts every event (no cost = 0 USD)."""
    side: dict[str, Any] = {"requests": int(ws.count), "errors": int(ws.errors),
                            "latency_histogram": list(ws.latency_counts),
                            "cost": {"n": int(ws.count), "sum": float(ws.cost_usd),
                                     "sum_sq": float(getattr(ws, "cost_sq", 0.0) or 0.0)}}
    s = (ws.scores or {}).get(quality_score) if quality_score else None
    if s:
        side["quality"] = {"n": int(s[0]), "sum": float(s[1]), "sum_sq": float(s[2])}
    return side


def _cost_spread_known(ws: Any) -> bool:
    """False when costs were summed without their squares (rows from before cost_sq): sum_sq < sum²/n is impossible."""
    total, sq, n = float(ws.cost_usd or 0), float(getattr(ws, "cost_sq", 0) or 0), int(ws.count or 0)
    return total <= 0 or (n > 0 and sq * n >= total * total * (1 - 1e-9))


# --------------------------------------------------------------------------------------------- plumbing


def _invalid(exc: ValueError, field: str) -> Invalid:
    return Invalid(str(exc), details=[{"field": field, "message": str(exc)}])


def _ws(session: Session, key: str, release_id: str | list[str] | None, start: datetime, end: datetime) -> Any | None:
    return telemetry.window_stats(session, key, release_id, start, end)


# A release in one of these statuses serves or served real users, so its telemetry is production traffic; a release
# that never went live (draft, evaluating, awaiting approval, approved, rejected) only sends staging traffic.
LIVE_RELEASE_STATUSES: frozenset[str] = frozenset({"canary", "production", "superseded", "rolled_back"})


def staging_releases(session: Session, key: str) -> set[str]:
    """Ids of the use case's releases that never served production traffic."""
    rows = session.execute(select(Release.version, Release.status).where(Release.use_case_key == key))
    return {f"{key}:{version}" for version, status in rows if status not in LIVE_RELEASE_STATUSES}


def production_releases(session: Session, key: str, start: datetime, end: datetime) -> list[str] | None:
    """The telemetry of a window that is production traffic: None when all of it is (the usual case), else the
    release tags that are ("" = events without a release). Events tagged with a release of the use case that never
    went live are not; events without a release, or with a tag takeoff does not know, are the application's own
    traffic and count. Eval runs never reach telemetry: they feed gates, release pages and eval history only."""
    staging = staging_releases(session, key)
    if not staging:
        return None
    tags = set(telemetry.releases_in_window(session, key, start, end))
    if not tags & staging:
        return None
    return sorted(tags - staging)


def _production_ws(session: Session, key: str, start: datetime, end: datetime) -> Any | None:
    """Window totals of the use case's production traffic only."""
    return _ws(session, key, production_releases(session, key, start, end), start, end)


def _production_id(session: Session, key: str) -> str | None:
    rel = release_service.current_release(session, key)
    return rel.release_id if rel is not None else None


# --------------------------------------------------------------------------------------------- notifications
def notify(session: Session, use_case_key: str, event: str, payload: dict[str, Any]) -> list[Delivery]:
    """Queue one signed webhook delivery per matching channel (sent by jobs with retries; never blocks the caller)."""
    if not isinstance(event, str) or not event:
        raise ValueError("event must be a non-empty string")
    if not isinstance(payload, Mapping):
        raise ValueError("payload must be a mapping")
    uc = portfolio.find(session, use_case_key)
    data = {"on_call": uc.on_call if uc else None, **dict(payload)}
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
    result = webhooks.send(url, raw, secret, event, timeout)  # outside any transaction: never holds a lock
    with factory() as s, s.begin():
        d = s.get(Delivery, delivery_id)
        if d is None:
            return {"skipped": True}
        d.attempts = attempt
        d.last_status_code = result.status_code
        d.last_error = result.error
        if result.ok:
            d.status, d.sent_at = "sent", utcnow()
            return {"status": "sent", "attempts": attempt}
        d.status = "failed" if attempt >= max_attempts else "retrying"
    if attempt >= max_attempts:
        return {"status": "failed", "attempts": attempt, "error": result.error}
    raise RuntimeError(f"webhook delivery {delivery_id} failed: {result.error}")


def create_channel(session: Session, actor: Actor, body: ChannelIn) -> Channel:
    """Register a webhook channel (409 when the name is taken)."""
    try:
        url = webhooks.check_url(body.url)
    except ValueError as exc:
        raise _invalid(exc, "url") from None
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
                 events=list(body.events), timeout_s=body.timeout_s, max_attempts=body.max_attempts,
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
    return {"id": ch.id, "name": ch.name, "kind": ch.kind, "url": ch.url, "use_case": ch.use_case_key,
            "events": list(ch.events or []), "timeout_s": ch.timeout_s, "max_attempts": ch.max_attempts,
            "enabled": ch.enabled}


def delivery_view(d: Delivery) -> dict[str, Any]:
    """A delivery's status and last error."""
    return {"id": d.id, "channel_id": d.channel_id, "use_case": d.use_case_key, "event": d.event,
            "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "created_at": d.created_at.isoformat(),
            "sent_at": d.sent_at.isoformat() if d.sent_at else None}


# --------------------------------------------------------------------------------------------- settings
def _setting(session: Session, key: str) -> MonitorSetting | None:
    return session.scalar(select(MonitorSetting).where(MonitorSetting.use_case_key == key))


def auto_rollback_enabled(uc: UseCase, setting: MonitorSetting | None) -> bool:
    """The stored choice, else the default: on for high-tier use cases."""
    if setting is not None and setting.auto_rollback is not None:
        return bool(setting.auto_rollback)
    return uc.risk_tier == "high"


def settings_view(session: Session, key: str) -> dict[str, Any]:
    """A use case's effective monitoring settings, including the rollback trigger rule in words."""
    uc = portfolio.get(session, key)
    s = _setting(session, key)
    auto = auto_rollback_enabled(uc, s)
    min_sample = s.canary_min_sample if s else canary_math.DEFAULT_MIN_SAMPLE
    window = s.canary_window_s if s else 3600
    rule = (f"While a release is in canary, every minute its last {window // 60} min are compared with production "
            f"on error rate, latency p95 and quality score (at least {min_sample} requests on each side). "
            + ("A breach rolls the canary back automatically, opens a severity-2 incident and notifies the on-call."
               if auto else "A breach opens a severity-2 incident and notifies the on-call; automatic rollback is off."))
    return {"use_case": key, "auto_rollback": auto, "auto_rollback_source": "set" if s and s.auto_rollback is not None
            else f"default for {uc.risk_tier or 'unclassified'} tier",
            "drift_thresholds": drift_math.resolve_thresholds((s.drift_thresholds if s else None) or None),
            "drift_features": list(s.drift_features or []) if s else [],
            "drift_window_s": s.drift_window_s if s else 3600,
            "baseline_start": s.baseline_start.isoformat() if s and s.baseline_start else None,
            "baseline_end": s.baseline_end.isoformat() if s and s.baseline_end else None,
            "canary_min_sample": min_sample, "canary_window_s": window,
            "quality_error_threshold": s.quality_error_threshold if s else 0.02,
            "on_call": uc.on_call, "rollback_trigger": rule}


def _ensure_setting(session: Session, key: str) -> MonitorSetting:
    s = _setting(session, key)
    if s is None:
        try:
            with session.begin_nested():
                s = MonitorSetting(use_case_key=key)
                session.add(s)
        except IntegrityError:
            s = _setting(session, key)
            assert s is not None
    return s


def update_settings(session: Session, actor: Actor, key: str, body: SettingsIn) -> dict[str, Any]:
    """Change a use case's monitoring settings (validated before anything is written)."""
    portfolio.get(session, key)
    fields = body.model_dump(exclude_unset=True)
    if "drift_thresholds" in fields:
        try:
            drift_math.resolve_thresholds(fields["drift_thresholds"] or {})
        except ValueError as exc:
            raise _invalid(exc, "drift_thresholds") from None
        fields["drift_thresholds"] = fields["drift_thresholds"] or {}
    if "drift_features" in fields:
        fields["drift_features"] = fields["drift_features"] or []
    before = settings_view(session, key)
    s = _ensure_setting(session, key)
    for k, v in fields.items():
        if v is not None or k == "auto_rollback":
            setattr(s, k, v)
    session.flush()
    after = settings_view(session, key)
    audit.record(session, actor, "monitoring.settings", "use_case", key, before, after)
    return after


def set_baseline(session: Session, actor: Actor, key: str, body: BaselineIn) -> dict[str, Any]:
    """Freeze feature bins from the window (telemetry) and make it the drift reference window."""
    portfolio.get(session, key)
    if body.start.tzinfo is None or body.end.tzinfo is None or body.start >= body.end:
        raise Invalid("the baseline window needs timezone-aware start < end",
                      details=[{"field": "start", "message": "start must be before end, both with a timezone"}])
    frozen: dict[str, Any] | None = telemetry_baselines.set_baseline(session, actor, key, body.release_id, body.start, body.end)
    ref_start, ref_end = body.reference_start or body.start, body.reference_end or body.end
    if ref_start.tzinfo is None or ref_end.tzinfo is None or ref_start >= ref_end:
        raise Invalid("the reference window needs timezone-aware reference_start < reference_end",
                      details=[{"field": "reference_start", "message": "start must be before end"}])
    s = _ensure_setting(session, key)
    s.baseline_start, s.baseline_end = ref_start, ref_end
    audit.record(session, actor, "monitoring.baseline", "use_case", key, None,
                 {"start": body.start.isoformat(), "end": body.end.isoformat(), "release": body.release_id,
                  "reference_start": ref_start.isoformat(), "reference_end": ref_end.isoformat()})
    return {"use_case": key, "start": body.start.isoformat(), "end": body.end.isoformat(),
            "reference_start": ref_start.isoformat(), "reference_end": ref_end.isoformat(),
            "features": sorted((frozen or {}).get("features", {}))}


# --------------------------------------------------------------------------------------------- rules
def create_rule(session: Session, actor: Actor, body: RuleIn) -> AlertRule:
    """Add an alert rule; an unknown metric, operator, window or a malformed threshold is a 422 naming the field."""
    try:
        metric = check_metric(body.metric)
    except ValueError as exc:
        raise _invalid(exc, "metric") from None
    try:
        threshold = parse_threshold(body.threshold)
    except ValueError as exc:
        raise _invalid(exc, "threshold") from None
    try:
        op = check_op(body.op)
    except ValueError as exc:
        raise _invalid(exc, "op") from None
    try:
        window_s = parse_window(body.window)
    except ValueError as exc:
        raise _invalid(exc, "window") from None
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
    _clear(session, f"rule:{rule.id}", utcnow(), "rule disabled")
    audit.record(session, actor, "alert_rule.disable", "alert_rule", rule.id, before, rule_view(rule))


def rules(session: Session, use_case_key: str | None = None) -> list[AlertRule]:
    """Alert rules, enabled first."""
    q = select(AlertRule)
    if use_case_key:
        q = q.where(AlertRule.use_case_key == use_case_key)
    return list(session.scalars(q.order_by(AlertRule.enabled.desc(), AlertRule.id)))


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


def _fire(session: Session, *, key: str, use_case_key: str, kind: str, name: str, value: float | None,
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
                                              release_id=_production_id(session, use_case_key)))
        alert.incident_id = answers[0] if answers else None
    notify(session, use_case_key, "alert.firing", {"alert_id": alert.id, "name": name, "kind": kind,
                                                   "value": value, "threshold": threshold, "severity": severity,
                                                   "detail": detail, "incident_id": alert.incident_id})
    return alert, True


def _clear(session: Session, key: str, now: datetime, why: str = "back to normal") -> Alert | None:
    """Resolve the firing alert of a key (its incident stays open for people to resolve)."""
    alert = session.scalar(select(Alert).where(Alert.fire_key == key))
    if alert is None:
        return None
    alert.state, alert.fire_key, alert.resolved_at = "resolved", None, now
    audit.record(session, SYSTEM, "alert.resolve", "alert", alert.id, None, {"state": "resolved", "why": why})
    # the incident stays open (people confirm recovery), but the incidents flow notes it on its timeline
    publish(session, AlertResolved(alert_id=alert.id, name=alert.name, incident_id=alert.incident_id, why=why, at=now))
    notify(session, alert.use_case_key, "alert.resolved", {"alert_id": alert.id, "name": alert.name, "why": why,
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
        series = telemetry_series.series
        step = max(60, rule.window_s // 60 * 60)
        # repeat users look back one window before the start: the production traffic of both windows
        prod = production_releases(session, rule.use_case_key, start - timedelta(seconds=rule.window_s), now)
        values = [v for _, v in series(session, rule.use_case_key, "repeat_users", start, now, step, prod)
                  if v is not None]
        return values[-1] if values else None
    ws = _production_ws(session, rule.use_case_key, start, now)
    return None if ws is None else metric_from_stats(rule.metric, ws, rule.window_s)


def evaluate_rule(session: Session, rule: AlertRule, now: datetime | None = None) -> dict[str, Any]:
    """Evaluate one rule now: fire (once, deduplicated) when breached, resolve when back to normal."""
    now = now or utcnow()
    value = rule_value(session, rule, now)
    key = f"rule:{rule.id}"
    if breaches(rule.op, value, rule.threshold):
        detail = f"{rule.metric} = {value:.4g} {rule.op} {rule.threshold:g} over the last {rule.window_s // 60} min"
        alert, new = _fire(session, key=key, use_case_key=rule.use_case_key, kind="alert", name=rule.name,
                           value=value, threshold=rule.threshold, detail=detail, severity=rule.severity, now=now,
                           rule_id=rule.id, open_incident=rule.open_incident)
        return {"rule_id": rule.id, "state": "firing", "value": value, "new": new, "alert_id": alert.id}
    if value is not None:
        _clear(session, key, now)
    return {"rule_id": rule.id, "state": "ok" if value is not None else "no_data", "value": value}


# --------------------------------------------------------------------------------------------- SLOs
def _cost_slices(session: Session, key: str, threshold: float, start: datetime, end: datetime,
                 releases: list[str] | None = None) -> tuple[float, float]:
    series = telemetry_series.series
    step = 60 if (end - start) <= timedelta(days=3) else 3600
    values = [v for _, v in series(session, key, "cost_per_task", start, end, step, releases) if v is not None]
    return float(sum(1 for v in values if v <= threshold)), float(len(values))


def slo_status(session: Session, uc: UseCase, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each SLO of the use case with its error budget over 30 days and the burn-rate alert pairs."""
    now = now or utcnow()
    targets = slo_targets(portfolio.targets(uc))
    if not targets:
        return []
    slos = slo_math.slos_from_targets(targets)
    stats: dict[str, Any] = {}
    widest = max(slo_math.duration_minutes(w) for w in SLO_WINDOWS)
    prod = production_releases(session, uc.key, now - timedelta(minutes=widest), now)  # one answer for every window
    for w in SLO_WINDOWS:
        ws = _ws(session, uc.key, prod, now - timedelta(minutes=slo_math.duration_minutes(w)), now)
        if ws is None:
            return [{"slo": s.name, "objective": s.objective, "description": s.description, "sli": None,
                     "remaining_budget": None, "firing": [], "pairs": [], "events": 0} for s in slos]
        stats[w] = ws
    out = []
    for s in slos:
        data = {}
        for w, ws in stats.items():
            cost = None
            if s.name == "cost_per_task":
                start = now - timedelta(minutes=slo_math.duration_minutes(w))
                cost = _cost_slices(session, uc.key, float(s.threshold or 0), start, now, prod)
            data[w] = good_total(s, ws, cost)
        ev = slo_math.multiwindow_alerts(s, data)
        budget = slo_math.error_budget(s, *data[s.window])
        out.append({"slo": s.name, "objective": s.objective, "threshold": s.threshold, "description": s.description,
                    "sli": budget.sli, "remaining_budget": budget.remaining, "events": int(data[s.window][1]),
                    **{k: v for k, v in ev.to_dict().items() if k in ("firing", "pairs")}})
    return out


def evaluate_slos(session: Session, uc: UseCase, now: datetime | None = None) -> list[dict[str, Any]]:
    """Fire or clear one burn-rate alert per SLO (page pairs open a severity-2 incident, ticket pairs notify)."""
    now = now or utcnow()
    status = slo_status(session, uc, now)
    for st in status:
        key = f"slo:{uc.key}:{st['slo']}"
        if st["firing"]:
            worst = st["firing"][0]
            page = any(p["severity"] == "page" for p in st["firing"])
            detail = (f"burning the {st['slo']} error budget at {worst['long_burn']:.1f}x over {worst['long']} and "
                      f"{worst['short_burn']:.1f}x over {worst['short']} (threshold {worst['threshold']:g}x)")
            _fire(session, key=key, use_case_key=uc.key, kind="slo", name=f"{uc.key}: {st['slo']} SLO burn rate",
                  value=worst["long_burn"], threshold=worst["threshold"], detail=detail, severity=2 if page else 4,
                  now=now, open_incident=page)
        elif st["pairs"]:
            _clear(session, key, now)
    return status


# --------------------------------------------------------------------------------------------- quality errors
def evaluate_quality(session: Session, uc: UseCase, now: datetime | None = None) -> dict[str, Any]:
    """Fire the use case's quality alert when hallucination-like / safety errors exceed their share of the last
    hour's production traffic. Eval runs never count: their failures are judged by the release gate, and a use case
    that serves nothing in production has no production alert."""
    now = now or utcnow()
    s = _setting(session, uc.key)
    threshold = s.quality_error_threshold if s else 0.02
    since = now - timedelta(seconds=QUALITY_WINDOW_S)
    ws = _production_ws(session, uc.key, since, now)
    cats = dict(ws.error_categories) if ws is not None else {}
    total = ws.count if ws is not None else 0
    if total < QUALITY_MIN_EVENTS:
        return {"state": "no_data"}
    rate = quality_errors(cats) / total
    key = f"quality:{uc.key}"
    if rate > threshold:
        listed = ", ".join(f"{k} {n}" for k, n in sorted(cats.items()) if k in QUALITY_CATEGORIES)
        severity = 2 if cats.get("unsafe_output") else 3
        _fire(session, key=key, use_case_key=uc.key, kind="quality", name=f"{uc.key}: quality errors",
              value=rate, threshold=threshold,
              detail=f"{rate:.1%} of {total} production events in the last hour ({listed})",
              severity=severity, now=now)
        return {"state": "firing", "rate": rate}
    _clear(session, key, now)
    return {"state": "ok", "rate": rate}


def error_categories_over_time(session: Session, key: str, end: datetime | None = None, buckets: int = 14,
                               step_s: int = 86400) -> dict[str, Any]:
    """Error categories of production traffic per bucket (default: per day over two weeks) for the use-case page."""
    end = end or utcnow()
    end = datetime.fromtimestamp(math.ceil(end.timestamp() / step_s) * step_s, tz=end.tzinfo)
    labels: list[str] = []
    per: list[dict[str, int]] = []
    prod = production_releases(session, key, end - timedelta(seconds=buckets * step_s), end)
    for i in range(buckets, 0, -1):
        lo, hi = end - timedelta(seconds=i * step_s), end - timedelta(seconds=(i - 1) * step_s)
        ws = _ws(session, key, prod, lo, hi)
        labels.append(lo.strftime("%m-%d") if step_s >= 86400 else lo.strftime("%H:%M"))
        per.append(dict(ws.error_categories) if ws is not None else {})
    cats = sorted({c for p in per for c in p})
    return {"labels": labels, "categories": cats, "series": {c: [p.get(c, 0) for p in per] for c in cats},
            "total": sum(sum(p.values()) for p in per)}


# --------------------------------------------------------------------------------------------- drift
def run_drift(session: Session, key: str, now: datetime | None = None) -> DriftResult:
    """Compare the current window's feature histograms with the reference window's; store and alert on drift."""
    now = now or utcnow()
    uc = portfolio.get(session, key)
    s = _setting(session, key)
    window = s.drift_window_s if s else 3600
    b_start, b_end = (s.baseline_start, s.baseline_end) if s else (None, None)
    if b_start is None:
        base = telemetry_baselines.current_baseline(session, key)
        if base:
            b_start, b_end = base.get("start"), base.get("end")
    start = now - timedelta(seconds=window)
    result = DriftResult(use_case_key=uc.key, status="not_enough_data", baseline_start=b_start,
                         baseline_end=b_end, window_start=start, window_end=now, checked_at=now)
    if b_start is None or b_end is None:
        result.report = {"reason": "no baseline window: set one (POST /api/v1/monitoring/{key}/baseline)"}
    else:
        ref, cur = _production_ws(session, key, b_start, b_end), _production_ws(session, key, start, now)
        specs = drift_specs(with_outputs(ref) if ref else {}, with_outputs(cur) if cur else {},
                            list(s.drift_features or []) if s else None)
        if not specs:
            result.report = {"reason": "the baseline window holds no feature histograms (empty baseline)"}
        else:
            try:
                report = drift_math.check_features(specs, (s.drift_thresholds if s else None) or None)
            except ValueError as exc:
                result.report = {"reason": f"drift check refused its input: {exc}"}
            else:
                result.status = report.status if report.status != "no_drift" else "ok"
                result.drifted = list(report.drifted)
                result.report = report.to_dict()
    if result.status == "not_enough_data":
        # a use case without a usable baseline would add a row every check: refresh the last one instead
        last = session.scalar(select(DriftResult).where(DriftResult.use_case_key == uc.key)
                              .order_by(DriftResult.id.desc()).limit(1))
        if last is not None and last.status == "not_enough_data" and last.report == result.report:
            last.checked_at, last.window_start, last.window_end = now, start, now
            return last
    session.add(result)
    session.flush()
    fire_key = f"drift:{uc.key}"
    if result.status == "drift":
        _fire(session, key=fire_key, use_case_key=uc.key, kind="drift", name=f"{uc.key}: input/output drift",
              value=float(len(result.drifted)), threshold=0.0,
              detail="drifted: " + ", ".join(result.drifted), severity=3, now=now)
    elif result.status == "ok":
        _clear(session, fire_key, now)
    return result


def drift_results(session: Session, key: str | None = None, limit: int = 50) -> list[DriftResult]:
    """Recent drift checks, newest first."""
    q = select(DriftResult)
    if key:
        q = q.where(DriftResult.use_case_key == key)
    return list(session.scalars(q.order_by(DriftResult.id.desc()).limit(limit)))


def latest_drift(session: Session) -> list[DriftResult]:
    """The latest drift check of every use case."""
    seen: dict[str, DriftResult] = {}
    for r in session.scalars(select(DriftResult).order_by(DriftResult.id.desc()).limit(2000)):
        seen.setdefault(r.use_case_key, r)
    return sorted(seen.values(), key=lambda r: r.use_case_key)


def drift_view(r: DriftResult) -> dict[str, Any]:
    """A drift result as JSON."""
    return {"id": r.id, "use_case": r.use_case_key, "status": r.status, "drifted": list(r.drifted or []),
            "checked_at": r.checked_at.isoformat(), "window_start": r.window_start.isoformat(),
            "window_end": r.window_end.isoformat(),
            "baseline_start": r.baseline_start.isoformat() if r.baseline_start else None,
            "baseline_end": r.baseline_end.isoformat() if r.baseline_end else None, "report": r.report}


# --------------------------------------------------------------------------------------------- canary
def analyze_canary(session: Session, key: str, canary_id: str, production_id: str | None,
                   now: datetime | None = None) -> CanaryCheck:
    """Compare a canary with production; on a breach roll back (when enabled), open an incident and notify."""
    now = now or utcnow()
    uc = portfolio.get(session, key)
    s = _setting(session, key)
    window = s.canary_window_s if s else 3600
    min_sample = s.canary_min_sample if s else canary_math.DEFAULT_MIN_SAMPLE
    start = now - timedelta(seconds=window)
    check = CanaryCheck(use_case_key=key, canary_release_id=canary_id, production_release_id=production_id,
                        verdict="not_enough_data", checked_at=now)
    can = _ws(session, key, canary_id, start, now)
    prod = _ws(session, key, production_id, start, now) if production_id else None
    if can is None or prod is None:
        check.detail = {"reason": "no production release to compare with" if can is not None and not production_id
                        else "telemetry is not available"}
    else:
        names = sorted(set(can.scores or {}) & set(prod.scores or {}))
        score = "quality" if "quality" in names else (names[0] if names else None)
        skip = {"quality_score"} if not score else set()
        if not (_cost_spread_known(can) and _cost_spread_known(prod)):
            skip.add("cost_per_task")  # rollups written before cost_sq existed: no spread, no fair test
        guardrails = {k: v for k, v in canary_math.DEFAULT_GUARDRAILS.items() if k not in skip}
        verdict = canary_math.canary_verdict(canary_side(can, score), canary_side(prod, score), guardrails,
                                             min_sample)
        check.verdict = verdict.status
        check.detail = {**verdict.to_dict(), "quality_score": score, "window_s": window, "min_sample": min_sample}
    session.add(check)
    session.flush()
    if check.verdict != "breach":
        return check
    breaches_txt = "; ".join(b[3] for b in check.detail.get("breaches", []))
    auto = auto_rollback_enabled(uc, s)
    action = "rollback_disabled"
    if auto:
        try:
            with session.begin_nested():
                release_service.rollback(session, SYSTEM, key,
                                         f"automatic rollback: canary {canary_id} breached: {breaches_txt}")
            action = "rolled_back"
        except Exception as exc:  # a failed rollback must still open the incident
            log.warning("automatic rollback of %s failed: %s", canary_id, exc)
            action = "rollback_failed"
    check.action = action
    title = (f"Canary {canary_id} breached its guardrails"
             + (" and was rolled back" if action == "rolled_back" else ""))
    answers = publish(session, CanaryBreached(use_case_key=key, canary_release_id=canary_id, title=title,
                                              detail=breaches_txt, detected_at=now))
    check.incident_id = incident_id = answers[0] if answers else None
    audit.record(session, SYSTEM, "canary.breach", "release", canary_id, None,
                 {"verdict": "breach", "action": action, "breaches": breaches_txt, "incident": incident_id})
    notify(session, key, "canary.rollback" if action == "rolled_back" else "canary.breach",
           {"release_id": canary_id, "production_release_id": production_id, "action": action,
            "breaches": check.detail.get("breaches", []), "incident_id": incident_id, "severity": 2, "title": title})
    return check


def running_canaries(session: Session) -> list[tuple[str, str, str | None]]:
    """(use case, canary release id, production release id) of every release in canary now."""
    return list(release_service.releases_in_canary(session))


def canary_checks(session: Session, key: str | None = None, limit: int = 50) -> list[CanaryCheck]:
    """Recent canary analyses, newest first."""
    q = select(CanaryCheck)
    if key:
        q = q.where(CanaryCheck.use_case_key == key)
    return list(session.scalars(q.order_by(CanaryCheck.id.desc()).limit(limit)))


def canary_view(c: CanaryCheck) -> dict[str, Any]:
    """A canary analysis as JSON."""
    return {"id": c.id, "use_case": c.use_case_key, "canary_release_id": c.canary_release_id,
            "production_release_id": c.production_release_id, "verdict": c.verdict, "action": c.action,
            "incident_id": c.incident_id, "checked_at": c.checked_at.isoformat(), "detail": c.detail}


# --------------------------------------------------------------------------------------------- overview
def monitored_use_cases(session: Session) -> list[UseCase]:
    """Use cases worth checking: not retired."""
    return [uc for uc in portfolio.list_use_cases(session) if uc.status != "retired"]


def facts(session: Session, key: str) -> dict[str, Any]:
    """What monitoring a use case has (for readiness and reports): SLOs, rules, channels, drift, rollback, alerts."""
    uc = portfolio.get(session, key)
    enabled_rules = [r for r in rules(session, key) if r.enabled]
    chans = [c for c in channels(session) if c.enabled and c.use_case_key in (None, key)]
    drift = drift_results(session, key, 1)
    return {"use_case": key, "slos": sorted(slo_targets(portfolio.targets(uc))), "alert_rules": len(enabled_rules),
            "notification_channels": len(chans), "on_call": uc.on_call,
            "last_drift": drift_view(drift[0]) if drift else None,
            "auto_rollback": auto_rollback_enabled(uc, _setting(session, key)),
            "firing_alerts": len(alerts(session, state="firing", use_case_key=key))}


def overview(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """SLOs and budgets of every monitored use case with targets, for the monitoring page."""
    now = now or utcnow()
    out = []
    for uc in monitored_use_cases(session):
        if not slo_targets(portfolio.targets(uc)):
            continue
        out.append({"use_case": uc.key, "name": uc.name, "on_call": uc.on_call, "slos": slo_status(session, uc, now)})
    return out
