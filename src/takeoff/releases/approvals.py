"""Approvals and the pre-release checklist: who decides in which approver role (separation of duties), which
checklist items have evidence or an attestation. The only writer of release approvals and attestations."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid
from takeoff.evals import runs as eval_runs
from takeoff.evidence.registry import Subject, evidence_kinds
from takeoff.portfolio import service as portfolio
from takeoff.releases import lifecycle, transitions
from takeoff.releases.models import Release, ReleaseApproval, ReleaseAttestation
from takeoff.releases.queries import get

NO_EVIDENCE = "no evidence"


# --- approvals ----------------------------------------------------------------------------------------------


def current_tier(session: Session, rel: Release) -> str | None:
    """The use case's risk tier now (a tier raised after the release was created raises its bar too)."""
    uc = portfolio.find(session, rel.use_case_key)
    return (uc.risk_tier if uc is not None else None) or rel.tier


def tier_policy(session: Session, rel: Release) -> tuple[int, Any]:
    """(version, policy) of the tier the release is judged by now."""
    return eval_runs.tier_policy_for(session, current_tier(session, rel))


def approvals(session: Session, rel: Release) -> list[ReleaseApproval]:
    """Decisions on the release, oldest first."""
    return list(session.scalars(select(ReleaseApproval).where(ReleaseApproval.release_pk == rel.id)
                                .order_by(ReleaseApproval.at, ReleaseApproval.id)))


def filled_roles(session: Session, rel: Release) -> dict[str, str]:
    """Approver role → the person who approved in it."""
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
    version, policy = tier_policy(session, rel)
    required = list(policy.approver_roles)
    filled = filled_roles(session, rel)
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
        transitions.move(session, actor, rel, "rejected", f"rejected by {actor.username} ({chosen}): {comment}")
    elif not lifecycle.missing_roles(required, {**filled, chosen: actor.username}):
        transitions.move(session, actor, rel, "approved", "all approver roles of the tier approved")
    return row


# --- checklist ----------------------------------------------------------------------------------------------


def missing_approvals(session: Session, rel: Release) -> list[str]:
    """Approver roles the release's tier requires that have not approved it yet."""
    _, policy = tier_policy(session, rel)
    return lifecycle.missing_roles(list(policy.approver_roles), filled_roles(session, rel))


def checklist(session: Session, rel: Release, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tier's pre-release checklist for the release: each item's evidence (from the one evidence registry,
    the same judgement readiness reads) or attestation, and what is missing."""
    version, policy = tier_policy(session, rel)
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
    return {"tier": current_tier(session, rel), "policy_version": version, "approver_roles": list(policy.approver_roles),
            "items": items, "missing": unmet}


def attest(session: Session, actor: Actor, release_id: str, item_id: str, statement: str) -> ReleaseAttestation:
    """A named person attests a checklist item of the release's tier (once per item)."""
    rel = get(session, release_id)
    if rel.status in ("superseded", "rolled_back", "rejected"):
        raise Conflict(f"release {rel.release_id} is {rel.status}; its checklist is closed")
    _, policy = tier_policy(session, rel)
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
