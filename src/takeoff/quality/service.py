"""Online evaluators: create, change, delete and read them, each with its counters of today and its recent scores.
The spec is checked by the same builders the eval runs use (`evals.scorers.make_scorer`, `sdk.safety.parse_policy`),
so a spec that would fail at run time is refused here with a 422 naming the field."""
from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.evals.scorers import make_scorer
from takeoff.portfolio import service as portfolio
from takeoff.quality import rules
from takeoff.quality.models import EvaluatorDay, OnlineEvaluation, OnlineEvaluator
from takeoff.quality.schemas import EvaluatorIn, EvaluatorPatch
from takeoff.sdk.safety import SafetyPolicy, parse_policy

MAX_PER_USE_CASE = 20
# Scorers that send stored content somewhere else (a judge endpoint, a team's code): creating one needs the right
# to read that content.
SENDS_CONTENT = ("llm_judge", "custom")
# Detectors that call a network endpoint with an API key read from the process's environment: on the server that
# would be the server's environment and an unguarded outbound call, so online evaluators refuse them.
NOT_SERVER_SIDE = ("moderation",)


def _bad(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", details=[{"field": field, "message": message}])


def _scorer_field(message: str) -> str:
    """Which field of the scorer spec a builder's message is about (scorer.base_url, scorer.type, ...)."""
    if "base_url" in message or "URL" in message or " host " in message or "refused" in message:
        return "scorer.base_url"
    if message.startswith("scorer type must"):
        return "scorer.type"
    quoted = re.search(r"'([a-z_]+)'(?! must be one of)", message.split(":", 1)[-1])
    if quoted:
        return f"scorer.{quoted.group(1)}"
    for word in ("model", "rubric", "name"):
        if word in message:
            return f"scorer.{word}"
    return "scorer"


def build_scorer(spec: Any) -> Any:
    """The scorer of a spec through the eval runs' builder; Invalid naming the field. Scorers that need an expected
    answer cannot run on production requests, which have none."""
    if not isinstance(spec, dict):
        raise _bad("scorer", "a scorer spec object with a 'type' is required for kind 'scorer'")
    if spec.get("type") in rules.NEEDS_EXPECTED:
        raise _bad("scorer.type", f"{spec['type']!r} compares with an expected answer, which production requests do "
                   "not have; use llm_judge, contains/not_contains/regex with values, json_valid, json_schema, "
                   "latency_budget, cost_budget or custom")
    if spec.get("type") == "contains" and not spec.get("values"):
        raise _bad("scorer.values", "'contains' needs 'values' online (there is no expected answer)")
    try:
        return make_scorer(spec)
    except ValueError as exc:
        raise _bad(_scorer_field(str(exc)), str(exc)) from None


def close_scorer(scorer: Any) -> None:
    """Release what a built scorer holds (a judge's HTTP pool, a custom scorer's sandbox)."""
    closer = getattr(scorer, "aclose", None)
    if closer is not None:
        asyncio.run(closer())


def build_policy(spec: Any) -> SafetyPolicy:
    """The safety policy of a detectors evaluator (the SDK's parser); Invalid naming the field."""
    if not isinstance(spec, dict) or not (spec.get("input") or spec.get("output")):
        raise _bad("safety", "a safety policy with at least one input or output rule is required for kind "
                   "'detectors'")
    try:
        policy = parse_policy(spec)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        return_field = field if field.startswith("safety") else "safety"
        raise _bad(return_field, message or str(exc)) from None
    for stage in ("input", "output"):
        for i, rule in enumerate(policy.rules(stage)):
            if rule.detector in NOT_SERVER_SIDE:
                raise _bad(f"safety.{stage}[{i}].detector", f"{rule.detector!r} calls out with a key from the "
                           "environment: it runs in the application's SDK, not on the server (use an llm_judge "
                           "evaluator for a model's opinion)")
    return policy


def judge_prices(session: Session, ev: OnlineEvaluator, at: datetime | None = None) -> dict[str, float] | None:
    """A judge's USD per 1M tokens: the evaluator's own, else the catalog's price of the judge model (None: unknown)."""
    if ev.prices:
        return {k: float(v) for k, v in ev.prices.items()}
    model = (ev.spec or {}).get("model")
    if ev.kind != "scorer" or (ev.spec or {}).get("type") != "llm_judge" or not isinstance(model, str):
        return None
    try:
        return catalog.price_for(session, None, model, at or utcnow())
    except ValueError:
        return None


def _check_spec(session: Session, actor: Actor, ev: OnlineEvaluator, new: bool = False) -> None:
    if ev.kind == "scorer":
        if new and ev.spec.get("type") in SENDS_CONTENT and not actor.can("content.read"):
            raise Forbidden(f"a {ev.spec.get('type')} evaluator sends stored content out of takeoff: it needs the "
                            "content.read permission")
        close_scorer(build_scorer(ev.spec))
        if ev.spec.get("type") != "llm_judge" and ev.daily_budget_usd is not None:
            raise _bad("daily_budget_usd", "a budget is for LLM judges (other scorers cost nothing)")
        if ev.daily_budget_usd is not None and judge_prices(session, ev) is None:
            raise _bad("prices", f"the judge model {ev.spec.get('model')!r} has no catalog price: give 'prices' "
                       "(USD per 1M input and output tokens) so the budget can be counted")
    else:
        build_policy(ev.spec)
        if ev.daily_budget_usd is not None:
            raise _bad("daily_budget_usd", "a budget is for LLM judges (detectors cost nothing)")


def create(session: Session, actor: Actor, use_case_key: str, body: EvaluatorIn) -> OnlineEvaluator:
    """Add an evaluator to a use case (audited); it reads requests from `since` (default: now) on."""
    uc = portfolio.get(session, use_case_key)
    if body.kind == "scorer" and body.safety is not None:
        raise _bad("safety", "only for kind 'detectors'")
    if body.kind == "detectors" and body.scorer is not None:
        raise _bad("scorer", "only for kind 'scorer'")
    if body.kind == "scorer" and not body.scorer:
        raise _bad("scorer", "a scorer spec ({\"type\": ...}) is required for kind 'scorer'")
    if session.scalar(select(OnlineEvaluator.id).where(OnlineEvaluator.use_case == uc.key,
                                                       OnlineEvaluator.name == body.name)) is not None:
        raise Conflict(f"use case {uc.key!r} already has an evaluator named {body.name!r}")
    count = len(list(session.scalars(select(OnlineEvaluator.id).where(OnlineEvaluator.use_case == uc.key))))
    if count >= MAX_PER_USE_CASE:
        raise _bad("name", f"a use case has at most {MAX_PER_USE_CASE} evaluators")
    now = utcnow()
    ev = OnlineEvaluator(use_case=uc.key, name=body.name, kind=body.kind,
                         spec=dict(body.scorer if body.kind == "scorer" else body.safety or {}),
                         sample_rate=body.sample_rate, filters=body.filters.model_dump(exclude_none=True),
                         daily_budget_usd=body.daily_budget_usd,
                         prices=body.prices.model_dump() if body.prices else {}, enabled=body.enabled,
                         since=body.since or now, created_by=actor.username, created_at=now, updated_at=now)
    _check_spec(session, actor, ev, new=True)
    session.add(ev)
    session.flush()
    audit.record(session, actor, "evaluator.create", "evaluator", ev.id, None, _audit_view(ev))
    return ev


def _audit_view(ev: OnlineEvaluator) -> dict[str, Any]:
    spec = {k: ("***" if k == "api_key" else v) for k, v in (ev.spec or {}).items()}
    return {"use_case": ev.use_case, "name": ev.name, "kind": ev.kind, "spec": spec, "sample_rate": ev.sample_rate,
            "filters": ev.filters, "daily_budget_usd": ev.daily_budget_usd, "prices": ev.prices, "enabled": ev.enabled}


def get(session: Session, evaluator_id: int) -> OnlineEvaluator:
    """The evaluator with this id, or 404."""
    ev = session.get(OnlineEvaluator, evaluator_id)
    if ev is None:
        raise NotFound(f"no evaluator with id {evaluator_id}")
    return ev


def update(session: Session, actor: Actor, evaluator_id: int, body: EvaluatorPatch) -> OnlineEvaluator:
    """Change an evaluator's sampling, filters, budget, prices or switch it on or off (audited)."""
    ev = get(session, evaluator_id)
    if body.clear_budget and body.daily_budget_usd is not None:
        raise _bad("clear_budget", "give either daily_budget_usd or clear_budget, not both")
    before = _audit_view(ev)
    if body.sample_rate is not None:
        ev.sample_rate = body.sample_rate
    if body.filters is not None:
        ev.filters = body.filters.model_dump(exclude_none=True)
    if body.daily_budget_usd is not None:
        ev.daily_budget_usd = body.daily_budget_usd
    if body.clear_budget:
        ev.daily_budget_usd = None
    if body.prices is not None:
        ev.prices = body.prices.model_dump()
    if body.enabled is not None:
        ev.enabled = body.enabled
    pausing_only = body.enabled is False and not body.model_fields_set - {"enabled"}
    if not pausing_only:  # a pause always works, even when the judge's URL is no longer allowed
        _check_spec(session, actor, ev)
    ev.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "evaluator.update", "evaluator", ev.id, before, _audit_view(ev))
    return ev


