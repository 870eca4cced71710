"""Canary analysis: a canary's last window against production's (canary.py's tests); on a breach an automatic
rollback (when enabled), an incident through the incidents flow, an audit record and a notification."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import SYSTEM
from takeoff.core.db import one_of, utcnow
from takeoff.core.events import CanaryBreached, publish
from takeoff.monitoring import canary as canary_math
from takeoff.monitoring import notifications, settings, traffic
from takeoff.monitoring.models import CanaryCheck
from takeoff.portfolio import service as portfolio
from takeoff.releases import queries as release_queries, rollout as release_rollout

log = logging.getLogger("takeoff.monitoring")


def canary_side(ws: Any, quality_score: str | None) -> dict[str, Any]:
    """canary.py's stats of one side from WindowStats; cost per task counts every event (no cost = 0 USD)."""
    side: dict[str, Any] = {"requests": int(ws.count), "errors": int(ws.errors),
                            "latency_histogram": list(ws.latency_counts),
                            "cost": {"n": int(ws.count), "sum": float(ws.cost_usd),
                                     "sum_sq": float(getattr(ws, "cost_sq", 0.0) or 0.0)}}
    s = (ws.scores or {}).get(quality_score) if quality_score else None
    if s:
        side["quality"] = {"n": int(s[0]), "sum": float(s[1]), "sum_sq": float(s[2])}
    return side


def other_scores(can: Any, prod: Any, names: list[str], min_sample: int) -> dict[str, list[Any]]:
    """The quality_score guardrail on every further score both sides have (online evaluators' `online_*`, review
    scores), each check named `quality_<score>`. A breach of any is a breach of the canary; one without enough data
    is shown but not waited for (sampled scores have fewer observations than requests)."""
    checks: list[Any] = []
    breaches: list[Any] = []
    rule = {"quality_score": canary_math.DEFAULT_GUARDRAILS["quality_score"]}
    for name in names:
        v = canary_math.canary_verdict(canary_side(can, name), canary_side(prod, name), rule, min_sample).to_dict()
        for c in v["checks"]:
            checks.append({**c, "metric": f"quality_{name}"})
        breaches += [[f"quality_{name}", *b[1:]] for b in v["breaches"]]
    return {"checks": checks, "breaches": breaches}


def _cost_spread_known(ws: Any) -> bool:
    """False when costs were summed without their squares (rows from before cost_sq): sum_sq < sum²/n is impossible."""
    total, sq, n = float(ws.cost_usd or 0), float(getattr(ws, "cost_sq", 0) or 0), int(ws.count or 0)
    return total <= 0 or (n > 0 and sq * n >= total * total * (1 - 1e-9))


