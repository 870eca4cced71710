"""The governance page: operating model and self-check, organization constraints and platforms, decision rights,
roles → people, tier policies, controls. Its forms call the same service functions as the API."""
from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from takeoff.core.permissions import MATRIX
from takeoff.core.errors import AppError
from takeoff.core.errors import Invalid
from takeoff.governance import eu_ai_act, operating_model, policy_defaults
from takeoff.governance import controls
from takeoff.governance import decisions
from takeoff.governance import organization
from takeoff.governance import people
from takeoff.governance import policies as tier_policies
from takeoff.governance import risk
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.web import act, split_names
from takeoff.web.render import PageDecides, PageFor

router = APIRouter(include_in_schema=False)


def setting_text(value: Any) -> str:
    """A constraint or platform value as the form shows it: one item per line."""
    if value is None:
        return ""
    return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)


def setting_value(text: str, current: Any) -> Any:
    """A form's text back as a value: unchanged text keeps the stored value (and its type); one line is text, several
    lines a list; empty is None (the key is dropped)."""
    if current is not None and text.strip() == setting_text(current).strip():
        return current
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip()]
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else lines


def decision_roles() -> dict[str, list[str]]:
    """Per decision, the roles that hold its permission (the only ones it may be given)."""
    return {d: [r for r in MATRIX if perm in MATRIX[r]] for d, (_, perm) in decisions.DECISIONS.items()}


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]


def _page(page: Any, error: str | None = None, status: int = 200, typed: dict[str, Any] | None = None) -> Response:
    s = page.session
    org = organization.organization_view(organization.organization(s))
    try:
        suggestion = organization.suggestion(org["self_check"])
    except AppError:
        suggestion = None
    policies = []
    for tier in policy_defaults.TIERS:
        version, p = tier_policies.tier_policy(s, tier)
        as_yaml = yaml.safe_dump({k: v for k, v in policy_defaults.policy_to_dict(p).items() if k != "tier"},
                                 sort_keys=False)
        policies.append({"tier": tier, "version": version, "policy": p, "yaml": as_yaml,
                         "history": tier_policies.tier_policy_history(s, tier)})
    fws = controls.all_frameworks(s)
    per_uc = []
    for uc in portfolio.list_use_cases(s):
        if uc.status == "retired":
            continue
        c = controls.use_case_controls(s, uc, fws)
        per_uc.append({"key": uc.key, "tier": c["tier"], "eu": uc.eu_category, "controls": len(c["controls"]),
                       "coverage": c["coverage"]})
    return page.render("governance/index.html", status_code=status, org=org, suggestion=suggestion, error=error,
                       decisions=decisions.DECISIONS, suggested=decisions.SUGGESTED_DECISION_RIGHTS,
                       decision_roles=decision_roles(), roles=people.role_assignments(s), policies=policies,
                       frameworks=[controls.framework_summary(f) for f in fws.values()],
                       coverage=controls.framework_coverage(s, fws), per_uc=per_uc,
                       models=operating_model.OPERATING_MODELS, constraint_keys=organization.CONSTRAINT_KEYS,
                       platform_keys=organization.PLATFORM_KEYS, setting_text=setting_text, typed=typed or {},
                       can_write=page.actor.can("governance.write"), can_policy=page.actor.can("policy.write"))


@router.get("/governance")
def governance_page(page: PageFor("read")) -> Response:
    """Everything the risk and compliance partners and the CoE set up once and revisit quarterly."""
    return _page(page)


@router.post("/governance/self-check")
def self_check(page: PageFor("governance.write"), csrf_token: Annotated[str, Form()] = "",
               standards_maturity: Annotated[int, Form()] = 1, domains: Annotated[int, Form()] = 1,
               demand: Annotated[str, Form()] = "low", regulated: Annotated[str, Form()] = "",
               operating_model_: Annotated[str, Form(alias="operating_model")] = "") -> Response:
    """Answer the operating-model self-check and choose the operating model."""
    page.check_csrf(csrf_token)
    body: dict[str, Any] = {"self_check": {"standards_maturity": standards_maturity, "domains": domains,
                                           "demand": demand, "regulated": regulated in ("on", "true", "1")}}
    if operating_model_:
        body["operating_model"] = operating_model_
    try:
        with page.session.begin_nested():
            organization.update_organization(page.session, page.actor, body)
    except AppError as exc:
        return _page(page, exc.message, exc.status)
    return RedirectResponse("/governance", status_code=303)


