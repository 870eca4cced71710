"""Content of Traceloop/OpenLLMetry spans: the indexed `gen_ai.prompt.N.*` and `gen_ai.completion.N.*` attributes
(role, content, tool_calls.M.name/arguments) and a workflow/task/agent/tool span's `traceloop.entity.input/output`.
Its token names (`gen_ai.usage.reasoning_tokens`, `gen_ai.usage.cache_read_input_tokens`, ...) are read with the
conventions' ones (otlp_fields.tokens); newer releases send the conventions' `gen_ai.input.messages` instead."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from takeoff.telemetry.otlp_values import Content, as_text, loads

_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")
_TOOL = re.compile(r"^tool_calls\.(\d+)\.(name|arguments)$")


def indexed(a: Mapping[str, Any], pattern: re.Pattern[str]) -> dict[str, dict[int, dict[str, Any]]]:
    """Attributes `<prefix>.<group>.<N>.<rest>` grouped as {group: {N: {rest: value}}} (numbered groups)."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for k, v in a.items():
        m = pattern.match(k)
        if m:
            out.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = v
    return out


def content_from_attributes(c: Content, a: Mapping[str, Any]) -> bool:
    """The indexed prompt and completion messages; True when any was there."""
    if not any(k.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for k in a):
        return _entity(c, a)
    groups = indexed(a, _INDEXED)
    for group, where in (("prompt", "input"), ("completion", "output")):
        for _, fields in sorted(groups.get(group, {}).items()):
            calls: dict[int, dict[str, Any]] = {}
            for k, v in fields.items():
                m = _TOOL.match(k)
                if m:
                    calls.setdefault(int(m.group(1)), {})[m.group(2)] = v
            texts = [] if fields.get("content") in (None, "") else [as_text(fields.get("content")) or ""]
            for _, call in sorted(calls.items()):
                if where == "output":
                    c.tool_call(call.get("name"), call.get("arguments"))
                else:
                    texts.append(f"[tool call {call.get('name')}: {call.get('arguments') or ''}]")
            c.message(where, fields.get("role"), "\n".join(texts) if texts else None)
    return True


def _entity(c: Content, a: Mapping[str, Any]) -> bool:
    """A Traceloop workflow/task/agent/tool span's input and output (JSON the SDK wrote)."""
    if "traceloop.entity.input" not in a and "traceloop.entity.output" not in a:
        return False
    kind = a.get("traceloop.span.kind")
    inp, out = loads(a.get("traceloop.entity.input")), loads(a.get("traceloop.entity.output"))
    if kind == "tool":
        c.tool_call(a.get("traceloop.entity.name"), inp if inp is not None else a.get("traceloop.entity.input"))
        c.message("output", "tool", out if out is not None else a.get("traceloop.entity.output"))
    else:
        c.message("input", "user", inp if inp is not None else a.get("traceloop.entity.input"))
        c.message("output", "assistant", out if out is not None else a.get("traceloop.entity.output"))
    return True
