"""Release operations: immutable bundles, lifecycle, checklist evidence, approvals, canary, rollback.

The only writer of the release tables. Every change is audited in the same transaction.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.core.events import BUDGET_FALLBACK, provided
from takeoff.evals import service as evals
from takeoff.evals.models import EvalRun, EvalSet, EvalSetVersion
from takeoff.evidence.registry import Subject, evidence_kinds
from takeoff.governance import decisions
from takeoff.portfolio import service as portfolio
from takeoff.releases import bundle as bundles
from takeoff.releases import lifecycle
from takeoff.releases.models import Release, ReleaseApproval, ReleaseAttestation, ReleaseTransition
from takeoff.releases.schemas import EvalOverrides, EvalSetRef, ReleaseIn

NO_EVIDENCE = "no evidence"


# --- lookups ------------------------------------------------------------------------------------------------
def parse_release_id(release_id: str) -> tuple[str, int]:
    """'use-case:3' → ('use-case', 3); 422 for anything else."""
    if not isinstance(release_id, str):
        raise Invalid("a release id is 'USE_CASE:VERSION', e.g. support-reply:3")
    key, sep, ver = release_id.rpartition(":")
    if not sep or not key or not ver.isdigit() or int(ver) < 1:
        raise Invalid(f"'{release_id}' is not a release id; use 'USE_CASE:VERSION', e.g. support-reply:3")
    return key, int(ver)


def get(session: Session, release_id: str) -> Release:
    """The release 'UC:VERSION', or 404."""
    key, version = parse_release_id(release_id)
    rel = session.scalar(select(Release).where(Release.use_case_key == key, Release.version == version))
    if rel is None:
        raise NotFound(f"release '{release_id}' not found")
    return rel


def list_releases(session: Session, use_case_key: str | None = None, status: str | None = None,
                  limit: int = 200) -> list[Release]:
    """Releases newest first, filtered by use case and status."""
    q = select(Release).order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)
    if use_case_key:
        q = q.where(Release.use_case_key == use_case_key)
    if status:
        q = q.where(Release.status == status)
    return list(session.scalars(q))


def current_release(session: Session, use_case_key: str) -> Release | None:
    """The release serving production for the use case, or None."""
    return session.scalars(select(Release).where(Release.use_case_key == use_case_key,
                                                 Release.status == "production")
                           .order_by(Release.production_at.desc(), Release.id.desc()).limit(1)).first()


def _canary(session: Session, use_case_key: str) -> Release | None:
    return session.scalars(select(Release).where(Release.use_case_key == use_case_key, Release.status == "canary")
                           .order_by(Release.id.desc()).limit(1)).first()


def releases_in_canary(session: Session) -> list[tuple[str, str, str | None]]:
    """(use_case_key, canary release id, production release id or None) for every running canary."""
    out = []
    for rel in session.scalars(select(Release).where(Release.status == "canary").order_by(Release.id)):
        prod = current_release(session, rel.use_case_key)
        out.append((rel.use_case_key, rel.release_id, prod.release_id if prod else None))
    return out


def previous(session: Session, rel: Release) -> Release | None:
    """The release of the same use case just before this one."""
    return session.scalars(select(Release).where(Release.use_case_key == rel.use_case_key,
                                                 Release.version < rel.version)
                           .order_by(Release.version.desc()).limit(1)).first()


def _entry(rel: Release, weight: int) -> dict[str, Any]:
    b = rel.bundle
    prompts = b.get("prompts") or {}
    prompt = prompts.get("system") if "system" in prompts else next(iter(prompts.values()), None)
    provider, _, model = str(b.get("model", "")).partition("/")
    return {"release_id": rel.release_id, "version": rel.version, "weight": weight, "model": model,
            "provider": provider, "prompt": prompt, "prompts": prompts, "parameters": b.get("parameters") or {},
            "fallback_model": b.get("fallback_model"), "status": rel.status, "safety": b.get("safety")}


def active_config(session: Session, use_case_key: str) -> dict[str, Any]:
    """Which release serves which share of traffic (weights in percent), with model, prompt and parameters."""
    portfolio.get(session, use_case_key)
    prod = current_release(session, use_case_key)
    canary = _canary(session, use_case_key)
    items: list[dict[str, Any]] = []
    if prod is not None and canary is not None:
        w = canary.canary_weight or 0
        items = [_entry(prod, 100 - w), _entry(canary, w)]
    elif prod is not None:
        items = [_entry(prod, 100)]
    elif canary is not None:  # a first release in canary has nothing to share traffic with
        items = [_entry(canary, 100)]
    spent = provided(BUDGET_FALLBACK)  # monitoring's enforced budgets; without monitoring, none
    fallback = spent(session, use_case_key) if spent is not None else {}
    for item in items:  # an enforced budget that is spent: SDKs serve the fallback until its window resets
        until = fallback.get(item["release_id"]) or fallback.get(None)
        item["use_fallback"] = until is not None
        item["fallback_until"] = until
    return {"use_case": use_case_key, "releases": items}


# --- eval set versions by content ---------------------------------------------------------------------------
def _version_by_content(session: Session, name: str, content_hash: str) -> EvalSetVersion | None:
    """The latest version of the named set with this content (a set may return to earlier content)."""
    return session.scalars(select(EvalSetVersion).join(EvalSet, EvalSet.id == EvalSetVersion.eval_set_id)
                           .where(EvalSet.name == name, EvalSetVersion.content_hash == content_hash)
                           .order_by(EvalSetVersion.version.desc()).limit(1)).first()


def resolve_eval_set(session: Session, ref: EvalSetRef) -> EvalSetVersion:
    """The version a create request names: by content hash, by this server's label, or the latest; else 422."""
    def bad(msg: str) -> Invalid:
        return Invalid(msg, details=[{"field": "eval_set", "message": msg}])

    try:
        if ref.content_hash is None:
            return evals.get_version(session, ref.name, ref.version)
        evals.get_set(session, ref.name)
    except NotFound as exc:
        raise bad(exc.message) from None
    v = _version_by_content(session, ref.name, ref.content_hash)
    if v is None:
        raise bad(f"eval set '{ref.name}' has no version with content sha256 {ref.content_hash[:12]}; import its "
                  f"cases first (takeoff evalset import {ref.name} FILE)")
    if ref.version is not None and ref.version != v.version:
        try:
            labelled = evals.get_version(session, ref.name, ref.version)
        except NotFound:
            labelled = None
        if labelled is None or labelled.content_hash != ref.content_hash:
            raise bad(f"eval set '{ref.name}' version {ref.version} does not have content sha256 "
                      f"{ref.content_hash[:12]} (that content is version {v.version} here); give one of them")
        v = labelled
    return v


