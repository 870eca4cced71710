"""A release's way to production: creation from a bundle, its eval run and the gate that moves it on, promotion
to canary or production (409 naming everything missing) and rollback. Status changes go through transitions."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor
from takeoff.core.errors import Conflict, Invalid
from takeoff.evals import runs as eval_runs
from takeoff.evals.models import EvalRun
from takeoff.governance import decisions
from takeoff.portfolio import service as portfolio
from takeoff.releases import bundle as bundles
from takeoff.releases import lifecycle, transitions
from takeoff.releases.approvals import checklist, current_tier, filled_roles, tier_policy
from takeoff.releases.models import Release
from takeoff.releases.queries import (bundle_eval_version, canary_release, current_release, gate, gate_on_bundle_set, get,
                                      resolve_eval_set)
from takeoff.releases.schemas import EvalOverrides, ReleaseIn


def create(session: Session, actor: Actor, body: ReleaseIn) -> Release:
    """Create the next version of the use case's release from a bundle; 422 for a model not approved for the tier."""
    uc = portfolio.get(session, body.use_case)
    entry = catalog.require_approved_for_tier(session, body.model, uc.risk_tier)
    fallback = body.fallback_model or entry.fallback_model
    if body.fallback_model:
        fb = catalog.require_approved_for_tier(session, body.fallback_model, uc.risk_tier)
        fallback = f"{fb.provider}/{fb.model}"
    version = resolve_eval_set(session, body.eval_set)
    if body.eval is not None:
        eval_runs.validate_spec(body.eval.target, body.eval.scorers)
    content: dict[str, Any] = {
        "use_case": uc.key,
        "model": f"{entry.provider}/{entry.model}",
        "parameters": body.parameters,
        "prompts": body.prompts,
        "retrieval": body.retrieval,
        "data_snapshot": body.data_snapshot.model_dump() if body.data_snapshot else None,
        "eval_set": bundles.eval_set_ref(body.eval_set.name, version.content_hash),
        "eval": body.eval.model_dump() if body.eval else None,
        "code_ref": body.code_ref,
        "fallback_model": fallback,
    }
    if body.safety is not None:  # only when given: bundles without a policy keep the hash they always had
        content["safety"] = body.safety
    digest = bundles.content_hash(content)
    last = session.scalar(select(func.max(Release.version)).where(Release.use_case_key == uc.key)) or 0
    rel = Release(use_case_key=uc.key, version=last + 1, status="draft", bundle=content, content_hash=digest,
                  tier=uc.risk_tier, notes=body.notes, created_by=actor.username)
    session.add(rel)
    session.flush()
    audit.record(session, actor, "release.create", "release", rel.release_id, None,
                 {"content_hash": digest, "model": content["model"],
                  "eval_set": {**content["eval_set"], "version": version.version}})
    return rel


# --- evaluation ---------------------------------------------------------------------------------------------


def start_eval(session: Session, actor: Actor, release_id: str, overrides: EvalOverrides | None = None) -> EvalRun:
    """Start an eval run of the release on the eval set version its bundle names; the release becomes evaluating."""
    rel = get(session, release_id)
    if rel.status not in lifecycle.EVALUABLE:
        raise Conflict(f"release {rel.release_id} is {rel.status}; only draft, evaluating or awaiting_approval "
                       "releases are evaluated")
    spec = dict(rel.bundle.get("eval") or {})
    o = overrides or EvalOverrides()
    if spec and (o.target is not None or o.scorers is not None):
        # change control: a gate must judge what the bundle says; a different target is a different release
        raise Invalid(f"release {rel.release_id} fixes its eval target and scorers in its bundle; create a new "
                      "release to change them (only repeats and concurrency may be set per run)",
                      details=[{"field": "target", "message": "fixed by the bundle"}])
    for k in ("target", "scorers", "repeats", "concurrency"):
        if getattr(o, k) is not None:
            spec[k] = getattr(o, k)
    if not spec.get("target") or not spec.get("scorers"):
        raise Invalid(f"release {rel.release_id} has no eval target and scorers in its bundle; pass them",
                      details=[{"field": "target", "message": "required"}])
    version = bundle_eval_version(session, rel.bundle)
    if version is None:
        es = rel.bundle.get("eval_set") or {}
        raise Conflict(f"eval set '{es.get('name')}' has no version with content sha256 "
                       f"{str(es.get('content_hash'))[:12]} on this server; import its cases first")
    run = eval_runs.create_run(session, actor, version, spec["target"], spec["scorers"],
                           repeats=int(spec.get("repeats") or 1), concurrency=int(spec.get("concurrency") or 8),
                           release_id=rel.release_id, use_case_key=rel.use_case_key)
    # underscore keys are the service's annotations (stripped before the target is built): cost by catalog price
    run.target = {**spec["target"], "_catalog_model": rel.bundle.get("model")}
    if rel.status != "evaluating":
        transitions.move(session, actor, rel, "evaluating", f"eval run {run.id}")
    return run


