"""Shell pages: login and logout, home, users and tokens administration, the audit log."""
from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takeoff.audit import service as audit
from takeoff.auth import service as auth
from takeoff.auth import throttle
from takeoff.core.permissions import ROLES
from takeoff.deps import DB, SESSION_COOKIE, public
from takeoff.core.errors import AppError, NotFound, RateLimited, Unauthorized
from takeoff.ratelimit import request_address
from takeoff.web import home as command_center
from takeoff.web.render import LOGIN_CSRF_COOKIE, TEMPLATES, PageFor, new_login_csrf, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _login_page(request: Request, **context: Any) -> HTMLResponse:
    """The sign-in page, with the single sign-on button and the password form as the settings allow."""
    settings = request.app.state.settings
    return render(request, "login.html", sso_name=settings.oidc_provider_name if settings.sso_enabled else None,
                  break_glass=settings.local_login == "break_glass", **context)


@router.get("/login", response_class=HTMLResponse)
@public("the sign-in form")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form, with a double-submit CSRF token."""
    token = new_login_csrf()
    resp = _login_page(request, csrf=token, next=_safe_next(next), error=None)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=request.app.state.settings.cookie_secure)
    return resp


@router.post("/login", response_class=HTMLResponse)
@public("signing in: password, throttled, double-submit CSRF")
def login(request: Request, session: DB, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    """Check the password and start a session; one message whether or not the user exists."""
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not hmac.compare_digest(csrf_token, cookie_token):
        return _login_page(request, status_code=403, csrf=cookie_token or new_login_csrf(), next=next,
                           error="The form expired; please sign in again.")
    settings = request.app.state.settings
    if settings.local_login == "break_glass" and username.strip() not in settings.break_glass_names:
        return _login_page(request, status_code=401, csrf=cookie_token, next=next,
                           error=f"Password sign-in is switched off; sign in with {settings.oidc_provider_name}.")
    try:
        user = throttle.sign_in(session, settings, username.strip(), password, request_address(request))
    except Unauthorized as exc:
        return _login_page(request, status_code=401, csrf=cookie_token, next=next, error=exc.message)
    except RateLimited as exc:  # returned, not raised: the failure just counted must commit
        page = _login_page(request, status_code=429, csrf=cookie_token, next=next,
                           error=f"Too many failed sign-in attempts. Try again in {exc.retry_after} second"
                                 f"{'' if exc.retry_after == 1 else 's'}.")
        page.headers.update(exc.headers)
        return page
    cookie, _ = auth.create_session(session, user, settings.session_hours)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=settings.cookie_secure,
                    max_age=settings.session_hours * 3600)
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


@router.post("/logout")
def logout(page: PageFor(), request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the session."""
    page.check_csrf(csrf_token)
    auth.end_session(page.session, request.cookies.get(SESSION_COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


# Where an audited object is shown, by its type (the home page's "what changed" links to it).
OBJECT_LINKS = {"use_case": "/usecases/{}", "release": "/releases/{}", "incident": "/incidents/{}",
                "data_source": "/datasources/{}", "eval_set": "/evalsets/{}", "quarterly_review": "/outcomes/reviews/{}",
                "audit_finding": "/findings", "alert": "/monitoring", "alert_rule": "/monitoring",
                "notification_channel": "/monitoring", "catalog_model": "/catalog", "tier_policy": "/governance",
                "framework": "/governance", "organization": "/governance", "api_token": "/tokens"}


def object_link(object_type: str, object_id: str) -> str:
    """The page showing an audited object, or the audit log filtered to it."""
    pattern = OBJECT_LINKS.get(object_type)
    if pattern is None:
        return f"/audit?object_type={object_type}"
    return pattern.format(object_id) if "{}" in pattern else pattern


@router.get("/", response_class=HTMLResponse)
def home(page: PageFor("read")) -> Response:
    """The command center: the portfolio's recommendation, what changed this week, and every use case's status."""
    view = command_center.home_view(page.session)
    return page.render("home.html", **view, object_link=object_link, can_audit=page.actor.can("audit.read"))


@router.get("/home/readiness", response_class=HTMLResponse)
def home_readiness(page: PageFor("read")) -> Response:
    """htmx fragment: each use case's readiness verdict with its blocking items and its lowest SLO budget left,
    swapped into the home page's rows (out of band) after the page shows."""
    return page.render("home_readiness.html", rows=command_center.readiness_view(page.session))


@router.get("/home/usecase/{key}", response_class=HTMLResponse)
def usecase_glance(key: str, page: PageFor("read")) -> Response:
    """htmx fragment at the top of a use-case page: its command-center line (readiness, releases, SLO budget, what is
    on fire, drift, data SLA, cost and requests, next action), each linking to its evidence."""
    view = command_center.glance(page.session, key)
    if view is None:
        raise NotFound(f"use case '{key}' not found")
    return page.render("home_glance.html", **view)


SWAGGER_FILES = ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css")


@router.get("/api/docs", response_class=HTMLResponse)
@public("the API explorer: a static page that reads /openapi.json")
def api_docs(request: Request) -> Response:
    """The API explorer: Swagger UI served from /static/vendor (the pinned npm package), so it works offline and
    under the same script policy as every page (its start-up is /static/api-docs.js, not an inline script)."""
    vendor = Path(__file__).parent / "static" / "vendor"
    missing = next((f for f in SWAGGER_FILES if not (vendor / f).is_file()), None)
    return TEMPLATES.TemplateResponse(request, "api_docs.html", {"missing": missing},
                                      status_code=503 if missing else 200)


@router.get("/home/slo", response_class=HTMLResponse)
def home_slo(page: PageFor("read")) -> Response:
    """htmx fragment: each use case's lowest SLO error budget left, swapped into the home page's rows."""
    return page.render("home_slo.html", budgets=command_center.budgets(page.session))


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(page: PageFor("read")) -> Response:
    """Users and their roles."""
    return page.render("admin/users.html", users=auth.list_users(page.session), roles=ROLES, error=None)


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(page: PageFor("user.admin"), username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                 roles: Annotated[list[str] | None, Form()] = None, display_name: Annotated[str, Form()] = "",
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    """Create a user from the admin form."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            auth.create_user(page.session, page.actor, username.strip(), roles or [], password or None, display_name)
    except AppError as exc:
        return page.render("admin/users.html", status_code=exc.status, users=auth.list_users(page.session),
                           roles=ROLES, error=exc.message)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(page: PageFor("token.self")) -> Response:
    """The caller's API tokens (all tokens for admins)."""
    rows = auth.list_tokens(page.session, None if page.actor.can("user.admin") else page.actor.username)
    return page.render("tokens.html", tokens=[auth.token_view(t, u) for t, u in rows], new_token=None, error=None)


@router.post("/tokens", response_class=HTMLResponse)
def tokens_create(page: PageFor("token.self"), name: Annotated[str, Form()] = "", expires_days: Annotated[str, Form()] = "",
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    """Create a token for the caller and show it once."""
    page.check_csrf(csrf_token)
    new_token, error, status = None, None, 200
    try:
        days = int(expires_days) if expires_days.strip() else None
        with page.session.begin_nested():
            new_token = auth.create_token(page.session, page.actor, page.actor.username, name, days).token
    except ValueError:
        error, status = "expiry must be a whole number of days", 422
    except AppError as exc:
        error, status = exc.message, exc.status
    rows = auth.list_tokens(page.session, None if page.actor.can("user.admin") else page.actor.username)
    return page.render("tokens.html", status_code=status, tokens=[auth.token_view(t, u) for t, u in rows],
                       new_token=new_token, error=error)


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(token_id: int, page: PageFor("token.self"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Revoke a token from the list."""
    page.check_csrf(csrf_token)
    auth.revoke_token(page.session, page.actor, token_id)
    return RedirectResponse("/tokens", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(page: PageFor("audit.read"), actor: str | None = None, action: str | None = None,
               object_type: str | None = None, offset: int = Query(0, ge=0)) -> Response:
    """The audit log, filterable, 50 entries a page, with the chain's verification."""
    rows, total = audit.list_entries(page.session, actor=actor or None, action=action or None,
                                     object_type=object_type or None, limit=50, offset=offset)
    return page.render("audit.html", entries=rows, total=total, offset=offset,
                       filters={"actor": actor or "", "action": action or "", "object_type": object_type or ""})


@router.get("/audit/verify", response_class=HTMLResponse)
def audit_verify_fragment(page: PageFor("audit.read")) -> Response:
    """htmx fragment: recompute the hash chain on demand (it reads every entry)."""
    count, problem = audit.verify_chain(page.session)
    return page.render("audit_verify.html", count=count, problem=problem)
