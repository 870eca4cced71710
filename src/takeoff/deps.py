"""FastAPI dependencies shared by every router: the request's session and its authenticated actor."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.auth import service as auth
from takeoff.auth import throttle
from takeoff.core.db import read_session
from takeoff.core.errors import Unauthorized
from takeoff.governance import decisions
from takeoff.ratelimit import request_address

SESSION_COOKIE = "takeoff_session"


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


def require(permission: str) -> Callable[[Actor], Actor]:
    """A dependency that returns the actor after checking one permission (403 names it)."""

    def dep(actor: CurrentActor) -> Actor:
        actor.require(permission)
        return actor

    return dep


def Allowed(permission: str) -> type[Actor]:  # reads as a type in signatures
    """`actor: Allowed("release.create")` in a route signature."""
    return Annotated[Actor, Depends(require(permission))]  # type: ignore[return-value]


async def _json_body(request: Request) -> Any:
    """The request's JSON body (already read and cached by FastAPI), or None when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


def Decides(decision: str, when: Mapping[str, Iterable[str]] | None = None) -> type[Actor]:
    """`actor: Decides("ship_to_production", when={"to": ["production"]})` in a route signature.

    Always checks the decision's permission; then, when the JSON body matches `when` (any field having one of its
    values; always when `when` is None), the role the organization's decision rights give the decision.
    """
    permission = decisions.permission_of(decision)  # a typo fails at import time, not at request time
    match = {field: frozenset(values) for field, values in (when or {}).items()}

    def dep(session: DB, actor: CurrentActor, body: Any = Depends(_json_body)) -> Actor:
        actor.require(permission)
        if match and not (isinstance(body, dict) and any(body.get(f) in v for f, v in match.items()
                                                         if isinstance(body.get(f), str))):
            return actor
        decisions.check(session, actor, decision)
        return actor

    return Annotated[Actor, Depends(dep)]  # type: ignore[return-value]
