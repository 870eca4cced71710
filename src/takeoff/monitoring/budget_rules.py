"""Cost budget rules (pure): the budget window around an instant, the state of a spend against its limit, and the
validation of a budget's fields."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

WINDOWS = ("day", "month")
ENFORCE = ("alert", "fallback")
DEFAULT_WARN_SHARE = 0.8
State = Literal["ok", "near", "over"]


@dataclass(frozen=True)
class Window:
    """A budget window [start, end) in UTC; `key` names it in alert keys (one alert per level per window)."""

    start: datetime
    end: datetime
    key: str


def window_at(window: str, now: datetime) -> Window:
    """The UTC calendar day or month containing `now` (naive UTC datetimes, as the database stores them)."""
    if window == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start, start + timedelta(days=1), start.strftime("%Y-%m-%d"))
    if window == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return Window(start, end, start.strftime("%Y-%m"))
    raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")


def state_of(spend_usd: float, limit_usd: float, warn_share: float) -> State:
    """'over' once the spend reaches the limit, 'near' from warn_share of it, else 'ok'."""
    if spend_usd >= limit_usd:
        return "over"
    if spend_usd >= warn_share * limit_usd:
        return "near"
    return "ok"


def check_limit(limit_usd: float) -> float:
    """A limit is a finite amount of dollars above zero."""
    if not (limit_usd > 0) or limit_usd != limit_usd or limit_usd == float("inf"):
        raise ValueError(f"limit_usd must be a number of dollars above 0, got {limit_usd!r}")
    return float(limit_usd)


def check_warn_share(warn_share: float) -> float:
    """The share of the limit that warns: above 0 and below 1 (0.8 warns at 80 %)."""
    if not (0 < warn_share < 1):
        raise ValueError(f"warn_share must be above 0 and below 1 (0.8 warns at 80 %), got {warn_share!r}")
    return float(warn_share)


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """One of the allowed words."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
