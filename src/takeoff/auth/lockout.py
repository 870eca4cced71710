"""Failed-attempt throttling rules (pure): exponential delay, then a temporary lockout after N failures.

One schedule for sign-in per account, sign-in per client address and bad bearer tokens per client address: the first
half of the allowance (`max_failures // 2` failures) costs nothing, so a typo is free; each later failure makes the
next attempt wait `delay_s`, doubling, capped at `max_delay_s`; the `max_failures`-th failure locks the key for
`lockout_s`. A key quiet for `lockout_s` after its last failure, or whose lockout has run out, starts over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Policy:
    """How many failures a key may have and what they cost; `max_failures` 0 turns throttling off."""

    max_failures: int
    lockout_s: float
    delay_s: float = 1.0
    max_delay_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    @property
    def free(self) -> int:
        """Failures that cost no delay."""
        return self.max_failures // 2


@dataclass(frozen=True)
class State:
    """What is stored per key: consecutive failures, the last one's time, and the end of a lockout."""

    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


def current(state: State, now: datetime, policy: Policy) -> State:
    """The state as it stands now: a served lockout or a quiet period forgets the failures."""
    if state.locked_until is not None:
        return state if now < state.locked_until else State()
    if state.last_failure_at is None or now - state.last_failure_at >= timedelta(seconds=policy.lockout_s):
        return State()
    return state


def delay_after(failures: int, policy: Policy) -> float:
    """Seconds the next attempt must wait after `failures` consecutive failures (no lockout counted here)."""
    extra = failures - policy.free
    if extra <= 0 or policy.delay_s <= 0:
        return 0.0
    return min(policy.delay_s * 2 ** min(extra - 1, 62), policy.max_delay_s)


def wait_s(state: State, now: datetime, policy: Policy) -> float:
    """Seconds before the key may try again (0: now)."""
    if not policy.enabled:
        return 0.0
    s = current(state, now, policy)
    if s.locked_until is not None:
        return (s.locked_until - now).total_seconds()
    if s.last_failure_at is None:
        return 0.0
    return max(0.0, (s.last_failure_at + timedelta(seconds=delay_after(s.failures, policy)) - now).total_seconds())


def after_failure(state: State, now: datetime, policy: Policy) -> State:
    """The state after one more failure at `now`; it carries `locked_until` when this failure locks the key."""
    s = current(state, now, policy)
    failures = s.failures + 1
    locked = now + timedelta(seconds=policy.lockout_s) if policy.enabled and failures >= policy.max_failures else None
    return State(failures, now, locked)


def retry_after(seconds: float) -> int:
    """The Retry-After header value for a wait: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
