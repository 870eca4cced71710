"""Portfolio operations other domains rely on (lookups, discovered use cases), intake, the inventory and the
lifecycle; the only writer of use_cases. Scores and the ranking are portfolio.scores."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.core.events import REQUIRE_DECISION, provided
from takeoff.portfolio import lifecycle, tiers
from takeoff.portfolio.models import UseCase, UseCaseTransition
from takeoff.portfolio.schemas import ScaleTargets, UseCaseIn, UseCasePatch


def require_decision(session: Session, actor: Actor, decision: str) -> None:
    """The organization's decision right (who funds use cases, who sets the risk tier), 403 for anyone else.

    Decision rights are governance's, a floor above: governance provides the check at start (takeoff.flows_registry).
    A process that never registered it refuses rather than skips the check."""
    require = provided(REQUIRE_DECISION)
    if require is None:
        raise Forbidden(f"decision rights are not loaded in this process: '{decision}' cannot be checked",
                        code="permission_denied")
    require(session, actor, decision)


def find(session: Session, key: str) -> UseCase | None:
    """The use case with this key, or None."""
    return session.scalar(select(UseCase).where(UseCase.key == key))


def get(session: Session, key: str) -> UseCase:
    """The use case with this key, or 404."""
    uc = find(session, key)
    if uc is None:
        raise NotFound(f"use case '{key}' not found")
    return uc


def targets(uc: UseCase) -> ScaleTargets:
    """The use case's scale targets as a typed object (all fields optional)."""
    return ScaleTargets.model_validate(uc.targets or {})


def ensure_discovered(session: Session, actor: Actor, key: str) -> UseCase:
    """The use case for telemetry naming `key`; an unknown key becomes a 'discovered' (shadow AI) use case."""
    uc = find(session, key)
    if uc is not None:
        return uc
    try:
        with session.begin_nested():  # another batch may discover the same key at the same moment
            uc = UseCase(key=key[:64], name=key[:200], status="discovered", discovered=True,
                         purpose="Discovered from telemetry; register or retire it.")
            session.add(uc)
    except IntegrityError:
        return get(session, key)
    audit.record(session, actor, "usecase.discover", "use_case", uc.key, None, {"key": uc.key, "status": uc.status})
    return uc


# --- intake, inventory, lifecycle, scores, ranking (added for issue 3) ---------------------------------

INTAKE_FIELDS: tuple[str, ...] = tuple(UseCaseIn.model_fields)
_COLUMNS: tuple[str, ...] = (
    "name", "purpose", "team", "workflows", "expected_users", "user_groups", "regions", "languages",
    "system_of_record", "data_sources", "business_owner", "product_owner", "on_call", "biggest_bottleneck",
    "risk_constraint", "monthly_volume", "scale", "targets", "kpis",
)


def now_iso() -> str:
    """Current UTC time as ISO text, for records kept in JSON."""
    return utcnow().isoformat()


def write_fields(session: Session, actor: Actor, uc: UseCase, action: str, fields: dict[str, Any]) -> bool:
    """Set columns of a use case and audit the change; the one door through which other domains write it."""
    before = {k: getattr(uc, k) for k in fields}
    after = {k: v for k, v in fields.items()}
    if before == after:
        return False
    for k, v in fields.items():
        setattr(uc, k, v)
    uc.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, action, "use_case", uc.key, _jsonable(before), _jsonable(after))
    return True


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in d.items()}