def bundle_eval_version(session: Session, bundle: dict[str, Any]) -> EvalSetVersion | None:
    """The version of this server that holds the content a bundle is judged on (None when it was never imported)."""
    es = bundle.get("eval_set") or {}
    name, digest = es.get("name"), es.get("content_hash")
    if not name or not digest:
        return None
    return _version_by_content(session, str(name), str(digest))


# --- creation -----------------------------------------------------------------------------------------------
def _move(session: Session, actor: Actor | str, rel: Release, to: str, reason: str = "") -> None:
    if not lifecycle.can_move(rel.status, to):
        raise Conflict(f"release {rel.release_id} is {rel.status}; it cannot become {to}")
    name = actor.username if isinstance(actor, Actor) else str(actor)
    session.add(ReleaseTransition(release_pk=rel.id, from_status=rel.status, to_status=to, actor=name,
                                  reason=reason))
    before = rel.status
    rel.status, rel.status_changed_at = to, utcnow()
    if to == "production":
        rel.production_at = utcnow()
    if to != "canary":
        rel.canary_weight = None
    audit.record(session, actor, f"release.{to}", "release", rel.release_id, {"status": before},
                 {"status": to, "reason": reason})


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
        evals.validate_spec(body.eval.target, body.eval.scorers)
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
    run = evals.create_run(session, actor, version, spec["target"], spec["scorers"],
                           repeats=int(spec.get("repeats") or 1), concurrency=int(spec.get("concurrency") or 8),
                           release_id=rel.release_id, use_case_key=rel.use_case_key)
    # underscore keys are the service's annotations (stripped before the target is built): cost by catalog price
    run.target = {**spec["target"], "_catalog_model": rel.bundle.get("model")}
    if rel.status != "evaluating":
        _move(session, actor, rel, "evaluating", f"eval run {run.id}")
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
    if not _gate_on_bundle_set(session, rel, run.version_id):
        return
    gate = run.gate or {}
    rel.policy_version = gate.get("policy_version")
    to = lifecycle.status_after_gate(gate.get("status", "fail"), bool(gate.get("blocks", True)))
    _move(session, "system", rel, to, f"gate {gate.get('status')} on run {run.id}")



