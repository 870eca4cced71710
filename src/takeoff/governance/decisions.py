"""Decision rights (the seed: "decision rights matter more than org charts"), enforced at run time.

An organization may assign each of the seed's five decisions to one role. The action that *is* that decision is
then allowed only to users holding that role (admins always), on top of the decision's permission. A decision no
role is assigned to falls back to the permission alone, so an organization without decision rights sees no change.
This module is the one place that decides; routers use it through `deps.Decides`, services and pages through
`require`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.errors import Forbidden
from takeoff.governance.models import Organization

# decision -> (the seed's wording, the permission a role must hold to be given the decision). The actions that are
# each decision: fund_use_cases = moving a use case into pilot or production; approve_tools = adding or changing a
# model catalog entry; set_risk_tier = choosing a tier other than the rule's suggestion; ship_to_production =
# promoting a release to production; incident_owner = changing and resolving incidents.
DECISIONS: dict[str, tuple[str, str]] = {
    "fund_use_cases": ("who funds use cases", "usecase.transition"),
    "approve_tools": ("who approves tools and vendors", "catalog.write"),
    "set_risk_tier": ("who sets the risk tier", "risk.override"),
    "ship_to_production": ("who ships to production", "release.promote"),
    "incident_owner": ("who is on the hook for incidents", "incident.write"),
}
# What the governance page proposes when nothing is assigned yet (never enforced until an admin saves it).
SUGGESTED_DECISION_RIGHTS: dict[str, str] = {
    "fund_use_cases": "business_owner",
    "approve_tools": "platform_engineer",
    "set_risk_tier": "risk_partner",
    "ship_to_production": "ai_engineer",
    "incident_owner": "ai_engineer",
}


def permission_of(decision: str) -> str:
    """The permission a decision needs; KeyError naming the known decisions for a typo."""
    try:
        return DECISIONS[decision][1]
    except KeyError:
        raise KeyError(f"unknown decision {decision!r}; decisions are {', '.join(DECISIONS)}") from None


def holder(decision_rights: Mapping[str, Any] | None, decision: str) -> str | None:
    """The role the organization gave a decision, or None when it is unassigned."""
    permission_of(decision)
    role = (decision_rights or {}).get(decision)
    return role if isinstance(role, str) and role else None


def refusal(decision_rights: Mapping[str, Any] | None, roles: Iterable[str], decision: str) -> str | None:
    """Why someone with these roles may not take the decision, or None when they may (pure; no permission check)."""
    role = holder(decision_rights, decision)
    have = tuple(roles)
    if role is None or "admin" in have or role in have:
        return None
    label = DECISIONS[decision][0]
    return (f"decision '{decision}' ({label}) belongs to the role '{role}' in this organization's decision rights; "
            f"your roles: {', '.join(have) or 'none'}")


def decision_rights(session: Session) -> dict[str, Any]:
    """The organization's decision rights as stored (empty when the organization row does not exist yet)."""
    org = session.get(Organization, 1)
    return dict(org.decision_rights or {}) if org is not None else {}


def check(session: Session, actor: Actor, decision: str) -> None:
    """Refuse (403) unless the actor holds the role the decision is assigned to; the permission is not checked."""
    rights = decision_rights(session)
    why = refusal(rights, actor.roles, decision)
    if why is not None:
        raise Forbidden(why, code="decision_right",
                        details=[{"decision": decision, "role": holder(rights, decision),
                                  "permission": permission_of(decision)}])


def require(session: Session, actor: Actor, decision: str) -> None:
    """The decision's permission (403 `permission_denied`), then its role (403 `decision_right`)."""
    actor.require(permission_of(decision))
    check(session, actor, decision)

