"""Scheduled data SLA checks: a periodic job enqueues one keyed check job per source per interval."""
from __future__ import annotations

from typing import Any

from takeoff.core.actor import Actor
from takeoff.data import queries, runs
from takeoff.core.db import transaction
from takeoff.jobs import registry
from takeoff.jobs.registry import JobContext

SCHEDULER = Actor(username="scheduler", roles=("admin",), via="system")


@registry.handler("data.schedule_checks")
def schedule_checks(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Enqueue this interval's check of every source (keys stop two workers from double-running one)."""
    with transaction(ctx.factory) as s:
        n = runs.enqueue_due_checks(s)
    return {"enqueued": n}


@registry.handler("data.check")
def check_source(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one source's checks and store the run; a faulty source gives error results, not a failed job."""
    name = payload.get("source")
    if not isinstance(name, str) or not name:
        from takeoff.jobs.worker import PermanentJobError

        raise PermanentJobError("data.check needs a 'source' name in its payload")
    with transaction(ctx.factory) as s:
        if queries.find(s, name) is None:
            return {"source": name, "skipped": "source no longer exists"}
        run = runs.run_check(s, SCHEDULER, name, trigger="schedule")
        return {"source": name, "run_id": run.id, "status": run.status}


registry.every("data.schedule_checks", queries.CHECK_EVERY_S)
