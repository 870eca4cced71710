"""Job kinds for the tests that start worker subprocesses (imported by those processes only): `test.sleep` sleeps
`seconds`; with TAKEOFF_TEST_TICK_LOG set, `test.tick` runs every TAKEOFF_TEST_TICK_SECONDS and appends its
interval's key and the process id to that file (one line per execution, so a duplicate run shows)."""
from __future__ import annotations

import os
import time
from typing import Any

from takeoff.core.db import transaction
from takeoff.jobs.models import Job
from takeoff.jobs.registry import JobContext, every, handler


@handler("test.sleep")
def sleep(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep, then report how long."""
    time.sleep(float(payload["seconds"]))
    return {"slept": payload["seconds"]}


@handler("test.tick")
def tick(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Record this execution of the periodic job: its interval's key and this process."""
    with transaction(ctx.factory) as s:
        job = s.get(Job, ctx.job_id)
        key = job.key if job is not None else None
    with open(os.environ["TAKEOFF_TEST_TICK_LOG"], "a") as f:  # one short O_APPEND write: lines never interleave
        f.write(f"{key} {os.getpid()}\n")
    return {"pid": os.getpid()}


if os.environ.get("TAKEOFF_TEST_TICK_LOG"):
    every("test.tick", int(os.environ.get("TAKEOFF_TEST_TICK_SECONDS", "2")))
