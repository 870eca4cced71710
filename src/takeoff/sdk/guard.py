"""Vendor controls around one model call: timeout, circuit breaker, rate limit, daily cost budget, fallback.

Over ~400 lines on purpose: the vendor controls (breaker, rate limit, cost budget, fallback) each a class readable
alone, composed by Guard; the SDK stays a few modules.

Every piece is thread safe, takes an injectable clock so tests never sleep, and resets its locks in a forked child.
A budget lives in this process's memory: N processes (replicas, prefork workers) hold N budgets.
"""
from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Callable

from .forksafe import reset_after_fork

log = logging.getLogger("takeoff.sdk")

DEFAULT_TIMEOUT_S = 30.0  # a guarded LLM call that has not answered in 30 s is served by the fallback
DEFAULT_MAX_WORKERS = 64  # timeout worker threads, made on demand: queueing behind a small pool eats the timeout

BreakerState = Literal["closed", "open", "half_open"]

_MICRO = 1_000_000  # budgets are kept in integer micro-dollars so concurrent sums never drift


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Return value as float, or raise ValueError when it is not a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def usd_to_micros(usd: float) -> int:
    """Convert dollars to integer micro-dollars, rounding up so reservations never undercount."""
    _check_positive("cost in USD", usd, allow_zero=True)
    return int(math.ceil(round(usd * _MICRO, 6)))


class GuardRejected(RuntimeError):
    """Raised by a guarded call that was refused (circuit open, rate limited, budget exceeded) and has no fallback."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"call refused by guard: {reason}")
        self.reason = reason


class CircuitBreaker:
    """Opens after consecutive failures, half-opens after a cool-down to let one probe through, closes on success.

    It opens for a model even when that model is the only one: callers then get the fallback instead of
    piling requests onto a failing vendor.
    """

    def __init__(self, failure_threshold: int = 5, cool_down_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise ValueError(f"failure_threshold must be an integer >= 1, got {failure_threshold!r}")
        self.failure_threshold = failure_threshold
        self.cool_down_s = _check_positive("cool_down_s", cool_down_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        """A forked child gets a free lock; a probe in flight in the parent will never report here."""
        self._lock = threading.Lock()
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """Current state; an open breaker whose cool-down has elapsed reports half_open."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.cool_down_s:
                return "half_open"
            return self._state

    def allow(self) -> bool:
        """Whether a call may go through now; in half-open only one probe at a time is allowed."""
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open":
                if self._clock() - self._opened_at < self.cool_down_s:
                    return False
                self._state = "half_open"
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        """A call succeeded: close the breaker and forget past failures."""
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """A call failed: count it, and open (or re-open after a failed probe) when the threshold is reached."""
        with self._lock:
            self._probe_in_flight = False
            if self._state == "half_open":
                self._state = "open"
                self._opened_at = self._clock()
                return
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._state = "open"
                self._opened_at = self._clock()


