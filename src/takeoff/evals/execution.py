"""Executing an eval run (the `evals.run` job): resumable, each finished case persisted at once in its own short
transaction, so a worker crash loses at most the cases in flight; the resumed job skips the finished ones."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.catalog.pricing import cost_usd
from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction, utcnow
from takeoff.core.events import GateJudged, publish
from takeoff.evals import evalset_io, sandbox
from takeoff.evals.models import EvalCase, EvalCaseResult, EvalRun
from takeoff.evals.runner import CaseResult, RunSummary, run_eval, summarize
from takeoff.evals.runs import aclose_all, gate_for
from takeoff.evals.scorers import make_scorers
from takeoff.evals.targets import make_target
from takeoff.jobs.models import Job
from takeoff.jobs.worker import PermanentJobError

PAGE = 500


def _iter_cases(factory: sessionmaker[Session], version_id: int) -> Iterator[evalset_io.Case]:
    """Cases in file order, fetched in short pages so no transaction stays open while targets are called."""
    last = -1
    while True:
        with transaction(factory) as s:
            rows = s.execute(select(EvalCase.position, EvalCase.case_id, EvalCase.input, EvalCase.expected,
                                    EvalCase.tags, EvalCase.meta)
                             .where(EvalCase.version_id == version_id, EvalCase.position > last)
                             .order_by(EvalCase.position).limit(PAGE)).all()
        if not rows:
            return
        for _pos, case_id, inp, exp, tags, meta in rows:
            yield evalset_io.Case(case_id, inp, exp, tuple(tags or ()), dict(meta or {}))
        last = rows[-1][0]


def _iter_prior(factory: sessionmaker[Session], run_id: int) -> Iterator[CaseResult]:
    last = 0
    while True:
        with transaction(factory) as s:
            rows = s.execute(select(EvalCaseResult.id, EvalCaseResult.result)
                             .where(EvalCaseResult.run_id == run_id, EvalCaseResult.id > last)
                             .order_by(EvalCaseResult.id).limit(PAGE)).all()
        if not rows:
            return
        for _, result in rows:
            yield CaseResult.from_dict(result)
        last = rows[-1][0]


def _model_prices(session: Session, run: EvalRun) -> dict[str, float] | None:
    """Catalog prices of the release's model, to cost cases whose target reports tokens but no cost."""
    model = (run.target or {}).get("_catalog_model")
    if not model:
        return None
    provider, name = catalog.split_ref(model)
    return catalog.price_for(session, provider, name, utcnow())


def fail_run_if_last_attempt(factory: sessionmaker[Session], run_id: int, job_id: int, error: str) -> bool:
    """Mark the run failed when its job has used its last attempt (else the job's retry resumes it)."""
    with transaction(factory) as s:
        job, run = s.get(Job, job_id), s.get(EvalRun, run_id)
        if job is None or run is None or job.attempts < job.max_attempts or run.status == "done":
            return False
        run.status, run.error, run.finished_at = "failed", error[:2000], utcnow()
        return True


