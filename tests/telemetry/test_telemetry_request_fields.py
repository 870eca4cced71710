"""The request fields of an event (trace ids, span tree, content): bounded and validated at the edge, the same on
the msgspec fast path and in pydantic (the contract)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from takeoff.telemetry.decode import decode_batch
from takeoff.telemetry.schemas import EVENT_BATCH, MAX_CONTENT_CHARS, MAX_SPANS

TRACE, SPAN, PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00f067aa0ba902b7"


def _span(**kw: Any) -> dict[str, Any]:
    return {"trace_id": TRACE, "span_id": SPAN, "parent_span_id": PARENT, "name": "chat gpt-4o", "kind": "client",
            "status": "error", "start": 1_800_000_000.5, "duration_ms": 3.0, "attributes": {"gen_ai.system": "x"}, **kw}


def _event(**kw: Any) -> dict[str, Any]:
    return {"id": "e1", "use_case": "uc", "ts": 1_800_000_000.0, **kw}


def _both(event: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str] | None]:
    body = json.dumps({"events": [event]}).encode()
    fast = decode_batch(body)
    try:
        slow = EVENT_BATCH.validate_json(body)
    except ValidationError as exc:
        assert fast is None, "msgspec accepted what pydantic refuses"
        return None, [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
    if fast is not None:
        assert fast == slow
    return slow, None


def test_valid_request_fields_pass_unchanged():
    content = {"system": "s", "input": [{"role": "user", "content": "x" * MAX_CONTENT_CHARS}],
               "output": [{"role": "assistant", "content": "y"}], "tool_calls": [{"name": "t", "arguments": None}],
               "documents": ["d1", "d2"]}
    ev = _event(trace_id=TRACE, span_id=SPAN, parent_span_id=None, spans=[_span(), _span(parent_span_id=None)],
                content=content)
    got, errors = _both(ev)
    assert errors is None and got is not None
    assert got["events"][0]["spans"][0] == _span() and got["events"][0]["content"] == content
    assert _both(_event(content={}))[0] is not None  # every content part is optional
    assert _both(_event(content=None, trace_id=None))[0] is not None


@pytest.mark.parametrize(("extra", "field"), [
    ({"trace_id": TRACE.upper()}, "events.0.trace_id"),
    ({"trace_id": TRACE[:-1]}, "events.0.trace_id"),
    ({"trace_id": TRACE + "\n"}, "events.0.trace_id"),
    ({"span_id": "zz" * 8}, "events.0.span_id"),
    ({"parent_span_id": SPAN + "0"}, "events.0.parent_span_id"),
    ({"spans": [_span(status="bad")]}, "events.0.spans.0.status"),
    ({"spans": [_span(start=0)]}, "events.0.spans.0.start"),
    ({"spans": [_span(duration_ms=-1)]}, "events.0.spans.0.duration_ms"),
    ({"spans": [_span(attributes={"nested": {"a": 1}})]}, "events.0.spans.0.attributes.nested"),
    ({"spans": [_span(bogus=1)]}, "events.0.spans.0.bogus"),
    ({"spans": [_span()] * (MAX_SPANS + 1)}, "events.0.spans"),
    ({"content": {"input": [{"role": "user"}]}}, "events.0.content.input.0.content"),
    ({"content": {"input": [{"role": "", "content": "x"}]}}, "events.0.content.input.0.role"),
    ({"content": {"system": "x" * (MAX_CONTENT_CHARS + 1)}}, "events.0.content.system"),
    ({"content": {"documents": [""]}}, "events.0.content.documents.0"),
    ({"content": {"tool_calls": [{"arguments": "{}"}]}}, "events.0.content.tool_calls.0.name"),
    ({"content": {"prompt": "x"}}, "events.0.content.prompt"),
])
def test_bad_request_fields_are_refused_naming_the_field(extra, field):
    got, errors = _both(_event(**extra))
    assert got is None and errors is not None
    assert any(e == field or e.startswith(field + ".") for e in errors), errors
