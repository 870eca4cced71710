"""Use-case lifecycle: which status changes are legal, and the record each change leaves.

discovered → proposed → pilot → production, with paused and retired reachable from any active state
(proposed, pilot, production). ``discovered`` is a shadow-AI use case found in telemetry: it is either
registered (→ proposed) or shut down (→ retired). A paused use case resumes to the state it was paused from,
or to pilot; retired is terminal. Moving to production needs a named business owner (the seed: "business
owner: owns the KPI and adoption"). A use case the EU AI Act prohibits never advances to pilot or production,
so it is blocked from leaving proposed except to be retired or paused. The service maps ``TransitionError``
to HTTP 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DISCOVERED = "discovered"
PROPOSED = "proposed"
PILOT = "pilot"
PRODUCTION = "production"
PAUSED = "paused"
RETIRED = "retired"

STATUSES: tuple[str, ...] = (DISCOVERED, PROPOSED, PILOT, PRODUCTION, PAUSED, RETIRED)
ACTIVE_STATUSES: tuple[str, ...] = (PROPOSED, PILOT, PRODUCTION)
TERMINAL_STATUSES: tuple[str, ...] = (RETIRED,)

# The graph before conditions (owner, EU AI Act category, where a pause came from) are applied.
_EDGES: dict[str, tuple[str, ...]] = {
    DISCOVERED: (PROPOSED, RETIRED),
    PROPOSED: (PILOT, PAUSED, RETIRED),
    PILOT: (PRODUCTION, PAUSED, RETIRED),
    PRODUCTION: (PAUSED, RETIRED),
    PAUSED: (PROPOSED, PILOT, PRODUCTION, RETIRED),
    RETIRED: (),
}
# Statuses in which an AI system is actually used, which the EU AI Act forbids for prohibited practices.
_IN_USE: tuple[str, ...] = (PILOT, PRODUCTION)
# Art. 5 practices: "prohibited" in takeoff, "unacceptable risk" in the Act's own wording.
PROHIBITED_CATEGORIES: frozenset[str] = frozenset({"prohibited", "unacceptable", "unacceptable_risk"})


class TransitionError(ValueError):
    """An illegal lifecycle transition (the API answers 409 Conflict)."""


def _check_status(status: object, what: str) -> str:
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError(f"{what} must be one of {', '.join(STATUSES)}, got {status!r}")
    return status


def is_prohibited(eu_category: str | None) -> bool:
    """Whether an EU AI Act category means a prohibited (unacceptable-risk) practice."""
    if eu_category is None:
        return False
    if not isinstance(eu_category, str):
        raise ValueError(f"eu_category must be a string or None, got {eu_category!r}")
    return eu_category.strip().lower().replace("-", "_").replace(" ", "_") in PROHIBITED_CATEGORIES


def _blocker(
    current: str, target: str, *, has_business_owner: bool, prohibited: bool, paused_from: str | None
) -> str | None:
    """Why current → target is illegal, or None when it is allowed."""
    if current == target:
        return f"use case is already {current}"
    if current in TERMINAL_STATUSES:
        return f"use case is {current}, a final state; register a new use case instead"
    if target not in _EDGES[current]:
        allowed = ", ".join(_EDGES[current]) or "none"
        return f"cannot move from {current} to {target}; allowed from {current}: {allowed}"
    if current == PAUSED and target not in (PILOT, RETIRED) and target != paused_from:
        origin = paused_from or "an unknown state"
        return f"a paused use case resumes to the state it was paused from ({origin}) or to pilot, not {target}"
    if prohibited and target in _IN_USE:
        return (
            f"use case is prohibited under the EU AI Act and cannot move to {target}; "
            "it may only stay proposed, be paused or be retired"
        )
    if target == PRODUCTION and not has_business_owner:
        return "moving to production requires a named business owner who owns the KPI and adoption"
    return None


def _check_flags(has_business_owner: object, paused_from: object) -> None:
    if not isinstance(has_business_owner, bool):
        raise ValueError(f"has_business_owner must be true or false, got {has_business_owner!r}")
    if paused_from is not None:
        _check_status(paused_from, "paused_from")
        if paused_from not in ACTIVE_STATUSES:
            raise ValueError(f"paused_from must be one of {', '.join(ACTIVE_STATUSES)}, got {paused_from!r}")


def check_transition(
    current: str,
    target: str,
    *,
    has_business_owner: bool,
    eu_category: str | None,
    paused_from: str | None = None,
) -> None:
    """Raise ``TransitionError`` with the reason when current → target is not allowed; return None if it is."""
    _check_status(current, "current status")
    _check_status(target, "target status")
    _check_flags(has_business_owner, paused_from)
    why = _blocker(
        current,
        target,
        has_business_owner=has_business_owner,
        prohibited=is_prohibited(eu_category),
        paused_from=paused_from,
    )
    if why is not None:
        raise TransitionError(why)


def allowed_targets(
    current: str,
    *,
    has_business_owner: bool,
    eu_category: str | None,
    paused_from: str | None = None,
) -> list[str]:
    """Statuses reachable from ``current`` right now, in lifecycle order (for buttons and CLI hints)."""
    _check_status(current, "current status")
    _check_flags(has_business_owner, paused_from)
    prohibited = is_prohibited(eu_category)
    return [
        t
        for t in STATUSES
        if _blocker(
            current, t, has_business_owner=has_business_owner, prohibited=prohibited, paused_from=paused_from
        )
        is None
    ]


@dataclass(frozen=True)
class Transition:
    """One recorded status change: who, when, why (and, for a pause, where to resume)."""

    use_case: str
    from_status: str
    to_status: str
    actor: str
    reason: str
    at: datetime
    paused_from: str | None  # set when to_status is paused, so a later resume knows its origin


def make_transition(
    use_case: str,
    current: str,
    target: str,
    *,
    actor: str,
    reason: str,
    at: datetime,
    has_business_owner: bool,
    eu_category: str | None,
    paused_from: str | None = None,
) -> Transition:
    """Check a transition and build its who/when/why record; a reason and an actor are mandatory."""
    if not isinstance(use_case, str) or not use_case.strip():
        raise ValueError("use_case must be a non-empty name")
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("a transition needs the name of who made it")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a transition needs a reason saying why")
    if not isinstance(at, datetime):
        raise ValueError(f"at must be a datetime, got {at!r}")
    check_transition(
        current, target, has_business_owner=has_business_owner, eu_category=eu_category, paused_from=paused_from
    )
    return Transition(
        use_case=use_case.strip(),
        from_status=current,
        to_status=target,
        actor=actor.strip(),
        reason=reason.strip(),
        at=at,
        paused_from=current if target == PAUSED else None,
    )
