"""Series reads for charts and the metrics API: metrics per step-aligned bucket from ONE pass over the rollup rows
(the coarsest grain dividing the step) plus the pending deltas; the dashboard reads every release at once."""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy import JSON, LargeBinary, Text, cast, select, type_coerce
from sqlalchemy.orm import Session

from takeoff.telemetry import metrics as metrics_registry
from takeoff.telemetry import rollup
from takeoff.telemetry.common import Releases, TelemetryInvalid
from takeoff.telemetry.common import check_key as _check_key
from takeoff.telemetry.common import check_window as _check_window
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import epoch as _epoch
from takeoff.telemetry.common import release_is as _release_is
from takeoff.telemetry.window import DELTAS, ROLLUPS

MAX_SERIES_POINTS = 5000


def series(session: Session, use_case_key: str, metric: str, start: datetime, end: datetime, step_s: int,
           release_id: Releases = None) -> list[tuple[datetime, float | None]]:
    """One metric per step-aligned bucket over [start, end), from rollups (the coarsest grain dividing the step)."""
    return series_many(session, use_case_key, [metric], start, end, step_s, release_id)[metric]


def series_many(session: Session, use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime,
                step_s: int, release_id: Releases = None) -> dict[str, list[tuple[datetime, float | None]]]:
    """Several metrics from ONE pass over the rollup rows; repeat users also read the unit sketches of the range's
    length before it (rollup.returning_estimates)."""
    first, n, grain = _series_args(use_case_key, metrics, start, end, step_s)
    totals = _bucketed(session, use_case_key, release_id, grain, _cols(metrics), first, n, step_s, end).get(None)
    totals = totals or [rollup.Totals() for _ in range(n)]
    history = _history(session, use_case_key, release_id, grain, first, n, step_s, metrics).get(None)
    values = _points(metrics, totals, history or [rollup.Totals() for _ in range(n)], step_s)
    times = [_dt(first + i * step_s) for i in range(n)]
    return {m: list(zip(times, values[m])) for m in metrics}


@dataclass
class Dashboard:
    """What a use-case dashboard draws, from one rollup read: per release, every metric's values over the
    step-aligned buckets starting at times[0]; and the totals of all releases over those buckets."""

    times: list[datetime]
    by_release: dict[str, dict[str, list[float | None]]]
    score_names: list[str]
    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    cost_usd: float = 0.0
    active_units: int = 0
    dropped: int = 0  # events SDKs reported dropping before delivery
    models: dict[str, int] = field(default_factory=dict)  # "provider/model" -> requests over the range
    by_model: dict[str, list[int]] = field(default_factory=dict)  # "provider/model" -> requests per bucket


def dashboard_series(session: Session, use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime,
                     step_s: int) -> Dashboard:
    """Every release's series of `metrics` over [start, end) in one pass (rollup.QUALITY_ALL stands for a
    quality_<score> per score name present), with the totals the dashboard's summary line shows."""
    first, n, grain = _series_args(use_case_key, [m for m in metrics if m != rollup.QUALITY_ALL], start, end, step_s)
    cols = _cols([m for m in metrics if m != rollup.QUALITY_ALL]
                 + ["throughput", "error_rate", "fallback_rate", "cost_per_task", "active_users", "dropped_events"]
                 + ([rollup.QUALITY_ALL] if rollup.QUALITY_ALL in metrics else [])) + ("models",)
    per_release = _bucketed(session, use_case_key, None, grain, cols, first, n, step_s, end, by_release=True)
    names = sorted({name for totals in per_release.values() for t in totals for name in t.scores})
    wanted = [x for m in metrics for x in ([f"quality_{name}" for name in names] if m == rollup.QUALITY_ALL else [m])]
    history = _history(session, use_case_key, None, grain, first, n, step_s, wanted, by_release=True)
    out = Dashboard(times=[_dt(first + i * step_s) for i in range(n)], score_names=names, by_release={
        rel: _points(wanted, per_release[rel], history.get(rel) or [rollup.Totals() for _ in range(n)], step_s)
        for rel in sorted(per_release)})
    for totals in per_release.values():
        for t in totals:
            out.count += t.count
            out.errors += t.errors
            out.fallbacks += t.fallbacks
            out.cost_usd += t.cost_usd
            out.dropped += t.dropped
        for i, t in enumerate(totals):
            for k, v in t.models.items():
                out.models[k] = out.models.get(k, 0) + v
                out.by_model.setdefault(k, [0] * n)[i] += v
    out.active_units = rollup.kmv_estimate(rollup.union_hashes(
        t.unit_sketch() for totals in per_release.values() for t in totals))
    return out


