"""The governance page: operating model and self-check, decision rights, roles → people, tier policies, controls."""
from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from takeoff.errors import AppError
from takeoff.governance import operating_model, policy_defaults, service
from takeoff.portfolio import service as portfolio
from takeoff.web.render import CurrentPage

router = APIRouter(include_in_schema=False)


def _page(page: Any, error: str | None = None, status: int = 200) -> Response:
    s = page.session
    org = service.organization_view(service.organization(s))
    try:
        suggestion = service.suggestion(org["self_check"])
    except AppError:
        suggestion = None
    policies = []
    for tier in policy_defaults.TIERS:
        version, p = service.tier_policy(s, tier)
        as_yaml = yaml.safe_dump({k: v for k, v in policy_defaults.policy_to_dict(p).items() if k != "tier"},
                                 sort_keys=False)
        policies.append({"tier": tier, "version": version, "policy": p, "yaml": as_yaml,
                         "history": service.tier_policy_history(s, tier)})
    per_uc = []
    for uc in portfolio.list_use_cases(s):
        if uc.status == "retired":
            continue
        c = service.use_case_controls(s, uc)
        per_uc.append({"key": uc.key, "tier": c["tier"], "eu": uc.eu_category, "controls": len(c["controls"]),
                       "coverage": c["coverage"]})
    fws = service.all_frameworks(s)
    return page.render("governance/index.html", status_code=status, org=org, suggestion=suggestion, error=error,
                       decisions=service.DECISIONS, roles=service.role_assignments(s), policies=policies,
                       frameworks=[service.framework_summary(f) for f in fws.values()],
                       coverage=service.framework_coverage(s), per_uc=per_uc, models=operating_model.OPERATING_MODELS,
                       can_write=page.actor.can("governance.write"), can_policy=page.actor.can("policy.write"))


@router.get("/governance")
def governance_page(page: CurrentPage) -> Response:
    """Everything the risk and compliance partners and the CoE set up once and revisit quarterly."""
    page.require("read")
    return _page(page)


@router.post("/governance/self-check")
def self_check(page: CurrentPage, csrf_token: Annotated[str, Form()] = "",
               standards_maturity: Annotated[int, Form()] = 1, domains: Annotated[int, Form()] = 1,
               demand: Annotated[str, Form()] = "low", regulated: Annotated[str, Form()] = "",
               operating_model_: Annotated[str, Form(alias="operating_model")] = "") -> Response:
    """Answer the operating-model self-check and choose the operating model."""
    page.check_csrf(csrf_token)
    page.require("governance.write")
    body: dict[str, Any] = {"self_check": {"standards_maturity": standards_maturity, "domains": domains,
                                           "demand": demand, "regulated": regulated in ("on", "true", "1")}}
    if operating_model_:
        body["operating_model"] = operating_model_
    try:
        with page.session.begin_nested():
            service.update_organization(page.session, page.actor, body)
    except AppError as exc:
        return _page(page, exc.message, exc.status)
    return RedirectResponse("/governance", status_code=303)


@router.post("/governance/policies/{tier}")
def policy_submit(tier: str, page: CurrentPage, csrf_token: Annotated[str, Form()] = "",
                  policy: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    """Save a new version of a tier's policy from its YAML (approver_roles, checklist, inconclusive_blocks)."""
    page.check_csrf(csrf_token)
    page.require("policy.write")
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
            service.set_tier_policy(page.session, page.actor, tier, body, note=note)
    except AppError as exc:
        return _page(page, exc.message, exc.status)
    return RedirectResponse("/governance#tier-policies", status_code=303)
