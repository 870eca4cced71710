"""Online evaluation HTTP API (mounted under /api/v1): a use case's evaluators, one evaluator with its counters
and recent scores, changes, deletion, a run now, and the online results of one request."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from takeoff.core.types import Id
from takeoff.deps import DB, Allowed
from takeoff.jobs import service as jobs
from takeoff.quality import service
from takeoff.quality.schemas import EvaluatorIn, EvaluatorPatch

router = APIRouter(tags=["quality"])


@router.get("/usecases/{key}/evaluators")
def list_evaluators(key: str, session: DB, actor: Allowed("read")) -> list[dict[str, Any]]:
    """A use case's online evaluators with today's counters (evaluated, skipped, failed, cost, budget left)."""
    return [service.view(session, ev) for ev in service.for_use_case(session, key)]


@router.post("/usecases/{key}/evaluators", status_code=201)
def create_evaluator(key: str, body: EvaluatorIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Add an online evaluator (audited): a scorer spec or a safety policy, sampling, filters, a judge's daily
    budget. 422 naming the field; 403 without monitor.write (and content.read for judges and custom scorers)."""
    return service.view(session, service.create(session, actor, key, body))


@router.get("/evaluators/{evaluator_id}")
def get_evaluator(evaluator_id: Id, session: DB, actor: Allowed("read"),
                  limit: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
    """One evaluator: settings, today's counters, whether it stopped for the day, and its recent results."""
    ev = service.get(session, evaluator_id)
    return {**service.view(session, ev), "recent": service.recent(session, ev, limit)}


@router.patch("/evaluators/{evaluator_id}")
def update_evaluator(evaluator_id: Id, body: EvaluatorPatch, session: DB,
                     actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Change sampling, filters, budget or prices, or switch an evaluator on or off (audited)."""
    return service.view(session, service.update(session, actor, evaluator_id, body))


@router.delete("/evaluators/{evaluator_id}")
def delete_evaluator(evaluator_id: Id, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Delete an evaluator (audited); the scores it wrote stay on the requests and in the rollups."""
    return service.remove(session, actor, evaluator_id)


@router.post("/evaluators/{evaluator_id}/run", status_code=202)
def run_evaluator(evaluator_id: Id, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Queue a run of this evaluator's next batch now (the periodic job runs every minute anyway)."""
    ev = service.get(session, evaluator_id)
    job = jobs.enqueue(session, "quality.evaluate", {"evaluator": ev.id})
    return {"job_id": job.id, "evaluator": ev.id, "links": {"job": f"/api/v1/jobs/{job.id}"}}


@router.get("/requests/{request_id}/online-scores")
def request_online_scores(request_id: str, session: DB, actor: Allowed("read")) -> list[dict[str, Any]]:
    """The online evaluators' results on one request (scores, failures, detector findings)."""
    return service.for_request(session, request_id)
