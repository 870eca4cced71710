"""Alert rules and telemetry series compute a metric the same way (the registry's), and repeat users over a rule's
window are the units of that window that were also active in the window before it."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from takeoff.core.db import transaction
from takeoff.monitoring import alerts, thresholds
from takeoff.monitoring.models import AlertRule
from takeoff.telemetry import metrics, series, window

from .conftest import ev, make_use_case, post_events


def test_a_rule_and_a_series_give_the_same_value(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    hour = int(time.time() // 3600) * 3600 - 3600  # the last whole hour
    cats = ["wrong_answer", "timeout_or_error", None, None]
    post_events(client, h, [ev(ts=hour + 60 * (i % 50) + 1, unit_id=f"u{i % 7}", latency_ms=50.0 + 10 * i,
                               status="error" if i % 5 == 0 else ("fallback" if i % 7 == 0 else "ok"),
                               outcome=["success", "failure", "escalated", "overridden"][i % 4],
                               error_category=cats[i % 4], scores={"q": (i % 3) / 2}, cost_usd=0.001 * (i % 4))
                            for i in range(60)])
    start, end = datetime.fromtimestamp(hour, UTC), datetime.fromtimestamp(hour + 3600, UTC)
    names = [n for n in metrics.names(series=True) if n != "repeat_users"] + ["quality_q"]
    with transaction(factory) as s:
        drawn = series.series_many(s, "support-reply", names, start, end, 3600)
        ws = window.window_stats(s, "support-reply", None, start, end)
    for name in names:
        assert drawn[name][0][1] == pytest.approx(thresholds.metric_from_stats(name, ws, 3600)), name
    assert drawn["error_category_rate"][0][1] == pytest.approx(15 / 60)  # wrong_answer only


def test_repeat_users_rule_compares_its_window_with_the_one_before(client, users, factory) -> None:
    """It read the last step-aligned series bucket: 20 minutes past an hour, only those 20 minutes (0 here)."""
    make_use_case(factory)
    h = users.headers("ai_engineer")
    now = int(time.time() // 3600) * 3600 - 3600 + 20 * 60  # 20 minutes past the previous hour
    at = lambda minutes_ago, unit: ev(ts=now - 60 * minutes_ago, unit_id=unit)  # noqa: E731
    post_events(client, h, [at(90, u) for u in "abc"] + [at(30, u) for u in "abd"] + [at(2, "e")])
    r = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "repeat_users",
                                                      "op": "<", "threshold": 1, "window": "1h"}, headers=h)
    assert r.status_code == 201, r.text
    with transaction(factory) as s:
        rule = s.get(AlertRule, r.json()["id"])
        assert alerts.rule_value(s, rule, datetime.fromtimestamp(now, UTC)) == 2.0  # a and b came back; d, e new
