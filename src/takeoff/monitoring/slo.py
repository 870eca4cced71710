"""SLOs derived from a use case's scale targets, error budgets and multi-window burn-rate alerts.

Every SLO is counted in good / total events so that budgets and burn rates read the same way for all of them:
  availability   good = requests without error; objective = the availability target (or 1 - max error rate)
  latency_p95    good = requests no slower than the target; objective 0.95 ("p95 <= X ms" means 95 % of calls
                 are within X), counted from the fixed latency histogram
  quality        good = scored tasks that pass; objective = the minimum eval pass rate
  cost_per_task  time-sliced: good = rollup minutes whose cost per task is within target; objective 0.99
                 (cost is an average, not a per-event pass/fail)

Burn rate = observed bad fraction / allowed bad fraction (1 - objective): 1x spends the budget exactly over the
SLO window. Alerts follow the Google SRE workbook's multi-window, multi-burn-rate scheme: a pair fires only when
BOTH its long window (real, sustained) and its short window (still happening) burn at or above its rate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from takeoff.telemetry.histogram import BUCKET_COUNT, LATENCY_EDGES_MS, LATENCY_MIN_MS, check_latency_counts

SloKind = Literal["availability", "latency_p95", "quality", "cost_per_task"]
DEFAULT_SLO_WINDOW: str = "30d"
COST_SLICE_OBJECTIVE: float = 0.99
_TARGET_KEYS = {"availability", "max_error_rate", "latency_p95_ms", "min_quality", "cost_per_task"}
_DURATION = re.compile(r"^(\d+)([mhd])$")


@dataclass(frozen=True)
class SLO:
    """A service level objective: fraction ``objective`` of events must be good over ``window``."""

    name: SloKind
    objective: float
    threshold: float | None
    window: str = DEFAULT_SLO_WINDOW
    description: str = ""


@dataclass(frozen=True)
class ErrorBudget:
    """Budget state: SLI, bad events allowed and spent, share of budget remaining (negative when overspent)."""

    sli: float | None
    allowed_bad: float
    bad: int
    consumed: float
    remaining: float


@dataclass(frozen=True)
class AlertPair:
    """A long/short window pair and the burn rate both must reach to fire."""

    long: str
    short: str
    burn_rate: float
    severity: Literal["page", "ticket"]


@dataclass(frozen=True)
class PairState:
    """Burn rates seen for one pair and whether it fires."""

    long: str
    short: str
    threshold: float
    severity: str
    long_burn: float
    short_burn: float
    firing: bool


@dataclass(frozen=True)
class AlertEvaluation:
    """Pairs that fire, every pair's burn rates, and the budget left over the SLO window (if given)."""

    slo: str
    firing: list[PairState]
    pairs: list[PairState]
    remaining_budget: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"slo": self.slo, "firing": [asdict(p) for p in self.firing],
                "pairs": [asdict(p) for p in self.pairs], "remaining_budget": self.remaining_budget}


# Google SRE workbook, chapter "Alerting on SLOs": 2 % of a 30-day budget in 1 h, 5 % in 6 h -> page; 10 % in 3 d
DEFAULT_POLICY: tuple[AlertPair, ...] = (
    AlertPair("1h", "5m", 14.4, "page"),
    AlertPair("6h", "30m", 6.0, "page"),
    AlertPair("3d", "6h", 1.0, "ticket"),
)


def duration_minutes(window: str) -> int:
    """Minutes in a window written like '5m', '6h' or '30d'."""
    m = _DURATION.match(window) if isinstance(window, str) else None
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"window must look like '5m', '6h' or '3d', got {window!r}")
    return int(m.group(1)) * {"m": 1, "h": 60, "d": 1440}[m.group(2)]


def _fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{what} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def slos_from_targets(targets: Mapping[str, float], window: str = DEFAULT_SLO_WINDOW) -> list[SLO]:
    """SLOs for a use case's targets: availability | max_error_rate, latency_p95_ms, min_quality, cost_per_task."""
    if not isinstance(targets, Mapping):
        raise ValueError("targets must be a mapping of target name -> value")
    unknown = sorted(set(targets) - _TARGET_KEYS)
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(_TARGET_KEYS))}")
    if "availability" in targets and "max_error_rate" in targets:
        raise ValueError("give either availability or max_error_rate, not both")
    duration_minutes(window)
    slos: list[SLO] = []
    if "availability" in targets or "max_error_rate" in targets:
        if "availability" in targets:
            objective = _fraction(targets["availability"], "availability")
        else:
            objective = 1.0 - _fraction(targets["max_error_rate"], "max_error_rate")
        slos.append(SLO("availability", objective, None, window, f"{objective:.3%} of requests without error"))
    if "latency_p95_ms" in targets:
        ms = _positive(targets["latency_p95_ms"], "latency_p95_ms")
        slos.append(SLO("latency_p95", 0.95, ms, window, f"95% of requests within {ms:g} ms"))
    if "min_quality" in targets:
        q = _fraction(targets["min_quality"], "min_quality")
        slos.append(SLO("quality", q, None, window, f"{q:.1%} of scored tasks pass"))
    if "cost_per_task" in targets:
        c = _positive(targets["cost_per_task"], "cost_per_task")
        slos.append(SLO("cost_per_task", COST_SLICE_OBJECTIVE, c, window,
                        f"{COST_SLICE_OBJECTIVE:.0%} of minutes with cost per task <= {c:g}"))
    if not slos:
        raise ValueError("no targets given: nothing to derive SLOs from")
    return slos


