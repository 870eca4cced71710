"""Auth HTTP API: the caller, users, API tokens."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from takeoff.auth import service, sso
from takeoff.core.permissions import permissions_for
from takeoff.auth.schemas import SsoMapping, TokenCreate, UserCreate
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


@router.get("/sso")
def sso_settings(request: Request, session: DB, actor: Allowed("user.admin")) -> dict[str, Any]:
    """Single sign-on as this server runs it (never the client secret) and the group-to-roles mapping."""
    s = request.app.state.settings
    return {"enabled": s.sso_enabled, "issuer": s.oidc_issuer, "client_id": s.oidc_client_id,
            "client_secret_set": bool(s.oidc_client_secret and s.oidc_client_secret.get_secret_value()),
            "groups_claim": s.oidc_groups_claim,
            "username_claim": s.oidc_username_claim, "local_login": s.local_login,
            "break_glass_users": sorted(s.break_glass_names), "mapping": sso.mapping(session)}


@router.put("/sso/mapping")
def sso_set_mapping(body: SsoMapping, session: DB, actor: Allowed("user.admin")) -> dict[str, Any]:
    """Replace the group-to-roles mapping (applied at each user's next SSO sign-in; audited)."""
    return {"mapping": sso.set_mapping(session, actor, body.mapping)}
