"""Job handlers and periodic schedules, registered by the domains at import."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[["JobContext", dict[str, Any]], dict[str, Any] | None]

HANDLERS: dict[str, Handler] = {}


@dataclass(frozen=True)
class Schedule:
    """A job kind enqueued every `every_s` seconds (at most once per interval across all workers)."""

    kind: str
    every_s: int
    payload: dict[str, Any]


SCHEDULES: dict[str, Schedule] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of this kind."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return deco


def every(kind: str, seconds: int, payload: dict[str, Any] | None = None) -> None:
    """Schedule a job kind to run periodically."""
    SCHEDULES[f"{kind}"] = Schedule(kind, seconds, payload or {})


class JobContext:
    """What a running handler may use: its job id and attempt, a session factory, progress and heartbeat."""

    def __init__(self, job_id: int, attempt: int, factory: Any, worker: Any) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.factory = factory
        self._worker = worker

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (shown on pages) and extend the lease."""
        self._worker.report_progress(self.job_id, done, total)

    def heartbeat(self) -> None:
        """Extend the lease during long work."""
        self._worker.heartbeat(self.job_id)
