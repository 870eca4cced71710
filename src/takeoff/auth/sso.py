"""Single sign-on: started sign-ins (state, nonce, PKCE verifier, used once), users created or updated from a
validated ID token, and the admin's group-to-role mapping. Every sign-in and role change is audited."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.auth import oidc
from takeoff.auth import service as auth
from takeoff.auth.models import SsoGroupRole, SsoIdentity, SsoLoginState, User
from takeoff.auth.ssorules import groups_from, mapped_roles, next_roles, numbered, username_from
from takeoff.core.actor import Actor
from takeoff.core.config import Settings
from takeoff.core.db import utcnow
from takeoff.core.errors import Invalid
from takeoff.core.observability import SSO_LOGINS
from takeoff.core.permissions import validate_roles

STATE_TTL = timedelta(minutes=10)
STATE_KEEP = timedelta(days=1)  # used states are kept a day, so a replayed callback is named as such
SSO_ACTOR = Actor("sso", ("admin",), via="sso")  # creates users on their first sign-in
MAX_MAPPED_GROUPS = 500
MAX_PENDING = 10_000  # sign-ins started in the last STATE_TTL: the public start route cannot grow the table unbounded


class TooManySignIns(Exception):
    """More sign-ins are in progress than any real crowd starts (a 429 page)."""


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(session: Session, p: oidc.Provider, next_path: str) -> tuple[str, str]:
    """Record a new sign-in and return the provider's authorization URL and the state (the browser's cookie).

    The provider is asked first, so a provider that is down leaves nothing written."""
    now = utcnow()
    pending = session.scalar(select(func.count()).select_from(SsoLoginState)
                             .where(SsoLoginState.created_at > now - STATE_TTL, SsoLoginState.used_at.is_(None)))
    if (pending or 0) >= MAX_PENDING:
        raise TooManySignIns("too many sign-ins are in progress; try again in a few minutes")
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    url = oidc.authorization_url(p, state, nonce, verifier)
    session.execute(delete(SsoLoginState).where(SsoLoginState.created_at < now - STATE_KEEP))
    session.add(SsoLoginState(state_hash=_sha(state), nonce=nonce, code_verifier=verifier, next_path=next_path,
                              created_at=now))
    return url, state


def consume(session: Session, state: str, cookie_state: str) -> SsoLoginState:
    """The started sign-in the callback answers, marked used; LoginRefused when it is foreign, old or used."""
    if not state or not cookie_state or not hmac.compare_digest(state, cookie_state):
        raise oidc.LoginRefused("this sign-in was not started in this browser (or its cookie expired); start again")
    row = session.scalar(select(SsoLoginState).where(SsoLoginState.state_hash == _sha(state)))
    if row is None:
        raise oidc.LoginRefused("this sign-in is unknown or too old; start again")
    if row.used_at is not None:
        raise oidc.LoginRefused("this sign-in was already completed once (a replayed answer); start again")
    row.used_at = utcnow()
    if row.used_at - row.created_at > STATE_TTL:
        raise oidc.LoginRefused("this sign-in took too long; start again")
    return row


@dataclass(frozen=True)
class SignIn:
    """The outcome of a validated ID token: the user, and whether they may sign in (a role left)."""

    user: User
    allowed: bool
    reason: str = ""


def mapping(session: Session) -> dict[str, list[str]]:
    """The admin's group-to-roles mapping."""
    out: dict[str, list[str]] = {}
    for row in session.scalars(select(SsoGroupRole).order_by(SsoGroupRole.group_name, SsoGroupRole.id)):
        out.setdefault(row.group_name, []).append(row.role)
    return out


