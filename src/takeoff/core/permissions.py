"""The one module that decides who may do what: roles from the seed mapped to permissions."""
from __future__ import annotations

from collections.abc import Iterable

ROLES: tuple[str, ...] = (
    "admin",
    "business_owner",
    "product_owner",
    "data_owner",
    "ai_engineer",
    "platform_engineer",
    "risk_partner",
    "security_partner",
    "viewer",
)

# Every permission a route or page may ask for, with a one-line meaning.
PERMISSIONS: dict[str, str] = {
    "read": "read portfolio, releases, metrics, incidents, data sources and reports",
    "user.admin": "create, change and deactivate users",
    "token.self": "create and revoke one's own API tokens",
    "audit.read": "read the audit log",
    "usecase.write": "register and edit use cases, intake, inventory and scale targets",
    "usecase.transition": "move a use case through its lifecycle",
    "usecase.score": "score use cases on value, feasibility and risk",
    "risk.classify": "classify risk tier and EU AI Act category",
    "risk.override": "override a suggested risk tier with a justification",
    "governance.write": "edit RACI, roles, operating model and decision rights",
    "policy.write": "edit tier policies and load control frameworks",
    "catalog.write": "edit the model catalog",
    "evalset.write": "create eval sets and versions",
    "eval.run": "start eval runs",
    "release.create": "create release bundles",
    "release.approve": "approve or reject releases (the tier policy names which roles count)",
    "release.promote": "promote releases to canary and production",
    "release.rollback": "roll a use case back to its previous production release",
    "telemetry.ingest": "send telemetry events, traces and feedback",
    "monitor.write": "edit SLOs, alert rules, drift monitors and notification channels",
    "incident.write": "open, update and resolve incidents",
    "datasource.write": "register data sources, SLA checks and access rules",
    "datasource.check": "run data SLA checks on demand",
    "access.approve": "approve access to sensitive fields",
    "outcome.write": "record KPI measurements, costs, usage policies and training",
    "review.write": "record quarterly review decisions",
    "finding.write": "record, update and close audit findings",
    "content.read": "read the captured (redacted) content of requests",
    "privacy.write": "set content capture policies and delete a data subject's data",
    "annotation.write": "create annotation queues (rubric, sampling rules) and add requests to them",
    "annotation.review": "review requests in annotation queues (claim, score, skip), reading their redacted content",
}

_ALL = frozenset(PERMISSIONS)
_BASE = frozenset({"read", "token.self", "telemetry.ingest"})

MATRIX: dict[str, frozenset[str]] = {
    "admin": _ALL,
    "business_owner": _BASE
    | {"usecase.write", "usecase.transition", "usecase.score", "release.approve", "release.rollback",
       "incident.write", "outcome.write", "review.write", "governance.write", "finding.write"},
    "product_owner": _BASE
    | {"usecase.write", "usecase.transition", "usecase.score", "release.approve", "incident.write", "outcome.write",
       "finding.write", "annotation.write", "annotation.review"},
    "data_owner": _BASE | {"datasource.write", "datasource.check", "access.approve", "usecase.score"},
    "ai_engineer": _BASE
    | {"content.read", "evalset.write", "eval.run", "release.create", "release.promote", "release.rollback",
       "monitor.write", "incident.write", "datasource.check", "annotation.write", "annotation.review"},
    "platform_engineer": _BASE
    | {"catalog.write", "eval.run", "release.promote", "release.rollback", "monitor.write", "incident.write",
       "datasource.check"},
    "risk_partner": _BASE
    | {"audit.read", "content.read", "privacy.write", "risk.classify", "risk.override", "policy.write",
       "governance.write", "release.approve", "usecase.score", "incident.write", "review.write", "finding.write",
       "annotation.review"},
    "security_partner": _BASE
    | {"audit.read", "content.read", "privacy.write", "risk.classify", "release.approve", "catalog.write",
       "incident.write", "access.approve", "finding.write"},
    "viewer": frozenset({"read", "token.self"}),
}


def validate_roles(roles: Iterable[str]) -> list[str]:
    """The roles, de-duplicated in order; ValueError naming the first unknown one."""
    out: list[str] = []
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}'; known roles: {', '.join(ROLES)}")
        if role not in out:
            out.append(role)
    if not out:
        raise ValueError("at least one role is required")
    return out


def permissions_for(roles: Iterable[str]) -> frozenset[str]:
    """The union of the permissions of the given roles."""
    granted: set[str] = set()
    for role in roles:
        granted |= MATRIX.get(role, frozenset())
    return frozenset(granted)


def allowed(roles: Iterable[str], permission: str) -> bool:
    """True when any of the roles grants the permission."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in permissions_for(roles)
