"""/metrics counts ingestion (stored, duplicate, rejected by reason), jobs by kind and outcome, SSO callbacks by
outcome and notification deliveries by channel kind and outcome (deltas: the registry is the process's)."""
from __future__ import annotations

import re
import time

import pytest

from takeoff.auth import oidc, sso
from takeoff.core.db import transaction
from takeoff.jobs import service as jobs

from .conftest import ev, make_use_case, post_events


def _value(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return 0.0


def test_metrics_count_ingestion_jobs_sso_and_deliveries(client, users, factory, app, settings) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    before = client.get("/metrics").text
    batch = [ev() for _ in range(5)]
    post_events(client, h, batch)
    post_events(client, h, batch[:2])  # a resent part: duplicates
    r = client.post("/api/v1/events", json={"events": [ev(ts=time.time() - 10 * 86400)]}, headers=h)
    assert r.status_code == 422
    r = client.post("/api/v1/monitoring/channels", headers=users.headers("ai_engineer"),
                    json={"name": "down", "url": "http://127.0.0.1:9/hook", "secret": "s3cret-s3cret",
                          "max_attempts": 1})
    assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/monitoring/channels/{r.json()['id']}/test", headers=h).status_code == 202
    with transaction(factory) as s:
        jobs.enqueue(s, "monitoring.evaluate", {})
    app.state.worker.drain()
    with transaction(factory) as s, pytest.raises(oidc.LoginRefused):
        sso.complete(s, settings, None, "forged", "forged", "code")  # type: ignore[arg-type]  # refused first
    after = client.get("/metrics").text

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("takeoff_ingest_events_total", source="json", outcome="stored") == 5
    assert delta("takeoff_ingest_events_total", source="json", outcome="duplicate") == 2
    assert delta("takeoff_ingest_rejected_total", source="json", reason="time") == 1
    assert delta("takeoff_jobs_finished_total", kind="monitoring.evaluate", outcome="done") == 1
    assert delta("takeoff_notification_deliveries_total", channel="webhook", outcome="failed") == 1
    assert delta("takeoff_sso_logins_total", outcome="refused") == 1
