"""Gather readiness evidence through the other domains' services (guarded) and run the pure checks.

Reads only. Every cross-domain read goes through `outcomes.service.capability`, so a capability missing from the
build becomes `checks.Missing(name)` and the item shows "no evidence" naming it. The audit chain is verified at
most once per `Cache` (it reads the whole chain), so a portfolio view costs one verification.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from takeoff.db import utcnow
from takeoff.outcomes import service as outcomes
from takeoff.outcomes.service import capability
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.readiness import checks
from takeoff.readiness.checks import Missing

QUALITY_RULE_METRICS = ("error_category_rate", "override_rate", "escalation_rate", "error_rate")
COST_RULE_METRICS = ("cost_per_task", "cost_per_active_user", "tokens")


@dataclass
class Cache:
    """Evidence shared by every use case of one request (security and the audit chain)."""

    values: dict[str, Any] = field(default_factory=dict)


def _missing(module: str, attr: str) -> Missing:
    return Missing(f"{module}.{attr}")


def _security(session: Session, cache: Cache) -> checks.Security:
    if "security" in cache.values:
        return cache.values["security"]
    from takeoff.audit import service as audit
    from takeoff.auth import service as auth

    roles: dict[str, int] = {}
    for u in auth.list_users(session):
        if u.active:
            for r in u.roles or []:
                roles[r] = roles.get(r, 0) + 1
    now = utcnow()
    active = [t for t, _ in auth.list_tokens(session, None)
              if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)]
    count, problem = audit.verify_chain(session)
    sec = checks.Security(roles_in_use=roles, tokens_active=len(active),
                          tokens_with_expiry=sum(1 for t in active if t.expires_at is not None),
                          audit_entries=count, audit_problem=str(problem) if problem else None)
    cache.values["security"] = sec
    return sec


def _mandatory(session: Session, tier: str | None) -> frozenset[str] | None:
    fn = capability("takeoff.governance.service", "tier_policy")
    if fn is None or tier is None:
        return None
    _, policy = fn(session, tier)
    kinds = getattr(policy, "mandatory_evidence", None)
    if kinds is None:
        return None
    return checks.mandatory_items(tier, kinds() if callable(kinds) else kinds)


def gather(session: Session, uc: UseCase, cache: Cache | None = None, now: datetime | None = None) -> checks.ReadinessEvidence:
    """The evidence of one use case, each part from its domain's service or Missing(capability)."""
    cache = cache or Cache()
    now = now or utcnow()
    key = uc.key

    # data quality
    sources = capability("takeoff.data.service", "sources_for_use_case")
    if sources is None:
        data: checks.DataQuality | Missing = _missing("takeoff.data.service", "sources_for_use_case")
    else:
        from takeoff.data.evidence import data_quality_evidence

        ev = data_quality_evidence(sources(session, key))
        data = checks.DataQuality(ev.status, list(ev.reasons))

    # decision ownership
    raci = capability("takeoff.governance.service", "raci")
    north = (uc.kpis or {}).get("north_star") or {}
    ownership = checks.Ownership(uc.business_owner, north.get("name"),
                                 list(raci(session, key).get("accountable", [])) if raci
                                 else _missing("takeoff.governance.service", "raci"))

    # evaluation
    current_fn = capability("takeoff.releases.service", "current_release")
    gate_fn = capability("takeoff.evals.service", "latest_gate")
    sets_fn = capability("takeoff.evals.service", "list_sets")
    rel = current_fn(session, key) if current_fn else None
    rel_id = f"{rel.use_case_key}:{rel.version}" if rel is not None else None
    if current_fn is None:
        evaluation: checks.Evaluation | Missing = _missing("takeoff.releases.service", "current_release")
    elif gate_fn is None or sets_fn is None:
        evaluation = _missing("takeoff.evals.service", "latest_gate" if gate_fn is None else "list_sets")
    else:
        n_sets = sum(1 for es, _ in sets_fn(session) if getattr(es, "use_case_key", None) == key)
        evaluation = checks.Evaluation(n_sets, rel_id, gate_fn(session, rel_id) if rel_id else None)

    # monitoring
    last_fn = capability("takeoff.telemetry.service", "last_event_at")
    stats_fn = capability("takeoff.telemetry.service", "window_stats")
    rules_fn = capability("takeoff.monitoring.service", "rules")
    day = stats_fn(session, key, None, now - timedelta(hours=24), now) if stats_fn else None
    month = stats_fn(session, key, None, now - timedelta(days=30), now) if stats_fn else None
    if last_fn is None or stats_fn is None:
        monitoring: checks.Monitoring | Missing = _missing("takeoff.telemetry.service",
                                                          "last_event_at" if last_fn is None else "window_stats")
    else:
        if rules_fn is None:
            q_rules: int | Missing = _missing("takeoff.monitoring.service", "rules")
            c_rules: int | Missing = q_rules
        else:
            enabled = [r for r in rules_fn(session, key) if r.enabled]
            q_rules = sum(1 for r in enabled if r.metric.startswith("quality_") or r.metric in QUALITY_RULE_METRICS)
            c_rules = sum(1 for r in enabled if r.metric in COST_RULE_METRICS)
        monitoring = checks.Monitoring(last_fn(session, key), bool(day and day.scores),
                                       bool(day and (day.cost_usd > 0 or any(day.tokens.values()))), q_rules, c_rules)

    # change management
    feedback_fn = capability("takeoff.telemetry.service", "feedback_for")
    change = checks.ChangeManagement(
        usage_policy=outcomes.usage_policy(session, key) is not None,
        release_notes=(bool(rel is not None and (rel.notes or "").strip()) if current_fn
                       else _missing("takeoff.releases.service", "current_release")),
        feedback_30d=(len(feedback_fn(session, key, now - timedelta(days=30), now)) if feedback_fn
                      else _missing("takeoff.telemetry.service", "feedback_for")))

    # fallbacks
    active_fn = capability("takeoff.releases.service", "active_config")
    fb_models: list[str] | Missing
    if active_fn is None:
        fb_models = _missing("takeoff.releases.service", "active_config")
    else:
        cfg = active_fn(session, key)
        fb_models = sorted({r["fallback_model"] for r in cfg.get("releases", []) if r.get("fallback_model")})
    fallbacks = checks.Fallbacks(fb_models, month.fallbacks if month is not None
                                 else _missing("takeoff.telemetry.service", "window_stats"))

    links = {"data_quality": f"/usecases/{key}#data-sources", "decision_ownership": f"/usecases/{key}",
             "evaluation": f"/releases/{rel_id}" if rel_id else f"/usecases/{key}",
             "monitoring": "/monitoring", "security": "/audit", "change_management": f"/outcomes#{key}",
             "fallbacks": f"/usecases/{key}#telemetry"}
    critical_fn = capability("takeoff.findings.service", "open_critical")
    critical = critical_fn(session, key) if critical_fn else _missing("takeoff.findings.service", "open_critical")
    return checks.ReadinessEvidence(use_case=key, risk_tier=uc.risk_tier, now=now, data_quality=data,
                                    ownership=ownership, evaluation=evaluation, monitoring=monitoring,
                                    security=_security(session, cache), change_management=change, fallbacks=fallbacks,
                                    mandatory=_mandatory(session, uc.risk_tier), links=links,
                                    critical_findings=critical)


def diagnose(session: Session, key: str, cache: Cache | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The seven items with status, reason, evidence link, pilot gap and mandatory flag, plus the verdict."""
    uc = portfolio.get(session, key)
    ev = gather(session, uc, cache, now)
    items = checks.evaluate(ev)
    v = checks.verdict(items, ev.critical_findings)
    critical = None if isinstance(ev.critical_findings, Missing) else list(ev.critical_findings)
    return {"use_case": uc.key, "name": uc.name, "risk_tier": uc.risk_tier, "status": uc.status,
            "items": [asdict(i) for i in items], "verdict": asdict(v), "open_gaps": checks.gaps(items),
            "critical_findings": critical}


def portfolio_view(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The diagnostic for every use case that is not retired (one audit-chain verification for all)."""
    cache = Cache()
    out = [diagnose(session, uc.key, cache, now) for uc in portfolio.list_use_cases(session) if uc.status != "retired"]
    return {"items": list(checks.ITEMS), "titles": checks.TITLES, "use_cases": out,
            "ready": sum(1 for d in out if d["verdict"]["ready"])}
