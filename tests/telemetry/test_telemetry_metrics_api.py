"""Metrics API and dashboards: series from rollups, parameter errors naming the parameter, pages, retention."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from takeoff.db import transaction
from takeoff.jobs import service as jobs
from takeoff.telemetry import service
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
            st = service.window_stats(s, "triage", None, start, datetime.now(UTC) + timedelta(minutes=1))
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
        st = service.window_stats(s, "triage", None, datetime.fromtimestamp(now - 120, UTC), datetime.now(UTC))
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
        st = service.window_stats(s, "triage", None, datetime.fromtimestamp(now - 4 * 3600, UTC), datetime.now(UTC))
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
    assert frag.status_code == 200 and frag.text.count("data-chart=") == 8 and "triage:2" in frag.text
    assert client.get("/telemetry/usecase/nope/dashboard").status_code == 404
