"""Scores given after the fact (review, online evaluation): on the request, and in the rollups exactly once."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from takeoff.core.actor import Actor
from takeoff.core.db import transaction
from takeoff.core.errors import NotFound
from takeoff.telemetry import service
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.common import TelemetryInvalid
from takeoff.telemetry.compaction import compact_all
from takeoff.telemetry.models import TelemetryEvent
from takeoff.telemetry.rollup import unit_key
from takeoff.telemetry.scores import add_request_scores, score_delta

ACTOR = Actor("reviewer-1", ("admin",))
KEY = unit_key("test-secret-key-for-unit-hashes")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_score_delta_adds_new_names_and_moves_changed_ones() -> None:
    assert score_delta({}, {"a": 0.5}) == {"a": [1, 0.5, 0.25]}
    assert score_delta({"a": 0.5}, {"a": 1.0}) == {"a": [0, 0.5, 0.75]}
    assert score_delta({"a": 0.5}, {"a": 0.5}) == {}


def _ingest(factory, n: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(n)]
    events = [{"id": i, "use_case": "late-uc", "release": "late-uc:1", "ts": T0.timestamp() + k * 30,
               "latency_ms": 10.0, "status": "ok", "scores": {"sdk": 1.0}} for k, i in enumerate(ids)]
    with transaction(factory) as s:
        service.ingest_events(s, ACTOR, events, late_s=400 * 86400, unit_key=KEY)
    return ids


def _quality(factory, name: str) -> list[float]:
    with transaction(factory) as s:
        st = telemetry_window.window_stats(s, "late-uc", None, T0 - timedelta(hours=1), T0 + timedelta(hours=2))
        return list(st.scores.get(name) or [])


@pytest.mark.db
def test_late_scores_count_once_and_re_scoring_moves_the_mean(factory) -> None:
    ids = _ingest(factory, 4)
    with transaction(factory) as s:
        add_request_scores(s, ACTOR, ids[0], {"review_helpful": 2}, source="review:q1")
        add_request_scores(s, ACTOR, ids[1], {"review_helpful": 4}, source="review:q1")
    assert _quality(factory, "review_helpful") == [2, 6.0, 20.0]
    with transaction(factory) as s:  # a second reviewer's average replaces the first value: still two observations
        out = add_request_scores(s, ACTOR, ids[0], {"review_helpful": 3}, source="review:q1")
    assert out == {"sdk": 1.0, "review_helpful": 3.0}
    assert _quality(factory, "review_helpful") == [2, 7.0, 25.0]
    compact_all(factory)
    assert _quality(factory, "review_helpful") == [2, 7.0, 25.0]  # same after the compactor merged the deltas
    assert _quality(factory, "sdk")[0] == 4
    with transaction(factory) as s:
        data = s.get(TelemetryEvent, ids[0]).data
    assert data["score_sources"]["review_helpful"]["source"] == "review:q1"
    assert data["score_sources"]["review_helpful"]["by"] == "reviewer-1"


@pytest.mark.db
@pytest.mark.parametrize("scores,source,message", [
    ({}, "review:q", "non-empty mapping"),
    ({"x": float("nan")}, "review:q", "finite"),
    ({"x": True}, "review:q", "must be a number"),
    ({"x": 1e12}, "review:q", "magnitude"),
    ({"": 1}, "review:q", "score name"),
    ({"x": 1}, " ", "source"),
])
def test_bad_scores_are_refused_and_nothing_is_written(factory, scores, source, message) -> None:
    ids = _ingest(factory, 1)
    with pytest.raises(TelemetryInvalid, match=message), transaction(factory) as s:
        add_request_scores(s, ACTOR, ids[0], scores, source=source)
    with transaction(factory) as s:
        assert "score_sources" not in (s.get(TelemetryEvent, ids[0]).data or {})


@pytest.mark.db
def test_an_unknown_request_is_not_found(factory) -> None:
    with pytest.raises(NotFound), transaction(factory) as s:
        add_request_scores(s, ACTOR, "no-such-request", {"x": 1}, source="online:judge")
