"""The takeoff client for AI applications: active release by canary split, tracking, recording, guard, feedback.

Over ~400 lines on purpose: the Client facade over transport, tracking, guard and the canary split, the SDK's one
entry point.

Nothing here touches the network at import or construction; `active()` never raises because of the server.
An application may hand in its own HTTP client or transport (e.g. a Starlette TestClient on an in-process app).
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote

import httpx

from .forksafe import reset_after_fork
from .guard import _MISSING, DEFAULT_MAX_WORKERS, DEFAULT_TIMEOUT_S, BlockCosts, Guard, GuardRejected
from .ids import uuid7_hex
from .tracking import TrackSpec, Tracker, current_tracker, recorded_event, release_fields, unix_seconds
from .transport import USER_AGENT, Transport, check_http

log = logging.getLogger("takeoff.sdk")

BUCKETS = 10_000


def unit_bucket(use_case: str, unit_id: str) -> int:
    """Stable bucket 0..9999 of a unit for a use case: first 8 hex digits of sha256("use_case:unit_id")."""
    if not isinstance(use_case, str) or not use_case:
        raise ValueError(f"use_case must be a non-empty string, got {use_case!r}")
    if not isinstance(unit_id, str):
        raise ValueError(f"unit_id must be a string, got {unit_id!r}")
    return int(hashlib.sha256(f"{use_case}:{unit_id}".encode()).hexdigest()[:8], 16) % BUCKETS


def choose_release(releases: Sequence[Mapping[str, Any]], use_case: str, unit_id: str) -> Mapping[str, Any]:
    """Release serving a unit under the canary split; deterministic, so a unit stays put while weights do not change.

    Rule: sort releases by weight descending then release_id ascending; give each a range of
    round(cumulative_weight / total * 10000) buckets (weight*100 when weights sum to 100); the unit's bucket
    `int(sha256(f"{use_case}:{unit_id}").hexdigest()[:8], 16) % 10000` picks the range it falls in.
    """
    if not isinstance(releases, Sequence) or isinstance(releases, (str, bytes)) or not releases:
        raise ValueError("releases must be a non-empty list of release objects")
    for r in releases:
        if not isinstance(r, Mapping) or not isinstance(r.get("release_id"), str) or not r["release_id"]:
            raise ValueError(f"every release needs a non-empty string release_id, got {r!r}")
        w = r.get("weight")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"release {r['release_id']} weight must be a number >= 0, got {w!r}")
    total = float(sum(r["weight"] for r in releases))
    if total <= 0:
        raise ValueError("release weights must not all be zero")
    bucket = unit_bucket(use_case, unit_id)
    ordered = sorted((r for r in releases if r["weight"] > 0), key=lambda r: (-float(r["weight"]), r["release_id"]))
    cumulative = 0.0
    for r in ordered:
        cumulative += float(r["weight"])
        if bucket < round(cumulative / total * BUCKETS):
            return r
    return ordered[-1]


@dataclass(frozen=True)
class ActiveConfig:
    """The release configuration serving a unit: what the app should send to which model."""

    use_case: str
    release_id: str | None
    model: str | None
    version: str | None = None
    provider: str | None = None
    prompt: str | dict[str, Any] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    fallback_model: str | None = None
    source: Literal["server", "cache", "stale", "default"] = "server"
    safety: dict[str, Any] | None = None  # the release's safety policy (docs/safety.md), applied by Client.safe
    # The server's cost budget for this release is spent (enforce: fallback): guard() serves the fallback until then.
    use_fallback: bool = False
    fallback_until: str | None = None


def _config_from(use_case: str, r: Mapping[str, Any], source: Any) -> ActiveConfig:
    params = r.get("parameters") or {}
    return ActiveConfig(use_case=use_case, release_id=r.get("release_id"), model=r.get("model"),
                        version=r.get("version"), provider=r.get("provider"), prompt=r.get("prompt"),
                        parameters=dict(params) if isinstance(params, Mapping) else {},
                        fallback_model=r.get("fallback_model"), source=source,
                        safety=dict(r["safety"]) if isinstance(r.get("safety"), Mapping) else None,
                        use_fallback=r.get("use_fallback") is True,
                        fallback_until=r["fallback_until"] if isinstance(r.get("fallback_until"), str) else None)


def _as_default(use_case: str, default: Any) -> ActiveConfig | None:
    if default is None:
        return None
    if isinstance(default, ActiveConfig):
        return ActiveConfig(**{**default.__dict__, "source": "default"})
    if isinstance(default, Mapping):
        return _config_from(use_case, default, "default")
    raise ValueError("default must be an ActiveConfig, a dict with the release fields, or None")


def _check_releases(payload: Any) -> list[dict[str, Any]]:
    """The releases of an /active answer, or ValueError when the answer is not usable. An empty list is a valid
    answer (nothing is live): it is cached like any other, and active() serves the default meanwhile."""
    if not isinstance(payload, dict) or not isinstance(payload.get("releases"), list):
        raise ValueError("answer has no releases list")
    releases: list[dict[str, Any]] = payload["releases"]
    if releases:
        choose_release(releases, "probe", "probe")  # validates ids and weights
    return releases


class _Flight:
    """One in-flight fetch of a use case's releases; callers with nothing cached wait on it instead of fetching."""

    def __init__(self) -> None:
        self.done = threading.Event()


