"""The command center's read-out: every active use case's status at a glance, read in a fixed number of queries.

The home page answers the program lead's questions for the whole portfolio at once, so every fact here is read for
all use cases in one query (releases, alerts, incidents, drift, data checks, a year of day rollups), never one query
per use case, and never from raw events. What needs a use case's whole evidence is left to the services that judge
it, computed for every use case in requests the page makes after it shows, so the first screen never waits for them:
`readiness_view` (the readiness verdict and blocking items, and the outcomes service's payback) and `budgets` (the
lowest SLO error budget left, from 30 days of day rollups judged by monitoring's own rules).
This module sits above every domain (it is part of the web shell) and only reads.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.db import utcnow
from takeoff.data import queries as data_queries
from takeoff.data.models import DataSource
from takeoff.incidents.models import Incident
from takeoff.monitoring import slos as monitoring
from takeoff.monitoring import slo as slo_math
from takeoff.monitoring.models import Alert, DriftResult, MonitorSetting
from takeoff.outcomes import economics as outcomes
from takeoff.portfolio import service as portfolio
from takeoff.portfolio import scores as portfolio_scores
from takeoff.portfolio.models import UseCase
from takeoff.readiness import service as readiness
from takeoff.releases.models import Release
from takeoff.telemetry import rollup
from takeoff.telemetry.models import TelemetryRollup

WEEKS = 12  # sparkline length: a quarter, one point a week
STAGE_ORDER = {"production": 0, "pilot": 1, "paused": 2, "proposed": 3, "discovered": 4}


@dataclass
class Row:
    """One use case's line on the home page."""

    key: str
    name: str
    stage: str
    risk_tier: str | None
    serving: str | None = None
    canary: str | None = None
    canary_weight: int | None = None
    alerts: list[tuple[int, str]] = field(default_factory=list)  # (id, name) of firing alerts
    incidents: list[tuple[int, int, str]] = field(default_factory=list)  # (id, severity, title) of open ones
    drift: str | None = None  # ok | drift | not_enough_data | None (never checked)
    drifted: list[str] = field(default_factory=list)
    data_sources: list[tuple[str, str]] = field(default_factory=list)  # (name, pass | breach | error | unchecked)
    requests: list[int] = field(default_factory=list)  # per week, oldest first
    cost: list[float] = field(default_factory=list)  # USD per week, oldest first
    next_action: tuple[str, str] = ("", "")  # (text, link)

    @property
    def data_status(self) -> str:
        """The worst of the sources' latest check results ("none" without sources)."""
        states = {s for _, s in self.data_sources}
        for s in ("breach", "error", "unchecked", "pass"):
            if s in states:
                return s
        return "none"


def next_action(r: Row) -> tuple[str, str]:
    """The one thing to do next for a use case, most urgent first, with where to do it (a pure rule)."""
    severe = [i for i in r.incidents if i[1] <= 2]
    if severe:
        return f"Resolve severity {severe[0][1]} incident #{severe[0][0]}", f"/incidents/{severe[0][0]}"
    if r.alerts:
        return f"Look at the firing alert “{r.alerts[0][1]}”", f"/usecases/{r.key}/monitoring"
    if r.canary:
        return f"Decide on canary {r.canary}: promote or roll back", f"/releases/{r.canary}"
    broken = [n for n, s in r.data_sources if s in ("breach", "error")]
    if broken:
        return f"Fix the data SLA of {broken[0]}", f"/datasources/{broken[0]}"
    if r.drift == "drift":
        return "Investigate the drifted features", f"/usecases/{r.key}/monitoring"
    if r.incidents:
        return f"Close incident #{r.incidents[0][0]}", f"/incidents/{r.incidents[0][0]}"
    if r.stage in ("proposed", "discovered"):
        return "Score it and decide on a pilot", f"/usecases/{r.key}/governance#scores"
    if r.stage in ("pilot", "production") and not r.serving:
        return "Ship a first release through the eval gate", f"/releases?use_case={r.key}"
    if r.stage == "pilot":
        return "Check readiness before scaling", f"/readiness/{r.key}"
    if r.stage == "paused":
        return "Resume or retire it at the quarterly review", "/outcomes"
    return "Keep watching: nothing needs you", f"/usecases/{r.key}"


