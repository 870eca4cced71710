"""Outcome operations: KPI measurements, ROI, usage policies, enablement, the weekly adoption scorecard and
quarterly reviews. The only writer of the outcome tables; reads lower domains through their services, and shows a
figure it lacks the data for as "no evidence", never as a made-up one."""
from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.findings import service as findings_svc
from takeoff.governance import service as governance
from takeoff.incidents import service as incidents_svc
from takeoff.monitoring import traffic as monitoring
from takeoff.outcomes import review as review_rules
from takeoff.outcomes import roi as roi_rules
from takeoff.outcomes import scorecard as rules
from takeoff.outcomes import themes as theme_rules
from takeoff.outcomes.models import (KpiMeasurement, QuarterlyReview, ReviewDecision, RoiAssumptions,
                                     TrainingCompletion, TrainingItem, UsagePolicy)
from takeoff.outcomes.schemas import (AUDIENCES, DecisionIn, MeasurementIn, RoiAssumptionsIn, TrainingItemIn,
                                      UsagePolicyIn, WidgetFeedbackIn)
from takeoff.portfolio import scoring
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import schemas as telemetry_schemas
from takeoff.telemetry import feedback as telemetry_feedback
from takeoff.telemetry import metrics as telemetry_metrics
from takeoff.telemetry import series as telemetry_series
from takeoff.telemetry import window as telemetry

WEEK_S = 7 * 86400
TELEMETRY_KPIS: dict[str, str] = {  # telemetry metric -> label (unit and direction: the metric registry's)
    "cost_per_task": "Cost per task",
    "error_rate": "Error rate",
    "override_rate": "Human override rate",
}


