"""Evaluation traffic is not production traffic: an eval run's failed cases never fire a production alert or open
an incident, production telemetry still does, and telemetry tagged with a release that never went live is staging
traffic (no alert until that release serves production)."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update

from takeoff.core.db import transaction, utcnow
from takeoff.jobs import service as jobs
from takeoff.releases.models import Release

from .conftest import ev, make_use_case, post_events


def echo(inp: dict[str, Any]) -> str:
    """Eval target: the answer carried in the input."""
    return inp["answer"]


def run_checks(app, factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        jobs.enqueue(s, "monitoring.evaluate", {})
    app.state.worker.drain()


def failing_eval_run(client, app, h, key: str, n: int = 40, wrong: int = 20) -> dict[str, Any]:
    """A finished eval run of the use case whose first `wrong` cases fail as wrong answers."""
    rows = [{"id": f"c{i}", "input": {"answer": f"a{i}"}, "expected": "nope" if i < wrong else f"a{i}"}
            for i in range(n)]
    r = client.post("/api/v1/evalsets/golden/versions?create=true",
                    content="\n".join(json.dumps(x) for x in rows).encode(), headers=h)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/evalruns", json={"eval_set": "golden", "use_case": key, "scorers": [{"type": "exact"}],
                                              "target": {"type": "python", "ref": f"{__name__}:echo"}}, headers=h)
    assert r.status_code == 202, r.text
    app.state.worker.drain()
    run = client.get(f"/api/v1/evalruns/{r.json()['id']}", headers=h).json()
    assert run["status"] == "done" and run["summary"]["passed"] == n - wrong
    fails = client.get(f"/api/v1/evalruns/{run['id']}/failures", headers=h).json()["items"]
    assert len(fails) == wrong and {f["error_category"] for f in fails} == {"wrong_answer"}
    return run


def test_eval_failures_open_no_production_alert_but_production_failures_do(client, users, factory, app,
                                                                          receiver) -> None:
    make_use_case(factory, targets={})  # no release, no telemetry: it serves nothing in production
    h = users.headers("ai_engineer")
    rx = receiver(200)
    assert client.post("/api/v1/monitoring/channels", json={"name": "ops", "url": rx.url, "secret": "0123456789"},
                       headers=h).status_code == 201
    run = failing_eval_run(client, app, h, "support-reply")  # half the eval cases fail: 50 % "quality errors"
    run_checks(app, factory)
    assert client.get("/api/v1/monitoring/alerts", headers=h).json() == []
    assert client.get("/api/v1/incidents?use_case=support-reply", headers=h).json() == []
    # nobody was paged: the channel hears the eval run's gate result (it subscribes to every event), no alert
    assert [json.loads(body)["event"] for _, body in rx.requests] in ([], ["gate.judged"])
    # the eval run still feeds eval history (and gates)
    assert [r["id"] for r in client.get("/api/v1/evalruns", headers=h).json()["items"]] == [run["id"]]

    # production telemetry with quality errors does fire, and its rate is production's alone (4 of 40, not 24 of 80)
    post_events(client, h, [ev(error_category="wrong_answer" if i < 4 else None) for i in range(40)])
    run_checks(app, factory)
    firing = client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()
    assert [a["kind"] for a in firing] == ["quality"]
    assert abs(firing[0]["value"] - 0.1) < 1e-9 and "of 40 production events" in firing[0]["detail"]
    assert "eval" not in firing[0]["detail"]
    incidents = client.get("/api/v1/incidents?use_case=support-reply", headers=h).json()
    assert len(incidents) == 1 and incidents[0]["source"] == "quality"


def _release(factory, status: str, key: str = "support-reply") -> None:
    with transaction(factory) as s:
        s.add(Release(use_case_key=key, version=1, status=status, bundle={}, content_hash="a" * 64,
                      created_by="eng", production_at=utcnow() if status == "production" else None))


def test_telemetry_of_a_release_that_never_went_live_is_not_production_traffic(client, users, factory,
                                                                                app) -> None:
    make_use_case(factory, targets={"max_error_rate": 0.01})
    _release(factory, "approved")  # passed its gate and approvals, but never promoted: a staging run
    h = users.headers("ai_engineer")
    rule = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "error_rate",
                                                         "op": ">", "threshold": 0.1, "window": "10m"}, headers=h)
    assert rule.status_code == 201, rule.text
    post_events(client, h, [ev(release="support-reply:1", status="error" if i < 20 else "ok",
                               error_category="unsafe_output" if i < 20 else None) for i in range(40)])
    out = client.post(f"/api/v1/monitoring/rules/{rule.json()['id']}/evaluate", headers=h).json()
    assert out["state"] == "no_data"
    run_checks(app, factory)
    assert client.get("/api/v1/monitoring/alerts", headers=h).json() == []
    assert client.get("/api/v1/incidents", headers=h).json() == []
    mon = client.get("/api/v1/monitoring/usecases/support-reply", headers=h).json()
    assert all(s["events"] == 0 for s in mon["slos"]), mon["slos"]
    # the use case page's error-category chart reads production traffic too
    chart = client.get("/api/v1/monitoring/usecases/support-reply/error-categories", headers=h).json()
    assert chart["total"] == 0

    # the same release once it serves production: its traffic is production traffic, and the checks fire
    with transaction(factory) as s:
        s.execute(update(Release).where(Release.version == 1).values(status="production", production_at=utcnow()))
    out = client.post(f"/api/v1/monitoring/rules/{rule.json()['id']}/evaluate", headers=h).json()
    assert out["state"] == "firing" and abs(out["value"] - 0.5) < 1e-9
    run_checks(app, factory)
    kinds = sorted(a["kind"] for a in client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json())
    assert kinds == ["alert", "quality", "slo"]
    assert {i["source"] for i in client.get("/api/v1/incidents", headers=h).json()} >= {"alert", "quality", "slo"}


def test_untagged_and_live_release_traffic_count_while_a_staging_release_is_left_out(client, users, factory,
                                                                                     app) -> None:
    make_use_case(factory, targets={})
    _release(factory, "production")
    with transaction(factory) as s:
        s.add(Release(use_case_key="support-reply", version=2, status="draft", bundle={}, content_hash="b" * 64,
                      created_by="eng"))
    h = users.headers("ai_engineer")
    rule = client.post("/api/v1/monitoring/rules", json={"use_case": "support-reply", "metric": "error_rate",
                                                         "op": ">", "threshold": 0.3, "window": "10m"}, headers=h)
    post_events(client, h, [ev(release="support-reply:1", status="error" if i < 5 else "ok") for i in range(20)]
                + [ev(release=None, status="error" if i < 5 else "ok") for i in range(20)]
                + [ev(release="support-reply:2", status="error") for _ in range(60)])
    out = client.post(f"/api/v1/monitoring/rules/{rule.json()['id']}/evaluate", headers=h).json()
    # 10 errors in 40 production events (25 %); with the draft's 60 failing calls it would be 70 %
    assert out["state"] == "ok" and abs(out["value"] - 0.25) < 1e-9
