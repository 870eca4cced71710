"""Evidence kinds telemetry owns: production traffic carrying quality and cost, exercised fallbacks, feedback,
and whether a release sends features (what a drift baseline is frozen from)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.telemetry import feedback, rollup, window
from takeoff.telemetry.models import TelemetryEvent

FRESH_WINDOW = timedelta(hours=24)
MONTH = timedelta(days=30)
FEATURE_SAMPLE = 200  # the newest events looked at to decide whether a release sends features
# The rollup columns the two window kinds read (never the histograms, feature counts or unit sketches).
TOTAL_COLS = (*rollup.COUNTERS, "cost_usd", "last_ts", "scores")


def _totals(session: Session, s: Subject, since: timedelta) -> dict[str, Any]:
    """The use case's totals over [now - since, now), read for every use case of the request at once."""
    return batched(s, f"telemetry.totals.{since.total_seconds():.0f}.{s.now.isoformat()}",
                   lambda keys: window.totals_many(session, keys, s.now - since, s.now, TOTAL_COLS))


def _last_event(session: Session, s: Subject) -> datetime | None:
    return batched(s, "telemetry.last_event", lambda keys: window.last_event_many(session, keys))  # type: ignore[no-any-return]


def features_sent(session: Session, use_case_key: str, release_id: str, since: datetime) -> list[str]:
    """Feature names carried by the release's newest events since `since` (a bounded sample, newest first)."""
    q = (select(TelemetryEvent.data).where(TelemetryEvent.use_case == use_case_key,
                                           TelemetryEvent.release == release_id, TelemetryEvent.ts >= since)
         .order_by(TelemetryEvent.ts.desc()).limit(FEATURE_SAMPLE))
    names: set[str] = set()
    for data in session.scalars(q):
        names.update(((data or {}).get("features") or {}).keys())
    return sorted(names)


def telemetry_flowing(session: Session, s: Subject) -> Evidence:
    """Telemetry arrived in the last 24 hours with quality scores and cost figures."""
    key, now = s.use_case.key, s.now
    link = f"/telemetry/usecase/{key}/dashboard"
    last = _last_event(session, s)
    if last is None:
        return Evidence("telemetry_flowing", "fail", "no telemetry ever received", link)
    if now - last > FRESH_WINDOW:
        return Evidence("telemetry_flowing", "fail",
                        f"last telemetry at {last:%Y-%m-%d %H:%M} UTC, more than 24 h ago", link, last)
    day = _totals(session, s, FRESH_WINDOW)
    problems = []
    if not day["scores"]:
        problems.append("no quality score received in the last 24 h")
    if not (day["cost_usd"] > 0 or any(day[c] for c in rollup.TOKEN_COLUMNS)):
        problems.append("no cost figures received in the last 24 h")
    if problems:
        return Evidence("telemetry_flowing", "fail", "; ".join(problems), link, last)
    return Evidence("telemetry_flowing", "pass", f"{day['count']} events with quality and cost in the last 24 h",
                    link, last)


def fallback_exercised(session: Session, s: Subject) -> Evidence:
    """The fallback path was taken in production at least once in 30 days."""
    key = s.use_case.key
    month = _totals(session, s, MONTH)
    link = f"/telemetry/usecase/{key}/dashboard"
    if month["fallbacks"] == 0:
        return Evidence("fallback_exercised", "fail", "no fallback exercised in the last 30 days", link)
    return Evidence("fallback_exercised", "pass", f"fallback exercised {month['fallbacks']} time(s) in 30 days", link,
                    month["last_ts"])


def feedback_collected(session: Session, s: Subject) -> Evidence:
    """Users' in-the-moment feedback arrived in the last 30 days."""
    key = s.use_case.key
    n = len(feedback.feedback_for(session, key, s.now - MONTH, s.now))
    link = f"/outcomes/{key}"
    if n == 0:
        return Evidence("feedback_collected", "fail", "no user feedback in the last 30 days", link)
    return Evidence("feedback_collected", "pass", f"{n} feedback item(s) in 30 days", link)


def register(registry: Registry) -> None:
    registry.provide("telemetry_flowing", telemetry_flowing,
                     title="Quality and cost telemetry arrived in the last 24 h", domain="telemetry")
    registry.provide("fallback_exercised", fallback_exercised, title="The fallback was exercised in 30 days",
                     domain="telemetry")
    registry.provide("feedback_collected", feedback_collected, title="User feedback flows in", domain="telemetry")
