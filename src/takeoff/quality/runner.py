"""The online evaluation run: for one evaluator, read the next bounded batch of new requests with content past its
cursor, keep the sampled share, score them (a scorer, the LLM judge with its cost counted against the day's budget,
or the safety detectors), then write the scores onto the requests and into the rollups, the detectors' findings as
policy violations, and the day's counters.

Three phases so no transaction waits on a judge: read (a short transaction), evaluate (no database), write (one
transaction that re-checks the cursor under the evaluator's row lock, so two overlapping runs never write twice).
Ingestion never waits on any of it: this runs as the periodic job `quality.evaluate`."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from takeoff.audit import service as audit
from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction, utcnow
from takeoff.core.errors import NotFound
from takeoff.evals.evalset_io import Case
from takeoff.evals.scorers import TIMEOUT_OR_ERROR, LLMJudge, Score
from takeoff.evals.targets import ClientPool, RetryPolicy, TargetError, TargetResponse, extract_path, post_json_with_retry
from takeoff.quality import rules, service
from takeoff.quality.models import EvaluatorDay, OnlineEvaluation, OnlineEvaluator
from takeoff.sdk import safety
from takeoff.telemetry import rollup
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.request_models import RequestContent
from takeoff.telemetry.scores import add_request_scores
from takeoff.telemetry.store import store_for

log = logging.getLogger("takeoff.quality")

BATCH = 200  # requests with content read per evaluator per run
CONCURRENCY = 4  # judge calls in flight per evaluator; the budget is checked between groups
RUN_SECONDS = 45.0  # an evaluator's run stops taking new groups after this (the cursor keeps the rest for later)

EVALUATIONS = Counter("takeoff_online_evaluations_total", "Online evaluations by evaluator and result "
                      "(scored, failed, skipped)", ["use_case", "evaluator", "result"])
BUDGET_SPENT = Counter("takeoff_online_evaluator_budget_spent_total", "Times an online evaluator stopped for the day "
                       "because its judge budget was spent", ["use_case", "evaluator"])
VIOLATIONS = Counter("takeoff_online_violations_total", "Policy violations found after the fact by online "
                     "detectors", ["use_case", "evaluator", "violation"])


@dataclass
class Item:
    """One request read past the cursor."""

    request_id: str
    ts: datetime
    use_case: str
    release: str
    latency_ms: float | None
    cost_usd: float | None
    body: dict[str, Any]
    sampled: bool = False


@dataclass
class Result:
    """What evaluating one item gave: a score, or none and why."""

    status: str  # scored | failed | skipped
    value: float | None = None
    passed: bool | None = None
    detail: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float = 0.0
    record: bool = True  # whether a quality_evaluations row keeps it (budget skips are only counted)


def _read(session: Session, ev: OnlineEvaluator, batch: int) -> list[Item]:
    C, E = RequestContent, TelemetryEvent
    q = (select(C.event_id, C.ts, C.body, E.use_case, E.release, E.latency_ms, E.cost_usd)
         .join(E, E.id == C.event_id).where(C.use_case == ev.use_case, C.ts >= ev.since))
    if ev.cursor_ts is not None:
        q = q.where(or_(C.ts > ev.cursor_ts, and_(C.ts == ev.cursor_ts, C.event_id > ev.cursor_id)))
    f = ev.filters or {}
    if f.get("release"):
        q = q.where(E.release == f["release"])
    if f.get("status"):
        q = q.where(E.status == f["status"])
    if f.get("model"):
        q = q.where(E.model == f["model"])
    items = []
    for rid, ts, body, uc, rel, lat, cost in session.execute(q.order_by(C.ts, C.event_id).limit(batch)):
        try:
            doc = json.loads(body or "{}")
        except ValueError:
            doc = {}
        items.append(Item(rid, ts, uc, rel or "", lat, cost, doc if isinstance(doc, dict) else {},
                          rules.sampled(ev.name, rid, ev.sample_rate)))
    return items


def _detect(policy: safety.SafetyPolicy, inp: str, out: str) -> Result:
    findings = []
    for stage, text in (("input", inp), ("output", out)):
        if text and policy.rules(stage):
            findings += [{"stage": f.stage, "detector": f.detector, "action": f.action, "label": f.label,
                          "score": f.score} for f in safety.check(policy, stage, text).findings]
    clean = not findings
    detail = "no finding" if clean else "; ".join(f"{f['stage']} {f['detector']} ({f['label']}): {f['action']}"
                                                  for f in findings)[:300]
    return Result("scored", 1.0 if clean else 0.0, clean, detail, findings)


def _from_score(s: Score, kind: str) -> Result:
    if kind == "custom" and s.error_category == TIMEOUT_OR_ERROR and s.detail.startswith("scorer failed"):
        return Result("failed", detail=s.detail[:300])
    return Result("scored", float(s.value), bool(s.passed), (s.detail or s.error_category or "")[:300])


async def _judge(pool: ClientPool, judge: LLMJudge, case: Case, output: str, prices: dict[str, float]) -> Result:
    """One judge call (no retry: a failure is counted and the next request goes on); its cost from its usage."""
    body = {"model": judge.model, "messages": judge.messages(case, output), "temperature": 0}
    try:
        payload, _ = await post_json_with_retry(pool, "POST", judge.url, body=body, headers=judge.headers,
                                                timeout_s=judge.timeout_s, retry=RetryPolicy(max_attempts=1))
    except TargetError as exc:
        return Result("failed", detail=f"judge call failed: {exc}"[:300])
    cost = rules.call_cost(payload.get("usage") if isinstance(payload, dict) else None, prices)
    try:
        text = extract_path(payload, "choices.0.message.content")
    except TargetError as exc:
        return Result("failed", detail=str(exc)[:300], cost_usd=cost)
    problem = rules.verdict_problem(text)
    if problem:
        return Result("failed", detail=problem[:300], cost_usd=cost)
    s = LLMJudge.parse_verdict(text, judge.threshold)
    return Result("scored", float(s.value), bool(s.passed), s.detail[:300], cost_usd=cost)


async def _evaluate(ev: OnlineEvaluator, items: list[Item], spent: float, prices: dict[str, float] | None,
                    deadline: float) -> tuple[list[tuple[Item, Result]], int, bool]:
    """(results in cursor order, how many items were handled, whether the budget ran out in this run). Scorer calls
    go out CONCURRENCY at a time; the judge's budget is checked before each group with the spend so far."""
    results: list[tuple[Item, Result]] = []
    exhausted = False
    kind = (ev.spec or {}).get("type", "")
    scorer = service.build_scorer(ev.spec) if ev.kind == "scorer" else None
    policy = service.build_policy(ev.spec) if ev.kind == "detectors" else None
    pool = ClientPool(CONCURRENCY, what="online judge") if isinstance(scorer, LLMJudge) else None
    pending: list[tuple[Item, Any]] = []
    handled = 0

    async def flush() -> None:
        nonlocal spent
        done = await asyncio.gather(*(c for _, c in pending))
        for (it, _), res in zip(pending, done):
            results.append((it, res))
            spent += res.cost_usd
        pending.clear()

    try:
        for idx, it in enumerate(items):
            if time.monotonic() > deadline:
                break
            handled = idx + 1
            if not it.sampled:
                continue
            inp, out = rules.content_texts(it.body)
            if not (out or (policy is not None and inp)):
                results.append((it, Result("skipped", detail="no output content to evaluate")))
            elif policy is not None:
                results.append((it, _detect(policy, inp, out)))
            elif isinstance(scorer, LLMJudge) and pool is not None:
                if rules.budget_spent(spent, ev.daily_budget_usd):
                    exhausted = True
                    results.append((it, Result("skipped", detail="daily budget spent", record=False)))
                else:
                    pending.append((it, _judge(pool, scorer, Case(it.request_id, inp), out, prices or {})))
            else:
                resp = TargetResponse(out, float(it.latency_ms or 0.0), cost_usd=it.cost_usd)
                pending.append((it, _score(scorer, Case(it.request_id, inp), resp, kind)))
            if len(pending) >= CONCURRENCY:
                await flush()
        if pending:
            await flush()
    finally:
        for _, c in pending:  # never awaited when something above raised
            c.close()
        if pool is not None:
            await pool.aclose()
        if scorer is not None and hasattr(scorer, "aclose"):
            await scorer.aclose()
    order = {it.request_id: n for n, it in enumerate(items)}
    results.sort(key=lambda r: order[r[0].request_id])
    return results, handled, exhausted


