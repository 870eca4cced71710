"""Evidence kinds auth owns: least-privilege roles and expiring tokens across the organization, and the scopes of
the tokens held by a use case's own people."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takeoff.auth import service as auth
from takeoff.auth.models import ApiToken
from takeoff.evidence.registry import Evidence, Registry, Subject


def _active_tokens(session: Session, now: datetime, cache: dict[Any, Any] | None = None) -> list[tuple[ApiToken, str]]:
    """Every active token with its user, read once per request cache (and as of `now`)."""
    memo = ("auth.active_tokens", now)
    if cache is not None and memo in cache:
        found: list[tuple[ApiToken, str]] = cache[memo]
        return found
    out = [(t, u) for t, u in auth.list_tokens(session, None)
           if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)]
    if cache is not None:
        cache[memo] = out
    return out


def roles_least_privilege(session: Session, s: Subject) -> Evidence:
    """Active people hold least-privilege roles: not everyone is an admin."""
    roles: dict[str, int] = {}
    for u in auth.list_users(session):
        if u.active:
            for r in u.roles or []:
                roles[r] = roles.get(r, 0) + 1
    if not roles:
        return Evidence("roles_least_privilege", "fail", "no active users", "/admin/users", scope="organization")
    if not any(r != "admin" and n for r, n in roles.items()):
        return Evidence("roles_least_privilege", "fail", "every active user is an admin: no least-privilege role in "
                        "use", "/admin/users", scope="organization")
    shown = ", ".join(f"{r} {n}" for r, n in sorted(roles.items()) if n)
    return Evidence("roles_least_privilege", "pass", f"roles in use: {shown} ({roles.get('admin', 0)} admin)",
                    "/admin/users", scope="organization")


def tokens_expire(session: Session, s: Subject) -> Evidence:
    """Every active API token has an expiry date."""
    active = _active_tokens(session, s.now, s.cache)
    never = [t for t, _ in active if t.expires_at is None]
    if never:
        return Evidence("tokens_expire", "fail", f"{len(never)} of {len(active)} active API token(s) never expire",
                        "/tokens", scope="organization")
    return Evidence("tokens_expire", "pass", f"all {len(active)} active token(s) expire", "/tokens",
                    scope="organization")


def use_case_tokens_scoped(session: Session, s: Subject) -> Evidence:
    """The active tokens of the use case's own people (business and product owner) expire and carry no admin
    role: whoever acts for this use case through the API does so with least privilege."""
    uc = s.use_case
    people = sorted({p for p in (uc.business_owner, uc.product_owner) if p})
    link = f"/usecases/{uc.key}#intake"
    if not people:
        return Evidence("use_case_tokens_scoped", "no_evidence", "no owner is named, so no token acts for the use "
                        "case", link)
    mine = [(t, u) for t, u in _active_tokens(session, s.now, s.cache) if u in people]
    problems = [f"{u}'s token {t.name} carries the admin role" for t, u in mine if "admin" in (t.roles or [])]
    problems += [f"{u}'s token {t.name} never expires" for t, u in mine if t.expires_at is None]
    if problems:
        return Evidence("use_case_tokens_scoped", "fail", "; ".join(problems), link)
    return Evidence("use_case_tokens_scoped", "pass", f"{len(mine)} active token(s) of {', '.join(people)}: none is "
                    "admin, all expire", link)


def register(registry: Registry) -> None:
    registry.provide("roles_least_privilege", roles_least_privilege, title="Least-privilege roles are in use",
                     domain="auth", scope="organization")
    registry.provide("tokens_expire", tokens_expire, title="API tokens expire", domain="auth", scope="organization")
    registry.provide("use_case_tokens_scoped", use_case_tokens_scoped,
                     title="The use case's people act with scoped, expiring tokens", domain="auth")
