"""Vendor controls around one model call: timeout, circuit breaker, rate limit, daily cost budget, fallback.

Every piece is thread safe and takes an injectable clock so tests never sleep.
"""
from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

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

    def __init__(self, budget: "CostBudget", day: int, micros: int) -> None:
        self._budget = budget
        self.day = day
        self.micros = micros
        self._done = False

    def commit(self, actual_usd: float | None = None) -> None:
        """Turn the reservation into spend (the estimate, or the actual cost when known); idempotent."""
        actual = self.micros if actual_usd is None else usd_to_micros(actual_usd)
        self._budget._settle(self, actual)

    def release(self) -> None:
        """Give the reservation back without spending (the call did not happen or was not billed); idempotent."""
        self._budget._settle(self, 0)


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
            return Reservation(self, self._day, micros)

    def _settle(self, r: Reservation, spent_micros: int) -> None:
        with self._lock:
            if r._done:
                return
            r._done = True
            self._roll()
            if r.day != self._day:
                return  # yesterday's reservation: its day is already closed
            self._reserved -= r.micros
            self._spent += spent_micros

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


class Guard:
    """Holds the breakers (one per model), the rate limiter and the per-use-case budgets of one client."""

    def __init__(self, *, failure_threshold: int = 5, cool_down_s: float = 30.0,
                 rate_limit_per_s: float | None = None, rate_limit_burst: float | None = None,
                 daily_budget_usd: dict[str, float] | None = None, timeout_s: float | None = None,
                 max_workers: int = 16, clock: Callable[[], float] = time.monotonic,
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
        future = executor.submit(call)
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()  # a running call cannot be interrupted; its result is ignored
            raise TimeoutError(f"call exceeded {timeout_s} s") from None

    def call(self, call: Callable[[], Any], *, use_case: str, model: str | None = None,
             fallback: Any = _MISSING, timeout_s: float | None = None, estimated_cost_usd: float = 0.0,
             cost_of: Callable[[Any], float] | None = None) -> GuardOutcome:
        """Run call under the controls; on refusal or failure use the fallback (callable or value) and say why.

        With no fallback: a refusal raises GuardRejected, a timeout raises TimeoutError, an error re-raises.
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

        def use_fallback(reason: str, error: BaseException | None) -> GuardOutcome:
            if fallback is _MISSING:
                if error is not None:
                    raise error
                raise GuardRejected(reason)
            value = fallback() if callable(fallback) else fallback
            return GuardOutcome(value, "fallback", reason, self._elapsed_ms(started), error)

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
            return use_fallback("timeout", exc)
        except Exception as exc:  # noqa: BLE001 - any vendor failure takes the fallback path
            breaker.record_failure()
            if reservation is not None:
                reservation.release()
            return use_fallback(f"error:{type(exc).__name__}", exc)
        breaker.record_success()
        if reservation is not None:
            actual = None
            if cost_of is not None:
                try:
                    actual = cost_of(value)
                    usd_to_micros(actual)
                except Exception:  # noqa: BLE001 - a bad cost function must not fail a good call
                    actual = None
            reservation.commit(actual)
        return GuardOutcome(value, "ok", None, self._elapsed_ms(started))

    @staticmethod
    def _elapsed_ms(started: float) -> float:
        return (time.perf_counter() - started) * 1000.0

    def shutdown(self) -> None:
        """Stop the timeout worker pool without waiting for calls that already timed out."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
