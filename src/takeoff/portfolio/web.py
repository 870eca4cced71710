"""Portfolio pages: the portfolio (inventory, scoring matrix, chart, recommendation), intake, the use-case page."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from takeoff.core.errors import AppError, Invalid
from takeoff.governance import decisions, eu_ai_act
from takeoff.governance import service as gov
from takeoff.portfolio import lifecycle, service
from takeoff.portfolio.schemas import ScoreIn
from takeoff.web.render import TEMPLATES, PageDecides, PageFor

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
def portfolio_page(page: PageFor("read"), status: str | None = None) -> Response:
    """The portfolio: inventory with status filter, scoring matrix, chart, recommendation."""
    status = status if status in lifecycle.STATUSES else None
    ranking = service.ranking(page.session)
    return page.render("portfolio/list.html", use_cases=service.list_use_cases(page.session, status),
                       statuses=lifecycle.STATUSES, status=status, ranking=ranking,
                       chart=bubble_chart(ranking["ranking"]) if ranking["ranking"] else None,
                       can_write=page.actor.can("usecase.write"))


def _intake_form(page: Any, error: str | None = None, values: dict[str, Any] | None = None, status: int = 200) -> Response:
    return page.render("portfolio/new.html", status_code=status, error=error, v=values or {})


@router.get("/usecases/new")
def new_page(page: PageFor("usecase.write")) -> Response:
    """The intake form."""
    return _intake_form(page)


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]


@router.post("/usecases/new")
def new_submit(page: PageFor("usecase.write"), csrf_token: Annotated[str, Form()] = "", key: Annotated[str, Form()] = "",
               name: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
               team: Annotated[str, Form()] = "", data_sources: Annotated[str, Form()] = "",
               user_groups: Annotated[str, Form()] = "", expected_users: Annotated[str, Form()] = "",
               system_of_record: Annotated[str, Form()] = "", risk_tier: Annotated[str, Form()] = "",
               business_owner: Annotated[str, Form()] = "", biggest_bottleneck: Annotated[str, Form()] = "",
               risk_constraint: Annotated[str, Form()] = "", monthly_volume: Annotated[str, Form()] = "") -> Response:
    """Register a use case from the intake form; missing required information re-renders the form."""
    page.check_csrf(csrf_token)
    values = {"key": key, "name": name, "purpose": purpose, "team": team, "data_sources": data_sources,
              "user_groups": user_groups, "expected_users": expected_users, "system_of_record": system_of_record,
              "risk_tier": risk_tier, "business_owner": business_owner, "biggest_bottleneck": biggest_bottleneck,
              "risk_constraint": risk_constraint, "monthly_volume": monthly_volume}
    body: dict[str, Any] = {"key": key.strip(), "name": name.strip(), "purpose": purpose.strip(), "team": team.strip(),
                            "data_sources": _split(data_sources), "user_groups": _split(user_groups),
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
    version, policy = gov.tier_policy(s, uc.risk_tier) if uc.risk_tier else (None, None)
    return page.render(
        "portfolio/detail.html", eu_form=eu_form(uc.eu_answers), status_code=status, uc=uc, view=service.view(uc), error=error,
        transitions=service.transitions(s, uc), scores=service.scores(s, uc),
        aggregate=service.aggregate_view(agg) if agg else None, history=service.history(s, uc),
        raci=gov.raci(s, key), uc_roles=gov.use_case_roles(s, key), owner_roles=gov.OWNER_ROLES,
        funding_role=decisions.holder(decisions.decision_rights(s), "fund_use_cases"),
        controls=gov.use_case_controls(s, uc), policy=policy, policy_version=version,
        sections=section_templates(), can=page.actor.can)


@router.get("/usecases/{key}")
def detail_page(key: str, page: PageFor("read")) -> Response:
    """The use-case page."""
    return _detail(page, key)


def _act(page: Any, key: str, fn: Any) -> Response:
    try:
        with page.session.begin_nested():
            fn()
    except AppError as exc:
        if exc.status == 404:
            raise
        return _detail(page, key, exc.message, exc.status)
    return RedirectResponse(f"/usecases/{key}", status_code=303)


@router.post("/usecases/{key}/transition")
def transition_submit(key: str, page: PageDecides("fund_use_cases", when={"to": service.FUNDED_STATUSES}),
                      csrf_token: Annotated[str, Form()] = "", to: Annotated[str, Form()] = "",
                      reason: Annotated[str, Form()] = "") -> Response:
    """A lifecycle button."""
    page.check_csrf(csrf_token)
    return _act(page, key, lambda: service.transition(page.session, page.actor, key, to, reason))


@router.post("/usecases/{key}/score")
def score_submit(key: str, page: PageFor("usecase.score"), csrf_token: Annotated[str, Form()] = "",
                 value: Annotated[float, Form()] = 0, feasibility: Annotated[float, Form()] = 0,
                 risk: Annotated[float, Form()] = 0) -> Response:
    """Score the use case as the signed-in user."""
    page.check_csrf(csrf_token)
    return _act(page, key, lambda: service.add_score(page.session, page.actor, key,
                                                     ScoreIn(value=value, feasibility=feasibility, risk=risk)))


@router.post("/usecases/{key}/override")
def override_submit(key: str, page: PageDecides("set_risk_tier"), csrf_token: Annotated[str, Form()] = "",
                    tier: Annotated[str, Form()] = "", justification: Annotated[str, Form()] = "") -> Response:
    """Override the suggested risk tier (risk.override) with a justification."""
    page.check_csrf(csrf_token)
    return _act(page, key, lambda: gov.override_tier(page.session, page.actor, key, tier, justification))


def eu_form(stored: Any) -> dict[str, Any]:
    """What the EU AI Act form shows: questions by section, Annex III points by area, and the stored answers in
    today's shape (with what an older questionnaire's answers could not carry over)."""
    answers, legacy = eu_ai_act.upgrade_stored(stored if isinstance(stored, dict) else {})
    areas = [(n, title, [(p, eu_ai_act.ANNEX_III_POINTS[p]) for p in eu_ai_act.ANNEX_III_POINTS
                         if p.split("(")[0] == n]) for n, title in eu_ai_act.ANNEX_III_AREAS.items()]
    return {"sections": eu_ai_act.questions(), "areas": areas, "answers": answers, "legacy": legacy,
            "rbi_exceptions": eu_ai_act.rbi_exception_choices()}


def eu_answers_from_form(form: Any) -> dict[str, Any]:
    """Form fields as questionnaire answers: ticked boxes, the chosen points, the exception, compute and text."""
    answers: dict[str, Any] = {name: True for _, qs in eu_ai_act.questions() for name, _ in qs
                               if form.get(name) == "on"}
    points = [str(p) for p in form.getlist("annex_iii_points") if p]
    if points:
        answers["annex_iii_points"] = points
    exception = str(form.get("realtime_rbi_exception") or "")
    if exception:
        answers["realtime_rbi_exception"] = exception
    text = str(form.get("art_6_3_assessment") or "").strip()
    if text:
        answers["art_6_3_assessment"] = text
    flops = str(form.get("gpai_training_flops") or "").strip()
    if flops:
        try:
            compact = flops.replace(" ", "").replace("_", "")
            answers["gpai_training_flops"] = float("1e" + compact[3:] if compact.startswith("10^") else compact)
        except ValueError:
            raise Invalid(f"gpai_training_flops: {flops!r} is not a number (write e.g. 3e25)",
                          details=[{"field": "gpai_training_flops", "message": "not a number"}]) from None
    return answers


@router.post("/usecases/{key}/eu-ai-act")
async def eu_submit(key: str, request: Request, page: PageFor("risk.classify")) -> Response:
    """Answer the EU AI Act questionnaire (checkboxes, Annex III points, exceptions, compute, Art. 6(3) text)."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))

    def submit() -> None:
        gov.set_eu_answers(page.session, page.actor, key, eu_answers_from_form(form))

    return _act(page, key, submit)


