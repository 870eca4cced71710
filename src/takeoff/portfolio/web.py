"""Portfolio pages: the portfolio (inventory, scoring matrix, chart, recommendation), intake, the use-case page."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from takeoff.core.errors import AppError
from takeoff.core.events import USE_CASE_GOVERNANCE, provided
from takeoff.portfolio import lifecycle, service
from takeoff.portfolio.schemas import ScoreIn
from takeoff.web.render import TEMPLATES, CurrentPage

router = APIRouter(include_in_schema=False)
SECTIONS_DIR = "usecase_sections"
RISK_COLOURS = {1: "#2e7d32", 2: "#7cb342", 3: "#f9a825", 4: "#ef6c00", 5: "#c62828"}


def section_templates() -> list[str]:
    """Templates that later floors add to the use-case page (usecase_sections/*.html), in sorted order."""
    folder = Path(TEMPLATES.env.loader.searchpath[0]) / SECTIONS_DIR  # type: ignore[union-attr]
    return [f"{SECTIONS_DIR}/{p.name}" for p in sorted(folder.glob("*.html"))] if folder.is_dir() else []


def bubble_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart.js config: value × feasibility, bubble size and colour from risk."""
    data = []
    for r in rows:
        risk = float(r["risk"])
        data.append({"label": r["use_case"], "backgroundColor": RISK_COLOURS[max(1, min(5, round(risk)))],
                     "data": [{"x": r["feasibility"], "y": r["value"], "r": 4 + 3 * risk}]})
    axis = {"min": 0.5, "max": 5.5, "title": {"display": True}}
    return {"type": "bubble", "data": {"datasets": data},
            "options": {"plugins": {"legend": {"position": "bottom"}},
                        "scales": {"x": {**axis, "title": {"display": True, "text": "feasibility"}},
                                   "y": {**axis, "title": {"display": True, "text": "value"}}}}}


@router.get("/usecases")
def portfolio_page(page: CurrentPage, status: str | None = None) -> Response:
    """The portfolio: inventory with status filter, scoring matrix, chart, recommendation."""
    page.require("read")
    status = status if status in lifecycle.STATUSES else None
    ranking = service.ranking(page.session)
    return page.render("portfolio/list.html", use_cases=service.list_use_cases(page.session, status),
                       statuses=lifecycle.STATUSES, status=status, ranking=ranking,
                       chart=bubble_chart(ranking["ranking"]) if ranking["ranking"] else None,
                       can_write=page.actor.can("usecase.write"))


def _intake_form(page: Any, error: str | None = None, values: dict[str, Any] | None = None, status: int = 200) -> Response:
    return page.render("portfolio/new.html", status_code=status, error=error, v=values or {})


@router.get("/usecases/new")
def new_page(page: CurrentPage) -> Response:
    """The intake form."""
    page.require("usecase.write")
    return _intake_form(page)


def split_names(text: str) -> list[str]:
    """A form's comma- or line-separated names as a list (the use-case page's forms, governance's too)."""
    return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]


@router.post("/usecases/new")
def new_submit(page: CurrentPage, csrf_token: Annotated[str, Form()] = "", key: Annotated[str, Form()] = "",
               name: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
               team: Annotated[str, Form()] = "", data_sources: Annotated[str, Form()] = "",
               user_groups: Annotated[str, Form()] = "", expected_users: Annotated[str, Form()] = "",
               system_of_record: Annotated[str, Form()] = "", risk_tier: Annotated[str, Form()] = "",
               business_owner: Annotated[str, Form()] = "", biggest_bottleneck: Annotated[str, Form()] = "",
               risk_constraint: Annotated[str, Form()] = "", monthly_volume: Annotated[str, Form()] = "") -> Response:
    """Register a use case from the intake form; missing required information re-renders the form."""
    page.check_csrf(csrf_token)
    page.require("usecase.write")
    values = {"key": key, "name": name, "purpose": purpose, "team": team, "data_sources": data_sources,
              "user_groups": user_groups, "expected_users": expected_users, "system_of_record": system_of_record,
              "risk_tier": risk_tier, "business_owner": business_owner, "biggest_bottleneck": biggest_bottleneck,
              "risk_constraint": risk_constraint, "monthly_volume": monthly_volume}
    body: dict[str, Any] = {"key": key.strip(), "name": name.strip(), "purpose": purpose.strip(), "team": team.strip(),
                            "data_sources": split_names(data_sources), "user_groups": split_names(user_groups),
                            "system_of_record": system_of_record.strip(), "risk_constraint": risk_constraint.strip(),
                            "risk_tier": risk_tier or None, "business_owner": business_owner.strip() or None,
                            "biggest_bottleneck": biggest_bottleneck or None}
    for f, raw in (("expected_users", expected_users), ("monthly_volume", monthly_volume)):
        if raw.strip():
            if not raw.strip().isdigit():
                return _intake_form(page, f"{f.replace('_', ' ')} must be a whole number", values, 422)
            body[f] = int(raw.strip())
    try:
        with page.session.begin_nested():
            uc = service.create(page.session, page.actor, body)
    except AppError as exc:
        return _intake_form(page, exc.message, values, exc.status)
    return RedirectResponse(f"/usecases/{uc.key}", status_code=303)


def _detail(page: Any, key: str, error: str | None = None, status: int = 200) -> Response:
    s = page.session
    uc = service.get(s, key)
    agg = service.aggregate(s, uc)
    # governance (a floor above) provides its part of the page at start: tier policy, EU AI Act, RACI, roles, controls
    governance_part = provided(USE_CASE_GOVERNANCE)
    return page.render(
        "portfolio/detail.html", status_code=status, uc=uc, view=service.view(uc), error=error,
        transitions=service.transitions(s, uc), scores=service.scores(s, uc),
        aggregate=service.aggregate_view(agg) if agg else None, history=service.history(s, uc),
        sections=section_templates(), can=page.actor.can,
        **(governance_part(s, uc) if governance_part is not None else {"governance": False}))


@router.get("/usecases/{key}")
def detail_page(key: str, page: CurrentPage) -> Response:
    """The use-case page."""
    page.require("read")
    return _detail(page, key)


def act(page: Any, key: str, fn: Any) -> Response:
    """Run a use-case page form's action in a savepoint: back to the page, or the page again with the error."""
    try:
        with page.session.begin_nested():
            fn()
    except AppError as exc:
        if exc.status == 404:
            raise
        return _detail(page, key, exc.message, exc.status)
    return RedirectResponse(f"/usecases/{key}", status_code=303)


@router.post("/usecases/{key}/transition")
def transition_submit(key: str, page: CurrentPage, csrf_token: Annotated[str, Form()] = "",
                      to: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    """A lifecycle button."""
    page.check_csrf(csrf_token)
    page.require("usecase.transition")
    return act(page, key, lambda: service.transition(page.session, page.actor, key, to, reason))


@router.post("/usecases/{key}/score")
def score_submit(key: str, page: CurrentPage, csrf_token: Annotated[str, Form()] = "",
                 value: Annotated[float, Form()] = 0, feasibility: Annotated[float, Form()] = 0,
                 risk: Annotated[float, Form()] = 0) -> Response:
    """Score the use case as the signed-in user."""
    page.check_csrf(csrf_token)
    page.require("usecase.score")
    return act(page, key, lambda: service.add_score(page.session, page.actor, key,
                                                     ScoreIn(value=value, feasibility=feasibility, risk=risk)))