@router.post("/governance/policies/{tier}")
def policy_submit(tier: str, page: PageFor("policy.write"), csrf_token: Annotated[str, Form()] = "",
                  policy: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    """Save a new version of a tier's policy from its YAML (approver_roles, checklist, inconclusive_blocks)."""
    page.check_csrf(csrf_token)
    try:
        body = yaml.safe_load(policy)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return _page(page, f"tier policy {tier}: invalid YAML{where}", 422)
    if not isinstance(body, dict):
        return _page(page, f"tier policy {tier}: expected a mapping with approver_roles and checklist", 422)
    try:
        with page.session.begin_nested():
            tier_policies.set_tier_policy(page.session, page.actor, tier, body, note=note)
    except AppError as exc:
        return _page(page, exc.message, exc.status)
    return RedirectResponse("/governance#tier-policies", status_code=303)


def _save_organization(page: Any, body: dict[str, Any], anchor: str, typed: dict[str, Any]) -> Response:
    """Apply one organization change; a refusal re-renders the page with the message and what was typed."""
    try:
        with page.session.begin_nested():
            organization.update_organization(page.session, page.actor, body)
    except AppError as exc:
        return _page(page, exc.message, exc.status, typed)
    return RedirectResponse(f"/governance#{anchor}", status_code=303)


@router.post("/governance/organization")
async def organization_submit(request: Request, page: PageFor("governance.write")) -> Response:
    """Save the organization's name, operating model, constraints and platforms (an emptied field is removed)."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    current = organization.organization_view(organization.organization(page.session))
    typed = {**{k: str(v) for k, v in form.items() if k != "csrf_token"}, "_form": "organization"}
    body: dict[str, Any] = {"name": str(form.get("name") or "").strip(),
                            "operating_model": str(form.get("operating_model") or "") or None}
    for group, keys in (("constraints", organization.CONSTRAINT_KEYS), ("platforms", organization.PLATFORM_KEYS)):
        values = {}
        for k in keys:
            v = setting_value(str(form.get(f"{group}.{k}") or ""), current[group].get(k))
            if v is not None:
                values[k] = v
        body[group] = values
    return _save_organization(page, body, "organization", typed)


@router.post("/governance/decision-rights")
async def decision_rights_submit(request: Request, page: PageFor("governance.write")) -> Response:
    """Give each decision to a role (or to none: the permission alone decides); enforced from the next request."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    typed = {**{k: str(v) for k, v in form.items() if k != "csrf_token"}, "_form": "decision-rights"}
    rights = {d: str(form.get(f"decision.{d}") or "") or None for d in decisions.DECISIONS}
    return _save_organization(page, {"decision_rights": rights}, "decision-rights", typed)


@router.post("/governance/roles")
async def roles_submit(request: Request, page: PageFor("governance.write")) -> Response:
    """Assign people to the seed's roles organization-wide (comma-separated usernames per role)."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    typed = {**{k: str(v) for k, v in form.items() if k != "csrf_token"}, "_form": "roles"}
    body = {r: _split(str(form.get(f"role.{r}") or "")) for r in people.SEED_ROLES}
    try:
        with page.session.begin_nested():
            people.set_role_assignments(page.session, page.actor, body)
    except AppError as exc:
        return _page(page, exc.message, exc.status, typed)
    return RedirectResponse("/governance#roles", status_code=303)


@router.post("/governance/frameworks")
def framework_submit(page: PageFor("policy.write"), csrf_token: Annotated[str, Form()] = "",
                     framework: Annotated[str, Form()] = "") -> Response:
    """Load (or replace) a framework from its YAML; an error names the line and field and stores nothing."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            controls.load_framework(page.session, page.actor, framework)
    except AppError as exc:
        return _page(page, exc.message, exc.status, {"_form": "framework", "framework": framework})
    return RedirectResponse("/governance#control-library", status_code=303)


# -- the governance forms of the use-case page (portfolio/detail.html; its context comes from governance.flows) --
@router.post("/usecases/{key}/override")
def override_submit(key: str, page: PageDecides("set_risk_tier"), csrf_token: Annotated[str, Form()] = "",
                    tier: Annotated[str, Form()] = "", justification: Annotated[str, Form()] = "") -> Response:
    """Override the suggested risk tier (risk.override) with a justification."""
    page.check_csrf(csrf_token)
    return act(page, key, lambda: risk.override_tier(page.session, page.actor, key, tier, justification),
               "override-form", {"tier": tier, "justification": justification}, ("tier", "justification"))


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
        risk.set_eu_answers(page.session, page.actor, key, eu_answers_from_form(form))

    return act(page, key, submit, "eu-form")


@router.post("/usecases/{key}/risk-factors")
def factors_submit(key: str, page: PageFor("usecase.write"), csrf_token: Annotated[str, Form()] = "",
                   harm_if_wrong: Annotated[int, Form()] = 1, decision_mode: Annotated[str, Form()] = "assist",
                   personal_data: Annotated[str, Form()] = "", regulated_domain: Annotated[str, Form()] = "",
                   external_users: Annotated[str, Form()] = "") -> Response:
    """Answer the five risk-tier questions; the suggestion and its reasons are stored."""
    page.check_csrf(csrf_token)
    factors = {"harm_if_wrong": harm_if_wrong, "decision_mode": decision_mode, "personal_data": personal_data == "on",
               "regulated_domain": regulated_domain == "on", "external_users": external_users == "on"}
    return act(page, key, lambda: risk.set_risk_factors(page.session, page.actor, key, factors), "factors-form")


@router.post("/usecases/{key}/raci")
def raci_submit(key: str, page: PageFor("governance.write"), csrf_token: Annotated[str, Form()] = "",
                responsible: Annotated[str, Form()] = "", accountable: Annotated[str, Form()] = "",
                consulted: Annotated[str, Form()] = "", informed: Annotated[str, Form()] = "") -> Response:
    """Replace the RACI (comma-separated usernames)."""
    page.check_csrf(csrf_token)
    body = {"responsible": split_names(responsible), "accountable": split_names(accountable), "consulted": split_names(consulted),
            "informed": split_names(informed)}
    return act(page, key, lambda: people.set_raci(page.session, page.actor, key, body), "raci-form",
               {"responsible": responsible, "accountable": accountable, "consulted": consulted,
                "informed": informed}, ("responsible", "accountable", "consulted", "informed"))


@router.post("/usecases/{key}/roles")
async def use_case_roles_submit(key: str, request: Request, page: PageFor("governance.write")) -> Response:
    """Name the people wearing each of the seed's roles for this use case (comma-separated usernames)."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token") or ""))
    body = {r: split_names(str(form.get(r) or "")) for r in people.SEED_ROLES if r in form}
    return act(page, key, lambda: people.set_use_case_roles(page.session, page.actor, key, body), "uc-roles-form",
               {r: str(form.get(r) or "") for r in people.SEED_ROLES if r in form}, tuple(people.SEED_ROLES))
