"""Page rendering helpers shared by every domain's web.py: templates, the signed-in user, CSRF."""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.auth import service as auth
from takeoff.auth.models import WebSession
from takeoff.deps import DB, SESSION_COOKIE, Access, check_known, decision_access, declare
from takeoff.core.errors import AppError, Forbidden
from takeoff.web import filters

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
filters.install(TEMPLATES.env)
LOGIN_CSRF_COOKIE = "takeoff_login_csrf"

# (label, path): shown in the navigation when a route with that path is registered.
NAV: list[tuple[str, str]] = [
    ("Portfolio", "/usecases"),
    ("Governance", "/governance"),
    ("Catalog", "/catalog"),
    ("Eval sets", "/evalsets"),
    ("Releases", "/releases"),
    ("Telemetry", "/telemetry"),
    ("Requests", "/requests"),
    ("Review", "/review"),
    ("Monitoring", "/monitoring"),
    ("Incidents", "/incidents"),
    ("Findings", "/findings"),
    ("Data", "/datasources"),
    ("Outcomes", "/outcomes"),
    ("Readiness", "/readiness"),
    ("Reports", "/reports"),
    ("Audit", "/audit"),
    ("Admin", "/admin/users"),
]
# The navigation's menus (so it stays on one line at 1440 px): a path not listed here shows under "More".
NAV_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Portfolio", ("/usecases", "/readiness", "/outcomes", "/reports")),
    ("Ship", ("/evalsets", "/releases", "/catalog")),
    ("Operate", ("/telemetry", "/monitoring", "/incidents", "/datasources")),
    ("Govern", ("/governance", "/findings", "/audit")),
    ("Admin", ("/admin/users",)),
]


class LoginRequired(AppError):
    """Raised by pages when nobody is signed in; rendered as a redirect to /login."""

    status, code = 401, "login_required"


@dataclass
class Page:
    """The signed-in user of a page request, with their session's CSRF token."""

    actor: Actor
    csrf: str
    session: Session
    request: Request

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render a template with the layout's context (user, nav, CSRF)."""
        return render(self.request, template, status_code=status_code, actor=self.actor, csrf=self.csrf, **context)

    def check_csrf(self, token: str | None) -> None:
        """Refuse a form whose CSRF token is missing or wrong (403)."""
        if not token or not hmac.compare_digest(token, self.csrf):
            raise Forbidden("the form's CSRF token is missing or wrong; reload the page and try again", code="csrf")


def _page(request: Request, session: DB) -> Page:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = auth.resolve_session(session, cookie) if cookie else None
    if found is None:
        raise LoginRequired("please sign in")
    ws, user = found
    return Page(auth.actor_for_user(user), ws.csrf_token, session, request)


CurrentPage = Annotated[Page, Depends(_page)]  # for helpers; a route declares what it requires with PageFor/PageDecides


def PageFor(*permissions: str, to: str | None = None) -> type[Page]:  # reads as a type in signatures
    """`page: PageFor("read")` in a page route: the signed-in user, 403 naming the permission when they lack it.

    No permission: any signed-in user; several: any one of them will do (`to` names the action in the 403)."""
    for p in permissions:
        check_known(p)
    if len(permissions) > 1 and not to:
        raise ValueError("say what the permissions allow: PageFor(..., to='attest')")

    def dep(page: CurrentPage) -> Page:
        if len(permissions) == 1:
            page.actor.require(permissions[0])
        elif permissions:
            page.actor.require_any(permissions, to or "")
        return page

    return Annotated[Page, Depends(declare(dep, Access(tuple(permissions))))]  # type: ignore[return-value]


def PageDecides(decision: str, when: Mapping[str, Iterable[str]] | None = None) -> type[Page]:
    """`page: PageDecides("ship_to_production", when={"to": ["production"]})` on a form that takes a decision: checks
    the decision's permission here; the decision right itself is checked by the service the form calls (each of them
    does: releases.promote, portfolio.transition, governance.override_tier, incidents.update/resolve), so a refusal
    is shown on the form's page like any other refusal of the action."""
    access = decision_access(decision, when)

    def dep(page: CurrentPage) -> Page:
        page.actor.require(access.permissions[0])
        return page

    return Annotated[Page, Depends(declare(dep, access))]  # type: ignore[return-value]


def nav_items(request: Request) -> list[tuple[str, str]]:
    """Navigation entries whose page exists in this build."""
    paths = getattr(request.app.state, "page_paths", set())
    return [(label, path) for label, path in NAV if path in paths]


def nav_groups(items: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The navigation entries in their menus, in NAV_GROUPS order; entries of no group go under "More"."""
    by_path = dict((p, (label, p)) for label, p in items)
    grouped = {p for _, paths in NAV_GROUPS for p in paths}
    out = [(g, [by_path[p] for p in paths if p in by_path]) for g, paths in NAV_GROUPS]
    more = [(label, p) for label, p in items if p not in grouped]
    return [(g, entries) for g, entries in out + [("More", more)] if entries]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the base layout's variables."""
    context.setdefault("actor", None)
    context.setdefault("csrf", "")
    return TEMPLATES.TemplateResponse(request, template, {"nav": (nav := nav_items(request)),
                                                          "nav_groups": nav_groups(nav), "path": request.url.path,
                                                          **context}, status_code=status_code)


def new_login_csrf() -> str:
    """A fresh double-submit token for the login form."""
    return secrets.token_urlsafe(24)


def session_csrf(ws: WebSession) -> str:
    """The CSRF token of a browser session."""
    return ws.csrf_token
