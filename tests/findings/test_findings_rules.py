"""Pure rules of audit findings: transitions, dates, overdue, and which findings belong to a period."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from takeoff.findings import rules


def test_transitions_allow_work_and_reopen_but_close_needs_its_own_step():
    rules.check_transition("open", "in_progress")
    rules.check_transition("in_progress", "open")
    rules.check_transition("closed", "open")
    with pytest.raises(ValueError, match="resolution"):
        rules.check_transition("open", "closed")
    with pytest.raises(ValueError, match="already open"):
        rules.check_transition("open", "open")
    with pytest.raises(ValueError, match="cannot move"):
        rules.check_transition("closed", "in_progress")
    with pytest.raises(ValueError, match="status must be one of"):
        rules.check_transition("open", "done")


def test_dates_and_overdue():
    today = date(2026, 11, 25)
    rules.check_dates(date(2026, 11, 1), date(2026, 12, 1), today)
    with pytest.raises(ValueError, match="in the future"):
        rules.check_dates(date(2026, 11, 26), None, today)
    with pytest.raises(ValueError, match="before found_on"):
        rules.check_dates(date(2026, 11, 20), date(2026, 11, 19), today)
    assert rules.overdue("open", date(2026, 11, 24), today)
    assert rules.overdue("in_progress", date(2026, 11, 24), today)
    assert not rules.overdue("closed", date(2026, 11, 24), today)
    assert not rules.overdue("open", date(2026, 11, 25), today)
    assert not rules.overdue("open", None, today)


@pytest.mark.parametrize(("found", "closed", "expected"), [
    (date(2026, 8, 1), None, True),  # found before the quarter, still open
    (date(2026, 11, 2), None, True),  # new in the quarter
    (date(2026, 8, 1), datetime(2026, 10, 5, tzinfo=UTC), True),  # closed within the quarter
    (date(2026, 8, 1), datetime(2026, 9, 30, tzinfo=UTC), False),  # closed before the quarter began
    (date(2027, 1, 1), None, False),  # found after the quarter
])
def test_open_during_a_quarter(found, closed, expected):
    assert rules.open_during(rules.Span(found, closed), date(2026, 10, 1), date(2027, 1, 1)) is expected


def test_open_during_needs_a_real_period():
    with pytest.raises(ValueError):
        rules.open_during(rules.Span(date(2026, 1, 1), None), date(2026, 2, 1), date(2026, 2, 1))
