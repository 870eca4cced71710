"""The `evals.run` job: executes or resumes an eval run, reporting progress through the job."""
from __future__ import annotations

from typing import Any

from takeoff.jobs import registry
from takeoff.jobs.worker import PermanentJobError


@registry.handler("evals.run")
def run_eval_job(ctx: registry.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Run the eval run named in the payload; a resumed attempt skips the cases already persisted."""
    from takeoff.evals import execution

    run_id = payload.get("run_id")
    if not isinstance(run_id, int):
        raise PermanentJobError("evals.run payload needs an integer run_id")
    try:
        return execution.execute_run(ctx.factory, run_id, progress=ctx.progress)
    except PermanentJobError:
        raise
    except Exception as exc:  # retried by the worker; the last attempt leaves the run visibly failed
        execution.fail_run_if_last_attempt(ctx.factory, run_id, ctx.job_id, f"{type(exc).__name__}: {exc}")
        raise
