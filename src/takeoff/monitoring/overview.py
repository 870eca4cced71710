"""The monitoring overview: the use cases worth checking, what monitoring each has (for readiness and reports),
and the SLO page's budgets."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.monitoring import alerts, drift_checks, notifications, settings, slos
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase


def monitored_use_cases(session: Session) -> list[UseCase]:
    """Use cases worth checking: not retired."""
    return [uc for uc in portfolio.list_use_cases(session) if uc.status != "retired"]


def facts(session: Session, key: str) -> dict[str, Any]:
    """What monitoring a use case has (for readiness and reports): SLOs, rules, channels, drift, rollback, alerts."""
    uc = portfolio.get(session, key)
    enabled_rules = [r for r in alerts.rules(session, key) if r.enabled]
    chans = [c for c in notifications.channels(session) if c.enabled and c.use_case_key in (None, key)]
    drift = drift_checks.drift_results(session, key, 1)
    return {"use_case": key, "slos": sorted(slos.slo_targets(portfolio.targets(uc))), "alert_rules": len(enabled_rules),
            "notification_channels": len(chans), "on_call": uc.on_call,
            "last_drift": drift_checks.drift_view(drift[0]) if drift else None,
            "auto_rollback": settings.auto_rollback_enabled(uc, settings.setting(session, key)),
            "firing_alerts": len(alerts.alerts(session, state="firing", use_case_key=key))}


def overview(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """SLOs and budgets of every monitored use case with targets, for the monitoring page."""
    now = now or utcnow()
    out = []
    for uc in monitored_use_cases(session):
        if not slos.slo_targets(portfolio.targets(uc)):
            continue
        out.append({"use_case": uc.key, "name": uc.name, "on_call": uc.on_call, "slos": slos.slo_status(session, uc, now)})
    return out
