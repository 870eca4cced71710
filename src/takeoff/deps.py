"""FastAPI dependencies shared by every router: the request's session, its authenticated actor, and what each route
requires of that actor (declared at the route, readable by tests)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.auth import service as auth
from takeoff.auth import throttle
from takeoff.core.db import read_session
from takeoff.core.errors import Unauthorized
from takeoff.core.permissions import PERMISSIONS
from takeoff.governance import decisions
from takeoff.ratelimit import request_address

SESSION_COOKIE = "takeoff_session"
_F = TypeVar("_F")


def _db(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (so a 2xx means durable)."""
    session: Session = request.app.state.factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DB = Annotated[Session, Depends(_db, scope="function")]


def _actor(request: Request, session: DB) -> Actor:
    """The caller: a bearer token, else a browser session cookie, else 401."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return _bearer(request, session, secret.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = auth.resolve_session(session, cookie)
        if found is not None:
            ws, user = found
            # Cookie-authenticated writes must carry the session's CSRF token.
            if request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get("x-csrf-token") != ws.csrf_token:
                raise Unauthorized("missing or wrong CSRF token", code="csrf")
            return auth.actor_for_user(user)
    raise Unauthorized(auth.BAD_TOKEN)


def _bearer(request: Request, session: Session, secret: str) -> Actor:
    """The token's actor; an address that sent too many bad tokens waits (429), and each token is rate limited."""
    settings = request.app.state.settings
    address = request_address(request)
    engine = request.app.state.engine
    # SQLite: a WAL snapshot, no write lock held while the request is parsed; PostgreSQL reads take no lock that
    # matters, so spare a connection checkout.
    reads = read_session(engine) if engine.dialect.name == "sqlite" else nullcontext(session)
    with reads as reader:
        throttle.check_token_address(reader, settings, address)
        try:
            actor, due = auth.lookup_token(reader, secret)
        except Unauthorized:
            actor = None
    if actor is None:
        locked = throttle.token_failed(request.app.state.factory, settings, address)
        raise locked or Unauthorized(auth.BAD_TOKEN)
    if due:
        auth.touch_token(session, actor.token_id)
    request.app.state.limits.check_request(actor, request.url.path)
    return actor


CurrentActor = Annotated[Actor, Depends(_actor)]


# --- what each route requires, declared at the route ---------------------------------------------------------
# Every route says who may call it in its signature (`Allowed`, `AllowedAny`, `Decides`, `SignedIn`; pages use the
# `PageFor`/`PageDecides` of takeoff.web.render) or is marked `@public(...)`. Each of those dependencies carries an
# `Access` (`.access`, with `.permission` and `.decision`), so tests/foundation/test_route_permissions.py lists every
# route of the app with what it requires and fails on a route that declares nothing.


@dataclass(frozen=True)
class Access:
    """Who may call a route: one permission (or any of several), a decision right, any signed-in user, or anyone."""

    permissions: tuple[str, ...] = ()  # empty: any authenticated caller (unless public)
    decision: str | None = None
    when: Mapping[str, frozenset[str]] | None = None  # the decision applies only when a body field has one of these
    public: str | None = None  # why anyone may call it (no authentication)

    @property
    def permission(self) -> str | None:
        """The one permission required ("a or b" when any of several will do), None for signed-in or public."""
        return " or ".join(self.permissions) or None

    def label(self) -> str:
        """One readable line: `release.promote + decision ship_to_production (when to=production)`."""
        if self.public is not None:
            return f"public ({self.public})"
        text = self.permission or "any signed-in user"
        if self.decision:
            text += f" + decision {self.decision}"
            if self.when:
                text += " (when " + ", ".join(f"{k}={' or '.join(sorted(v))}" for k, v in self.when.items()) + ")"
        return text


def declare(fn: _F, access: Access) -> _F:
    """Attach a route's requirement to the dependency (or endpoint, or ASGI app) that states it."""
    fn.access = access  # type: ignore[attr-defined]
    fn.permission = access.permission  # type: ignore[attr-defined]
    fn.decision = access.decision  # type: ignore[attr-defined]
    return fn