def _series_args(use_case_key: str, metrics: Sequence[str], start: datetime, end: datetime, step_s: int
                 ) -> tuple[int, int, int]:
    """Validated (first bucket start, number of points, rollup grain) of a series read."""
    _check_key(use_case_key)
    _check_window(start, end)
    for metric in metrics:
        try:
            metrics_registry.check_metric(metric, series=True)
        except ValueError as exc:
            raise TelemetryInvalid(str(exc), details=[{"field": "metric", "message": str(exc)}]) from None
    if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s < 60 or step_s % 60:
        raise TelemetryInvalid("step_s must be a whole number of minutes (>= 60)")
    first = math.floor(_epoch(start) / step_s) * step_s
    n = math.ceil((_epoch(end) - first) / step_s)
    if n > MAX_SERIES_POINTS:
        raise TelemetryInvalid(f"{n} points requested; at most {MAX_SERIES_POINTS}: use a larger step",
                               details=[{"field": "step", "message": "too many points"}])
    return first, n, max(g for g in rollup.GRAINS if step_s % g == 0)


def _cols(metrics: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for m in metrics for c in metrics_registry.get(m, series=True).columns))


def _history(session: Session, use_case_key: str, release_id: Releases, grain: int, first: int, n: int,
             step_s: int, metrics: Sequence[str], by_release: bool = False) -> dict[str | None, list[rollup.Totals]]:
    """The unit sketches of the n buckets before the first one, when repeat users are asked for (their lookback)."""
    if "repeat_users" not in metrics:
        return {}
    return _bucketed(session, use_case_key, release_id, grain, ("units",), first - n * step_s, n, step_s,
                     _dt(first), by_release)


def _bucketed(session: Session, use_case_key: str, release_id: Releases, grain: int, cols: Sequence[str],
              first: int, n: int, step_s: int, end: datetime, by_release: bool = False
              ) -> dict[str | None, list[rollup.Totals]]:
    """Rollup rows and pending deltas of [first, end) summed into n step buckets, per release or all under None."""
    out: dict[str | None, list[rollup.Totals]] = {}
    for bucket, release, *values in _series_rows(session, use_case_key, release_id, grain, cols, _dt(first), end):
        i = (int(_epoch(bucket)) - first) // step_s
        if 0 <= i < n:
            group = release if by_release else None
            totals = out.get(group)
            if totals is None:
                totals = out[group] = [rollup.Totals() for _ in range(n)]
            _add_to_totals(totals[i], cols, values)
    return out


def _points(metrics: Sequence[str], totals: list[rollup.Totals], history: list[rollup.Totals], step_s: int
            ) -> dict[str, list[float | None]]:
    """Each metric's value per bucket; repeat users look back over the history buckets too."""
    out: dict[str, list[float | None]] = {}
    for m in metrics:
        if m != "repeat_users":  # each metric's computation resolved once, applied to every bucket
            value = metrics_registry.compute(m)
            out[m] = [value(t, step_s) for t in totals]
    if "repeat_users" in metrics:
        out["repeat_users"] = rollup.returning_estimates([t.unit_sketch() for t in history + totals], len(totals))
    return out


_JSON_COLS = frozenset(c.name for c in ROLLUPS.columns if isinstance(c.type, JSON))


