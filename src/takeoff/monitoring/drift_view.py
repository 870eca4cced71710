"""What the drift page shows: the baseline in force, the latest check's per-feature statistics, and one feature's
reference and current histograms side by side (recomputed from rollups over the check's two windows)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takeoff.monitoring import drift_checks, settings, traffic
from takeoff.monitoring.models import DriftResult
from takeoff.telemetry import baselines as telemetry_baselines

REFERENCE_COLOUR, CURRENT_COLOUR = "#1f77b4", "#d62728"


def bin_labels(edges: list[float]) -> list[str]:
    """Numeric bins as a person reads them: "< e0", "e0 – e1", ..., "≥ en" (open-ended first and last bins)."""
    if not edges:
        return []
    inner = [f"{a:g} – {b:g}" for a, b in zip(edges, edges[1:])]
    return [f"< {edges[0]:g}", *inner, f"≥ {edges[-1]:g}"]


def shares(counts: list[float]) -> list[float]:
    """Counts as proportions of their total (all zeros when empty), so windows of different sizes compare."""
    total = float(sum(counts))
    return [round(c / total, 4) if total else 0.0 for c in counts]


def histogram_pair(spec: dict[str, Any]) -> dict[str, Any]:
    """Two Chart.js bar configs (reference, current) on the same bins and the same y scale (share of the
    window's observations), from one drift_specs entry; plus the observation counts."""
    if spec["kind"] == "numeric":
        ref, cur = list(spec["reference"]), list(spec["current"])
        labels = bin_labels(list(spec["edges"]))
        if len(labels) != len(ref):
            labels = [str(i + 1) for i in range(len(ref))]
    else:
        labels = sorted(set(spec["reference"]) | set(spec["current"]))
        ref = [spec["reference"].get(k, 0) for k in labels]
        cur = [spec["current"].get(k, 0) for k in labels]
    ref_s, cur_s = shares(ref), shares(cur)
    top = max([*ref_s, *cur_s, 0.01])

    def chart(title: str, data: list[float], colour: str) -> dict[str, Any]:
        return {"type": "bar", "data": {"labels": labels, "datasets": [
            {"label": f"{title} (share of observations)", "data": data, "backgroundColor": colour}]},
            "options": {"plugins": {"legend": {"display": False}},
                        "scales": {"y": {"min": 0, "max": round(min(1.0, top * 1.1), 3),
                                         "title": {"display": True, "text": "share of observations"}},
                                   "x": {"title": {"display": True,
                                                   "text": "bin" if spec["kind"] == "numeric" else "category"}}}}}

    return {"reference": chart("reference", ref_s, REFERENCE_COLOUR), "current": chart("current", cur_s, CURRENT_COLOUR),
            "reference_n": int(sum(ref)), "current_n": int(sum(cur)), "kind": spec["kind"]}


def feature_histograms(session: Session, key: str, result: DriftResult, feature: str) -> dict[str, Any] | None:
    """The feature's reference and current histograms of a drift check (None when a window is gone or the
    feature has no histogram in the reference window)."""
    if result.baseline_start is None or result.baseline_end is None:
        return None
    ref = traffic.production_totals(session, key, result.baseline_start, result.baseline_end)
    cur = traffic.production_totals(session, key, result.window_start, result.window_end)
    specs = drift_checks.drift_specs(drift_checks.with_outputs(ref) if ref else {},
                                     drift_checks.with_outputs(cur) if cur else {}, [feature])
    return histogram_pair(specs[feature]) if feature in specs else None


def drift_page(session: Session, key: str, feature: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Everything the drift page shows for a use case."""
    base = telemetry_baselines.current_baseline(session, key)
    sett = settings.setting(session, key)
    results = drift_checks.drift_results(session, key, 10)
    latest = results[0] if results else None
    features = list((latest.report or {}).get("features") or []) if latest else []
    names = [f.get("feature") for f in features]
    pick = feature if feature in names else (latest.drifted[0] if latest and latest.drifted else None)
    return {"baseline": base, "reference": (sett.baseline_start, sett.baseline_end) if sett else (None, None),
            "drift_window_s": sett.drift_window_s if sett else 3600, "results": results, "latest": latest,
            "features": features, "feature": pick,
            "hist": feature_histograms(session, key, latest, pick) if latest and pick else None}