def _pydantic_invalid(exc: ValidationError, prefix: str = "") -> Invalid:
    details = [{"field": prefix + ".".join(str(p) for p in e.get("loc", ())),
                "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in exc.errors()]
    return Invalid(f"invalid input: {details[0]['field']}: {details[0]['message']}", details=details)


def _parse(model: Any, data: Any) -> Any:
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise Invalid(f"{model.__name__} must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_invalid(exc) from None


# ---------------------------------------------------------------------------------------------- KPIs
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
            m = _parse(MeasurementIn, raw)
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


def _production(session: Session, key: str, start: datetime, end: datetime) -> list[str] | None:
    """The releases whose telemetry of [start, end) counts in outcomes: production traffic only, by monitoring's
    rule (None = all of it), so a staging or smoke-test release never inflates adoption, cost or volume."""
    return monitoring.production_releases(session, key, start, end)


def _weeks(now: datetime, weeks: int) -> tuple[datetime, datetime]:
    end = datetime.fromtimestamp(math.floor(now.timestamp() / WEEK_S) * WEEK_S + WEEK_S, UTC)
    return end - timedelta(seconds=WEEK_S * weeks), end


def telemetry_kpis(session: Session, uc: UseCase, weeks: int = 8, now: datetime | None = None) -> dict[str, Any]:
    """Weekly cost per task, error rate and override rate from telemetry, with the scale targets beside them."""
    series = telemetry_series.series
    start, end = _weeks(now or utcnow(), weeks)
    t = portfolio.targets(uc)
    targets = {"cost_per_task": t.cost_per_task_usd, "error_rate": t.max_error_rate, "override_rate": None}
    out = []
    prod = _production(session, uc.key, start, end)
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


# ---------------------------------------------------------------------------------------------- ROI
def set_roi_assumptions(session: Session, actor: Actor, key: str, data: Any) -> RoiAssumptions:
    """Store the ROI assumptions of a use case (negative costs, rates or volumes are refused: 422)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = _parse(RoiAssumptionsIn, data)
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


def roi(session: Session, key: str, now: datetime | None = None) -> dict[str, Any]:
    """ROI and payback from the assumptions plus measured figures, with where each input came from and formulas."""
    uc = portfolio.get(session, key)
    row = session.scalar(select(RoiAssumptions).where(RoiAssumptions.use_case_key == uc.key))
    if row is None:
        return {"use_case": key, "result": None, "missing": ["ROI assumptions (build cost, unit value, rates)"],
                "inputs": {}, "sources": {}}
    a = dict(row.inputs)
    now = now or utcnow()
    sources: dict[str, str] = {k: f"assumption by {row.updated_by}" for k in a}
    missing: list[str] = []
    north = (uc.kpis or {}).get("north_star")
    if not north:
        missing.append("a north-star KPI with a baseline")
    elif north.get("baseline") is None:
        missing.append(f"a baseline for the north-star KPI '{north['name']}'")
    month = now - timedelta(days=30)
    stats = telemetry.window_stats(session, key, _production(session, key, month, now), month, now)
    inputs: dict[str, Any] = {k: a[k] for k in ("build_cost", "infrastructure_cost_per_month", "unit_value",
                                                 "review_hours_per_month", "rework_hours_per_month", "hourly_rate",
                                                 "cost_per_escalation", "horizon_months") if k in a}
    if "telemetry_cost_per_month" in a:
        inputs["telemetry_cost_per_month"] = a["telemetry_cost_per_month"]
    else:
        inputs["telemetry_cost_per_month"] = round(stats.cost_usd, 2)
        sources["telemetry_cost_per_month"] = "telemetry: model cost over the last 30 days"
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
        return {"use_case": key, "result": None, "missing": missing, "inputs": inputs, "sources": sources}
    try:
        result = roi_rules.compute_roi(roi_rules.RoiInputs(**inputs))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"ROI inputs are invalid: {exc}") from None
    return {"use_case": key, "result": asdict(result) | {"roi_percent": result.roi_percent}, "missing": [],
            "inputs": inputs, "sources": sources}


# ---------------------------------------------------------------------------------------------- usage policy
def set_usage_policy(session: Session, actor: Actor, key: str, data: Any) -> UsagePolicy:
    """Write the use case's usage policy (approved, prohibited, red flags, trust vs verify)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = _parse(UsagePolicyIn, data)
    row = usage_policy(session, uc.key)
    before = policy_view(row) if row else None
    if row is None:
        row = UsagePolicy(use_case_key=uc.key, updated_by=actor.username)
        session.add(row)
    for k, v in body.model_dump().items():
        setattr(row, k, v)
    row.updated_by, row.updated_at = actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "usage_policy.set", "use_case", uc.key, before, policy_view(row))
    return row


def usage_policy(session: Session, key: str) -> UsagePolicy | None:
    return session.scalar(select(UsagePolicy).where(UsagePolicy.use_case_key == key))


def policy_view(p: UsagePolicy | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"approved_uses": list(p.approved_uses or []), "prohibited_uses": list(p.prohibited_uses or []),
            "red_flags": list(p.red_flags or []), "trust_vs_verify": p.trust_vs_verify,
            "updated_by": p.updated_by, "updated_at": p.updated_at.isoformat() if p.updated_at else None}


# ---------------------------------------------------------------------------------------------- enablement
def add_training_item(session: Session, actor: Actor, key: str, data: Any) -> TrainingItem:
    """Add a training item for an audience of a use case (409 on a duplicate title)."""
    actor.require("outcome.write")
    uc = portfolio.get(session, key)
    body = _parse(TrainingItemIn, data)
    exists = session.scalar(select(TrainingItem).where(TrainingItem.use_case_key == uc.key,
                                                       TrainingItem.audience == body.audience,
                                                       TrainingItem.title == body.title))
    if exists:
        raise Conflict(f"training item '{body.title}' for {body.audience} already exists")
    row = TrainingItem(use_case_key=uc.key, audience=body.audience, title=body.title, url=body.url,
                       created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "training.add", "use_case", uc.key, None, body.model_dump())
    return row


def complete_training(session: Session, actor: Actor, item_id: int, username: str | None = None) -> TrainingCompletion:
    """Record that a person completed an item; others than oneself need outcome.write. Idempotent."""
    who = username or actor.username
    if who != actor.username:
        actor.require("outcome.write")
    item = session.get(TrainingItem, item_id)
    if item is None:
        raise NotFound(f"training item {item_id} not found")
    if session.scalar(select(User.id).where(User.username == who)) is None:
        raise Invalid(f"unknown person '{who}'", details=[{"field": "username", "message": "unknown person"}])
    row = session.scalar(select(TrainingCompletion).where(TrainingCompletion.item_id == item.id,
                                                          TrainingCompletion.username == who))
    if row is not None:
        return row
    row = TrainingCompletion(item_id=item.id, username=who)
    session.add(row)
    session.flush()
    audit.record(session, actor, "training.complete", "use_case", item.use_case_key, None,
                 {"item": item.title, "audience": item.audience, "username": who})
    return row


def enablement(session: Session, key: str) -> dict[str, Any]:
    """Training items per audience with who completed each, and the people trained (all items of an audience)."""
    items = list(session.scalars(select(TrainingItem).where(TrainingItem.use_case_key == key)
                                 .order_by(TrainingItem.audience, TrainingItem.id)))
    done: dict[int, list[str]] = {}
    if items:
        for c in session.scalars(select(TrainingCompletion).where(
                TrainingCompletion.item_id.in_([i.id for i in items])).order_by(TrainingCompletion.username)):
            done.setdefault(c.item_id, []).append(c.username)
    by_aud: dict[str, list[dict[str, Any]]] = {a: [] for a in AUDIENCES}
    for i in items:
        by_aud[i.audience].append({"id": i.id, "title": i.title, "url": i.url, "completed_by": done.get(i.id, [])})
    trained: set[str] = set()
    for its in by_aud.values():
        if its:
            people = set.intersection(*(set(x["completed_by"]) for x in its))
            trained |= people
    return {"audiences": by_aud, "trained_people": sorted(trained), "items": len(items)}


# ---------------------------------------------------------------------------------------------- feedback
def record_widget_feedback(session: Session, actor: Actor, key: str, data: Any) -> str:
    """Feedback from the use-case page, stored through the telemetry feedback service (the SDK's path)."""
    actor.require("telemetry.ingest")
    uc = portfolio.get(session, key)
    body = _parse(WidgetFeedbackIn, data)
    if body.rating is None and not (body.comment or "").strip() and body.time_saved_s is None:
        raise Invalid("give a rating, a comment or the time saved")
    fid = f"web-{uuid.uuid4().hex}"
    fb = telemetry_schemas.FeedbackIn(id=fid, use_case=uc.key, rating=body.rating, comment=(body.comment or "").strip() or None,
                time_saved_s=body.time_saved_s, unit_id=actor.username, ts=utcnow().timestamp())
    telemetry_feedback.record_feedback(session, actor, fb)
    return fid


# ---------------------------------------------------------------------------------------------- scorecard
def _incidents(session: Session, key: str, start: datetime, end: datetime) -> list[Any]:
    return [i for i in incidents_svc.list_incidents(session, use_case_key=key) if start <= i.detected_at < end]


def weekly_scorecard(session: Session, key: str, weeks: int = 6, now: datetime | None = None) -> dict[str, Any]:
    """Per week: active and repeat users (with week-over-week change), time saved, feedback volume and rating,
    escalations and AI-related incidents; plus top feedback themes with representative comments and the share
    of active users trained."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 52:
        raise Invalid("weeks must be a whole number from 1 to 52")
    uc = portfolio.get(session, key)
    now = now or utcnow()
    start, end = _weeks(now, weeks)
    notes: list[str] = []
    prod = _production(session, key, start, end)
    active = [v for _, v in telemetry_series.series(session, key, "active_users", start, end, WEEK_S, prod)]
    repeat = [v for _, v in telemetry_series.series(session, key, "repeat_users", start, end, WEEK_S, prod)]
    feedback = telemetry_feedback.feedback_for(session, key, start, end)
    incidents = _incidents(session, key, start, end)
    rows = []
    for w in range(weeks):
        ws, we = start + timedelta(seconds=WEEK_S * w), start + timedelta(seconds=WEEK_S * (w + 1))
        fb = [f for f in feedback if ws <= f["ts"] < we]
        ratings = [f["rating"] for f in fb if f["rating"] is not None]
        stats = telemetry.window_stats(session, key, prod, ws, we)
        a = active[w] if active else None
        rows.append({
            "week": ws.date().isoformat(),
            "active_users": None if a is None else int(a),
            "repeat_users": None if not repeat or repeat[w] is None else int(repeat[w]),
            "active_change": rules.change(a, active[w - 1]) if active and w else None,
            "calls": stats.count,
            "escalations": stats.outcomes.get("escalated", 0),
            "time_saved_h": round(sum(f["time_saved_s"] or 0 for f in fb) / 3600, 2),
            "feedback": len(fb),
            "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "incidents": sum(1 for i in incidents if ws <= i.detected_at < we),
        })
    comments = [f["comment"] for f in feedback if f.get("comment")]
    themes = [asdict(t) for t in theme_rules.feedback_themes(comments)] if comments else []
    en = enablement(session, key)
    last_active = rows[-1]["active_users"] if rows else None
    if last_active is None and len(rows) > 1:
        last_active = rows[-2]["active_users"]
    share = rules.trained_share(len(en["trained_people"]), last_active)
    return {"use_case": key, "name": uc.name, "weeks": rows, "themes": themes, "notes": notes,
            "trained_people": len(en["trained_people"]), "trained_share": share,
            "incident_list": [{"id": i.id, "title": i.title, "severity": i.severity, "status": i.status,
                               "detected_at": i.detected_at.isoformat()} for i in incidents],
            "usage_policy": policy_view(usage_policy(session, key))}


def scorecard_chart(card: dict[str, Any]) -> dict[str, Any]:
    """Chart.js bar/line config: active and repeat users per week."""
    labels = [r["week"] for r in card["weeks"]]
    return {"type": "bar", "data": {"labels": labels, "datasets": [
        {"label": "active users", "data": [r["active_users"] for r in card["weeks"]], "backgroundColor": "#1565c0"},
        {"label": "repeat users", "data": [r["repeat_users"] for r in card["weeks"]], "backgroundColor": "#7cb342"}]},
        "options": {"animation": False, "plugins": {"legend": {"position": "bottom"}}}}


# ---------------------------------------------------------------------------------------------- quarterly review
def quarter_of(d: date) -> str:
    return scoring.quarter_of(d)


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter like 2026-Q4, in UTC."""
    try:
        y, q = int(quarter[:4]), int(quarter[-1])
        if quarter[4:6] != "-Q" or not 1 <= q <= 4 or len(quarter) != 7:
            raise ValueError
    except (ValueError, IndexError):
        raise Invalid(f"quarter must look like 2026-Q4, got {quarter!r}") from None
    start = datetime(y, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def previous_quarter(quarter: str) -> str:
    start, _ = quarter_bounds(quarter)
    return quarter_of((start - timedelta(days=1)).date())


def _finding_label(f: dict[str, Any]) -> str:
    extra = [f["severity"]] + ([f"control {f['control_id']}"] if f.get("control_id") else [])
    extra += ["new this quarter"] if f.get("new") else []
    extra += [f["status"].replace("_", " ")]
    return f"{f['title']} ({', '.join(extra)})"


def _north_star(session: Session, uc: UseCase, prev_start: datetime, end: datetime, start: datetime) -> dict[str, Any] | None:
    """The north-star KPI's measurements over last quarter and this one, and each quarter's average."""
    defs = [d for d in kpi_defs(uc) if d["role"] == "north_star"]
    if not defs:
        return None
    d = defs[0]
    pts = [(m.measured_on, m.value) for m in measurements(session, uc.key, d["name"])
           if prev_start.date() <= m.measured_on < end.date()]
    this = [v for day, v in pts if day >= start.date()]
    last = [v for day, v in pts if day < start.date()]
    return {"name": d["name"], "unit": d.get("unit"), "direction": d.get("direction"), "target": d.get("target"),
            "points": [[day.isoformat(), v] for day, v in pts],
            "this_quarter": round(sum(this) / len(this), 4) if this else None,
            "last_quarter": round(sum(last) / len(last), 4) if last else None}


def _facts(session: Session, uc: UseCase, quarter: str, notes: list[str]) -> dict[str, Any]:
    start, end = quarter_bounds(quarter)
    hist = portfolio.history(session, uc)
    now_q = {q: v for q, v in hist.items() if q <= quarter}
    cur = now_q[max(now_q)] if now_q else None
    prev_q = previous_quarter(quarter)
    before = {q: v for q, v in hist.items() if q <= prev_q}
    prev = before[max(before)] if before else None
    breaches = 0
    for d in kpi_defs(uc):
        if d["role"] != "guardrail" or d.get("target") is None:
            continue
        for m in measurements(session, uc.key, d["name"]):
            if start.date() <= m.measured_on < end.date() and \
                    rules.kpi_status(d["direction"], m.value, d["target"]) == "off_target":
                breaches += 1
    inc = _incidents(session, uc.key, start, end)
    findings = findings_svc.for_period(session, uc.key, start, end)
    ps, _ = quarter_bounds(prev_q)
    clip = min(end, utcnow())
    span = clip - start
    a_now = a_prev = 0
    if span.total_seconds() > 0:
        prod = _production(session, uc.key, ps, max(clip, start))
        # The same stretch of both quarters (day 1 to today), so a quarter in progress compares like with like.
        a_now = telemetry.window_stats(session, uc.key, prod, start, clip).active_units
        # Quarters differ in length: the previous window never runs into this quarter.
        a_prev = telemetry.window_stats(session, uc.key, prod, ps, min(ps + span, start)).active_units
    trend = rules.change(a_now, a_prev) if a_prev else None
    if not a_prev and not a_now:
        adoption_note = f"no data for {prev_q} or {quarter}"
    elif not a_prev:
        adoption_note = f"no data for {prev_q}"
    else:
        adoption_note = ""
    return {"use_case": uc.key, "name": uc.name, "status": uc.status,
            "priority": cur["priority"] if cur else None, "last_quarter_priority": prev["priority"] if prev else None,
            "value": cur["value"] if cur else None, "feasibility": cur["feasibility"] if cur else None,
            "risk": cur["risk"] if cur else None,
            "last_quarter_value": prev["value"] if prev else None,
            "last_quarter_feasibility": prev["feasibility"] if prev else None,
            "last_quarter_risk": prev["risk"] if prev else None,
            "guardrail_breaches": breaches,
            "incidents": len(inc),
            "audit_findings": len(findings),
            "findings": [_finding_label(f) for f in findings],
            "active_users": a_now, "last_quarter_active_users": a_prev,
            "adoption_trend": trend, "adoption_note": adoption_note,
            "north_star": _north_star(session, uc, ps, end, start)}


def start_review(session: Session, actor: Actor, quarter: str | None = None) -> QuarterlyReview:
    """Snapshot the portfolio for a quarter with re-scores beside last quarter's and suggested actions (409 if it exists)."""
    actor.require("review.write")
    quarter = quarter or quarter_of(utcnow().date())
    quarter_bounds(quarter)
    if session.scalar(select(QuarterlyReview.id).where(QuarterlyReview.quarter == quarter)) is not None:
        raise Conflict(f"the {quarter} review already exists")
    notes: list[str] = []
    snapshot, facts = [], []
    for uc in portfolio.list_use_cases(session):
        f = _facts(session, uc, quarter, notes)
        snapshot.append(f)
        if uc.status == "retired":
            continue
        if f["priority"] is None and uc.status != "discovered":
            notes.append(f"{uc.key} is not scored: no suggestion until it is")
            continue
        facts.append(review_rules.UseCaseFacts(uc.key, uc.status, float(f["priority"] or 0.0),
                                               guardrail_breaches=f["guardrail_breaches"], incidents=f["incidents"] or 0,
                                               audit_findings=f["audit_findings"] or 0,
                                               adoption_trend=f["adoption_trend"], finding_titles=tuple(f["findings"])))
    actions = [{"use_case": a.use_case, "action": a.action, "reasons": a.reasons}
               for a in review_rules.suggest_actions(facts)]
    row = QuarterlyReview(quarter=quarter, snapshot=snapshot, actions=actions, notes=notes, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "review.start", "quarterly_review", quarter, None,
                 {"use_cases": len(snapshot), "actions": len(actions)})
    return row


def get_review(session: Session, quarter: str) -> QuarterlyReview:
    row = session.scalar(select(QuarterlyReview).where(QuarterlyReview.quarter == quarter))
    if row is None:
        raise NotFound(f"no review for {quarter}")
    return row


def list_reviews(session: Session) -> list[QuarterlyReview]:
    return list(session.scalars(select(QuarterlyReview).order_by(QuarterlyReview.quarter.desc())))


def accountable_for(session: Session, uc: UseCase) -> list[str]:
    """The people accountable for a use case: RACI 'accountable' (when governance has it), else its business owner."""
    people: list[str] = []
    raci = governance.raci
    if raci is not None:
        people = list(raci(session, uc.key).get("accountable", []))
    if uc.business_owner and uc.business_owner not in people:
        people.append(uc.business_owner)
    return people


def decide(session: Session, actor: Actor, quarter: str, data: Any) -> ReviewDecision:
    """Record an accountable person's decision for a use case in a review (403 for anyone else but admins)."""
    actor.require("review.write")
    rev = get_review(session, quarter)
    body = _parse(DecisionIn, data)
    uc = portfolio.get(session, body.use_case)
    people = accountable_for(session, uc)
    if actor.username not in people and "admin" not in actor.roles:
        raise Forbidden(f"only the people accountable for {uc.key} may decide ({', '.join(people) or 'none named'})",
                        code="not_accountable")
    row = session.scalar(select(ReviewDecision).where(ReviewDecision.review_id == rev.id,
                                                      ReviewDecision.use_case_key == uc.key))
    before = {"action": row.action, "rationale": row.rationale, "by": row.decided_by} if row else None
    if row is None:
        row = ReviewDecision(review_id=rev.id, use_case_key=uc.key, action=body.action, rationale=body.rationale,
                             decided_by=actor.username)
        session.add(row)
    else:
        row.action, row.rationale, row.decided_by, row.decided_at = body.action, body.rationale, actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "review.decide", "quarterly_review", quarter, before,
                 {"use_case": uc.key, "action": body.action, "rationale": body.rationale})
    return row


def review_view(session: Session, rev: QuarterlyReview) -> dict[str, Any]:
    """The review with its decisions and, per use case, the previous review's priority, action and decision."""
    decisions = {d.use_case_key: {"action": d.action, "rationale": d.rationale, "decided_by": d.decided_by,
                                  "decided_at": d.decided_at.isoformat()}
                 for d in session.scalars(select(ReviewDecision).where(ReviewDecision.review_id == rev.id))}
    prev = session.scalar(select(QuarterlyReview).where(QuarterlyReview.quarter < rev.quarter)
                          .order_by(QuarterlyReview.quarter.desc()).limit(1))
    compare: dict[str, Any] = {}
    if prev is not None:
        pdec = {d.use_case_key: d for d in session.scalars(select(ReviewDecision).where(ReviewDecision.review_id == prev.id))}
        psnap = {s["use_case"]: s for s in prev.snapshot}
        for s in rev.snapshot:
            p = psnap.get(s["use_case"])
            d = pdec.get(s["use_case"])
            compare[s["use_case"]] = {"priority": p["priority"] if p else None, "status": p["status"] if p else None,
                                      "decision": d.action if d else None}
    return {"quarter": rev.quarter, "created_by": rev.created_by, "created_at": rev.created_at.isoformat(),
            "snapshot": rev.snapshot, "actions": rev.actions, "notes": rev.notes, "decisions": decisions,
            "previous": prev.quarter if prev else None, "compare": compare}