def analyze_canary(session: Session, key: str, canary_id: str, production_id: str | None,
                   now: datetime | None = None) -> CanaryCheck:
    """Compare a canary with production; on a breach roll back (when enabled), open an incident and notify."""
    now = now or utcnow()
    uc = portfolio.get(session, key)
    s = settings.setting(session, key)
    window = s.canary_window_s if s else 3600
    min_sample = s.canary_min_sample if s else canary_math.DEFAULT_MIN_SAMPLE
    start = now - timedelta(seconds=window)
    check = CanaryCheck(use_case_key=key, canary_release_id=canary_id, production_release_id=production_id,
                        verdict="not_enough_data", checked_at=now)
    can = traffic.window_totals(session, key, canary_id, start, now)
    prod = traffic.window_totals(session, key, production_id, start, now) if production_id else None
    if can is None or prod is None:
        check.detail = {"reason": "no production release to compare with" if can is not None and not production_id
                        else "telemetry is not available"}
    else:
        names = sorted(set(can.scores or {}) & set(prod.scores or {}))
        score = "quality" if "quality" in names else (names[0] if names else None)
        skip = {"quality_score"} if not score else set()
        if not (_cost_spread_known(can) and _cost_spread_known(prod)):
            skip.add("cost_per_task")  # rollups written before cost_sq existed: no spread, no fair test
        guardrails = {k: v for k, v in canary_math.DEFAULT_GUARDRAILS.items() if k not in skip}
        verdict = canary_math.canary_verdict(canary_side(can, score), canary_side(prod, score), guardrails,
                                             min_sample)
        detail = {**verdict.to_dict(), "quality_score": score, "window_s": window, "min_sample": min_sample}
        more = other_scores(can, prod, [n for n in names if n != score], min_sample)
        detail["checks"] += more["checks"]
        detail["breaches"] += more["breaches"]
        check.verdict = "breach" if detail["breaches"] else verdict.status
        detail["status"] = check.verdict
        check.detail = detail
    session.add(check)
    session.flush()
    if check.verdict != "breach":
        return check
    breaches_txt = "; ".join(b[3] for b in check.detail.get("breaches", []))
    auto = settings.auto_rollback_enabled(uc, s)
    action = "rollback_disabled"
    if auto:
        try:
            with session.begin_nested():
                release_rollout.rollback(session, SYSTEM, key,
                                         f"automatic rollback: canary {canary_id} breached: {breaches_txt}")
            action = "rolled_back"
        except Exception as exc:  # a failed rollback must still open the incident
            log.warning("automatic rollback of %s failed: %s", canary_id, exc)
            action = "rollback_failed"
    check.action = action
    title = (f"Canary {canary_id} breached its guardrails"
             + (" and was rolled back" if action == "rolled_back" else ""))
    answers = publish(session, CanaryBreached(use_case_key=key, canary_release_id=canary_id, title=title,
                                              detail=breaches_txt, detected_at=now))
    check.incident_id = incident_id = answers[0] if answers else None
    audit.record(session, SYSTEM, "canary.breach", "release", canary_id, None,
                 {"verdict": "breach", "action": action, "breaches": breaches_txt, "incident": incident_id})
    notifications.notify(session, key, "canary.rollback" if action == "rolled_back" else "canary.breach",
           {"release_id": canary_id, "production_release_id": production_id, "action": action,
            "breaches": check.detail.get("breaches", []), "incident_id": incident_id, "severity": 2, "title": title})
    return check


def running_canaries(session: Session) -> list[tuple[str, str, str | None]]:
    """(use case, canary release id, production release id) of every release in canary now."""
    return list(release_queries.releases_in_canary(session))


def canary_checks(session: Session, key: str | None = None, limit: int = 50) -> list[CanaryCheck]:
    """Recent canary analyses, newest first."""
    q = select(CanaryCheck)
    if key:
        q = q.where(CanaryCheck.use_case_key == key)
    return list(session.scalars(q.order_by(CanaryCheck.id.desc()).limit(limit)))


def analyses_of(session: Session, canaries: Mapping[str, Sequence[str]]) -> dict[str, tuple[set[str], CanaryCheck]]:
    """For each use case -> its running canary release ids: which of them were ever analysed and the use case's
    newest analysis (of any canary), in two queries whatever their number; a use case never analysed is left out."""
    keys = sorted(k for k, ids in canaries.items() if ids)
    if not keys:
        return {}
    ids = sorted({i for k in keys for i in canaries[k]})
    done: dict[str, set[str]] = {}
    for key, rid in session.execute(select(CanaryCheck.use_case_key, CanaryCheck.canary_release_id).where(
            one_of(session, CanaryCheck.use_case_key, keys), one_of(session, CanaryCheck.canary_release_id, ids)).distinct()):
        done.setdefault(key, set()).add(rid)
    newest = select(func.max(CanaryCheck.id)).where(one_of(session, CanaryCheck.use_case_key, keys)).group_by(
        CanaryCheck.use_case_key)
    return {c.use_case_key: (done.get(c.use_case_key, set()), c)
            for c in session.scalars(select(CanaryCheck).where(CanaryCheck.id.in_(newest)))}


def canary_view(c: CanaryCheck) -> dict[str, Any]:
    """A canary analysis as JSON."""
    return {"id": c.id, "use_case": c.use_case_key, "canary_release_id": c.canary_release_id,
            "production_release_id": c.production_release_id, "verdict": c.verdict, "action": c.action,
            "incident_id": c.incident_id, "checked_at": c.checked_at.isoformat(), "detail": c.detail}
