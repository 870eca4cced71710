"""Evidence kinds telemetry owns: production traffic carrying quality and cost, exercised fallbacks, feedback,
and whether a release sends features (what a drift baseline is frozen from)."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched, batched_map
from takeoff.telemetry import feedback, rollup, window
from takeoff.telemetry.models import TelemetryEvent

FRESH_WINDOW = timedelta(hours=24)
MONTH = timedelta(days=30)
FEATURE_SAMPLE = 200  # the newest events looked at to decide whether a release sends features
COMPOUND_LIMIT = 200  # parts of one UNION ALL (SQLite allows 500)
# The rollup columns each window kind reads (never the histograms, feature counts or unit sketches).
DAY_COLS = (*rollup.COUNTERS, "cost_usd")
MONTH_COLS = ("fallbacks", "last_ts")


def _pending(session: Session, s: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every use case's pending deltas of the widest window read here (30 days), read once for the request; the
    24 h and 30 d totals and the scores check take theirs from it."""
    return batched_map(s, f"telemetry.pending.{s.now.isoformat()}",
                       lambda keys: window.pending_many(session, keys, s.now - MONTH, s.now))


def _totals(session: Session, s: Subject, since: timedelta, cols: tuple[str, ...]) -> dict[str, Any]:
    """The use case's totals of `cols` over [now - since, now) (since <= 30 days), read for every use case of the
    request at once."""
    return batched(s, f"telemetry.totals.{since.total_seconds():.0f}.{s.now.isoformat()}.{','.join(cols)}",
                   lambda keys: window.totals_many(session, keys, s.now - since, s.now, cols, _pending(session, s)))


def _last_event(session: Session, s: Subject) -> datetime | None:
    return batched(s, "telemetry.last_event", lambda keys: window.last_event_many(session, keys))  # type: ignore[no-any-return]


def features_sent(session: Session, use_case_key: str, release_id: str, since: datetime) -> list[str]:
    """Feature names carried by the release's newest events since `since` (a bounded sample, newest first)."""
    return features_sent_many(session, {use_case_key: release_id}, since)[use_case_key]


@functools.lru_cache(maxsize=32)
def _any_sent(n: int) -> Select[Any]:
    """One statement of n index seeks: whether release :r{i} of use case :k{i} sent an event since :since (built
    once per n: building its n subqueries on every read cost more than running them)."""
    since = bindparam("since", type_=TelemetryEvent.ts.type)
    return select(*[exists().where(TelemetryEvent.release == bindparam(f"r{i}", type_=TelemetryEvent.release.type),
                                   TelemetryEvent.ts >= since,
                                   TelemetryEvent.use_case == bindparam(f"k{i}", type_=TelemetryEvent.use_case.type))
                    .label(f"s{i}") for i in range(n)])


@functools.cache
def _any_sent_pg() -> Select[Any]:
    """The (use case, release) pairs of :keys and :rels (arrays, PostgreSQL) that sent an event since :since: one
    index seek each (LATERAL ... LIMIT 1), in a statement whose text does not grow with their number."""
    k = func.unnest(bindparam("keys", type_=ARRAY(TelemetryEvent.use_case.type)),
                    bindparam("rels", type_=ARRAY(TelemetryEvent.release.type))) \
        .table_valued("key", "rel").render_derived().alias("k")
    one = select(TelemetryEvent.id).where(TelemetryEvent.release == k.c.rel, TelemetryEvent.use_case == k.c.key,
                                          TelemetryEvent.ts >= bindparam("since", type_=TelemetryEvent.ts.type)) \
        .limit(1).lateral("t")
    return select(k.c.key, k.c.rel).select_from(k).join(one, true())


def features_sent_many(session: Session, releases: Mapping[str, str], since: datetime) -> dict[str, list[str]]:
    """`features_sent` of each use case -> release id, in one statement per COMPOUND_LIMIT of them (each part an
    indexed newest-first sample, so a busy release is not scanned whole)."""
    out: dict[str, list[str]] = {key: [] for key in releases}
    pairs = sorted(releases.items())
    if pairs and session.get_bind().dialect.name == "postgresql":  # the pairs as two array parameters
        found = {(key, rel) for key, rel in session.execute(
            _any_sent_pg(), {"keys": [k for k, _ in pairs], "rels": [r for _, r in pairs], "since": since})}
        pairs = [p for p in pairs if p in found]
    elif pairs:  # first, in one statement of index seeks, which releases sent any event since then
        params: dict[str, Any] = {"since": since}
        for i, (key, rel) in enumerate(pairs):
            params[f"k{i}"], params[f"r{i}"] = key, rel
        sent = session.execute(_any_sent(len(pairs)), params).one()
        pairs = [p for p, any_sent in zip(pairs, sent) if any_sent]
    for start in range(0, len(pairs), COMPOUND_LIMIT):
        parts = [select(TelemetryEvent.use_case, TelemetryEvent.data)
                 .where(TelemetryEvent.use_case == key, TelemetryEvent.release == rel, TelemetryEvent.ts >= since)
                 .order_by(TelemetryEvent.ts.desc(), TelemetryEvent.id.desc()).limit(FEATURE_SAMPLE).subquery()
                 for key, rel in pairs[start:start + COMPOUND_LIMIT]]
        names: dict[str, set[str]] = {key: set() for key, _ in pairs[start:start + COMPOUND_LIMIT]}
        q = union_all(*(select(p.c.use_case, p.c.data) for p in parts)) if len(parts) > 1 else \
            select(parts[0].c.use_case, parts[0].c.data)
        for key, data in session.execute(q):
            names[key].update(((data or {}).get("features") or {}).keys())
        out.update({key: sorted(n) for key, n in names.items()})
    return out


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
    day = _totals(session, s, FRESH_WINDOW, DAY_COLS)
    problems = []
    scored = batched(s, f"telemetry.scored.{s.now.isoformat()}",
                     lambda keys: window.scored_many(session, keys, s.now - FRESH_WINDOW, s.now, _pending(session, s)))
    if not scored:
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
    month = _totals(session, s, MONTH, MONTH_COLS)
    link = f"/telemetry/usecase/{key}/dashboard"
    if month["fallbacks"] == 0:
        return Evidence("fallback_exercised", "fail", "no fallback exercised in the last 30 days", link)
    return Evidence("fallback_exercised", "pass", f"fallback exercised {month['fallbacks']} time(s) in 30 days", link,
                    month["last_ts"])


def feedback_collected(session: Session, s: Subject) -> Evidence:
    """Users' in-the-moment feedback arrived in the last 30 days."""
    key = s.use_case.key
    n = batched(s, f"telemetry.feedback.{s.now.isoformat()}",
                lambda keys: feedback.counts_many(session, keys, s.now - MONTH, s.now))
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
