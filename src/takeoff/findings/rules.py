"""Pure rules of audit findings: the vocabularies, status transitions, due dates, and which quarter a finding
belongs to (the quarterly review reads the findings that were open at any time in the quarter)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("open", "in_progress", "closed")
SOURCES: tuple[str, ...] = ("internal_audit", "external_audit", "readiness_review", "regulator", "self_assessment")
OPEN_STATUSES: frozenset[str] = frozenset({"open", "in_progress"})
# Status moves a person may make with an update; closing goes through close() because it needs a resolution.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress"}),
    "in_progress": frozenset({"open"}),
    "closed": frozenset({"open"}),  # reopened: the fix did not hold
}


def check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    """The value when it is one of `allowed`, else ValueError naming the choices."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def check_transition(current: str, new: str) -> None:
    """ValueError unless `new` is a status an update may move to from `current`."""
    check_choice(new, STATUSES, "status")
    if new == "closed":
        raise ValueError("close a finding with its resolution (POST /findings/{id}/close), not a status update")
    if new == current:
        raise ValueError(f"the finding is already {current}")
    if new not in TRANSITIONS[current]:
        raise ValueError(f"a finding that is {current} cannot move to {new}")


def check_dates(found_on: date, due_on: date | None, today: date) -> None:
    """A finding is not found in the future, and is not due before it was found."""
    if found_on > today:
        raise ValueError(f"found_on {found_on.isoformat()} is in the future")
    if due_on is not None and due_on < found_on:
        raise ValueError(f"due_on {due_on.isoformat()} is before found_on {found_on.isoformat()}")


def overdue(status: str, due_on: date | None, today: date) -> bool:
    """Past its due date and not closed."""
    return status in OPEN_STATUSES and due_on is not None and due_on < today


@dataclass(frozen=True)
class Span:
    """When a finding was open: from the day it was found until it was closed (None: still open)."""

    found_on: date
    closed_at: datetime | None


def open_during(span: Span, start: date, end: date) -> bool:
    """True when the finding was open at some time in [start, end): found before the end, not closed before the start."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    if span.found_on >= end:
        return False
    return span.closed_at is None or span.closed_at.date() >= start
