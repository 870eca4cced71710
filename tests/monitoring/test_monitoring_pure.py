"""Pure rules of the monitoring service: windows, metrics, thresholds, values from window totals, SLO targets,
drift inputs, webhook bodies and signatures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from takeoff.monitoring import drift_checks, slos, thresholds, webhooks
from takeoff.portfolio.schemas import ScaleTargets
from takeoff.telemetry import histogram


@dataclass
class WS:
    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * histogram.BUCKET_COUNT)
    cost_usd: float = 0.0
    tokens: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    error_categories: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    active_units: int = 0


def test_windows_metrics_thresholds_and_ops() -> None:
    assert [thresholds.parse_window(w) for w in ("5m", "1h", "2d", "90s", 600)] == [300, 3600, 172800, 90, 600]
    for bad in ("5w", "", "-5m", "1m30s", True, None, 10, "31d"):
        with pytest.raises(ValueError):
            thresholds.parse_window(bad)
    assert thresholds.check_metric("quality_groundedness") == "quality_groundedness"
    for bad in ("quality_", "drift:", "latency_p42", "", None, 3):
        with pytest.raises(ValueError, match="unknown metric"):
            thresholds.check_metric(bad)
    assert thresholds.parse_threshold(" 0.25 ") == 0.25 and thresholds.parse_threshold(3) == 3.0
    for bad in ("abc", "inf", float("nan"), None, True, [1]):
        with pytest.raises(ValueError, match="threshold"):
            thresholds.parse_threshold(bad)
    assert thresholds.breaches(">", 0.2, 0.1) and not thresholds.breaches(">", 0.1, 0.1) and thresholds.breaches(">=", 0.1, 0.1)
    assert not thresholds.breaches("<", None, 5)  # no data never fires
    with pytest.raises(ValueError):
        thresholds.breaches("==", 1, 1)


def test_metric_values_from_window_totals() -> None:
    lat = histogram.latency_counts([100] * 90 + [3000] * 10)
    ws = WS(count=100, errors=5, fallbacks=2, latency_counts=lat, cost_usd=0.5, tokens={"input": 10, "output": 5},
            outcomes={"success": 6, "escalated": 2, "overridden": 2}, error_categories={"wrong_answer": 3,
                                                                                     "timeout_or_error": 4},
            scores={"groundedness": (4, 3.2, 2.6)}, active_units=20)
    v = lambda m: thresholds.metric_from_stats(m, ws, 300)  # noqa: E731
    assert v("error_rate") == 0.05 and v("fallback_rate") == 0.02 and v("cost_per_task") == 0.005
    assert v("throughput") == 20.0 and v("tokens") == 15.0 and v("active_users") == 20.0
    assert v("escalation_rate") == 0.2 and v("override_rate") == 0.2 and v("cost_per_active_user") == 0.025
    assert v("quality_groundedness") == pytest.approx(0.8) and v("quality_missing") is None
    assert v("error_category_rate") == 0.03  # technical failures are not quality errors
    assert v("latency_p50") < 200 < 2000 < v("latency_p99")
    empty = WS()
    assert thresholds.metric_from_stats("error_rate", empty, 300) is None
    assert thresholds.metric_from_stats("latency_p95", empty, 300) is None


def test_slo_targets_from_scale_targets() -> None:
    t = ScaleTargets(uptime_pct=99.9, max_error_rate=0.05, latency_p95_ms=1500, min_eval_pass_rate=0.9,
                     cost_per_task_usd=0.01)
    assert slos.slo_targets(t) == {"availability": 0.999, "latency_p95_ms": 1500, "min_quality": 0.9,
                                      "cost_per_task": 0.01}
    assert slos.slo_targets(ScaleTargets(max_error_rate=0.02)) == {"max_error_rate": 0.02}
    assert slos.slo_targets(ScaleTargets()) == {}


def test_drift_specs_align_reference_and_current() -> None:
    ref = {"length": {"kind": "numeric", "edges": [1.0, 2.0], "counts": [5, 5, 5]},
           "channel": {"kind": "categorical", "edges": None, "counts": {"web": 3}},
           "unbinned": {"kind": "numeric", "edges": None, "counts": [1]}}
    cur = {"channel": {"kind": "categorical", "edges": None, "counts": {"email": 2}}}
    specs = drift_checks.drift_specs(ref, cur)
    assert set(specs) == {"length", "channel"}
    assert specs["length"]["current"] == [0, 0, 0] and specs["channel"]["current"] == {"email": 2}
    assert set(drift_checks.drift_specs(ref, cur, only=["channel"])) == {"channel"}


def test_webhook_bodies_and_signatures() -> None:
    raw = webhooks.body("webhook", "incident.opened", "uc", {"title": "t", "severity": 1, "on_call": "ana"}, "now")
    assert json.loads(raw) == {"event": "incident.opened", "use_case": "uc", "at": "now",
                               "data": {"title": "t", "severity": 1, "on_call": "ana"}}
    slack = json.loads(webhooks.body("slack", "alert.firing", "uc", {"title": "t", "severity": 1, "on_call": "ana"}, "now"))
    assert slack["text"] == "[takeoff] alert.firing · use case uc · SEV1 · t · on call: @ana"
    sig = webhooks.sign("k" * 10, raw)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64 and webhooks.verify("k" * 10, raw, sig)
    assert not webhooks.verify("k" * 10, raw + b" ", sig)
    with pytest.raises(ValueError):
        webhooks.body("carrier-pigeon", "x", "uc", {}, "now")
    with pytest.raises(ValueError):
        webhooks.sign("", raw)
    for bad in ("ftp://x", "http://", 3):
        with pytest.raises(ValueError):
            webhooks.check_url(bad)