def _gate_on_bundle_set(session: Session, rel: Release, version_id: int | None) -> bool:
    """Whether a run's eval set version has the content the bundle names (same set, same content hash)."""
    v = session.get(EvalSetVersion, version_id) if version_id is not None else None
    es = rel.bundle.get("eval_set") or {}
    if v is None or v.content_hash != es.get("content_hash"):
        return False
    return session.scalar(select(EvalSet.name).where(EvalSet.id == v.eval_set_id)) == es.get("name")


def gate(session: Session, rel: Release) -> dict[str, Any] | None:
    """The latest gate of the release with whether it was judged on the eval set version the bundle names."""
    g = evals.latest_gate(session, rel.release_id)
    if g is not None:
        g["on_bundle_eval_set"] = _gate_on_bundle_set(session, rel, g.get("version_id"))
    return g


# --- approvals ----------------------------------------------------------------------------------------------
def _tier(session: Session, rel: Release) -> str | None:
    """The use case's risk tier now (a tier raised after the release was created raises its bar too)."""
    uc = portfolio.find(session, rel.use_case_key)
    return (uc.risk_tier if uc is not None else None) or rel.tier


def _policy(session: Session, rel: Release) -> tuple[int, Any]:
    return evals.tier_policy_for(session, _tier(session, rel))


def approvals(session: Session, rel: Release) -> list[ReleaseApproval]:
    """Decisions on the release, oldest first."""
    return list(session.scalars(select(ReleaseApproval).where(ReleaseApproval.release_pk == rel.id)
                                .order_by(ReleaseApproval.at, ReleaseApproval.id)))


def _filled(session: Session, rel: Release) -> dict[str, str]:
    return {a.role: a.username for a in approvals(session, rel) if a.decision == "approve"}


def decide(session: Session, actor: Actor, release_id: str, decision: str, comment: str = "",
           role: str | None = None) -> ReleaseApproval:
    """Approve or reject as one of the tier's approver roles, with separation of duties.

    The author cannot decide on their own release (403); a person decides once (409); one person never fills
    two roles. The last required approval moves the release to approved; a rejection ends it.
    """
    if decision not in ("approve", "reject"):
        raise Invalid("decision must be approve or reject")
    rel = get(session, release_id)
    if rel.created_by == actor.username:
        raise Forbidden(f"separation of duties: {actor.username} created release {rel.release_id} and cannot "
                        f"{decision} it", code="separation_of_duties")
    if session.scalar(select(ReleaseApproval.id).where(ReleaseApproval.release_pk == rel.id,
                                                       ReleaseApproval.username == actor.username)) is not None:
        raise Conflict(f"{actor.username} already decided on release {rel.release_id}; one decision per person")
    if rel.status != "awaiting_approval":
        raise Conflict(f"release {rel.release_id} is {rel.status}; decisions are taken while it awaits approval")
    version, policy = _policy(session, rel)
    required = list(policy.approver_roles)
    filled = _filled(session, rel)
    try:
        chosen = lifecycle.choose_role(required, filled, actor.roles, role)
    except ValueError as exc:
        raise Forbidden(str(exc), code="not_an_approver") from None
    row = ReleaseApproval(release_pk=rel.id, username=actor.username, role=chosen, decision=decision,
                          comment=comment)
    session.add(row)
    session.flush()
    audit.record(session, actor, f"release.{decision}", "release", rel.release_id, None,
                 {"role": chosen, "comment": comment, "policy_version": version})
    rel.policy_version = version
    if decision == "reject":
        _move(session, actor, rel, "rejected", f"rejected by {actor.username} ({chosen}): {comment}")
    elif not lifecycle.missing_roles(required, {**filled, chosen: actor.username}):
        _move(session, actor, rel, "approved", "all approver roles of the tier approved")
    return row


# --- checklist ----------------------------------------------------------------------------------------------
def missing_approvals(session: Session, rel: Release) -> list[str]:
    """Approver roles the release's tier requires that have not approved it yet."""
    _, policy = _policy(session, rel)
    return lifecycle.missing_roles(list(policy.approver_roles), _filled(session, rel))


