"""SLOs from scale targets, error budgets and multi-window burn-rate alerts."""

import pytest

from takeoff.monitoring.slo import (
    DEFAULT_POLICY,
    SLO,
    AlertPair,
    burn_rate,
    error_budget,
    latency_good_count,
    multiwindow_alerts,
    slos_from_targets,
)
from takeoff.telemetry.histogram import BUCKET_COUNT, latency_counts

AVAIL = SLO("availability", 0.999, None)


def _windows(**bad_fraction):
    """(good, total) per window with 100,000 events each and the given bad fraction (default none)."""
    out = {}
    for w in ("5m", "30m", "1h", "6h", "3d", "30d"):
        bad = bad_fraction.get("w" + w, 0.0)
        out[w] = (100_000 - round(100_000 * bad), 100_000)
    return out


def test_slos_derived_from_targets():
    slos = {s.name: s for s in slos_from_targets(
        {"max_error_rate": 0.005, "latency_p95_ms": 800, "min_quality": 0.9, "cost_per_task": 0.05})}
    assert slos["availability"].objective == pytest.approx(0.995)
    assert slos["latency_p95"].objective == 0.95 and slos["latency_p95"].threshold == 800
    assert slos["quality"].objective == 0.9
    assert slos["cost_per_task"].threshold == 0.05


def test_error_budget_spent_and_remaining():
    b = error_budget(AVAIL, good=999_500, total=1_000_000)
    assert b.allowed_bad == pytest.approx(1000)
    assert b.bad == 500
    assert b.remaining == pytest.approx(0.5)
    over = error_budget(AVAIL, good=997_000, total=1_000_000)
    assert over.remaining == pytest.approx(-2.0)
    assert error_budget(AVAIL, 0, 0).remaining == 1.0


def test_burn_rate():
    assert burn_rate(999, 1000, 0.999) == pytest.approx(1.0)
    assert burn_rate(985.6, 1000, 0.999) == pytest.approx(14.4)
    assert burn_rate(0, 0, 0.999) == 0.0


def test_fast_pair_fires_when_both_windows_burn():
    res = multiwindow_alerts(AVAIL, _windows(w5m=0.02, w1h=0.02))
    assert [(p.long, p.short) for p in res.firing] == [("1h", "5m")]
    assert res.firing[0].severity == "page"
    assert res.remaining_budget == pytest.approx(1.0)


def test_pair_does_not_fire_when_only_the_long_window_burns():
    # the incident is over: 1h still shows it, the last 5 minutes are clean
    res = multiwindow_alerts(AVAIL, _windows(w1h=0.02))
    assert res.firing == []
    assert res.pairs[0].long_burn == pytest.approx(20.0)


def test_pair_does_not_fire_when_only_the_short_window_burns():
    res = multiwindow_alerts(AVAIL, _windows(w5m=0.05))
    assert res.firing == []


def test_slow_burn_raises_ticket_and_budget_shows_spend():
    res = multiwindow_alerts(AVAIL, _windows(w3d=0.0015, w6h=0.0015, w30d=0.0005))
    assert [(p.long, p.short, p.severity) for p in res.firing] == [("3d", "6h", "ticket")]
    assert res.remaining_budget == pytest.approx(0.5)


def test_latency_good_count_from_histogram():
    counts = latency_counts([100] * 90 + [5000] * 10)
    assert latency_good_count(counts, 1000) == pytest.approx(90)


@pytest.mark.parametrize(
    "call",
    [
        lambda: slos_from_targets({"latency_p99_ms": 100}),
        lambda: slos_from_targets({"availability": 1.5}),
        lambda: slos_from_targets({"availability": 0.99, "max_error_rate": 0.01}),
        lambda: slos_from_targets({}),
        lambda: slos_from_targets({"latency_p95_ms": -5}),
        lambda: error_budget(AVAIL, good=11, total=10),
        lambda: error_budget(AVAIL, good=-1, total=10),
        lambda: error_budget(SLO("availability", 1.0, None), 5, 10),
        lambda: burn_rate(5, 10, 0),
        lambda: multiwindow_alerts(AVAIL, {"5m": (1, 1)}),  # windows the policy needs are missing
        lambda: multiwindow_alerts(AVAIL, {**_windows(), "1h": (1, 2, 3)}),
        lambda: multiwindow_alerts(AVAIL, _windows(), policy=[AlertPair("5m", "1h", 2.0, "page")]),
        lambda: multiwindow_alerts(AVAIL, _windows(), policy=[AlertPair("1x", "5m", 2.0, "page")]),
        lambda: latency_good_count([1] * (BUCKET_COUNT - 1), 100),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_default_policy_is_the_sre_workbook_pairs():
    assert [(p.long, p.short, p.burn_rate) for p in DEFAULT_POLICY] == [
        ("1h", "5m", 14.4), ("6h", "30m", 6.0), ("3d", "6h", 1.0)]
