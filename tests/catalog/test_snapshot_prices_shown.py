"""The price snapshot's date is shown wherever a cost was made from one of its prices: the telemetry window API, the
use-case dashboard, the overview, a request's detail (API and page), ROI's measured run cost and a budget's spend;
a cost priced at an operator's own (newer) price, or reported by the SDK for a model the catalog does not price,
says nothing about a snapshot."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from takeoff.catalog import pricing, snapshot
from tests.monitoring.conftest import ev, make_use_case, post_events
from tests.monitoring.test_monitoring_pages import login

AS_OF = snapshot.load()["as_of"]
NOTE = f"prices of {AS_OF} snapshot"


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_snapshot_dates_in_force_counts_only_snapshot_prices_in_force_in_the_window() -> None:
    schedule = [(_at("2025-07-01"), "snapshot 2025-07-01"), (_at("2026-01-01"), ""),
                (_at("2026-06-01"), "snapshot 2026-06-01")]
    assert pricing.snapshot_dates_in_force(schedule, _at("2025-08-01"), _at("2025-09-01")) == {"2025-07-01"}
    assert pricing.snapshot_dates_in_force(schedule, _at("2026-02-01"), _at("2026-03-01")) == set()  # operator's
    assert pricing.snapshot_dates_in_force(schedule, _at("2025-12-01"), _at("2026-02-01")) == {"2025-07-01"}
    assert pricing.snapshot_dates_in_force(schedule, None, _at("2027-01-01")) == {"2025-07-01", "2026-06-01"}
    assert pricing.snapshot_dates_in_force(schedule, _at("2025-01-01"), _at("2025-02-01")) == set()  # none yet
    assert pricing.prices_note([]) is None
    assert pricing.prices_note(["2025-07-01", "2025-07-01"]) == "prices of 2025-07-01 snapshot"
    assert pricing.prices_note(["2026-06-01", "2025-07-01"]) == "prices of 2025-07-01 and 2026-06-01 snapshots"


def test_costs_priced_from_the_snapshot_say_its_date_in_the_api_and_on_the_pages(client, users, factory) -> None:
    make_use_case(factory, targets={"cost_per_task_usd": 1.0})
    h = users.headers("admin")
    assert client.post("/api/v1/catalog/import-defaults", headers=h).status_code == 200
    priced = ev(model="gpt-4o-mini", provider="openai", cost_usd=None, tokens={"input": 1000, "output": 500})
    post_events(client, h, [priced])
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    w = client.get("/api/v1/telemetry/window", params={"use_case": "support-reply", "from": start}, headers=h).json()
    assert w["cost_usd"] > 0 and w["price_snapshots"] == [AS_OF]
    detail = client.get(f"/api/v1/requests/{priced['id']}", headers=h).json()
    assert detail["cost_usd"] > 0 and detail["price_snapshots"] == [AS_OF]
    b = client.post("/api/v1/monitoring/budgets", headers=h,
                    json={"use_case": "support-reply", "window": "day", "limit_usd": 10}).json()
    assert b["price_snapshots"] == [AS_OF], b
    roi = client.put("/api/v1/usecases/support-reply/roi", headers=h,
                     json={"build_cost": 1000, "unit_value": 2, "hourly_rate": 50}).json()
    assert roi["price_snapshots"] == [AS_OF] and NOTE in roi["sources"]["telemetry_cost_per_month"], roi
    login(client, users, "viewer")
    assert NOTE in client.get("/telemetry/usecase/support-reply/dashboard").text
    assert NOTE in client.get(f"/requests/{priced['id']}").text
    assert NOTE in client.get("/monitoring").text  # the budget's spend
    assert NOTE in client.get("/telemetry").text  # the overview's cost per task


def test_costs_from_operator_prices_or_the_sdk_name_no_snapshot(client, users, factory) -> None:
    make_use_case(factory)
    h = users.headers("admin")
    client.post("/api/v1/catalog/import-defaults", headers=h)
    since = datetime.now(UTC) - timedelta(days=2)  # before the dashboard's 24 h
    r = client.post("/api/v1/catalog/prices/openai/gpt-4o-mini", headers=h,
                    json={"input": 0.1, "output": 0.5, "effective_from": since.isoformat()})
    assert r.status_code == 201, r.text
    own = ev(model="gpt-4o-mini", provider="openai", cost_usd=None, ts=time.time() - 60)
    sdk = ev(model="in-house-llm", provider="acme", cost_usd=0.01)  # not in the catalog: the SDK's own cost
    post_events(client, h, [own, sdk])
    w = client.get("/api/v1/telemetry/window", headers=h,
                   params={"use_case": "support-reply", "from": (since + timedelta(minutes=1)).isoformat()}).json()
    assert w["cost_usd"] > 0.01 and w["price_snapshots"] == []
    assert client.get(f"/api/v1/requests/{own['id']}", headers=h).json()["price_snapshots"] == []
    assert client.get(f"/api/v1/requests/{sdk['id']}", headers=h).json()["price_snapshots"] == []
    login(client, users, "viewer")
    assert "snapshot)" not in client.get("/telemetry/usecase/support-reply/dashboard").text