def execute_run(factory: sessionmaker[Session], run_id: int,
                progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Run (or resume) an eval run: skip persisted cases, persist each new result, judge the gate at the end."""
    with transaction(factory) as s:
        run = s.get(EvalRun, run_id)
        if run is None:
            raise PermanentJobError(f"eval run {run_id} not found")
        if run.status == "done":
            return {"run_id": run_id, "status": "done", "resumed": False}
        run.status = "running"
        run.started_at = run.started_at or utcnow()
        target_spec = {k: v for k, v in (run.target or {}).items() if not k.startswith("_")}
        scorer_specs, repeats, concurrency = list(run.scorers), run.repeats, run.concurrency
        version_id, total = run.version_id, run.total
        finished = set(s.scalars(select(EvalCaseResult.case_id).where(EvalCaseResult.run_id == run_id)))
        prices = _model_prices(s, run)
    # Checked again at run time (the allow-list may have shrunk since the run was created); listed code runs in
    # one child process for the whole run, loaded before the first case so a missing function fails the run.
    box = sandbox.Sandbox(sandbox.active(), threads=concurrency)
    try:
        target = make_target(target_spec, sandbox=box)
        scorers = make_scorers(scorer_specs, sandbox=box)
        asyncio.run(box.load())
    except ValueError as exc:
        box.close()
        with transaction(factory) as s:
            run = s.get(EvalRun, run_id)
            assert run is not None
            run.status, run.error, run.finished_at = "failed", f"eval spec: {exc}", utcnow()
        raise PermanentJobError(f"eval spec: {exc}") from None

    last_report = [0.0]

    def write_batch(batch: list[CaseResult]) -> None:
        """Persist finished results in one transaction (group commit); a duplicate means another worker won."""
        rows = []
        for result in batch:
            if result.cost_usd is None and result.tokens and prices:
                try:
                    result.cost_usd = cost_usd(prices, result.tokens)
                except ValueError:
                    pass
            rows.append({"run_id": run_id, "case_id": result.case_id, "passed": result.passed,
                         "pass_share": result.pass_share, "error_category": result.error_category,
                         "latency_ms": result.latency_ms, "cost_usd": result.cost_usd, "result": result.to_dict(),
                         "created_at": utcnow()})
        try:
            with transaction(factory) as s:
                s.execute(insert(EvalCaseResult), rows)
        except IntegrityError:
            with transaction(factory) as s:
                for row in rows:
                    try:
                        with s.begin_nested():
                            s.execute(insert(EvalCaseResult), [row])
                    except IntegrityError:
                        pass

    pending: list[CaseResult] = []
    writer: list[asyncio.Future[None]] = []

    async def on_result(result: CaseResult) -> None:
        # Writes run in a thread so targets keep being called; results that finish while a write is in flight
        # are committed together by the next one. A crash loses at most the unwritten ones (called again later).
        pending.append(result)
        if writer and not writer[0].done():
            return
        if writer:
            writer.pop().result()  # surface a failed write
        batch = pending[:]
        pending.clear()
        writer.append(asyncio.ensure_future(asyncio.to_thread(write_batch, batch)))

    def on_progress(done: int, n: int | None) -> None:
        now = time.monotonic()
        if progress is not None and (done == n or now - last_report[0] >= 0.5):
            last_report[0] = now
            progress(done, n)

    async def main() -> RunSummary:
        try:
            return await run_eval(_iter_cases(factory, version_id), target, scorers, concurrency=concurrency,
                                  repeats=repeats, skip_ids=frozenset(finished), on_result=on_result,
                                  on_progress=on_progress, total=total, prior_results=_iter_prior(factory, run_id)
                                  if finished else ())
        finally:
            if writer:
                await writer.pop()
            if pending:
                await asyncio.to_thread(write_batch, pending[:])
            await aclose_all(target, scorers)

    try:
        asyncio.run(main())
    finally:
        box.close()
    with transaction(factory) as s:
        run = s.get(EvalRun, run_id)
        assert run is not None
        # The summary is recomputed from what is persisted: the one truth after any number of resumes.
        summary = summarize(CaseResult.from_dict(r) for r in
                            s.scalars(select(EvalCaseResult.result).where(EvalCaseResult.run_id == run_id)))
        run.summary = summary.to_dict()
        run.gate = {**gate_for(s, run, summary), "run_id": run_id}
        run.status, run.done, run.finished_at, run.error = "done", summary.n, utcnow(), None
        audit.record(s, SYSTEM, "eval.finish", "eval_run", run_id, None,
                     {"release": run.release_id, "pass_rate": summary.pass_rate, "gate": run.gate["status"]})
        publish(s, GateJudged(run_id=run_id, release_id=run.release_id))  # a release run moves its release
        return {"run_id": run_id, "status": "done", "gate": run.gate["status"], "resumed": bool(finished)}
