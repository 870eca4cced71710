"""Online evaluation jobs: every minute, one bounded batch of each enabled evaluator (or the one the payload names:
`takeoff evaluator run`). Ingestion never waits on them."""
from __future__ import annotations

from typing import Any

from takeoff.jobs.registry import JobContext, every, handler
from takeoff.quality import runner

EVALUATE_EVERY_S = 60


@handler("quality.evaluate")
def evaluate(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Run each enabled evaluator's next batch (or one evaluator's, by id)."""
    if payload.get("evaluator"):
        return {"runs": [runner.run_one(ctx.factory, int(payload["evaluator"]))]}
    return {"runs": runner.run_all(ctx.factory)}


every("quality.evaluate", EVALUATE_EVERY_S)
