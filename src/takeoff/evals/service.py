"""Eval operations: eval sets and immutable versions (streamed imports), runs as resumable jobs, gates.

The only writer of the eval tables. A run persists every case result the moment it finishes, in its own short
transaction, so a worker crash loses at most the cases in flight; the resumed job skips the finished ones.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.actor import SYSTEM, Actor
from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.catalog.pricing import cost_usd
from takeoff.core.db import read_session, transaction, utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.core.events import GateJudged, publish
from takeoff.evals import evalset_io, sandbox
from takeoff.evals.gates import judge_gate, wilson_interval
from takeoff.evals.models import EvalCase, EvalCaseResult, EvalRun, EvalSet, EvalSetVersion
from takeoff.evals.runner import CaseResult, RunSummary, compare_runs, run_eval, summarize
from takeoff.evals.scorers import make_scorers
from takeoff.evals.targets import make_target
from takeoff.governance import policies as governance
from takeoff.jobs import service as jobs
from takeoff.jobs.models import Job
from takeoff.jobs.worker import PermanentJobError
from takeoff.portfolio import service as portfolio

INSERT_BATCH = 1000
PAGE = 500


# --- tier policy ------------------------------------------------------------------------------------------
def tier_policy_for(session: Session, tier: str | None) -> tuple[int, Any]:
    """(version, TierPolicy) of the tier (low when unset) from governance."""
    tier = tier or "low"
    return governance.tier_policy(session, tier)


# --- eval sets ----------------------------------------------------------------------------------------------
def get_set(session: Session, name: str) -> EvalSet:
    """The eval set of this name, or 404."""
    found = session.scalar(select(EvalSet).where(EvalSet.name == name))
    if found is None:
        raise NotFound(f"eval set '{name}' not found")
    return found


def list_sets(session: Session) -> list[tuple[EvalSet, EvalSetVersion | None]]:
    """Every eval set with its latest version."""
    out = []
    for s in session.scalars(select(EvalSet).order_by(EvalSet.name)):
        out.append((s, latest_version(session, s)))
    return out


def create_set(session: Session, actor: Actor, name: str, use_case: str | None = None,
               description: str = "") -> EvalSet:
    """Create an eval set; 409 if the name is taken, 404 for an unknown use case."""
    if session.scalar(select(EvalSet.id).where(EvalSet.name == name)) is not None:
        raise Conflict(f"eval set '{name}' already exists")
    if use_case:
        portfolio.get(session, use_case)
    es = EvalSet(name=name, use_case_key=use_case, description=description, created_by=actor.username)
    session.add(es)
    session.flush()
    audit.record(session, actor, "evalset.create", "eval_set", name, None,
                 {"name": name, "use_case": use_case, "description": description})
    return es


def ensure_set(session: Session, actor: Actor, name: str, use_case: str | None = None) -> EvalSet:
    """The eval set of this name, created when missing (CI imports create sets on first use)."""
    import re

    from takeoff.evals.schemas import NAME_PATTERN

    found = session.scalar(select(EvalSet).where(EvalSet.name == name))
    if found is not None:
        return found
    if not re.match(NAME_PATTERN, name or ""):
        raise Invalid(f"eval set name '{name}' must be lowercase letters, digits, '-', '_' or '.'",
                      details=[{"field": "name", "message": "bad name"}])
    return create_set(session, actor, name, use_case)


def latest_version(session: Session, es: EvalSet) -> EvalSetVersion | None:
    """The newest version of a set, or None before the first import."""
    return session.scalars(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id)
                           .order_by(EvalSetVersion.version.desc()).limit(1)).first()


def versions(session: Session, es: EvalSet) -> list[EvalSetVersion]:
    """Every version of a set, newest first."""
    return list(session.scalars(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id)
                                .order_by(EvalSetVersion.version.desc())))


def get_version(session: Session, name: str, version: int | None = None) -> EvalSetVersion:
    """A version of a set (the latest when version is None), or 404."""
    es = get_set(session, name)
    if version is None:
        v = latest_version(session, es)
        if v is None:
            raise NotFound(f"eval set '{name}' has no version yet; import cases first")
        return v
    v = session.scalar(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id,
                                                    EvalSetVersion.version == version))
    if v is None:
        raise NotFound(f"eval set '{name}' has no version {version}")
    return v


def version_label(session: Session, v: EvalSetVersion) -> str:
    """'name@version' for messages and bundles."""
    es = session.get(EvalSet, v.eval_set_id)
    return f"{es.name if es else '?'}@{v.version}"


def _case_hashes(session: Session, version_id: int) -> dict[str, str]:
    return dict(session.execute(select(EvalCase.case_id, EvalCase.case_hash)
                                .where(EvalCase.version_id == version_id)).all())


def import_version(session: Session, actor: Actor, name: str, path: str | Path, fmt: str = "jsonl",
                   note: str = "") -> tuple[EvalSetVersion, bool]:
    """Validate the whole file, then insert it in batches as a new version; (version, created).

    All or nothing: any malformed line → 422 listing the lines, nothing written. Content identical to the
    latest version → that version is returned (created False), so re-running CI does not pile up versions.
    """
    es = get_set(session, name)
    try:
        report = evalset_io.validate_file(path, fmt)  # type: ignore[arg-type]
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not report.ok:
        errs = report.errors
        first = str(errs[0])
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise Invalid(f"eval set file is malformed, nothing imported: {first}{more}",
                      details=[{"field": f"line {e.line}", "line": e.line, "message": f"{e.field}: {e.message}"}
                               for e in errs[:100]])
    prev = latest_version(session, es)
    if prev is not None and prev.content_hash == report.content_hash:
        return prev, False
    old = _case_hashes(session, prev.id) if prev is not None else {}
    d = evalset_io.diff_versions(old, report.case_hashes or {})
    diff = {"against": prev.version if prev else None, "added": d.added, "removed": d.removed, "changed": d.changed}
    v = EvalSetVersion(eval_set_id=es.id, version=(prev.version + 1) if prev else 1,
                       content_hash=report.content_hash or "", n_cases=report.n_cases, diff=diff, note=note,
                       created_by=actor.username)
    session.add(v)
    session.flush()
    batch: list[dict[str, Any]] = []
    hashes = report.case_hashes or {}
    for pos, case in enumerate(evalset_io.iter_cases(path, fmt)):  # type: ignore[arg-type]
        batch.append({"version_id": v.id, "position": pos, "case_id": case.case_id,
                      "case_hash": hashes.get(case.case_id) or evalset_io.case_hash(case), "input": case.input,
                      "expected": case.expected, "tags": list(case.tags), "meta": case.metadata})
        if len(batch) >= INSERT_BATCH:
            session.execute(insert(EvalCase), batch)
            batch = []
    if batch:
        session.execute(insert(EvalCase), batch)
    audit.record(session, actor, "evalset.version", "eval_set", f"{name}@{v.version}", None,
                 {"content_hash": v.content_hash, "n_cases": v.n_cases, "added": len(d.added),
                  "removed": len(d.removed), "changed": len(d.changed)})
    return v, True


def version_view(session: Session, v: EvalSetVersion, with_diff: bool = True) -> dict[str, Any]:
    """JSON form of a version (diff lists capped at 200 ids each, with full counts)."""
    out: dict[str, Any] = {"eval_set": version_label(session, v).split("@")[0], "version": v.version,
                           "content_hash": v.content_hash, "n_cases": v.n_cases, "note": v.note,
                           "created_by": v.created_by, "created_at": v.created_at.isoformat()}
    if with_diff:
        d = v.diff or {}
        out["diff"] = {"against": d.get("against"),
                       **{k: {"count": len(d.get(k, [])), "case_ids": d.get(k, [])[:200]}
                          for k in ("added", "removed", "changed")}}
    return out


def diff_between(session: Session, name: str, a: int, b: int) -> dict[str, Any]:
    """Cases added, removed and changed from version a to version b of one set."""
    va, vb = get_version(session, name, a), get_version(session, name, b)
    d = evalset_io.diff_versions(_case_hashes(session, va.id), _case_hashes(session, vb.id))
    return {"eval_set": name, "from": a, "to": b, "added": d.added, "removed": d.removed, "changed": d.changed}


def cases_page(session: Session, v: EvalSetVersion, offset: int = 0, limit: int = 50) -> list[EvalCase]:
    """A page of a version's cases in file order."""
    return list(session.scalars(select(EvalCase).where(EvalCase.version_id == v.id).order_by(EvalCase.position)
                                .offset(offset).limit(limit)))


