"""The budget rules: UTC day and month windows (year end, leap February), states at the warning share and the limit,
field checks."""
from __future__ import annotations

from datetime import datetime

import pytest

from takeoff.monitoring.budget_rules import check_choice, check_limit, check_warn_share, state_of, window_at


def test_day_and_month_windows_hold_the_instant() -> None:
    now = datetime(2024, 2, 29, 23, 59, 59)
    day = window_at("day", now)
    assert (day.start, day.end, day.key) == (datetime(2024, 2, 29), datetime(2024, 3, 1), "2024-02-29")
    month = window_at("month", now)
    assert (month.start, month.end, month.key) == (datetime(2024, 2, 1), datetime(2024, 3, 1), "2024-02")
    dec = window_at("month", datetime(2025, 12, 31, 12))
    assert (dec.start, dec.end) == (datetime(2025, 12, 1), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="window"):
        window_at("week", now)


@pytest.mark.parametrize(("spend", "state"), [(0.0, "ok"), (79.99, "ok"), (80.0, "near"), (99.99, "near"),
                                              (100.0, "over"), (250.0, "over")])
def test_state_at_the_warning_share_and_the_limit(spend: float, state: str) -> None:
    assert state_of(spend, 100.0, 0.8) == state


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_a_limit_is_dollars_above_zero(bad: float) -> None:
    with pytest.raises(ValueError, match="limit_usd"):
        check_limit(bad)
    assert check_limit(12.5) == 12.5


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.2, -0.1, float("nan")])
def test_the_warning_share_lies_between_zero_and_one(bad: float) -> None:
    with pytest.raises(ValueError, match="warn_share"):
        check_warn_share(bad)
    assert check_warn_share(0.5) == 0.5


def test_choices() -> None:
    assert check_choice("enforce", "fallback", ("alert", "fallback")) == "fallback"
    with pytest.raises(ValueError, match="enforce must be one of alert, fallback"):
        check_choice("enforce", "block", ("alert", "fallback"))
