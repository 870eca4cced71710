"""Window reads from rollups: a use case's totals over [start, end) (minute precision at the edges, pending deltas
included, so a read is exact before compaction), the releases seen in a window and the time of the last event."""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Text, and_, bindparam, cast, func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from takeoff.core.db import one_of
from takeoff.telemetry import histogram, rollup
from takeoff.telemetry.baselines import current_baseline
from takeoff.telemetry.common import Releases
from takeoff.telemetry.common import check_key as _check_key
from takeoff.telemetry.common import check_window as _check_window
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import epoch as _epoch
from takeoff.telemetry.common import release_is as _release_is
from takeoff.telemetry.models import TelemetryRollup, TelemetryRollupDelta

ROLLUPS = TelemetryRollup.__table__
DELTAS = TelemetryRollupDelta.__table__
SUMMABLE = frozenset({*rollup.COUNTERS, "cost_usd", "cost_sq", "latency_sum_ms"})
EXTREMES = {"first_ts": func.min, "last_ts": func.max}


@dataclass
class WindowStats:
    """Rollup totals of one use case (optionally one release) over a time window."""

    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * histogram.BUCKET_COUNT)
    cost_usd: float = 0.0
    cost_sq: float = 0.0  # sum of squared per-event costs (events without a cost count as 0)
    tokens: dict[str, int] = field(default_factory=lambda: {k: 0 for k in rollup.TOKEN_KINDS})
    outcomes: dict[str, int] = field(default_factory=dict)
    error_categories: dict[str, int] = field(default_factory=dict)
    scores: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    active_units: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> events SDKs dropped before delivery
    violations: dict[str, int] = field(default_factory=dict)  # "stage:detector:action" -> safety findings
    models: dict[str, int] = field(default_factory=dict)  # "provider/model" -> requests (rollup.model_key)


def _rows(session: Session, use_case_key: str, release_id: Releases, grain: int, lo: datetime, hi: datetime,
          cols: Sequence[str]) -> list[Any]:
    q = select(*[ROLLUPS.c[c] for c in cols]).where(
        ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == grain, ROLLUPS.c.bucket >= lo, ROLLUPS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(ROLLUPS.c.release, use_case_key, release_id))
    return list(session.execute(q).mappings())


def _cover(s: float, e: float, grains: Sequence[int]) -> list[tuple[int, float, float]]:
    """(grain, lo, hi) ranges covering [s, e): coarsest whole buckets inside, finer ones at the edges."""
    g = grains[-1]
    if g == grains[0]:
        return [(g, math.floor(s / g) * g, e)] if e > s else []
    g0, g1 = math.ceil(s / g) * g, math.floor(e / g) * g
    if g0 >= g1:
        return _cover(s, e, grains[:-1])
    return _cover(s, g0, grains[:-1]) + [(g, g0, g1)] + _cover(g1, e, grains[:-1])


def _pending(session: Session, use_case_key: str, release_id: Releases, lo: datetime, hi: datetime
             ) -> list[dict[str, Any]]:
    """Deltas not yet compacted whose minute lies in [lo, hi), as rollup-row dicts (bucket and times as datetimes),
    so every read adds them and is exact before compaction; the compactor keeps them few."""
    q = select(DELTAS.c.bucket, DELTAS.c.agg).where(DELTAS.c.use_case == use_case_key, DELTAS.c.bucket >= lo,
                                                    DELTAS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(DELTAS.c.release, use_case_key, release_id))
    out = []
    for bucket, agg in session.execute(q):
        row = dict(agg)
        row["bucket"] = bucket
        for t in ("first_ts", "last_ts"):
            row[t] = _dt(row[t]) if row.get(t) is not None else None
        out.append(row)
    return out


def _window_rows(session: Session, use_case_key: str, release_id: Releases, start: datetime, end: datetime,
                 cols: Sequence[str]) -> list[Any]:
    """Rollup rows covering [start, end): day rows for whole days, hour rows for whole hours, minutes at the edges;
    plus the pending deltas of the same minutes."""
    out: list[Any] = []
    for grain, lo, hi in _cover(_epoch(start), _epoch(end), rollup.GRAINS):
        out += _rows(session, use_case_key, release_id, grain, _dt(lo), end if hi == _epoch(end) else _dt(hi), cols)
    return out + _pending(session, use_case_key, release_id, _minute(start), end)


ALL_COLS = ("bucket", *rollup.COUNTERS, "latency_sum_ms", "cost_usd", "cost_sq", "first_ts", "last_ts", "latency", "outcomes",
            "error_categories", "scores", "features", "units", "dropped", "violations", "models")


