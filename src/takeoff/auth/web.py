"""Single sign-on pages: start an OpenID Connect sign-in, and the provider's callback.

Both routes are PUBLIC (no session, no token: the browser is signing in). What protects them: the state (random,
stored hashed, bound to this browser by a cookie, used once, ten minutes), the nonce in the ID token, the PKCE
verifier, and the token's signature, issuer, audience and expiry (auth/oidc.py). A provider that is down or an
answer that does not prove who signed in is a page that says so (503 or 401), never a 500.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takeoff.auth import oidc, sso
from takeoff.auth import service as auth
from takeoff.deps import DB, SESSION_COOKIE, public
from takeoff.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("takeoff.sso")
STATE_COOKIE = "takeoff_sso_state"


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") and len(target) <= 500 else "/"


def _problem(request: Request, status: int, message: str) -> HTMLResponse:
    title = "Single sign-on is unavailable" if status == 503 else "Single sign-on did not sign you in"
    resp = render(request, "error.html", status_code=status, status=status, title=title,
                  message=f"{message}.")
    resp.delete_cookie(STATE_COOKIE, path="/auth/oidc")
    return resp


def _provider(request: Request) -> oidc.Provider | None:
    settings = request.app.state.settings
    return oidc.provider_from(settings, str(request.base_url)) if settings.sso_enabled else None


@router.get("/auth/oidc/login", response_class=HTMLResponse)
@public("single sign-on: starts the identity provider's sign-in (state, nonce and PKCE bound to this browser)")
def sso_start(request: Request, session: DB, next: str | None = None) -> Response:
    """PUBLIC. Send the browser to the identity provider (a state cookie binds the answer to this browser)."""
    p = _provider(request)
    if p is None:
        return _problem(request, 404, "single sign-on is not configured on this server")
    try:
        url, state = sso.start(session, p, _safe_next(next))
    except oidc.ProviderUnavailable as exc:
        log.warning("SSO sign-in could not start: %s", exc)
        return _problem(request, 503, f"{exc}; try again later, or ask an administrator")
    except sso.TooManySignIns as exc:
        log.warning("SSO sign-in refused: %s", exc)
        return _problem(request, 429, str(exc))
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(STATE_COOKIE, state, max_age=int(sso.STATE_TTL.total_seconds()), path="/auth/oidc",
                    httponly=True, samesite="lax", secure=request.app.state.settings.cookie_secure)
    return resp


@router.get("/auth/oidc/callback", response_class=HTMLResponse)
@public("single sign-on: the identity provider's answer, checked against the state this browser holds")
def sso_callback(request: Request, session: DB, state: str = "", code: str = "", error: str = "",
                 iss: str = "") -> Response:
    """PUBLIC. The provider's answer: validate it, create or update the user, start a browser session."""
    p = _provider(request)
    if p is None:
        return _problem(request, 404, "single sign-on is not configured on this server")
    settings = request.app.state.settings
    if error:
        # The provider's own error code (access_denied, login_required...), never its free text.
        return _problem(request, 401, f"the identity provider answered '{error[:64]}'")
    if iss and iss != p.issuer:  # RFC 9207: an answer from another provider (mix-up attack)
        return _problem(request, 401, "the answer comes from another identity provider than the configured one")
    try:
        result, next_path = sso.complete(session, settings, p, state, request.cookies.get(STATE_COOKIE, ""), code)
    except oidc.ProviderUnavailable as exc:
        log.warning("SSO sign-in failed: %s", exc)
        return _problem(request, 503, f"{exc}; try again later, or ask an administrator")
    except oidc.LoginRefused as exc:
        log.info("SSO sign-in refused: %s", exc)
        return _problem(request, 401, str(exc))
    if not result.allowed:
        return _problem(request, 403, result.reason)
    cookie, _ = auth.create_session(session, result.user, settings.session_hours)
    resp = RedirectResponse(_safe_next(next_path), status_code=303)
    resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=settings.cookie_secure,
                    max_age=settings.session_hours * 3600)
    resp.delete_cookie(STATE_COOKIE, path="/auth/oidc")
    return resp