def _pydantic_invalid(exc: ValidationError, prefix: str = "") -> Invalid:
    details = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        details.append({"field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                        "message": str(e.get("msg", "")).removeprefix("Value error, ")})
    first = details[0]
    return Invalid(f"invalid input: {first['field']}: {first['message']}", details=details)


def parse_intake(data: Any) -> UseCaseIn:
    """Parse a use-case body; 422 naming the fields on bad input."""
    if isinstance(data, UseCaseIn):
        return data
    if not isinstance(data, dict):
        raise Invalid("a use case must be an object")
    try:
        return UseCaseIn.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_invalid(exc) from None


def check_required(uc: UseCaseIn) -> None:
    """The seed's required intake information: purpose, data sources, users and risk tier."""
    missing = []
    if not uc.purpose.strip():
        missing.append(("purpose", "the purpose of the use case"))
    if not [s for s in uc.data_sources if s.strip()]:
        missing.append(("data_sources", "at least one data source"))
    if not (uc.expected_users or [g for g in uc.user_groups if g.strip()]):
        missing.append(("expected_users", "who the users are (expected_users or user_groups)"))
    if uc.risk_tier is None and uc.risk_factors is None:
        missing.append(("risk_tier", "a risk tier (risk_tier, or risk_factors to suggest one)"))
    if missing:
        names = ", ".join(m[0] for m in missing)
        raise Invalid(f"intake is incomplete: purpose, data sources, users and risk tier are required; missing {names}",
                      details=[{"field": f, "message": f"required: {m}"} for f, m in missing])


def check_people(session: Session, names: dict[str, str | None]) -> None:
    for field, name in names.items():
        if name and session.scalar(select(User.username).where(User.username == name)) is None:
            raise Invalid(f"{field}: unknown person '{name}'; create the user first",
                          details=[{"field": field, "message": f"unknown person '{name}'"}])


def _resolve_risk(session: Session, actor: Actor, uc: UseCaseIn, existing: UseCase | None) -> dict[str, Any]:
    """Risk columns from intake: the suggestion from factors, or a chosen tier (an override is the set_risk_tier
    decision: risk.override and the role the organization gave it)."""
    eu = existing.eu_category if existing is not None else None
    if uc.risk_factors is None:
        out: dict[str, Any] = {"risk_tier": tiers.apply_eu_floor(uc.risk_tier, eu)}  # type: ignore[arg-type]
        if existing is not None and existing.risk_tier == out["risk_tier"]:
            return out
        if existing is None or not existing.risk_factors:
            out.update(risk_factors={}, risk_tier_suggested=None, risk_tier_reasons=[])
        return out
    factors = uc.risk_factors.model_dump()
    s = tiers.suggest_tier(factors)
    suggested = tiers.apply_eu_floor(s.tier, eu)
    out = {"risk_factors": factors, "risk_tier_suggested": s.tier, "risk_tier_reasons": list(s.reasons)}
    chosen = uc.risk_tier or suggested
    if chosen == suggested:
        out.update(risk_tier=suggested, risk_override={})
        return out
    previous = (existing.risk_override or {}) if existing is not None else {}
    if (existing is not None and existing.risk_tier == chosen and previous.get("chosen") == chosen
            and previous.get("justification") == (uc.risk_justification or "").strip()):
        out.update(risk_tier=chosen)
        return out
    require_decision(session, actor, "set_risk_tier")
    try:
        o = tiers.check_override(suggested, chosen, uc.risk_justification or "", eu_category=eu)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "risk_justification", "message": str(exc)}]) from None
    out.update(risk_tier=o.chosen, risk_override={"suggested": o.suggested, "chosen": o.chosen, "lowers": o.lowers,
                                                  "justification": o.justification, "by": actor.username,
                                                  "at": now_iso()})
    return out


def _columns(uc: UseCaseIn) -> dict[str, Any]:
    d = uc.model_dump(mode="json")
    out = {k: d[k] for k in _COLUMNS}
    out["targets"] = {k: v for k, v in (d["targets"] or {}).items() if v not in (None, [])}
    out["scale"] = {k: v for k, v in (d["scale"] or {}).items() if v is not None}
    out["kpis"] = d["kpis"] or {}
    return out


