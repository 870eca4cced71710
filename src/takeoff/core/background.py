"""A named registry of background services: threads every server and worker process runs beside its job workers.

A service has a name, a `start` that returns its running thread (it stops when the shared stop event is set and is
then joined), a switch read from the settings, a health contribution (refreshes its gauges when /metrics is read)
and a `drain` that finishes its pending work at once (the demo, after seeding). `takeoff serve`, `takeoff worker`,
`takeoff demo` and /metrics iterate the registry; the defaults (the rollup compactor) are registered by the
composition root (`takeoff.background_defaults`) through the same `register` a third party calls.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.config import Settings

Factory = sessionmaker[Session]


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class BackgroundService:
    """One background service: how to start it, when it runs, what it adds to health, how to finish its work."""

    name: str
    start: Callable[[Factory, threading.Event], threading.Thread]  # a started thread that ends once the event is set
    enabled: Callable[[Settings], bool] = _always
    health: Callable[[Session], None] | None = None  # /metrics: set this service's gauges (runs even when disabled)
    drain: Callable[[Factory], object] | None = None  # do the pending work now, in the caller's thread
    join_timeout_s: float = 10.0


_SERVICES: dict[str, BackgroundService] = {}


def register(service: BackgroundService) -> BackgroundService:
    """Add a service (registering the same name again replaces it, so start-up may run twice in one process)."""
    if not service.name or not service.name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"background service name must be letters, digits, '-' or '_': {service.name!r}")
    _SERVICES[service.name] = service
    return service


def registered() -> list[BackgroundService]:
    """Every registered service, in registration order."""
    return list(_SERVICES.values())


@dataclass(frozen=True)
class Running:
    """A started service and its thread."""

    service: BackgroundService
    thread: threading.Thread


def start_all(settings: Settings, factory: Factory, stop: threading.Event) -> list[Running]:
    """Start every service these settings enable; each runs until `stop` is set."""
    return [Running(s, s.start(factory, stop)) for s in registered() if s.enabled(settings)]


def join_all(running: list[Running]) -> None:
    """Wait for stopped services to finish (each up to its own timeout); call after setting the stop event."""
    for r in running:
        r.thread.join(timeout=r.service.join_timeout_s)


def contribute_health(session: Session) -> None:
    """Let every registered service refresh its health gauges (read when /metrics is scraped)."""
    for s in registered():
        if s.health is not None:
            s.health(session)


def drain_all(factory: Factory) -> None:
    """Finish every service's pending work now (e.g. merge the demo seeding's rollup deltas before pages read)."""
    for s in registered():
        if s.drain is not None:
            s.drain(factory)
