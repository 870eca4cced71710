"""Outcome pages: the overview (adoption, KPIs, ROI per use case, quarterly reviews), a use case's outcomes,
a review, and the use-case page section with the usage policy and the feedback widget."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response

from markupsafe import Markup

from takeoff.core.errors import AppError
from takeoff.core.events import provided
from takeoff.outcomes import adoption, economics, kpis, reviews
from takeoff.outcomes.schemas import AUDIENCES
from takeoff.portfolio import service as portfolio
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.splitlines() if x.strip()]


def _summary(page: Any, uc: Any) -> dict[str, Any]:
    s = page.session
    card = adoption.weekly_scorecard(s, uc.key, weeks=2)
    kpi_rows = kpis.kpi_report(s, uc.key)["kpis"]
    r = economics.roi(s, uc.key)
    last = card["weeks"][-1]
    return {"uc": uc, "week": last, "prev": card["weeks"][0], "trained_share": card["trained_share"],
            "north": kpi_rows[0] if kpi_rows else None, "guardrails": kpi_rows[1:], "roi": r, "notes": card["notes"]}


@router.get("/outcomes")
def outcomes_page(page: PageFor("read")) -> Response:
    """Outcomes across the portfolio: adoption this week, KPI status, ROI and payback, quarterly reviews."""
    rows = [_summary(page, uc) for uc in portfolio.list_use_cases(page.session) if uc.status != "retired"]
    return page.render("outcomes/overview.html", rows=rows, reviews=reviews.list_reviews(page.session),
                       can_review=page.actor.can("review.write"), error=None)


@router.post("/outcomes/reviews")
def review_start(page: PageFor("review.write"), csrf_token: Annotated[str, Form()] = "", quarter: Annotated[str, Form()] = "") -> Response:
    """Start a quarterly review from the overview."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            rev = reviews.start_review(page.session, page.actor, quarter.strip() or None)
    except AppError as exc:
        rows = [_summary(page, uc) for uc in portfolio.list_use_cases(page.session) if uc.status != "retired"]
        return page.render("outcomes/overview.html", status_code=exc.status, rows=rows,
                           reviews=reviews.list_reviews(page.session), can_review=page.actor.can("review.write"),
                           error=exc.message)
    return RedirectResponse(f"/outcomes/reviews/{rev.quarter}", status_code=303)


def _review(page: Any, quarter: str, error: str | None = None, status: int = 200) -> Response:
    rev = reviews.get_review(page.session, quarter)
    view = reviews.review_view(page.session, rev)
    accountable = {s["use_case"]: reviews.accountable_for(page.session, portfolio.get(page.session, s["use_case"]))
                   for s in view["snapshot"]}
    return page.render("outcomes/review.html", status_code=status, r=view, accountable=accountable, error=error,
                       can_review=page.actor.can("review.write"), charts=_review_charts(view))


def _review_charts(view: dict[str, Any]) -> Markup | None:
    """The printable report's charts (scores beside last quarter's, adoption, KPI trend), drawn on the page too."""
    quarterly = provided("reports.quarterly")  # a higher floor: registered at start when present
    if quarterly is None:
        return None
    prev = reviews.previous_quarter(view["quarter"])
    snap = view["snapshot"]
    return Markup(quarterly.score_charts(snap, view["quarter"], prev) + quarterly.adoption_chart(snap, view["quarter"], prev)
                  + quarterly.kpi_charts(snap, view["quarter"], prev))


@router.get("/outcomes/reviews/{quarter}")
def review_page(quarter: str, page: PageFor("read")) -> Response:
    """A quarterly review: snapshot, re-scores beside last quarter's, suggested actions, decisions, comparison."""
    return _review(page, quarter)


@router.post("/outcomes/reviews/{quarter}/decisions")
def review_decide(quarter: str, page: PageFor("review.write"), csrf_token: Annotated[str, Form()] = "",
                  use_case: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "",
                  rationale: Annotated[str, Form()] = "") -> Response:
    """Record a decision from the review page."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            reviews.decide(page.session, page.actor, quarter, {"use_case": use_case, "action": action,
                                                                 "rationale": rationale.strip()})
    except AppError as exc:
        return _review(page, quarter, exc.message, exc.status)
    return RedirectResponse(f"/outcomes/reviews/{quarter}", status_code=303)


def _detail(page: Any, key: str, error: str | None = None, status: int = 200) -> Response:
    s = page.session
    uc = portfolio.get(s, key)
    card = adoption.weekly_scorecard(s, key)
    report = kpis.kpi_report(s, key)
    return page.render("outcomes/usecase.html", status_code=status, uc=uc, card=card,
                       card_chart=adoption.scorecard_chart(card), kpis=report,
                       charts={k["name"]: kpis.kpi_chart(k) for k in report["kpis"] if k["measurements"]},
                       roi=economics.roi(s, key), policy=adoption.policy_view(adoption.usage_policy(s, key)),
                       enablement=adoption.enablement(s, key), audiences=AUDIENCES, error=error,
                       can_write=page.actor.can("outcome.write"))


@router.get("/outcomes/{key}")
def usecase_outcomes(key: str, page: PageFor("read")) -> Response:
    """One use case's outcomes: weekly scorecard, usage policy, enablement, KPI trends, ROI with formulas."""
    return _detail(page, key)


def _write(page: Any, key: str, fn: Any) -> Response:
    try:
        with page.session.begin_nested():
            fn()
    except AppError as exc:
        return _detail(page, key, exc.message, exc.status)
    return RedirectResponse(f"/outcomes/{key}", status_code=303)


