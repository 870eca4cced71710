"""People in governance: the seed's roles and who holds them (organization-wide and per use case), and each use
case's RACI. The only writer of role_assignments, use_case_roles and use_case_raci."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.auth.models import User
from takeoff.core.actor import Actor
from takeoff.core.db import one_of
from takeoff.core.errors import Invalid
from takeoff.governance.models import RoleAssignment, UseCaseRaci, UseCaseRole
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase

RACI_LETTERS: tuple[str, ...] = ("responsible", "accountable", "consulted", "informed")
# The seed's seven roles that people are assigned to (admin and viewer are access levels, not governance roles).
SEED_ROLES: tuple[str, ...] = (
    "business_owner", "product_owner", "data_owner", "ai_engineer", "platform_engineer", "risk_partner",
    "security_partner",
)
# The seed's decision rights: decision -> (label, permission a role needs to hold it); enforced by governance.decisions.


def check_users(session: Session, names: list[str], field: str) -> None:
    """422 naming the first username that does not exist."""
    if not names:
        return
    known = set(session.scalars(select(User.username).where(User.username.in_(names))))
    for n in names:
        if n not in known:
            raise Invalid(f"{field}: unknown person '{n}'; create the user first",
                          details=[{"field": field, "message": f"unknown person '{n}'"}])


# --- RACI -----------------------------------------------------------------------------------------------


def raci(session: Session, use_case_key: str) -> dict[str, list[str]]:
    """Responsible / accountable / consulted / informed usernames for a use case (empty lists when unset)."""
    uc = portfolio.get(session, use_case_key)
    row = session.scalar(select(UseCaseRaci).where(UseCaseRaci.use_case_id == uc.id))
    if row is None:
        return {letter: [] for letter in RACI_LETTERS}
    return {letter: list(getattr(row, letter) or []) for letter in RACI_LETTERS}


def raci_many(session: Session, keys: list[str]) -> dict[str, dict[str, list[str]]]:
    """`raci` of each use case in `keys` that has one set, in one query (a use case without a RACI is left out)."""
    if not keys:
        return {}
    rows = session.execute(select(UseCase.key, UseCaseRaci).join(UseCaseRaci, UseCaseRaci.use_case_id == UseCase.id)
                           .where(one_of(session, UseCase.key, sorted(set(keys)))))
    return {key: {letter: list(getattr(row, letter) or []) for letter in RACI_LETTERS} for key, row in rows}


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
        check_users(session, names, letter)
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
        check_users(session, names, role)
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
        check_users(session, names, role)
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