def on_gate(session: Session, run: EvalRun) -> None:
    """A finished run of a release moves it on to approvals, or back to draft when the gate blocks."""
    if not run.release_id:
        return
    try:
        rel = get(session, run.release_id)
    except Exception:  # a run of a deleted/foreign release changes nothing
        return
    if rel.status != "evaluating":
        return
    if not gate_on_bundle_set(session, rel, run.version_id):
        return
    gate = run.gate or {}
    rel.policy_version = gate.get("policy_version")
    to = lifecycle.status_after_gate(gate.get("status", "fail"), bool(gate.get("blocks", True)))
    transitions.move(session, "system", rel, to, f"gate {gate.get('status')} on run {run.id}")


# --- rollout ------------------------------------------------------------------------------------------------


def promote(session: Session, actor: Actor, release_id: str, to: str, weight: int | None = None) -> Release:
    """Move an approved release to canary (weight % of traffic) or production; 409 naming everything missing.

    Checked here too, not only on the route, for every caller: release.promote, and for production the
    ship_to_production decision right (the system actor of jobs and flows is an admin and passes)."""
    actor.require("release.promote")
    if to == "production":
        decisions.check(session, actor, "ship_to_production")
    rel = get(session, release_id)
    if to == "canary" and weight is None:
        raise Invalid("a canary needs a weight: the percent of traffic it serves (1-99)",
                      details=[{"field": "weight", "message": "required for canary"}])
    if to == "canary" and not (isinstance(weight, int) and 1 <= weight <= 99):
        raise Invalid("canary weight must be a whole percent from 1 to 99",
                      details=[{"field": "weight", "message": "1-99"}])
    g = gate(session, rel)
    cl = checklist(session, rel)
    _, policy = tier_policy(session, rel)
    missing = lifecycle.missing_roles(list(policy.approver_roles), filled_roles(session, rel))
    blockers = lifecycle.promotion_blockers(rel.status, to, g, bool(g and g.get("on_bundle_eval_set")), missing,
                                            cl["missing"])
    try:
        catalog.require_approved_for_tier(session, rel.bundle.get("model", ""), current_tier(session, rel))
    except Invalid as exc:
        blockers.append(exc.message)
    if blockers:
        raise Conflict(f"cannot promote {rel.release_id} to {to}: " + "; ".join(blockers),
                       details=[{"field": "release", "message": b} for b in blockers])
    if to == "canary":
        other = canary_release(session, rel.use_case_key)
        if other is not None and other.id != rel.id:
            raise Conflict(f"{other.release_id} is already in canary; promote or roll it back first")
        transitions.move(session, actor, rel, "canary", f"canary at {weight}%")
        rel.canary_weight = weight
        return rel
    prod = current_release(session, rel.use_case_key)
    if prod is not None and prod.id != rel.id:
        transitions.move(session, actor, prod, "superseded", f"superseded by {rel.release_id}")
    transitions.move(session, actor, rel, "production", "promoted to production")
    return rel


def rollback(session: Session, actor: Actor, use_case_key: str, reason: str) -> Release:
    """One step back: a running canary is rolled back (production keeps serving); else production returns to the
    previous production release. Returns the release serving production afterwards.

    Checks release.rollback itself: monitoring's automatic rollback calls it too (as the system actor)."""
    actor.require("release.rollback")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("a rollback needs a reason")
    portfolio.get(session, use_case_key)
    canary = canary_release(session, use_case_key)
    prod = current_release(session, use_case_key)
    if canary is not None:
        transitions.move(session, actor, canary, "rolled_back", reason)
        return prod if prod is not None else canary  # a first release has no production to return to
    if prod is None:
        raise Conflict(f"{use_case_key} has no production release to roll back")
    before = session.scalars(select(Release).where(Release.use_case_key == use_case_key,
                                                   Release.status == "superseded", Release.version < prod.version)
                             .order_by(Release.production_at.desc(), Release.version.desc()).limit(1)).first()
    if before is None:
        raise Conflict(f"{prod.release_id} is the first production release of {use_case_key}; there is nothing "
                       "to roll back to")
    transitions.move(session, actor, prod, "rolled_back", reason)
    transitions.move(session, actor, before, "production", f"restored by rollback of {prod.release_id}: {reason}")
    return before