async def _score(scorer: Any, case: Case, resp: TargetResponse, kind: str) -> Result:
    try:
        return _from_score(await scorer.score(case, resp), kind)
    except Exception as exc:  # a scorer that raises fails this request, never the run
        return Result("failed", detail=f"scorer raised {type(exc).__name__}: {exc}"[:300])


def _counters(session: Session, ev: OnlineEvaluator, day: Any) -> EvaluatorDay:
    d = session.get(EvaluatorDay, (ev.id, day))
    if d is None:
        d = EvaluatorDay(evaluator_id=ev.id, day=day, seen=0, evaluated=0, skipped=0, failed=0, violations=0,
                         cost_usd=0.0, seconds=0.0)
        session.add(d)
        session.flush()
    return d


def _violations(session: Session, it: Item, findings: list[dict[str, Any]]) -> None:
    """Count detector findings in the request's rollup minute, keyed "stage:detector:action" like the SDK's."""
    agg = rollup.empty()
    for f in findings:
        k = rollup.violation_key(f["stage"], f["detector"], f["action"])
        agg["violations"][k] = agg["violations"].get(k, 0) + 1
    ts = it.ts.timestamp()
    store_for(session).append_deltas(session, {(60, int(ts // 60) * 60, it.use_case, it.release): agg})


def run_one(factory: sessionmaker[Session], evaluator_id: int, now: datetime | None = None,
            batch: int = BATCH) -> dict[str, Any]:
    """Evaluate the next batch of one evaluator; returns what it did (counts, the cursor, whether it stopped)."""
    now = now or utcnow()
    day = now.date()
    with transaction(factory) as s:
        ev = s.get(OnlineEvaluator, evaluator_id)
        if ev is None or not ev.enabled:
            return {"evaluator": evaluator_id, "ran": False}
        s.expunge(ev)
        d = s.get(EvaluatorDay, (ev.id, day))
        spent = d.cost_usd if d else 0.0
        prices = service.judge_prices(s, ev, now)
        items = _read(s, ev, batch)
    if not items:
        return {"evaluator": ev.id, "ran": True, "seen": 0}
    t0 = time.monotonic()
    results, handled, exhausted = asyncio.run(_evaluate(ev, items, spent, prices, t0 + RUN_SECONDS))
    elapsed = time.monotonic() - t0
    if handled == 0:
        return {"evaluator": ev.id, "ran": True, "seen": 0}
    last = items[handled - 1]
    counts = {"scored": 0, "failed": 0, "skipped": 0, "violations": 0}
    with transaction(factory) as s:
        live = s.scalar(select(OnlineEvaluator).where(OnlineEvaluator.id == ev.id).with_for_update())
        if live is None or (live.cursor_ts, live.cursor_id) != (ev.cursor_ts, ev.cursor_id):
            return {"evaluator": ev.id, "ran": False, "reason": "another run moved the cursor"}
        d = _counters(s, live, day)
        was_spent = d.exhausted_at is not None
        for it, res in results:
            if res.status == "scored" and res.value is not None:
                try:
                    add_request_scores(s, SYSTEM, it.request_id, {rules.score_name(live.name): res.value},
                                       source=f"{rules.SOURCE_PREFIX}{live.name}")
                except NotFound:  # deleted since it was read (retention, a data subject's request)
                    res = Result("skipped", detail="the request was deleted before its score was written",
                                 cost_usd=res.cost_usd)
            counts[res.status] += 1
            EVALUATIONS.labels(live.use_case, live.name, res.status).inc()
            if res.record:
                s.add(OnlineEvaluation(evaluator_id=live.id, request_id=it.request_id, status=res.status,
                                       value=res.value, passed=res.passed, detail=res.detail, findings=res.findings,
                                       cost_usd=res.cost_usd, evaluated_at=now))
            if res.findings:
                _violations(s, it, res.findings)
                counts["violations"] += len(res.findings)
                for f in res.findings:
                    VIOLATIONS.labels(live.use_case, live.name,
                                      rollup.violation_key(f["stage"], f["detector"], f["action"])).inc()
        d.seen += handled
        d.evaluated += counts["scored"]
        d.failed += counts["failed"]
        d.skipped += counts["skipped"]
        d.violations += counts["violations"]
        d.cost_usd += sum(r.cost_usd for _, r in results)
        d.seconds += elapsed
        stopped = rules.budget_spent(d.cost_usd, live.daily_budget_usd)
        if (exhausted or stopped) and not was_spent:
            d.exhausted_at = now
            BUDGET_SPENT.labels(live.use_case, live.name).inc()
            audit.record(s, SYSTEM, "evaluator.budget_spent", "evaluator", live.id, None,
                         {"use_case": live.use_case, "name": live.name, "day": day.isoformat(),
                          "budget_usd": live.daily_budget_usd, "spent_usd": round(d.cost_usd, 6)})
        live.cursor_ts, live.cursor_id = last.ts, last.request_id
    return {"evaluator": ev.id, "ran": True, "seen": handled, **counts, "cost_usd": round(sum(r.cost_usd for _, r in results), 6),
            "budget_spent": bool(exhausted or stopped), "seconds": round(elapsed, 3)}


def enabled_ids(session: Session) -> list[int]:
    """Every enabled evaluator, oldest first."""
    return list(session.scalars(select(OnlineEvaluator.id).where(OnlineEvaluator.enabled)
                                .order_by(OnlineEvaluator.id)))


def run_all(factory: sessionmaker[Session], now: datetime | None = None, batch: int = BATCH) -> list[dict[str, Any]]:
    """One batch of every enabled evaluator; one failing evaluator never stops the others."""
    with transaction(factory) as s:
        ids = enabled_ids(s)
    out = []
    for evaluator_id in ids:
        try:
            out.append(run_one(factory, evaluator_id, now, batch))
        except Exception:
            log.exception("online evaluator %s failed", evaluator_id)
            out.append({"evaluator": evaluator_id, "ran": False, "reason": "error"})
    return out
