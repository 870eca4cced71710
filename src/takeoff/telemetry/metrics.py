"""The metric registry: one definition of every metric (name, unit, description, the rollup columns it reads, how it
is computed from a bucket's totals, which direction is bad, what it speaks to), the extension point for a new one.

Telemetry series and the metrics API, the dashboards, monitoring's alert rules and its readiness evidence all read
this registry; the defaults below are registered through `register_metric` like any other. A metric computed from
rollup totals has a `value`; one read elsewhere (monitoring's drift) has none and is accepted by alert rules only.
The event vocabulary (statuses, outcomes, error categories, token kinds) is the SDK's: the server imports it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from takeoff.sdk.tracking import ERROR_CATEGORIES, OUTCOMES, STATUSES, TOKEN_KINDS
from takeoff.telemetry import rollup

# Hallucination-like and safety errors: the SDK's error categories minus the plain technical failure.
TECHNICAL_ERROR = "timeout_or_error"
QUALITY_ERROR_CATEGORIES: tuple[str, ...] = tuple(c for c in ERROR_CATEGORIES if c != TECHNICAL_ERROR)
VOCABULARY: dict[str, tuple[str, ...]] = {"statuses": STATUSES, "outcomes": OUTCOMES,
                                          "error_categories": ERROR_CATEGORIES, "token_kinds": TOKEN_KINDS}

Bad = Literal["high", "low"]
Aspect = Literal["latency", "volume", "reliability", "quality", "cost", "adoption", "delivery", "drift", "safety"]
Compute = Callable[[rollup.Totals, int], float | None]
MemberCompute = Callable[[str, rollup.Totals], float | None]


@dataclass(frozen=True)
class Metric:
    """One metric. A `family` name ends with "_" or ":" and stands for every `<name><suffix>` (quality_<score>)."""

    name: str
    unit: str
    description: str
    bad: Bad  # the direction of trouble: an alert rule usually fires above ("high") or below ("low") a threshold
    aspect: Aspect
    columns: tuple[str, ...] = ()  # the rollup columns a series of it reads
    value: Compute | None = None  # from one bucket's (or window's) totals and its length in seconds
    family: bool = False
    member_value: MemberCompute | None = None  # a family's: from a member's suffix and the totals

    @property
    def series(self) -> bool:
        """Whether telemetry can draw it from rollups (the metrics API and the dashboards)."""
        return bool(self.columns)


_METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add a metric to the registry (a name is registered once); returns it."""
    if not isinstance(metric, Metric) or not metric.name or metric.name in _METRICS:
        raise ValueError(f"metric {getattr(metric, 'name', metric)!r} is not a new Metric")
    if metric.family and metric.name[-1] not in "_:":
        raise ValueError(f"a metric family's name ends with '_' or ':', got {metric.name!r}")
    _METRICS[metric.name] = metric
    return metric


def registered(*, series: bool | None = None) -> list[Metric]:
    """Every registered metric in registration order; `series=True` only those telemetry draws from rollups."""
    return [m for m in _METRICS.values() if series is None or m.series == series]


def names(*, series: bool | None = None) -> tuple[str, ...]:
    """The plain (non-family) metric names, in registration order."""
    return tuple(m.name for m in registered(series=series) if not m.family)


def _families(series: bool | None) -> list[str]:
    return [f"{m.name}<{'score name' if m.name == 'quality_' else 'name'}>" for m in registered(series=series)
            if m.family]


def get(name: Any, *, series: bool = False) -> Metric:
    """The metric a name stands for (a family's member resolves to the family); ValueError naming the known ones."""
    m = None
    if isinstance(name, str):
        m = _METRICS.get(name)
        if m is None or m.family:  # a family's bare prefix ("quality_") is no metric
            m = next((f for f in _METRICS.values() if f.family and name.startswith(f.name) and len(name) > len(f.name)),
                     None)
    if m is not None and (m.series or not series):
        return m
    scope = True if series else None
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(list(names(series=scope)) + _families(scope))}")


def check_metric(name: Any, *, series: bool = False) -> str:
    """The name if it is a registered metric (`series=True`: one telemetry draws), else ValueError."""
    get(name, series=series)
    return str(name)


def metric_value(name: str, totals: rollup.Totals, seconds: int) -> float | None:
    """A metric's value over one bucket or window of `seconds`; None where a ratio or quantile has no data."""
    return compute(name)(totals, seconds)


def compute(name: str) -> Compute:
    """A metric's computation, resolved once (a series applies it to every bucket)."""
    m = get(name)
    member_value = m.member_value
    if member_value is not None:
        member = name[len(m.name):]
        return lambda totals, _seconds: member_value(member, totals)
    if m.value is None:
        raise ValueError(f"metric {name!r} is not computed from one bucket's totals")
    return m.value


def window_totals(ws: Any) -> rollup.Totals:
    """A window's totals (telemetry's WindowStats, or anything shaped like it) as the Totals metrics read."""
    tokens = getattr(ws, "tokens", None) or {}
    dropped = getattr(ws, "dropped", None) or {}
    return rollup.Totals(
        count=int(getattr(ws, "count", 0) or 0), errors=int(getattr(ws, "errors", 0) or 0),
        fallbacks=int(getattr(ws, "fallbacks", 0) or 0), cost_usd=float(getattr(ws, "cost_usd", 0) or 0),
        tokens=int(tokens.get("input", 0) + tokens.get("output", 0)),
        latency={str(i): int(n) for i, n in enumerate(getattr(ws, "latency_counts", None) or []) if n},
        outcomes=dict(getattr(ws, "outcomes", None) or {}),
        scores={k: list(v) for k, v in (getattr(ws, "scores", None) or {}).items()},
        error_categories=dict(getattr(ws, "error_categories", None) or {}),
        violations=dict(getattr(ws, "violations", None) or {}),
        dropped=int(sum(dropped.values())), known_units=int(getattr(ws, "active_units", 0) or 0))


