"""The metric registry: one definition (name, unit, description, columns, computation, bad direction) read by
telemetry series, the metrics API, monitoring's alert rules and evidence; the event vocabulary is the SDK's."""
from __future__ import annotations

from typing import Literal, get_args, get_origin, get_type_hints

import pytest

from takeoff.catalog import pricing
from takeoff.monitoring import evidence as monitoring_evidence
from takeoff.monitoring import thresholds
from takeoff.sdk import tracking

from takeoff.telemetry import decode, metrics, otlp_trace, rollup, schemas


def test_defaults_are_registered_with_unit_direction_and_columns() -> None:
    for m in metrics.registered():
        assert m.unit and m.description and m.bad in ("high", "low") and m.aspect
    series = metrics.names(series=True)
    assert {"latency_p95", "throughput", "error_rate", "dropped_events", "error_category_rate",
            "repeat_users"} <= set(series)
    assert "drift" not in series and "drift" in metrics.names()  # monitoring's own: alert rules only
    assert metrics.get("quality_faithfulness").name == "quality_"
    for bad in ("quality_", "drift:", "latency_p42", "vibes", "", None, 3):
        with pytest.raises(ValueError, match="unknown metric"):
            metrics.get(bad)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.check_metric("drift:length", series=True)  # telemetry cannot draw a drift metric
    assert metrics.check_metric("drift:length") == "drift:length"


def test_alert_rules_accept_every_metric_telemetry_draws() -> None:
    """The two lists differed: alert rules refused dropped_events, which the metrics API served."""
    for name in metrics.names(series=True):
        assert thresholds.check_metric(name) == name
    assert thresholds.check_metric(" dropped_events ") == "dropped_events"


def test_metric_values_from_bucket_totals() -> None:
    t = rollup.Totals(count=10, errors=2, fallbacks=1, cost_usd=0.5, tokens=30, outcomes={"overridden": 1, "success": 3},
                      scores={"q": [2, 1.5, 1.25]}, dropped=4, error_categories={"wrong_answer": 2, "timeout_or_error": 5})
    v = lambda m, s=60: metrics.metric_value(m, t, s)  # noqa: E731
    assert v("error_rate") == 0.2 and v("fallback_rate") == 0.1 and v("override_rate") == 0.25
    assert v("throughput", 300) == 2.0 and v("tokens") == 30.0 and v("dropped_events") == 4.0
    assert v("cost_per_task") == 0.05 and v("quality_q") == 0.75 and v("quality_other") is None
    assert v("error_category_rate") == 0.2  # technical failures are not quality errors
    assert v("latency_p95") is None and v("cost_per_active_user") is None
    assert metrics.metric_value("error_rate", rollup.Totals(), 60) is None
    with pytest.raises(ValueError, match="not computed"):
        metrics.metric_value("repeat_users", t, 60)  # it needs the buckets before this one


def test_a_registered_metric_is_drawn_and_alerted_on(monkeypatch) -> None:
    monkeypatch.setattr(metrics, "_METRICS", dict(metrics._METRICS))  # the registration ends with the test
    m = metrics.register_metric(metrics.Metric("success_rate", "ratio", "successes / events", "low", "quality",
                                               ("count", "outcomes"),
                                               lambda t, _s: t.outcomes.get("success", 0) / t.count if t.count else None))
    assert metrics.metric_value("success_rate", rollup.Totals(count=4, outcomes={"success": 3}), 60) == 0.75
    assert thresholds.check_metric("success_rate") == "success_rate" and "success_rate" in metrics.names(series=True)
    assert monitoring_evidence.is_quality_metric("success_rate")
    with pytest.raises(ValueError):
        metrics.register_metric(m)  # a name is registered once
    with pytest.raises(ValueError):
        metrics.register_metric(metrics.Metric("score", "x", "x", "low", "quality", family=True))


def test_evidence_reads_the_aspects() -> None:
    quality = [n for n in metrics.names() if monitoring_evidence.is_quality_metric(n)]
    assert set(quality) == {"error_rate", "override_rate", "escalation_rate", "error_category_rate"}
    assert monitoring_evidence.is_quality_metric("quality_groundedness")
    assert {m.name for m in metrics.registered() if m.aspect == "cost"} == {"tokens", "cost_per_task",
                                                                            "cost_per_active_user"}


def test_the_server_vocabulary_is_the_sdks() -> None:
    assert get_args(schemas.Status) == tracking.STATUSES and get_args(schemas.Outcome) == tracking.OUTCOMES
    assert tracking.TOKEN_KINDS == pricing.USAGE_TYPES
    from takeoff.evals import checks
    from takeoff.requests import queries as request_queries

    assert request_queries.STATUSES is tracking.STATUSES and checks.ERROR_CATEGORIES is tracking.ERROR_CATEGORIES
    assert rollup.TOKEN_COLUMNS == tuple(f"tokens_{k}" for k in tracking.TOKEN_KINDS)
    assert otlp_trace.OUTCOMES == set(tracking.OUTCOMES)
    hints = get_type_hints(decode._Event)
    for name, vocabulary in (("status", tracking.STATUSES), ("outcome", tracking.OUTCOMES)):
        literal = next(a for a in get_args(hints[name]) if get_origin(a) is Literal)
        assert get_args(literal) == vocabulary, name
    assert metrics.QUALITY_ERROR_CATEGORIES == tuple(c for c in tracking.ERROR_CATEGORIES if c != "timeout_or_error")


def test_every_dashboard_chart_draws_registered_metrics() -> None:
    from takeoff.telemetry import web

    for chart in web.CHARTS:
        for name in chart.metrics:
            assert name == rollup.QUALITY_ALL or metrics.check_metric(name, series=True) == name