def iter_cases_jsonl(engine: Engine, version_id: int, chunk: int = 1000) -> Iterator[bytes]:
    """A version's cases as JSONL in file order, in the import format (re-importing it gives the same content
    hash), read in keyset-paginated chunks with a short session each so a 100k-case download holds no lock."""
    last = -1
    while True:
        with read_session(engine) as s:
            rows = list(s.scalars(select(EvalCase).where(EvalCase.version_id == version_id, EvalCase.position > last)
                                  .order_by(EvalCase.position).limit(chunk)))
        if not rows:
            return
        last = rows[-1].position
        yield "".join(json.dumps({"id": c.case_id, "input": c.input, "expected": c.expected, "tags": c.tags,
                                  "metadata": c.meta}, ensure_ascii=False) + "\n" for c in rows).encode()


# --- runs ---------------------------------------------------------------------------------------------------
def _check_python_refs(target: Any, scorers: Any, allow: sandbox.AllowList) -> None:
    """422 naming the field when a python target or custom scorer names code the operator did not list."""
    refs = []
    if isinstance(target, dict) and target.get("type") == "python":
        refs.append(("target", "target.ref", target.get("ref")))
    for i, spec in enumerate(scorers if isinstance(scorers, list) else []):
        if isinstance(spec, dict) and spec.get("type") == "custom":
            refs.append(("custom scorer", f"scorers[{i}].ref", spec.get("ref")))
    for what, field, ref in refs:
        try:
            sandbox.check_allowed(ref, allow, what)
        except ValueError as exc:
            raise Invalid(f"eval spec: {exc}", details=[{"field": field, "message": "refused: not listed in "
                                                         f"{sandbox.SETTING}"}]) from None


