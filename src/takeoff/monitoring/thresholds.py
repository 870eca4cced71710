"""Pure rules of alert rules: windows, metric names, thresholds and operators, and a metric's value from one
window's totals (raising ValueError; `invalid_field` turns one into a 422 naming the field)."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from takeoff.core.errors import Invalid
from takeoff.telemetry import histogram


TELEMETRY_METRICS: tuple[str, ...] = (
    "latency_p50", "latency_p95", "latency_p99", "throughput", "error_rate", "fallback_rate", "tokens",
    "cost_per_task", "cost_per_active_user", "override_rate", "escalation_rate", "active_users", "repeat_users")
MONITOR_METRICS: tuple[str, ...] = ("error_category_rate", "drift")
OPS: dict[str, Any] = {">": lambda v, t: v > t, ">=": lambda v, t: v >= t, "<": lambda v, t: v < t,
                       "<=": lambda v, t: v <= t}
# Hallucination-like and safety errors (the SDK's error categories, minus plain technical failures).
QUALITY_CATEGORIES: tuple[str, ...] = ("wrong_answer", "unsafe_output", "missing_context", "format_error")
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_WINDOW_S, MAX_WINDOW_S = 60, 30 * 86400


def parse_window(value: Any) -> int:
    """A window in seconds from '5m', '1h', '2d', '90s' or a number of seconds (1 minute to 30 days)."""
    if isinstance(value, bool):
        raise ValueError(f"window must be like '5m', '1h' or seconds, got {value!r}")
    if isinstance(value, (int, float)) and math.isfinite(value):
        seconds = int(value)
    elif isinstance(value, str) and (m := _WINDOW.match(value)):
        seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    else:
        raise ValueError(f"window must be like '5m', '1h' or seconds, got {value!r}")
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValueError(f"window must be between 1 minute and 30 days, got {seconds} s")
    return seconds


def check_metric(metric: Any) -> str:
    """A metric an alert rule may watch: a metrics API name, quality_<score>, error_category_rate, drift[:feature]."""
    if isinstance(metric, str):
        m = metric.strip()
        if m in TELEMETRY_METRICS or m in MONITOR_METRICS:
            return m
        if (m.startswith("quality_") and len(m) > 8) or (m.startswith("drift:") and len(m) > 6):
            return m
    raise ValueError(f"unknown metric {metric!r}; known: {', '.join(TELEMETRY_METRICS + MONITOR_METRICS)}, "
                     "quality_<score name>, drift:<feature>")


def parse_threshold(value: Any) -> float:
    """A finite number (or numeric text) to compare a metric with."""
    if isinstance(value, bool):
        raise ValueError(f"threshold must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"threshold must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"threshold must be a finite number, got {value!r}")
    return float(value)


def check_op(op: Any) -> str:
    """One of >, >=, <, <=."""
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    return str(op)


def breaches(op: str, value: float | None, threshold: float) -> bool:
    """Whether a value breaks the rule; no value (no data) never fires."""
    return value is not None and bool(OPS[check_op(op)](value, threshold))


def quality_errors(error_categories: Mapping[str, int]) -> int:
    """Events tagged with a hallucination-like or safety error category."""
    return sum(int(n) for k, n in error_categories.items() if k in QUALITY_CATEGORIES)


def metric_from_stats(metric: str, ws: Any, window_s: int) -> float | None:
    """The value of a metric over one window from WindowStats-like totals; None where there is no data."""
    count = int(getattr(ws, "count", 0) or 0)
    if metric == "throughput":
        return count / (window_s / 60.0)
    if metric == "tokens":
        tokens = getattr(ws, "tokens", {}) or {}
        return float(tokens.get("input", 0) + tokens.get("output", 0))
    if metric == "active_users":
        return float(getattr(ws, "active_units", 0) or 0)
    if metric.startswith("latency_p"):
        counts = list(getattr(ws, "latency_counts", []) or [])
        if not sum(counts):
            return None
        return histogram.quantile(counts, int(metric[len("latency_p"):]) / 100.0)
    if metric.startswith("quality_"):
        s = (getattr(ws, "scores", {}) or {}).get(metric[len("quality_"):])
        return s[1] / s[0] if s and s[0] else None
    if metric in ("override_rate", "escalation_rate"):
        outcomes = getattr(ws, "outcomes", {}) or {}
        total = sum(outcomes.values())
        key = "overridden" if metric == "override_rate" else "escalated"
        return outcomes.get(key, 0) / total if total else None
    if metric == "cost_per_active_user":
        units = int(getattr(ws, "active_units", 0) or 0)
        return float(ws.cost_usd) / units if units else None
    if count == 0:
        return None
    if metric == "error_rate":
        return ws.errors / count
    if metric == "fallback_rate":
        return ws.fallbacks / count
    if metric == "cost_per_task":
        return float(ws.cost_usd) / count
    if metric == "error_category_rate":
        return quality_errors(getattr(ws, "error_categories", {}) or {}) / count
    raise ValueError(f"metric {metric!r} is not computed from window totals")


def invalid_field(exc: ValueError, field: str) -> Invalid:
    """A rule's ValueError as the 422 naming its field."""
    return Invalid(str(exc), details=[{"field": field, "message": str(exc)}])
