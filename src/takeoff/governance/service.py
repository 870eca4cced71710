"""Governance operations: tier policies (versioned), RACI, role assignments, organization, risk tier, EU AI Act,
control library and coverage. The only writer of the governance tables; use-case columns go through portfolio."""
from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.permissions import MATRIX
from takeoff.core.errors import Conflict, Invalid
from takeoff.governance import decisions, eu_ai_act, frameworks, operating_model, policy_defaults
from takeoff.portfolio import tiers
from takeoff.governance.models import (FrameworkRecord, Organization, RoleAssignment, TierPolicyVersion, UseCaseRaci,
                                       UseCaseRole)
from takeoff.governance.policy_defaults import TierPolicy
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase

RACI_LETTERS: tuple[str, ...] = ("responsible", "accountable", "consulted", "informed")
# The seed's seven roles that people are assigned to (admin and viewer are access levels, not governance roles).
SEED_ROLES: tuple[str, ...] = (
    "business_owner", "product_owner", "data_owner", "ai_engineer", "platform_engineer", "risk_partner",
    "security_partner",
)
# The seed's decision rights: decision -> (label, permission a role needs to hold it); enforced by governance.decisions.
DECISIONS = decisions.DECISIONS
SUGGESTED_DECISION_RIGHTS = decisions.SUGGESTED_DECISION_RIGHTS
CONSTRAINT_KEYS: tuple[str, ...] = ("regulations", "privacy", "latency", "budget", "vendor_restrictions")
PLATFORM_KEYS: tuple[str, ...] = ("experimentation", "deployment", "monitoring", "access_control")


def _invalid(exc: ValueError, field: str | None = None) -> Invalid:
    msg = str(exc)
    return Invalid(msg, details=[{"field": field, "message": msg}] if field else None)


def _check_users(session: Session, names: list[str], field: str) -> None:
    """422 naming the first username that does not exist."""
    if not names:
        return
    known = set(session.scalars(select(User.username).where(User.username.in_(names))))
    for n in names:
        if n not in known:
            raise Invalid(f"{field}: unknown person '{n}'; create the user first",
                          details=[{"field": field, "message": f"unknown person '{n}'"}])


# --- tier policies -------------------------------------------------------------------------------------


def tier_policy(session: Session, tier: str) -> tuple[int, TierPolicy]:
    """The current (version, policy) for a tier; version 1 is the shipped default until an admin edits it."""
    if tier not in policy_defaults.TIERS:
        raise Invalid(f"tier must be one of low, medium, high; got {tier!r}")
    row = session.scalar(select(TierPolicyVersion).where(TierPolicyVersion.tier == tier)
                         .order_by(TierPolicyVersion.version.desc()).limit(1))
    if row is None:
        return 1, policy_defaults.default_tier_policy(tier)
    return row.version, policy_defaults.validate_tier_policy(row.policy)


def tier_policy_history(session: Session, tier: str) -> list[dict[str, Any]]:
    """Every version of a tier's policy, newest first (version 1 = the default when never edited)."""
    rows = session.scalars(select(TierPolicyVersion).where(TierPolicyVersion.tier == tier)
                           .order_by(TierPolicyVersion.version.desc())).all()
    out = [{"version": r.version, "policy": r.policy, "note": r.note, "created_by": r.created_by,
            "created_at": r.created_at.isoformat()} for r in rows]
    if not any(r["version"] == 1 for r in out):
        out.append({"version": 1, "policy": policy_defaults.policy_to_dict(policy_defaults.default_tier_policy(tier)),
                    "note": "shipped default", "created_by": "takeoff", "created_at": None})
    return out


def validate_policy(tier: str, policy: Mapping[str, Any]) -> TierPolicy:
    """Validate a policy body for a tier (the tier in the body, if any, must match); 422 on bad input."""
    body = dict(policy)
    if body.setdefault("tier", tier) != tier:
        raise Invalid(f"tier policy body says tier {body['tier']!r} but the address says {tier!r}")
    try:
        return policy_defaults.validate_tier_policy(body)
    except ValueError as exc:
        raise _invalid(exc, "policy") from None


def set_tier_policy(session: Session, actor: Actor, tier: str, policy: Mapping[str, Any],
                    note: str = "") -> tuple[int, TierPolicy, bool]:
    """Save a new version of a tier's policy (version, policy, changed); an identical policy adds no version."""
    actor.require("policy.write")
    new = validate_policy(tier, policy)
    version, current = tier_policy(session, tier)
    if new == current:
        return version, current, False
    row = TierPolicyVersion(tier=tier, version=version + 1, policy=policy_defaults.policy_to_dict(new),
                            note=note, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.update", "tier_policy", tier,
                 {"version": version, **policy_defaults.policy_to_dict(current)},
                 {"version": row.version, **row.policy})
    return row.version, new, True


