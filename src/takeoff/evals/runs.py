"""Eval runs: spec validation (targets, scorers, the code allow-list), creation as `evals.run` jobs, progress,
views, comparisons, and the gate a finished run is judged by. Executing a run is evals.execution."""
from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import one_of
from takeoff.core.errors import Invalid, NotFound
from takeoff.evals import sandbox
from takeoff.evals.gates import judge_gate, wilson_interval
from takeoff.evals.models import EvalCase, EvalCaseResult, EvalRun, EvalSetVersion
from takeoff.evals.runner import CaseResult, RunSummary, compare_runs
from takeoff.evals.scorers import make_scorers
from takeoff.evals.sets import version_label
from takeoff.evals.targets import make_target
from takeoff.governance import policies
from takeoff.jobs import service as jobs
from takeoff.portfolio import service as portfolio


def tier_policy_for(session: Session, tier: str | None) -> tuple[int, Any]:
    """(version, TierPolicy) of the tier (low when unset) from governance."""
    tier = tier or "low"
    return policies.tier_policy(session, tier)


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
    asyncio.run(aclose_all(t, s))


async def aclose_all(target: Any, scorers: list[Any]) -> None:
    """Close a built target and scorers (their HTTP clients); best effort."""
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


def list_runs(session: Session, release_id: str | None = None, limit: int = 50,
              use_case: str | None = None) -> list[EvalRun]:
    """Runs newest first, optionally of one release or of one use case."""
    q = select(EvalRun).order_by(EvalRun.id.desc()).limit(limit)
    if release_id:
        q = q.where(EvalRun.release_id == release_id)
    if use_case:
        q = q.where(EvalRun.use_case_key == use_case)
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
    return latest_gates(session, [release_id]).get(release_id)


def latest_gates(session: Session, release_ids: list[str]) -> dict[str, dict[str, Any]]:
    """`latest_gate` of each release, by release id, in one query whatever their number (a release whose latest
    finished run has no gate is left out)."""
    if any(not isinstance(r, str) or ":" not in r for r in release_ids):
        raise ValueError("release_id must be 'use_case_key:version'")
    if not release_ids:
        return {}
    newest = func.row_number().over(partition_by=EvalRun.release_id,
                                    order_by=(EvalRun.finished_at.desc(), EvalRun.id.desc())).label("n")
    ranked = (select(EvalRun.id, newest).where(one_of(session, EvalRun.release_id, sorted(set(release_ids))),
                                               EvalRun.status == "done").subquery())
    out: dict[str, dict[str, Any]] = {}
    for run in session.scalars(select(EvalRun).join(ranked, ranked.c.id == EvalRun.id).where(ranked.c.n == 1)):
        g = run.gate
        if not g or run.release_id is None:
            continue
        out[run.release_id] = {
            "status": g.get("status"), "pass_rate": g.get("pass_rate"), "ci_low": g.get("ci_low"),
            "ci_high": g.get("ci_high"), "run_id": run.id,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "blocks": g.get("blocks"), "reasons": g.get("reasons", []), "version_id": run.version_id}
    return out


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
