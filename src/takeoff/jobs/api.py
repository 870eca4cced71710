"""Job status API (progress of eval runs, checks)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from takeoff.deps import DB, Allowed
from takeoff.core.errors import NotFound
from takeoff.jobs import service
from takeoff.jobs.models import Job
from takeoff.core.types import Id

router = APIRouter(tags=["jobs"])


def job_view(j: Job) -> dict[str, Any]:
    """The public shape of a job."""
    return {"id": j.id, "kind": j.kind, "status": j.status, "attempts": j.attempts, "max_attempts": j.max_attempts,
            "progress": {"done": j.progress_done, "total": j.progress_total}, "result": j.result,
            "last_error": (j.last_error or "").splitlines()[0] if j.last_error else None,
            "created_at": j.created_at.isoformat(), "finished_at": j.finished_at.isoformat() if j.finished_at else None}


@router.get("/jobs/{job_id}")
def get_job(job_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One job's status and progress."""
    job = service.get(session, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job_view(job)


@router.get("/jobs")
def queue(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Queue depth by status."""
    return {"depth": service.queue_depth(session)}
