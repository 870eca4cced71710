"""Metrics API and dashboards: series from rollups, parameter errors naming the parameter, pages (charts per release
with target lines, every range, the overview's statuses), retention."""
from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.jobs import service as jobs
from takeoff.telemetry import histogram, web
from takeoff.telemetry import overview as telemetry_overview
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.models import TelemetryEvent


def ev(ts, **kw):
    base = {"id": uuid.uuid4().hex, "use_case": "triage", "release": "1", "unit_id": "u1", "ts": ts,
            "latency_ms": 100.0, "status": "ok", "outcome": "success", "tokens": {"input": 10, "output": 5},
            "cost_usd": 0.01, "scores": {"helpful": 1.0}}
    base.update(kw)
    return base


def _seed(client, h):
    now = time.time()
    minute = int(now // 60) * 60
    a = [ev(minute - 600 + 5, unit_id=f"a{i}", latency_ms=50.0) for i in range(10)]
    b = [ev(minute - 300 + 5, release="2", status="error", error_category="timeout", outcome="escalated",
            latency_ms=400.0, scores={"helpful": 0.0}) for _ in range(5)]
    assert client.post("/api/v1/events", json={"events": a + b}, headers=h).status_code == 200
    return minute


def test_series_per_release_and_overall(client, users):
    h = users.headers("ai_engineer")
    minute = _seed(client, h)
    q = {"use_case": "triage", "from": minute - 900, "to": minute + 60, "step": "5m"}
    thr = client.get("/api/v1/metrics", params={**q, "metric": "throughput"}, headers=h)
    assert thr.status_code == 200, thr.text
    counts = [p["value"] * 5 for p in thr.json()["points"]]
    assert round(sum(counts)) == 15
    err = client.get("/api/v1/metrics", params={**q, "metric": "error_rate", "release": "triage:2"}, headers=h).json()
    assert [p["value"] for p in err["points"] if p["value"] is not None] == [1.0]
    esc = client.get("/api/v1/metrics", params={**q, "metric": "escalation_rate", "step": "1h"}, headers=h).json()
    vals = [p["value"] for p in esc["points"] if p["value"] is not None]
    assert abs(sum(vals) - 5 / 15) < 1e-9 or vals == [5 / 15] or len(vals) == 2
    qual = client.get("/api/v1/metrics", params={**q, "metric": "quality_helpful", "step": "1h"}, headers=h).json()
    total = [p["value"] for p in qual["points"] if p["value"] is not None]
    assert total and all(0 <= v <= 1 for v in total)
    users_ = client.get("/api/v1/metrics", params={**q, "metric": "active_users", "step": "15m",
                                                    "release": "triage:1"}, headers=h).json()
    assert max(p["value"] for p in users_["points"]) == 10
    p95 = client.get("/api/v1/metrics", params={**q, "metric": "latency_p95", "release": "triage:2"}, headers=h).json()
    v = [p["value"] for p in p95["points"] if p["value"] is not None]
    assert len(v) == 1 and 370 < v[0] < 440


def test_iso_times_and_bad_parameters_are_named(client, users):
    h = users.headers("viewer")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    start = t0.isoformat()
    ok = client.get("/api/v1/metrics", params={"use_case": "triage", "metric": "throughput", "from": start,
                                               "to": (t0 + timedelta(hours=1)).isoformat(), "step": "60"}, headers=h)
    assert ok.status_code == 200 and len(ok.json()["points"]) in (60, 61)
    for params, field in [({"from": "yesterday"}, "from"), ({"step": "5x"}, "step"), ({"step": "30"}, "step"),
                          ({"metric": "nope"}, "metric"), ({"to": "1999-01-01T00:00:00Z"}, "to")]:
        base = {"use_case": "triage", "metric": "throughput", "from": start, **params}
        r = client.get("/api/v1/metrics", params=base, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["details"][0]["field"] == field
    r = client.get("/api/v1/metrics", params={"use_case": "triage", "metric": "throughput", "from": "0",
                                              "step": "60"}, headers=h)
    assert r.status_code == 422 and "points" in r.json()["error"]["message"]
    assert client.get("/api/v1/metrics", params={"use_case": "triage"}, headers=h).status_code == 422


def test_window_edges_combine_minutes_and_hours(client, users, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    times = [now - 3 * 3600 - 30, now - 2 * 3600, now - 3600 - 125, now - 10]
    client.post("/api/v1/events", json={"events": [ev(t) for t in times]}, headers=h)
    with transaction(factory) as s:
        for lo in times:
            start = datetime.fromtimestamp(lo, UTC)
            st = telemetry_window.window_stats(s, "triage", None, start, datetime.now(UTC) + timedelta(minutes=1))
            assert st.count == sum(1 for t in times if int(t // 60) * 60 >= int(lo // 60) * 60)


def test_baseline_bins_later_features_and_refuses_an_empty_window(client, users, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    first = [ev(now - 600, features={"length": float(i), "lang": "en" if i % 2 else "fr"}) for i in range(100)]
    client.post("/api/v1/events", json={"events": first}, headers=h)
    start = datetime.fromtimestamp(now - 700, UTC)
    end = datetime.fromtimestamp(now - 500, UTC)
    r = client.post("/api/v1/telemetry/baselines", json={"use_case": "triage", "release": "triage:1",
                                                         "start": start.isoformat(), "end": end.isoformat()}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["features"]["length"]["kind"] == "numeric"
    later = [ev(now - 60, features={"length": 1000.0, "lang": "de"}) for _ in range(10)]
    client.post("/api/v1/events", json={"events": later}, headers=h)
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "triage", None, datetime.fromtimestamp(now - 120, UTC), datetime.now(UTC))
        length = st.features["length"]
        assert length["kind"] == "numeric" and length["counts"][-1] == 10 and len(length["counts"]) == len(length["edges"]) + 1
        assert st.features["lang"]["counts"] == {"de": 10}
    empty = client.post("/api/v1/telemetry/baselines", json={"use_case": "triage", "release": "9",
                                                             "start": start.isoformat(), "end": end.isoformat()}, headers=h)
    assert empty.status_code == 422 and "no raw events" in empty.json()["error"]["message"]
    viewer = client.post("/api/v1/telemetry/baselines", json={"use_case": "triage", "start": start.isoformat(),
                                                              "end": end.isoformat()}, headers=users.headers("viewer"))
    assert viewer.status_code == 403


def test_retention_job_deletes_old_raw_events_but_keeps_rollups(client, users, app, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    client.post("/api/v1/events", json={"events": [ev(now - 3 * 3600), ev(now - 60)]}, headers=h)
    with transaction(factory) as s:
        jobs.enqueue(s, "telemetry.retention", {"retention_days": 1 / 24})
    app.state.worker.drain()
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(TelemetryEvent)) == 1
        st = telemetry_window.window_stats(s, "triage", None, datetime.fromtimestamp(now - 4 * 3600, UTC), datetime.now(UTC))
        assert st.count == 2


def _login(client, users):
    name = users.create("viewer")
    page = client.get("/login")
    csrf = client.cookies.get("takeoff_login_csrf")
    r = client.post("/login", data={"username": name, "password": "password123", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code in (302, 303), r.text


def test_overview_page_and_dashboard_fragment(client, users):
    h = users.headers("ai_engineer")
    _seed(client, h)
    _login(client, users)
    page = client.get("/telemetry")
    assert page.status_code == 200 and 'data-usecase="triage"' in page.text and "discovered" in page.text
    frag = client.get("/telemetry/usecase/triage/dashboard?range=1h")
    assert frag.status_code == 200 and frag.text.count("data-chart=") == len(web.CHARTS) and "triage:2" in frag.text
    assert client.get("/telemetry/usecase/nope/dashboard").status_code == 404


def _hour_events(h0: float) -> list[dict]:
    """Two whole hours [h0, h0 + 2h) of known events after two hours of history (see the test for the figures)."""
    history = [ev(h0 - 2 * 3600 + 60, unit_id="u9"), ev(h0 - 2 * 3600 + 90, unit_id="u8"),
               ev(h0 - 3600 + 60, unit_id="u0"), ev(h0 - 3600 + 90, unit_id="u1")]
    first = [ev(h0 + 60 + i, unit_id=u) for i, u in enumerate(["u0", "u5", "u8"])]
    units = ["u0", "u1", "u2", "u3", "u9"]
    outcomes = ["overridden"] * 4 + ["escalated"] * 2 + ["success"] * 10 + [None] * 4
    second = [ev(h0 + 3600 + 60 + 10 * i, unit_id=units[i % 5], latency_ms=100.0 if i < 10 else 1000.0,
                 status="error" if i < 2 else ("fallback" if i < 5 else "ok"), outcome=outcomes[i],
                 tokens={"input": 10, "output": 5, "reasoning": 7}, cost_usd=0.01,
                 scores={"helpful": 1.0 if i % 2 else 0.5}) for i in range(20)]
    return history + first + second


def test_every_metric_over_http_has_its_expected_value(client, users):
    h = users.headers("ai_engineer")
    h0 = (int(time.time()) // 7200) * 7200 - 7200  # two whole past hours, aligned for a 2 h step too
    assert client.post("/api/v1/events", json={"events": _hour_events(h0)}, headers=h).status_code == 200

    def values(metric: str, step: str = "1h") -> list:
        r = client.get("/api/v1/metrics", params={"use_case": "triage", "metric": metric, "from": h0,
                                                  "to": h0 + 7200, "step": step}, headers=h)
        assert r.status_code == 200, r.text
        return [p["value"] for p in r.json()["points"]]

    width = 1 + histogram.RELATIVE_BUCKET_WIDTH  # a quantile is within its log-scale bucket
    _, p50 = values("latency_p50")
    _, p99 = values("latency_p99")
    assert 100 <= p50 <= 100 * width and 1000 <= p99 <= 1000 * width
    assert values("error_rate")[1] == pytest.approx(0.1) and values("fallback_rate")[1] == pytest.approx(0.15)
    assert values("tokens") == [3 * 15.0, 20 * 15.0]  # input + output; reasoning tokens are not counted
    assert values("cost_per_task")[1] == pytest.approx(0.01)
    assert values("cost_per_active_user")[1] == pytest.approx(0.2 / 5)
    assert values("override_rate")[1] == pytest.approx(4 / 16) and values("escalation_rate")[1] == pytest.approx(2 / 16)
    assert values("quality_helpful")[1] == pytest.approx(0.75)
    assert values("active_users") == [3, 5]
    # came back within the range's length (2 h) before their hour: u0 and u8 in the first, u0 and u1 in the second
    # (u9 was last seen 3 h earlier); under the old "2+ days within the bucket" both were 0
    assert values("repeat_users") == [2, 2]
    assert values("repeat_users", "2h") == [4]  # u0, u1, u8, u9 were all active in the 2 h before
    unit = client.get("/api/v1/metrics", params={"use_case": "triage", "metric": "repeat_users", "from": h0},
                      headers=h).json()["unit"]
    assert "also active" in unit


def _use_case(factory, key: str, status: str = "production", **targets) -> None:
    from takeoff.portfolio.models import UseCase

    with transaction(factory) as s:
        s.add(UseCase(key=key, name=key.title(), status=status, targets=targets))


def _charts(html: str) -> dict[str, dict]:
    """The Chart.js configs of a dashboard fragment, by chart key."""
    found = re.findall(r'data-metric="([^"]+)">.*?(?:data-chart=\'([^\']*)\'|</article>)', html, re.S)
    return {key: json.loads(unescape(cfg)) if cfg else None for key, cfg in found}


def test_dashboard_draws_every_metric_per_release_with_target_lines(client, users, factory):
    _use_case(factory, "triage", latency_p95_ms=300, max_error_rate=0.05, uptime_pct=99.5, cost_per_task_usd=0.02,
              throughput_per_min=5, min_eval_pass_rate=0.8)
    _seed(client, users.headers("ai_engineer"))
    _login(client, users)
    charts = _charts(client.get("/telemetry/usecase/triage/dashboard?range=1h").text)
    assert set(charts) == {c.key for c in web.CHARTS}
    assert all(charts.values())
    by_label = {k: {d["label"]: d for d in c["data"]["datasets"]} for k, c in charts.items()}
    for rel in ("triage:1", "triage:2"):  # split by release: a line per release and metric
        assert {f"p50 · {rel}", f"p95 · {rel}", f"p99 · {rel}"} <= set(by_label["latency"])
        assert {f"active · {rel}", f"repeat · {rel}"} <= set(by_label["users"])
        assert {rel} <= set(by_label["fallback_rate"]) and {rel} <= set(by_label["override_rate"])
        assert f"helpful · {rel}" in by_label["quality"]
    n = len(charts["latency"]["data"]["labels"])
    targets = {k: {d["target"]: d["data"] for d in c["data"]["datasets"] if "target" in d} for k, c in charts.items()}
    assert targets["latency"] == {"latency_p95_ms": [300.0] * n}
    assert targets["throughput"] == {"throughput_per_min": [5.0] * n}
    assert targets["error_rate"]["max_error_rate"] == [0.05] * n
    assert targets["error_rate"]["uptime_pct"] == [pytest.approx(0.005)] * n  # uptime as the error rate it allows
    assert targets["cost_per_task"] == {"cost_per_task_usd": [0.02] * n}
    assert targets["quality"] == {"min_eval_pass_rate": [0.8] * n}
    assert targets["fallback_rate"] == {} and targets["tokens"] == {} and targets["users"] == {}
    err = by_label["error_rate"]["triage:2"]["data"]
    assert [v for v in err if v is not None] == [1.0]  # release 2's events all failed, release 1's none
    assert [v for v in by_label["error_rate"]["triage:1"]["data"] if v is not None] == [0.0]


def test_every_range_keeps_its_points_bounded(client, users):
    h = users.headers("ai_engineer")
    now = time.time()
    old = [ev(now - 20 * 3600, unit_id="old")]  # inside 24h and longer ranges, outside 1h and 6h
    assert client.post("/api/v1/events", json={"events": old}, headers=h).status_code == 200
    _seed(client, h)
    _login(client, users)
    for key, (secs, step) in web.RANGES.items():
        frag = client.get(f"/telemetry/usecase/triage/dashboard?range={key}")
        assert frag.status_code == 200 and f'data-step="{step}"' in frag.text, key
        labels = _charts(frag.text)["throughput"]["data"]["labels"]
        assert secs // step <= len(labels) <= secs // step + 1 <= 200, (key, len(labels))
        counts = [d["data"] for d in _charts(frag.text)["throughput"]["data"]["datasets"]]
        total = sum(v for data in counts for v in data if v is not None) * step / 60
        assert round(total) == (16 if secs >= 86400 else 15), key


def test_overview_lists_every_use_case_not_retired_with_its_status(client, users, factory):
    now = time.time()
    _use_case(factory, "fine", latency_p95_ms=500, max_error_rate=0.1, uptime_pct=90, cost_per_task_usd=0.05,
              min_eval_pass_rate=0.5, throughput_per_min=0.01, unacceptable_failures=["pii_leak"])
    _use_case(factory, "broken", latency_p95_ms=500, unacceptable_failures=["pii_leak"])
    _use_case(factory, "quiet", latency_p95_ms=500, throughput_per_min=1000)
    _use_case(factory, "waiting", status="pilot", latency_p95_ms=500)
    _use_case(factory, "gone", status="retired", latency_p95_ms=500)
    events = [ev(now - 300 + i, use_case="fine") for i in range(10)]
    events += [ev(now - 300 + i, use_case="broken", latency_ms=5000.0) for i in range(9)]
    events += [ev(now - 200, use_case="broken", status="error", error_category="pii_leak")]
    events += [ev(now - 300 + i, use_case="quiet") for i in range(3)]
    events += [ev(now - 300, use_case="shadow")]
    assert client.post("/api/v1/events", json={"events": events}, headers=users.headers("ai_engineer")).status_code == 200
    end = datetime.now(UTC) + timedelta(minutes=1)
    with transaction(factory) as s:
        rows = {r["use_case"]: r for r in telemetry_overview.overview(s, end - timedelta(hours=24), end)}
    assert set(rows) == {"fine", "broken", "quiet", "waiting", "shadow"}  # not the retired one
    assert rows["fine"]["status"] == "ok" and len(rows["fine"]["checks"]) == 7 and rows["fine"]["breaches"] == []
    assert rows["broken"]["status"] == "breach"
    assert set(rows["broken"]["breaches"]) == {"latency p95", "unacceptable failures"}
    assert rows["quiet"]["status"] == "below target" and rows["quiet"]["breaches"] == ["throughput"]
    assert rows["waiting"]["status"] == "no telemetry" and rows["waiting"]["stage"] == "pilot"
    assert rows["waiting"]["last_event_at"] is None
    assert rows["shadow"]["discovered"] and rows["shadow"]["status"] == "no targets"
    _login(client, users)
    page = client.get("/telemetry?range=24h").text
    for key, status in (("fine", "ok"), ("broken", "breach"), ("waiting", "no telemetry"), ("quiet", "below target")):
        assert f'data-usecase="{key}" data-status="{status}"' in page
    assert 'data-usecase="gone"' not in page
