"""Governance API: tier policies, RACI, roles, organization, risk tier, EU AI Act, control library, apply/export."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from takeoff.deps import DB, Allowed, Decides
from takeoff.core.errors import BadRequest, Invalid
from takeoff.governance import eu_ai_act, gitops, policy_defaults
from takeoff.governance import controls
from takeoff.governance import decisions
from takeoff.governance import organization
from takeoff.governance import people
from takeoff.governance import policies as tier_policies
from takeoff.governance import risk
from takeoff.governance.schemas import (ApplyIn, EUAnswersIn, EUClassificationOut, EUUseCaseOut, OrganizationPatch,
                                        RaciIn, RolesIn, TierPolicyIn, UseCaseRolesIn)
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.schemas import OverrideIn, TierFactorsIn
from takeoff.core.types import text_body

router = APIRouter(tags=["governance"])


def _policy_view(version: int, p: policy_defaults.TierPolicy) -> dict[str, Any]:
    return {"version": version, **policy_defaults.policy_to_dict(p)}


@router.get("/governance/policies")
def policies(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The current policy of each tier with its version."""
    return {"policies": {t: _policy_view(*tier_policies.tier_policy(session, t)) for t in policy_defaults.TIERS}}


@router.get("/governance/policies/{tier}")
def policy(tier: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """A tier's current policy and every earlier version."""
    return {**_policy_view(*tier_policies.tier_policy(session, tier)), "history": tier_policies.tier_policy_history(session, tier)}


@router.put("/governance/policies/{tier}")
def put_policy(tier: str, session: DB, actor: Allowed("policy.write"),
               body: TierPolicyIn) -> dict[str, Any]:
    """Save a new version of a tier's policy (identical content adds no version)."""
    policy = body.model_dump(exclude_unset=True, exclude={"note"})
    version, p, changed = tier_policies.set_tier_policy(session, actor, tier, policy, note=body.note or "")
    return {**_policy_view(version, p), "changed": changed}


@router.get("/usecases/{key}/raci")
def get_raci(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Responsible, accountable, consulted and informed people of a use case."""
    return people.raci(session, key)


@router.put("/usecases/{key}/raci")
def put_raci(key: str, session: DB, actor: Allowed("governance.write"),
             body: RaciIn) -> dict[str, Any]:
    """Replace a use case's RACI (usernames must exist; exactly one accountable)."""
    r, _ = people.set_raci(session, actor, key, body.model_dump(exclude_unset=True))
    return r


@router.get("/usecases/{key}/roles")
def get_uc_roles(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The seed's seven roles for one use case and the people wearing each."""
    return {"use_case": key, "roles": people.use_case_roles(session, key)}


@router.put("/usecases/{key}/roles")
def put_uc_roles(key: str, session: DB, actor: Allowed("governance.write"),
                 body: UseCaseRolesIn) -> dict[str, Any]:
    """Assign people to roles for one use case (role → usernames; the roles named are replaced; one business
    owner and one product owner, which also need usecase.write)."""
    roles, changed = people.set_use_case_roles(session, actor, key, body.model_dump(exclude_unset=True))
    return {"use_case": key, "roles": roles, "changed": changed}


@router.get("/governance/roles")
def roles(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The seed's roles and the people assigned to each."""
    return {"roles": people.role_assignments(session)}


@router.put("/governance/roles")
def put_roles(session: DB, actor: Allowed("governance.write"), body: RolesIn) -> dict[str, Any]:
    """Assign people to roles (role → usernames; the roles named are replaced)."""
    return {"roles": people.set_role_assignments(session, actor, body.model_dump(exclude_unset=True))}


@router.get("/governance/organization")
def get_org(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Operating model, self-check and its suggestion, constraints, platforms and decision rights."""
    v = organization.organization_view(organization.organization(session))
    return {**v, "suggestion": organization.suggestion(v["self_check"]),
            "decisions": {k: {"label": lab, "permission": perm, "suggested_role": decisions.SUGGESTED_DECISION_RIGHTS[k]}
                          for k, (lab, perm) in decisions.DECISIONS.items()}}


@router.patch("/governance/organization")
def patch_org(session: DB, actor: Allowed("governance.write"), body: OrganizationPatch) -> dict[str, Any]:
    """Update organization settings (only the fields given)."""
    org, _ = organization.update_organization(session, actor, body.model_dump(exclude_unset=True))
    v = organization.organization_view(org)
    return {**v, "suggestion": organization.suggestion(v["self_check"])}


@router.put("/usecases/{key}/risk/factors")
def put_factors(key: str, body: TierFactorsIn, session: DB, actor: Allowed("usecase.write")) -> dict[str, Any]:
    """Answer the five tier questions; the suggested tier and its reasons are stored."""
    return portfolio.view(risk.set_risk_factors(session, actor, key, body.model_dump()))


@router.post("/usecases/{key}/risk/override")
def override(key: str, body: OverrideIn, session: DB, actor: Decides("set_risk_tier")) -> dict[str, Any]:
    """Choose another tier than the suggestion, with a recorded justification."""
    return portfolio.view(risk.override_tier(session, actor, key, body.tier, body.justification))


_EU_BODY = Body(..., description="EU AI Act answers (see governance.eu_ai_act.EUAnswers)", openapi_examples={
    "credit scoring": {"value": {"annex_iii_points": ["5(b)"], "profiles_people": True}},
    "chatbot": {"value": {"interacts_with_people": True, "generates_synthetic_content": True}},
})


@router.put("/usecases/{key}/eu-ai-act")
def put_eu(key: str, session: DB, actor: Allowed("risk.classify"), body: EUAnswersIn = _EU_BODY) -> EUUseCaseOut:
    """Answer the EU AI Act questionnaire; the category, the articles that triggered it and the tier are stored."""
    uc = risk.set_eu_answers(session, actor, key, body.model_dump(mode="json", exclude_unset=True))
    return EUUseCaseOut.model_validate({"use_case": key, "eu_category": uc.eu_category, "risk_tier": uc.risk_tier,
                                        "risk_tier_suggested": uc.risk_tier_suggested, "result": uc.eu_result})


@router.get("/usecases/{key}/eu-ai-act")
def get_eu(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The stored answers and classification (answers of an earlier questionnaire as stored, and in today's shape)."""
    uc = portfolio.get(session, key)
    answers, legacy = eu_ai_act.upgrade_stored(uc.eu_answers)
    return {"use_case": key, "eu_category": uc.eu_category, "answers": dict(uc.eu_answers or {}),
            "answers_now": answers, "not_carried_over": list(legacy), "result": uc.eu_result or None}


@router.post("/governance/eu-ai-act/classify")
def classify(session: DB, actor: Allowed("read"), body: EUAnswersIn = _EU_BODY) -> EUClassificationOut:
    """Classify questionnaire answers without storing them."""
    return EUClassificationOut.model_validate(risk.classify_eu(body.model_dump(mode="json", exclude_unset=True)))


@router.get("/usecases/{key}/controls")
def uc_controls(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Controls that apply to a use case and their coverage of each framework."""
    return controls.use_case_controls(session, portfolio.get(session, key))


@router.get("/frameworks")
def list_frameworks(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Built-in and loaded frameworks with their item counts."""
    return {"frameworks": [controls.framework_summary(f) for f in controls.all_frameworks(session).values()],
            "coverage": controls.framework_coverage(session)}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/frameworks", status_code=201, openapi_extra=text_body("text/yaml", json_fields=("yaml",)))
def load_framework(request: Request, session: DB, actor: Allowed("policy.write"),
                   raw: bytes = Depends(_raw_body)) -> dict[str, Any]:
    """Load another framework from its YAML text (body as text/yaml, or JSON {"yaml": "..."})."""
    text = raw.decode("utf-8", errors="replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(text)
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("yaml"), str):
            raise Invalid("send the framework as {\"yaml\": \"...\"} or as text/yaml")
        text = data["yaml"]
    fw, created = controls.load_framework(session, actor, text)
    return {**controls.framework_summary(fw), "created": created}


@router.post("/apply")
def apply(session: DB, actor: Allowed("read"), body: ApplyIn,
          dry_run: bool = False) -> dict[str, Any]:
    """Apply YAML documents (already parsed by the CLI, with file and line) in one transaction."""
    return gitops.apply(session, actor, body.documents, dry_run=dry_run)


@router.get("/export")
def export(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Every document `apply` accepts, reflecting the current state."""
    return {"documents": gitops.export(session)}