def create(session: Session, actor: Actor, data: Any) -> UseCase:
    """Register a use case from its intake; refused (nothing written) when required information is missing."""
    actor.require("usecase.write")
    body = parse_intake(data)
    check_required(body)
    check_people(session, {"business_owner": body.business_owner, "product_owner": body.product_owner})
    if find(session, body.key) is not None:
        raise Conflict(f"use case '{body.key}' already exists", details=[{"field": "key", "message": "duplicate key"}])
    cols = {**_columns(body), **_resolve_risk(session, actor, body, None)}
    uc = UseCase(key=body.key, status=lifecycle.PROPOSED, **cols)
    try:
        with session.begin_nested():  # a concurrent request may register the same key between the check and here
            session.add(uc)
    except IntegrityError:
        raise Conflict(f"use case '{body.key}' already exists",
                       details=[{"field": "key", "message": "duplicate key"}]) from None
    audit.record(session, actor, "usecase.create", "use_case", uc.key, None, _jsonable({"key": uc.key, **cols}))
    return uc


def doc_of(uc: UseCase) -> dict[str, Any]:
    """The use case as its apply/export document body (intake fields only; status moves through transitions)."""
    d: dict[str, Any] = {"key": uc.key}
    for c in _COLUMNS:
        d[c] = getattr(uc, c)
    for c in ("scale", "targets", "kpis"):
        if not d[c]:
            d.pop(c)
    if uc.risk_factors:
        d["risk_factors"] = dict(uc.risk_factors)
    d["risk_tier"] = uc.risk_tier
    if uc.risk_override:
        d["risk_justification"] = uc.risk_override.get("justification")
    return normalize_doc(d)


def normalize_doc(d: dict[str, Any]) -> dict[str, Any]:
    """A use-case document in canonical form (defaults dropped), so equal meaning compares equal."""
    parsed = parse_intake(d)
    out = parsed.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    out["key"], out["name"] = parsed.key, parsed.name
    out.pop("scale", None) if not out.get("scale") else None
    out.pop("targets", None) if not out.get("targets") else None
    if parsed.risk_tier is None and parsed.risk_factors is not None:
        out["risk_tier"] = tiers.suggest_tier(parsed.risk_factors.model_dump()).tier
    if out.get("risk_tier") == (tiers.suggest_tier(parsed.risk_factors.model_dump()).tier
                                if parsed.risk_factors else None):
        out.pop("risk_justification", None)
    return out


def upsert(session: Session, actor: Actor, data: Any) -> tuple[UseCase, str]:
    """Create or fully replace a use case's intake from a document; returns (use case, created|updated|unchanged)."""
    actor.require("usecase.write")
    body = parse_intake(data)
    check_required(body)
    check_people(session, {"business_owner": body.business_owner, "product_owner": body.product_owner})
    uc = find(session, body.key)
    if uc is None:
        return create(session, actor, body), "created"
    if doc_of(uc) == normalize_doc(body.model_dump(mode="json")):
        return uc, "unchanged"
    fields = {**_columns(body), **_resolve_risk(session, actor, body, uc)}
    write_fields(session, actor, uc, "usecase.update", fields)
    return uc, "updated"


def update(session: Session, actor: Actor, key: str, patch: UseCasePatch) -> UseCase:
    """Change some intake fields of a use case."""
    actor.require("usecase.write")
    uc = get(session, key)
    given = patch.model_dump(mode="json", exclude_unset=True)
    check_people(session, {k: given.get(k) for k in ("business_owner", "product_owner")})
    for k in ("scale", "targets"):
        if k in given and given[k] is not None:
            given[k] = {a: b for a, b in given[k].items() if b not in (None, [])}
    if "kpis" in given and given["kpis"] is None:
        given["kpis"] = {}
    write_fields(session, actor, uc, "usecase.update", given)
    return uc