def _series_rows(session: Session, use_case_key: str, release_id: Releases, grain: int, cols: Sequence[str],
                 lo: datetime, hi: datetime) -> Iterator[tuple[Any, ...]]:
    """(bucket, release, *cols) of the rollup rows of one grain in [lo, hi), then of the pending deltas there.

    JSON columns are fetched as text and parsed by pydantic-core (Rust): about half the time of the driver's
    json.loads, and parsing is most of a dashboard read."""
    json_at = [2 + i for i, c in enumerate(cols) if c in _JSON_COLS]
    q = select(ROLLUPS.c.bucket, ROLLUPS.c.release, *[_raw_col(c) for c in cols]).where(
        ROLLUPS.c.use_case == use_case_key, ROLLUPS.c.grain == grain, ROLLUPS.c.bucket >= lo, ROLLUPS.c.bucket < hi)
    pending = select(DELTAS.c.bucket, DELTAS.c.release, DELTAS.c.agg).where(
        DELTAS.c.use_case == use_case_key, DELTAS.c.bucket >= lo, DELTAS.c.bucket < hi)
    if release_id is not None:
        q = q.where(_release_is(ROLLUPS.c.release, use_case_key, release_id))
        pending = pending.where(_release_is(DELTAS.c.release, use_case_key, release_id))
    for row in session.execute(q):
        if json_at:
            row = list(row)
            for i in json_at:
                row[i] = pydantic_core.from_json(row[i]) if row[i] is not None else None
        yield row
    for bucket, release, agg in session.execute(pending):
        yield (bucket, release, *[agg.get(c) for c in cols])


def _raw_col(name: str) -> Any:
    """A rollup column as a dashboard read fetches it: JSON as text (parsed by pydantic-core), the unit sketch as
    its packed bytes (rollup.as_hashes reads them in place), others as they are."""
    if name in _JSON_COLS:
        return cast(ROLLUPS.c[name], Text)
    if name == "units":
        return type_coerce(ROLLUPS.c.units, LargeBinary)
    return ROLLUPS.c[name]


def _add_to_totals(t: rollup.Totals, cols: Sequence[str], values: Sequence[Any]) -> None:
    """Add one row's columns into a query bucket's totals (plain tuples, one branch per column: the dashboard's cost)."""
    for col, value in zip(cols, values):
        if col == "count":
            t.count += value
        elif col == "errors":
            t.errors += value
        elif col == "fallbacks":
            t.fallbacks += value
        elif col == "cost_usd":
            t.cost_usd += value
        elif col in ("tokens_input", "tokens_output"):
            t.tokens += value
        elif col == "latency":  # a bucket's first row lends its dict (each read parses its own): no copy
            lat = t.latency
            if not lat:
                t.latency = value
                continue
            for k, v in value.items():
                lat[k] = lat.get(k, 0) + v
        elif col == "outcomes":
            if not t.outcomes:
                t.outcomes = value
                continue
            for k, v in value.items():
                t.outcomes[k] = t.outcomes.get(k, 0) + v
        elif col == "scores":
            for k, (sn, ss, sq) in value.items():
                cur = t.scores.setdefault(k, [0, 0.0, 0.0])
                cur[0] += sn
                cur[1] += ss
                cur[2] += sq
        elif col == "units" and value:
            t.unit_rows.append(value)
        elif col == "dropped" and value:  # None in a delta appended before drop reports existed
            t.dropped += sum(value.values())
        elif col == "error_categories" and value:
            for k, v in value.items():
                t.error_categories[k] = t.error_categories.get(k, 0) + v
        elif col == "violations" and value:  # None in a delta appended before safety filters existed
            for k, v in value.items():
                t.violations[k] = t.violations.get(k, 0) + v
        elif col == "models" and value:  # None in a delta appended before the model split existed
            for k, v in value.items():
                t.models[k] = t.models.get(k, 0) + v

