"""Cost budgets over HTTP: bad input refused naming the field, 403 without monitor.write; spend read from the
rollups; an alert near the limit and another over it, each once per window, notified; resolved when the window
resets; `enforce: fallback` makes active() send the SDK to the fallback, per release or for the whole use case."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from takeoff.core.db import transaction, utcnow
from takeoff.monitoring import budgets
from takeoff.monitoring.models import Alert, Budget, Delivery
from takeoff.releases.models import Release
from takeoff.sdk import Client

from .conftest import ev, make_use_case, post_events

URL = "/api/v1/monitoring/budgets"


def _count(factory, model, *where) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _releases(factory, key: str = "support-reply") -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        s.add(Release(use_case_key=key, version=1, status="production", bundle={"model": "openai/gpt-4o"},
                      content_hash="a" * 64, created_by="eng", production_at=utcnow()))
        s.add(Release(use_case_key=key, version=2, status="canary", bundle={"model": "openai/gpt-4o-mini"},
                      content_hash="b" * 64, created_by="eng", canary_weight=10))


def test_bad_budgets_are_refused_naming_the_field_and_need_monitor_write(client, users, factory) -> None:
    make_use_case(factory)
    make_use_case(factory, key="other")
    _releases(factory, "other")
    h = users.headers("ai_engineer")
    good = {"use_case": "support-reply", "window": "day", "limit_usd": 10}
    for patch, field in (({"window": "week"}, "window"), ({"limit_usd": 0}, "limit_usd"),
                         ({"limit_usd": -3}, "limit_usd"), ({"limit_usd": "lots"}, "limit_usd"),
                         ({"warn_share": 1.5}, "warn_share"), ({"warn_share": 0}, "warn_share"),
                         ({"enforce": "block"}, "enforce"), ({"release": "other:1"}, "release"),
                         ({"release": "support-reply:9"}, "release"), ({"colour": "red"}, "colour")):
        r = client.post(URL, json={**good, **patch}, headers=h)
        assert r.status_code == 422, (patch, r.text)
        assert field in str(r.json()["error"]["details"]), (patch, r.text)
    assert client.post(URL, json={**good, "use_case": "nope"}, headers=h).status_code == 404
    assert client.post(URL, json=good, headers=users.headers("viewer")).status_code == 403
    assert _count(factory, Budget) == 0
    r = client.post(URL, json=good, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["window"], body["limit_usd"], body["warn_share"], body["enforce"], body["state"]) == \
        ("day", 10.0, 0.8, "alert", "ok")
    assert client.delete(f"{URL}/{body['id']}", headers=users.headers("viewer")).status_code == 403
    assert client.get(f"{URL}/999999", headers=h).status_code == 404


def test_near_then_over_each_alert_once_per_window_notified_and_resolved_at_reset(client, users, factory,
                                                                                 app) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    r = client.post("/api/v1/monitoring/channels", headers=h,
                    json={"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "s3cret-s3cret"})
    assert r.status_code == 201, r.text
    b = client.post(URL, json={"use_case": "support-reply", "window": "day", "limit_usd": 1.0}, headers=h).json()
    post_events(client, h, [ev(cost_usd=0.1) for _ in range(7)])  # $0.70: under 80 %
    assert client.post(f"{URL}/{b['id']}/evaluate", headers=h).json()["state"] == "ok"
    post_events(client, h, [ev(cost_usd=0.1) for _ in range(2)])  # $0.90: near
    first = client.post(f"{URL}/{b['id']}/evaluate", headers=h).json()
    assert first["state"] == "near" and first["new_alert"] is True
    assert abs(first["spend_usd"] - 0.9) < 1e-6 and abs(first["share"] - 0.9) < 1e-6
    again = client.post(f"{URL}/{b['id']}/evaluate", headers=h).json()
    assert again["new_alert"] is False  # refreshed, not fired again
    post_events(client, h, [ev(cost_usd=0.25)])  # $1.15: over
    over = client.post(f"{URL}/{b['id']}/evaluate", headers=h).json()
    assert over["state"] == "over" and over["new_alert"] is True
    client.post(f"{URL}/{b['id']}/evaluate", headers=h)
    firing = client.get("/api/v1/monitoring/alerts?state=firing", headers=h).json()
    assert sorted(a["name"] for a in firing) == ["cost budget at 80%: support-reply",
                                                 "cost budget exceeded: support-reply"]
    assert _count(factory, Delivery, Delivery.event == "alert.firing") == 2  # one per level, not per evaluation
    # The next day is a new window: nothing spent yet, the alerts resolve.
    with transaction(factory) as s:
        st = budgets.evaluate_budget(s, s.get(Budget, b["id"]), utcnow() + timedelta(days=1))
    assert st["state"] == "ok" and st["spend_usd"] == 0
    assert _count(factory, Alert, Alert.state == "firing") == 0
    assert _count(factory, Delivery, Delivery.event == "alert.resolved") == 2


def test_the_scheduled_evaluation_fires_a_spent_budget(client, users, factory, app) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    client.post(URL, json={"use_case": "support-reply", "window": "month", "limit_usd": 0.5}, headers=h)
    post_events(client, h, [ev(cost_usd=0.3) for _ in range(2)])
    from takeoff.jobs import service as jobs

    with transaction(factory) as s:
        jobs.enqueue(s, "monitoring.evaluate", {})
    app.state.worker.drain()
    with transaction(factory) as s:
        names = [a.name for a in s.scalars(select(Alert).where(Alert.state == "firing"))]
    assert names == ["cost budget exceeded: support-reply"]


def test_enforced_budget_sends_the_sdk_to_the_fallback_until_the_window_resets(client, users, factory) -> None:
    make_use_case(factory, targets={})
    _releases(factory)
    h = users.headers("ai_engineer")
    canary = client.post(URL, headers=h, json={"use_case": "support-reply", "release": "support-reply:2",
                                               "window": "day", "limit_usd": 0.05, "enforce": "fallback"}).json()
    post_events(client, h, [ev(release="support-reply:1", cost_usd=0.04) for _ in range(3)])  # $0.12 on v1
    post_events(client, h, [ev(release="support-reply:2", cost_usd=0.01) for _ in range(2)])  # $0.02 on v2
    active = {r["release_id"]: r for r in client.get("/api/v1/usecases/support-reply/active", headers=h)
              .json()["releases"]}
    assert not active["support-reply:1"]["use_fallback"] and not active["support-reply:2"]["use_fallback"]
    post_events(client, h, [ev(release="support-reply:2", cost_usd=0.02) for _ in range(2)])  # $0.06 on v2: spent
    active = {r["release_id"]: r for r in client.get("/api/v1/usecases/support-reply/active", headers=h)
              .json()["releases"]}
    assert active["support-reply:2"]["use_fallback"] is True
    assert active["support-reply:2"]["fallback_until"].startswith((utcnow() + timedelta(days=1)).strftime("%Y-%m-%d"))
    assert active["support-reply:1"]["use_fallback"] is False  # another release's budget is its own
    # The SDK honours it: a guarded call of the spent release is not made, the fallback serves.
    token = users.token(users.create("ai_engineer", username="app"))
    sdk = Client(str(client.base_url), token, http_client=client, flush_interval_s=30)
    try:
        calls: list[str] = []
        spent = sdk.active("support-reply", unit_id="u1", default=None)
        served = [sdk.active("support-reply", unit_id=f"unit-{i}") for i in range(200)]
        cfg2 = next(c for c in served if c is not None and c.release_id == "support-reply:2")
        cfg1 = next(c for c in served if c is not None and c.release_id == "support-reply:1")
        assert spent is not None and cfg2.use_fallback and cfg2.fallback_until and not cfg1.use_fallback
        out = sdk.guard(lambda: calls.append("v2") or "model answer", fallback="canned answer", release=cfg2,
                        use_case="support-reply")
        assert out == "canned answer" and calls == []
        out = sdk.guard(lambda: calls.append("v1") or "model answer", fallback="canned answer", release=cfg1,
                        use_case="support-reply")
        assert out == "model answer" and calls == ["v1"]
        with sdk.track("support-reply", release="support-reply:2", unit_id="u9"):  # the README's idiom: an id
            out = sdk.guard(lambda: calls.append("v2") or "model answer", fallback="canned answer")
        assert out == "canned answer" and calls == ["v1"]
    finally:
        sdk.close()
    # Disabling the budget ends the fallback at once.
    assert client.delete(f"{URL}/{canary['id']}", headers=h).status_code == 204
    active = client.get("/api/v1/usecases/support-reply/active", headers=h).json()["releases"]
    assert not any(r["use_fallback"] for r in active)


def test_budget_cli_adds_lists_and_removes(client, users, factory, app, monkeypatch) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from takeoff.cli import app as cli
    from takeoff.commands import _http

    make_use_case(factory, targets={})
    headers = users.headers("ai_engineer")

    def http(timeout: float = 60.0) -> TestClient:
        c = TestClient(app)
        c.headers.update(headers)
        return c

    monkeypatch.setattr(_http, "client", http)
    run = CliRunner()
    r = run.invoke(cli, ["budget", "add", "support-reply", "--limit", "2", "--window", "day", "--enforce", "fallback"])
    assert r.exit_code == 0, r.output
    budget_id = r.output.strip().splitlines()[-1]
    post_events(client, headers, [ev(cost_usd=1.0) for _ in range(3)])
    r = run.invoke(cli, ["budget", "list"])
    assert r.exit_code == 0 and "$3.00 of $2.00 per day" in r.output and "over" in r.output and "FALLBACK" in r.output
    r = run.invoke(cli, ["budget", "add", "support-reply", "--limit", "2", "--window", "fortnight"])
    assert r.exit_code == 2 and "window must be one of day, month" in r.output
    r = run.invoke(cli, ["budget", "remove", budget_id])
    assert r.exit_code == 0 and "disabled" in r.output


def test_budget_form_shows_each_error_beside_its_field_and_adds_the_budget(client, users, factory) -> None:
    from .test_monitoring_pages import login

    make_use_case(factory, targets={})
    csrf = login(client, users, "platform_engineer")
    form = {"csrf_token": csrf, "use_case": "support-reply", "window": "day", "limit_usd": "0", "warn_share": "0.8",
            "enforce": "alert"}
    r = client.post("/monitoring/budgets", data=form)
    assert r.status_code == 422
    assert 'id="limit_usd-error"' in r.text and "limit_usd must be a number of dollars above 0" in r.text
    r = client.post("/monitoring/budgets", data={**form, "limit_usd": "12", "warn_share": "2"})
    assert r.status_code == 422 and 'id="warn_share-error"' in r.text and 'value="12"' in r.text
    r = client.post("/monitoring/budgets", data={**form, "limit_usd": "ten"})
    assert r.status_code == 422 and 'id="limit_usd-error"' in r.text
    assert _count(factory, Budget) == 0
    r = client.post("/monitoring/budgets", data={**form, "limit_usd": "12.5"}, follow_redirects=False)
    assert r.status_code == 303
    post_events(client, users.headers("ai_engineer"), [ev(cost_usd=2.5)])
    page = client.get("/monitoring").text
    assert "$2.50" in page and "$12.50" in page and "20.0%" in page
    viewer = login(client, users, "viewer")
    assert client.post("/monitoring/budgets", data={**form, "csrf_token": viewer, "limit_usd": "5"}).status_code == 403
