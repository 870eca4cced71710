"""Drift checks from window histograms: an empty baseline gives "not enough data"; a shifted feature is flagged
(and only it), with an alert and an incident; thresholds are overridable per use case."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np

from .conftest import ev, make_use_case, post_events


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def events(rng, start: float, n: int, mean: float, web_share: float = 0.5) -> list[dict]:
    return [ev(ts=start + i * (600 / n), features={"length": float(x), "channel": "web" if rng.random() < web_share
                                                   else "email"})
            for i, x in enumerate(rng.normal(mean, 10, n))]


def test_drift_without_baseline_or_with_an_empty_one_is_not_enough_data(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    r = client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "not_enough_data"
    assert "no baseline" in r.json()["report"]["reason"]
    now = time.time()
    post_events(client, h, [ev(features={"channel": "web"})])  # current traffic but an empty reference window
    r = client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"drift_window_s": 3600}, headers=h)
    assert r.status_code == 200
    from takeoff.core.db import transaction
    from takeoff.monitoring.models import MonitorSetting
    from sqlalchemy import select

    with transaction(factory) as s:
        st = s.scalar(select(MonitorSetting))
        st.baseline_start = datetime.fromtimestamp(now - 7200, UTC)
        st.baseline_end = datetime.fromtimestamp(now - 5400, UTC)
    r = client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h)
    assert r.json()["status"] == "not_enough_data" and "empty baseline" in r.json()["report"]["reason"]
    assert client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json() == []
    # repeated checks with the same lack of data refresh one row instead of piling up
    client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h)
    history = client.get("/api/v1/monitoring/usecases/support-reply/drift", headers=h).json()
    assert [x["status"] for x in history] == ["not_enough_data", "not_enough_data"]
    from takeoff.monitoring import overview

    with transaction(factory) as s:
        f = overview.facts(s, "support-reply")
    assert f["slos"] == ["latency_p95_ms", "max_error_rate"] and f["last_drift"]["status"] == "not_enough_data"
    assert f["alert_rules"] == 0 and f["on_call"] == "oncall-ana"


def test_shifted_feature_is_flagged_alone_and_opens_an_incident(client, users, factory) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    rng = np.random.default_rng(7)
    now = time.time()
    a0, r0, c0 = now - 10 * 3600, now - 5 * 3600, now - 1200
    post_events(client, h, events(rng, a0, 400, 100))
    r = client.post("/api/v1/monitoring/usecases/support-reply/baseline", headers=h, json={
        "start": iso(a0), "end": iso(a0 + 601), "reference_start": iso(r0), "reference_end": iso(r0 + 601)})
    assert r.status_code == 200, r.text
    assert r.json()["features"] == ["channel", "length"]
    # the reference window (binned on the frozen edges) and a current window where only "length" moved
    post_events(client, h, events(rng, r0, 400, 100) + events(rng, c0, 400, 115))
    r = client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "drift" and out["drifted"] == ["length"], out
    feats = {f["feature"]: f for f in out["report"]["features"]}
    assert feats["channel"]["status"] == "no_drift" and feats["length"]["p_adjusted"] is not None
    # outputs are checked too: latency on the fixed bins and outcomes (unchanged here)
    assert feats["output:latency_ms"]["status"] == "no_drift" and feats["output:outcome"]["status"] == "no_drift"
    firing = client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()
    assert [a["kind"] for a in firing] == ["drift"] and firing[0]["incident_id"]
    # a rule on the drift result sees it too
    rule = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "drift:length",
                                                         "op": ">", "threshold": 0.1}, headers=h).json()
    assert client.post(f"/api/v1/monitoring/rules/{rule['id']}/evaluate", headers=h).json()["state"] == "firing"
    # thresholds raised for this use case: the same data is no longer called drift, and the alert resolves
    r = client.patch("/api/v1/monitoring/usecases/support-reply/settings",
                     json={"drift_thresholds": {"wasserstein": 5, "psi": 50}}, headers=h)
    assert r.status_code == 200
    out = client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h).json()
    assert out["status"] == "ok" and out["drifted"] == []
    assert [a["kind"] for a in client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()] == ["alert"]


def test_bad_drift_thresholds_are_refused(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("ai_engineer")
    for bad in ({"psi": -1}, {"bogus": 1}, {"min_current": 0.5}):
        r = client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"drift_thresholds": bad},
                         headers=h)
        assert r.status_code == 422, (bad, r.text)
    r = client.post("/api/v1/monitoring/usecases/support-reply/baseline", headers=h,
                    json={"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"})
    assert r.status_code == 422


def test_output_drift_on_latency_is_flagged(client, users, factory) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    rng = np.random.default_rng(3)
    now = time.time()
    r0, c0 = now - 5 * 3600, now - 1200
    post_events(client, h, [ev(ts=r0 + i, latency_ms=float(x)) for i, x in enumerate(rng.lognormal(5, 0.3, 300))]
                + [ev(ts=c0 + i, latency_ms=float(x)) for i, x in enumerate(rng.lognormal(5.6, 0.3, 300))])
    r = client.post("/api/v1/monitoring/usecases/support-reply/baseline", headers=h, json={
        "start": iso(r0), "end": iso(r0 + 400)})
    assert r.status_code == 200, r.text
    out = client.post("/api/v1/monitoring/usecases/support-reply/drift", headers=h).json()
    assert out["drifted"] == ["output:latency_ms"], out