def remove(session: Session, actor: Actor, evaluator_id: int) -> dict[str, Any]:
    """Delete an evaluator and its counters and results (the scores it wrote stay on the requests; audited)."""
    ev = get(session, evaluator_id)
    before = _audit_view(ev)
    session.execute(delete(OnlineEvaluation).where(OnlineEvaluation.evaluator_id == ev.id))
    session.execute(delete(EvaluatorDay).where(EvaluatorDay.evaluator_id == ev.id))
    session.delete(ev)
    session.flush()
    audit.record(session, actor, "evaluator.delete", "evaluator", evaluator_id, before, None)
    return {"deleted": evaluator_id}


def for_use_case(session: Session, use_case_key: str) -> list[OnlineEvaluator]:
    """A use case's evaluators by name (404 for an unknown use case)."""
    uc = portfolio.get(session, use_case_key)
    return list(session.scalars(select(OnlineEvaluator).where(OnlineEvaluator.use_case == uc.key)
                                .order_by(OnlineEvaluator.name)))


def day_of(session: Session, ev: OnlineEvaluator, day: date) -> EvaluatorDay | None:
    return session.get(EvaluatorDay, (ev.id, day))


def view(session: Session, ev: OnlineEvaluator, today: date | None = None) -> dict[str, Any]:
    """An evaluator as the API and pages show it: settings, today's counters, budget left and whether it stopped."""
    today = today or utcnow().date()
    d = day_of(session, ev, today)
    spent = d.cost_usd if d else 0.0
    stopped = rules.budget_spent(spent, ev.daily_budget_usd)
    state = "disabled" if not ev.enabled else "budget_spent" if stopped else "running"
    spec = {k: ("***" if k == "api_key" else v) for k, v in (ev.spec or {}).items()}
    return {"id": ev.id, "use_case": ev.use_case, "name": ev.name, "kind": ev.kind, "spec": spec,
            "score": rules.score_name(ev.name), "metric": f"quality_{rules.score_name(ev.name)}",
            "sample_rate": ev.sample_rate, "filters": ev.filters or {}, "daily_budget_usd": ev.daily_budget_usd,
            "prices": judge_prices(session, ev), "enabled": ev.enabled, "state": state,
            "state_detail": (f"daily budget of ${ev.daily_budget_usd:g} spent at "
                             f"{d.exhausted_at.isoformat() if d and d.exhausted_at else 'today'}; evaluation resumes "
                             "at 00:00 UTC" if state == "budget_spent" else ""),
            "since": ev.since.isoformat(), "cursor": ev.cursor_ts.isoformat() if ev.cursor_ts else None,
            "today": {"day": today.isoformat(), "seen": d.seen if d else 0, "evaluated": d.evaluated if d else 0,
                      "skipped": d.skipped if d else 0, "failed": d.failed if d else 0,
                      "violations": d.violations if d else 0, "cost_usd": round(spent, 6),
                      "budget_left_usd": rules.budget_left(spent, ev.daily_budget_usd),
                      "evaluations_per_s": round(d.evaluated / d.seconds, 2) if d and d.seconds > 0 else None},
            "created_by": ev.created_by, "created_at": ev.created_at.isoformat(),
            "links": {"page": f"/usecases/{ev.use_case}/evaluators",
                      "requests": f"/requests?use_case={ev.use_case}&score={rules.score_name(ev.name)}"}}


