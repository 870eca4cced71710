"""Drift baselines: per-feature bins frozen from a window of raw events; later rollups bin features on them."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import one_of
from takeoff.telemetry import histogram, rollup
from takeoff.telemetry.common import TelemetryInvalid
from takeoff.telemetry.common import check_key as _check_key
from takeoff.telemetry.common import check_window as _check_window
from takeoff.telemetry.ingest import release_key
from takeoff.telemetry.lookups import LOOKUPS as _LOOKUPS
from takeoff.telemetry.models import TelemetryBaseline, TelemetryEvent


def current_baseline(session: Session, use_case_key: str) -> dict[str, Any] | None:
    """The use case's latest frozen baseline as {"id", "release", "features"}, or None."""
    b = session.scalar(select(TelemetryBaseline).where(TelemetryBaseline.use_case == use_case_key)
                       .order_by(TelemetryBaseline.id.desc()).limit(1))
    if b is None:
        return None
    return {"id": b.id, "release": b.release, "start": b.start, "end": b.end, "features": b.features}


def current_baselines(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`current_baseline` of each use case in `keys` that has one, in one query."""
    if not keys:
        return {}
    newest = select(func.max(TelemetryBaseline.id)).where(one_of(session, TelemetryBaseline.use_case, sorted(set(keys)))) \
        .group_by(TelemetryBaseline.use_case)
    return {b.use_case: {"id": b.id, "release": b.release, "start": b.start, "end": b.end, "features": b.features}
            for b in session.scalars(select(TelemetryBaseline).where(TelemetryBaseline.id.in_(newest)))}


def set_baseline(session: Session, actor: Actor, use_case_key: str, release_id: str | None, start: datetime,
                 end: datetime) -> dict[str, Any]:
    """Freeze per-feature bins from the release's raw events in [start, end); later rollups bin on them."""
    _check_key(use_case_key)
    _check_window(start, end)
    rel = release_key(use_case_key, release_id)
    q = select(TelemetryEvent.data).where(TelemetryEvent.use_case == use_case_key, TelemetryEvent.ts >= start,
                                              TelemetryEvent.ts < end)
    if release_id is not None:
        q = q.where(TelemetryEvent.release == rel)
    numeric: dict[str, list[float]] = {}
    categorical: dict[str, Counter[str]] = {}
    n = 0
    for data in session.scalars(q):
        n += 1
        for name, v in ((data or {}).get("features") or {}).items():
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                numeric.setdefault(name, []).append(float(v))
            else:
                categorical.setdefault(name, Counter())[str(v).lower() if isinstance(v, bool) else str(v)] += 1
    if n == 0:
        raise TelemetryInvalid(f"no raw events of '{use_case_key}' {rel or '(any release)'} in that window: "
                               "cannot freeze a baseline")
    specs: dict[str, Any] = {}
    for name in sorted(set(numeric) | set(categorical)):
        nums, cats = numeric.get(name, []), categorical.get(name, Counter())
        if len(nums) >= sum(cats.values()):
            specs[name] = {"kind": "numeric", "edges": histogram.baseline_edges(nums)}
        else:
            specs[name] = {"kind": "categorical",
                           "categories": [c for c, _ in cats.most_common(rollup.MAX_CATEGORIES)]}
    b = TelemetryBaseline(use_case=use_case_key, release=rel, start=start, end=end, events=n, features=specs,
                          created_by=actor.username)
    session.add(b)
    session.flush()
    _LOOKUPS.forget(use_case_key)  # and again once committed: a batch in between may have cached the old one
    event.listen(session, "after_commit", lambda _s: _LOOKUPS.forget(use_case_key), once=True)
    audit.record(session, actor, "telemetry.baseline", "telemetry_baseline", b.id, None,
                 {"use_case": use_case_key, "release": rel, "start": start.isoformat(), "end": end.isoformat(),
                  "events": n, "features": sorted(specs)})
    return {"id": b.id, "use_case": use_case_key, "release": rel, "events": n, "features": specs}
