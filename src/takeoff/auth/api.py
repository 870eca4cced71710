"""Auth HTTP API: the caller, users, API tokens."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from takeoff.auth import service
from takeoff.core.permissions import permissions_for
from takeoff.auth.schemas import TokenCreate, UserCreate
from takeoff.deps import DB, Allowed, SignedIn
from takeoff.core.types import Id

router = APIRouter(tags=["auth"])


@router.get("/me")
def me(actor: SignedIn) -> dict[str, Any]:
    """Who the caller is, with roles and effective permissions."""
    return {"username": actor.username, "roles": list(actor.roles), "via": actor.via,
            "permissions": sorted(permissions_for(actor.roles))}


@router.get("/users")
def list_users(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Every user (no password hashes)."""
    return {"items": [service.user_view(u) for u in service.list_users(session)]}


@router.post("/users", status_code=201)
def create_user(body: UserCreate, session: DB, actor: Allowed("user.admin")) -> dict[str, Any]:
    """Create a user with roles."""
    user = service.create_user(session, actor, body.username, body.roles, body.password, body.display_name, body.email)
    return service.user_view(user)


@router.get("/tokens")
def list_tokens(session: DB, actor: Allowed("token.self")) -> dict[str, Any]:
    """The caller's tokens; admins see all."""
    rows = service.list_tokens(session, None if actor.can("user.admin") else actor.username)
    return {"items": [service.token_view(t, u) for t, u in rows]}


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, session: DB, actor: Allowed("token.self")) -> dict[str, Any]:
    """Create a token; the secret is in this answer only."""
    new = service.create_token(session, actor, body.user or actor.username, body.name, body.expires_days, body.roles)
    return {**service.token_view(new.record, body.user or actor.username), "token": new.token}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, session: DB, actor: Allowed("token.self")) -> dict[str, Any]:
    """Revoke a token."""
    service.revoke_token(session, actor, token_id)
    return {"revoked": token_id}
