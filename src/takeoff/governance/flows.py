"""The capabilities governance offers the portfolio floor below it, provided once at start by the composition root:
the decision-rights check (who funds use cases, who sets the risk tier) and governance's part of the use-case page."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.events import REQUIRE_DECISION, USE_CASE_GOVERNANCE, provide
from takeoff.governance import decisions, eu_ai_act
from takeoff.governance import controls
from takeoff.governance import people
from takeoff.governance import policies


def eu_form(stored: Any) -> dict[str, Any]:
    """What the EU AI Act form shows: questions by section, Annex III points by area, and the stored answers in
    today's shape (with what an older questionnaire's answers could not carry over)."""
    answers, legacy = eu_ai_act.upgrade_stored(stored if isinstance(stored, dict) else {})
    areas = [(n, title, [(p, eu_ai_act.ANNEX_III_POINTS[p]) for p in eu_ai_act.ANNEX_III_POINTS
                         if p.split("(")[0] == n]) for n, title in eu_ai_act.ANNEX_III_AREAS.items()]
    return {"sections": eu_ai_act.questions(), "areas": areas, "answers": answers, "legacy": legacy,
            "rbi_exceptions": eu_ai_act.rbi_exception_choices()}


def use_case_page(session: Session, uc: Any) -> dict[str, Any]:
    """What the use-case page shows of governance: the tier policy, EU AI Act form, RACI, roles, controls and who
    holds the funding decision (template variables of portfolio/detail.html)."""
    version, policy = policies.tier_policy(session, uc.risk_tier) if uc.risk_tier else (None, None)
    return {"governance": True, "eu_form": eu_form(uc.eu_answers), "raci": people.raci(session, uc.key),
            "uc_roles": people.use_case_roles(session, uc.key), "owner_roles": people.OWNER_ROLES,
            "funding_role": decisions.holder(decisions.decision_rights(session), "fund_use_cases"),
            "controls": controls.use_case_controls(session, uc), "policy": policy, "policy_version": version}


def register() -> None:
    """Provide governance's capabilities (called once by the composition root)."""
    provide(REQUIRE_DECISION, decisions.require)
    provide(USE_CASE_GOVERNANCE, use_case_page)
