"""In-process domain events: typed facts one domain publishes and others react to in their flows.py.

A domain imports a LOWER domain's service directly; it reacts to a same-floor or higher domain only through these
events. Handlers are registered once at start by the composition root (takeoff.flows_registry) and run in the
publisher's session, so a reaction commits or rolls back with the fact that caused it. This module imports no domain.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from takeoff.core.actor import Actor


# --------------------------------------------------------------------------------------------------- the events
@dataclass(frozen=True)
class GateJudged:
    """An eval run finished and its gate was judged (evals); a release run moves the release on (releases)."""
    run_id: int
    release_id: str | None


@dataclass(frozen=True)
class AlertFired:
    """Monitoring fired a new alert; the incidents flow opens (or joins) its incident and answers its id."""
    key: str
    use_case_key: str
    kind: str
    name: str
    severity: int
    detail: str
    detected_at: datetime
    release_id: str | None = None


@dataclass(frozen=True)
class AlertResolved:
    """A firing alert went back to normal; the incidents flow notes it on the linked incident's timeline."""
    alert_id: int
    name: str
    incident_id: int | None
    why: str
    at: datetime


@dataclass(frozen=True)
class CanaryBreached:
    """A canary breached its guardrails (and was rolled back or not); the incidents flow opens and answers its id."""
    use_case_key: str
    canary_release_id: str
    title: str
    detail: str
    detected_at: datetime


@dataclass(frozen=True)
class DataSlaBreached:
    """A data check run breached; monitoring notifies the dependent use cases, incidents opens one per breach."""
    actor: Actor
    source: str
    run_id: int
    status: str
    use_cases: tuple[str, ...]
    breaches: tuple[dict[str, Any], ...]
    detected_at: datetime


@dataclass(frozen=True)
class IncidentOpened:
    """An incident was opened; monitoring notifies the use case's channels."""
    use_case_key: str
    payload: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class IncidentResolved:
    """An incident was resolved; monitoring notifies the use case's channels."""
    use_case_key: str
    payload: dict[str, Any] = field(hash=False)


EVENT_TYPES: tuple[type, ...] = (GateJudged, AlertFired, AlertResolved, CanaryBreached, DataSlaBreached,
                                 IncidentOpened, IncidentResolved)

# --------------------------------------------------------------------------------------------------- the registry
E = TypeVar("E")
Handler = Callable[[Session, Any], Any]
_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[Session, E], Any]) -> None:
    """Register a reaction to an event type (idempotent: the same handler is registered once)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type.__name__} is not a declared event type")
    found = _handlers.setdefault(event_type, [])
    if handler not in found:
        found.append(handler)


def handlers(event_type: type) -> list[Handler]:
    """The reactions registered for an event type, in registration order."""
    return list(_handlers.get(event_type, ()))


def publish(session: Session, event: Any) -> list[Any]:
    """Run every handler of the event in the caller's session; their non-None answers, in order.

    An answer lets a publisher link what a reaction created (e.g. the incident an alert opened) without importing
    the reacting domain. A handler's error propagates: wrap the publish in a savepoint where it must not block.
    """
    if type(event) not in EVENT_TYPES:
        raise ValueError(f"{type(event).__name__} is not a declared event type")
    answers = []
    for handler in handlers(type(event)):
        answer = handler(session, event)
        if answer is not None:
            answers.append(answer)
    return answers


# --------------------------------------------------------------------------------------------------- capabilities
# The names of the capabilities a higher floor offers a lower one (provided by takeoff.flows_registry at start).
START_RELEASE_RUN = "releases.start_eval_run"  # (session, actor, release_id, *, target, scorers, repeats, concurrency)
REQUIRE_DECISION = "governance.require_decision"  # (session, actor, decision): Forbidden unless the actor holds it
OPEN_INCIDENTS = "incidents.open_for_use_case"  # (session, use_case_key) -> the use case's open incidents
INCIDENT_SCOPE = "incidents.scope"  # (session, incident_id) -> {id, use_case, start, end, release, root_cause}; 404
USE_CASE_GOVERNANCE = "governance.use_case_page"  # (session, use_case) -> what the use-case page shows of governance
BUDGET_FALLBACK = "monitoring.budget_fallback"  # (session, use_case_key) -> {release_id | None: resets_at ISO}
_provided: dict[str, Any] = {}


def provide(name: str, value: Any) -> None:
    """Offer a named capability (e.g. "reports.quarterly") to lower domains that may show it when present."""
    _provided[name] = value


def provided(name: str) -> Any | None:
    """A named capability when this build registered it at start, else None (an explicit registry lookup)."""
    return _provided.get(name)
