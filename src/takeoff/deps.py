"""FastAPI dependencies shared by every router: the request's session and its authenticated actor."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from takeoff.actor import Actor
from takeoff.auth import service as auth
from takeoff.errors import Unauthorized

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
        return auth.actor_for_token(session, secret.strip())
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


CurrentActor = Annotated[Actor, Depends(_actor)]


def require(permission: str) -> Callable[[Actor], Actor]:
    """A dependency that returns the actor after checking one permission (403 names it)."""

    def dep(actor: CurrentActor) -> Actor:
        actor.require(permission)
        return actor

    return dep


def Allowed(permission: str) -> type[Actor]:  # noqa: N802 - reads as a type in signatures
    """`actor: Allowed("release.create")` in a route signature."""
    return Annotated[Actor, Depends(require(permission))]  # type: ignore[return-value]
