"""Releases HTTP API: create, read, export, diff, evaluate, approve/reject, attest, promote, rollback, active."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from takeoff.deps import DB, Allowed, AllowedAny, Decides
from takeoff.evals import runs as evals
from takeoff.releases import approvals, queries, rollout, views
from takeoff.evals.schemas import RunOut
from takeoff.releases.schemas import (ActiveConfigOut, AttestIn, DecisionIn, EvalOverrides, PromoteIn, PromotedOut,
                                      RejectIn, ReleaseDetailOut, ReleaseIn, ReleaseListOut, RollbackIn, RolledBackOut)

router = APIRouter(tags=["releases"])


@router.post("/releases", status_code=201, response_model=ReleaseDetailOut, operation_id="releases_create")
def create(body: ReleaseIn, session: DB, actor: Allowed("release.create")) -> dict[str, Any]:
    """Create the next release of a use case from its bundle (model must be approved for the use case's tier)."""
    return views.view(session, rollout.create(session, actor, body), detail=True)


@router.get("/releases", response_model=ReleaseListOut, operation_id="releases_list")
def list_releases(session: DB, actor: Allowed("read"), use_case: str | None = None, status: str | None = None,
                  limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    """Releases newest first."""
    return {"items": [views.view(session, r) for r in queries.list_releases(session, use_case, status, limit)]}


@router.get("/releases/{release_id}", response_model=ReleaseDetailOut, operation_id="releases_get")
def get_release(release_id: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """A release with bundle, diff to the previous one, gate, checklist, approvals and transitions."""
    return views.view(session, queries.get(session, release_id), detail=True)


@router.get("/releases/{release_id}/export")
def export(release_id: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The whole bundle, enough to rebuild the release."""
    return views.export(session, release_id)


@router.get("/releases/{release_id}/diff/{other}")
def diff(release_id: str, other: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Readable diff from one release to another."""
    return views.diff(session, release_id, other)


@router.post("/releases/{release_id}/evaluate", status_code=202, response_model=RunOut,
              operation_id="releases_evaluate")
def evaluate(release_id: str, session: DB, actor: Allowed("eval.run"),
             body: EvalOverrides | None = None) -> dict[str, Any]:
    """Start an eval run of the release (a job); poll /evalruns/{id} for progress and the gate."""
    run = rollout.start_eval(session, actor, release_id, body)
    return evals.run_view(session, run)


@router.post("/releases/{release_id}/approve", response_model=ReleaseDetailOut, operation_id="releases_approve")
def approve(release_id: str, body: DecisionIn, session: DB, actor: Allowed("release.approve")) -> dict[str, Any]:
    """Approve as one of the tier's approver roles (not the author; once per person)."""
    approvals.decide(session, actor, release_id, "approve", body.comment, body.role)
    return views.view(session, queries.get(session, release_id), detail=True)


@router.post("/releases/{release_id}/reject", response_model=ReleaseDetailOut, operation_id="releases_reject")
def reject(release_id: str, body: RejectIn, session: DB, actor: Allowed("release.approve")) -> dict[str, Any]:
    """Reject with a comment as one of the tier's approver roles."""
    approvals.decide(session, actor, release_id, "reject", body.comment, body.role)
    return views.view(session, queries.get(session, release_id), detail=True)


@router.post("/releases/{release_id}/attest", status_code=201)
def attest(release_id: str, body: AttestIn, session: DB,
           actor: AllowedAny("release.create", "release.approve", to="attest")) -> dict[str, Any]:
    """A named person attests a checklist item the system has no evidence for (release authors or approvers)."""
    approvals.attest(session, actor, release_id, body.item_id, body.statement)
    return approvals.checklist(session, queries.get(session, release_id))


@router.post("/releases/{release_id}/promote", response_model=PromotedOut, operation_id="releases_promote")
def promote(release_id: str, body: PromoteIn, session: DB,
            actor: Decides("ship_to_production", when={"to": ["production"]})) -> dict[str, Any]:
    """Promote to canary (weight %) or production; 409 names every missing gate, approval or checklist item."""
    rel = rollout.promote(session, actor, release_id, body.to, body.weight)
    return {**views.view(session, rel), "active": queries.active_config(session, rel.use_case_key)}


@router.post("/usecases/{key}/rollback", response_model=RolledBackOut, operation_id="releases_rollback")
def rollback(key: str, session: DB, actor: Allowed("release.rollback"),
             body: RollbackIn | None = None) -> dict[str, Any]:
    """Return the use case to its previous production release (or end a running canary)."""
    rel = rollout.rollback(session, actor, key, (body or RollbackIn()).reason)
    return {"serving": views.view(session, rel), "active": queries.active_config(session, key)}


@router.get("/usecases/{key}/active", response_model=ActiveConfigOut, operation_id="releases_active")
def active(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The active configuration for the SDK: which release serves which share of traffic."""
    return queries.active_config(session, key)
