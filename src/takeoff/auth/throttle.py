"""Failed sign-ins and bad bearer tokens, counted per key in the database so every server process sees them.

Keys: `account:<username>` and `address:<client>` for sign-in, `token:<client>` for bearer tokens. The schedule is
auth/lockout.py's; a lockout writes an `auth.lockout` audit entry. A key that is waiting or locked is refused with
429 before the password is even checked, so a right password does not sign in during a lockout.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from takeoff.audit import service as audit
from takeoff.auth import service as auth
from takeoff.auth.lockout import Policy, State, after_failure, current, retry_after, wait_s
from takeoff.auth.models import SignInThrottle, User
from takeoff.core.config import Settings
from takeoff.core.db import transaction, utcnow
from takeoff.core.errors import RateLimited, Unauthorized

clock: Callable[[], datetime] = utcnow  # tests set it to move time without sleeping
KEY_MAX = 200
LOCKED = "too many failed sign-in attempts; try again in {s} s"
TOKEN_LOCKED = "too many invalid API tokens from this address; try again in {s} s"


def account_policy(settings: Settings) -> Policy:
    """Sign-in failures per account."""
    return Policy(settings.login_max_failures, settings.login_lockout_s, settings.login_delay_s,
                  settings.login_max_delay_s)


def address_policy(settings: Settings) -> Policy:
    """Sign-in failures per client address, whatever the usernames."""
    return Policy(settings.login_address_max_failures, settings.login_lockout_s, settings.login_delay_s,
                  settings.login_max_delay_s)


def token_policy(settings: Settings) -> Policy:
    """Bad bearer tokens per client address."""
    return Policy(settings.token_max_failures, settings.login_lockout_s, settings.login_delay_s,
                  settings.login_max_delay_s)


def _key(kind: str, value: str) -> str:
    return f"{kind}:{value}"[:KEY_MAX]


def _state(row: SignInThrottle | None) -> State:
    return State() if row is None else State(row.failures, row.last_failure_at, row.locked_until)


def waiting(session: Session, key: str, policy: Policy, now: datetime) -> float:
    """Seconds the key must still wait (0: it may try now); reads only."""
    if not policy.enabled:
        return 0.0
    return wait_s(_state(session.get(SignInThrottle, key)), now, policy)


def fail(session: Session, key: str, policy: Policy, now: datetime, subject: tuple[str, str], address: str) -> State:
    """Count one failure of the key (row-locked, so concurrent processes add up); audits a lockout it starts."""
    if not policy.enabled:
        return State()
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(ins(SignInThrottle).values(key=key, failures=0).on_conflict_do_nothing(index_elements=["key"]))
    row = session.scalar(select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()
                         .execution_options(populate_existing=True))
    assert row is not None
    before = current(_state(row), now, policy)
    new = after_failure(before, now, policy)
    row.failures, row.last_failure_at, row.locked_until = new.failures, new.last_failure_at, new.locked_until
    if new.locked_until is not None and before.locked_until is None:
        object_type, object_id = subject
        audit.record(session, f"anonymous@{address}"[:100], "auth.lockout", object_type, object_id[:200], None,
                     {"failures": new.failures, "locked_until": new.locked_until.isoformat(),
                      "client_address": address, "scope": key.split(":", 1)[0]})
    return new


def clear(session: Session, key: str) -> None:
    """Forget a key's failures (a successful sign-in clears its account)."""
    row = session.get(SignInThrottle, key)
    if row is not None:
        session.delete(row)


def sign_in(session: Session, settings: Settings, username: str, password: str, address: str) -> User:
    """Authenticate under throttling: 429 while the account or the address waits or is locked (the password is not
    checked then), 401 for a wrong password (counted on both), 429 when that failure starts a lockout."""
    now = clock()
    name = username.strip().lower()
    checks = [(_key("account", name), account_policy(settings), ("user", name)),
              (_key("address", address), address_policy(settings), ("client_address", address))]
    wait = max(waiting(session, key, policy, now) for key, policy, _ in checks)
    if wait > 0:
        raise RateLimited(LOCKED.format(s=retry_after(wait)), retry_after=retry_after(wait))
    try:
        user = auth.authenticate(session, username, password)
    except Unauthorized:
        states = [(fail(session, key, policy, now, subject, address), policy) for key, policy, subject in checks]
        locked = [(s.locked_until - now).total_seconds() for s, _ in states if s.locked_until is not None]
        if locked:
            raise RateLimited(LOCKED.format(s=retry_after(max(locked))), retry_after=retry_after(max(locked))) from None
        raise
    clear(session, checks[0][0])  # the address keeps its count: one good account must not reset guesses at others
    return user


def check_token_address(session: Session, settings: Settings, address: str) -> None:
    """429 when the address sent too many bad bearer tokens lately (reads only: every bearer request asks)."""
    wait = waiting(session, _key("token", address), token_policy(settings), clock())
    if wait > 0:
        raise RateLimited(TOKEN_LOCKED.format(s=retry_after(wait)), retry_after=retry_after(wait))


def token_failed(factory: sessionmaker[Session], settings: Settings, address: str) -> RateLimited | None:
    """Count a bad bearer token of the address in its own transaction (the request's is rolled back); the 429 to
    answer instead of 401 when this one starts a lockout."""
    policy = token_policy(settings)
    if not policy.enabled:
        return None
    now = clock()
    with transaction(factory) as session:
        state = fail(session, _key("token", address), policy, now, ("client_address", address), address)
    if state.locked_until is None:
        return None
    seconds = retry_after((state.locked_until - now).total_seconds())
    return RateLimited(TOKEN_LOCKED.format(s=seconds), retry_after=seconds)
