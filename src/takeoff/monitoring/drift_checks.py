"""Drift checks: the current window's feature (and output) histograms against the reference window's, on the
baseline's bins; each check stored, drift alerted (drift.py holds the statistics)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.monitoring import alerts, settings, traffic
from takeoff.monitoring import drift as drift_math
from takeoff.monitoring.models import DriftResult
from takeoff.portfolio import service as portfolio
from takeoff.telemetry import baselines as telemetry_baselines
from takeoff.telemetry import histogram


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


def run_drift(session: Session, key: str, now: datetime | None = None) -> DriftResult:
    """Compare the current window's feature histograms with the reference window's; store and alert on drift."""
    now = now or utcnow()
    uc = portfolio.get(session, key)
    s = settings.setting(session, key)
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
        ref, cur = traffic.production_totals(session, key, b_start, b_end), traffic.production_totals(session, key, start, now)
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
        alerts.fire(session, key=fire_key, use_case_key=uc.key, kind="drift", name=f"{uc.key}: input/output drift",
              value=float(len(result.drifted)), threshold=0.0,
              detail="drifted: " + ", ".join(result.drifted), severity=3, now=now)
    elif result.status == "ok":
        alerts.clear(session, fire_key, now)
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
