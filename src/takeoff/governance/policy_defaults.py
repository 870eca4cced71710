"""Default tier policies as data: the pre-release checklist and the approver roles for each risk tier.

Approvals stay proportional (seed: "low-risk internal tooling should move fast"): low needs the product owner;
medium the business owner and a risk partner; high adds a security partner, and every higher tier keeps the
lower tier's mandatory checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from takeoff.core.permissions import ROLES
TIERS: tuple[str, ...] = ("low", "medium", "high")
# Evidence kinds a checklist item or control can name; each is produced by a domain or attested by a person.
EVIDENCE_KINDS: tuple[str, ...] = (
    "intake_complete",
    "owner_named",
    "risk_tier_recorded",
    "eu_classification_recorded",
    "prohibited_practice_blocked",
    "eval_gate_passed",
    "safety_eval_passed",
    "output_safety_checks",
    "release_versioned",
    "change_control",
    "approvals_by_tier",
    "human_oversight",
    "monitoring_configured",
    "audit_chain_verified",
    "fallback_defined",
    "incident_process",
    "data_sla_green",
    "access_least_privilege",
    "data_provenance",
    "vendor_terms_recorded",
    "usage_policy",
    "transparency_notice",
    "technical_documentation",
    "impact_assessment",
    "risk_management_process",
    "feedback_collected",
    "quarterly_review",
    "decommission_plan",
    "training_recorded",
    "ai_policy",
    "gpai_documentation",
)


def _item(id_: str, title: str, evidence_kind: str, mandatory: bool = True) -> dict[str, Any]:
    return {"id": id_, "title": title, "evidence_kind": evidence_kind, "mandatory": mandatory}


_LOW_CHECKLIST = [
    _item("CL-INTAKE", "Intake has purpose, data sources, users and risk tier", "intake_complete"),
    _item("CL-OWNER", "Business and product owners are named", "owner_named"),
    _item("CL-EVAL", "Eval gate passed on the release's eval set", "eval_gate_passed"),
    _item("CL-VERSION", "Release bundle is versioned and reproducible", "release_versioned"),
    _item("CL-MONITOR", "Quality and cost monitoring is configured", "monitoring_configured"),
    _item("CL-ROLLBACK", "Fallback and rollback path are defined", "fallback_defined", mandatory=False),
    _item("CL-USAGE", "Approved and prohibited uses are written down", "usage_policy", mandatory=False),
    _item("CL-VENDOR", "Vendor data-handling and limits are recorded", "vendor_terms_recorded", mandatory=False),
]
_MEDIUM_CHECKLIST = [
    *(dict(i, mandatory=True) if i["id"] in ("CL-ROLLBACK", "CL-USAGE") else dict(i) for i in _LOW_CHECKLIST),
    _item("CL-SAFETY", "No unacceptable failures; safety checks pass", "safety_eval_passed"),
    # mandatory from the high tier on (the list below makes every medium item mandatory): no attestation replaces it
    _item("CL-FILTERS", "Outputs pass safety filters in the request path", "output_safety_checks", mandatory=False),
    _item("CL-DATA-SLA", "Data sources meet their SLAs", "data_sla_green"),
    _item("CL-OVERSIGHT", "Human oversight rules are defined", "human_oversight"),
    _item("CL-INCIDENT", "On-call and incident process are in place", "incident_process"),
    _item("CL-CHANGE", "Change went through model and prompt change control", "change_control"),
    _item("CL-ACCESS", "Data access is least-privilege and logged", "access_least_privilege", mandatory=False),
]
_HIGH_CHECKLIST = [
    *(dict(i, mandatory=True) for i in _MEDIUM_CHECKLIST),
    _item("CL-AUDIT", "Audit trail verifies end to end", "audit_chain_verified"),
    _item("CL-IMPACT", "Impact assessment is signed off", "impact_assessment"),
    _item("CL-DOCS", "Technical documentation is current", "technical_documentation"),
]

DEFAULT_TIER_POLICIES: dict[str, dict[str, Any]] = {
    "low": {"tier": "low", "approver_roles": ["product_owner"], "checklist": _LOW_CHECKLIST},
    "medium": {
        "tier": "medium",
        "approver_roles": ["business_owner", "risk_partner"],
        "checklist": _MEDIUM_CHECKLIST,
    },
    "high": {
        "tier": "high",
        "approver_roles": ["business_owner", "risk_partner", "security_partner"],
        "checklist": _HIGH_CHECKLIST,
    },
}


@dataclass(frozen=True)
class ChecklistItem:
    """One pre-release checklist item: what it checks, the evidence kind that satisfies it, and if it blocks."""

    id: str
    title: str
    evidence_kind: str
    mandatory: bool


@dataclass(frozen=True)
class TierPolicy:
    """A validated tier policy: who approves releases for the tier and what the checklist requires."""

    tier: str
    approver_roles: tuple[str, ...]
    checklist: tuple[ChecklistItem, ...]
    # An eval gate whose confidence interval straddles the threshold blocks the release unless the policy says not.
    inconclusive_blocks: bool = True

    @property
    def mandatory_evidence(self) -> frozenset[str]:
        """Evidence kinds a release of this tier must show before production."""
        return frozenset(i.evidence_kind for i in self.checklist if i.mandatory)


def _registered(kind: object) -> bool:
    """A kind registered in the evidence registry (a provider added beyond the defaults) is a known kind too."""
    from takeoff.evidence.registry import evidence_kinds  # registry reads load the domains' providers: not at import

    return isinstance(kind, str) and evidence_kinds.has(kind)


def validate_tier_policy(policy: Mapping[str, Any]) -> TierPolicy:
    """Validate a tier policy dict (tier, approver_roles, checklist); ValueError with one readable message."""
    if not isinstance(policy, Mapping):
        raise ValueError("tier policy must be a mapping with tier, approver_roles and checklist")
    extra = sorted(set(policy) - {"tier", "approver_roles", "checklist", "inconclusive_blocks"})
    if extra:
        raise ValueError(f"tier policy: unknown field {extra[0]!r}")
    tier = policy.get("tier")
    if tier not in TIERS:
        raise ValueError(f"tier policy: tier must be one of low, medium, high; got {tier!r}")
    roles = policy.get("approver_roles")
    if not isinstance(roles, (list, tuple)) or not roles:
        raise ValueError(f"tier policy {tier}: approver_roles must be a non-empty list of roles")
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"tier policy {tier}: unknown approver role {role!r}; roles are {', '.join(ROLES)}")
        if role == "viewer":
            raise ValueError(f"tier policy {tier}: a viewer cannot approve releases")
    if len(set(roles)) != len(roles):
        raise ValueError(f"tier policy {tier}: approver_roles lists a role twice")
    checklist = policy.get("checklist")
    if not isinstance(checklist, (list, tuple)) or not checklist:
        raise ValueError(f"tier policy {tier}: checklist must be a non-empty list of items")
    items: list[ChecklistItem] = []
    seen: set[str] = set()
    for n, raw in enumerate(checklist):
        where = f"tier policy {tier}: checklist[{n}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: must be a mapping with id, title, evidence_kind, mandatory")
        missing = [k for k in ("id", "title", "evidence_kind", "mandatory") if k not in raw]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        extra_keys = sorted(set(raw) - {"id", "title", "evidence_kind", "mandatory"})
        if extra_keys:
            raise ValueError(f"{where}: unknown field {extra_keys[0]!r}")
        id_, title, kind, mandatory = raw["id"], raw["title"], raw["evidence_kind"], raw["mandatory"]
        if not isinstance(id_, str) or not id_.strip():
            raise ValueError(f"{where}: id must be a non-empty string")
        if id_ in seen:
            raise ValueError(f"{where}: duplicate item id {id_!r}")
        seen.add(id_)
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"{where}: title must be a non-empty string")
        if kind not in EVIDENCE_KINDS and not _registered(kind):
            raise ValueError(f"{where}: unknown evidence_kind {kind!r}")
        if not isinstance(mandatory, bool):
            raise ValueError(f"{where}: mandatory must be true or false")
        items.append(ChecklistItem(id_, title.strip(), kind, mandatory))
    if not any(i.mandatory for i in items):
        raise ValueError(f"tier policy {tier}: at least one checklist item must be mandatory")
    inconclusive = policy.get("inconclusive_blocks", True)
    if not isinstance(inconclusive, bool):
        raise ValueError(f"tier policy {tier}: inconclusive_blocks must be true or false")
    return TierPolicy(tier=tier, approver_roles=tuple(roles), checklist=tuple(items), inconclusive_blocks=inconclusive)


def policy_to_dict(policy: TierPolicy) -> dict[str, Any]:
    """A TierPolicy as the plain dict that validate_tier_policy accepts (for storage, API and YAML)."""
    return {
        "tier": policy.tier,
        "approver_roles": list(policy.approver_roles),
        "checklist": [
            {"id": i.id, "title": i.title, "evidence_kind": i.evidence_kind, "mandatory": i.mandatory}
            for i in policy.checklist
        ],
        "inconclusive_blocks": policy.inconclusive_blocks,
    }


def default_tier_policy(tier: str) -> TierPolicy:
    """The shipped default policy for a tier, validated."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of low, medium, high; got {tier!r}")
    return validate_tier_policy(DEFAULT_TIER_POLICIES[tier])
