"""The unit index (takeoff.telemetry.unit_index, tele0016), on SQLite written behind ingestion: a request is found by
its unit as soon as its batch is acknowledged, before and after the compactor's merge; a merge keeps only entries
whose request still holds the unit id; a unit's deletion and the retention leave no entry behind. PostgreSQL keeps
its index on the events: the same answers, nothing queued."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from takeoff.core.db import transaction
from takeoff.telemetry import unit_index
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.request_models import UnitRef
from takeoff.telemetry.retention import delete_old_events
from tests.requests.conftest import event


def _ids(client, admin, unit: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/requests", params={"unit": unit, "limit": 100}, headers=admin)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def _sqlite(factory) -> bool:  # type: ignore[no-untyped-def]
    return factory.kw["bind"].dialect.name == "sqlite"


def _refs(factory) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return {(u, e) for u, e in s.execute(select(UnitRef.unit_id, UnitRef.event_id))}


def test_a_unit_is_found_before_and_after_the_merge(client, admin, send, usecase, factory):
    now = time.time()
    send(*[event(usecase, id=f"u{i:02d}", ts=now - 60 + i, unit_id=("erin" if i % 3 == 0 else f"user-{i}"))
           for i in range(30)])
    r = client.post("/api/v1/events", json={"events": [event(usecase, id="u00", ts=now - 60, unit_id="erin")]},
                    headers=admin)
    assert r.status_code == 200 and r.json()["accepted"] == 0  # a resend is stored once, queued once
    erin = [f"u{i:02d}" for i in range(27, -1, -3)]
    queued = 30 if _sqlite(factory) else 0  # PostgreSQL: its index on the events, nothing queued
    with factory() as s:
        assert unit_index.pending(s) == queued
    assert _ids(client, admin, "erin") == erin  # queued: the pending entries are read
    assert unit_index.merge_all(factory) == queued
    with factory() as s:
        assert unit_index.pending(s) == 0
    assert len(_refs(factory)) == queued and _ids(client, admin, "erin") == erin  # merged: the refs
    send(event(usecase, id="u99", ts=now, unit_id="erin"))  # one queued beside the merged ones
    assert _ids(client, admin, "erin") == ["u99", *erin] and _ids(client, admin, "nobody") == []
    assert unit_index.merge_all(factory) == queued // 30 and unit_index.merge_all(factory) == 0


def test_a_merge_keeps_only_entries_whose_request_still_holds_the_unit(client, admin, send, usecase, factory):
    send(event(usecase, id="k1", unit_id="frank"), event(usecase, id="k2", unit_id="frank"),
         event(usecase, id="k3", unit_id="gina"))
    with transaction(factory) as s:  # a request that lost its unit id before the merge (as a deletion leaves it)
        s.execute(update(TelemetryEvent).where(TelemetryEvent.id == "k2").values(unit_id=None))
    assert _ids(client, admin, "frank") == ["k1"]  # the row must still hold the id
    unit_index.merge_all(factory)
    assert {e for _, e in _refs(factory)} == ({"k1", "k3"} if _sqlite(factory) else set())


def test_a_units_deletion_leaves_no_entry_queued_or_merged(client, admin, send, usecase, factory):
    send(event(usecase, id="d1", unit_id="hana"), event(usecase, id="d2", unit_id="ivan"))
    unit_index.merge_all(factory)
    send(event(usecase, id="d3", unit_id="hana"))  # queued
    r = client.post("/api/v1/requests/unit-deletions", json={"unit": "hana"}, headers=admin)
    assert r.status_code == 200 and r.json()["requests"] == 2
    assert {e for _, e in _refs(factory)} == ({"d2"} if _sqlite(factory) else set())
    with factory() as s:
        assert unit_index.pending(s) == 0
    assert _ids(client, admin, "hana") == [] and _ids(client, admin, "ivan") == ["d2"]


def test_the_retention_drops_the_entries_of_the_requests_it_deletes(client, admin, send, usecase, factory):
    now = time.time()
    send(event(usecase, id="r1", ts=now - 120, unit_id="jo"), event(usecase, id="r2", ts=now - 110, unit_id="jo"),
         event(usecase, id="r3", ts=now - 10, unit_id="jo"))
    unit_index.merge_all(factory)
    send(event(usecase, id="r4", ts=now - 100, unit_id="jo"))  # queued, then deleted by the retention
    with transaction(factory) as s:
        assert delete_old_events(s, datetime.fromtimestamp(now - 60, UTC)) == 3
    assert {e for _, e in _refs(factory)} == ({"r3"} if _sqlite(factory) else set())
    with factory() as s:
        assert unit_index.pending(s) == 0 and s.scalar(text("SELECT count(*) FROM telemetry_events")) == 1
    assert _ids(client, admin, "jo") == ["r3"]


def test_the_compactor_merges_when_enough_are_queued_or_after_a_while(send, usecase, factory, monkeypatch):
    if not _sqlite(factory):
        return  # nothing is queued on PostgreSQL (the test above)
    clock = unit_index.MergeClock()
    assert not clock.due(factory)  # nothing queued, just merged
    send(*[event(usecase, unit_id=f"v{i}") for i in range(5)])
    monkeypatch.setattr(unit_index, "MERGE_MIN", 5)
    assert clock.due(factory)
    monkeypatch.setattr(unit_index, "MERGE_MIN", 6)
    assert not clock.due(factory)
    clock.last -= unit_index.MERGE_EVERY_S
    assert clock.due(factory)
    clock.merged()
    assert not clock.due(factory)