def _week_start(now: datetime) -> datetime:
    """Midnight UTC at the start of the oldest of WEEKS seven-day buckets ending today (inclusive)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=7 * WEEKS - 1)


def _trends(session: Session, keys: list[str], now: datetime) -> dict[str, tuple[list[int], list[float]]]:
    """Requests and cost per week for every use case, summed by the database over day rollups: one query, one row
    a use case (a conditional sum per week), whatever the number of days."""
    start = _week_start(now)
    t = TelemetryRollup
    bounds = [(start + timedelta(days=7 * w), start + timedelta(days=7 * (w + 1))) for w in range(WEEKS)]
    cols = []
    for lo, hi in bounds:
        inside = (t.bucket >= lo) & (t.bucket < hi)
        cols += [func.sum(case((inside, t.count), else_=0)), func.sum(case((inside, t.cost_usd), else_=0.0))]
    q = (select(t.use_case, *cols).where(t.grain == 86400, t.use_case.in_(keys), t.bucket >= start)
         .group_by(t.use_case))
    out: dict[str, tuple[list[int], list[float]]] = {k: ([0] * WEEKS, [0.0] * WEEKS) for k in keys}
    for key, *sums in session.execute(q):
        out[key] = ([int(v or 0) for v in sums[0::2]], [float(v or 0.0) for v in sums[1::2]])
    return out


def budgets(session: Session, now: datetime | None = None, only: str | None = None) -> dict[str, float | None]:
    """The lowest error budget left among each use case's SLOs (availability, latency, quality) over the SLO window,
    from day rollups in one query, judged by monitoring's own good/total and error-budget rules. The cost SLO needs
    per-minute slices and is left to the monitoring page, which also has the exact rolling window and burn rates."""
    now = now or utcnow()
    ucs = list(session.scalars(select(UseCase).where(UseCase.key == only) if only else
                               select(UseCase).where(UseCase.status != "retired")))
    targets = {u.key: {k: v for k, v in monitoring.slo_targets(portfolio.targets(u)).items() if k != "cost_per_task"}
               for u in ucs}
    keys = [k for k, t in targets.items() if t]
    out: dict[str, float | None] = {u.key: None for u in ucs}
    if not keys:
        return out
    days = slo_math.duration_minutes(slo_math.DEFAULT_SLO_WINDOW) // 1440
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    t = TelemetryRollup
    window = (t.grain == 86400, t.use_case.in_(keys), t.bucket >= start)
    counts = {k: (int(n or 0), int(e or 0)) for k, n, e in session.execute(
        select(t.use_case, func.sum(t.count), func.sum(t.errors)).where(*window).group_by(t.use_case))}
    # histograms only for the use cases whose SLOs read them (latency, quality): JSON is decoded in Python
    need = [k for k in keys if {"latency_p95_ms", "min_quality"} & set(targets[k])]
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if need:
        for key, latency, scores, outs in session.execute(
                select(t.use_case, t.latency, t.scores, t.outcomes)
                .where(t.grain == 86400, t.use_case.in_(need), t.bucket >= start)):
            rows[key].append({"latency": latency, "scores": scores, "outcomes": outs})
    chosen = dict(session.execute(select(MonitorSetting.use_case_key, MonitorSetting.quality_slo_score)
                                  .where(MonitorSetting.use_case_key.in_(need))).all()) if need else {}
    for key in keys:
        n, errors = counts.get(key, (0, 0))
        if not n:
            continue
        agg = rollup.merge_many(rows[key])
        ws = SimpleNamespace(count=n, errors=errors, scores=agg["scores"], outcomes=agg["outcomes"],
                             latency_counts=rollup.dense_latency(agg["latency"]))
        left = []
        for slo in slo_math.slos_from_targets(targets[key]):
            good, total = monitoring.good_total(slo, ws, quality_score=chosen.get(key) or "pass")
            if total:
                left.append(slo_math.error_budget(slo, good, total).remaining)
        out[key] = min(left) if left else None
    return out


def _latest_drift(session: Session, keys: list[str]) -> dict[str, DriftResult]:
    latest = (select(DriftResult.use_case_key, func.max(DriftResult.id).label("id"))
              .where(DriftResult.use_case_key.in_(keys)).group_by(DriftResult.use_case_key).subquery())
    rows = session.scalars(select(DriftResult).join(latest, DriftResult.id == latest.c.id))
    return {r.use_case_key: r for r in rows}


def _data_status(session: Session, keys: set[str]) -> dict[str, list[tuple[str, str]]]:
    status = data_queries.latest_statuses(session)
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sid, name, ucs in session.execute(select(DataSource.id, DataSource.name, DataSource.use_cases)):
        for k in ucs or []:
            if k in keys:
                out[k].append((name, status.get(sid, "unchecked")))
    return out


def rows(session: Session, now: datetime | None = None, only: str | None = None) -> list[Row]:
    """Every use case that is not retired (or the one named `only`), with its facts, most advanced stage first."""
    now = now or utcnow()
    q = select(UseCase).where(UseCase.key == only) if only else select(UseCase).where(UseCase.status != "retired")
    ucs = sorted(session.scalars(q), key=lambda u: (STAGE_ORDER.get(u.status, 9), u.name.lower()))
    keys = [u.key for u in ucs]
    if not keys:
        return []
    by_key = {u.key: Row(u.key, u.name, u.status, u.risk_tier) for u in ucs}
    for rel in session.scalars(select(Release).where(Release.use_case_key.in_(keys),
                                                     Release.status.in_(("production", "canary")))
                               .order_by(Release.id)):
        r = by_key[rel.use_case_key]
        if rel.status == "production":
            r.serving = rel.release_id
        else:
            r.canary, r.canary_weight = rel.release_id, rel.canary_weight
    for aid, key, name in session.execute(select(Alert.id, Alert.use_case_key, Alert.name)
                                          .where(Alert.state == "firing", Alert.use_case_key.in_(keys))
                                          .order_by(Alert.started_at.desc())):
        by_key[key].alerts.append((aid, name))
    for iid, key, sev, title in session.execute(select(Incident.id, Incident.use_case_key, Incident.severity,
                                                       Incident.title)
                                                .where(Incident.status == "open", Incident.use_case_key.in_(keys))
                                                .order_by(Incident.severity, Incident.id)):
        by_key[key].incidents.append((iid, sev, title))
    for key, d in _latest_drift(session, keys).items():
        by_key[key].drift, by_key[key].drifted = d.status, [str(x) for x in d.drifted or []]
    for key, sources in _data_status(session, set(keys)).items():
        by_key[key].data_sources = sources
    for key, (req, cost) in _trends(session, keys, now).items():
        by_key[key].requests, by_key[key].cost = req, cost
    for r in by_key.values():
        r.next_action = next_action(r)
    return list(by_key.values())


def changes(session: Session, now: datetime | None = None, limit: int = 12) -> tuple[list[Any], int]:
    """What changed in the last seven days (the audit log, newest first) and how many changes in all."""
    return audit.list_entries(session, since=(now or utcnow()) - timedelta(days=7), limit=limit)


def summary(rs: list[Row]) -> dict[str, int]:
    """Counts for the headline: in production, with something on fire, with a canary, data SLA broken."""
    return {"use_cases": len(rs), "production": sum(r.stage == "production" for r in rs),
            "on_fire": sum(bool(r.alerts or any(i[1] <= 2 for i in r.incidents)) for r in rs),
            "canaries": sum(bool(r.canary) for r in rs),
            "data_broken": sum(r.data_status in ("breach", "error") for r in rs),
            "incidents": sum(len(r.incidents) for r in rs), "alerts": sum(len(r.alerts) for r in rs)}


def home_view(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Everything the home page shows at first paint."""
    now = now or utcnow()
    rs = rows(session, now)
    entries, total = changes(session, now)
    return {"rows": rs, "ranking": portfolio_scores.ranking(session), "changes": entries, "changes_total": total,
            "summary": summary(rs), "weeks": WEEKS}


def readiness_view(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per use case: the readiness service's verdict with its blocking items and the items not passing (one
    audit-chain verification for all), and whether it pays back (the outcomes service's ROI)."""
    now = now or utcnow()
    view = readiness.portfolio_view(session, now)
    out = []
    paybacks = outcomes.roi_many(session, [d["use_case"] for d in view["use_cases"]], now)
    for d in view["use_cases"]:
        money = paybacks[d["use_case"]]
        out.append({"key": d["use_case"], "verdict": d["verdict"],
                    "failing": [i for i in d["items"] if i["status"] != "pass"],
                    "roi": money.get("result"), "roi_missing": money.get("missing") or []})
    return out


def glance(session: Session, key: str, now: datetime | None = None) -> dict[str, Any] | None:
    """One use case's line of the command center, for the top of its own page (None when unknown)."""
    now = now or utcnow()
    found = rows(session, now, only=key)
    if not found:
        return None
    d = readiness.diagnose(session, key, now=now)
    return {"row": found[0], "budget": budgets(session, now, only=key).get(key), "verdict": d["verdict"],
            "failing": [i for i in d["items"] if i["status"] != "pass"], "weeks": WEEKS}
