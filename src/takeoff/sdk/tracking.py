"""`track`: records one AI call (latency, status, outcome, tokens, cost, scores, drift features) as one event.

Over ~400 lines on purpose: the event vocabulary and its validation beside the Tracker that fills it: the server
imports this one definition.

Usable as a context manager (`with client.track(...) as t:`) or a decorator (`@client.track(...)`); inside a
decorated function `current_tracker()` returns the tracker of the call in progress.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar
from collections.abc import Callable

from .ids import uuid7_hex

STATUSES = ("ok", "error", "fallback")
OUTCOMES = ("success", "failure", "escalated", "overridden")
ERROR_CATEGORIES = ("wrong_answer", "unsafe_output", "missing_context", "format_error", "timeout_or_error")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
FUTURE_SKEW_S = 3600.0  # the server refuses events stamped more than an hour ahead of its clock
MAX_ID_LENGTH = 128  # the server's limit on event and feedback ids
MAX_VIOLATIONS = 20  # the server's limit on safety findings per event

Emit = Callable[[dict[str, Any]], Any]
F = TypeVar("F", bound=Callable[..., Any])

_current: contextvars.ContextVar[Tracker | None] = contextvars.ContextVar("takeoff_tracker", default=None)


def current_tracker() -> Tracker | None:
    """The tracker of the innermost `track` block or decorated call running in this context, if any."""
    return _current.get()


def _non_empty_str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _opt_str(name: str, value: Any) -> str | None:
    if value is None:
        return None
    return _non_empty_str(name, value)


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def unix_seconds(name: str, value: Any, now_s: float | None = None) -> float:
    """Unix seconds of a timezone-aware datetime or a positive finite number, at most an hour ahead of now."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime (e.g. datetime.now(UTC)), got naive {value!r}")
        seconds = value.timestamp()
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a timezone-aware datetime or finite Unix seconds, got {value!r}")
    else:
        seconds = float(value)
    if seconds <= 0:
        raise ValueError(f"{name} must be after 1970-01-01T00:00:00Z, got {value!r}")
    if seconds > (time.time() if now_s is None else now_s) + FUTURE_SKEW_S:
        raise ValueError(f"{name} is more than an hour in the future: {value!r}")
    return seconds


