"""Canary analysis: breach → automatic rollback (high tier default), incident and notification; rollback off →
incident only; too few events → "not enough data"; the rollback trigger rule is visible per use case."""
from __future__ import annotations

from takeoff.core.db import transaction, utcnow
from takeoff.jobs import service as jobs
from takeoff.releases.models import Release

from .conftest import ev, make_use_case, post_events


def releases(factory, key: str = "support-reply") -> None:
    with transaction(factory) as s:
        s.add(Release(use_case_key=key, version=1, status="production", bundle={}, content_hash="a" * 64,
                      created_by="eng", production_at=utcnow()))
        s.add(Release(use_case_key=key, version=2, status="canary", bundle={}, content_hash="b" * 64,
                      created_by="eng", canary_weight=10))


def traffic(client, h, canary_errors: int, n: int = 600) -> None:
    post_events(client, h, [ev(release="support-reply:1", status="error" if i < n // 100 else "ok",
                               scores={"quality": 0.9}) for i in range(n)]
                + [ev(release="support-reply:2", status="error" if i < canary_errors else "ok",
                      scores={"quality": 0.9}) for i in range(n)])


def test_canary_breach_rolls_back_opens_incident_and_notifies(client, users, factory, app, receiver) -> None:
    make_use_case(factory, tier="high", targets={})
    releases(factory)
    h = users.headers("ai_engineer")
    rx = receiver(200)
    client.post("/api/v1/monitoring/channels", json={"name": "ops", "url": rx.url, "secret": "0123456789"},
                headers=h)
    settings = client.get("/api/v1/monitoring/usecases/support-reply", headers=h).json()["settings"]
    assert settings["auto_rollback"] is True and "default for high tier" in settings["auto_rollback_source"]
    assert "rolls the canary back automatically" in settings["rollback_trigger"]
    traffic(client, h, canary_errors=90)  # 15 % errors on the canary vs 1 % in production
    with transaction(factory) as s:
        jobs.enqueue(s, "monitoring.canary", {})
    app.state.worker.drain()
    checks = client.get("/api/v1/monitoring/canary?use_case=support-reply", headers=h).json()
    assert len(checks) == 1
    c = checks[0]
    assert c["verdict"] == "breach" and c["action"] == "rolled_back"
    metric, canary_value, prod_value, _ = c["detail"]["breaches"][0]
    assert metric == "error_rate" and abs(canary_value - 0.15) < 1e-9 and abs(prod_value - 0.01) < 1e-9
    with transaction(factory) as s:
        assert s.get(Release, 2).status == "rolled_back" and s.get(Release, 1).status == "production"
    inc = client.get(f"/api/v1/incidents/{c['incident_id']}", headers=h).json()
    assert inc["severity"] == 2 and inc["release_id"] == "support-reply:2" and inc["source"] == "canary"
    assert "rolled back" in inc["title"]
    events = sorted(__import__("json").loads(raw)["event"] for _, raw in rx.requests)
    assert events == ["canary.rollback", "incident.opened"]
    # nothing is left in canary, so the next run analyses nothing
    assert client.post("/api/v1/monitoring/canary/run", headers=h).json() == []


def test_breach_with_auto_rollback_off_keeps_the_canary_and_opens_incident(client, users, factory) -> None:
    make_use_case(factory, tier="high", targets={})
    releases(factory)
    h = users.headers("ai_engineer")
    r = client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"auto_rollback": False}, headers=h)
    assert r.status_code == 200 and r.json()["auto_rollback"] is False
    assert "automatic rollback is off" in r.json()["rollback_trigger"]
    traffic(client, h, canary_errors=90)
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "breach" and out[0]["action"] == "rollback_disabled" and out[0]["incident_id"]
    with transaction(factory) as s:
        assert s.get(Release, 2).status == "canary"
    # analysed again while still breaching: the same incident, not a second one
    again = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert again[0]["incident_id"] == out[0]["incident_id"]


def test_canary_with_few_events_is_not_enough_data_and_healthy_one_is_safe(client, users, factory) -> None:
    make_use_case(factory, tier="low", targets={})
    releases(factory)
    h = users.headers("ai_engineer")
    traffic(client, h, canary_errors=2, n=40)
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "not_enough_data" and out[0]["action"] == "none"
    traffic(client, h, canary_errors=6, n=600)
    r = client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"canary_min_sample": 100}, headers=h)
    assert r.status_code == 200
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "safe_to_promote", out
    assert client.get("/api/v1/incidents", headers=h).json() == []


def test_canary_dearer_per_task_breaches_on_cost_with_both_means(client, users, factory) -> None:
    make_use_case(factory, tier="low", targets={})
    releases(factory)
    h = users.headers("ai_engineer")
    client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"auto_rollback": False}, headers=h)
    # same errors, latency and quality; the canary costs ~50 % more per task, with spread on both sides
    post_events(client, h, [ev(release="support-reply:1", cost_usd=0.002 + (i % 5) * 0.0001) for i in range(600)]
                + [ev(release="support-reply:2", cost_usd=0.003 + (i % 5) * 0.0001) for i in range(600)])
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "breach", out
    (metric, canary_value, prod_value, detail), = out[0]["detail"]["breaches"]
    assert metric == "cost_per_task" and abs(canary_value - 0.0032) < 1e-9 and abs(prod_value - 0.0022) < 1e-9
    assert "cost per task" in detail


def test_canary_cost_within_noise_is_safe_and_rows_without_cost_spread_skip_cost(client, users, factory) -> None:
    from sqlalchemy import update

    from takeoff.telemetry.models import TelemetryRollup

    make_use_case(factory, tier="low", targets={})
    releases(factory)
    h = users.headers("ai_engineer")
    client.patch("/api/v1/monitoring/usecases/support-reply/settings", json={"canary_min_sample": 100}, headers=h)
    post_events(client, h, [ev(release="support-reply:1", cost_usd=0.002 + (i % 7) * 0.0002) for i in range(300)]
                + [ev(release="support-reply:2", cost_usd=0.002 + ((i + 3) % 7) * 0.0002) for i in range(300)])
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "safe_to_promote", out
    assert "cost_per_task" in [c["metric"] for c in out[0]["detail"]["checks"]]
    from takeoff.telemetry.compaction import compact_all

    compact_all(factory)  # merge the deltas, so the rows below hold every event
    with transaction(factory) as s:  # rows written before the cost_sq column existed carry 0
        s.execute(update(TelemetryRollup).values(cost_sq=0.0))
    out = client.post("/api/v1/monitoring/canary/run", headers=h).json()
    assert out[0]["verdict"] == "safe_to_promote", out
    assert "cost_per_task" not in [c["metric"] for c in out[0]["detail"]["checks"]]
