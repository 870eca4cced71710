"""Every route of the real app declares who may call it, at the route; docs/permissions.md is that list.

A route declares a permission (`Allowed`, `AllowedAny`, `Decides`, `SignedIn` in takeoff.deps; `PageFor`,
`PageDecides` in takeoff.web.render) or is marked `@public(...)`; each carries an `Access`. A route with none, or with
two, fails here. After adding or changing a route, regenerate the table:
`TAKEOFF_WRITE_PERMISSIONS_DOC=1 pytest tests/foundation/test_route_permissions.py`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts

from takeoff.deps import Access, Allowed, CurrentActor, public, route_access

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
HEAD = """# Who may call each route

Generated from the app's routes by `tests/foundation/test_route_permissions.py` (which fails when this file is out of
date or a route declares nothing): `TAKEOFF_WRITE_PERMISSIONS_DOC=1 pytest tests/foundation/test_route_permissions.py`.
How a route declares it: docs/contributing.md, "Authorization". Roles to permissions: `takeoff/core/permissions.py`;
decision rights: `takeoff/governance/decisions.py`. A decision "when to=production" applies when the body (or form)
field has that value; decision rights that depend on stored state (a risk tier other than the suggestion) are checked
by the service.
"""


def _fastapi(app: Any) -> FastAPI:
    while not isinstance(app, FastAPI):  # the ASGI wrappers keep the app as .app
        app = app.app
    return app


def table(app: Any) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(method(s), path, what it requires) for every route, and the routes that declare none or several."""
    rows, problems = [], []
    for route in iter_route_contexts(_fastapi(app).routes):
        methods = ",".join(sorted(set(route.methods or {"*"}) - {"HEAD"})) or "*"
        found = route_access(route)
        if len(found) != 1:
            problems.append(f"{methods} {route.path}: " + (" and ".join(a.label() for a in found) or "declares nothing"))
            continue
        rows.append((methods, route.path, found[0].label()))
    return sorted(rows, key=lambda r: (r[1], r[0])), problems


def markdown(rows: list[tuple[str, str, str]]) -> str:
    """The table as docs/permissions.md holds it: API routes, then pages and the rest."""
    def section(title: str, part: list[tuple[str, str, str]]) -> str:
        lines = [f"## {title} ({len(part)})", "", "| Method | Path | Requires |", "|---|---|---|"]
        lines += [f"| {m} | `{p}` | {r} |" for m, p, r in part]
        return "\n".join(lines) + "\n"

    api = [r for r in rows if r[1].startswith("/api/v1/")]
    rest = [r for r in rows if not r[1].startswith("/api/v1/")]
    return HEAD + "\n" + section("API under /api/v1", api) + "\n" + section("Pages, forms, probes and the rest", rest)


@pytest.mark.one_backend
def test_every_route_declares_who_may_call_it(app):
    rows, problems = table(app)
    assert not problems, "routes must declare their permission at the route (deps.Allowed/Decides/SignedIn, " \
                         "web.render.PageFor/PageDecides) or be marked @public(...):\n" + "\n".join(problems)
    assert len(rows) > 200  # the whole app, API and pages
    expected = markdown(rows)
    if os.environ.get("TAKEOFF_WRITE_PERMISSIONS_DOC"):
        DOC.write_text(expected)
    assert DOC.read_text() == expected, "docs/permissions.md is out of date: regenerate it (see this module's doc)"


@pytest.mark.one_backend
def test_the_table_shows_permissions_decisions_and_public_routes(app):
    by_route = {(m, p): r for m, p, r in table(app)[0]}
    assert by_route[("POST", "/api/v1/releases/{release_id}/promote")] == \
        "release.promote + decision ship_to_production (when to=production)"
    assert by_route[("POST", "/releases/{release_id}/promote")] == \
        "release.promote + decision ship_to_production (when to=production)"
    assert by_route[("POST", "/api/v1/releases/{release_id}/attest")] == "release.create or release.approve"
    assert by_route[("GET", "/api/v1/me")] == "any signed-in user"
    assert by_route[("GET", "/healthz")].startswith("public (")
    assert by_route[("*", "/static")] == "public (static assets)"
    assert by_route[("GET", "/audit")] == "audit.read"


def test_an_undeclared_route_is_reported():
    router = APIRouter()

    @router.get("/open")
    def undeclared(actor: CurrentActor) -> None: ...

    @router.get("/fine")
    def declared(actor: Allowed("read")) -> None: ...

    @router.get("/twice")
    @public("says both")
    def twice(actor: Allowed("read")) -> None: ...

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router, prefix="/api/v1")
    rows, problems = table(app)
    assert rows == [("GET", "/api/v1/fine", "read")]
    assert problems == ["GET /api/v1/open: declares nothing",
                        "GET /api/v1/twice: public (says both) and read"]


def test_declarations_refuse_typos_and_unexplained_public_routes():
    with pytest.raises(KeyError, match="release.promot"):
        Allowed("release.promot")
    with pytest.raises(ValueError):
        public(" ")


def test_access_reads_the_declared_dependency():
    declared = Allowed("incident.write").__metadata__[0].dependency  # type: ignore[attr-defined]
    assert declared.permission == "incident.write" and declared.decision is None
    assert isinstance(declared.access, Access)