def view(uc: UseCase) -> dict[str, Any]:
    """A use case as JSON."""
    d = {c: getattr(uc, c) for c in _COLUMNS}
    d.update(key=uc.key, status=uc.status, paused_from=uc.paused_from, discovered=uc.discovered,
             status_changed_at=uc.status_changed_at.isoformat() if uc.status_changed_at else None,
             risk_tier=uc.risk_tier, risk_tier_suggested=uc.risk_tier_suggested,
             risk_tier_reasons=list(uc.risk_tier_reasons or []), risk_factors=dict(uc.risk_factors or {}),
             risk_override=dict(uc.risk_override or {}), eu_category=uc.eu_category,
             eu_answers=dict(uc.eu_answers or {}), eu_result=dict(uc.eu_result or {}),
             created_at=uc.created_at.isoformat(), updated_at=uc.updated_at.isoformat() if uc.updated_at else None)
    d["allowed_transitions"] = allowed(uc)
    return d


def list_use_cases(session: Session, status: str | None = None) -> list[UseCase]:
    """Use cases, by key, optionally of one status."""
    q = select(UseCase).order_by(UseCase.key)
    if status:
        if status not in lifecycle.STATUSES:
            raise Invalid(f"status must be one of {', '.join(lifecycle.STATUSES)}; got {status!r}")
        q = q.where(UseCase.status == status)
    return list(session.scalars(q))


def allowed(uc: UseCase) -> list[str]:
    """Statuses this use case may move to now."""
    return lifecycle.allowed_targets(uc.status, has_business_owner=bool(uc.business_owner),
                                     eu_category=uc.eu_category,
                                     paused_from=uc.paused_from if uc.status == lifecycle.PAUSED else None)


# Moving a use case into these statuses commits money and people to it: the seed's "what use cases get funded".
FUNDED_STATUSES: tuple[str, ...] = (lifecycle.PILOT, lifecycle.PRODUCTION)


def transition(session: Session, actor: Actor, key: str, to: str, reason: str) -> UseCaseTransition:
    """Move a use case through its lifecycle, recording who, when and why (409 when not allowed).

    Moving into pilot or production is the fund_use_cases decision (the role the organization gave it, if any)."""
    actor.require("usecase.transition")
    uc = get(session, key)
    if to not in lifecycle.STATUSES:
        raise Invalid(f"status must be one of {', '.join(lifecycle.STATUSES)}; got {to!r}",
                      details=[{"field": "to", "message": "unknown status"}])
    if to in FUNDED_STATUSES:
        require_decision(session, actor, "fund_use_cases")
    try:
        t = lifecycle.make_transition(uc.key, uc.status, to, actor=actor.username, reason=reason, at=utcnow(),
                                      has_business_owner=bool(uc.business_owner), eu_category=uc.eu_category,
                                      paused_from=uc.paused_from if uc.status == lifecycle.PAUSED else None)
    except lifecycle.TransitionError as exc:
        raise Conflict(str(exc), code="illegal_transition") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    row = UseCaseTransition(use_case_id=uc.id, from_status=t.from_status, to_status=t.to_status, actor=t.actor,
                            reason=t.reason, at=t.at)
    session.add(row)
    uc.status, uc.paused_from, uc.status_changed_at = t.to_status, t.paused_from, t.at
    session.flush()
    audit.record(session, actor, "usecase.transition", "use_case", uc.key,
                 {"status": t.from_status}, {"status": t.to_status, "reason": t.reason})
    return row


def transitions(session: Session, uc: UseCase) -> list[UseCaseTransition]:
    """A use case's lifecycle history, oldest first."""
    return list(session.scalars(select(UseCaseTransition).where(UseCaseTransition.use_case_id == uc.id)
                                .order_by(UseCaseTransition.at, UseCaseTransition.id)))


def inventory(session: Session) -> list[dict[str, Any]]:
    """The seed's step-1 inventory: per initiative its status, system of record, bottleneck, constraint."""
    return [{"key": uc.key, "name": uc.name, "status": uc.status, "team": uc.team,
             "system_of_record": uc.system_of_record, "biggest_bottleneck": uc.biggest_bottleneck,
             "risk_constraint": uc.risk_constraint, "risk_tier": uc.risk_tier, "eu_category": uc.eu_category,
             "business_owner": uc.business_owner, "monthly_volume": uc.monthly_volume}
            for uc in list_use_cases(session)]
