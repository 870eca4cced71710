"""Auth operations: users, password checks, API tokens, browser sessions."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.auth.models import ApiToken, User, WebSession
from takeoff.core.permissions import validate_roles
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("takeoff-dummy-password")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN_PREFIX = "tko_"
BAD_LOGIN = "invalid username or password"
BAD_TOKEN = "missing, invalid, expired or revoked API token"
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def user_view(user: User) -> dict[str, object]:
    """The public fields of a user (never the password hash)."""
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "email": user.email,
            "roles": list(user.roles), "active": user.active, "created_at": user.created_at.isoformat()}


def create_user(session: Session, actor: Actor, username: str, roles: list[str], password: str | None = None,
                display_name: str = "", email: str | None = None) -> User:
    """Create a user; ValueError-free: bad input raises Invalid, a taken name Conflict."""
    if not USERNAME_RE.match(username or ""):
        raise Invalid("username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'",
                      details=[{"field": "username"}])
    try:
        roles = validate_roles(roles)
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "roles"}]) from None
    if password is not None and len(password) < 8:
        raise Invalid("password must be at least 8 characters", details=[{"field": "password"}])
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user '{username}' already exists")
    user = User(username=username, roles=roles, display_name=display_name or username, email=email,
                password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.username, None, user_view(user))
    return user


def get_user(session: Session, username: str) -> User:
    """The user by name, or 404."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user '{username}' not found")
    return user


def list_users(session: Session) -> list[User]:
    """All users by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def set_password(session: Session, actor: Actor, username: str, password: str) -> None:
    """Replace a user's password."""
    if len(password) < 8:
        raise Invalid("password must be at least 8 characters", details=[{"field": "password"}])
    user = get_user(session, username)
    user.password_hash = _hasher.hash(password)
    audit.record(session, actor, "user.set_password", "user", username, None, {"password": "changed"})


def authenticate(session: Session, username: str, password: str) -> User:
    """The user if the password matches; one message whether or not the user exists (401)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        if user is None or not user.active or not user.password_hash:
            _hasher.verify(_DUMMY_HASH, password + "x")  # same cost either way
            raise Unauthorized(BAD_LOGIN)
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized(BAD_LOGIN) from None
    return user


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the secret is only ever available here."""

    token: str
    record: ApiToken


def token_view(t: ApiToken, username: str | None = None) -> dict[str, object]:
    """The public fields of a token (never the secret or its hash)."""
    now = utcnow()
    state = "revoked" if t.revoked_at else ("expired" if t.expires_at and t.expires_at <= now else "active")
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "user": username, "roles": list(t.roles), "state": state,
            "created_at": t.created_at.isoformat(), "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}


def create_token(session: Session, actor: Actor, username: str, name: str, expires_days: int | None = None,
                 roles: list[str] | None = None) -> NewToken:
    """Create an API token for a user; only admins may create tokens for someone else."""
    if actor.username != username and not actor.can("user.admin"):
        raise Forbidden("permission 'user.admin' is required to create tokens for another user", code="permission_denied")
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise Invalid("token name must be 1-100 characters", details=[{"field": "name"}])
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise Invalid("expires_days must be between 1 and 3650", details=[{"field": "expires_days"}])
    user = get_user(session, username)
    if not user.active:
        raise Conflict(f"user '{username}' is deactivated")
    scoped = list(user.roles)
    if roles:
        try:
            roles = validate_roles(roles)
        except ValueError as exc:
            raise Invalid(str(exc), details=[{"field": "roles"}]) from None
        missing = [r for r in roles if r not in user.roles]
        if missing:
            raise Invalid(f"user '{username}' does not hold role(s) {', '.join(missing)}", details=[{"field": "roles"}])
        scoped = roles
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, name=name, token_hash=_sha(secret), prefix=secret[:10], roles=scoped,
                      expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None)
    session.add(record)
    session.flush()
    audit.record(session, actor, "token.create", "api_token", record.id, None, token_view(record, username))
    return NewToken(secret, record)


def list_tokens(session: Session, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens with their user's name, newest first; all users when username is None."""
    q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    if username:
        q = q.where(User.username == username)
    return [(t, u) for t, u in session.execute(q).all()]


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token; owners may revoke their own, admins any."""
    row = session.execute(select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.id == token_id)).first()
    if row is None:
        raise NotFound(f"token {token_id} not found")
    token, owner = row
    if owner != actor.username and not actor.can("user.admin"):
        raise Forbidden("permission 'user.admin' is required to revoke another user's token", code="permission_denied")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked")
    before = token_view(token, owner)
    token.revoked_at = utcnow()
    audit.record(session, actor, "token.revoke", "api_token", token.id, before, token_view(token, owner))
    return token


def actor_for_token(session: Session, secret: str) -> Actor:
    """The actor a bearer token stands for, or 401; records last use at most once a minute."""
    actor, due = lookup_token(session, secret)
    if due:
        touch_token(session, actor.token_id)
    return actor


def lookup_token(session: Session, secret: str) -> tuple[Actor, bool]:
    """The actor a bearer token stands for, and whether its last use is due to be recorded (reads only), or 401.

    Reads only, so callers can run it on a lock-free read session (SQLite: no write lock held while a request is
    parsed) and write `touch_token` only when it is due, about once a minute per token."""
    if not secret.startswith(TOKEN_PREFIX):
        raise Unauthorized(BAD_TOKEN)
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _sha(secret))).first()
    now = utcnow()
    if row is None:
        raise Unauthorized(BAD_TOKEN)
    token, user = row
    if token.revoked_at or (token.expires_at and token.expires_at <= now) or not user.active:
        raise Unauthorized(BAD_TOKEN)
    due = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    roles = tuple(r for r in token.roles if r in user.roles)
    return Actor(username=user.username, roles=roles, user_id=user.id, via="token", token_id=token.id), due


def touch_token(session: Session, token_id: int | None) -> None:
    """Record that a token was used now."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


def actor_for_user(user: User, via: str = "session") -> Actor:
    """The actor for a signed-in user."""
    return Actor(username=user.username, roles=tuple(user.roles), user_id=user.id, via=via)


def create_session(session: Session, user: User, hours: int) -> tuple[str, WebSession]:
    """Start a browser session; returns the cookie value (shown once) and the row."""
    cookie = secrets.token_urlsafe(32)
    ws = WebSession(session_hash=_sha(cookie), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                    expires_at=utcnow() + timedelta(hours=hours))
    session.add(ws)
    session.flush()
    return cookie, ws


def resolve_session(session: Session, cookie: str) -> tuple[WebSession, User] | None:
    """The live session and its user for a cookie value, or None."""
    row = session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                          .where(WebSession.session_hash == _sha(cookie))).first()
    if row is None:
        return None
    ws, user = row
    if ws.expires_at <= utcnow() or not user.active:
        return None
    return ws, user


def end_session(session: Session, cookie: str) -> None:
    """Log out: delete the session row."""
    ws = session.scalar(select(WebSession).where(WebSession.session_hash == _sha(cookie)))
    if ws is not None:
        session.delete(ws)


def ensure_admin(session: Session, password: str | None) -> str | None:
    """Create the first admin when no user exists; returns the generated password when one was made."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    create_user(session, Actor("system", ("admin",)), "admin", ["admin"], password=password, display_name="Administrator")
    return generated