def window_stats(session: Session, use_case_key: str, release_id: Releases, start: datetime,
                 end: datetime) -> WindowStats:
    """Totals of [start, end) from rollups (minute precision at the edges); release None = all releases, a list
    = those releases ("" = events without one)."""
    _check_key(use_case_key)
    _check_window(start, end)
    agg = rollup.merge_many(_window_rows(session, use_case_key, release_id, start, end, ALL_COLS))
    base = current_baseline(session, use_case_key)
    base_id = base["id"] if base else 0
    features: dict[str, dict[str, Any]] = {}
    for name, entry in agg["features"].items():
        if entry["b"] != base_id:
            continue  # binned on an older baseline: not comparable
        spec = (base or {}).get("features", {}).get(name, {})
        if isinstance(entry["c"], list):
            features[name] = {"kind": "numeric", "edges": spec.get("edges"), "counts": list(entry["c"])}
        else:
            features[name] = {"kind": "categorical", "edges": None, "counts": dict(entry["c"])}
    return WindowStats(
        count=agg["count"], errors=agg["errors"], fallbacks=agg["fallbacks"],
        latency_counts=rollup.dense_latency(agg["latency"]), cost_usd=agg["cost_usd"], cost_sq=agg["cost_sq"],
        tokens={k: agg[c] for k, c in zip(rollup.TOKEN_KINDS, rollup.TOKEN_COLUMNS)},
        outcomes=dict(agg["outcomes"]), error_categories=dict(agg["error_categories"]),
        scores={k: (int(v[0]), float(v[1]), float(v[2])) for k, v in agg["scores"].items()}, features=features,
        active_units=rollup.kmv_estimate(agg["units"]), first_ts=agg["first_ts"], last_ts=agg["last_ts"],
        dropped=dict(agg["dropped"]), violations=dict(agg.get("violations") or {}),
        models=dict(agg.get("models") or {}))


def _grain_ranges(start: datetime, end: datetime) -> list[Any]:
    """The rollup rows covering [start, end), coarsest grain first where it fits (`_cover`), as disjoint conditions."""
    return [and_(ROLLUPS.c.grain == grain, ROLLUPS.c.bucket >= _dt(lo),
                 ROLLUPS.c.bucket < (end if hi == _epoch(end) else _dt(hi)))
            for grain, lo, hi in _cover(_epoch(start), _epoch(end), rollup.GRAINS)]


def _per_key(session: Session) -> bool:
    """Whether to read each use case's rows through its own index range (PostgreSQL: one statement joining the keys,
    an array parameter, LATERAL to a per-key aggregate). Its planner estimates `use_case IN (...) AND (grain ranges)`
    from grain and bucket separately: with a year of day rows and 35 days of hour rows, 30 days of day rows look like
    a fifth of the table and it scans all of it (50-70 ms for 50 use cases; 7 ms by index, one key at a time)."""
    return session.get_bind().dialect.name == "postgresql"


def _keys_table() -> Any:
    """unnest(:keys) AS k(key): the request's use case keys as rows, from one array parameter (PostgreSQL)."""
    return func.unnest(bindparam("keys", type_=ARRAY(ROLLUPS.c.use_case.type))).table_valued("key") \
        .render_derived().alias("k")


def _minute(t: datetime) -> datetime:
    """The start of t's minute (a pending delta's bucket)."""
    return _dt(math.floor(_epoch(t) / 60) * 60)


