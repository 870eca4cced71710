"""The telemetry overview: every use case in use or in the portfolio, with its key metrics over a window and its
status against each scale target."""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.catalog import service as catalog
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import histogram, rollup
from takeoff.telemetry.common import check_window as _check_window
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import epoch as _epoch
from takeoff.telemetry.series import series
from takeoff.telemetry.window import DELTAS, ROLLUPS, last_event_at, window_stats


def overview(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every use case of the portfolio that is not retired, and every one that sent telemetry in the window
    (discovered ones, retired ones still in use): volume, key metrics and its status against every scale target."""
    _check_window(start, end)
    ucs = {u.key: u for u in session.scalars(select(UseCase))}
    keys = _keys_with_telemetry(session, start, end) | {k for k, u in ucs.items() if u.status != "retired"}
    return [_overview_row(session, key, ucs.get(key), start, end) for key in sorted(keys)]


def _keys_with_telemetry(session: Session, start: datetime, end: datetime) -> set[str]:
    """Use-case keys with hour rollups or pending deltas in (or just before) the window."""
    lo = start - timedelta(hours=1)
    keys = set(session.scalars(select(ROLLUPS.c.use_case).where(ROLLUPS.c.grain == 3600, ROLLUPS.c.bucket >= lo,
                                                                 ROLLUPS.c.bucket < end).distinct()))
    return keys | set(session.scalars(select(DELTAS.c.use_case).where(DELTAS.c.bucket >= lo, DELTAS.c.bucket < end)
                                      .distinct()))


def _overview_row(session: Session, key: str, uc: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """One use case's overview line: window totals, the metrics its targets name, and the checks against them."""
    st = window_stats(session, key, None, start, end)
    seen = rollup.Observed(
        count=st.count, latency_p95_ms=histogram.quantile(st.latency_counts, 0.95) if st.count else None,
        error_rate=st.errors / st.count if st.count else None,
        cost_per_task_usd=st.cost_usd / st.count if st.count else None,
        throughput_per_min=_peak_throughput(session, key, start, end, st.count) if st.count else None,
        pass_rate=rollup.pass_rate(st.scores, st.outcomes), error_categories=st.error_categories)
    targets = portfolio.targets(uc).model_dump() if uc is not None else {}
    checks = rollup.target_checks(targets, seen)
    return {"use_case": key, "name": uc.name if uc else key, "discovered": bool(uc and uc.discovered),
            "stage": uc.status if uc else None, "count": st.count, "p95_ms": seen.latency_p95_ms,
            "error_rate": seen.error_rate, "cost_per_task": seen.cost_per_task_usd,
            "price_snapshots": catalog.snapshot_dates(session, st.models, start, end) if st.cost_usd else [],
            "throughput_per_min": seen.throughput_per_min, "pass_rate": seen.pass_rate,
            "active_units": st.active_units, "last_ts": st.last_ts,
            "last_event_at": st.last_ts if st.count else last_event_at(session, key),
            "status": rollup.target_status(st.count, targets, checks),
            "breaches": [c.name for c in checks if not c.ok],
            "checks": [{"name": c.name, "target": c.target, "observed": c.observed, "limit": c.limit, "ok": c.ok,
                        "guardrail": c.guardrail} for c in checks],
            "targets": targets}


def _peak_throughput(session: Session, key: str, start: datetime, end: datetime, count: int) -> float:
    """Events per minute of the busiest clock hour inside the window (an hour still running counts as a whole
    hour); a window shorter than that hour is averaged over its length."""
    first = math.ceil(_epoch(start) / 3600) * 3600
    if _epoch(end) - first < 3600:
        return count / ((_epoch(end) - _epoch(start)) / 60.0)
    points = series(session, key, "throughput", _dt(first), end, 3600)
    return max((v for _, v in points if v is not None), default=0.0)