def check_id(name: str, value: Any) -> str:
    """An id given by the caller: a non-empty string the server accepts (at most 128 characters)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters, got {value!r}")
    return value


def release_fields(release: Any) -> tuple[str | None, str | None, str | None]:
    """(release_id, model, provider) from a release id string, an ActiveConfig-like object, or None."""
    if release is None:
        return None, None, None
    if isinstance(release, str):
        return _non_empty_str("release", release), None, None
    rid = getattr(release, "release_id", None)
    if isinstance(rid, str) or rid is None:
        return rid, getattr(release, "model", None), getattr(release, "provider", None)
    raise ValueError(f"release must be a release id string, an ActiveConfig or None, got {release!r}")


class Tracker:
    """The event being recorded for one call; its `request_id` is what `client.feedback` refers to."""

    def __init__(self, emit: Emit, use_case: str, *, release: Any = None, unit_id: str | None = None,
                 model: str | None = None, provider: str | None = None) -> None:
        self._emit = emit
        self.use_case = _non_empty_str("use_case", use_case)
        rid, rmodel, rprovider = release_fields(release)
        self.request_id = uuid7_hex()  # time-ordered: see ids.py
        self._event: dict[str, Any] = {
            "id": self.request_id, "use_case": use_case, "release": rid,
            "unit_id": _opt_str("unit_id", unit_id), "ts": time.time(), "latency_ms": None, "status": "ok",
            "outcome": None, "model": _opt_str("model", model) or rmodel,
            "provider": _opt_str("provider", provider) or rprovider, "tokens": {}, "cost_usd": None,
            "scores": {}, "features": {}, "error_category": None, "fallback_reason": None, "attributes": {},
        }
        self._started: float | None = None
        self._finished = False
        self._finish_hooks: list[Callable[[dict[str, Any]], Any]] = []

    @property
    def finish_hooks(self) -> tuple[Callable[[dict[str, Any]], Any], ...]:
        """The callables that see the final event when the record closes (e.g. a budget settling on its cost)."""
        return tuple(self._finish_hooks)

    def on_finish(self, hook: Callable[[dict[str, Any]], Any]) -> Tracker:
        """Call hook(event) when the record closes, before it is sent; a failing hook never breaks the app."""
        if not callable(hook):
            raise ValueError(f"hook must be callable, got {hook!r}")
        self._finish_hooks.append(hook)
        return self

    @property
    def event(self) -> dict[str, Any]:
        """A copy of the event as it stands."""
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self._event.items()}

    def set_tokens(self, input: int | None = None, output: int | None = None, cache_read: int | None = None,
                   cache_write: int | None = None, reasoning: int | None = None) -> Tracker:
        """Token counts by kind; only the kinds given are set."""
        for kind, n in zip(TOKEN_KINDS, (input, output, cache_read, cache_write, reasoning)):
            if n is None:
                continue
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"tokens {kind} must be an integer >= 0, got {n!r}")
            self._event["tokens"][kind] = n
        return self

    def set_cost(self, usd: float) -> Tracker:
        """Cost of the call in US dollars."""
        if _finite("cost_usd", usd) < 0:
            raise ValueError(f"cost_usd must be >= 0, got {usd!r}")
        self._event["cost_usd"] = float(usd)
        return self

    def set_model(self, model: str, provider: str | None = None) -> Tracker:
        """The model (and provider) that actually answered, e.g. after a fallback."""
        self._event["model"] = _non_empty_str("model", model)
        if provider is not None:
            self._event["provider"] = _non_empty_str("provider", provider)
        return self

    def score(self, name: str, value: float) -> Tracker:
        """A quality score (e.g. groundedness 0..1) computed online."""
        self._event["scores"][_non_empty_str("score name", name)] = _finite(f"score {name}", value)
        return self

    def feature(self, name: str, value: float | str | bool) -> Tracker:
        """An input feature (number, or a category: string or boolean) kept for drift detection."""
        _non_empty_str("feature name", name)
        if isinstance(value, (str, bool)):
            self._event["features"][name] = value
        else:
            self._event["features"][name] = _finite(f"feature {name}", value)
        return self

    def outcome(self, value: str) -> Tracker:
        """Business outcome: success, failure, escalated, or overridden (by a human)."""
        if value not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {value!r}")
        self._event["outcome"] = value
        return self

    def error(self, category: str) -> Tracker:
        """Error category from the seed's taxonomy; timeout_or_error also marks the call's status as error."""
        if category not in ERROR_CATEGORIES:
            raise ValueError(f"error category must be one of {', '.join(ERROR_CATEGORIES)}, got {category!r}")
        self._event["error_category"] = category
        return self

    def fallback(self, reason: str) -> Tracker:
        """The fallback path served this call; the reason is recorded (timeout, circuit_open, ...)."""
        self._event["fallback_reason"] = _non_empty_str("fallback reason", reason)
        return self

    def add_violations(self, findings: Iterable[Any]) -> Tracker:
        """Safety findings on this call (takeoff.sdk.safety.Finding, or dicts with stage, detector and action): which
        detector fired where and what was done, never the text it matched. At most MAX_VIOLATIONS are kept."""
        items = list(findings)
        if not items:
            return self
        kept: list[dict[str, str]] = self._event.setdefault("violations", [])
        for f in items:
            item = f if isinstance(f, Mapping) else {"stage": f.stage, "detector": f.detector, "action": f.action}
            if len(kept) < MAX_VIOLATIONS:
                kept.append({"stage": str(item["stage"]), "detector": str(item["detector"]),
                             "action": str(item["action"])})
        return self

    def attribute(self, key: str, value: str | int | float | bool) -> Tracker:
        """A free attribute (string, number or boolean)."""
        _non_empty_str("attribute key", key)
        if not isinstance(value, (str, int, float, bool)) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"attribute {key} must be a string, finite number or boolean, got {value!r}")
        self._event["attributes"][key] = value
        return self

    def set_content(self, *, system: str | None = None, input: str | Sequence[Mapping[str, str]] | None = None,
                    output: str | Sequence[Mapping[str, str]] | None = None,
                    tool_calls: Sequence[Mapping[str, str | None]] | None = None,
                    documents: Sequence[str] | None = None, redact: bool = False) -> Tracker:
        """What was said: system instructions, input and output (a text, or messages {role, content}), tool calls
        {name, arguments}, retrieved document ids. The server stores it only where the use case's capture policy
        allows (redacted there); `redact=True` also redacts personal data here, before it leaves the application."""
        content: dict[str, Any] = {}
        clean = _redactor(redact)
        if system is not None:
            content["system"] = clean(_text_of("system", system))
        for part, value, role in (("input", input, "user"), ("output", output, "assistant")):
            if value is None:
                continue
            msgs = [{"role": role, "content": value}] if isinstance(value, str) else list(value)
            for m in msgs:
                if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not m.get("role") \
                        or not isinstance(m.get("content"), str):
                    raise ValueError(f"{part} messages must be {{role, content}} with text values, got {m!r}")
            content[part] = [{"role": m["role"], "content": clean(m["content"])} for m in msgs]
        if tool_calls is not None:
            calls = []
            for t in tool_calls:
                if not isinstance(t, Mapping) or not isinstance(t.get("name"), str) or not t.get("name"):
                    raise ValueError(f"tool calls must be {{name, arguments}}, got {t!r}")
                args = t.get("arguments")
                calls.append({"name": t["name"], "arguments": clean(_text_of("arguments", args))
                              if args is not None else None})
            content["tool_calls"] = calls
        if documents is not None:
            content["documents"] = [_non_empty_str("document id", d) for d in documents]
        self._event["content"] = content
        return self

    def set_trace(self, trace_id: str, span_id: str | None = None, parent_span_id: str | None = None) -> Tracker:
        """The W3C trace this call belongs to (32 and 16 lowercase hex digits), to find it from other tools."""
        for name, value, n in (("trace_id", trace_id, 32), ("span_id", span_id, 16),
                               ("parent_span_id", parent_span_id, 16)):
            if value is not None and (not isinstance(value, str) or len(value) != n
                                      or any(c not in "0123456789abcdef" for c in value)):
                raise ValueError(f"{name} must be {n} lowercase hex digits, got {value!r}")
            if value is not None:
                self._event[name] = value
        return self

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Tracker:
        """Mark the start time (done by `with`)."""
        self._event["ts"] = time.time()
        self._started = time.perf_counter()
        return self

    def finish(self, exc: BaseException | None = None) -> dict[str, Any]:
        """Close the record, derive its status and hand the event to the transport (once)."""
        if self._finished:
            return self.event
        self._finished = True
        if self._started is not None and self._event["latency_ms"] is None:
            self._event["latency_ms"] = (time.perf_counter() - self._started) * 1000.0
        if exc is not None:
            self._event["status"] = "error"
            if self._event["error_category"] is None:
                self._event["error_category"] = "timeout_or_error"
            self._event["attributes"].setdefault("exception", type(exc).__name__)
        elif self._event["fallback_reason"] is not None:
            self._event["status"] = "fallback"
        elif self._event["error_category"] == "timeout_or_error":
            self._event["status"] = "error"
        event = self.event
        for hook in self._finish_hooks:
            try:
                hook(event)  # the copy that is sent: hooks read it, one copy for all
            except Exception:  # telemetry must never break the app
                pass
        try:
            self._emit(event)
        except Exception:  # telemetry must never break the app
            pass
        return event

    def __enter__(self) -> Tracker:
        self.start()
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        try:
            _current.reset(self._token)
        except ValueError:
            _current.set(None)  # exited in another context: still close the record
        self.finish(exc)
        return False  # never swallow the app's exception


class TrackSpec:
    """What `client.track(...)` returns: a context manager yielding a Tracker, and a decorator."""

    def __init__(self, emit: Emit, use_case: str, **kwargs: Any) -> None:
        _non_empty_str("use_case", use_case)
        release_fields(kwargs.get("release"))
        for name in ("unit_id", "model", "provider"):
            _opt_str(name, kwargs.get(name))
        self._emit = emit
        self._use_case = use_case
        self._kwargs = kwargs
        self._local = threading.local()  # a spec shared across threads keeps one stack per thread

    def new(self) -> Tracker:
        """A fresh tracker with this spec's use case and release."""
        return Tracker(self._emit, self._use_case, **self._kwargs)

    def __enter__(self) -> Tracker:
        t = self.new()
        self._stack().append(t)
        return t.__enter__()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        return self._stack().pop().__exit__(exc_type, exc, tb)

    def _stack(self) -> list[Tracker]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise ValueError(f"track(...) decorates a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with self.new():
                    return await fn(*args, **kwargs)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.new():
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict or None, got {value!r}")
    return value


def _nowhere(event: dict[str, Any]) -> None:
    """The emit of a tracker used only to build and check an event; the caller submits the event itself."""


def recorded_event(use_case: str, *, ts: datetime | float, latency_ms: float, release: Any = None,
                   unit_id: str | None = None, status: str = "ok", outcome: str | None = None,
                   tokens: Mapping[str, int] | None = None, cost_usd: float | None = None, model: str | None = None,
                   provider: str | None = None, scores: Mapping[str, float] | None = None,
                   features: Mapping[str, float | str | bool] | None = None, error_category: str | None = None,
                   fallback_reason: str | None = None, attributes: Mapping[str, str | int | float | bool] | None = None,
                   event_id: str | None = None, content: Mapping[str, Any] | None = None,
                   trace_id: str | None = None, span_id: str | None = None,
                   violations: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The event of a call that already happened (backfills, imports), checked by the same setters as a tracked call.
    `content` takes Tracker.set_content's keywords (system, input, output, tool_calls, documents); `violations` the
    safety findings ({stage, detector, action}) the call's policy made.

    Raises ValueError with one message on the first bad field; `status` is taken as given (not derived).
    """
    t = Tracker(_nowhere, use_case, release=release, unit_id=unit_id, model=model, provider=provider)
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if _finite("latency_ms", latency_ms) < 0:
        raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
    if tokens is not None:
        unknown = sorted(str(k) for k in _mapping("tokens", tokens) if k not in TOKEN_KINDS)
        if unknown:
            raise ValueError(f"tokens kinds must be among {', '.join(TOKEN_KINDS)}, got {', '.join(unknown)}")
        t.set_tokens(**tokens)
    if cost_usd is not None:
        t.set_cost(cost_usd)
    for name, value in _mapping("scores", {} if scores is None else scores).items():
        t.score(name, value)
    for name, value in _mapping("features", {} if features is None else features).items():
        t.feature(name, value)
    for key, value in _mapping("attributes", {} if attributes is None else attributes).items():
        t.attribute(key, value)
    if outcome is not None:
        t.outcome(outcome)
    if error_category is not None:
        t.error(error_category)
    if fallback_reason is not None:
        t.fallback(fallback_reason)
    if content is not None:
        unknown = sorted(str(k) for k in _mapping("content", content)
                         if k not in ("system", "input", "output", "tool_calls", "documents"))
        if unknown:
            raise ValueError(f"content parts are system, input, output, tool_calls, documents; got {unknown[0]}")
        t.set_content(**content)
    if trace_id is not None:
        t.set_trace(trace_id, span_id)
    if violations is not None:
        if isinstance(violations, (str, bytes)) or not isinstance(violations, Sequence):
            raise ValueError("violations must be a list of {stage, detector, action}")
        for v in violations:
            if not isinstance(v, Mapping) or not all(isinstance(v.get(k), str) and v.get(k)
                                                     for k in ("stage", "detector", "action")):
                raise ValueError(f"each violation needs stage, detector and action as text, got {v!r}")
        t.add_violations(violations)
    event = t.event
    event.update(id=t.request_id if event_id is None else check_id("event_id", event_id),
                 ts=unix_seconds("ts", ts), latency_ms=float(latency_ms), status=status)
    return event


def _text_of(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}")
    return value


def _redactor(on: bool) -> Callable[[str], str]:
    """The text as given, or with personal data replaced (takeoff.sdk.redact, standard library only)."""
    if not on:
        return lambda text: text
    from . import redact

    return lambda text: redact.redact(text)[0]