@router.post("/outcomes/{key}/measurements")
def add_measurement(key: str, page: PageFor("outcome.write"), csrf_token: Annotated[str, Form()] = "",
                    kpi: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "",
                    unit: Annotated[str, Form()] = "", measured_on: Annotated[str, Form()] = "") -> Response:
    """Record one KPI measurement from the form."""
    page.check_csrf(csrf_token)
    return _write(page, key, lambda: kpis.record_measurements(
        page.session, page.actor, key, [{"kpi": kpi, "value": value or None, "unit": unit, "measured_on": measured_on}],
        source="web"))


@router.post("/outcomes/{key}/import")
async def import_measurements(key: str, page: PageFor("outcome.write"), csrf_token: Annotated[str, Form()] = "",
                              file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Import a CSV of measurements from the form (any bad row refuses the file)."""
    page.check_csrf(csrf_token)
    raw = await file.read() if file is not None else b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _detail(page, key, "the CSV must be UTF-8 text", 400)
    return _write(page, key, lambda: kpis.import_csv(page.session, page.actor, key, text))


@router.post("/outcomes/{key}/roi")
def set_roi(key: str, page: PageFor("outcome.write"), csrf_token: Annotated[str, Form()] = "",
            build_cost: Annotated[str, Form()] = "", infrastructure_cost_per_month: Annotated[str, Form()] = "",
            unit_value: Annotated[str, Form()] = "", review_hours_per_month: Annotated[str, Form()] = "",
            rework_hours_per_month: Annotated[str, Form()] = "", hourly_rate: Annotated[str, Form()] = "",
            cost_per_escalation: Annotated[str, Form()] = "", horizon_months: Annotated[str, Form()] = "") -> Response:
    """Set the ROI assumptions from the form."""
    page.check_csrf(csrf_token)
    raw = {"build_cost": build_cost, "infrastructure_cost_per_month": infrastructure_cost_per_month,
           "unit_value": unit_value, "review_hours_per_month": review_hours_per_month,
           "rework_hours_per_month": rework_hours_per_month, "hourly_rate": hourly_rate,
           "cost_per_escalation": cost_per_escalation, "horizon_months": horizon_months}
    body = {k: v.strip() for k, v in raw.items() if v.strip()}
    return _write(page, key, lambda: economics.set_roi_assumptions(page.session, page.actor, key, body))


@router.post("/outcomes/{key}/policy")
def set_policy(key: str, page: PageFor("outcome.write"), csrf_token: Annotated[str, Form()] = "",
               approved_uses: Annotated[str, Form()] = "", prohibited_uses: Annotated[str, Form()] = "",
               red_flags: Annotated[str, Form()] = "", trust_vs_verify: Annotated[str, Form()] = "") -> Response:
    """Write the usage policy from the form (one entry per line)."""
    page.check_csrf(csrf_token)
    body = {"approved_uses": _lines(approved_uses), "prohibited_uses": _lines(prohibited_uses),
            "red_flags": _lines(red_flags), "trust_vs_verify": trust_vs_verify.strip()}
    return _write(page, key, lambda: adoption.set_usage_policy(page.session, page.actor, key, body))


@router.post("/outcomes/{key}/training")
def add_training(key: str, page: PageFor("outcome.write"), csrf_token: Annotated[str, Form()] = "",
                 audience: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                 url: Annotated[str, Form()] = "") -> Response:
    """Add a training item from the form."""
    page.check_csrf(csrf_token)
    return _write(page, key, lambda: adoption.add_training_item(page.session, page.actor, key,
                                                               {"audience": audience, "title": title.strip(),
                                                                "url": url.strip()}))


@router.post("/outcomes/{key}/training/{item_id}/complete")
def complete(key: str, item_id: int, page: PageFor("read"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Mark a training item completed by the signed-in person."""
    page.check_csrf(csrf_token)
    return _write(page, key, lambda: adoption.complete_training(page.session, page.actor, item_id))


def _fragment(page: Any, key: str, message: str | None = None, error: str | None = None, status: int = 200) -> Response:
    s = page.session
    uc = portfolio.get(s, key)
    card = adoption.weekly_scorecard(s, key, weeks=2)
    return page.render("outcomes/fragment.html", status_code=status, uc=uc, card=card,
                       kpis=kpis.kpi_report(s, key)["kpis"], policy=adoption.policy_view(adoption.usage_policy(s, key)),
                       message=message, error=error, can_feedback=page.actor.can("telemetry.ingest"))


@router.get("/outcomes/fragment/usecase/{key}")
def usecase_fragment(key: str, page: PageFor("read")) -> Response:
    """htmx fragment on the use-case page: usage policy, this week's adoption, KPI status, feedback widget."""
    return _fragment(page, key)


@router.post("/outcomes/fragment/usecase/{key}/feedback")
def widget_feedback(key: str, page: PageFor("telemetry.ingest"), csrf_token: Annotated[str, Form()] = "",
                    rating: Annotated[str, Form()] = "", comment: Annotated[str, Form()] = "",
                    minutes_saved: Annotated[str, Form()] = "") -> Response:
    """The feedback widget: stored with the SDK's feedback; answers the refreshed fragment."""
    page.check_csrf(csrf_token)
    body: dict[str, Any] = {"comment": comment.strip() or None}
    try:
        if rating.strip():
            body["rating"] = int(rating)
        if minutes_saved.strip():
            body["time_saved_s"] = float(minutes_saved) * 60
    except ValueError:
        return _fragment(page, key, error="rating and minutes saved must be numbers")
    try:
        with page.session.begin_nested():
            adoption.record_widget_feedback(page.session, page.actor, key, body)
    except AppError as exc:
        return _fragment(page, key, error=exc.message)  # 200 so htmx swaps the message in
    return _fragment(page, key, message="Thanks: your feedback is recorded.")