def set_mapping(session: Session, actor: Actor, new: dict[str, list[str]]) -> dict[str, list[str]]:
    """Replace the whole mapping (audited); a group with no roles is dropped. Invalid names the bad group or role."""
    if len(new) > MAX_MAPPED_GROUPS:
        raise Invalid(f"at most {MAX_MAPPED_GROUPS} groups may be mapped", details=[{"field": "mapping"}])
    clean: dict[str, list[str]] = {}
    for group, roles in new.items():
        if not isinstance(group, str) or not 0 < len(group.strip()) <= 255:
            raise Invalid("each group name must be 1-255 characters", details=[{"field": "mapping"}])
        if not roles:
            continue
        try:
            clean[group.strip()] = validate_roles(roles)
        except ValueError as exc:
            raise Invalid(f"group '{group}': {exc}", details=[{"field": f"mapping.{group}"}]) from None
    before = mapping(session)
    if before == clean:
        return clean
    session.execute(delete(SsoGroupRole))
    for group, roles in clean.items():
        session.add_all(SsoGroupRole(group_name=group, role=r) for r in roles)
    session.flush()
    audit.record(session, actor, "sso.mapping.set", "sso_mapping", "groups", {"mapping": before}, {"mapping": clean})
    return clean


def _free_username(session: Session, wanted: str) -> str:
    taken = set(session.scalars(select(User.username).where(User.username.like(wanted[:50] + "%"))))
    if wanted not in taken:
        return wanted
    n = 2
    while numbered(wanted, n) in taken:
        n += 1
    return numbered(wanted, n)


def sign_in(session: Session, settings: Settings, issuer: str, claims: dict[str, Any]) -> SignIn:
    """Create the user on the first sign-in or update a returning one's roles from the token's groups (audited)."""
    groups = groups_from(claims, settings.oidc_groups_claim)
    granted = mapped_roles(groups, mapping(session))
    subject = str(claims["sub"])[:255]  # the column's bound; compared the same way at every sign-in
    identity = session.scalar(select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject))
    display = claims.get("name") if isinstance(claims.get("name"), str) else ""
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    if identity is None:
        if not granted:
            raise oidc.LoginRefused("your account is in no group that an administrator mapped to a takeoff role "
                                    f"(groups claim '{settings.oidc_groups_claim}'); ask an administrator")
        username = _free_username(session, username_from(claims, settings.oidc_username_claim))
        user = auth.create_user(session, SSO_ACTOR, username, granted, None, display_name=str(display)[:200],
                                email=email[:320] if email else None)
        identity = SsoIdentity(user_id=user.id, issuer=issuer, subject=subject, groups=groups,
                               granted_roles=granted)
        session.add(identity)
    else:
        found = session.get(User, identity.user_id)
        assert found is not None
        user = found
        if not user.active:
            raise oidc.LoginRefused(f"the takeoff user '{user.username}' is deactivated")
        roles = next_roles(user.roles, identity.granted_roles, granted)
        if roles != list(user.roles):
            before = {"roles": list(user.roles), "groups": list(identity.groups)}
            user.roles = roles
            audit.record(session, SSO_ACTOR, "user.roles", "user", user.username, before,
                         {"roles": roles, "groups": groups, "via": "sso"})
        identity.groups, identity.granted_roles = groups, granted
    identity.last_login_at = utcnow()
    session.flush()
    allowed = bool(user.roles)
    audit.record(session, auth.actor_for_user(user, via="sso"), "sso.login" if allowed else "sso.login_refused",
                 "user", user.username, None, {"issuer": issuer, "subject": subject, "groups": groups,
                                               "roles": list(user.roles)})
    reason = "" if allowed else ("your account is no longer in any group mapped to a takeoff role; "
                                 "ask an administrator")
    return SignIn(user, allowed, reason)


def complete(session: Session, settings: Settings, p: oidc.Provider, state: str, cookie_state: str,
             code: str) -> tuple[SignIn, str]:
    """The callback: consume the started sign-in, exchange the code, validate the ID token, sign the user in."""
    try:
        row = consume(session, state, cookie_state)
        if not code:
            raise oidc.LoginRefused("the identity provider sent no authorization code")
        token = oidc.exchange_code(p, code, row.code_verifier)
        claims = oidc.validate_id_token(p, token["id_token"], row.nonce, token.get("access_token"))
        signed = sign_in(session, settings, p.issuer, claims)
    except oidc.LoginRefused:
        SSO_LOGINS.labels("refused").inc()
        raise
    except Exception:
        SSO_LOGINS.labels("error").inc()
        raise
    SSO_LOGINS.labels("ok" if signed.allowed else "no_role").inc()
    return signed, row.next_path
