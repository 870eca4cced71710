"""Gather readiness evidence from the evidence registry and run the pure judgements (reads only).

Every kind comes from its one provider in the domain that owns the data, the same provider a release checklist
reads, about the release serving production. Organization-wide kinds (roles, token expiry, the audit chain) are
computed once per `Cache`, so a portfolio view verifies the audit chain once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.evidence.registry import PORTFOLIO_KEYS, Evidence, Subject, evidence_kinds
from takeoff.findings import service as findings
from takeoff.governance import policies as governance
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.readiness import checks
from takeoff.releases import queries as releases


@dataclass
class Cache:
    """Evidence shared by every use case of one request (organization-wide kinds)."""

    values: dict[Any, Any] = field(default_factory=dict)


def subject(session: Session, uc: UseCase, cache: Cache | None = None, now: datetime | None = None) -> Subject:
    """What readiness judges: the use case and the release serving its production traffic."""
    return Subject(uc, releases.current_release(session, uc.key), now or utcnow(),
                   (cache or Cache()).values)


def gather(session: Session, uc: UseCase, cache: Cache | None = None,
           now: datetime | None = None) -> dict[str, Evidence]:
    """Every kind readiness reads for the use case (items and blockers), by kind."""
    return evidence_kinds.gather_many(session, subject(session, uc, cache, now), checks.kinds_read())


def _mandatory(session: Session, tier: str | None) -> frozenset[str]:
    if tier is None:
        return checks.mandatory_items(None)
    _, policy = governance.tier_policy(session, tier)
    return checks.mandatory_items(policy.mandatory_evidence)


def diagnose(session: Session, key: str, cache: Cache | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The seven items with status, reason, evidence link, pilot gap, mandatory flag and scope, plus the verdict
    (which names every blocking incident, canary, baseline, finding and data source with its link)."""
    return _diagnose(session, portfolio.get(session, key), cache, now)


def _diagnose(session: Session, uc: UseCase, cache: Cache | None, now: datetime | None) -> dict[str, Any]:
    ev = gather(session, uc, cache, now)
    items = checks.evaluate(ev, _mandatory(session, uc.risk_tier))
    v = checks.verdict(items, {k: ev[k] for k in checks.BLOCKING_KINDS})
    return {"use_case": uc.key, "name": uc.name, "risk_tier": uc.risk_tier, "status": uc.status,
            "items": [asdict(i) for i in items], "verdict": asdict(v), "open_gaps": checks.gaps(items),
            "critical_findings": findings.open_critical(session, uc.key),
            "blockers": {k: ev[k].view() for k in checks.BLOCKING_KINDS}}


def portfolio_view(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The diagnostic for every use case that is not retired (one audit-chain verification for all; providers that
    can read a fact for every use case at once do, told the keys through the shared cache), all as of one `now`."""
    now = now or utcnow()
    ucs = [uc for uc in portfolio.list_use_cases(session) if uc.status != "retired"]
    cache = Cache({PORTFOLIO_KEYS: [uc.key for uc in ucs]})
    out = [_diagnose(session, uc, cache, now) for uc in ucs]
    return {"items": list(checks.ITEMS), "titles": checks.TITLES, "use_cases": out,
            "ready": sum(1 for d in out if d["verdict"]["ready"])}
