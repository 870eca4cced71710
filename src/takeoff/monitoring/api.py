"""Monitoring API: alert rules and alerts, notification channels and deliveries, per-use-case settings, SLOs,
drift checks, canary analyses."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from takeoff.deps import DB, Allowed
from takeoff.monitoring import alerts, budgets, canary_analysis, drift_checks, notifications, settings, slos
from takeoff.monitoring.schemas import BaselineIn, BudgetIn, ChannelIn, RuleIn, SettingsIn
from takeoff.portfolio import service as portfolio
from takeoff.core.types import Id
from fastapi import Query
from takeoff.monitoring.channels import log as channel_log

router = APIRouter(tags=["monitoring"])


@router.get("/monitoring/rules")
def list_rules(session: DB, actor: Allowed("read"), use_case: str | None = None) -> list[dict[str, Any]]:
    """Alert rules."""
    return [alerts.rule_view(r) for r in alerts.rules(session, use_case)]


@router.post("/monitoring/rules", status_code=201)
def create_rule(body: RuleIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Add a rule on a metrics API metric, error_category_rate or a drift result (422 on unknown metric)."""
    return alerts.rule_view(alerts.create_rule(session, actor, body))


@router.delete("/monitoring/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: Id, session: DB, actor: Allowed("monitor.write")) -> None:
    """Disable a rule."""
    alerts.delete_rule(session, actor, rule_id)


@router.post("/monitoring/rules/{rule_id}/evaluate")
def evaluate_rule(rule_id: Id, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Evaluate a rule now (the scheduled job does this every minute)."""
    from takeoff.core.errors import NotFound
    from takeoff.monitoring.models import AlertRule

    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"alert rule {rule_id} not found")
    return alerts.evaluate_rule(session, rule)


@router.get("/monitoring/budgets")
def list_budgets(session: DB, actor: Allowed("read"), use_case: str | None = None) -> list[dict[str, Any]]:
    """Cost budgets with this window's spend (from the rollups), share of the limit and state."""
    return [budgets.status(session, b) for b in budgets.budgets(session, use_case)]


@router.post("/monitoring/budgets", status_code=201)
def create_budget(body: BudgetIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Add a cost budget per day or month for a use case or one release (422 naming a bad field)."""
    return budgets.status(session, budgets.create_budget(session, actor, body))


@router.get("/monitoring/budgets/{budget_id}")
def get_budget(budget_id: Id, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One budget with this window's spend, share and state."""
    return budgets.status(session, budgets.get_budget(session, budget_id))


@router.delete("/monitoring/budgets/{budget_id}", status_code=204)
def delete_budget(budget_id: Id, session: DB, actor: Allowed("monitor.write")) -> None:
    """Disable a budget (its alerts resolve, its fallback ends)."""
    budgets.delete_budget(session, actor, budget_id)


@router.post("/monitoring/budgets/{budget_id}/evaluate")
def evaluate_budget(budget_id: Id, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Evaluate a budget now (the scheduled job does this every minute)."""
    return budgets.evaluate_budget(session, budgets.get_budget(session, budget_id))


@router.get("/monitoring/alerts")
def list_alerts(session: DB, actor: Allowed("read"), state: str | None = None,
                use_case: str | None = None) -> list[dict[str, Any]]:
    """Alerts, newest first (state=firing for those firing now)."""
    return [alerts.alert_view(a) for a in alerts.alerts(session, state=state, use_case_key=use_case)]


@router.get("/monitoring/channels")
def list_channels(session: DB, actor: Allowed("read")) -> list[dict[str, Any]]:
    """Notification channels (secrets are never returned)."""
    return [notifications.channel_view(c) for c in notifications.channels(session)]


@router.post("/monitoring/channels", status_code=201)
def create_channel(body: ChannelIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Add a webhook channel (generic JSON or Slack-compatible), signed with its secret."""
    return notifications.channel_view(notifications.create_channel(session, actor, body))


@router.delete("/monitoring/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: Id, session: DB, actor: Allowed("monitor.write")) -> None:
    """Disable a channel."""
    notifications.delete_channel(session, actor, channel_id)


@router.post("/monitoring/channels/{channel_id}/test", status_code=202)
def test_channel(channel_id: Id, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Queue a signed test delivery to the channel."""
    return notifications.delivery_view(notifications.test_channel(session, actor, channel_id))


@router.get("/monitoring/deliveries")
def list_deliveries(session: DB, actor: Allowed("read"), status: str | None = None) -> list[dict[str, Any]]:
    """Webhook deliveries with status (pending, retrying, sent, failed), attempts and last error."""
    return [notifications.delivery_view(d) for d in notifications.deliveries(session, status=status)]


@router.get("/monitoring/usecases/{key}")
def use_case_monitoring(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """A use case's settings (with its rollback trigger), SLOs and budgets, latest drift and canary analyses."""
    uc = portfolio.get(session, key)
    drift = drift_checks.drift_results(session, key, 1)
    return {"settings": settings.settings_view(session, key), "slos": slos.slo_status(session, uc),
            "drift": drift_checks.drift_view(drift[0]) if drift else None,
            "canary": [canary_analysis.canary_view(c) for c in canary_analysis.canary_checks(session, key, 10)],
            "alerts": [alerts.alert_view(a) for a in alerts.alerts(session, state="firing", use_case_key=key)]}


@router.patch("/monitoring/usecases/{key}/settings")
def update_settings(key: str, body: SettingsIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Change auto-rollback, drift thresholds/features/window, canary sample and window, quality threshold."""
    return settings.update_settings(session, actor, key, body)


@router.post("/monitoring/usecases/{key}/baseline")
def set_baseline(key: str, body: BaselineIn, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Freeze feature bins from a window and make it the drift reference."""
    return settings.set_baseline(session, actor, key, body)


@router.post("/monitoring/usecases/{key}/drift")
def run_drift(key: str, session: DB, actor: Allowed("monitor.write")) -> dict[str, Any]:
    """Run a drift check now."""
    return drift_checks.drift_view(drift_checks.run_drift(session, key))


@router.get("/monitoring/usecases/{key}/drift")
def drift_history(key: str, session: DB, actor: Allowed("read")) -> list[dict[str, Any]]:
    """Recent drift checks."""
    portfolio.get(session, key)
    return [drift_checks.drift_view(r) for r in drift_checks.drift_results(session, key)]


@router.get("/monitoring/usecases/{key}/error-categories")
def error_categories(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Error categories per day over two weeks."""
    portfolio.get(session, key)
    return alerts.error_categories_over_time(session, key)


@router.post("/monitoring/canary/run")
def run_canary(session: DB, actor: Allowed("monitor.write")) -> list[dict[str, Any]]:
    """Analyse every running canary now (rolls back on breach where enabled)."""
    running = canary_analysis.running_canaries(session)
    return [canary_analysis.canary_view(canary_analysis.analyze_canary(session, k, c, p)) for k, c, p in running]


@router.get("/monitoring/canary")
def canary_history(session: DB, actor: Allowed("read"), use_case: str | None = None) -> list[dict[str, Any]]:
    """Recent canary analyses."""
    return [canary_analysis.canary_view(c) for c in canary_analysis.canary_checks(session, use_case)]


@router.get("/monitoring/channels/{channel_id}/deliveries")
def channel_deliveries(channel_id: Id, session: DB, actor: Allowed("read"), status: str | None = None,
                       limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """One channel's delivery log, newest first: event, status, attempts, last HTTP status or SMTP error."""
    return [notifications.delivery_view(d)
            for d in channel_log.deliveries_of(session, channel_id, status=status, limit=limit)]