def violations_with(violations: Mapping[str, int], action: str | None = None) -> int:
    """Safety findings (takeoff.sdk.safety) in the totals, all or those that took `action` (not the resolved count)."""
    return sum(int(n) for k, n in violations.items()
               if k != rollup.RESOLVED_VIOLATIONS and (action is None or k.rsplit(":", 1)[-1] == action))


def violations_resolved(violations: Mapping[str, int]) -> int:
    """Safety findings of the bucket's requests resolved since (by a review or a resolved incident)."""
    return int(violations.get(rollup.RESOLVED_VIOLATIONS, 0))


def quality_errors(error_categories: Mapping[str, int]) -> int:
    """Events tagged with a hallucination-like or safety error category."""
    return sum(int(n) for k, n in error_categories.items() if k in QUALITY_ERROR_CATEGORIES)


# ---------------------------------------------------------------------------------------------- the defaults
def _ratio(part: Callable[[rollup.Totals], float]) -> Compute:
    """part / events; None without events."""
    return lambda t, _s: part(t) / t.count if t.count else None


def _outcome_share(outcome: str) -> Compute:
    """Events with this outcome / events with an outcome; None when none has one."""
    def share(t: rollup.Totals, _s: int) -> float | None:
        with_outcome = sum(t.outcomes.values())
        return t.outcomes.get(outcome, 0) / with_outcome if with_outcome else None
    return share


def _latency(q: float) -> Compute:
    return lambda t, _s: rollup.quantile_of_cdf(*t.latency_cdf(), q)


def _cost_per_user(t: rollup.Totals, _s: int) -> float | None:
    users = t.active_units()
    return t.cost_usd / users if users else None


def _quality(score: str, t: rollup.Totals) -> float | None:
    s = t.scores.get(score)
    return s[1] / s[0] if s and s[0] else None


def _register_defaults(metrics: Sequence[Metric]) -> None:
    for m in metrics:
        register_metric(m)


_register_defaults([
    Metric("latency_p50", "ms", "median latency, ms", "high", "latency", ("latency",), _latency(0.50)),
    Metric("latency_p95", "ms", "95th percentile latency, ms", "high", "latency", ("latency",), _latency(0.95)),
    Metric("latency_p99", "ms", "99th percentile latency, ms", "high", "latency", ("latency",), _latency(0.99)),
    Metric("throughput", "events/min", "events per minute", "low", "volume", ("count",),
           lambda t, s: t.count / (s / 60.0)),
    Metric("error_rate", "ratio", "errors / events", "high", "quality", ("count", "errors"), _ratio(lambda t: t.errors)),
    Metric("fallback_rate", "ratio", "fallbacks / events", "high", "reliability", ("count", "fallbacks"),
           _ratio(lambda t: t.fallbacks)),
    Metric("tokens", "tokens", "input + output tokens", "high", "cost", ("tokens_input", "tokens_output"),
           lambda t, _s: float(t.tokens)),
    Metric("cost_per_task", "USD", "USD per event", "high", "cost", ("count", "cost_usd"),
           _ratio(lambda t: t.cost_usd)),
    Metric("cost_per_active_user", "USD", "USD per distinct active unit", "high", "cost", ("cost_usd", "units"),
           _cost_per_user),
    Metric("override_rate", "ratio", "overridden / events with an outcome", "high", "quality", ("outcomes",),
           _outcome_share("overridden")),
    Metric("escalation_rate", "ratio", "escalated / events with an outcome", "high", "quality", ("outcomes",),
           _outcome_share("escalated")),
    Metric("active_users", "units", "distinct units (approximate above 256)", "low", "adoption", ("units",),
           lambda t, _s: float(t.active_units())),
    # repeat users depend on the buckets before this one: series and alert rules read them with
    # rollup.returning_estimates over the unit sketches, so the metric has no per-bucket value
    Metric("repeat_users", "units", "units active in the bucket that were also active in the range's length before "
           "it (returning users; exact below 256 units per bucket)", "low", "adoption", ("units",)),
    Metric("dropped_events", "events", "events the SDKs dropped before delivery (queue full, refused), by arrival "
           "of their report", "high", "delivery", ("dropped",), lambda t, _s: float(t.dropped)),
    Metric("error_category_rate", "ratio", "events with a hallucination-like or safety error category / events",
           "high", "quality", ("count", "error_categories"), _ratio(lambda t: quality_errors(t.error_categories))),
    Metric("policy_violations", "findings", "safety filter findings on inputs and outputs (any detector, any "
           "action)", "high", "safety", ("violations",), lambda t, _s: float(violations_with(t.violations))),
    Metric("policy_violation_rate", "ratio", "safety filter findings / events", "high", "safety",
           ("count", "violations"), _ratio(lambda t: violations_with(t.violations))),
    Metric("policy_blocks", "findings", "calls a safety filter blocked (answered with the policy's fallback)",
           "high", "safety", ("violations",), lambda t, _s: float(violations_with(t.violations, "block"))),
    Metric("policy_violations_resolved", "findings", "safety filter findings of the bucket's requests resolved since: "
           "a reviewer marked them handled, or an incident a review linked the request to was resolved", "low",
           "safety", ("violations",), lambda t, _s: float(violations_resolved(t.violations))),
    Metric("quality_", "score", "mean of the quality score <name>", "low", "quality", ("scores",), family=True,
           member_value=_quality),
])
