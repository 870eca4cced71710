"""Job queue operations; PostgreSQL claims with FOR UPDATE SKIP LOCKED, SQLite relies on its single writer."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.jobs.models import Job

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 600.0


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *, key: str | None = None,
            run_at: datetime | None = None, priority: int = 100, max_attempts: int = 5) -> Job:
    """Add a job; with a key, an existing job of that key is returned instead of a second one."""
    if key is not None:
        existing = session.scalar(select(Job).where(Job.key == key))
        if existing is not None:
            return existing
        try:
            with session.begin_nested():
                job = Job(kind=kind, key=key, payload=payload or {}, run_at=run_at or utcnow(), priority=priority,
                          max_attempts=max_attempts)
                session.add(job)
        except IntegrityError:
            existing = session.scalar(select(Job).where(Job.key == key))
            assert existing is not None
            return existing
        return job
    job = Job(kind=kind, payload=payload or {}, run_at=run_at or utcnow(), priority=priority, max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def claim(session: Session, worker_id: str, kinds: list[str] | None, lease_s: int) -> Job | None:
    """Claim the next due job (or one whose lease expired) for this worker; caller commits."""
    now = utcnow()
    due = or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now))
    q = select(Job).where(due, Job.run_at <= now).order_by(Job.priority, Job.run_at, Job.id).limit(1)
    if kinds is not None:
        q = q.where(Job.kind.in_(kinds))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    job = session.scalar(q)
    if job is None:
        return None
    job.status = "running"
    job.locked_by = worker_id
    job.lease_until = now + timedelta(seconds=lease_s)
    job.attempts += 1
    job.started_at = job.started_at or now
    session.flush()
    return job


def extend_lease(session: Session, job_id: int, worker_id: str, lease_s: int, done: int | None = None,
                 total: int | None = None) -> bool:
    """Extend the lease (and record progress) if this worker still holds the job."""
    values: dict[str, Any] = {"lease_until": utcnow() + timedelta(seconds=lease_s)}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    res = session.execute(update(Job).where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
                          .values(**values))
    return bool(res.rowcount)


def complete(session: Session, job_id: int, worker_id: str, result: dict[str, Any] | None) -> bool:
    """Mark done if this worker still holds the job; a worker that lost its lease changes nothing."""
    res = session.execute(update(Job).where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
                          .values(status="done", result=result, finished_at=utcnow(), lease_until=None))
    return bool(res.rowcount)


def release_held(session: Session, worker_id: str) -> list[int]:
    """Hand back every job this worker still runs (a graceful stop): queued again, due now, the attempt not counted,
    so another worker claims it at once instead of after the lease; returns the released ids."""
    now = utcnow()
    held = session.scalars(select(Job).where(Job.locked_by == worker_id, Job.status == "running")
                           .with_for_update()).all()
    for job in held:
        job.status = "queued"
        job.locked_by = None
        job.lease_until = None
        job.run_at = now
        job.attempts = max(0, job.attempts - 1)
    session.flush()
    return [job.id for job in held]


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: base·2^(attempts-1), capped, times a factor in [0.5, 1]."""
    r = (rng or random).uniform(0.5, 1.0)
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)) * r


def fail(session: Session, job_id: int, worker_id: str, error: str, *, retry: bool = True) -> str | None:
    """Record a failure: requeue with backoff while attempts remain, else mark failed; returns the new status."""
    job = session.get(Job, job_id)
    if job is None or job.locked_by != worker_id or job.status != "running":
        return None
    job.last_error = error[:4000]
    job.lease_until = None
    if retry and job.attempts < job.max_attempts:
        job.status = "queued"
        job.run_at = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
    else:
        job.status = "failed"
        job.finished_at = utcnow()
    return job.status


def queue_depth(session: Session) -> dict[str, int]:
    """Number of jobs per status (for /metrics and the admin page)."""
    return {s: n for s, n in session.execute(select(Job.status, func.count()).group_by(Job.status)).all()}


def get(session: Session, job_id: int) -> Job | None:
    """A job by id."""
    return session.get(Job, job_id)
