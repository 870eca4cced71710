"""Portfolio pages: the portfolio (inventory, scoring matrix, chart, recommendation), intake, the use-case page."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from takeoff.core.errors import AppError, NotFound
from takeoff.core.events import USE_CASE_GOVERNANCE, provided
from takeoff.portfolio import lifecycle, scores, service
from takeoff.portfolio.schemas import ScoreIn, UseCaseIn, UseCasePatch
from takeoff.web import forms
from takeoff.web.render import TEMPLATES, PageDecides, PageFor

router = APIRouter(include_in_schema=False)
SECTIONS_DIR = "usecase_sections"
RISK_COLOURS = {1: "#2e7d32", 2: "#7cb342", 3: "#f9a825", 4: "#ef6c00", 5: "#c62828"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # one colour per use case (Tableau 10), so the legend tells the bubbles apart


# The use-case page's sections, each at its own address (/usecases/{key}/{section}; the overview at /usecases/{key}).
SECTIONS: tuple[tuple[str, str], ...] = (("overview", "Overview"), ("governance", "Governance"),
                                         ("releases", "Releases and evals"), ("monitoring", "Monitoring"),
                                         ("data", "Data"), ("outcomes", "Outcomes"), ("readiness", "Readiness"))
SECTION_NAMES = tuple(n for n, _ in SECTIONS)
# Where each part of the page now lives, by its element id: the older one-page links (/usecases/k#scores) are sent
# to their section by the page script (static/app.js reads this map from the section nav).
ANCHORS: dict[str, str] = {
    "intake": "overview", "lifecycle": "overview", "scale": "overview", "targets": "overview",
    "scores": "governance", "risk": "governance", "eu-ai-act": "governance", "raci": "governance",
    "uc-roles": "governance", "controls": "governance", "findings": "governance",
    "releases": "releases", "evals": "releases", "telemetry": "monitoring", "monitoring": "monitoring",
    "drift": "monitoring", "data-sources": "data", "outcomes": "outcomes", "readiness": "readiness"}
# The section holding each edit form (a refused edit comes back in it, a saved one returns to it).
FORM_SECTION: dict[str, str] = {"transition-form": "overview", "intake-edit-form": "overview",
                                "score-form": "governance", "override-form": "governance",
                                "factors-form": "governance", "eu-form": "governance", "raci-form": "governance",
                                "uc-roles-form": "governance"}
# Section templates later floors add (usecase_sections/NN_<name>.html), by the section that shows them; a template
# can also name its section on its first line ({# section: monitoring #}); otherwise it shows on the overview.
TEMPLATE_SECTION = {"telemetry": "monitoring", "releases": "releases", "evals": "releases",
                    "monitoring": "monitoring", "drift": "monitoring", "data": "data", "outcomes": "outcomes",
                    "findings": "governance", "readiness": "readiness"}


def _template_section(path: Path) -> str:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0].strip()
    if first.startswith("{# section:"):
        named = first.removeprefix("{# section:").removesuffix("#}").strip()
        if named in SECTION_NAMES:
            return named
    return TEMPLATE_SECTION.get(path.stem.split("_", 1)[-1], "overview")


def section_templates(section: str | None = None) -> list[str]:
    """Templates that later floors add to the use-case page (usecase_sections/*.html), in sorted order; with
    `section`, only those that section shows."""
    folder = Path(TEMPLATES.env.loader.searchpath[0]) / SECTIONS_DIR  # type: ignore[union-attr]
    found = sorted(folder.glob("*.html")) if folder.is_dir() else []
    return [f"{SECTIONS_DIR}/{p.name}" for p in found if section is None or _template_section(p) == section]


def section_url(key: str, section: str) -> str:
    """The address of one section of a use case's page."""
    return f"/usecases/{key}" if section == "overview" else f"/usecases/{key}/{section}"


def bubble_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart.js config: value × feasibility, one distinct colour per use case (named in the legend and the label),
    the bubble's size from risk (the risk tier's colour on its border)."""
    data = []
    for i, r in enumerate(rows):
        risk = float(r["risk"])
        data.append({"label": f"{r['use_case']} (risk {risk:g})", "backgroundColor": PALETTE[i % len(PALETTE)] + "cc",
                     "borderColor": RISK_COLOURS[max(1, min(5, round(risk)))], "borderWidth": 2,
                     "data": [{"x": r["feasibility"], "y": r["value"], "r": 4 + 3 * risk}]})
    axis = {"min": 0.5, "max": 5.5, "title": {"display": True}}
    return {"type": "bubble", "data": {"datasets": data},
            "options": {"plugins": {"legend": {"position": "bottom"}},
                        "scales": {"x": {**axis, "title": {"display": True, "text": "feasibility (1-5)"}},
                                   "y": {**axis, "title": {"display": True, "text": "value (1-5)"}}}}}


@router.get("/usecases")
def portfolio_page(page: PageFor("read"), status: str | None = None) -> Response:
    """The portfolio: inventory with status filter, scoring matrix, chart, recommendation."""
    status = status if status in lifecycle.STATUSES else None
    ranking = scores.ranking(page.session)
    return page.render("portfolio/list.html", use_cases=service.list_use_cases(page.session, status),
                       statuses=lifecycle.STATUSES, status=status, ranking=ranking,
                       chart=bubble_chart(ranking["ranking"]) if ranking["ranking"] else None,
                       can_write=page.actor.can("usecase.write"))


KEY_HINT = ("use 2 to 64 lowercase letters, digits and hyphens, starting and ending with a letter or digit "
            "(e.g. support-reply)")
INTAKE_FIELDS = ("key", "name", "purpose", "team", "data_sources", "user_groups", "expected_users", "system_of_record",
                 "risk_tier", "business_owner", "biggest_bottleneck", "risk_constraint", "monthly_volume")
REQUIRED_WORDS = {"purpose": "say what the use case is for", "data_sources": "name at least one data source",
                  "expected_users": "give the expected users or the user groups", "risk_tier": "choose a risk tier"}


def _intake_form(page: Any, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                 status: int = 200) -> Response:
    return page.render("portfolio/new.html", status_code=status, errors=errors or {}, v=values or {},
                       key_hint=KEY_HINT)


@router.get("/usecases/new")
def new_page(page: PageFor("usecase.write")) -> Response:
    """The intake form."""
    return _intake_form(page)


def split_names(text: str) -> list[str]:
    """A form's comma- or line-separated names as a list (the use-case page's forms, governance's too)."""
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
                            "data_sources": split_names(data_sources), "user_groups": split_names(user_groups),
                            "system_of_record": system_of_record.strip(), "risk_constraint": risk_constraint.strip(),
                            "risk_tier": risk_tier or None, "business_owner": business_owner.strip() or None,
                            "biggest_bottleneck": biggest_bottleneck or None}
    errors: dict[str, str] = {}
    for f, raw in (("expected_users", expected_users), ("monthly_volume", monthly_volume)):
        if raw.strip():
            if not raw.strip().isdigit():
                errors[f] = "must be a whole number, 0 or more"
            else:
                body[f] = int(raw.strip())
    # every problem of the form at once: the schema's, the required intake information, then the numbers above
    try:
        service.parse_intake({k: v for k, v in body.items() if k not in errors})
    except AppError as exc:
        errors = forms.merge(errors, forms.field_errors(exc, {"key": KEY_HINT}, INTAKE_FIELDS))
    try:
        service.check_required(UseCaseIn.model_construct(**{k: v for k, v in body.items() if k not in errors}))
    except AppError as exc:
        found = forms.field_errors(exc, fields=INTAKE_FIELDS)
        errors = forms.merge(errors, {f: REQUIRED_WORDS.get(f, m) for f, m in found.items()})
    if errors:
        return _intake_form(page, errors, values, 422)
    try:
        with page.session.begin_nested():
            uc = service.create(page.session, page.actor, body)
    except AppError as exc:
        return _intake_form(page, forms.field_errors(exc, {"key": KEY_HINT}, INTAKE_FIELDS), values, exc.status)
    return RedirectResponse(f"/usecases/{uc.key}", status_code=303)


def _detail(page: Any, key: str, error: str | None = None, status: int = 200,
            failed: dict[str, Any] | None = None, section: str = "overview") -> Response:
    """One section of the use-case page; `failed` ({"form", "errors", "typed"}) reopens a refused edit with what was
    typed and each message beside its field, in the section that holds the form."""
    s = page.session
    uc = service.get(s, key)
    if failed and failed.get("form") in FORM_SECTION:
        section = FORM_SECTION[failed["form"]]
    agg = scores.aggregate(s, uc)
    # governance (a floor above) provides its part of the page at start: tier policy, EU AI Act, RACI, roles, controls
    governance_part = provided(USE_CASE_GOVERNANCE)
    return page.render(
        "portfolio/detail.html", status_code=status, uc=uc, view=service.view(uc), error=error,
        transitions=service.transitions(s, uc), scores=scores.scores(s, uc),
        aggregate=scores.aggregate_view(agg) if agg else None, history=scores.history(s, uc),
        sections=section_templates(section), can=page.actor.can,
        failed=failed or {"form": "", "errors": {}, "typed": {}}, section=section, section_list=SECTIONS,
        anchors=ANCHORS, page_url=section_url(uc.key, section), intake=_intake_values(uc),
        **(governance_part(s, uc) if governance_part is not None else {"governance": False}))


def _intake_values(uc: Any) -> dict[str, Any]:
    """The intake fields as the edit form shows them (lists comma separated)."""
    return {"name": uc.name, "purpose": uc.purpose, "team": uc.team, "data_sources": ", ".join(uc.data_sources or []),
            "user_groups": ", ".join(uc.user_groups or []), "expected_users": uc.expected_users or "",
            "system_of_record": uc.system_of_record, "business_owner": uc.business_owner or "",
            "biggest_bottleneck": uc.biggest_bottleneck or "", "risk_constraint": uc.risk_constraint,
            "monthly_volume": uc.monthly_volume or ""}


@router.get("/usecases/{key}")
def detail_page(key: str, page: PageFor("read")) -> Response:
    """The use-case page: its overview section (the read-out, intake, lifecycle, targets)."""
    return _detail(page, key)


@router.get("/usecases/{key}/{section}")
def section_page(key: str, section: str, page: PageFor("read")) -> Response:
    """One section of the use-case page (governance, releases, monitoring, data, outcomes, readiness)."""
    if section not in SECTION_NAMES:
        raise NotFound(f"the use-case page has no section '{section}' (sections: {', '.join(SECTION_NAMES)})")
    return _detail(page, key, section=section)


def act(page: Any, key: str, fn: Any, form: str = "", values: dict[str, Any] | None = None,
        fields: tuple[str, ...] = ()) -> Response:
    """Run one edit of the use-case page in a savepoint; refused, the page comes back with that form open, what was
    typed, and the message by the field (or by the form)."""
    try:
        with page.session.begin_nested():
            fn()
    except AppError as exc:
        if exc.status == 404:
            raise
        errors = forms.field_errors(exc, fields=fields) if fields else {}
        return _detail(page, key, exc.message, exc.status,
                       {"form": form, "errors": errors, "typed": values or {}} if form else None)
    return RedirectResponse(section_url(key, FORM_SECTION.get(form, "overview")), status_code=303)


@router.post("/usecases/{key}/transition")
def transition_submit(key: str, page: PageDecides("fund_use_cases", when={"to": service.FUNDED_STATUSES}),
                      csrf_token: Annotated[str, Form()] = "", to: Annotated[str, Form()] = "",
                      reason: Annotated[str, Form()] = "") -> Response:
    """A lifecycle button."""
    page.check_csrf(csrf_token)
    return act(page, key, lambda: service.transition(page.session, page.actor, key, to, reason), "transition-form",
               {"reason": reason}, ("reason", "to"))


@router.post("/usecases/{key}/score")
def score_submit(key: str, page: PageFor("usecase.score"), csrf_token: Annotated[str, Form()] = "",
                 value: Annotated[float, Form()] = 0, feasibility: Annotated[float, Form()] = 0,
                 risk: Annotated[float, Form()] = 0) -> Response:
    """Score the use case as the signed-in user."""
    page.check_csrf(csrf_token)
    return act(page, key, lambda: scores.add_score(page.session, page.actor, key,
                                                    ScoreIn(value=value, feasibility=feasibility, risk=risk)),
               "score-form", {"value": value, "feasibility": feasibility, "risk": risk},
               ("value", "feasibility", "risk"))


@router.post("/usecases/{key}/intake")
def intake_submit(key: str, page: PageFor("usecase.write"), csrf_token: Annotated[str, Form()] = "",
                  name: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
                  team: Annotated[str, Form()] = "", data_sources: Annotated[str, Form()] = "",
                  user_groups: Annotated[str, Form()] = "", expected_users: Annotated[str, Form()] = "",
                  system_of_record: Annotated[str, Form()] = "", business_owner: Annotated[str, Form()] = "",
                  biggest_bottleneck: Annotated[str, Form()] = "", risk_constraint: Annotated[str, Form()] = "",
                  monthly_volume: Annotated[str, Form()] = "") -> Response:
    """Edit the intake fields after creation (audited as usecase.update, with before and after)."""
    page.check_csrf(csrf_token)
    values = {"name": name, "purpose": purpose, "team": team, "data_sources": data_sources,
              "user_groups": user_groups, "expected_users": expected_users, "system_of_record": system_of_record,
              "business_owner": business_owner, "biggest_bottleneck": biggest_bottleneck,
              "risk_constraint": risk_constraint, "monthly_volume": monthly_volume}
    patch: dict[str, Any] = {"name": name.strip(), "purpose": purpose.strip(), "team": team.strip(),
                             "data_sources": split_names(data_sources), "user_groups": split_names(user_groups),
                             "system_of_record": system_of_record.strip(), "risk_constraint": risk_constraint.strip(),
                             "business_owner": business_owner.strip() or None,
                             "biggest_bottleneck": biggest_bottleneck or None}
    errors: dict[str, str] = {}
    for f, raw in (("expected_users", expected_users), ("monthly_volume", monthly_volume)):
        if raw.strip() and not raw.strip().isdigit():
            errors[f] = "must be a whole number, 0 or more"
        else:
            patch[f] = int(raw.strip()) if raw.strip() else None
    if not patch["data_sources"]:
        errors["data_sources"] = "name at least one data source"
    if not (patch.get("expected_users") or patch["user_groups"]) and "expected_users" not in errors:
        errors["expected_users"] = "give the expected users or the user groups"
    try:
        body = UseCasePatch.model_validate(patch)
    except ValidationError as exc:
        errors = forms.merge(errors, forms.validation_errors(exc, INTAKE_FIELDS))
    if errors:
        return _detail(page, key, "the intake was not saved: " + "; ".join(f"{k.replace('_', ' ')} {v}"
                                                                         for k, v in errors.items()), 422,
                       {"form": "intake-edit-form", "errors": errors, "typed": values})
    return act(page, key, lambda: service.update(page.session, page.actor, key, body), "intake-edit-form", values,
                INTAKE_FIELDS)