def pending_many(session: Session, keys: Sequence[str], start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """The pending deltas of each use case in `keys` whose minute lies in [start's minute, end), as rollup-row dicts
    (bucket and times as datetimes), in one statement: read once, they serve every narrower window of a request
    (`pending=` of totals_many and scored_many)."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    if not keys:
        return out
    q = select(DELTAS.c.use_case, DELTAS.c.bucket, DELTAS.c.agg).where(
        one_of(session, DELTAS.c.use_case, keys), DELTAS.c.bucket >= _minute(start), DELTAS.c.bucket < end)
    for key, bucket, agg in session.execute(q):
        row = dict(agg)
        row["bucket"] = bucket
        for t in ("first_ts", "last_ts"):
            row[t] = _dt(row[t]) if row.get(t) is not None else None
        out[key].append(row)
    return out


def _pending_in(session: Session, keys: Sequence[str], start: datetime, end: datetime,
                pending: Mapping[str, list[dict[str, Any]]] | None) -> dict[str, list[dict[str, Any]]]:
    """pending_many's rows of [start's minute, end): read now, or taken from `pending` (read for a window that
    contains this one)."""
    if pending is None:
        return pending_many(session, keys, start, end)
    lo = _minute(start)
    return {k: [r for r in pending.get(k, ()) if lo <= r["bucket"] < end] for k in keys}


def totals_many(session: Session, keys: Sequence[str], start: datetime, end: datetime,
                cols: Sequence[str], pending: Mapping[str, list[dict[str, Any]]] | None = None,
                ) -> dict[str, dict[str, Any]]:
    """merge_many of each use case's rows covering [start, end) (all releases), read for all `keys` at once: one
    statement for the rollup rows (when only sums and extremes are asked for) plus one for the pending deltas
    (none when `pending` holds pending_many's rows of a window containing this one), whatever the number of use
    cases, and only `cols` ("use_case" and "bucket" are added). A portfolio-wide read (readiness for every use case)
    uses it instead of window_stats per use case; a use case without rows gets merge_many([])."""
    for k in keys:
        _check_key(k)
    _check_window(start, end)
    by_key: dict[str, list[Any]] = {k: [] for k in keys}
    if not keys:
        return {}
    wanted = [c for c in dict.fromkeys(("use_case", "bucket", *cols))]
    # Only sums and extremes asked for (e.g. fallbacks and the last event over 30 days): the database adds each
    # grain range up, one row per use case, instead of sending every day and hour row to be merged here.
    summed = set(cols) <= SUMMABLE | EXTREMES.keys()
    ranges = _grain_ranges(start, end)
    if summed and ranges:  # the grain ranges are disjoint: one statement adds them all up, one row per use case
        sums = [(EXTREMES[c] if c in EXTREMES else func.sum)(ROLLUPS.c[c]).label(c) for c in cols]
        params: dict[str, Any] = {}
        if _per_key(session):
            k = _keys_table()
            one = select(ROLLUPS.c.use_case, *sums).where(ROLLUPS.c.use_case == k.c.key, or_(*ranges)) \
                .group_by(ROLLUPS.c.use_case).lateral("t")
            q = select(one).select_from(k).join(one, true())
            params["keys"] = list(keys)
        else:
            q = select(ROLLUPS.c.use_case, *sums).where(ROLLUPS.c.use_case.in_(keys), or_(*ranges)) \
                .group_by(ROLLUPS.c.use_case)
        for row in session.execute(q, params).mappings():  # plain dicts: merge_many's .get of an unread column is cheap
            by_key[row["use_case"]].append(dict(row))
    for where in ([] if summed else ranges):
        for row in session.execute(select(*[ROLLUPS.c[c] for c in wanted])
                                   .where(one_of(session, ROLLUPS.c.use_case, keys), where)).mappings():
            by_key[row["use_case"]].append(dict(row))
    for key, rows in _pending_in(session, keys, start, end, pending).items():
        by_key[key] += rows
    return {k: rollup.merge_many(rs) for k, rs in by_key.items()}


def scored_many(session: Session, keys: Sequence[str], start: datetime, end: datetime,
                pending: Mapping[str, list[dict[str, Any]]] | None = None) -> dict[str, bool]:
    """Whether each use case in `keys` received a quality score in [start, end) (rollup rows with a non-empty
    scores document, or pending deltas with scores): one statement for the rollup rows, where the database tests
    each row's document (no scores are sent here to be parsed), plus one for the deltas (none with `pending`, as
    in totals_many)."""
    for k in keys:
        _check_key(k)
    _check_window(start, end)
    out = dict.fromkeys(keys, False)
    if not keys:
        return out
    empty = cast(ROLLUPS.c.scores, Text).in_(("{}", "null"))
    ranges = _grain_ranges(start, end)
    scored = (or_(*ranges), ROLLUPS.c.scores.is_not(None), ~empty)
    if ranges and _per_key(session):  # each use case's index range until its first scored row
        k = _keys_table()
        first = select(ROLLUPS.c.use_case).where(ROLLUPS.c.use_case == k.c.key, *scored).limit(1).lateral("t")
        out.update(dict.fromkeys(session.scalars(select(first.c.use_case).select_from(k).join(first, true()),
                                                 {"keys": list(keys)}), True))
    elif ranges:  # every grain range in one statement
        q = select(ROLLUPS.c.use_case).where(ROLLUPS.c.use_case.in_(keys), *scored).distinct()
        out.update(dict.fromkeys(session.scalars(q), True))
    for key, rows in _pending_in(session, keys, start, end, pending).items():
        if any(r.get("scores") for r in rows):
            out[key] = True
    return out


@functools.lru_cache(maxsize=32)
def _newest_hours(n: int) -> Select[Any]:
    """One statement of n index lookups, each use case's newest hour bucket (bound :k0 … :k{n-1}), built once per n:
    building its n subqueries on every read cost more than running them."""
    return select(*[select(func.max(ROLLUPS.c.bucket))
                    .where(ROLLUPS.c.use_case == bindparam(f"k{i}", type_=ROLLUPS.c.use_case.type),
                           ROLLUPS.c.grain == 3600).scalar_subquery().label(f"b{i}") for i in range(n)])


def last_event_many(session: Session, keys: Sequence[str]) -> dict[str, datetime | None]:
    """last_event_at of every use case in `keys`, in two statements whatever their number (three on SQLite)."""
    for k in keys:
        _check_key(k)
    if not keys:
        return {}
    out: dict[str, datetime | None] = dict.fromkeys(keys)
    # The latest event is in each use case's newest hour bucket (an event's row is the bucket of its time): one
    # index lookup per use case finds it, so a year of hour rows is not read to take one maximum.
    if _per_key(session):  # one statement: per key, the newest hour bucket's latest event
        k = _keys_table()
        hours = ROLLUPS.alias("hours")
        newest_bucket = select(func.max(hours.c.bucket)).where(hours.c.use_case == k.c.key, hours.c.grain == 3600) \
            .correlate_except(hours).scalar_subquery()
        last = select(func.max(ROLLUPS.c.last_ts).label("last")).where(
            ROLLUPS.c.use_case == k.c.key, ROLLUPS.c.grain == 3600, ROLLUPS.c.bucket == newest_bucket).lateral("t")
        for key, t in session.execute(select(k.c.key, last.c.last).select_from(k).join(last, true()),
                                      {"keys": list(keys)}):
            out[key] = t
    else:  # one statement of index lookups (each use case's newest hour bucket), then that bucket's rows
        firsts = session.execute(_newest_hours(len(keys)), {f"k{i}": k for i, k in enumerate(keys)}).one()
        newest_hour = {k: b for k, b in zip(keys, firsts) if b is not None}
        if newest_hour:
            q = select(ROLLUPS.c.use_case, ROLLUPS.c.bucket, ROLLUPS.c.last_ts).where(
                ROLLUPS.c.use_case.in_(list(newest_hour)), ROLLUPS.c.grain == 3600,
                ROLLUPS.c.bucket.in_(sorted(set(newest_hour.values()))))
            for key, bucket, t in session.execute(q):
                if bucket == newest_hour[key] and t is not None and (out[key] is None or t > out[key]):
                    out[key] = t
    # Pending deltas: each use case's newest minute, in one statement (its rows whose bucket is its newest).
    newest = select(DELTAS.c.use_case, func.max(DELTAS.c.bucket)).where(
        one_of(session, DELTAS.c.use_case, keys)).group_by(DELTAS.c.use_case)
    q = select(DELTAS.c.use_case, DELTAS.c.agg).where(tuple_(DELTAS.c.use_case, DELTAS.c.bucket).in_(newest))
    for key, agg in session.execute(q):
        if agg.get("last_ts") is None:
            continue
        t, cur = _dt(agg["last_ts"]), out.get(key)
        if cur is None or t > cur:
            out[key] = t
    return out


def releases_in_window(session: Session, use_case_key: str, start: datetime, end: datetime) -> list[str]:
    """Release ids ("" = none) with rollups in the window, for splitting dashboards by release."""
    q = select(ROLLUPS.c.release).where(ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == 3600,
                                        ROLLUPS.c.bucket >= _dt(math.floor(_epoch(start) / 3600) * 3600),
                                        ROLLUPS.c.bucket < end).distinct()
    pending = select(DELTAS.c.release).where(DELTAS.c.use_case == use_case_key,
                                             DELTAS.c.bucket >= _dt(math.floor(_epoch(start) / 3600) * 3600),
                                             DELTAS.c.bucket < end).distinct()
    return sorted(set(session.scalars(q)) | set(session.scalars(pending)))


def last_event_at(session: Session, use_case_key: str) -> datetime | None:
    """Time of the latest event of a use case (from rollups), or None if it never sent any."""
    _check_key(use_case_key)
    last = session.scalar(select(func.max(ROLLUPS.c.last_ts)).where(ROLLUPS.c.use_case == use_case_key,
                                                                     ROLLUPS.c.grain == 3600))
    newest = session.scalar(select(func.max(DELTAS.c.bucket)).where(DELTAS.c.use_case == use_case_key))
    if newest is None:
        return last
    pending = [r["last_ts"] for r in _pending(session, use_case_key, None, newest, newest + timedelta(minutes=1))]
    return max((t for t in [last, *pending] if t is not None), default=None)



def returning_units(session: Session, use_case_key: str, release_id: Releases, start: datetime,
                    end: datetime) -> float | None:
    """repeat_users over one window: units active in [start, end) that were also active in the window's length
    before it (the series definition with a single bucket); None when the sample is too small to tell."""
    _check_key(use_case_key)
    _check_window(start, end)
    before = start - (end - start)
    sketches = [rollup.union_hashes(r["units"] for r in _window_rows(session, use_case_key, release_id, lo, hi,
                                                                     ("bucket", "units")) if r.get("units"))
                for lo, hi in ((before, start), (start, end))]
    return rollup.returning_estimates(sketches, 1)[0]