def validate_spec(target: Any, scorers: Any) -> None:
    """422 naming the problem when the target or scorer specs cannot be built or name refused code or addresses.

    Nothing runs here: python refs are checked against the allow-list and their module found, never imported."""
    allow = sandbox.active()
    _check_python_refs(target, scorers, allow)
    box = sandbox.Sandbox(allow)
    try:
        t = make_target(target, sandbox=box)
        s = make_scorers(scorers, sandbox=box)
    except ValueError as exc:
        raise Invalid(f"eval spec: {exc}") from None
    finally:
        box.close()
    asyncio.run(_aclose(t, s))


async def _aclose(target: Any, scorers: list[Any]) -> None:
    for obj in (target, *scorers):
        closer = getattr(obj, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception:  # closing is best effort
                pass


def create_run(session: Session, actor: Actor, version: EvalSetVersion, target: dict[str, Any],
               scorers: list[dict[str, Any]], *, repeats: int = 1, concurrency: int = 8,
               release_id: str | None = None, use_case_key: str | None = None) -> EvalRun:
    """Record a run and enqueue its `evals.run` job (keyed by run id, so it is enqueued once)."""
    validate_spec(target, scorers)
    run = EvalRun(release_id=release_id, use_case_key=use_case_key, version_id=version.id, target=dict(target),
                  scorers=list(scorers), repeats=repeats, concurrency=concurrency, total=version.n_cases,
                  created_by=actor.username)
    session.add(run)
    session.flush()
    job = jobs.enqueue(session, "evals.run", {"run_id": run.id}, key=f"evals.run:{run.id}", max_attempts=5)
    run.job_id = job.id
    audit.record(session, actor, "eval.run", "eval_run", run.id, None,
                 {"release": release_id, "eval_set": version_label(session, version), "n_cases": version.n_cases,
                  "repeats": repeats})
    return run


def get_run(session: Session, run_id: int) -> EvalRun:
    """A run by id, or 404."""
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"eval run {run_id} not found")
    return run


def list_runs(session: Session, release_id: str | None = None, limit: int = 50) -> list[EvalRun]:
    """Runs newest first, optionally of one release."""
    q = select(EvalRun).order_by(EvalRun.id.desc()).limit(limit)
    if release_id:
        q = q.where(EvalRun.release_id == release_id)
    return list(session.scalars(q))


def run_progress(session: Session, run: EvalRun) -> tuple[int, int]:
    """(done, total) of a run: the persisted case results are the truth, even mid-run."""
    if run.status == "done":
        return run.total, run.total
    done = session.scalar(select(func.count()).select_from(EvalCaseResult).where(EvalCaseResult.run_id == run.id))
    return int(done or 0), run.total


