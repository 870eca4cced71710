"""Pure rules of alert rules: windows, metric names (the telemetry metric registry, plus monitoring's drift
metrics registered here), thresholds and operators, and a metric's value from one window's totals (raising
ValueError; `invalid_field` turns one into a 422 naming the field)."""
from __future__ import annotations

import math
import re
from typing import Any

from takeoff.core.errors import Invalid
from takeoff.telemetry import metrics
from takeoff.telemetry.metrics import Metric, register_metric


OPS: dict[str, Any] = {">": lambda v, t: v > t, ">=": lambda v, t: v >= t, "<": lambda v, t: v < t,
                       "<=": lambda v, t: v <= t}
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_WINDOW_S, MAX_WINDOW_S = 60, 30 * 86400

# Monitoring's own metrics, read from the latest drift check (not from rollups: alert rules only).
register_metric(Metric("drift", "features", "features drifted at the latest drift check", "high", "drift"))
register_metric(Metric("drift:", "PSI", "population stability index of <feature> at the latest drift check", "high",
                       "drift", family=True))


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
    """A metric an alert rule may watch: any registered metric (telemetry's, quality_<score>, error_category_rate,
    monitoring's drift and drift:<feature>)."""
    return metrics.check_metric(metric.strip() if isinstance(metric, str) else metric)


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


def metric_from_stats(metric: str, ws: Any, window_s: int) -> float | None:
    """The value of a metric over one window from WindowStats-like totals (the registry's computation, the one
    telemetry series use); None where there is no data."""
    try:
        return metrics.metric_value(metric, metrics.window_totals(ws), window_s)
    except ValueError:
        raise ValueError(f"metric {metric!r} is not computed from window totals") from None


def invalid_field(exc: ValueError, field: str) -> Invalid:
    """A rule's ValueError as the 422 naming its field."""
    return Invalid(str(exc), details=[{"field": field, "message": str(exc)}])
