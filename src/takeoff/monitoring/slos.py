"""SLOs from a use case's scale targets: error budgets over 30 days and multi-window burn-rate alerts
(page pairs open a severity-2 incident, ticket pairs notify); the math is slo.py's."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.monitoring import alerts, settings, traffic
from takeoff.monitoring import slo as slo_math
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import rollup
from takeoff.telemetry import series as telemetry_series


SLO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "3d", "30d")


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


def good_total(slo: slo_math.SLO, ws: Any, cost_slices: tuple[float, float] | None = None,
               quality_score: str = "pass") -> tuple[float, float]:
    """(good, total) events of one SLO in one window; quality reads a 0..1 score ('pass' unless the use case's
    monitoring settings name another), else outcomes."""
    if slo.name == "availability":
        return float(ws.count - ws.errors), float(ws.count)
    if slo.name == "latency_p95":
        counts = list(ws.latency_counts)
        total = float(sum(counts))
        return (min(slo_math.latency_good_count(counts, slo.threshold), total) if total else 0.0), total
    if slo.name == "quality":
        return rollup.quality_good_total(ws.scores or {}, ws.outcomes, quality_score)
    return cost_slices or (0.0, 0.0)


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
    prod = traffic.production_releases(session, uc.key, now - timedelta(minutes=widest), now)  # one answer for every window
    for w in SLO_WINDOWS:
        ws = traffic.window_totals(session, uc.key, prod, now - timedelta(minutes=slo_math.duration_minutes(w)), now)
        if ws is None:
            return [{"slo": s.name, "objective": s.objective, "description": s.description, "sli": None,
                     "remaining_budget": None, "firing": [], "pairs": [], "events": 0} for s in slos]
        stats[w] = ws
    chosen = settings.setting(session, uc.key)
    quality_score = (chosen.quality_slo_score if chosen else None) or "pass"
    out = []
    for s in slos:
        data = {}
        for w, ws in stats.items():
            cost = None
            if s.name == "cost_per_task":
                start = now - timedelta(minutes=slo_math.duration_minutes(w))
                cost = _cost_slices(session, uc.key, float(s.threshold or 0), start, now, prod)
            data[w] = good_total(s, ws, cost, quality_score)
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
            alerts.fire(session, key=key, use_case_key=uc.key, kind="slo", name=f"{uc.key}: {st['slo']} SLO burn rate",
                  value=worst["long_burn"], threshold=worst["threshold"], detail=detail, severity=2 if page else 4,
                  now=now, open_incident=page)
        elif st["pairs"]:
            alerts.clear(session, key, now)
    return status