def public(reason: str) -> Callable[[_F], _F]:
    """`@public("liveness probe")` under a route decorator: anyone may call it, deliberately (no authentication)."""
    if not reason.strip():
        raise ValueError("say why the route is public")

    def mark(fn: _F) -> _F:
        return declare(fn, Access(public=reason))

    return mark


def require(permission: str) -> Callable[[Actor], Actor]:
    """A dependency that returns the actor after checking one permission (403 names it)."""
    check_known(permission)

    def dep(actor: CurrentActor) -> Actor:
        actor.require(permission)
        return actor

    return declare(dep, Access((permission,)))


def Allowed(permission: str) -> type[Actor]:  # reads as a type in signatures
    """`actor: Allowed("release.create")` in a route signature."""
    return Annotated[Actor, Depends(require(permission))]  # type: ignore[return-value]


def require_any(*permissions: str, to: str) -> Callable[[Actor], Actor]:
    """A dependency that returns the actor when it holds any of the permissions (403 names them and the action)."""
    for p in permissions:
        check_known(p)

    def dep(actor: CurrentActor) -> Actor:
        actor.require_any(permissions, to)
        return actor

    return declare(dep, Access(tuple(permissions)))


def AllowedAny(*permissions: str, to: str) -> type[Actor]:
    """`actor: AllowedAny("release.create", "release.approve", to="attest")` in a route signature."""
    return Annotated[Actor, Depends(require_any(*permissions, to=to))]  # type: ignore[return-value]


def _signed_in(actor: CurrentActor) -> Actor:
    """Any authenticated caller, whatever their roles (e.g. who am I)."""
    return actor


SignedIn = Annotated[Actor, Depends(declare(_signed_in, Access()))]


async def _json_body(request: Request) -> Any:
    """The request's JSON body (already read and cached by FastAPI), or None when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


def decision_applies(when: Mapping[str, frozenset[str]] | None, body: Any) -> bool:
    """True when the decision applies to this body: always without `when`, else when a field has one of its values."""
    if not when:
        return True
    return isinstance(body, Mapping) and any(isinstance(body.get(f), str) and body.get(f) in v
                                             for f, v in when.items())


def decision_access(decision: str, when: Mapping[str, Iterable[str]] | None = None) -> Access:
    """The requirement of a decision: its permission, then (when `when` matches) the role it is given."""
    permission = decisions.permission_of(decision)  # a typo fails at import time, not at request time
    return Access((permission,), decision, {f: frozenset(v) for f, v in when.items()} if when else None)


def Decides(decision: str, when: Mapping[str, Iterable[str]] | None = None) -> type[Actor]:
    """`actor: Decides("ship_to_production", when={"to": ["production"]})` in a route signature.

    Always checks the decision's permission; then, when the JSON body matches `when` (any field having one of its
    values; always when `when` is None), the role the organization's decision rights give the decision.
    """
    access = decision_access(decision, when)

    def dep(session: DB, actor: CurrentActor, body: Any = Depends(_json_body)) -> Actor:
        actor.require(access.permissions[0])
        if decision_applies(access.when, body):
            decisions.check(session, actor, decision)
        return actor

    return Annotated[Actor, Depends(declare(dep, access))]  # type: ignore[return-value]


def check_known(permission: str) -> None:
    """A typo in a route's permission fails at import time (KeyError naming it), not as a 403 for everyone."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; see takeoff.core.permissions.PERMISSIONS")


def route_access(route: Any) -> list[Access]:
    """What a mounted route declares: the `Access` of its endpoint or ASGI app, and of every dependency it uses."""
    found: list[Access] = []
    for target in (getattr(route, "endpoint", None), getattr(route, "app", None)):
        if isinstance(getattr(target, "access", None), Access):
            found.append(target.access)  # type: ignore[union-attr]
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        access = getattr(dependant.call, "access", None)
        if isinstance(access, Access) and access not in found:
            found.append(access)
        stack.extend(dependant.dependencies)
    return found
