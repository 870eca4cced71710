"""Cost budgets: spend per use case (or release) over a UTC day or month, read from the rollups' cost (never raw
events); an alert when it nears its limit and another when it crosses it, each once per window, through the alert
and notification path; with `enforce: fallback`, active() tells SDKs to use the fallback until the window resets."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import NotFound
from takeoff.monitoring import alerts
from takeoff.monitoring.budget_rules import (ENFORCE, WINDOWS, Window, check_choice, check_limit, check_warn_share,
                                             state_of, window_at)
from takeoff.monitoring.models import Alert, Budget
from takeoff.monitoring.schemas import BudgetIn
from takeoff.monitoring.thresholds import invalid_field
from takeoff.portfolio import service as portfolio
from takeoff.releases.models import Release
from takeoff.telemetry import window as telemetry_window

ALERT_KIND = "budget"


def create_budget(session: Session, actor: Actor, body: BudgetIn) -> Budget:
    """Add a budget; a bad window, limit, share, enforce mode or a release of another use case is a 422 naming it."""
    checks = (("window", lambda: check_choice("window", body.window, WINDOWS)),
              ("limit_usd", lambda: check_limit(body.limit_usd)),
              ("warn_share", lambda: check_warn_share(body.warn_share)),
              ("enforce", lambda: check_choice("enforce", body.enforce, ENFORCE)))
    for field, check in checks:
        try:
            check()
        except ValueError as exc:
            raise invalid_field(exc, field) from None
    uc = portfolio.get(session, body.use_case)
    if body.release is not None:
        versions = {f"{uc.key}:{v}" for v in session.scalars(select(Release.version)
                                                              .where(Release.use_case_key == uc.key))}
        if body.release not in versions:
            raise invalid_field(ValueError(f"release must be a release id of use case '{uc.key}' "
                                           f"('{uc.key}:<version>'), got {body.release!r}"), "release")
    b = Budget(use_case_key=uc.key, release_id=body.release, window=body.window, limit_usd=float(body.limit_usd),
               warn_share=float(body.warn_share), enforce=body.enforce, created_by=actor.username)
    session.add(b)
    session.flush()
    audit.record(session, actor, "budget.create", "budget", b.id, None, budget_view(b))
    return b


def get_budget(session: Session, budget_id: int) -> Budget:
    """A budget by id, else 404."""
    b = session.get(Budget, budget_id)
    if b is None:
        raise NotFound(f"budget {budget_id} not found")
    return b


def delete_budget(session: Session, actor: Actor, budget_id: int) -> None:
    """Disable a budget and resolve its firing alerts (its enforcement ends at once)."""
    b = get_budget(session, budget_id)
    before = budget_view(b)
    b.enabled = False
    _clear(session, b, keep=None, why="budget disabled")
    audit.record(session, actor, "budget.disable", "budget", b.id, before, budget_view(b))


def budgets(session: Session, use_case_key: str | None = None, *, enabled_only: bool = False) -> list[Budget]:
    """Budgets, enabled first."""
    q = select(Budget)
    if use_case_key:
        q = q.where(Budget.use_case_key == use_case_key)
    if enabled_only:
        q = q.where(Budget.enabled.is_(True))
    return list(session.scalars(q.order_by(Budget.enabled.desc(), Budget.id)))


def budget_view(b: Budget) -> dict[str, Any]:
    """A budget as JSON (without its spend)."""
    return {"id": b.id, "use_case": b.use_case_key, "release": b.release_id, "window": b.window,
            "limit_usd": b.limit_usd, "warn_share": b.warn_share, "enforce": b.enforce, "enabled": b.enabled}


def _window(session: Session, b: Budget, w: Window, now: datetime) -> tuple[float, list[str]]:
    """(dollars spent in the window so far, the dates of the shipped price snapshots that spend was priced at)."""
    end = min(now, w.end)
    if end <= w.start:
        return 0.0, []
    stats = telemetry_window.window_stats(session, b.use_case_key, b.release_id, w.start, end)
    return float(stats.cost_usd), catalog.snapshot_dates(session, stats.models, w.start, end)


def spend(session: Session, b: Budget, w: Window, now: datetime) -> float:
    """Dollars spent in the window so far, from the rollups (and the deltas not merged yet)."""
    return _window(session, b, w, now)[0]


def status(session: Session, b: Budget, now: datetime | None = None) -> dict[str, Any]:
    """The budget with its window, spend (and the price snapshots it was priced at), share of the limit and state
    (ok, near, over)."""
    now = now or utcnow()
    w = window_at(b.window, now)
    spent, snapshots = _window(session, b, w, now)
    state = state_of(spent, b.limit_usd, b.warn_share) if b.enabled else "ok"
    return {**budget_view(b), "window_start": w.start.isoformat(), "resets_at": w.end.isoformat(),
            "spend_usd": round(spent, 6), "price_snapshots": snapshots,
            "share": spent / b.limit_usd if b.limit_usd else None, "state": state,
            "fallback": b.enabled and b.enforce == "fallback" and state == "over"}


def _key(b: Budget, w: Window, level: str) -> str:
    return f"budget:{b.id}:{w.key}:{level}"


def _clear(session: Session, b: Budget, keep: set[str] | None, why: str) -> None:
    """Resolve the budget's firing alerts except those in `keep` (a new window: the old one's alerts end)."""
    firing = session.scalars(select(Alert.fire_key).where(Alert.fire_key.like(f"budget:{b.id}:%"))).all()
    for key in firing:
        if key is not None and (keep is None or key not in keep):
            alerts.clear(session, key, utcnow(), why)


def evaluate_budget(session: Session, b: Budget, now: datetime | None = None) -> dict[str, Any]:
    """Fire the budget's alert for its state in this window (once: a firing alert is only refreshed); alerts of an
    earlier window resolve when a new one starts, and a budget back under its warning (limit raised) resolves."""
    now = now or utcnow()
    st = status(session, b, now)
    w = window_at(b.window, now)
    state = st["state"]
    if state == "ok":
        _clear(session, b, keep=None, why="spend under the budget's warning share")
        return st
    key = _key(b, w, state)
    _clear(session, b, keep={key, _key(b, w, "near")}, why="a new budget window started")
    scope = b.release_id or b.use_case_key
    pct = 100 * st["spend_usd"] / b.limit_usd
    if state == "over":
        name = f"cost budget exceeded: {scope}"
        detail = (f"${st['spend_usd']:.2f} spent this {b.window} of a ${b.limit_usd:.2f} budget ({pct:.0f} %)"
                  + ("; SDKs use the fallback until " + w.end.strftime("%Y-%m-%d %H:%M UTC")
                     if b.enforce == "fallback" else ""))
    else:
        name = f"cost budget at {b.warn_share:.0%}: {scope}"
        detail = f"${st['spend_usd']:.2f} spent this {b.window} of a ${b.limit_usd:.2f} budget ({pct:.0f} %)"
    alert, new = alerts.fire(session, key=key, use_case_key=b.use_case_key, kind=ALERT_KIND, name=name,
                             value=st["spend_usd"], threshold=b.limit_usd if state == "over" else
                             b.limit_usd * b.warn_share, detail=detail, severity=2 if state == "over" else 3,
                             now=now, open_incident=False)
    return {**st, "alert_id": alert.id, "new_alert": new}


def evaluate_all(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Evaluate every enabled budget (the monitoring job does it every minute)."""
    return [evaluate_budget(session, b, now) for b in budgets(session, enabled_only=True)]


def fallback_until(session: Session, use_case_key: str, now: datetime | None = None) -> dict[str | None, str]:
    """For active(): the releases (None = the whole use case) whose enforced budget is spent, with when the window
    resets; an SDK serves the fallback for them until then."""
    now = now or utcnow()
    out: dict[str | None, str] = {}
    for b in budgets(session, use_case_key, enabled_only=True):
        if b.enforce != "fallback":
            continue
        w = window_at(b.window, now)
        if state_of(spend(session, b, w, now), b.limit_usd, b.warn_share) == "over":
            until = w.end.isoformat()
            out[b.release_id] = max(until, out.get(b.release_id, until))
    return out
