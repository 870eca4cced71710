"""Tier policies: the current policy of each risk tier (versioned; version 1 is the shipped default), its history
and its edits. The only writer of tier_policy_versions."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid, invalid
from takeoff.governance import policy_defaults
from takeoff.governance.models import TierPolicyVersion
from takeoff.governance.policy_defaults import TierPolicy


def tier_policy(session: Session, tier: str) -> tuple[int, TierPolicy]:
    """The current (version, policy) for a tier; version 1 is the shipped default until an admin edits it."""
    if tier not in policy_defaults.TIERS:
        raise Invalid(f"tier must be one of low, medium, high; got {tier!r}")
    row = session.scalar(select(TierPolicyVersion).where(TierPolicyVersion.tier == tier)
                         .order_by(TierPolicyVersion.version.desc()).limit(1))
    if row is None:
        return 1, policy_defaults.default_tier_policy(tier)
    return row.version, policy_defaults.validate_tier_policy(row.policy)


def tier_policies(session: Session) -> dict[str, tuple[int, TierPolicy]]:
    """Every tier's current (version, policy), as `tier_policy` gives it, in one statement (a portfolio read asks
    for several tiers)."""
    newest = select(TierPolicyVersion.tier, func.max(TierPolicyVersion.version).label("version")) \
        .group_by(TierPolicyVersion.tier).subquery()
    rows = session.scalars(select(TierPolicyVersion).join(
        newest, (TierPolicyVersion.tier == newest.c.tier) & (TierPolicyVersion.version == newest.c.version))).all()
    found = {r.tier: (r.version, policy_defaults.validate_tier_policy(r.policy)) for r in rows
             if r.tier in policy_defaults.TIERS}
    return {t: found.get(t) or (1, policy_defaults.default_tier_policy(t)) for t in policy_defaults.TIERS}


def tier_policy_history(session: Session, tier: str) -> list[dict[str, Any]]:
    """Every version of a tier's policy, newest first (version 1 = the default when never edited)."""
    rows = session.scalars(select(TierPolicyVersion).where(TierPolicyVersion.tier == tier)
                           .order_by(TierPolicyVersion.version.desc())).all()
    out = [{"version": r.version, "policy": r.policy, "note": r.note, "created_by": r.created_by,
            "created_at": r.created_at.isoformat()} for r in rows]
    if not any(r["version"] == 1 for r in out):
        out.append({"version": 1, "policy": policy_defaults.policy_to_dict(policy_defaults.default_tier_policy(tier)),
                    "note": "shipped default", "created_by": "takeoff", "created_at": None})
    return out


def validate_policy(tier: str, policy: Mapping[str, Any]) -> TierPolicy:
    """Validate a policy body for a tier (the tier in the body, if any, must match); 422 on bad input."""
    body = dict(policy)
    if body.setdefault("tier", tier) != tier:
        raise Invalid(f"tier policy body says tier {body['tier']!r} but the address says {tier!r}")
    try:
        return policy_defaults.validate_tier_policy(body)
    except ValueError as exc:
        raise invalid(exc, "policy") from None


def set_tier_policy(session: Session, actor: Actor, tier: str, policy: Mapping[str, Any],
                    note: str = "") -> tuple[int, TierPolicy, bool]:
    """Save a new version of a tier's policy (version, policy, changed); an identical policy adds no version."""
    actor.require("policy.write")
    new = validate_policy(tier, policy)
    version, current = tier_policy(session, tier)
    if new == current:
        return version, current, False
    row = TierPolicyVersion(tier=tier, version=version + 1, policy=policy_defaults.policy_to_dict(new),
                            note=note, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.update", "tier_policy", tier,
                 {"version": version, **policy_defaults.policy_to_dict(current)},
                 {"version": row.version, **row.policy})
    return row.version, new, True
