"""A job kind for the graceful-stop tests: sleeps `seconds`, imported by the worker subprocesses they start."""
from __future__ import annotations

import time
from typing import Any

from takeoff.jobs.registry import JobContext, handler


@handler("test.sleep")
def sleep(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep, then report how long."""
    time.sleep(float(payload["seconds"]))
    return {"slept": payload["seconds"]}
