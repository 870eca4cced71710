"""Unit (user) ids are hashed with a key derived from the server secret in the rollup sketches, so a stored sketch
cannot be matched against a list of known user ids; distinct-user counts stay right (issue 16 item 8)."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.telemetry import rollup
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.compaction import compact_all
from takeoff.telemetry.models import TelemetryRollup, TelemetryRollupDelta

IDS = [f"alice{i}@example.com" for i in range(40)]


def _unkeyed(unit_id: str) -> int:
    """The hash the sketches held before: anyone with a list of ids could compute it."""
    return int.from_bytes(hashlib.blake2b(unit_id.encode(), digest_size=8).digest(), "big") >> (64 - rollup.HASH_BITS)


def test_same_id_under_two_secrets_hashes_differently():
    a, b = rollup.unit_key("first-server-secret"), rollup.unit_key("second-server-secret")
    assert a != b and len(a) == 32
    assert rollup.unit_hash("alice", a) == rollup.unit_hash("alice", a)  # stable on one server
    assert rollup.unit_hash("alice", a) != rollup.unit_hash("alice", b)
    assert rollup.unit_hash("alice", a) != _unkeyed("alice")
    assert all(0 <= rollup.unit_hash(u, a) < 1 << rollup.HASH_BITS for u in IDS)
    with pytest.raises(ValueError):
        rollup.unit_hash("alice", b"")  # no unkeyed fallback
    with pytest.raises(TypeError):
        rollup.fold([{"ts": 0.0, "use_case": "uc", "unit_id": "alice"}])  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        rollup.unit_key("short")


def test_fold_sketches_hold_keyed_hashes_only():
    key = rollup.unit_key("first-server-secret")
    events = [{"ts": 1_700_000_000.0 + i, "use_case": "uc", "unit_id": IDS[i % len(IDS)]} for i in range(200)]
    parts = rollup.fold(events, key=key)
    units = set().union(*(set(a["units"]) for a in parts.values()))
    assert units == {rollup.unit_hash(u, key) for u in IDS}
    assert not units & {_unkeyed(u) for u in IDS}
    day = next(a for (g, *_), a in parts.items() if g == 86400)
    assert rollup.kmv_estimate(day["units"]) == len(IDS)


def _post(client, headers, n_events: int, ts: float):
    events = [{"id": uuid.uuid4().hex, "use_case": "priv-uc", "release": "priv-uc:1", "unit_id": IDS[i % len(IDS)],
               "ts": ts, "latency_ms": 10.0, "status": "ok"} for i in range(n_events)]
    r = client.post("/api/v1/events", json={"events": events}, headers=headers)
    assert r.status_code == 200, r.text


def _otlp(client, headers, unit_id: str) -> None:
    now = time.time_ns()
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "priv-uc"}}]},
            "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
                "traceId": uuid.uuid4().hex, "spanId": uuid.uuid4().hex[:16], "name": "chat m", "kind": 3,
                "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now),
                "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                               {"key": "enduser.id", "value": {"stringValue": unit_id}}],
                "status": {}}]}]}]}
    r = client.post("/v1/traces", content=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def test_ingested_sketches_are_keyed_by_the_server_secret_and_counts_stay_right(app, client, users, factory):
    h = users.headers("ai_engineer")
    now = time.time()
    _post(client, h, 120, now - 5)  # 40 distinct users, each three times
    _otlp(client, h, IDS[0])  # the same user through OTLP: hashed alike, not a 41st user
    _otlp(client, h, "bob@example.com")  # a new one
    key = rollup.unit_key(app.state.settings.resolved_secret_key)
    with transaction(factory) as s:
        deltas = s.scalars(select(TelemetryRollupDelta).where(TelemetryRollupDelta.use_case == "priv-uc")).all()
        stored = set().union(*(set(d.agg["units"]) for d in deltas))
    compact_all(factory)
    with transaction(factory) as s:
        rows = s.scalars(select(TelemetryRollup).where(TelemetryRollup.use_case == "priv-uc")).all()
        stored |= set().union(*(set(r.units) for r in rows))
        start = datetime.fromtimestamp(now - 120, UTC)
        stats = telemetry_window.window_stats(s, "priv-uc", None, start, start + timedelta(minutes=10))
    known = [*IDS, "bob@example.com"]
    assert stored == {rollup.unit_hash(u, key) for u in known}
    assert not stored & {_unkeyed(u) for u in known}  # a list of known ids does not match the stored sketches
    assert not stored & {rollup.unit_hash(u, rollup.unit_key("another-server-secret")) for u in known}
    assert stats.active_units == len(known)