def checklist(session: Session, rel: Release, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tier's pre-release checklist for the release: each item's evidence (from the one evidence registry,
    the same judgement readiness reads) or attestation, and what is missing."""
    version, policy = _policy(session, rel)
    uc = portfolio.get(session, rel.use_case_key)
    subject = Subject(uc, rel, utcnow(), cache if cache is not None else {})
    attest = {a.item_id: a for a in session.scalars(select(ReleaseAttestation)
                                                      .where(ReleaseAttestation.release_pk == rel.id))}
    items = []
    for item in policy.checklist:
        ev = evidence_kinds.gather(session, subject, item.evidence_kind)
        status, detail = (NO_EVIDENCE if ev.status == "no_evidence" else ev.status), ev.detail
        a = attest.get(item.id)
        kind = evidence_kinds.get(item.evidence_kind)
        if status != "pass" and a is not None and (kind is None or kind.attestable):
            status, detail = "attested", f"attested by {a.username}: {a.statement}"
        items.append({"id": item.id, "title": item.title, "evidence_kind": item.evidence_kind,
                      "mandatory": item.mandatory, "status": status, "detail": detail,
                      "satisfied": status in ("pass", "attested"), "evidence": ev.view()})
    unmet = [i["id"] for i in items if i["mandatory"] and not i["satisfied"]]
    return {"tier": _tier(session, rel), "policy_version": version, "approver_roles": list(policy.approver_roles),
            "items": items, "missing": unmet}


def attest(session: Session, actor: Actor, release_id: str, item_id: str, statement: str) -> ReleaseAttestation:
    """A named person attests a checklist item of the release's tier (once per item)."""
    rel = get(session, release_id)
    if rel.status in ("superseded", "rolled_back", "rejected"):
        raise Conflict(f"release {rel.release_id} is {rel.status}; its checklist is closed")
    _, policy = _policy(session, rel)
    ids = [i.id for i in policy.checklist]
    if item_id not in ids:
        raise Invalid(f"'{item_id}' is not an item of the {rel.tier} tier checklist ({', '.join(ids)})",
                      details=[{"field": "item_id", "message": "unknown checklist item"}])
    item = next(i for i in policy.checklist if i.id == item_id)
    kind = evidence_kinds.get(item.evidence_kind)
    if kind is not None and not kind.attestable:
        raise Conflict(f"checklist item {item_id} ({kind.title}) is proven by the release itself, not by attestation")
    if session.scalar(select(ReleaseAttestation.id).where(ReleaseAttestation.release_pk == rel.id,
                                                          ReleaseAttestation.item_id == item_id)) is not None:
        raise Conflict(f"checklist item {item_id} of {rel.release_id} is already attested")
    row = ReleaseAttestation(release_pk=rel.id, item_id=item_id, username=actor.username, statement=statement)
    session.add(row)
    session.flush()
    audit.record(session, actor, "release.attest", "release", rel.release_id, None,
                 {"item_id": item_id, "statement": statement})
    return row


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
    _, policy = _policy(session, rel)
    missing = lifecycle.missing_roles(list(policy.approver_roles), _filled(session, rel))
    blockers = lifecycle.promotion_blockers(rel.status, to, g, bool(g and g.get("on_bundle_eval_set")), missing,
                                            cl["missing"])
    try:
        catalog.require_approved_for_tier(session, rel.bundle.get("model", ""), _tier(session, rel))
    except Invalid as exc:
        blockers.append(exc.message)
    if blockers:
        raise Conflict(f"cannot promote {rel.release_id} to {to}: " + "; ".join(blockers),
                       details=[{"field": "release", "message": b} for b in blockers])
    if to == "canary":
        other = _canary(session, rel.use_case_key)
        if other is not None and other.id != rel.id:
            raise Conflict(f"{other.release_id} is already in canary; promote or roll it back first")
        _move(session, actor, rel, "canary", f"canary at {weight}%")
        rel.canary_weight = weight
        return rel
    prod = current_release(session, rel.use_case_key)
    if prod is not None and prod.id != rel.id:
        _move(session, actor, prod, "superseded", f"superseded by {rel.release_id}")
    _move(session, actor, rel, "production", "promoted to production")
    return rel


def rollback(session: Session, actor: Actor, use_case_key: str, reason: str) -> Release:
    """One step back: a running canary is rolled back (production keeps serving); else production returns to the
    previous production release. Returns the release serving production afterwards.

    Checks release.rollback itself: monitoring's automatic rollback calls it too (as the system actor)."""
    actor.require("release.rollback")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("a rollback needs a reason")
    portfolio.get(session, use_case_key)
    canary = _canary(session, use_case_key)
    prod = current_release(session, use_case_key)
    if canary is not None:
        _move(session, actor, canary, "rolled_back", reason)
        return prod if prod is not None else canary  # a first release has no production to return to
    if prod is None:
        raise Conflict(f"{use_case_key} has no production release to roll back")
    before = session.scalars(select(Release).where(Release.use_case_key == use_case_key,
                                                   Release.status == "superseded", Release.version < prod.version)
                             .order_by(Release.production_at.desc(), Release.version.desc()).limit(1)).first()
    if before is None:
        raise Conflict(f"{prod.release_id} is the first production release of {use_case_key}; there is nothing "
                       "to roll back to")
    _move(session, actor, prod, "rolled_back", reason)
    _move(session, actor, before, "production", f"restored by rollback of {prod.release_id}: {reason}")
    return before


# --- views --------------------------------------------------------------------------------------------------
def view(session: Session, rel: Release, detail: bool = False) -> dict[str, Any]:
    """JSON form of a release; with detail: diff to the previous one, gate, checklist, approvals, transitions."""
    out: dict[str, Any] = {"id": rel.release_id, "use_case": rel.use_case_key, "version": rel.version,
                           "status": rel.status, "content_hash": rel.content_hash, "tier": rel.tier,
                           "policy_version": rel.policy_version, "canary_weight": rel.canary_weight,
                           "model": rel.bundle.get("model"), "eval_set": _eval_set_view(session, rel),
                           "created_by": rel.created_by, "created_at": rel.created_at.isoformat(),
                           "notes": rel.notes}
    if detail:
        prev = previous(session, rel)
        out["bundle"] = rel.bundle
        out["previous"] = prev.release_id if prev else None
        out["diff"] = bundles.diff_bundles(prev.bundle if prev else None, rel.bundle) if prev else []
        out["gate"] = gate(session, rel)
        prev_gate = gate(session, prev) if prev else None
        out["comparison"] = None
        if prev_gate and out["gate"]:
            c = evals.compare(session, prev_gate["run_id"], out["gate"]["run_id"])
            out["comparison"] = {**c, "baseline_run": c["baseline"], "candidate_run": c["candidate"],
                                 "baseline": prev.release_id if prev else None,
                                 "regressions": c["regressions"][:100], "fixes": c["fixes"][:100],
                                 "n_regressions": len(c["regressions"]), "n_fixes": len(c["fixes"])}
        out["checklist"] = checklist(session, rel)
        out["approvals"] = [{"username": a.username, "role": a.role, "decision": a.decision, "comment": a.comment,
                             "at": a.at.isoformat()} for a in approvals(session, rel)]
        out["transitions"] = [{"from": t.from_status, "to": t.to_status, "actor": t.actor, "reason": t.reason,
                               "at": t.at.isoformat()} for t in session.scalars(
            select(ReleaseTransition).where(ReleaseTransition.release_pk == rel.id).order_by(ReleaseTransition.id))]
    return out


def _eval_set_view(session: Session, rel: Release) -> dict[str, Any]:
    """The bundle's eval set (name, content hash) with this server's version label for that content (or None)."""
    es = dict(rel.bundle.get("eval_set") or {})
    v = bundle_eval_version(session, rel.bundle)
    return {**es, "version": v.version if v is not None else None}


def export(session: Session, release_id: str) -> dict[str, Any]:
    """Everything needed to rebuild the release on any server: the bundle, its hash, a create request naming the
    eval set by content, and this server's version label of that content (to download its cases)."""
    rel = get(session, release_id)
    b = dict(rel.bundle)
    es = b.get("eval_set") or {}
    return {"release": rel.release_id, "content_hash": rel.content_hash, "status": rel.status,
            "created_by": rel.created_by, "created_at": rel.created_at.isoformat(),
            "hash_verifies": bundles.verifies(b, rel.content_hash),
            "reproduces_as": bundles.content_hash(bundles.reproducible(b)),
            "eval_set": _eval_set_view(session, rel),
            "bundle": b,
            "create_request": {"use_case": rel.use_case_key, "model": b.get("model"),
                               "parameters": b.get("parameters") or {}, "prompts": b.get("prompts") or {},
                               "retrieval": b.get("retrieval") or {}, "data_snapshot": b.get("data_snapshot"),
                               "eval_set": {"name": es.get("name"), "content_hash": es.get("content_hash")},
                               "eval": b.get("eval"), "code_ref": b.get("code_ref", ""),
                               "fallback_model": b.get("fallback_model"), "notes": rel.notes}}


def diff(session: Session, a: str, b: str) -> dict[str, Any]:
    """Readable diff between any two releases."""
    ra, rb = get(session, a), get(session, b)
    return {"from": ra.release_id, "to": rb.release_id, "changes": bundles.diff_bundles(ra.bundle, rb.bundle)}