@router.post("/usecases/{key}/risk-factors")
def factors_submit(key: str, page: PageFor("usecase.write"), csrf_token: Annotated[str, Form()] = "",
                   harm_if_wrong: Annotated[int, Form()] = 1, decision_mode: Annotated[str, Form()] = "assist",
                   personal_data: Annotated[str, Form()] = "", regulated_domain: Annotated[str, Form()] = "",
                   external_users: Annotated[str, Form()] = "") -> Response:
    """Answer the five risk-tier questions; the suggestion and its reasons are stored."""
    page.check_csrf(csrf_token)
    factors = {"harm_if_wrong": harm_if_wrong, "decision_mode": decision_mode, "personal_data": personal_data == "on",
               "regulated_domain": regulated_domain == "on", "external_users": external_users == "on"}
    return _act(page, key, lambda: gov.set_risk_factors(page.session, page.actor, key, factors))


@router.post("/usecases/{key}/raci")
def raci_submit(key: str, page: PageFor("governance.write"), csrf_token: Annotated[str, Form()] = "",
                responsible: Annotated[str, Form()] = "", accountable: Annotated[str, Form()] = "",
                consulted: Annotated[str, Form()] = "", informed: Annotated[str, Form()] = "") -> Response:
    """Replace the RACI (comma-separated usernames)."""
    page.check_csrf(csrf_token)
    body = {"responsible": _split(responsible), "accountable": _split(accountable), "consulted": _split(consulted),
            "informed": _split(informed)}
    return _act(page, key, lambda: gov.set_raci(page.session, page.actor, key, body))


@router.post("/usecases/{key}/roles")
async def roles_submit(key: str, request: Request, page: PageFor("governance.write")) -> Response:
    """Name the people wearing each of the seed's roles for this use case (comma-separated usernames)."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    body = {r: _split(str(form.get(r) or "")) for r in gov.SEED_ROLES if r in form}
    return _act(page, key, lambda: gov.set_use_case_roles(page.session, page.actor, key, body))