class Client:
    """Client(url, token): one per process is enough; it is thread safe.

    `http_client` (any httpx.Client, e.g. a Starlette TestClient; the caller keeps and closes it) or
    `http_transport` (an httpx.BaseTransport the SDK's own clients use) replaces the network for both the
    `active()` fetches and the background sender; the URL is then the one that client answers on.
    """

    def __init__(self, url: str, token: str, *, defaults: Mapping[str, Any] | None = None,
                 cache_ttl_s: float = 30.0, retry_interval_s: float = 5.0, timeout_s: float = 2.0,
                 max_queue: int = 10_000, batch_size: int = 500, flush_interval_s: float = 1.0,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 30.0, exit_flush_timeout_s: float = 5.0,
                 breaker_failures: int = 5, breaker_cool_down_s: float = 30.0,
                 rate_limit_per_s: float | None = None, rate_limit_burst: float | None = None,
                 daily_budget_usd: Mapping[str, float] | None = None,
                 guard_timeout_s: float | None = DEFAULT_TIMEOUT_S, guard_max_workers: int = DEFAULT_MAX_WORKERS,
                 max_error_attempts: int = 5,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 http_client: httpx.Client | None = None, http_transport: httpx.BaseTransport | None = None) -> None:
        check_http(http_client, http_transport)
        for name, value in (("cache_ttl_s", cache_ttl_s), ("retry_interval_s", retry_interval_s),
                            ("timeout_s", timeout_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        self.transport = Transport(url, token, max_queue=max_queue, batch_size=batch_size,
                                   flush_interval_s=flush_interval_s, timeout_s=timeout_s * 2.5,
                                   backoff_base_s=backoff_base_s, backoff_max_s=backoff_max_s,
                                   exit_flush_timeout_s=exit_flush_timeout_s,
                                   max_error_attempts=max_error_attempts, http_client=http_client,
                                   http_transport=http_transport)
        self.url = self.transport.url
        self._token = token
        self._defaults = {k: _as_default(k, v) for k, v in (defaults or {}).items()}
        self.cache_ttl_s = float(cache_ttl_s)
        self.retry_interval_s = float(retry_interval_s)
        self.timeout_s = float(timeout_s)
        self._clock = clock
        self.guard_controls = Guard(failure_threshold=breaker_failures, cool_down_s=breaker_cool_down_s,
                                    rate_limit_per_s=rate_limit_per_s, rate_limit_burst=rate_limit_burst,
                                    daily_budget_usd=dict(daily_budget_usd or {}), timeout_s=guard_timeout_s,
                                    max_workers=guard_max_workers, clock=clock, wall_clock=wall_clock)
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}  # use_case -> the one fetch in flight (single-flight)
        # use_case -> (releases, fetched_at); failures -> next time a fetch may be tried
        self._cache: dict[str, tuple[list[dict[str, Any]], float]] = {}
        self._next_try: dict[str, float] = {}
        self._http: httpx.Client | None = None  # our own, made on the first fetch
        self._injected_http = http_client  # used as is, closed by its owner
        self._http_transport = http_transport
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        """In a forked child: free locks, and forget (without closing) the parent's pooled connections."""
        self._lock = threading.Lock()
        self._flights = {}
        self._http = None

    # ---- active release ----------------------------------------------------------------------
    def active(self, use_case: str, unit_id: str | None = None, default: Any = None) -> ActiveConfig | None:
        """Release config serving this unit now; stale cache or the default when the server is unreachable.

        A unit_id of None picks a random unit (anonymous traffic still follows the split).
        Returns None only if the server was never reached and no default was given.
        """
        if not isinstance(use_case, str) or not use_case:
            raise ValueError(f"use_case must be a non-empty string, got {use_case!r}")
        if unit_id is not None and not isinstance(unit_id, str):
            raise ValueError(f"unit_id must be a string or None, got {unit_id!r}")
        unit = unit_id if unit_id is not None else uuid.uuid4().hex
        try:
            releases, source = self._releases(use_case)
            if releases:  # None: never reached; []: the server says nothing is live
                return _config_from(use_case, choose_release(releases, use_case, unit), source)
        except Exception:  # the app must keep running whatever the server says
            log.debug("takeoff sdk: active(%s) failed", use_case, exc_info=True)
        try:
            return _as_default(use_case, default) or self._defaults.get(use_case)
        except ValueError:
            return self._defaults.get(use_case)

    def _releases(self, use_case: str) -> tuple[list[dict[str, Any]] | None, Any]:
        """Cached releases, else ONE fetch per use case at a time (single-flight): the caller that starts it waits
        for it (at most the timeout on a hung server), callers holding a stale answer get it at once, and callers
        with nothing cached wait for that same fetch, never longer than the timeout, then share its outcome. A
        failed fetch is not tried again for retry_interval_s."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(use_case)
            if cached is not None and now - cached[1] < self.cache_ttl_s:
                return cached[0], "cache"
            if now < self._next_try.get(use_case, float("-inf")):
                return (cached[0], "stale") if cached else (None, None)
            flight = self._flights.get(use_case)
            leader = flight is None
            if flight is None:
                flight = self._flights[use_case] = _Flight()
        if not leader:
            if cached is not None:
                return cached[0], "stale"  # someone else is refreshing: serve what we have
            flight.done.wait(self.timeout_s)
            with self._lock:
                again = self._cache.get(use_case)
            if again is not None and self._clock() - again[1] < self.cache_ttl_s:
                return again[0], "cache"
            return None, None  # the shared fetch failed or is still hanging: the default, now
        try:
            releases = self._fetch(use_case)
        except Exception:
            with self._lock:
                self._next_try[use_case] = self._clock() + self.retry_interval_s
                cached = self._cache.get(use_case)
            return (cached[0], "stale") if cached else (None, None)
        else:
            with self._lock:
                self._cache[use_case] = (releases, self._clock())
                self._next_try.pop(use_case, None)
            return releases, "server"
        finally:
            with self._lock:
                self._flights.pop(use_case, None)
            flight.done.set()

    def _fetch(self, use_case: str) -> list[dict[str, Any]]:
        with self._lock:
            http = self._injected_http
            if http is None:
                if self._http is None:
                    self._http = httpx.Client(timeout=self.timeout_s, transport=self._http_transport)
                http = self._http
        resp = http.get(f"{self.url}/api/v1/usecases/{quote(use_case, safe='')}/active",
                        headers={"Authorization": f"Bearer {self._token}", "User-Agent": USER_AGENT})
        resp.raise_for_status()
        return _check_releases(resp.json())

    # ---- tracking ----------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any]) -> None:
        self.transport.submit("event", event)

    def track(self, use_case: str, *, release: Any = None, unit_id: str | None = None,
              model: str | None = None, provider: str | None = None) -> TrackSpec:
        """`with client.track(...) as t:` or `@client.track(...)`: one event per call, sent in the background."""
        return TrackSpec(self._emit, use_case, release=release, unit_id=unit_id, model=model, provider=provider)

    def record(self, use_case: str, *, ts: datetime | float, latency_ms: float, release: Any = None,
               unit_id: str | None = None, status: str = "ok", outcome: str | None = None,
               tokens: Mapping[str, int] | None = None, cost_usd: float | None = None, model: str | None = None,
               provider: str | None = None, scores: Mapping[str, float] | None = None,
               features: Mapping[str, float | str | bool] | None = None, error_category: str | None = None,
               fallback_reason: str | None = None, attributes: Mapping[str, str | int | float | bool] | None = None,
               event_id: str | None = None, content: Mapping[str, Any] | None = None,
               trace_id: str | None = None, span_id: str | None = None,
               violations: Sequence[Mapping[str, str]] | None = None) -> str:
        """Queue an event of a call that already happened (backfills, imports); returns its request id.

        `ts` is a timezone-aware datetime or Unix seconds. Bad input raises ValueError (this runs in setup code,
        unlike `track`); the event then goes through the same queue, batches and retries as tracked events, in
        batches of recorded events only. The server refuses events older than its lateness window
        (TAKEOFF_LATE_EVENT_SECONDS): such a batch is counted in `stats()["dropped"]["http_422"]`.
        """
        event = recorded_event(use_case, ts=ts, latency_ms=latency_ms, release=release, unit_id=unit_id,
                               status=status, outcome=outcome, tokens=tokens, cost_usd=cost_usd, model=model,
                               provider=provider, scores=scores, features=features, error_category=error_category,
                               fallback_reason=fallback_reason, attributes=attributes, event_id=event_id,
                               content=content, trace_id=trace_id, span_id=span_id, violations=violations)
        self.transport.submit("record", event)
        return str(event["id"])

    # ---- guard -------------------------------------------------------------------------------
    def _budget_spent(self, use_case: str, release_id: Any) -> bool:
        """Whether the last active() answer held for the use case says this release's enforced budget is spent."""
        if not isinstance(release_id, str):
            return False
        with self._lock:
            cached = self._cache.get(use_case)
        return cached is not None and any(r.get("release_id") == release_id and r.get("use_fallback") is True
                                          for r in cached[0])

    def guard(self, call: Callable[[], Any], *, fallback: Any = _MISSING, use_case: str | None = None,
              model: str | None = None, release: Any = None, unit_id: str | None = None,
              timeout_s: float | None = None, estimated_cost_usd: float = 0.0,
              cost_of: Callable[[Any], float] | None = None, tracker: Tracker | None = None) -> Any:
        """Run call (no arguments) under timeout, breaker, rate limit and budget; fall back and record why.

        Inside a `track` block the fallback reason goes on that block's event; otherwise the guard records
        its own event. Without a fallback, a refusal raises GuardRejected and a failure re-raises.
        A release whose server-side budget is spent (`use_fallback` in the last active() answer; the release given
        here as an ActiveConfig or id, else the track block's) is not called: the fallback serves, reason
        budget_exceeded, until the budget's window resets. A budget reserves `estimated_cost_usd`;
        the actual cost from `cost_of`, else the cost the block's event carries when it ends (`t.set_cost`),
        replaces it. `timeout_s` None means the client's guard_timeout_s.
        """
        t = tracker if tracker is not None else current_tracker()
        if use_case is None:
            if t is None:
                raise ValueError("guard needs use_case= when it is not inside a client.track(...) block")
            use_case = t.use_case
        rid, rmodel, _ = release_fields(release)
        if model is None:
            model = rmodel or (t.event.get("model") if t is not None else None)
        spent = getattr(release, "use_fallback", False) is True or self._budget_spent(
            use_case, rid if rid is not None else (t.event.get("release") if t is not None else None))
        own = t is None
        if t is None:
            t = Tracker(self._emit, use_case, release=release, unit_id=unit_id, model=model).start()
        try:
            outcome = self.guard_controls.call(call, use_case=use_case, model=model, fallback=fallback,
                                               timeout_s=timeout_s, estimated_cost_usd=estimated_cost_usd,
                                               cost_of=cost_of, server_budget_spent=spent)
        except Exception as exc:
            if own:
                if isinstance(exc, GuardRejected):
                    t.fallback(exc.reason)
                t.finish(exc)
            elif isinstance(exc, GuardRejected):
                t.fallback(exc.reason)
            raise
        self._charge(t, use_case, outcome, own)
        if outcome.fallback_reason is not None:
            t.fallback(outcome.fallback_reason)
        if own:
            t.finish()
        return outcome.value

    def safe(self, call: Callable[[str], Any], input: str, *, use_case: str | None = None, release: Any = None,
             policy: Any = None, output_text: Callable[[Any], str] | None = None,
             on_redact: Callable[[Any, str], Any] | None = None, fallback: Any = _MISSING, unit_id: str | None = None,
             timeout_s: float | None = None, estimated_cost_usd: float = 0.0,
             cost_of: Callable[[Any], float] | None = None) -> Any:
        """`call(text)` under the release's safety policy (docs/safety.md) and the guard's controls.

        The policy is `policy` (a dict or SafetyPolicy), else the `safety` of `release` (an entry of `active()`);
        with neither, the call only runs guarded. Input checks run before the call (a block answers the policy's
        fallback answer without calling), output checks after it on the result, or on `output_text(result)` when the
        result is not a string (a redaction then returns `on_redact(result, text)`, or the redacted text). Findings
        go on the call's event, inside a `track` block or on an event of its own.
        """
        from .safe import policy_of, run

        if not isinstance(input, str):
            raise ValueError(f"input must be a string, got {type(input).__name__}")
        chosen = policy_of(release, policy)
        if use_case is None and isinstance(getattr(release, "use_case", None), str):
            use_case = release.use_case  # an ActiveConfig knows its use case
        t = current_tracker()
        own = t is None
        if t is None:
            if use_case is None:
                raise ValueError("safe needs use_case= when it is not inside a client.track(...) block")
            rid, rmodel, _ = release_fields(release)
            t = Tracker(self._emit, use_case, release=release, unit_id=unit_id, model=rmodel).start()

        def guarded(thunk: Callable[[], Any]) -> Any:
            return self.guard(thunk, fallback=fallback, use_case=use_case or t.use_case, release=release,
                              unit_id=unit_id, timeout_s=timeout_s, estimated_cost_usd=estimated_cost_usd,
                              cost_of=cost_of, tracker=t)

        try:
            if chosen is None:
                value = guarded(lambda: call(input))
            else:
                value = run(t, chosen, call, input, guarded, output_text, on_redact)
        except Exception as exc:
            if own:
                t.finish(exc)
            raise
        if own:
            t.finish()
        return value

    def _charge(self, t: Tracker, use_case: str, outcome: Any, own: bool) -> None:
        """Note the call's budget charge on its block (settled by the block's cost) and its cost on its own event."""
        try:
            if self.guard_controls.budget(use_case) is not None:  # no budget: nothing to settle at the block's end
                self._block_costs(t).record(use_case, outcome)
            if own and outcome.cost_usd is not None:
                t.set_cost(outcome.cost_usd)
        except Exception:  # bookkeeping must never fail a call that succeeded
            log.debug("takeoff sdk: budget bookkeeping failed", exc_info=True)

    def _block_costs(self, t: Tracker) -> BlockCosts:
        """The budget charges of t's block: made and hooked on t's finish by the block's first guarded call."""
        for hook in t.finish_hooks:
            if isinstance(hook, BlockCosts) and hook.guard is self.guard_controls:
                return hook
        costs = BlockCosts(self.guard_controls)
        t.on_finish(costs)
        return costs

    def set_budget(self, use_case: str, daily_limit_usd: float) -> None:
        """Set the daily cost budget of a use case (estimated cost is reserved before each guarded call)."""
        self.guard_controls.set_budget(use_case, daily_limit_usd)

    # ---- feedback ----------------------------------------------------------------------------
    def feedback(self, request_id: str, rating: int, comment: str | None = None,
                 time_saved_s: float | None = None, *, use_case: str | None = None,
                 unit_id: str | None = None, ts: datetime | float | None = None) -> str:
        """Queue a user's rating (1..5) of a tracked request; returns the feedback id.

        `ts` (a timezone-aware datetime or Unix seconds; default now) dates feedback given earlier, for imports.
        """
        if not isinstance(request_id, str) or not request_id:
            raise ValueError(f"request_id must be a non-empty string, got {request_id!r}")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be an integer from 1 to 5, got {rating!r}")
        if comment is not None and not isinstance(comment, str):
            raise ValueError("comment must be a string or None")
        if time_saved_s is not None and (isinstance(time_saved_s, bool)
                                         or not isinstance(time_saved_s, (int, float))
                                         or not math.isfinite(time_saved_s)):
            raise ValueError(f"time_saved_s must be a finite number or None, got {time_saved_s!r}")
        for name, value in (("use_case", use_case), ("unit_id", unit_id)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
        when = time.time() if ts is None else unix_seconds("ts", ts)
        fid = uuid7_hex()
        self.transport.submit("feedback", {
            "id": fid, "request_id": request_id, "use_case": use_case, "rating": rating, "comment": comment,
            "time_saved_s": None if time_saved_s is None else float(time_saved_s), "unit_id": unit_id,
            "ts": when})
        return fid

    # ---- lifecycle ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Delivery counters (sent, dropped by reason, retries, queue size, last refusal, drops reported to the
        server or not yet), breaker states, budgets."""
        s = self.transport.stats()
        with self.guard_controls._lock:
            names = list(self.guard_controls._breakers)
        s["breakers"] = {m: self.guard_controls.breaker(m).state for m in names}
        s["budgets"] = self.guard_controls.budget_stats()
        return s

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Send pending events now; True when all were sent or dropped within timeout_s."""
        return self.transport.flush(timeout_s)

    def close(self, timeout_s: float | None = None) -> None:
        """Flush and stop the background sender (also done automatically at exit)."""
        self.transport.close(timeout_s)
        self.guard_controls.shutdown()
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
