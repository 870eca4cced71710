"""The durable job queue: claim, lease, retry with backoff, idempotent completion, several workers."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import update

from takeoff.core.db import transaction, utcnow
from takeoff.jobs import registry, service
from takeoff.jobs.models import Job
from takeoff.jobs.worker import PermanentJobError, Worker

RUNS: list[tuple[int, str]] = []
_lock = threading.Lock()


@registry.handler("test.record")
def _record(ctx, payload):
    with _lock:
        RUNS.append((ctx.job_id, payload.get("worker", "")))
    time.sleep(payload.get("sleep", 0))
    return {"ok": True}


FLAKY: dict[int, int] = {}


@registry.handler("test.flaky")
def _flaky(ctx, payload):
    FLAKY[ctx.job_id] = FLAKY.get(ctx.job_id, 0) + 1
    if FLAKY[ctx.job_id] < payload["succeed_on"]:
        raise RuntimeError("temporary failure")
    return {"attempt": ctx.attempt}


@registry.handler("test.bad")
def _bad(ctx, payload):
    raise PermanentJobError("payload names no use case")


def _enqueue(factory, kind, n=1, **payload):
    with transaction(factory) as s:
        return [service.enqueue(s, kind, dict(payload)).id for _ in range(n)]


def test_enqueue_with_key_is_idempotent(factory):
    with transaction(factory) as s:
        a = service.enqueue(s, "test.record", key="k1").id
        b = service.enqueue(s, "test.record", key="k1").id
    assert a == b


def test_retry_with_backoff_then_done(factory):
    FLAKY.clear()
    (job_id,) = _enqueue(factory, "test.flaky", succeed_on=2)
    w = Worker(factory)
    assert w.run_once()
    with transaction(factory) as s:
        job = s.get(Job, job_id)
        assert job.status == "queued" and job.attempts == 1 and "temporary failure" in job.last_error
        assert job.run_at > utcnow()  # backed off
        s.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
    assert w.run_once()
    with transaction(factory) as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.result == {"attempt": 2}


def test_permanent_error_and_exhausted_attempts_fail(factory):
    (bad,) = _enqueue(factory, "test.bad")
    Worker(factory).drain()
    with transaction(factory) as s:
        assert s.get(Job, bad).status == "failed"
        FLAKY.clear()
        job = service.enqueue(s, "test.flaky", {"succeed_on": 99}, max_attempts=1)
    Worker(factory).drain()
    with transaction(factory) as s:
        assert s.get(Job, job.id).status == "failed"


def test_backoff_grows_and_is_capped():
    import random

    rng = random.Random(1)
    values = [service.backoff_seconds(a, rng) for a in range(1, 12)]
    assert values[0] <= 2.0 and values[3] >= 4.0
    assert max(values) <= service.BACKOFF_MAX_S


def test_lost_lease_cannot_complete(factory):
    (job_id,) = _enqueue(factory, "test.record")
    with transaction(factory) as s:
        job = service.claim(s, "w-a", None, 60)
        assert job is not None and job.id == job_id
    with transaction(factory) as s:
        s.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    with transaction(factory) as s:
        again = service.claim(s, "w-b", None, 60)
        assert again is not None and again.id == job_id and again.attempts == 2
    with transaction(factory) as s:
        assert service.complete(s, job_id, "w-a", {"late": True}) is False
        assert service.complete(s, job_id, "w-b", {"ok": True}) is True
        assert s.get(Job, job_id).result == {"ok": True}


def test_two_workers_run_each_job_exactly_once(factory):
    RUNS.clear()
    ids = _enqueue(factory, "test.record", n=40, sleep=0.01)
    workers = [Worker(factory, worker_id=f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ran = sorted(job_id for job_id, _ in RUNS)
    assert ran == sorted(ids)
    with transaction(factory) as s:
        done = s.query(Job).filter(Job.status == "done").count()
        by_worker = {j.locked_by for j in s.query(Job).all()}
    assert done == 40
    assert by_worker == {"w0", "w1"}


def test_job_of_dead_worker_is_picked_up_after_lease(factory):
    RUNS.clear()
    (job_id,) = _enqueue(factory, "test.record")
    with transaction(factory) as s:
        assert service.claim(s, "dead-worker", None, lease_s=1) is not None  # claims, then "dies"
    survivor = Worker(factory, worker_id="survivor")
    assert survivor.run_once() is False  # still leased
    time.sleep(1.2)
    assert survivor.run_once() is True
    with transaction(factory) as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.locked_by == "survivor" and job.attempts == 2


def test_schedules_enqueue_once_per_interval(factory):
    registry.every("test.record", 3600, {"worker": "sched"})
    try:
        Worker(factory).enqueue_schedules()
        Worker(factory).enqueue_schedules()
        with transaction(factory) as s:
            assert s.query(Job).filter(Job.kind == "test.record").count() == 1
    finally:
        registry.SCHEDULES.pop("test.record")
