"""SDK drop reports: counted once per stored batch, read back by window stats, the metrics API and the dashboard;
bad reports refuse the whole batch naming the field."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import rollup
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.compaction import compact_all
from takeoff.telemetry.models import TelemetryEvent
from tests.telemetry.test_telemetry_metrics_api import _login


def ev(**kw):
    return {"id": uuid.uuid4().hex, "use_case": "triage", "release": "1", "ts": time.time() - 5, **kw}


def _dropped_series(client, h, **params) -> float:
    now = time.time()
    r = client.get("/api/v1/metrics", params={"use_case": "triage", "metric": "dropped_events", "from": now - 3600,
                                              "to": now + 60, "step": "5m", **params}, headers=h)
    assert r.status_code == 200, r.text
    return sum(p["value"] or 0 for p in r.json()["points"])


def test_a_drop_report_is_counted_once_and_read_back_everywhere(client, users, factory):
    h = users.headers("ai_engineer")
    body = {"events": [ev(), ev()], "dropped": [
        {"use_case": "triage", "release": "1", "reason": "queue_full", "count": 7},
        {"use_case": "triage", "reason": "http_422", "count": 2},
        {"use_case": "triage", "release": "triage:1", "reason": "queue_full", "count": 1},  # same release, qualified
        {"use_case": "shadow-sdk", "reason": "queue_full", "count": 3}]}
    r = client.post("/api/v1/events", json=body, headers=h)
    assert r.status_code == 200 and r.json() == {"accepted": 2, "duplicates": 0}, r.text
    again = client.post("/api/v1/events", json=body, headers=h)  # the resend of a stored batch (a lost answer)
    assert again.json() == {"accepted": 0, "duplicates": 2}
    for compacted in (False, True):  # pending deltas, then the rollup rows the compactor made of them
        if compacted:
            compact_all(factory)
        assert _dropped_series(client, h) == 10
        assert _dropped_series(client, h, release="triage:1") == 8
        with transaction(factory) as s:
            now = datetime.now(UTC)
            st = telemetry_window.window_stats(s, "triage", None, now - timedelta(hours=1), now + timedelta(minutes=1))
            assert st.dropped == {"queue_full": 8, "http_422": 2} and st.count == 2
            shadow = s.scalar(select(UseCase).where(UseCase.key == "shadow-sdk"))
            assert shadow is not None and shadow.status == "discovered"  # never silently dropped, even as a report
    _login(client, users)
    frag = client.get("/telemetry/usecase/triage/dashboard?range=1h")
    assert frag.status_code == 200 and "dropping <strong>10</strong> events" in frag.text


@pytest.mark.parametrize("drop,field", [
    ({"count": 0}, "dropped.0.count"),
    ({"count": 10**9 + 1}, "dropped.0.count"),
    ({"count": 1.5}, "dropped.0.count"),
    ({"reason": ""}, "dropped.0.reason"),
    ({"reason": "x" * 65}, "dropped.0.reason"),
    ({"use_case": "u" * 65}, "dropped.0.use_case"),
    ({"release": "r" * 101}, "dropped.0.release"),
    ({"use_case": "u" * 64, "release": "9" * 40}, "dropped.0.release"),  # too long once qualified "<uc>:<version>"
    ({"bogus": 1}, "dropped.0.bogus"),
])
def test_a_bad_drop_report_refuses_the_whole_batch(client, users, factory, drop, field):
    h = users.headers("ai_engineer")
    good = {"use_case": "triage", "reason": "queue_full", "count": 1}
    r = client.post("/api/v1/events", json={"events": [ev()], "dropped": [{**good, **drop}]}, headers=h)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]], r.json()
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(TelemetryEvent)) == 0  # nothing of the batch was stored


def test_a_report_needs_events_and_at_most_100_entries(client, users):
    h = users.headers("ai_engineer")
    drop = {"use_case": "triage", "reason": "queue_full", "count": 1}
    alone = client.post("/api/v1/events", json={"events": [], "dropped": [drop]}, headers=h)
    assert alone.status_code == 422 and alone.json()["error"]["details"][0]["field"] == "dropped"
    many = client.post("/api/v1/events", json={"events": [ev()], "dropped": [drop] * 101}, headers=h)
    assert many.status_code == 422 and many.json()["error"]["details"][0]["field"] == "dropped"


def test_add_drops_counts_into_the_minute_partials_and_reasons_are_capped():
    partial = {**rollup.empty(), "count": 3}
    key = (60, 600, "uc", "uc:1")
    partials = {key: partial}
    rollup.add_drops(partials, [{"use_case": "uc", "release": "uc:1", "reason": "q", "count": 2},
                                {"use_case": "uc", "release": "uc:1", "reason": "q", "count": 1},
                                {"use_case": "uc", "release": "", "reason": "q", "count": 4}], 659.0)
    assert partials[key]["dropped"] == {"q": 3} and partials[key]["count"] == 3  # the events' counts untouched
    assert partials[(60, 600, "uc", "")]["dropped"] == {"q": 4} and partials[(60, 600, "uc", "")]["count"] == 0
    merged = rollup.empty()
    for i in range(150):
        merged = rollup.merge(merged, {"dropped": {f"r{i}": 1}})
    assert len(merged["dropped"]) == rollup.MAX_CATEGORIES + 1 and sum(merged["dropped"].values()) == 150
    many = rollup.merge_many({"dropped": {f"r{i}": 1}} for i in range(150))["dropped"]
    assert len(many) == rollup.MAX_CATEGORIES + 1 and sum(many.values()) == 150


@pytest.mark.parametrize("field", ["use_case", "release", "reason"])
def test_a_nul_character_in_a_drop_report_is_a_422_naming_it(client, users, field):
    h = users.headers("ai_engineer")
    drop = {"use_case": "triage", "release": "triage:1", "reason": "queue_full", "count": 1, field: "a\x00b"}
    r = client.post("/api/v1/events", json={"events": [ev()], "dropped": [drop]}, headers=h)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == [f"dropped.0.{field}"]
