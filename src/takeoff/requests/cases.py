"""How a captured request becomes an eval case (pure): the case's input from the request's input messages, its
reference output from the output messages. The content is taken as stored, so redaction and cut markers stay."""
from __future__ import annotations

import json
from typing import Any


def _texts(messages: Any) -> list[str]:
    if not isinstance(messages, list):
        return []
    return [m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)
            and m["content"].strip()]


def _object(text: str) -> dict[str, Any] | None:
    """A JSON object written as text (a structured input such as an invoice's fields), else None."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def case_input(content: dict[str, Any]) -> str | dict[str, Any] | None:
    """The case input: one input message whose text is a JSON object → that object (what a structured target takes);
    one message → its text; several → {"messages": [{role, content}, ...]}; none → None (the request is skipped).
    The system instructions are the release's prompt, not the task, so they are left out."""
    messages = [m for m in content.get("input") or [] if isinstance(m, dict) and isinstance(m.get("content"), str)
                and m["content"].strip()]
    if not messages:
        return None
    if len(messages) == 1:
        text = messages[0]["content"]
        return _object(text) or text
    return {"messages": [{"role": str(m.get("role") or "user"), "content": m["content"]} for m in messages]}


def case_output(content: dict[str, Any]) -> str | dict[str, Any] | None:
    """The request's output as a reference: the output messages' text (joined by newlines), a JSON object when that
    text is one; None when the request stored no output."""
    texts = _texts(content.get("output"))
    if not texts:
        return None
    text = "\n".join(texts)
    return _object(text) or text
