"""The organization's settings: name, operating model (and the self-check suggesting one), constraints, platforms
and decision rights. The only writer of the organization row."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid, invalid
from takeoff.core.permissions import MATRIX
from takeoff.governance import operating_model
from takeoff.governance.decisions import DECISIONS
from takeoff.governance.models import Organization

CONSTRAINT_KEYS: tuple[str, ...] = ("regulations", "privacy", "latency", "budget", "vendor_restrictions")
PLATFORM_KEYS: tuple[str, ...] = ("experimentation", "deployment", "monitoring", "access_control")


def organization(session: Session) -> Organization:
    """The organization settings row (created with defaults on first read)."""
    org = session.get(Organization, 1)
    if org is None:
        # No decision is assigned until someone saves decision rights: until then the permissions alone decide.
        org = Organization(id=1, name="", operating_model=None, self_check={}, constraints={}, platforms={},
                           decision_rights={})
        session.add(org)
        session.flush()
    return org


def organization_view(org: Organization) -> dict[str, Any]:
    """The organization as the API and YAML show it."""
    return {"name": org.name, "operating_model": org.operating_model, "self_check": dict(org.self_check or {}),
            "constraints": dict(org.constraints or {}), "platforms": dict(org.platforms or {}),
            "decision_rights": dict(org.decision_rights or {})}


def suggestion(self_check: Mapping[str, Any]) -> dict[str, Any] | None:
    """The operating model the seed's self-check suggests, with reasons; None when the check is unanswered."""
    if not self_check:
        return None
    try:
        model, reasons = operating_model.suggest_operating_model(
            self_check.get("standards_maturity"), self_check.get("domains"),  # type: ignore[arg-type]
            self_check.get("demand"), self_check.get("regulated"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise invalid(exc, "self_check") from None
    return {"model": model, "reasons": list(reasons)}


def validate_organization(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check an organization body; decision rights must go to a role that holds the decision's permission."""
    allowed = {"name", "operating_model", "self_check", "constraints", "platforms", "decision_rights"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise Invalid(f"organization: unknown field '{extra[0]}'", details=[{"field": extra[0], "message": "unknown"}])
    out = dict(data)
    name = out.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise Invalid("name: the organization's name is text of at most 200 characters",
                      details=[{"field": "name", "message": "text, at most 200 characters"}])
    om = out.get("operating_model")
    if om is not None and om not in operating_model.OPERATING_MODELS:
        raise Invalid(f"operating_model must be one of {', '.join(operating_model.OPERATING_MODELS)}; got {om!r}",
                      details=[{"field": "operating_model", "message": "unknown operating model"}])
    sc = out.get("self_check")
    if sc is not None:
        if not isinstance(sc, Mapping):
            raise Invalid("self_check must be an object", details=[{"field": "self_check", "message": "object"}])
        extra = sorted(set(sc) - {"standards_maturity", "domains", "demand", "regulated"})
        if extra:
            raise Invalid(f"self_check: unknown field '{extra[0]}'",
                          details=[{"field": f"self_check.{extra[0]}", "message": "unknown"}])
        suggestion(sc)
    for key, known in (("constraints", CONSTRAINT_KEYS), ("platforms", PLATFORM_KEYS)):
        val = out.get(key)
        if val is None:
            continue
        if not isinstance(val, Mapping):
            raise Invalid(f"{key} must be an object", details=[{"field": key, "message": "object"}])
        bad = sorted(set(val) - set(known))
        if bad:
            raise Invalid(f"{key}: unknown field '{bad[0]}'; use {', '.join(known)}",
                          details=[{"field": f"{key}.{bad[0]}", "message": "unknown"}])
        for name, item in val.items():
            problem = _setting_problem(item)
            if problem:
                raise Invalid(f"{key}.{name}: {problem}", details=[{"field": f"{key}.{name}", "message": problem}])
    dr = out.get("decision_rights")
    if dr is not None:
        if not isinstance(dr, Mapping):
            raise Invalid("decision_rights must be an object", details=[{"field": "decision_rights", "message": "object"}])
        clean: dict[str, str] = {}
        for decision, role in dr.items():
            if decision not in DECISIONS:
                raise Invalid(f"decision_rights: unknown decision '{decision}'; decisions are {', '.join(DECISIONS)}",
                              details=[{"field": f"decision_rights.{decision}", "message": "unknown decision"}])
            if role in (None, ""):
                continue  # unassigned: the permission alone decides
            if not isinstance(role, str) or role not in MATRIX:
                raise Invalid(f"decision_rights.{decision}: unknown role '{role}'",
                              details=[{"field": f"decision_rights.{decision}", "message": "unknown role"}])
            perm = DECISIONS[decision][1]
            if perm not in MATRIX[role]:
                raise Invalid(f"decision_rights.{decision}: role '{role}' lacks permission '{perm}' that this decision needs",
                              details=[{"field": f"decision_rights.{decision}", "message": f"needs {perm}"}])
            clean[decision] = role
        out["decision_rights"] = clean
    return out


MAX_SETTING_CHARS = 2000


def _setting_problem(value: Any) -> str | None:
    """Why a constraint or platform value is unacceptable (text, a number, or a list of texts), or None."""
    if isinstance(value, bool) or value is None:
        return "must be text, a number or a list of texts"
    if isinstance(value, (int, float)):
        return None
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str) for i in items):
        return "must be text, a number or a list of texts"
    if sum(len(i) for i in items) > MAX_SETTING_CHARS:
        return f"at most {MAX_SETTING_CHARS} characters"
    return None


def update_organization(session: Session, actor: Actor, data: Mapping[str, Any]) -> tuple[Organization, bool]:
    """Update the organization settings (only the fields given); returns (org, changed)."""
    actor.require("governance.write")
    clean = validate_organization(data)
    org = organization(session)
    before = organization_view(org)
    for k, v in clean.items():
        setattr(org, k, dict(v) if isinstance(v, Mapping) else v)
    after = organization_view(org)
    if after == before:
        return org, False
    session.flush()
    audit.record(session, actor, "organization.update", "organization", "1", before, after)
    return org, True