def latency_good_count(counts: Sequence[int], threshold_ms: float) -> float:
    """Requests at or under a latency threshold, read from the fixed histogram (log-interpolated in its bucket)."""
    c = check_latency_counts(counts)
    t = _positive(threshold_ms, "latency threshold")
    good = 0.0
    for i, n in enumerate(c):
        lo = 0.0 if i == 0 else LATENCY_EDGES_MS[i - 1]
        hi = LATENCY_MIN_MS if i == 0 else (LATENCY_EDGES_MS[i] if i < BUCKET_COUNT - 1 else math.inf)
        if hi <= t:
            good += n
        elif lo < t and n:
            frac = t / hi if i == 0 else (0.0 if math.isinf(hi) else math.log(t / lo) / math.log(hi / lo))
            good += n * frac
    return good


def _good_total(good: Any, total: Any) -> tuple[float, float]:
    for v, what in ((good, "good"), (total, "total")):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{what} events must be a number >= 0, got {v!r}")
    if good > total:
        raise ValueError(f"good events ({good}) cannot exceed total events ({total})")
    return float(good), float(total)


def error_budget(slo: SLO, good: float, total: float) -> ErrorBudget:
    """Error budget over the SLO window: what (1 - objective) of total allows, and how much is spent."""
    if not isinstance(slo, SLO):
        raise ValueError("slo must be an SLO")
    g, t = _good_total(good, total)
    _fraction(slo.objective, "SLO objective")
    allowed = (1.0 - slo.objective) * t
    bad = t - g
    if t == 0:
        return ErrorBudget(None, 0.0, 0, 0.0, 1.0)
    consumed = bad / allowed
    return ErrorBudget(g / t, allowed, int(round(bad)), consumed, 1.0 - consumed)


def burn_rate(good: float, total: float, objective: float) -> float:
    """How many times faster than allowed the budget burns in a window (0 when the window saw no events)."""
    g, t = _good_total(good, total)
    obj = _fraction(objective, "objective")
    if t == 0:
        return 0.0
    return ((t - g) / t) / (1.0 - obj)


def _check_policy(policy: Sequence[AlertPair]) -> tuple[AlertPair, ...]:
    if isinstance(policy, (str, bytes)) or not isinstance(policy, Sequence) or not policy:
        raise ValueError("policy must be a non-empty sequence of AlertPair")
    for pair in policy:
        if not isinstance(pair, AlertPair):
            raise ValueError("policy must hold AlertPair items")
        if duration_minutes(pair.short) >= duration_minutes(pair.long):
            raise ValueError(f"alert pair {pair.long}/{pair.short}: the short window must be shorter than the long")
        _positive(pair.burn_rate, "alert pair burn rate")
    return tuple(policy)


def multiwindow_alerts(
    slo: SLO,
    windows_data: Mapping[str, tuple[float, float]],
    policy: Sequence[AlertPair] = DEFAULT_POLICY,
) -> AlertEvaluation:
    """Alert pairs that fire for an SLO, given (good, total) per window ('5m', '1h', ...; the SLO window for budget)."""
    if not isinstance(slo, SLO):
        raise ValueError("slo must be an SLO")
    if not isinstance(windows_data, Mapping):
        raise ValueError("windows_data must map a window like '1h' to (good, total)")
    pairs = _check_policy(policy)

    def counts(window: str) -> tuple[float, float]:
        if window not in windows_data:
            raise ValueError(f"no (good, total) given for window {window!r}, which the alert policy needs")
        value = windows_data[window]
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError(f"window {window!r}: expected (good, total), got {value!r}")
        return value[0], value[1]

    states = []
    for pair in pairs:
        long_burn = burn_rate(*counts(pair.long), slo.objective)
        short_burn = burn_rate(*counts(pair.short), slo.objective)
        firing = long_burn >= pair.burn_rate and short_burn >= pair.burn_rate
        states.append(PairState(pair.long, pair.short, pair.burn_rate, pair.severity, long_burn, short_burn, firing))
    remaining = None
    if slo.window in windows_data:
        remaining = error_budget(slo, *counts(slo.window)).remaining
    return AlertEvaluation(slo.name, [s for s in states if s.firing], states, remaining)