# --- RACI -----------------------------------------------------------------------------------------------


def raci(session: Session, use_case_key: str) -> dict[str, list[str]]:
    """Responsible / accountable / consulted / informed usernames for a use case (empty lists when unset)."""
    uc = portfolio.get(session, use_case_key)
    row = session.scalar(select(UseCaseRaci).where(UseCaseRaci.use_case_id == uc.id))
    if row is None:
        return {letter: [] for letter in RACI_LETTERS}
    return {letter: list(getattr(row, letter) or []) for letter in RACI_LETTERS}


def validate_raci(session: Session, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check a RACI body: the four letters only, lists of existing usernames, exactly one accountable person."""
    if not isinstance(data, Mapping):
        raise Invalid("RACI must be an object with responsible, accountable, consulted, informed")
    extra = sorted(set(data) - set(RACI_LETTERS))
    if extra:
        raise Invalid(f"RACI: unknown field '{extra[0]}'; use {', '.join(RACI_LETTERS)}",
                      details=[{"field": extra[0], "message": "unknown field"}])
    out: dict[str, list[str]] = {}
    for letter in RACI_LETTERS:
        names = data.get(letter) or []
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise Invalid(f"RACI {letter}: must be a list of usernames",
                          details=[{"field": letter, "message": "must be a list of usernames"}])
        names = list(dict.fromkeys(n.strip() for n in names))
        _check_users(session, names, letter)
        out[letter] = names
    if len(out["accountable"]) != 1:
        raise Invalid("RACI accountable: exactly one person is accountable",
                      details=[{"field": "accountable", "message": "exactly one person"}])
    if not out["responsible"]:
        raise Invalid("RACI responsible: name at least one person",
                      details=[{"field": "responsible", "message": "at least one person"}])
    return out


def set_raci(session: Session, actor: Actor, use_case_key: str, data: Mapping[str, Any]) -> tuple[dict[str, list[str]], bool]:
    """Replace a use case's RACI; returns (raci, changed)."""
    actor.require("governance.write")
    uc = portfolio.get(session, use_case_key)
    new = validate_raci(session, data)
    before = raci(session, use_case_key)
    if before == new:
        return new, False
    row = session.scalar(select(UseCaseRaci).where(UseCaseRaci.use_case_id == uc.id))
    if row is None:
        row = UseCaseRaci(use_case_id=uc.id)
        session.add(row)
    for letter in RACI_LETTERS:
        setattr(row, letter, new[letter])
    session.flush()
    audit.record(session, actor, "raci.update", "use_case", uc.key, before, new)
    return new, True


# --- roles → people -------------------------------------------------------------------------------------


def role_assignments(session: Session) -> dict[str, list[str]]:
    """The seed's roles, each with the usernames assigned to it."""
    out: dict[str, list[str]] = {r: [] for r in SEED_ROLES}
    for row in session.scalars(select(RoleAssignment).order_by(RoleAssignment.role, RoleAssignment.username)):
        out.setdefault(row.role, []).append(row.username)
    return out


def set_role_assignments(session: Session, actor: Actor, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Replace the people of each role named in `data` (role → usernames); unknown roles or people → 422."""
    actor.require("governance.write")
    if not isinstance(data, Mapping):
        raise Invalid("role assignments must be an object of role → list of usernames")
    for role, names in data.items():
        if role not in SEED_ROLES:
            raise Invalid(f"unknown role '{role}'; roles are {', '.join(SEED_ROLES)}",
                          details=[{"field": str(role), "message": "unknown role"}])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Invalid(f"{role}: must be a list of usernames", details=[{"field": role, "message": "list"}])
        _check_users(session, names, role)
    before = role_assignments(session)
    for role, names in data.items():
        wanted = set(names)
        rows = session.scalars(select(RoleAssignment).where(RoleAssignment.role == role)).all()
        for row in rows:
            if row.username not in wanted:
                session.delete(row)
        have = {r.username for r in rows}
        for n in sorted(wanted - have):
            session.add(RoleAssignment(role=role, username=n))
    session.flush()
    after = role_assignments(session)
    if after != before:
        audit.record(session, actor, "roles.assign", "organization", "roles", before, after)
    return after


# --- roles → people, per use case -----------------------------------------------------------------------

# The two roles a use case holds in its own columns, one person each (lifecycle and readiness read them).
OWNER_ROLES: tuple[str, ...] = ("business_owner", "product_owner")


def use_case_roles(session: Session, use_case_key: str) -> dict[str, list[str]]:
    """The seed's seven roles for one use case, each with its people (owners come from the use case's columns)."""
    uc = portfolio.get(session, use_case_key)
    out: dict[str, list[str]] = {r: [] for r in SEED_ROLES}
    for role in OWNER_ROLES:
        if getattr(uc, role):
            out[role] = [getattr(uc, role)]
    rows = session.scalars(select(UseCaseRole).where(UseCaseRole.use_case_id == uc.id)
                           .order_by(UseCaseRole.role, UseCaseRole.id))
    for row in rows:
        out.setdefault(row.role, []).append(row.username)
    return out


def validate_use_case_roles(session: Session, data: Any) -> dict[str, list[str]]:
    """Check role → usernames for a use case: the seed's roles only, existing people, one owner per owner role."""
    if not isinstance(data, Mapping):
        raise Invalid("use-case roles must be an object of role → list of usernames")
    out: dict[str, list[str]] = {}
    for role, names in data.items():
        if role not in SEED_ROLES:
            raise Invalid(f"unknown role '{role}'; roles are {', '.join(SEED_ROLES)}",
                          details=[{"field": str(role), "message": "unknown role"}])
        if names is None:
            names = []
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise Invalid(f"{role}: must be a list of usernames", details=[{"field": role, "message": "list"}])
        names = list(dict.fromkeys(n.strip() for n in names))
        if role in OWNER_ROLES and len(names) > 1:
            raise Invalid(f"{role}: a use case has one {role.replace('_', ' ')}; got {len(names)} people",
                          details=[{"field": role, "message": "one person"}])
        _check_users(session, names, role)
        out[role] = names
    return out


def set_use_case_roles(session: Session, actor: Actor, use_case_key: str,
                       data: Any) -> tuple[dict[str, list[str]], bool]:
    """Replace the people of each role named in `data` for one use case; returns (all roles, changed).

    Everything is validated before anything is written. Changing the business or product owner also needs
    usecase.write, as the intake form does."""
    actor.require("governance.write")
    uc = portfolio.get(session, use_case_key)
    new = validate_use_case_roles(session, data)
    before = use_case_roles(session, use_case_key)
    owners = {r: (new[r][0] if new[r] else None) for r in OWNER_ROLES if r in new and new[r] != before[r]}
    if owners:
        actor.require("usecase.write")
    if all(before[r] == names for r, names in new.items()):
        return before, False
    if owners:
        portfolio.write_fields(session, actor, uc, "usecase.update", owners)
    for role, names in new.items():
        if role in OWNER_ROLES or before[role] == names:
            continue
        for row in session.scalars(select(UseCaseRole).where(UseCaseRole.use_case_id == uc.id,
                                                             UseCaseRole.role == role)).all():
            session.delete(row)
        session.flush()
        session.add_all(UseCaseRole(use_case_id=uc.id, role=role, username=n) for n in names)
    session.flush()
    after = use_case_roles(session, use_case_key)
    audit.record(session, actor, "usecase.roles", "use_case", uc.key, before, after)
    return after, True


# --- organization ---------------------------------------------------------------------------------------


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
        raise _invalid(exc, "self_check") from None
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


# --- risk tier and EU AI Act --------------------------------------------------------------------------


def suggest(factors: Mapping[str, Any]) -> tiers.TierSuggestion:
    """Tier suggestion for the five factors; 422 on bad factors."""
    try:
        return tiers.suggest_tier(factors)
    except ValueError as exc:
        raise _invalid(exc, "risk_factors") from None


def _suggestion(factors: Mapping[str, Any] | None, eu_result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The suggested tier and its reasons: the five factors' rule, raised to the EU AI Act floor with the articles
    that raise it (a prohibited or high-risk classification suggests high even with no factors answered)."""
    base = suggest(factors) if factors else None
    tier, reasons = (base.tier, list(base.reasons)) if base else (None, [])
    category = (eu_result or {}).get("category")
    floor = tiers.tier_floor_for_eu(category) if category in tiers.EU_CATEGORIES else "low"
    if floor == "high":
        arts = ", ".join(t.get("article", "") for t in (eu_result or {}).get("triggers", []))
        reasons.append(f"EU AI Act: {str(category).replace('_', ' ')} ({arts}) requires tier high")
        tier = "high"
    return {"risk_tier_suggested": tier, "risk_tier_reasons": reasons}


def set_risk_factors(session: Session, actor: Actor, key: str, factors: Mapping[str, Any]) -> UseCase:
    """Store the tier factors and the suggested tier with reasons; without an override the tier follows it."""
    actor.require("usecase.write")
    uc = portfolio.get(session, key)
    s = suggest(factors)
    fields: dict[str, Any] = {"risk_factors": dict(factors), **_suggestion(factors, uc.eu_result)}
    if not uc.risk_override:
        fields["risk_tier"] = tiers.apply_eu_floor(s.tier, uc.eu_category)
    portfolio.write_fields(session, actor, uc, "risk.suggest", fields)
    return uc


def override_tier(session: Session, actor: Actor, key: str, tier: str, justification: str) -> UseCase:
    """Choose another tier than the suggestion: the set_risk_tier decision (risk.override, and the role the
    organization gave it) and a written justification (recorded)."""
    decisions.require(session, actor, "set_risk_tier")
    uc = portfolio.get(session, key)
    suggested = uc.risk_tier_suggested or uc.risk_tier or tier
    try:
        o = tiers.check_override(suggested, tier, justification, eu_category=uc.eu_category)
    except ValueError as exc:
        raise _invalid(exc, "justification" if "justification" in str(exc) else "tier") from None
    record = {"suggested": o.suggested, "chosen": o.chosen, "lowers": o.lowers, "justification": o.justification,
              "by": actor.username, "at": portfolio.now_iso()}
    portfolio.write_fields(session, actor, uc, "risk.override", {"risk_tier": o.chosen, "risk_override": record})
    return uc


def _triggers(ts: tuple[eu_ai_act.Trigger, ...]) -> list[dict[str, str]]:
    return [{"answer": t.answer, "article": t.article, "reason": t.reason} for t in ts]


def classification_view(c: eu_ai_act.EUClassification) -> dict[str, Any]:
    """An EU AI Act classification as JSON (the shape stored in a use case's eu_result)."""
    return {"category": c.category, "triggers": _triggers(c.triggers), "obligations": list(c.obligations),
            "annex_iii_points": list(c.annex_iii_points), "transparency": _triggers(c.transparency),
            "gpai": c.gpai, "gpai_systemic_risk": c.gpai_systemic_risk, "gpai_obligations": list(c.gpai_obligations),
            "gpai_triggers": _triggers(c.gpai_triggers), "art_6_3_assessment": c.art_6_3_assessment,
            "tier_floor": c.tier_floor, "notes": list(c.notes)}


def classify_eu(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Classify questionnaire answers; 422 naming the field on unknown questions, wrong types or contradictions."""
    try:
        return classification_view(eu_ai_act.classify(answers))
    except eu_ai_act.AnswersError as exc:
        raise _invalid(exc, exc.field or "eu_answers") from None


def has_transparency_duties(eu_result: Mapping[str, Any] | None) -> bool:
    """Whether a stored classification carries Art. 50 duties (read from its obligations, so older results too)."""
    return any(str(o).startswith("Art.50") for o in (eu_result or {}).get("obligations", []))


def set_eu_answers(session: Session, actor: Actor, key: str, answers: Mapping[str, Any]) -> UseCase:
    """Store the EU AI Act questionnaire and its result; prohibited/high-risk raise the suggested and current tier to
    high, with the articles as the reason."""
    actor.require("risk.classify")
    uc = portfolio.get(session, key)
    result = classify_eu(answers)
    category = result["category"]
    fields: dict[str, Any] = {"eu_answers": dict(answers), "eu_result": result, "eu_category": category,
                              **_suggestion(uc.risk_factors or None, result)}
    if uc.risk_tier:
        fields["risk_tier"] = tiers.apply_eu_floor(uc.risk_tier, category)
    else:
        fields["risk_tier"] = tiers.tier_floor_for_eu(category) if category in ("prohibited", "high_risk") else None
    portfolio.write_fields(session, actor, uc, "risk.eu_classify", fields)
    return uc


# --- control library ------------------------------------------------------------------------------------


def _load_text(text: str, check_controls: bool = True) -> frameworks.Framework:
    """Validate framework YAML text with frameworks.load_framework; errors name the line and field.

    With check_controls, every `takeoff_controls` id must name a control of takeoff's library."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid("framework YAML is empty")
    ids = [c.id for c in controls()] if check_controls else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "framework.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            fw = frameworks.load_framework(path, control_ids=ids)
        except ValueError as exc:
            raise Invalid(str(exc).replace(str(path), "framework.yaml")) from None
    return fw


def all_frameworks(session: Session) -> dict[str, frameworks.Framework]:
    """Built-in frameworks plus those an admin loaded, by framework id."""
    out = dict(_builtin())
    for row in session.scalars(select(FrameworkRecord).order_by(FrameworkRecord.framework_id)):
        try:
            # A control the library later dropped must not hide the framework: coverage ignores unknown ids.
            out[row.framework_id] = _load_text(row.yaml_text, check_controls=False)
        except Invalid:
            continue  # validated on load; a later schema change must not break the page
    return out


_BUILTIN: dict[str, frameworks.Framework] = {}


def _builtin() -> dict[str, frameworks.Framework]:
    if not _BUILTIN:
        _BUILTIN.update(frameworks.load_builtin_frameworks())
    return _BUILTIN


_CONTROLS: list[tuple[frameworks.Control, ...]] = []


def controls() -> tuple[frameworks.Control, ...]:
    """takeoff's own control library."""
    if not _CONTROLS:
        _CONTROLS.append(frameworks.load_controls())
    return _CONTROLS[0]


def load_framework(session: Session, actor: Actor, text: str) -> tuple[frameworks.Framework, bool]:
    """Load (or replace) a framework from YAML text; built-in ids cannot be replaced. Returns (framework, created)."""
    actor.require("policy.write")
    fw = _load_text(text)
    if fw.id in frameworks.BUILTIN_FRAMEWORK_IDS:
        raise Conflict(f"framework '{fw.id}' is built in; give your framework another id")
    row = session.scalar(select(FrameworkRecord).where(FrameworkRecord.framework_id == fw.id))
    created = row is None
    before = None if row is None else {"version": row.version, "name": row.name}
    if row is None:
        row = FrameworkRecord(framework_id=fw.id, name=fw.name, version=fw.version, yaml_text=text,
                              loaded_by=actor.username)
        session.add(row)
    else:
        row.name, row.version, row.yaml_text, row.loaded_by = fw.name, fw.version, text, actor.username
    session.flush()
    audit.record(session, actor, "framework.load", "framework", fw.id, before, {"version": fw.version, "name": fw.name})
    return fw, created


def framework_summary(fw: frameworks.Framework) -> dict[str, Any]:
    """Identity and item counts of a framework."""
    return {"id": fw.id, "name": fw.name, "version": fw.version, "publisher": fw.publisher,
            "builtin": fw.id in frameworks.BUILTIN_FRAMEWORK_IDS, "counts": frameworks.count_by_kind(fw),
            "assessable": len(fw.assessable_items())}


def _coverage_view(cov: Mapping[str, frameworks.FrameworkCoverage]) -> dict[str, Any]:
    return {fid: {"total": c.total, "covered": len(c.covered), "covered_share": round(c.covered_share, 4),
                  "uncovered": list(c.uncovered)} for fid, c in cov.items()}


def _mapped(fws: Mapping[str, frameworks.Framework]) -> tuple[frameworks.Control, ...]:
    """The control library with the loaded frameworks' `takeoff_controls` folded into each control's mapping."""
    return frameworks.with_framework_mappings(controls(), fws)


def framework_coverage(session: Session, fws: Mapping[str, frameworks.Framework] | None = None) -> dict[str, Any]:
    """Per framework (built-in and loaded): how many assessable items takeoff's whole control library covers."""
    fws = all_frameworks(session) if fws is None else fws
    return _coverage_view(frameworks.coverage(_mapped(fws), fws))


def use_case_controls(session: Session, uc: UseCase,
                      fws: Mapping[str, frameworks.Framework] | None = None) -> dict[str, Any]:
    """Controls applying to a use case (by tier and EU category) and their coverage of every framework, built-in
    or loaded."""
    fws = all_frameworks(session) if fws is None else fws
    tier = uc.risk_tier or "low"
    gpai = bool((uc.eu_result or {}).get("gpai"))
    eu = uc.eu_category if uc.eu_category in frameworks.EU_CATEGORIES else None
    applicable = frameworks.controls_for(tier, eu, gpai=gpai, transparency=has_transparency_duties(uc.eu_result),
                                         controls=_mapped(fws))
    cov = frameworks.coverage(applicable, fws)
    return {"tier": tier, "eu_category": uc.eu_category,
            "controls": [{"id": c.id, "title": c.title, "evidence": c.evidence, "evidence_kind": c.evidence_kind}
                         for c in applicable],
            "coverage": _coverage_view(cov)}
