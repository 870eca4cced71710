"""Monitoring pages: /monitoring (SLOs and budgets, rules, alerts, drift, channels and deliveries) and the
use-case page's monitoring section fragment (budgets, drift, error categories, open incidents, rollback rule)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from takeoff.core.db import utcnow
from takeoff.core.errors import AppError
from takeoff.core.events import OPEN_INCIDENTS, provided
from takeoff.monitoring import (alerts, budgets, canary_analysis, drift_checks, drift_view, notifications, overview,
                                settings, slos)
from takeoff.telemetry import metrics
from takeoff.monitoring.schemas import BaselineIn, BudgetIn, ChannelIn, RuleIn, SettingsIn
from takeoff.portfolio import service as portfolio
from takeoff.web import forms
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)
CATEGORY_COLOURS = ["#c62828", "#ef6c00", "#f9a825", "#6a1b9a", "#1565c0", "#2e7d32", "#455a64"]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _page(page: Any, error: str | None = None, status: int = 200, budget_errors: dict[str, str] | None = None,
          budget_form: dict[str, Any] | None = None) -> Response:
    s = page.session
    return page.render("monitoring/index.html", status_code=status, error=error, overview=overview.overview(s),
                       budgets=[budgets.status(s, b) for b in budgets.budgets(s)], budget_errors=budget_errors or {},
                       budget_form=budget_form or {},
                       rules=alerts.rules(s), firing=alerts.alerts(s, state="firing"),
                       recent=alerts.alerts(s, limit=20), drift=drift_checks.latest_drift(s),
                       channels=notifications.channels(s), deliveries=notifications.deliveries(s, limit=30),
                       canary=canary_analysis.canary_checks(s, limit=10), use_cases=overview.monitored_use_cases(s),
                       metrics=[m for m in metrics.registered() if not m.family], events=notifications.EVENTS,
                       can_write=page.actor.can("monitor.write"), pct=_pct)


@router.get("/monitoring")
def monitoring_page(page: PageFor("read")) -> Response:
    """SLOs and budgets across use cases, alert rules, firing alerts, drift results, channels and deliveries."""
    return _page(page)


@router.post("/monitoring/rules")
def rule_form(page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "", use_case: Annotated[str, Form()] = "",
              metric: Annotated[str, Form()] = "", op: Annotated[str, Form()] = ">",
              threshold: Annotated[str, Form()] = "", window: Annotated[str, Form()] = "5m",
              severity: Annotated[int, Form()] = 3, name: Annotated[str, Form()] = "") -> Response:
    """Add an alert rule from the page."""
    page.check_csrf(csrf_token)
    try:
        with page.session.begin_nested():
            alerts.create_rule(page.session, page.actor, RuleIn(use_case=use_case, metric=metric, op=op,
                                                                 threshold=threshold, window=window,
                                                                 severity=max(1, min(4, severity)), name=name))
    except AppError as exc:
        return _page(page, error=exc.message, status=exc.status)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        return _page(page, error=f"invalid rule: {str(exc).splitlines()[0]}", status=422)
    return RedirectResponse("/monitoring#rules", status_code=303)


BUDGET_FIELDS = ("use_case", "release", "window", "limit_usd", "warn_share", "enforce")


@router.post("/monitoring/budgets")
def budget_form(page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "",
                use_case: Annotated[str, Form()] = "", release: Annotated[str, Form()] = "",
                window: Annotated[str, Form()] = "month", limit_usd: Annotated[str, Form()] = "",
                warn_share: Annotated[str, Form()] = "0.8", enforce: Annotated[str, Form()] = "alert") -> Response:
    """Add a cost budget from the page; every error beside its field."""
    page.check_csrf(csrf_token)
    form = {"use_case": use_case, "release": release, "window": window, "limit_usd": limit_usd,
            "warn_share": warn_share, "enforce": enforce}
    try:
        body = BudgetIn(use_case=use_case, release=release.strip() or None, window=window, limit_usd=limit_usd,
                        warn_share=warn_share, enforce=enforce)  # type: ignore[arg-type]  # pydantic parses the text
        with page.session.begin_nested():
            budgets.create_budget(page.session, page.actor, body)
    except ValidationError as exc:
        return _page(page, status=422, budget_errors=forms.validation_errors(exc, BUDGET_FIELDS), budget_form=form)
    except AppError as exc:
        errors = forms.field_errors(exc, fields=BUDGET_FIELDS) or {"_form": exc.message}
        return _page(page, status=exc.status, budget_errors=errors, budget_form=form)
    return RedirectResponse("/monitoring#budgets", status_code=303)


@router.post("/monitoring/channels")
def channel_form(page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                 kind: Annotated[str, Form()] = "webhook", url: Annotated[str, Form()] = "",
                 secret: Annotated[str, Form()] = "", use_case: Annotated[str, Form()] = "") -> Response:
    """Add a webhook channel from the page."""
    page.check_csrf(csrf_token)
    try:
        body = ChannelIn(name=name, kind=kind, url=url, secret=secret, use_case=use_case or None)
        with page.session.begin_nested():
            notifications.create_channel(page.session, page.actor, body)
    except AppError as exc:
        return _page(page, error=exc.message, status=exc.status)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        return _page(page, error=f"invalid channel: {str(exc).splitlines()[0]}", status=422)
    return RedirectResponse("/monitoring#channels", status_code=303)


def section_context(session: Any, key: str) -> dict[str, Any]:
    """What the use-case page shows about monitoring."""
    uc = portfolio.get(session, key)
    cats = alerts.error_categories_over_time(session, key)
    chart = None
    if cats["total"]:
        chart = {"type": "bar", "data": {"labels": cats["labels"], "datasets": [
            {"label": c, "data": cats["series"][c], "backgroundColor": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]}
            for i, c in enumerate(cats["categories"])]},
            "options": {"plugins": {"legend": {"position": "bottom"}},
                        "scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}}}
    drift = drift_checks.drift_results(session, key, 1)
    open_incidents = provided(OPEN_INCIDENTS)  # incidents share monitoring's floor: offered at start, not imported
    return {"uc": uc, "slos": slos.slo_status(session, uc), "settings": settings.settings_view(session, key),
            "drift": drift[0] if drift else None, "chart": chart, "categories": cats,
            "open_incidents": open_incidents(session, key) if open_incidents is not None else [],
            "firing": alerts.alerts(session, state="firing", use_case_key=key),
            "canary": canary_analysis.canary_checks(session, key, 3), "pct": _pct}


@router.get("/monitoring/usecase/{key}/section")
def section_fragment(key: str, page: PageFor("read")) -> Response:
    """The monitoring section of the use-case page (loaded by htmx)."""
    return page.render("monitoring/section_fragment.html", can_write=page.actor.can("monitor.write"),
                       **section_context(page.session, key))


@router.post("/monitoring/usecase/{key}/auto-rollback")
def auto_rollback_form(key: str, page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "",
                       enabled: Annotated[str, Form()] = "") -> Response:
    """Turn the automatic rollback on or off (htmx swaps the section)."""
    page.check_csrf(csrf_token)
    settings.update_settings(page.session, page.actor, key, SettingsIn(auto_rollback=enabled == "on"))
    return section_fragment(key, page)


BASELINE_FIELDS = ("start", "end", "release_id", "reference_start", "reference_end")


def _drift(page: Any, key: str, feature: str | None = None, errors: dict[str, str] | None = None,
           typed: dict[str, str] | None = None, status: int = 200) -> Response:
    uc = portfolio.get(page.session, key)
    view = drift_view.drift_page(page.session, key, feature)
    now = utcnow().replace(second=0, microsecond=0)
    base = view["baseline"]
    default = {"start": (base["start"] if base else now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
               "end": (base["end"] if base else now).strftime("%Y-%m-%dT%H:%M"),
               "release_id": (base or {}).get("release") or "", "reference_start": "", "reference_end": ""}
    return page.render("monitoring/drift.html", status_code=status, uc=uc, **view, errors=errors or {},
                       v=typed if typed is not None else default, can_write=page.actor.can("monitor.write"),
                       page_url=f"/monitoring/usecase/{key}/drift")


@router.get("/monitoring/usecase/{key}/drift")
def drift_page(key: str, page: PageFor("read"), feature: str | None = Query(None, max_length=200)) -> Response:
    """A use case's drift: the baseline (set or replace it), the latest check's per-feature statistics (PSI, the
    test, the p-value after the false-discovery-rate correction) and a feature's two histograms side by side."""
    return _drift(page, key, feature)


