"""ROI operations: store a use case's ROI assumptions, and compute ROI and payback from them plus the figures
takeoff measures (telemetry cost, volume, escalations, the north-star KPI), saying where each input came from.
The only writer of roi_assumptions."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.catalog import pricing
from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor
from takeoff.core.db import one_of, utcnow
from takeoff.core.errors import Invalid
from takeoff.outcomes import roi as roi_rules
from takeoff.outcomes.kpis import measurements
from takeoff.outcomes.models import RoiAssumptions
from takeoff.outcomes.schemas import RoiAssumptionsIn
from takeoff.core.types import parse_body
from takeoff.outcomes.windows import production
from takeoff.portfolio import service as portfolio
from takeoff.review import stats as review_stats
from takeoff.telemetry import window as telemetry


def set_roi_assumptions(session: Session, actor: Actor, key: str, data: Any) -> RoiAssumptions:
    """Store the ROI assumptions of a use case (negative costs, rates or volumes are refused: 422)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = parse_body(RoiAssumptionsIn, data)
    row = session.scalar(select(RoiAssumptions).where(RoiAssumptions.use_case_key == uc.key))
    before = dict(row.inputs) if row else None
    new = body.model_dump(exclude_none=True)
    if row is None:
        row = RoiAssumptions(use_case_key=uc.key, inputs=new, updated_by=actor.username)
        session.add(row)
    else:
        row.inputs, row.updated_by, row.updated_at = new, actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "roi.assumptions", "use_case", uc.key, before, new)
    return row


def quality_rates(session: Session, key: str) -> tuple[float, float] | None:
    """(hourly rate, cost per escalation) of the use case's ROI assumptions; None without assumptions."""
    row = session.scalar(select(RoiAssumptions).where(RoiAssumptions.use_case_key == key))
    if row is None:
        return None
    return float(row.inputs.get("hourly_rate") or 0.0), float(row.inputs.get("cost_per_escalation") or 0.0)


NO_ASSUMPTIONS = "ROI assumptions (build cost, unit value, rates)"


def _without_assumptions(key: str) -> dict[str, Any]:
    return {"use_case": key, "result": None, "missing": [NO_ASSUMPTIONS], "inputs": {}, "sources": {},
            "price_snapshots": []}


def roi_many(session: Session, keys: list[str], now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """`roi` of each use case in `keys`: one query finds which have assumptions; only those are computed (the
    home page's payback column, without two queries per use case that has none)."""
    if not keys:
        return {}
    held = set(session.scalars(select(RoiAssumptions.use_case_key).where(
        one_of(session, RoiAssumptions.use_case_key, sorted(set(keys))))))
    return {k: roi(session, k, now) if k in held else _without_assumptions(k) for k in keys}


def roi(session: Session, key: str, now: datetime | None = None) -> dict[str, Any]:
    """ROI and payback from the assumptions plus measured figures, with where each input came from and formulas."""
    uc = portfolio.get(session, key)
    row = session.scalar(select(RoiAssumptions).where(RoiAssumptions.use_case_key == uc.key))
    if row is None:
        return _without_assumptions(key)
    a = dict(row.inputs)
    now = now or utcnow()
    snapshots: list[str] = []  # the dates of the shipped price snapshots the measured model cost was priced at
    sources: dict[str, str] = {k: f"assumption by {row.updated_by}" for k in a}
    missing: list[str] = []
    north = (uc.kpis or {}).get("north_star")
    if not north:
        missing.append("a north-star KPI with a baseline")
    elif north.get("baseline") is None:
        missing.append(f"a baseline for the north-star KPI '{north['name']}'")
    month = now - timedelta(days=30)
    stats = telemetry.window_stats(session, key, production(session, key, month, now), month, now)
    inputs: dict[str, Any] = {k: a[k] for k in ("build_cost", "infrastructure_cost_per_month", "unit_value",
                                                 "review_hours_per_month", "rework_hours_per_month", "hourly_rate",
                                                 "cost_per_escalation", "horizon_months") if k in a}
    if "review_hours_per_month" not in a:
        reviews, seconds = review_stats.review_time(session, key, month, now)
        inputs["review_hours_per_month"] = round(seconds / 3600, 2)
        sources["review_hours_per_month"] = f"human review: time {reviews} review(s) took over the last 30 days"
    if "telemetry_cost_per_month" in a:
        inputs["telemetry_cost_per_month"] = a["telemetry_cost_per_month"]
    else:
        inputs["telemetry_cost_per_month"] = round(stats.cost_usd, 2)
        snapshots = catalog.snapshot_dates(session, stats.models, month, now)
        note = pricing.prices_note(snapshots)
        sources["telemetry_cost_per_month"] = "telemetry: model cost over the last 30 days" + (f" ({note})" if note else "")
    if "escalations_per_month" in a:
        inputs["escalations_per_month"] = a["escalations_per_month"]
    else:
        inputs["escalations_per_month"] = stats.outcomes.get("escalated", 0)
        sources["escalations_per_month"] = "telemetry: escalated outcomes over the last 30 days"
    if "monthly_volume" in a:
        inputs["monthly_volume"] = a["monthly_volume"]
    elif stats is not None and stats.count:
        inputs["monthly_volume"] = stats.count
        sources["monthly_volume"] = "telemetry: AI calls over the last 30 days"
    elif uc.monthly_volume is not None:
        inputs["monthly_volume"] = uc.monthly_volume
        sources["monthly_volume"] = "intake: monthly volume"
    else:
        missing.append("a monthly volume (telemetry, intake or assumption)")
    if north:
        inputs["kpi_direction"] = north["direction"]
        if north.get("baseline") is not None:
            inputs["kpi_baseline"] = north["baseline"]
            sources["kpi_baseline"] = f"north-star KPI '{north['name']}' baseline"
        if "kpi_current" in a:
            inputs["kpi_current"] = a["kpi_current"]
        else:
            ms = measurements(session, key, north["name"])
            if ms:
                inputs["kpi_current"] = ms[-1].value
                sources["kpi_current"] = f"latest measurement of '{north['name']}' on {ms[-1].measured_on}"
            else:
                missing.append(f"a measurement of the north-star KPI '{north['name']}'")
    if missing:
        return {"use_case": key, "result": None, "missing": missing, "inputs": inputs, "sources": sources,
                "price_snapshots": snapshots}
    try:
        result = roi_rules.compute_roi(roi_rules.RoiInputs(**inputs))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"ROI inputs are invalid: {exc}") from None
    return {"use_case": key, "result": asdict(result) | {"roi_percent": result.roi_percent}, "missing": [],
            "inputs": inputs, "sources": sources, "price_snapshots": snapshots}
