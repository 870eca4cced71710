"""Evidence kinds monitoring owns: quality and cost alert rules, canary analysis, and the drift baseline."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched, batched_map
from takeoff.monitoring import alerts as monitoring_alerts
from takeoff.monitoring import canary_analysis as monitoring_canary_analysis
from takeoff.releases import evidence as releases_evidence
from takeoff.releases import queries as releases
from takeoff.telemetry import evidence as telemetry_evidence
from takeoff.telemetry import metrics
from takeoff.telemetry import baselines as telemetry_baselines

FEATURE_WINDOW = timedelta(days=30)


def _aspect(metric: str) -> str | None:
    """What a rule's metric speaks to, from the metric registry (None for a name it no longer knows)."""
    try:
        return metrics.get(metric).aspect
    except ValueError:
        return None


def is_quality_metric(metric: str) -> bool:
    return _aspect(metric) == "quality"


def monitoring_configured(session: Session, s: Subject) -> Evidence:
    """At least one enabled alert rule on a quality metric and one on a cost metric."""
    key = s.use_case.key
    found = batched(s, "monitoring.rules", lambda keys: monitoring_alerts.rules_many(session, keys)) or []
    enabled = [r for r in found if r.enabled]
    quality = sum(1 for r in enabled if is_quality_metric(r.metric))
    cost = sum(1 for r in enabled if _aspect(r.metric) == "cost")
    link = f"/usecases/{key}#monitoring"
    missing = [f"no alert rule on a {name} metric" for name, n in (("quality", quality), ("cost", cost)) if n < 1]
    at = max((r.created_at for r in enabled), default=None)
    if missing:
        return Evidence("monitoring_configured", "fail", "; ".join(missing), link, at)
    return Evidence("monitoring_configured", "pass", f"{quality} quality and {cost} cost alert rule(s)", link, at)


def canary_analysed(session: Session, s: Subject) -> Evidence:
    """Every release now in canary has been analysed against production at least once."""
    key = s.use_case.key
    canaries = batched_map(s, "monitoring.canaries", lambda keys: releases.releases_in(session, keys, "canary"))
    running = canaries.get(key) or []
    if not running:
        return Evidence("canary_analysed", "pass", "no release is in canary", f"/usecases/{key}#releases")
    analyses = batched_map(s, "monitoring.canary_analyses", lambda keys: monitoring_canary_analysis.analyses_of(
        session, {k: [r.release_id for r in rels] for k, rels in canaries.items()}))
    analysed, last = analyses.get(key) or (set(), None)
    for rel in running:
        if rel.release_id not in analysed:
            text = f"canary {rel.release_id} serves {rel.canary_weight or 0}% of traffic and was never analysed"
            return Evidence("canary_analysed", "fail", text, f"/releases/{rel.release_id}", rel.status_changed_at,
                            items=((text, f"/releases/{rel.release_id}"),))
    if last is None:  # cannot happen: every running canary was analysed
        return Evidence("canary_analysed", "pass", "every canary was analysed", f"/usecases/{key}#releases")
    return Evidence("canary_analysed", "pass", f"canary {last.canary_release_id} analysed: {last.verdict}",
                    f"/releases/{last.canary_release_id}", last.checked_at)


def drift_baseline_set(session: Session, s: Subject) -> Evidence:
    """The production release that sends features has a drift baseline to compare them with."""
    key = s.use_case.key
    serving = batched_map(s, releases_evidence.SERVING, lambda keys: releases.current_releases(session, keys))
    prod = serving.get(key)
    link = f"/usecases/{key}#monitoring"
    if prod is None:
        return Evidence("drift_baseline_set", "pass", "no release is in production", link)
    baselines = batched_map(s, "monitoring.baselines", lambda keys: telemetry_baselines.current_baselines(session, keys))
    base = baselines.get(key)
    if base is not None:
        return Evidence("drift_baseline_set", "pass", f"drift baseline of {len(base.get('features') or {})} "
                        f"feature(s) frozen from {base.get('release') or 'all releases'}", link, base.get("end"))
    since = s.now - FEATURE_WINDOW
    sent = batched_map(s, f"monitoring.features_sent.{since.isoformat()}", lambda keys: telemetry_evidence
                       .features_sent_many(session, {k: r.release_id for k, r in serving.items() if k not in baselines},
                                           since))[key]
    if not sent:
        return Evidence("drift_baseline_set", "pass", f"production release {prod.release_id} sends no features",
                        link)
    text = (f"production release {prod.release_id} sends features ({', '.join(sent[:5])}) but no drift baseline "
            "is set")
    return Evidence("drift_baseline_set", "fail", text, link, items=((text, link),))


def register(registry: Registry) -> None:
    registry.provide("monitoring_configured", monitoring_configured,
                     title="Quality and cost monitoring is configured", domain="monitoring")
    registry.provide("canary_analysed", canary_analysed, title="A running canary has been analysed",
                     domain="monitoring")
    registry.provide("drift_baseline_set", drift_baseline_set,
                     title="Production features have a drift baseline", domain="monitoring")
