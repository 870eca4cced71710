"""Outcomes HTTP API: KPI measurements (JSON and CSV), ROI, usage policy, enablement, feedback widget,
weekly adoption scorecard and quarterly reviews (mounted under /api/v1)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from takeoff.deps import DB, Allowed
from takeoff.core.errors import BadRequest
from takeoff.outcomes import adoption, economics, kpis, reviews
from takeoff.outcomes.schemas import (CompletionIn, DecisionIn, MeasurementsBody, ReviewIn, RoiAssumptionsIn,
                                      TrainingItemIn, UsagePolicyIn, WidgetFeedbackIn)
from takeoff.core.types import Id, text_body

router = APIRouter(tags=["outcomes"])


@router.get("/usecases/{key}/kpis")
def get_kpis(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The north-star KPI and guardrails with measurements, status against target, and telemetry KPIs."""
    return kpis.kpi_report(session, key)


@router.post("/usecases/{key}/kpis/measurements", status_code=201)
def post_measurements(key: str, session: DB, actor: Allowed("outcome.write"),
                      body: MeasurementsBody) -> dict[str, Any]:
    """Record measurements `{"measurements": [{kpi, value, unit, measured_on}]}` (or one object); all or nothing."""
    rows = kpis.record_measurements(session, actor, key, body.measurements)
    return {"recorded": len(rows), "measurements": [kpis.measurement_view(r) for r in rows]}


async def _text_body(request: Request) -> str:
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the CSV must be UTF-8 text") from None


@router.post("/usecases/{key}/kpis/import", status_code=201, openapi_extra=text_body("text/csv"))
def import_measurements(key: str, session: DB, actor: Allowed("outcome.write"),
                        text: str = Depends(_text_body)) -> dict[str, Any]:
    """Import a CSV (kpi,value,unit,measured_on[,note]); any bad row refuses the file, every bad line named."""
    return {"imported": len(kpis.import_csv(session, actor, key, text))}


@router.get("/usecases/{key}/roi")
def get_roi(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """ROI and payback with each figure's formula, the inputs and where each came from (or what is missing)."""
    return economics.roi(session, key)


@router.put("/usecases/{key}/roi")
def put_roi(key: str, session: DB, actor: Allowed("outcome.write"), body: RoiAssumptionsIn) -> dict[str, Any]:
    """Set the ROI assumptions (build cost, unit value, rates...); negative costs are refused (422)."""
    economics.set_roi_assumptions(session, actor, key, body)
    return economics.roi(session, key)


@router.get("/usecases/{key}/usage-policy")
def get_policy(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The usage policy: approved and prohibited uses, red flags requiring escalation, when to trust vs verify."""
    from takeoff.portfolio import service as portfolio

    portfolio.get(session, key)
    return {"use_case": key, "policy": adoption.policy_view(adoption.usage_policy(session, key))}


@router.put("/usecases/{key}/usage-policy")
def put_policy(key: str, session: DB, actor: Allowed("outcome.write"), body: UsagePolicyIn) -> dict[str, Any]:
    """Write the usage policy."""
    row = adoption.set_usage_policy(session, actor, key, body)
    return {"use_case": key, "policy": adoption.policy_view(row)}


@router.get("/usecases/{key}/enablement")
def get_enablement(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Training items per audience (executives, managers, frontline, builders) and completion per person."""
    from takeoff.portfolio import service as portfolio

    portfolio.get(session, key)
    return {"use_case": key, **adoption.enablement(session, key)}


@router.post("/usecases/{key}/training", status_code=201)
def post_training(key: str, session: DB, actor: Allowed("outcome.write"), body: TrainingItemIn) -> dict[str, Any]:
    """Add a training item for an audience."""
    row = adoption.add_training_item(session, actor, key, body)
    return {"id": row.id, "audience": row.audience, "title": row.title, "url": row.url}


@router.post("/training/{item_id}/complete", status_code=201)
def post_completion(item_id: Id, session: DB, actor: Allowed("read"),
                    body: CompletionIn | None = None) -> dict[str, Any]:
    """Record a completion (yourself, or another person with outcome.write)."""
    row = adoption.complete_training(session, actor, item_id, body.username if body else None)
    return {"item_id": row.item_id, "username": row.username, "completed_at": row.completed_at.isoformat()}


@router.post("/usecases/{key}/feedback", status_code=201)
def post_feedback(key: str, session: DB, actor: Allowed("telemetry.ingest"),
                  body: WidgetFeedbackIn) -> dict[str, Any]:
    """Feedback on a use case (the page widget): rating, comment, time saved; stored with the SDK's feedback."""
    return {"id": adoption.record_widget_feedback(session, actor, key, body)}


@router.get("/usecases/{key}/scorecard")
def get_scorecard(key: str, session: DB, actor: Allowed("read"), weeks: int = Query(6, ge=1, le=52)) -> dict[str, Any]:
    """The weekly adoption scorecard."""
    return adoption.weekly_scorecard(session, key, weeks)


@router.get("/reviews")
def get_reviews(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Quarterly reviews, newest first."""
    return {"reviews": [{"quarter": r.quarter, "created_by": r.created_by, "created_at": r.created_at.isoformat(),
                         "actions": len(r.actions)} for r in reviews.list_reviews(session)]}


@router.post("/reviews", status_code=201)
def post_review(session: DB, actor: Allowed("review.write"), body: ReviewIn | None = None) -> dict[str, Any]:
    """Start a quarterly review `{"quarter": "2026-Q4"}` (default the current quarter); 409 if it exists."""
    return reviews.review_view(session, reviews.start_review(session, actor, body.quarter if body else None))


@router.get("/reviews/{quarter}")
def get_review(quarter: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One review with decisions and the comparison with the previous review."""
    return reviews.review_view(session, reviews.get_review(session, quarter))


@router.post("/reviews/{quarter}/decisions", status_code=201)
def post_decision(quarter: str, session: DB, actor: Allowed("review.write"), body: DecisionIn) -> dict[str, Any]:
    """Record an accountable person's decision `{use_case, action, rationale}`."""
    row = reviews.decide(session, actor, quarter, body)
    return {"quarter": quarter, "use_case": row.use_case_key, "action": row.action, "rationale": row.rationale,
            "decided_by": row.decided_by}
