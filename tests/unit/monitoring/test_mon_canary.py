"""Canary verdicts on guardrails from rolled-up sums."""

import numpy as np
import pytest

from takeoff.monitoring.canary import (
    canary_verdict,
    latency_quantile_compare,
    mean_compare,
    two_proportion_test,
)
from takeoff.telemetry.histogram import BUCKET_COUNT, latency_counts


def _moments(values):
    v = np.asarray(values, dtype=float)
    return {"n": int(v.size), "sum": float(v.sum()), "sum_sq": float((v * v).sum())}


def _side(rng, n, error_rate=0.01, latency_median_ms=400.0, quality=0.85, cost=0.02):
    return {
        "requests": n,
        "errors": int(rng.binomial(n, error_rate)),
        "latency_histogram": latency_counts(rng.lognormal(np.log(latency_median_ms), 0.5, n)),
        "quality": _moments(np.clip(rng.normal(quality, 0.1, n), 0, 1)),
        "cost": _moments(rng.gamma(4.0, cost / 4.0, n)),
    }


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_same_behaviour_is_safe_to_promote(rng):
    v = canary_verdict(_side(rng, 3000), _side(rng, 20000))
    assert v.status == "safe_to_promote"
    assert v.breaches == []
    assert {c.metric for c in v.checks} == {"error_rate", "latency_p95", "quality_score", "cost_per_task"}


def test_error_rate_breach_reports_metric_and_both_values(rng):
    v = canary_verdict(_side(rng, 3000, error_rate=0.05), _side(rng, 20000, error_rate=0.01))
    assert v.status == "breach"
    metric, canary_value, prod_value, detail = v.breaches[0]
    assert metric == "error_rate"
    assert canary_value == pytest.approx(0.05, abs=0.01)
    assert prod_value == pytest.approx(0.01, abs=0.005)
    assert "error rate" in detail


def test_latency_breach(rng):
    v = canary_verdict(_side(rng, 3000, latency_median_ms=600), _side(rng, 20000, latency_median_ms=400))
    assert [b[0] for b in v.breaches] == ["latency_p95"]
    _, canary_p95, prod_p95, _ = v.breaches[0]
    assert canary_p95 > prod_p95 * 1.3


def test_quality_drop_and_cost_rise_are_breaches(rng):
    v = canary_verdict(_side(rng, 3000, quality=0.75, cost=0.03), _side(rng, 20000))
    assert sorted(b[0] for b in v.breaches) == ["cost_per_task", "quality_score"]


def test_small_canary_gives_not_enough_data(rng):
    v = canary_verdict(_side(rng, 100, error_rate=0.2), _side(rng, 20000), min_sample=500)
    assert v.status == "not_enough_data"
    assert all(c.status == "not_enough_data" for c in v.checks)


def test_breach_wins_over_missing_quality_scores(rng):
    canary = _side(rng, 3000, error_rate=0.06)
    del canary["quality"]
    v = canary_verdict(canary, _side(rng, 20000))
    assert v.status == "breach"
    assert next(c for c in v.checks if c.metric == "quality_score").status == "not_enough_data"


def test_only_chosen_guardrails_are_checked(rng):
    v = canary_verdict(_side(rng, 3000, latency_median_ms=900), _side(rng, 20000),
                       guardrails={"error_rate": {"max_increase": 0.01}})
    assert v.status == "safe_to_promote"
    assert [c.metric for c in v.checks] == ["error_rate"]


def test_within_tolerance_is_not_a_breach(rng):
    # 2 % slower is below the 10 % tolerance even though a large sample makes it significant
    v = canary_verdict(_side(rng, 50000, latency_median_ms=408), _side(rng, 50000, latency_median_ms=400))
    assert next(c for c in v.checks if c.metric == "latency_p95").status == "ok"


def test_two_proportion_test_direction():
    worse = two_proportion_test(60, 1000, 20, 1000)
    better = two_proportion_test(20, 1000, 60, 1000)
    assert worse.p_value < 0.001 < better.p_value
    assert two_proportion_test(0, 100, 0, 100).p_value == 1.0


def test_mean_compare_from_sums(rng):
    a, b = rng.normal(1.1, 0.3, 2000), rng.normal(1.0, 0.3, 2000)
    res = mean_compare(_moments(a), _moments(b), higher_is_worse=True)
    assert res.canary_value == pytest.approx(a.mean())
    assert res.p_value < 0.001
    assert mean_compare(_moments(a), _moments(b), higher_is_worse=False).p_value > 0.9


def test_latency_quantile_compare_reports_both_p95(rng):
    c = latency_counts(rng.lognormal(np.log(500), 0.5, 5000))
    p = latency_counts(rng.lognormal(np.log(500), 0.5, 5000))
    breach, res = latency_quantile_compare(c, p, q=0.95, tolerance=0.1)
    assert not breach
    assert res.canary_value == pytest.approx(res.production_value, rel=0.1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: two_proportion_test(5, 3, 1, 10),
        lambda: two_proportion_test(-1, 10, 1, 10),
        lambda: two_proportion_test(1, 0, 1, 10),
        lambda: mean_compare({"n": 10, "sum": 1.0}, {"n": 10, "sum": 1.0, "sum_sq": 1.0}),
        lambda: latency_quantile_compare([1] * 5, [1] * BUCKET_COUNT),
        lambda: latency_quantile_compare([0] * BUCKET_COUNT, [1] * BUCKET_COUNT),
        lambda: canary_verdict({}, {}, guardrails={"latency_p99": {}}),
        lambda: canary_verdict({}, {}, guardrails={"error_rate": {"max_increse": 0.1}}),
        lambda: canary_verdict({}, {}, guardrails={"error_rate": {"alpha": 2}}),
        lambda: canary_verdict({}, {}, min_sample=0),
        lambda: canary_verdict({"requests": 10, "errors": 20}, {"requests": 10, "errors": 0}),
        lambda: canary_verdict([], {}),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