class TokenBucket:
    """Client-side rate limit: `rate_per_s` tokens refill per second up to `burst`; a call takes one."""

    def __init__(self, rate_per_s: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = _check_positive("rate_per_s", rate_per_s)
        self.burst = _check_positive("burst", burst if burst is not None else max(1.0, rate_per_s))
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        """A forked child gets a free lock (another thread may have held the parent's at the fork)."""
        self._lock = threading.Lock()

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take n tokens if available, without waiting; False means the call must not go out."""
        _check_positive("n", n)
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._last) * self.rate_per_s)
            self._last = now
            if self._tokens + 1e-12 >= n:
                self._tokens -= n
                return True
            return False


class Reservation:
    """Estimated cost held against a budget until the call ends; commit the actual cost or release it."""

    def __init__(self, budget: CostBudget, day: int, micros: int, epoch: int = 0) -> None:
        self._budget = budget
        self.day = day
        self.micros = micros
        self.epoch = epoch  # the budget's process generation (a forked child starts a new one)
        self.state: Literal["held", "committed", "released"] = "held"
        self.spent_micros = 0  # what the commit charged (and any correction since)

    def commit(self, actual_usd: float | None = None) -> None:
        """Turn the reservation into spend (the estimate, or the actual cost when known); idempotent."""
        actual = self.micros if actual_usd is None else usd_to_micros(actual_usd)
        self._budget._settle(self, actual, "committed")

    def release(self) -> None:
        """Give the reservation back without spending (the call did not happen or was not billed); idempotent."""
        self._budget._settle(self, 0, "released")

    def correct(self, actual_usd: float) -> None:
        """Replace what a commit charged (e.g. the estimate) by the actual cost, learnt later; ignored unless committed."""
        self._budget._correct(self, usd_to_micros(actual_usd))


class CostBudget:
    """Daily spend cap for one use case; an estimate is reserved before the call so concurrent calls cannot overshoot.

    The day is the UTC calendar day of `wall_clock()`. Spend resets at UTC midnight.
    """

    def __init__(self, daily_limit_usd: float, wall_clock: Callable[[], float] = time.time) -> None:
        _check_positive("daily_limit_usd", daily_limit_usd, allow_zero=True)
        self.limit_micros = usd_to_micros(daily_limit_usd)
        self._clock = wall_clock
        self._lock = threading.Lock()
        self._day = self._today()
        self._spent = 0
        self._reserved = 0
        self._epoch = 0
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        """A forked child gets a free lock and none of the parent's calls in flight (they settle in the parent)."""
        self._lock = threading.Lock()
        self._reserved = 0
        self._epoch += 1

    def _today(self) -> int:
        return int(self._clock() // 86400)

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day, self._spent, self._reserved = day, 0, 0

    def reserve(self, estimated_usd: float) -> Reservation | None:
        """Hold the estimate if spent + reserved + estimate stays within the day's limit, else None."""
        micros = usd_to_micros(estimated_usd)
        with self._lock:
            self._roll()
            if self._spent + self._reserved + micros > self.limit_micros:
                return None
            self._reserved += micros
            return Reservation(self, self._day, micros, self._epoch)

    def _settle(self, r: Reservation, spent_micros: int, state: Literal["committed", "released"]) -> None:
        with self._lock:
            if r.state != "held":
                return
            r.state = state
            r.spent_micros = spent_micros
            self._roll()
            if r.day != self._day:
                return  # yesterday's reservation: its day is already closed
            if r.epoch == self._epoch:
                self._reserved -= r.micros  # a reservation made before a fork was never held in this process
            self._spent += spent_micros

    def _correct(self, r: Reservation, micros: int) -> None:
        with self._lock:
            if r.state != "committed":
                return
            self._roll()
            if r.day != self._day:
                return
            self._spent += micros - r.spent_micros
            r.spent_micros = micros

    @property
    def spent_usd(self) -> float:
        """Spend committed today."""
        with self._lock:
            self._roll()
            return self._spent / _MICRO

    @property
    def reserved_usd(self) -> float:
        """Estimates currently held by calls in flight."""
        with self._lock:
            self._roll()
            return self._reserved / _MICRO

    @property
    def remaining_usd(self) -> float:
        """What is left today once spend and reservations are counted."""
        with self._lock:
            self._roll()
            return max(0, self.limit_micros - self._spent - self._reserved) / _MICRO


_MISSING: Any = object()


@dataclass(frozen=True)
class GuardOutcome:
    """What happened to one guarded call."""

    value: Any
    status: Literal["ok", "error", "fallback"]
    fallback_reason: str | None
    latency_ms: float
    error: BaseException | None = None
    cost_usd: float | None = None         # the actual cost, when cost_of gave one
    charge: Reservation | None = None     # the committed reservation of a call whose cost was only estimated


class BlockCosts:
    """The budget charges of the guarded calls in one tracked block, settled by the block's cost at its end.

    A guarded call without `cost_of` is charged its estimate; when the block's event then carries a cost
    (`t.set_cost`), that cost replaces the estimates of its use case's budget. When no cost is known at all
    (no estimate, no cost_of, no tracked cost), the budget cannot be enforced and the guard warns once.
    """

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._estimated: dict[str, list[Reservation]] = {}  # use case -> charges that are only the estimate
        self._exact: dict[str, int] = {}  # use case -> micro-dollars charged from cost_of

    def record(self, use_case: str, outcome: GuardOutcome) -> None:
        """Remember what a guarded call of a budgeted use case (the caller checks it has a budget) was charged, and
        whether it was only estimated."""
        if outcome.charge is not None:
            self._estimated.setdefault(use_case, []).append(outcome.charge)
        elif outcome.cost_usd is not None:
            self._exact[use_case] = self._exact.get(use_case, 0) + usd_to_micros(outcome.cost_usd)

    def __call__(self, event: dict[str, Any]) -> None:
        """Tracker finish hook: settle with the event's cost_usd."""
        self.settle(event.get("cost_usd"))

    def settle(self, tracked_cost_usd: float | None) -> None:
        """Replace the estimates by the tracked cost (one budget only: a cost cannot be split); warn if none known."""
        estimated, exact = self._estimated, self._exact
        self._estimated, self._exact = {}, {}
        use_cases = set(estimated) | set(exact)
        if tracked_cost_usd is not None and len(use_cases) == 1:
            use_case = use_cases.pop()
            charges = estimated.get(use_case, [])
            if charges:
                left = max(0, usd_to_micros(tracked_cost_usd) - exact.get(use_case, 0))
                charges[0].correct(left / _MICRO)
                for r in charges[1:]:
                    r.correct(0.0)
            return
        for use_case, charges in estimated.items():
            if use_case not in exact and all(r.spent_micros == 0 for r in charges):
                self.guard.note_unpriced(use_case)


class Guard:
    """Holds the breakers (one per model), the rate limiter and the per-use-case budgets of one client."""

    def __init__(self, *, failure_threshold: int = 5, cool_down_s: float = 30.0,
                 rate_limit_per_s: float | None = None, rate_limit_burst: float | None = None,
                 daily_budget_usd: dict[str, float] | None = None, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                 max_workers: int = DEFAULT_MAX_WORKERS, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._failure_threshold = failure_threshold
        self._cool_down_s = cool_down_s
        CircuitBreaker(failure_threshold, cool_down_s, clock)  # validate early, at construction
        if timeout_s is not None:
            _check_positive("timeout_s", timeout_s)
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an integer >= 1, got {max_workers!r}")
        self.timeout_s = timeout_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self.limiter = TokenBucket(rate_limit_per_s, rate_limit_burst, clock) if rate_limit_per_s else None
        self._budgets: dict[str, CostBudget] = {}
        for use_case, usd in (daily_budget_usd or {}).items():
            self.set_budget(use_case, usd)
        self._max_workers = max_workers
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._unpriced: dict[str, int] = {}  # use case -> guarded calls whose cost was never known
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        """A forked child gets a free lock and no worker pool: the parent's workers do not exist here."""
        self._lock = threading.Lock()
        self._executor = None

    def note_unpriced(self, use_case: str) -> None:
        """Count a guarded call with a budget but no known cost; the first one per use case logs a warning."""
        with self._lock:
            first = use_case not in self._unpriced
            self._unpriced[use_case] = self._unpriced.get(use_case, 0) + 1
        if first:
            log.warning("takeoff sdk: the daily budget of %r cannot be enforced: a guarded call had no "
                        "estimated_cost_usd, no cost_of and no tracked cost (t.set_cost)", use_case)

    def budget_stats(self) -> dict[str, dict[str, float | int]]:
        """Per use case with a budget: today's limit, spend, reservations, remaining, and unpriced calls."""
        with self._lock:
            budgets = dict(self._budgets)
            unpriced = dict(self._unpriced)
        return {uc: {"limit_usd": b.limit_micros / _MICRO, "spent_usd": b.spent_usd, "reserved_usd": b.reserved_usd,
                     "remaining_usd": b.remaining_usd, "unpriced_calls": unpriced.get(uc, 0)}
                for uc, b in budgets.items()}

    def breaker(self, model: str) -> CircuitBreaker:
        """The breaker for a model, created on first use."""
        with self._lock:
            b = self._breakers.get(model)
            if b is None:
                b = self._breakers[model] = CircuitBreaker(self._failure_threshold, self._cool_down_s, self._clock)
            return b

    def set_budget(self, use_case: str, daily_limit_usd: float) -> CostBudget:
        """Set (or replace) the daily cost budget of a use case."""
        if not isinstance(use_case, str) or not use_case:
            raise ValueError(f"use_case must be a non-empty string, got {use_case!r}")
        budget = CostBudget(daily_limit_usd, self._wall_clock)
        with self._lock:
            self._budgets[use_case] = budget
        return budget

    def budget(self, use_case: str) -> CostBudget | None:
        """The budget of a use case, if one is set."""
        with self._lock:
            return self._budgets.get(use_case)

    def _run(self, call: Callable[[], Any], timeout_s: float | None) -> Any:
        if timeout_s is None:
            return call()
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="takeoff-guard")
            executor = self._executor
        future = executor.submit(contextvars.copy_context().run, call)  # current_tracker() etc. inside the call
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()  # a running call cannot be interrupted; its result is ignored
            raise TimeoutError(f"call exceeded {timeout_s} s") from None

    def call(self, call: Callable[[], Any], *, use_case: str, model: str | None = None,
             fallback: Any = _MISSING, timeout_s: float | None = None, estimated_cost_usd: float = 0.0,
             cost_of: Callable[[Any], float] | None = None, server_budget_spent: bool = False) -> GuardOutcome:
        """Run call under the controls; on refusal or failure use the fallback (callable or value) and say why.

        With no fallback: a refusal raises GuardRejected, a timeout raises TimeoutError, an error re-raises.
        `server_budget_spent`: the server's active() answer says an enforced budget is spent (refused as
        budget_exceeded, like this process's own daily budget).
        """
        if not callable(call):
            raise ValueError(f"call must be a callable taking no arguments, got {call!r}")
        if not isinstance(use_case, str) or not use_case:
            raise ValueError(f"use_case must be a non-empty string, got {use_case!r}")
        if model is not None and not isinstance(model, str):
            raise ValueError(f"model must be a string or None, got {model!r}")
        timeout = self.timeout_s if timeout_s is None else _check_positive("timeout_s", timeout_s)
        usd_to_micros(estimated_cost_usd)  # reject a bad estimate before anything is reserved
        started = time.perf_counter()

        def use_fallback(reason: str, error: BaseException | None, charge: Reservation | None = None) -> GuardOutcome:
            if fallback is _MISSING:
                if error is not None:
                    raise error
                raise GuardRejected(reason)
            value = fallback() if callable(fallback) else fallback
            return GuardOutcome(value, "fallback", reason, self._elapsed_ms(started), error, charge=charge)

        if server_budget_spent:
            return use_fallback("budget_exceeded", None)
        if self.limiter is not None and not self.limiter.try_acquire():
            return use_fallback("rate_limited", None)
        budget = self.budget(use_case)
        reservation = budget.reserve(estimated_cost_usd) if budget is not None else None
        if budget is not None and reservation is None:
            return use_fallback("budget_exceeded", None)
        breaker = self.breaker(model or use_case)
        if not breaker.allow():
            if reservation is not None:
                reservation.release()
            return use_fallback("circuit_open", None)
        try:
            value = self._run(call, timeout)
        except TimeoutError as exc:
            breaker.record_failure()
            if reservation is not None:
                reservation.commit()  # the vendor may still bill a call we stopped waiting for
            return use_fallback("timeout", exc, reservation)
        except Exception as exc:  # any vendor failure takes the fallback path
            breaker.record_failure()
            if reservation is not None:
                reservation.release()
            return use_fallback(f"error:{type(exc).__name__}", exc)
        breaker.record_success()
        actual = self._actual_cost(cost_of, value)
        if reservation is not None:
            reservation.commit(actual)
        return GuardOutcome(value, "ok", None, self._elapsed_ms(started), cost_usd=actual,
                            charge=reservation if actual is None else None)

    @staticmethod
    def _actual_cost(cost_of: Callable[[Any], float] | None, value: Any) -> float | None:
        """cost_of(value) in USD, or None when there is no cost function or it fails or answers nonsense."""
        if cost_of is None:
            return None
        try:
            actual = cost_of(value)
            usd_to_micros(actual)
        except Exception:  # a bad cost function must not fail a good call
            return None
        return float(actual)

    @staticmethod
    def _elapsed_ms(started: float) -> float:
        return (time.perf_counter() - started) * 1000.0

    def shutdown(self) -> None:
        """Stop the timeout worker pool without waiting for calls that already timed out."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
