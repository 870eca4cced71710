"""Content of OpenTelemetry GenAI spans (semantic conventions): the `gen_ai.system_instructions`,
`gen_ai.input.messages` and `gen_ai.output.messages` attributes (JSON strings or structured values), the older
per-message span events (`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`,
`gen_ai.tool.message`, `gen_ai.choice`, and the first drafts' `gen_ai.content.prompt` / `gen_ai.content.completion`),
the `gen_ai.client.inference.operation.details` event, and a tool span's `gen_ai.tool.*` call."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from takeoff.telemetry.otlp_values import Content, as_text, attributes, loads


def _parts_text(c: Content, where: str, parts: list[Any]) -> str | None:
    """The text of a message's parts; a tool call asked for in an answer goes to the tool calls."""
    texts: list[str] = []
    for p in parts:
        if isinstance(p, str):
            texts.append(p)
            continue
        if not isinstance(p, dict):
            continue
        kind = p.get("type")
        if kind == "text" or (kind is None and "content" in p):
            body = as_text(p.get("content"))
        elif kind == "tool_call":
            if where == "output":
                c.tool_call(p.get("name"), p.get("arguments"))
                continue
            body = f"[tool call {p.get('name')}: {as_text(p.get('arguments')) or ''}]"
        elif kind == "tool_call_response":
            body = as_text(p.get("response", p.get("result")))
        elif kind == "reasoning":
            continue  # the model's thinking is not part of its answer
        else:
            body = f"[{kind or 'part'} {p.get('mime_type') or p.get('modality') or ''}]".replace(" ]", "]")
        if body:
            texts.append(body)
    return "\n".join(texts) if texts else None


def _openai_tool_calls(c: Content, where: str, calls: Any) -> str | None:
    """OpenAI-shaped tool calls ({function: {name, arguments}} or {name, arguments}): an answer's go to the tool
    calls, a prompt's earlier ones are kept as text."""
    calls = loads(calls)
    if not isinstance(calls, list):
        return None
    texts = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        if where == "output":
            c.tool_call(fn.get("name"), fn.get("arguments"))
        else:
            texts.append(f"[tool call {fn.get('name')}: {as_text(fn.get('arguments')) or ''}]")
    return "\n".join(texts) if texts else None


def add_message(c: Content, where: str, m: Any, role: Any = None) -> None:
    """One message in the conventions' shape ({role, parts}) or the older one ({role, content, tool_calls})."""
    if isinstance(m, str):
        c.message(where, role, m)
        return
    if not isinstance(m, dict):
        return
    role = m.get("role") or role
    parts = m.get("parts")
    content = m.get("content")
    if isinstance(parts, list):
        body = _parts_text(c, where, parts)
    elif isinstance(content, list):
        body = _parts_text(c, where, [{"type": "text", "content": p.get("text")} if isinstance(p, dict)
                                      and p.get("type") == "text" else p for p in content])
    else:
        body = as_text(content)
    calls = _openai_tool_calls(c, where, m.get("tool_calls"))
    if calls:
        body = f"{body}\n{calls}" if body else calls
    c.message(where, role, body)


def add_messages(c: Content, where: str, value: Any) -> None:
    """A list of messages (a JSON string or a structured value)."""
    msgs = loads(value)
    for m in msgs if isinstance(msgs, list) else [msgs] if isinstance(msgs, dict) else []:
        add_message(c, where, m)


def add_system(c: Content, value: Any) -> None:
    """`gen_ai.system_instructions`: a list of parts, or a plain string."""
    parsed = loads(value)
    if parsed is None and isinstance(value, str):
        parsed = value
    if isinstance(parsed, str):
        c.message("input", "system", parsed)
    elif isinstance(parsed, list):
        c.message("input", "system", _parts_text(c, "input", parsed))
    elif isinstance(parsed, dict):
        c.message("input", "system", _parts_text(c, "input", [parsed]))


def content_from_attributes(c: Content, a: Mapping[str, Any]) -> bool:
    """The conventions' content attributes (and a tool span's call); True when any was there."""
    found = False
    if "gen_ai.system_instructions" in a:
        add_system(c, a["gen_ai.system_instructions"])
        found = True
    if "gen_ai.input.messages" in a:
        add_messages(c, "input", a["gen_ai.input.messages"])
        found = True
    if "gen_ai.output.messages" in a:
        add_messages(c, "output", a["gen_ai.output.messages"])
        found = True
    if a.get("gen_ai.operation.name") == "execute_tool" and a.get("gen_ai.tool.name"):
        c.tool_call(a["gen_ai.tool.name"], a.get("gen_ai.tool.call.arguments"))
        c.message("output", "tool", a.get("gen_ai.tool.call.result"))
        found = True
    docs = loads(a.get("gen_ai.retrieval.documents"))
    if isinstance(docs, list):
        for d in docs:
            c.document(d.get("id") if isinstance(d, dict) else None)
        found = True
    return found


_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def content_from_events(c: Content, events: Any) -> None:
    """The per-message span events of earlier versions of the conventions, in their order."""
    for e in events:
        name = e.name
        if name not in _EVENT_ROLES and name not in ("gen_ai.choice", "gen_ai.content.prompt",
                                                      "gen_ai.content.completion",
                                                      "gen_ai.client.inference.operation.details"):
            continue
        ea = attributes(e.attributes)
        if name in _EVENT_ROLES:
            add_message(c, "input", {"role": ea.get("role") or _EVENT_ROLES[name], "content": ea.get("content"),
                                     "tool_calls": ea.get("tool_calls")})
        elif name == "gen_ai.choice":
            msg = loads(ea.get("message"))
            add_message(c, "output", msg if isinstance(msg, dict) else {"content": ea.get("message")},
                        role="assistant")
            if "tool_calls" in ea:
                _openai_tool_calls(c, "output", ea["tool_calls"])
        elif name == "gen_ai.content.prompt":
            add_messages(c, "input", ea.get("gen_ai.prompt"))
        elif name == "gen_ai.content.completion":
            add_messages(c, "output", ea.get("gen_ai.completion"))
        else:
            content_from_attributes(c, ea)
