"""Monitoring jobs: rule/SLO/quality/budget evaluation, drift checks, canary analysis, webhook deliveries."""
from __future__ import annotations

import logging
from typing import Any

from takeoff.core.db import transaction, utcnow
from takeoff.jobs.registry import JobContext, every, handler
from takeoff.monitoring import alerts, budgets, canary_analysis, drift_checks, notifications, overview, slos
from takeoff.portfolio import service as portfolio

log = logging.getLogger("takeoff.monitoring")

EVALUATE_EVERY_S = 60
DRIFT_EVERY_S = 900
CANARY_EVERY_S = 60


def _each(ctx: JobContext, items: list[Any], fn: Any, what: str) -> dict[str, int]:
    """Run fn per item in its own transaction so one failing check never blocks the others."""
    ok = failed = 0
    for item in items:
        try:
            with transaction(ctx.factory) as s:
                fn(s, item)
            ok += 1
        except Exception:
            failed += 1
            log.exception("%s failed for %s", what, item)
    return {"ok": ok, "failed": failed}


@handler("monitoring.evaluate")
def evaluate(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Every enabled alert rule, then each use case's SLO burn rates and quality alert, then every cost budget."""
    now = utcnow()
    with transaction(ctx.factory) as s:
        rule_ids = [r.id for r in alerts.rules(s) if r.enabled]
        keys = [uc.key for uc in overview.monitored_use_cases(s)]
        budget_ids = [b.id for b in budgets.budgets(s, enabled_only=True)]

    def one_rule(s: Any, rule_id: int) -> None:
        from takeoff.monitoring.models import AlertRule

        rule = s.get(AlertRule, rule_id)
        if rule is not None and rule.enabled:
            alerts.evaluate_rule(s, rule, now)

    def one_uc(s: Any, key: str) -> None:
        uc = portfolio.get(s, key)
        slos.evaluate_slos(s, uc, now)
        alerts.evaluate_quality(s, uc, now)

    def one_budget(s: Any, budget_id: int) -> None:
        b = budgets.get_budget(s, budget_id)
        if b.enabled:
            budgets.evaluate_budget(s, b, now)

    return {"rules": _each(ctx, rule_ids, one_rule, "rule"), "use_cases": _each(ctx, keys, one_uc, "SLO check"),
            "budgets": _each(ctx, budget_ids, one_budget, "budget")}


@handler("monitoring.drift")
def drift(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """A drift check per monitored use case (or the one in the payload)."""
    now = utcnow()
    with transaction(ctx.factory) as s:
        keys = [payload["use_case"]] if payload.get("use_case") else [u.key for u in overview.monitored_use_cases(s)]
    return _each(ctx, keys, lambda s, k: drift_checks.run_drift(s, k, now), "drift check")


@handler("monitoring.canary")
def canary(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Canary analysis of every release in canary."""
    now = utcnow()
    with transaction(ctx.factory) as s:
        running = canary_analysis.running_canaries(s)
    return _each(ctx, running, lambda s, t: canary_analysis.analyze_canary(s, t[0], t[1], t[2], now), "canary analysis")


@handler("monitoring.deliver")
def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Send one webhook; raising makes the worker retry it with backoff."""
    return notifications.deliver(ctx.factory, int(payload["delivery_id"]), ctx.attempt)


every("monitoring.evaluate", EVALUATE_EVERY_S)
every("monitoring.drift", DRIFT_EVERY_S)
every("monitoring.canary", CANARY_EVERY_S)