def recent(session: Session, ev: OnlineEvaluator, limit: int = 20) -> list[dict[str, Any]]:
    """The evaluator's latest results, newest first (scored, failed and skipped requests)."""
    rows = session.scalars(select(OnlineEvaluation).where(OnlineEvaluation.evaluator_id == ev.id)
                           .order_by(OnlineEvaluation.evaluated_at.desc(), OnlineEvaluation.id.desc()).limit(limit))
    return [result_view(r) for r in rows]


def result_view(r: OnlineEvaluation) -> dict[str, Any]:
    return {"request_id": r.request_id, "status": r.status, "value": r.value, "passed": r.passed, "detail": r.detail,
            "findings": r.findings or [], "cost_usd": r.cost_usd, "evaluated_at": r.evaluated_at.isoformat(),
            "link": f"/requests/{r.request_id}"}


def for_request(session: Session, request_id: str) -> list[dict[str, Any]]:
    """Every online result on one request, with its evaluator's name (the request page's section)."""
    rows = session.execute(select(OnlineEvaluation, OnlineEvaluator.name)
                           .join(OnlineEvaluator, OnlineEvaluator.id == OnlineEvaluation.evaluator_id)
                           .where(OnlineEvaluation.request_id == request_id).order_by(OnlineEvaluator.name))
    return [{**result_view(r), "evaluator": name, "evaluator_id": r.evaluator_id, "score": rules.score_name(name)}
            for r, name in rows]
