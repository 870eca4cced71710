"""Gather readiness evidence from the evidence registry and run the pure judgements (reads only).

Every kind comes from its one provider in the domain that owns the data, the same provider a release checklist
reads, about the release serving production. Organization-wide kinds (roles, token expiry, the audit chain) are
computed once per `Cache`, so a portfolio view verifies the audit chain once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.evidence.registry import PORTFOLIO_KEYS, Evidence, Subject, batched, evidence_kinds
from takeoff.findings import service as findings
from takeoff.governance import policies as governance
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.readiness import checks
from takeoff.releases import evidence as releases_evidence


@dataclass
class Cache:
    """Evidence shared by every use case of one request (organization-wide kinds)."""

    values: dict[Any, Any] = field(default_factory=dict)


def subject(session: Session, uc: UseCase, cache: Cache | None = None, now: datetime | None = None) -> Subject:
    """What readiness judges: the use case and the release serving its production traffic (read for every use case
    of the request at once)."""
    s = Subject(uc, None, now or utcnow(), (cache or Cache()).values)
    s.release = releases_evidence.serving_release(session, s)
    return s


def gather(session: Session, uc: UseCase, cache: Cache | None = None,
           now: datetime | None = None) -> dict[str, Evidence]:
    """Every kind readiness reads for the use case (items and blockers), by kind."""
    return evidence_kinds.gather_many(session, subject(session, uc, cache, now), checks.kinds_read())


def _mandatory(session: Session, tier: str | None, cache: Cache) -> frozenset[str]:
    """The items the tier's policy makes mandatory (every tier's policy read once per request)."""
    if tier is None:
        return checks.mandatory_items(None)
    memo = "readiness.mandatory"
    if memo not in cache.values:  # every tier's policy in one statement, the first time the request asks
        cache.values[memo] = {t: checks.mandatory_items(policy.mandatory_evidence)
                              for t, (_, policy) in governance.tier_policies(session).items()}
    by_tier: dict[str, frozenset[str]] = cache.values[memo]
    if tier not in by_tier:
        governance.tier_policy(session, tier)  # an unknown tier: the same 422 as before
    return by_tier[tier]


def _critical_titles(session: Session, s: Subject) -> list[str]:
    """Titles of the use case's open critical findings in the order they were filed (read for all at once)."""
    found = batched(s, "findings.open_critical", lambda keys: findings.open_critical_of(session, keys)) or []
    return [f.title for f in sorted(found, key=lambda f: f.id)]


def diagnose(session: Session, key: str, cache: Cache | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The seven items with status, reason, evidence link, pilot gap, mandatory flag and scope, plus the verdict
    (which names every blocking incident, canary, baseline, finding and data source with its link)."""
    return _diagnose(session, portfolio.get(session, key), cache, now)


def _diagnose(session: Session, uc: UseCase, cache: Cache | None, now: datetime | None) -> dict[str, Any]:
    cache = cache or Cache()
    s = subject(session, uc, cache, now)
    ev = evidence_kinds.gather_many(session, s, checks.kinds_read())
    items = checks.evaluate(ev, _mandatory(session, uc.risk_tier, cache))
    v = checks.verdict(items, {k: ev[k] for k in checks.BLOCKING_KINDS})
    return {"use_case": uc.key, "name": uc.name, "risk_tier": uc.risk_tier, "status": uc.status,
            "items": [_shallow(i) for i in items], "verdict": _shallow(v), "open_gaps": checks.gaps(items),
            "critical_findings": _critical_titles(session, s),
            "blockers": {k: ev[k].view() for k in checks.BLOCKING_KINDS}}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class (`fields()` filters every field on each call: ~400 calls
    per portfolio view)."""
    found = _FIELD_NAMES.get(cls)
    if found is None:
        found = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return found


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict (its lists and dicts are the judgement's own fresh ones: no deep copy,
    which cost a quarter of a portfolio read)."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}


def portfolio_view(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The diagnostic for every use case that is not retired (one audit-chain verification for all; providers that
    can read a fact for every use case at once do, told the keys through the shared cache), all as of one `now`."""
    now = now or utcnow()
    ucs = [uc for uc in portfolio.list_use_cases(session) if uc.status != "retired"]
    cache = Cache({PORTFOLIO_KEYS: [uc.key for uc in ucs]})
    out = [_diagnose(session, uc, cache, now) for uc in ucs]
    return {"items": list(checks.ITEMS), "titles": checks.TITLES, "use_cases": out,
            "ready": sum(1 for d in out if d["verdict"]["ready"])}