def run_view(session: Session, run: EvalRun) -> dict[str, Any]:
    """JSON form of a run with progress, summary and gate."""
    done, total = run_progress(session, run)
    v = session.get(EvalSetVersion, run.version_id)
    return {"id": run.id, "release": run.release_id, "use_case": run.use_case_key,
            "eval_set": version_label(session, v) if v else None, "status": run.status, "done": done,
            "total": total, "repeats": run.repeats, "concurrency": run.concurrency, "summary": run.summary or None,
            "gate": run.gate or None, "error": run.error, "created_by": run.created_by,
            "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


def failing_cases(session: Session, run: EvalRun, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Failed cases of a run with input, expected, output and category, for the release page."""
    rows = session.execute(
        select(EvalCaseResult, EvalCase).join(EvalCase, (EvalCase.version_id == run.version_id)
                                              & (EvalCase.case_id == EvalCaseResult.case_id))
        .where(EvalCaseResult.run_id == run.id, EvalCaseResult.passed.is_(False))
        .order_by(EvalCase.position).offset(offset).limit(limit)).all()
    return [{"case_id": r.case_id, "input": c.input, "expected": c.expected, "output": r.result.get("output"),
             "error_category": r.error_category, "pass_share": r.pass_share, "error": r.result.get("error"),
             "scores": r.result.get("scores")} for r, c in rows]


def _results(session: Session, run_id: int) -> dict[str, CaseResult]:
    return {row.case_id: CaseResult.from_dict(row.result)
            for row in session.scalars(select(EvalCaseResult).where(EvalCaseResult.run_id == run_id))}


def compare(session: Session, run_a: int, run_b: int) -> dict[str, Any]:
    """Case-by-case regressions and fixes from run a (baseline) to run b (candidate)."""
    a, b = get_run(session, run_a), get_run(session, run_b)
    c = compare_runs(_results(session, a.id), _results(session, b.id))
    return {"baseline": a.id, "candidate": b.id, "regressions": c.regressions, "fixes": c.fixes,
            "unchanged_pass": c.unchanged_pass, "unchanged_fail": c.unchanged_fail, "only_in_baseline": c.only_in_a,
            "only_in_candidate": c.only_in_b,
            "pass_rate": {"baseline": (a.summary or {}).get("pass_rate"),
                          "candidate": (b.summary or {}).get("pass_rate")}}


def latest_gate(session: Session, release_id: str) -> dict[str, Any] | None:
    """The gate of the release's latest finished run: status, pass rate, Wilson interval, run id; None if none."""
    if not isinstance(release_id, str) or ":" not in release_id:
        raise ValueError("release_id must be 'use_case_key:version'")
    run = session.scalars(select(EvalRun).where(EvalRun.release_id == release_id, EvalRun.status == "done")
                          .order_by(EvalRun.finished_at.desc(), EvalRun.id.desc()).limit(1)).first()
    if run is None or not run.gate:
        return None
    g = run.gate
    return {"status": g.get("status"), "pass_rate": g.get("pass_rate"), "ci_low": g.get("ci_low"),
            "ci_high": g.get("ci_high"), "run_id": run.id,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "blocks": g.get("blocks"), "reasons": g.get("reasons", []), "version_id": run.version_id}


# --- the gate -----------------------------------------------------------------------------------------------
def gate_for(session: Session, run: EvalRun, summary: RunSummary) -> dict[str, Any]:
    """Judge a finished run against its use case's scale targets and tier policy (pure rules in evals.gates)."""
    uc = portfolio.find(session, run.use_case_key) if run.use_case_key else None
    version, policy = tier_policy_for(session, uc.risk_tier if uc else None)
    blocks_inconclusive = bool(getattr(policy, "inconclusive_blocks", True))
    t = portfolio.targets(uc) if uc is not None else None
    min_rate = t.min_eval_pass_rate if t is not None else None
    ci = wilson_interval(summary.passed, summary.n) if summary.n else (None, None)
    base = {"pass_rate": summary.pass_rate, "ci_low": ci[0], "ci_high": ci[1], "n": summary.n,
            "min_pass_rate": min_rate, "policy_version": version, "inconclusive_blocks": blocks_inconclusive,
            "latency_budget_p95_ms": t.latency_p95_ms if t else None,
            "cost_budget_per_case": t.cost_per_task_usd if t else None}
    if min_rate is None:
        reason = ("no minimum eval pass rate is set on the use case's scale targets: the gate cannot pass"
                  if uc is not None else "the run names no use case: no minimum pass rate to judge against")
        return {**base, "status": "inconclusive", "blocks": blocks_inconclusive, "reasons": [reason]}
    g = judge_gate(summary, min_rate, t.latency_p95_ms if t else None, t.cost_per_task_usd if t else None,
                   inconclusive_blocks=blocks_inconclusive)
    return {**base, "status": g.status, "blocks": g.blocks, "reasons": list(g.reasons)}


# --- executing a run (called by the evals.run job) ----------------------------------------------------------
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
            await _aclose(target, scorers)

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