def _utc(raw: str) -> datetime:
    """A datetime-local field's value (read as UTC), or ValueError."""
    dt = datetime.fromisoformat(raw.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@router.post("/monitoring/usecase/{key}/baseline")
def baseline_form(key: str, page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "",
                  start: Annotated[str, Form()] = "", end: Annotated[str, Form()] = "",
                  release_id: Annotated[str, Form()] = "", reference_start: Annotated[str, Form()] = "",
                  reference_end: Annotated[str, Form()] = "") -> Response:
    """Set or replace the drift baseline from a window of production traffic (audited); a refused window comes
    back with what was typed and the message by its field."""
    page.check_csrf(csrf_token)
    portfolio.get(page.session, key)
    typed = {"start": start, "end": end, "release_id": release_id, "reference_start": reference_start,
             "reference_end": reference_end}
    errors: dict[str, str] = {}
    parsed: dict[str, datetime] = {}
    for name, raw in typed.items():
        if name == "release_id" or (name.startswith("reference") and not raw.strip()):
            continue
        if not raw.strip():
            errors[name] = "is required"
            continue
        try:
            parsed[name] = _utc(raw)
        except ValueError:
            errors[name] = "must be a date and time (YYYY-MM-DD HH:MM, UTC)"
    if not errors and parsed["start"] >= parsed["end"]:
        errors["end"] = "must be after the start"
    if not errors and ("reference_start" in parsed) != ("reference_end" in parsed):
        errors["reference_end" if "reference_start" in parsed else "reference_start"] = \
            "give both ends of the reference window, or neither"
    if not errors and "reference_start" in parsed and parsed["reference_start"] >= parsed["reference_end"]:
        errors["reference_end"] = "must be after the reference start"
    body = None
    if not errors:
        try:
            body = BaselineIn(start=parsed["start"], end=parsed["end"], release_id=release_id.strip() or None,
                              reference_start=parsed.get("reference_start"), reference_end=parsed.get("reference_end"))
        except ValidationError as exc:
            errors = forms.validation_errors(exc, BASELINE_FIELDS)
    if body is not None:
        try:
            with page.session.begin_nested():
                settings.set_baseline(page.session, page.actor, key, body)
        except AppError as exc:
            if exc.status == 404:
                raise
            errors = forms.field_errors(exc, fields=BASELINE_FIELDS)
    if errors:
        return _drift(page, key, errors=errors, typed=typed, status=422)
    return RedirectResponse(f"/monitoring/usecase/{key}/drift?baseline=set", status_code=303)


@router.post("/monitoring/usecase/{key}/drift/run")
def drift_run_form(key: str, page: PageFor("monitor.write"), csrf_token: Annotated[str, Form()] = "") -> Response:
    """Run a drift check now against the baseline (the scheduler runs one every 15 minutes)."""
    page.check_csrf(csrf_token)
    drift_checks.run_drift(page.session, key)
    return RedirectResponse(f"/monitoring/usecase/{key}/drift", status_code=303)
