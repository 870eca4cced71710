"""The msgspec fast path never accepts what pydantic (the contract) refuses, and yields the same values when it
accepts: checked on edge values field by field, on whole-body oddities, and on seeded random mutations."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest
from pydantic import ValidationError

from takeoff.telemetry.decode import decode_batch
from takeoff.telemetry.schemas import EVENT_BATCH, MAX_COST_USD, MAX_LATENCY_MS, MAX_SCORE, MAX_TOKENS

NAN, INF = float("nan"), float("inf")

FULL = {"id": "e1", "use_case": "uc", "release": "uc:1", "unit_id": "u1", "ts": 1_800_000_000.5, "latency_ms": 12.5,
        "status": "ok", "outcome": "success", "model": "gpt-4o", "provider": "openai",
        "tokens": {"input": 10, "output": 2, "cache_read": 1, "cache_write": 0, "reasoning": 3}, "cost_usd": 0.001,
        "scores": {"faithfulness": 0.9}, "features": {"n": 3, "lang": "en", "flag": True, "none": None},
        "error_category": None, "fallback_reason": None, "attributes": {"k": [1, {"x": "y"}], "big": 10**30},
        "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "parent_span_id": None,
        "spans": [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "name": "chat",
                   "kind": "client", "status": "ok", "start": 1_800_000_000.25, "duration_ms": 12.5,
                   "parent_span_id": None, "attributes": {"a": "x", "n": 3, "f": 1.5, "b": True, "z": None}}],
        "content": {"system": "be kind", "input": [{"role": "user", "content": "hi"}],
                    "output": [{"role": "assistant", "content": "hello"}],
                    "tool_calls": [{"name": "lookup", "arguments": "{\"q\": 1}"}], "documents": ["doc-1"]}}

ODD: list[Any] = [None, 0, -1, 1, 1.5, -0.0, 1e308, 10**30, True, False, "", "x", "1.5", "ok", "é" * 99, "é" * 101,
                  "x" * 129, "x" * 201, [], [1], {}, {"a": 1}, {"": 1}, {"a": "x" * 201}, {"a": [1]}, {"a": None},
                  {"input": -1}, {"input": 1.5}, {"input": True}, {"input": "3"}, {"bogus": 1},
                  {f"k{i}": 1 for i in range(51)}, {f"k{i}": 1 for i in range(101)}, "success", "overridden", "error",
                  # non-finite (json.dumps writes NaN / Infinity) and the numeric bounds, bare and inside objects
                  NAN, INF, -INF, [NAN], {"a": NAN}, {"a": [1, {"b": INF}]}, {"input": INF}, {"a": -INF},
                  MAX_TOKENS, MAX_TOKENS + 1, MAX_COST_USD, MAX_COST_USD * 1.5, MAX_LATENCY_MS, MAX_LATENCY_MS * 1.5,
                  {"input": MAX_TOKENS}, {"input": MAX_TOKENS + 1}, {"a": MAX_SCORE}, {"a": -MAX_SCORE * 1.5},
                  {"a": 1e300}, 10**400, {"a": 10**400}]


def typed(v: Any) -> Any:
    """A value with its types spelled out, so 1 and 1.0 (or True and 1) never compare equal."""
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [typed(x) for x in v]
    return (type(v).__name__, v)


def pydantic_batch(body: bytes) -> dict[str, Any] | None:
    try:
        return EVENT_BATCH.validate_json(body)
    except ValidationError:
        return None


def check(body: bytes) -> bool:
    """Asserts the fast path is never laxer than pydantic and agrees on values; True when it accepted."""
    fast, slow = decode_batch(body), pydantic_batch(body)
    if fast is not None:
        assert slow is not None, f"msgspec accepted what pydantic refuses: {body[:300]!r}"
        assert typed(fast) == typed(slow), body[:300]
    return fast is not None


def body_of(*events: Any) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def test_a_full_and_a_minimal_event_decode_to_the_same_dicts():
    assert check(body_of(FULL, {"id": "e2", "use_case": "uc", "ts": 1}))
    assert decode_batch(body_of({"id": "e2", "use_case": "uc", "ts": 1})) == {
        "events": [{"id": "e2", "use_case": "uc", "ts": 1.0}]}


@pytest.mark.parametrize("field", sorted(FULL) + ["unknown_field"])
def test_every_field_with_odd_values(field):
    accepted = 0
    for value in ODD:
        accepted += check(body_of({**FULL, field: value}))
    drop = {k: v for k, v in FULL.items() if k != field}
    check(body_of(drop))
    if field == "unknown_field":
        assert accepted == 0


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"events": null}', b'{}', b'{"events": [], "x": 1}',
                                 b'{"events": [1]}', b'\xff\xfe', b'{"events": []} trailing', b'{"events": [NaN]}',
                                 b'{"events": [{"id": "a", "use_case": "u", "ts": NaN}]}',
                                 b'{"events": [{"id": "a", "use_case": "u", "ts": 1e999}]}',
                                 b'{"events": [{"id": "a", "use_case": "u", "ts": Infinity}]}',
                                 b'{"events": [{"id": "a", "id": "b", "use_case": "u", "ts": 1}]}',
                                 b'{"events": [{"id": "a", "use_case": "u", "ts": 1, "latency_ms": -1e-300}]}'])
def test_odd_bodies(raw):
    check(raw)


NONFINITE_EVENTS = [f'{{"id": "a", "use_case": "u", "ts": 1, {where}}}' for where in (
    '"attributes": {"x": NaN}', '"attributes": {"x": [1, {"y": Infinity}]}', '"attributes": {"x": -1e400}',
    '"attributes": {"x": {"y": {"z": [1e999]}}}', '"scores": {"q": NaN}', '"scores": {"q": 1e400}',
    '"features": {"f": -Infinity}', '"features": {"f": 1e400}', '"cost_usd": Infinity', '"cost_usd": 1e400',
    '"latency_ms": NaN', '"latency_ms": 1e400', '"tokens": {"input": 1e400}', '"ts": 1e400')]


@pytest.mark.parametrize("event", NONFINITE_EVENTS)
def test_nonfinite_numbers_anywhere_are_refused_by_both(event):
    body = f'{{"events": [{{"id": "ok", "use_case": "u", "ts": 1}}, {event}]}}'.encode()
    assert decode_batch(body) is None  # msgspec refuses NaN/Infinity literals and 1e400 outright
    with pytest.raises(ValidationError) as exc:
        EVENT_BATCH.validate_json(body)
    assert all(e["loc"][:2] == ("events", 1) for e in exc.value.errors())


def test_bounds_are_the_same_on_both_sides():
    at_max = {"id": "a", "use_case": "u", "ts": 1, "tokens": {"input": MAX_TOKENS}, "cost_usd": MAX_COST_USD,
              "latency_ms": MAX_LATENCY_MS, "scores": {"lo": -MAX_SCORE, "hi": MAX_SCORE}}
    assert check(body_of(at_max))
    for field, over in (("tokens", {"input": MAX_TOKENS + 1}), ("cost_usd", MAX_COST_USD * 1.01),
                        ("latency_ms", MAX_LATENCY_MS * 1.01), ("scores", {"lo": -MAX_SCORE * 1.01})):
        body = body_of({**at_max, field: over})
        assert decode_batch(body) is None and pydantic_batch(body) is None, field


def test_a_body_nested_too_deeply_is_a_400_not_a_recursion_error():
    from takeoff.core.errors import BadRequest
    from takeoff.telemetry.api import _batch_from_body

    nested = b"[" * 5000 + b"]" * 5000
    body = b'{"events": [{"id": "a", "use_case": "u", "ts": 1, "attributes": {"x": ' + nested + b"}}]}"
    assert decode_batch(body) is None
    with pytest.raises(BadRequest):
        _batch_from_body(body)


def test_batch_size_limit_is_the_same():
    ev = {"id": "e", "use_case": "uc", "ts": 1}
    assert check(body_of(*[ev] * 5000))
    assert not check(body_of(*[ev] * 5001))


def test_what_only_pydantic_coerces_still_goes_through_pydantic():
    from takeoff.telemetry.api import _batch_from_body

    lax = body_of({"id": "e", "use_case": "uc", "ts": "1700000000"})
    assert decode_batch(lax) is None
    assert _batch_from_body(lax)["events"][0]["ts"] == 1_700_000_000.0


def test_seeded_random_mutations():
    rng = random.Random(20261202)
    keys = sorted(FULL) + ["unknown_field"]
    accepted = 0
    for _ in range(3000):
        ev = dict(FULL)
        for _ in range(rng.randint(1, 4)):
            key = rng.choice(keys)
            if rng.random() < 0.2:
                ev.pop(key, None)
            else:
                ev[key] = rng.choice(ODD)
        accepted += check(body_of(ev))
    assert 0 < accepted < 3000  # both sides of the fence were exercised


DROP = {"use_case": "uc", "release": "uc:2", "reason": "queue_full", "count": 12}


@pytest.mark.parametrize("field", sorted(DROP) + ["bogus"])
def test_drop_report_fields_with_odd_values(field):
    """The `dropped` report: msgspec never laxer than pydantic, the same values when both accept."""
    ev = {"id": "e", "use_case": "uc", "ts": 1}
    for value in ODD + [MAX_TOKENS, MAX_TOKENS + 1, "x" * 64, "x" * 65]:
        check(json.dumps({"events": [ev], "dropped": [{**DROP, field: value}]}).encode())
    for drop in ({k: v for k, v in DROP.items() if k != field}, DROP):
        check(json.dumps({"events": [ev], "dropped": [drop]}).encode())
    assert check(json.dumps({"events": [ev], "dropped": [DROP] * 100}).encode())
    assert not check(json.dumps({"events": [ev], "dropped": [DROP] * 101}).encode())
