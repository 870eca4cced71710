"""The worker loop: claims jobs, runs handlers, keeps leases alive, enqueues periodic schedules."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid

from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.db import transaction, utcnow
from takeoff.core.observability import JOBS_FINISHED
from takeoff.jobs import service
from takeoff.jobs.registry import HANDLERS, SCHEDULES, JobContext

log = logging.getLogger("takeoff.worker")
_OUTCOME = {"queued": "retry", "failed": "failed"}  # jobs.service.fail's new status -> the metric's outcome


class PermanentJobError(Exception):
    """A handler error that retrying cannot fix (bad payload, missing object)."""


class Worker:
    """One worker; several may run in one process or on many machines against the same database."""

    def __init__(self, factory: sessionmaker[Session], *, lease_s: int = 60, poll_s: float = 1.0,
                 kinds: list[str] | None = None, worker_id: str | None = None) -> None:
        self.factory = factory
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.kinds = kinds
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = threading.Event()
        self._running: set[int] = set()
        self._lock = threading.Lock()

    # -- leases -----------------------------------------------------------------------------------
    def heartbeat(self, job_id: int) -> None:
        """Extend this worker's lease on a job."""
        with transaction(self.factory) as s:
            service.extend_lease(s, job_id, self.id, self.lease_s)

    def report_progress(self, job_id: int, done: int, total: int | None) -> None:
        """Record progress and extend the lease."""
        with transaction(self.factory) as s:
            service.extend_lease(s, job_id, self.id, self.lease_s, done, total)

    def _heartbeats(self, stop: threading.Event) -> None:
        while not stop.wait(max(1.0, self.lease_s / 3)):
            with self._lock:
                ids = list(self._running)
            for job_id in ids:
                try:
                    self.heartbeat(job_id)
                except Exception:  # a lost heartbeat only shortens the lease
                    log.exception("heartbeat failed for job %s", job_id)

    # -- schedules --------------------------------------------------------------------------------
    def enqueue_schedules(self) -> None:
        """Enqueue each periodic job once per interval (the key makes concurrent workers agree)."""
        now = utcnow()
        for sched in list(SCHEDULES.values()):
            slot = int(now.timestamp()) // sched.every_s
            with transaction(self.factory) as s:
                service.enqueue(s, sched.kind, dict(sched.payload), key=f"sched:{sched.kind}:{slot}", priority=200)

    # -- running ----------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and run one job; False when none was due."""
        with transaction(self.factory) as s:
            job = service.claim(s, self.id, self.kinds, self.lease_s)
            if job is None:
                return False
            job_id, kind, payload, attempt = job.id, job.kind, dict(job.payload), job.attempts
        with self._lock:
            self._running.add(job_id)
        try:
            fn = HANDLERS.get(kind)
            if fn is None:
                raise PermanentJobError(f"no handler registered for job kind '{kind}'")
            result = fn(JobContext(job_id, attempt, self.factory, self), payload)
        except PermanentJobError as exc:
            with transaction(self.factory) as s:
                status = service.fail(s, job_id, self.id, str(exc), retry=False)
            JOBS_FINISHED.labels(kind, _OUTCOME.get(status, "lost_lease")).inc()
        except Exception as exc:  # any handler error is retried with backoff
            log.warning("job %s (%s) failed: %s", job_id, kind, exc)
            with transaction(self.factory) as s:
                status = service.fail(s, job_id, self.id,
                                      f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
            JOBS_FINISHED.labels(kind, _OUTCOME.get(status, "lost_lease")).inc()
        else:
            with transaction(self.factory) as s:
                done = service.complete(s, job_id, self.id, result)
            JOBS_FINISHED.labels(kind, "done" if done else "lost_lease").inc()
        finally:
            with self._lock:
                self._running.discard(job_id)
        return True

    def drain(self, max_jobs: int = 10_000) -> int:
        """Run due jobs until none is left (tests and the demo use it); returns how many ran."""
        n = 0
        while n < max_jobs and self.run_once():
            n += 1
        return n

    def run_forever(self, stop: threading.Event, schedule_every_s: float = 15.0) -> None:
        """Poll for jobs until stop is set; the embedded and standalone workers both use this. Once stop is set no
        job is claimed; the one running finishes (its lease kept alive) before this returns."""
        beating = threading.Event()
        hb = threading.Thread(target=self._heartbeats, args=(beating,), daemon=True, name="takeoff-heartbeat")
        hb.start()
        sched = threading.Thread(target=self._schedules, args=(stop, schedule_every_s), daemon=True,
                                 name="takeoff-scheduler")
        sched.start()
        try:
            while not stop.is_set():
                try:
                    if self.run_once():
                        continue
                except Exception:
                    log.exception("worker loop error; continuing")
                self.wake.wait(self.poll_s)
                self.wake.clear()
        finally:
            beating.set()

    def _schedules(self, stop: threading.Event, every_s: float) -> None:
        """Enqueue periodic jobs on their own thread, so long jobs never starve a schedule; checked at least twice
        per shortest interval so no interval is skipped."""
        while not stop.is_set():
            try:
                self.enqueue_schedules()
            except Exception:
                log.exception("could not enqueue periodic jobs; retrying")
            shortest = min((sc.every_s for sc in list(SCHEDULES.values())), default=every_s)
            stop.wait(max(0.2, min(every_s, shortest / 2)))

    def release_held(self) -> list[int]:
        """Hand this worker's unfinished jobs back to the queue (claimable at once); their handlers' late results
        are then ignored, as for any lost lease."""
        with transaction(self.factory) as s:
            released = service.release_held(s, self.id)
            kinds = [service.get(s, i).kind for i in released]  # type: ignore[union-attr]  # just released: exist
        for kind in kinds:
            JOBS_FINISHED.labels(kind, "released").inc()
        return released


def stop_gracefully(workers: list[Worker], threads: list[threading.Thread], stop: threading.Event, grace_s: float,
                    hurry: threading.Event | None = None) -> list[int]:
    """Stop claiming, let running jobs finish within `grace_s` (or until `hurry` is set), then release the leases
    of those still running so another worker takes them now rather than after the lease; returns released ids."""
    stop.set()
    for w in workers:
        w.wake.set()
    deadline = time.monotonic() + grace_s
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        if hurry is not None and hurry.is_set():
            break
        for t in threads:
            t.join(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
    released: list[int] = []
    for w in workers:
        try:
            released += w.release_held()
        except Exception:  # the database may be gone too; the leases then expire as after a crash
            log.exception("could not release the jobs of worker %s", w.id)
    if released:
        log.warning("grace period over: released jobs %s for another worker", released)
    return released


