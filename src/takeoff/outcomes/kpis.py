"""KPI operations: the north-star KPI and guardrail measurements (recorded, imported from CSV, reported against
target) and the KPIs telemetry measures itself (cost per task, error and override rates). The only writer of
kpi_measurements."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Invalid
from takeoff.outcomes import scorecard as rules
from takeoff.outcomes.models import KpiMeasurement
from takeoff.outcomes.schemas import MeasurementIn
from takeoff.core.types import parse_body
from takeoff.outcomes.windows import WEEK_S, production, week_window
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import metrics as telemetry_metrics
from takeoff.telemetry import series as telemetry_series


TELEMETRY_KPIS: dict[str, str] = {  # telemetry metric -> label (unit and direction: the metric registry's)
    "cost_per_task": "Cost per task",
    "error_rate": "Error rate",
    "override_rate": "Human override rate",
}


def kpi_defs(uc: UseCase) -> list[dict[str, Any]]:
    """The north-star KPI and its guardrails, each with role, unit, direction, baseline and target."""
    k = uc.kpis or {}
    out = []
    if k.get("north_star"):
        out.append({**k["north_star"], "role": "north_star"})
    for g in k.get("guardrails") or []:
        out.append({**g, "role": "guardrail"})
    return out


def record_measurements(session: Session, actor: Actor, key: str, items: Sequence[MeasurementIn | dict[str, Any]],
                        source: str = "api", today: date | None = None) -> list[KpiMeasurement]:
    """Record KPI values, all or nothing: an unknown KPI, a wrong unit or a future date refuses the lot (422)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    defs = {d["name"]: d for d in kpi_defs(uc)}
    if not defs:
        raise Invalid(f"use case '{key}' has no KPIs defined; set its north-star KPI and two guardrails first")
    today = today or utcnow().date()
    parsed, details = [], []
    for i, raw in enumerate(items):
        try:
            m = parse_body(MeasurementIn, raw)
        except Invalid as exc:
            details += [{**d, "field": f"measurements.{i}.{d['field']}"} for d in exc.details]
            continue
        if m.kpi not in defs:
            details.append({"field": f"measurements.{i}.kpi", "message": f"unknown KPI {m.kpi!r}; known: {', '.join(defs)}"})
        elif m.unit != defs[m.kpi]["unit"]:
            details.append({"field": f"measurements.{i}.unit",
                            "message": f"unit {m.unit!r} is wrong for {m.kpi!r}, which is measured in {defs[m.kpi]['unit']!r}"})
        if m.measured_on > today:
            details.append({"field": f"measurements.{i}.measured_on", "message": f"{m.measured_on} is in the future"})
        parsed.append(m)
    if details:
        raise Invalid(f"{len(details)} problem(s), nothing recorded; first: {details[0]['field']}: {details[0]['message']}",
                      details=details)
    if not parsed:
        raise Invalid("no measurements given")
    rows = [KpiMeasurement(use_case_key=uc.key, kpi=m.kpi, value=m.value, unit=m.unit, measured_on=m.measured_on,
                           note=m.note, source=source, recorded_by=actor.username) for m in parsed]
    session.add_all(rows)
    session.flush()
    audit.record(session, actor, "kpi.measure", "use_case", uc.key, None,
                 {"count": len(rows), "source": source, "kpis": sorted({r.kpi for r in rows})})
    return rows


def import_csv(session: Session, actor: Actor, key: str, text: str) -> list[KpiMeasurement]:
    """Import measurements from CSV; any bad row refuses the whole file with every bad line reported (422)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    units = {d["name"]: d["unit"] for d in kpi_defs(uc)}
    try:
        rows, errors = rules.parse_measurements_csv(text, known_units=units, today=utcnow().date())
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if errors:
        raise Invalid(f"{len(errors)} bad row(s), nothing imported; line {errors[0]['line']}: {errors[0]['message']}",
                      details=[{"field": f"line {e['line']}", "line": e["line"], "message": e["message"]} for e in errors])
    return record_measurements(session, actor, key, [{"kpi": r.kpi, "value": r.value, "unit": r.unit,
                                                      "measured_on": r.measured_on, "note": r.note} for r in rows],
                               source="csv")


def measurements(session: Session, key: str, kpi: str | None = None) -> list[KpiMeasurement]:
    """Measurements of a use case, oldest first."""
    q = select(KpiMeasurement).where(KpiMeasurement.use_case_key == key)
    if kpi:
        q = q.where(KpiMeasurement.kpi == kpi)
    return list(session.scalars(q.order_by(KpiMeasurement.measured_on, KpiMeasurement.id)))


def measurement_view(m: KpiMeasurement) -> dict[str, Any]:
    return {"id": m.id, "kpi": m.kpi, "value": m.value, "unit": m.unit, "measured_on": m.measured_on.isoformat(),
            "source": m.source, "note": m.note, "recorded_by": m.recorded_by}


def telemetry_kpis(session: Session, uc: UseCase, weeks: int = 8, now: datetime | None = None) -> dict[str, Any]:
    """Weekly cost per task, error rate and override rate from telemetry, with the scale targets beside them."""
    series = telemetry_series.series
    start, end = week_window(now or utcnow(), weeks)
    t = portfolio.targets(uc)
    targets = {"cost_per_task": t.cost_per_task_usd, "error_rate": t.max_error_rate, "override_rate": None}
    out = []
    prod = production(session, uc.key, start, end)
    for metric, label in TELEMETRY_KPIS.items():
        unit, bad = telemetry_metrics.get(metric).unit, telemetry_metrics.get(metric).bad
        direction = "lower_is_better" if bad == "high" else "higher_is_better"
        pts = series(session, uc.key, metric, start, end, WEEK_S, prod)
        values = [v for _, v in pts if v is not None]
        latest = values[-1] if values else None
        out.append({"metric": metric, "name": label, "unit": unit, "target": targets[metric],
                    "direction": direction, "points": [(b.date().isoformat(), v) for b, v in pts],
                    "latest": latest, "status": rules.kpi_status(direction, latest, targets[metric])})
    return {"missing": None, "metrics": out}


def kpi_report(session: Session, key: str, now: datetime | None = None) -> dict[str, Any]:
    """Each KPI with its measurements (trend), latest value and status against target; plus telemetry KPIs."""
    uc = portfolio.get(session, key)
    out = []
    for d in kpi_defs(uc):
        ms = measurements(session, key, d["name"])
        latest = ms[-1].value if ms else None
        out.append({**d, "measurements": [measurement_view(m) for m in ms], "latest": latest,
                    "status": rules.kpi_status(d["direction"], latest, d.get("target"))})
    return {"use_case": key, "kpis": out, "telemetry": telemetry_kpis(session, uc, now=now)}


def kpi_chart(k: dict[str, Any]) -> dict[str, Any]:
    """Chart.js line config of a KPI's measurements with its target as a dashed line."""
    labels = [m["measured_on"] for m in k["measurements"]]
    ds = [{"label": f"{k['name']} ({k['unit']})", "data": [m["value"] for m in k["measurements"]],
           "borderColor": "#1565c0", "tension": 0.2}]
    if k.get("target") is not None:
        ds.append({"label": "target", "data": [k["target"]] * len(labels), "borderColor": "#c62828",
                   "borderDash": [6, 4], "pointRadius": 0})
    return {"type": "line", "data": {"labels": labels, "datasets": ds},
            "options": {"animation": False, "plugins": {"legend": {"position": "bottom"}}}}
