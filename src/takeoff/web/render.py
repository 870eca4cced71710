"""Page rendering helpers shared by every domain's web.py: templates, the signed-in user, CSRF."""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.auth import service as auth
from takeoff.auth.models import WebSession
from takeoff.deps import DB, SESSION_COOKIE
from takeoff.core.errors import AppError, Forbidden

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
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

    def require(self, permission: str) -> None:
        """403 naming the permission when the user lacks it."""
        self.actor.require(permission)


def _page(request: Request, session: DB) -> Page:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = auth.resolve_session(session, cookie) if cookie else None
    if found is None:
        raise LoginRequired("please sign in")
    ws, user = found
    return Page(auth.actor_for_user(user), ws.csrf_token, session, request)


CurrentPage = Annotated[Page, Depends(_page)]


def nav_items(request: Request) -> list[tuple[str, str]]:
    """Navigation entries whose page exists in this build."""
    paths = getattr(request.app.state, "page_paths", set())
    return [(label, path) for label, path in NAV if path in paths]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the base layout's variables."""
    context.setdefault("actor", None)
    context.setdefault("csrf", "")
    return TEMPLATES.TemplateResponse(request, template, {"nav": nav_items(request), "path": request.url.path,
                                                          **context}, status_code=status_code)


def new_login_csrf() -> str:
    """A fresh double-submit token for the login form."""
    return secrets.token_urlsafe(24)


def session_csrf(ws: WebSession) -> str:
    """The CSRF token of a browser session."""
    return ws.csrf_token
