"""A usage event's fields read from one span's attributes: token counts by kind (the GenAI conventions, their
deprecated and Traceloop's names, OpenInference's) and the error category (one failure, one category, whichever
instrumentation reported it)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from takeoff.telemetry.otlp_values import attributes, count, count_value, text

_CLASS_REPR = re.compile(r"^<class '([^']+)'>$")
_QUALIFIED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


def tokens(a: Mapping[str, Any]) -> dict[str, int | None]:
    """Token counts by kind: the GenAI conventions, their deprecated and Traceloop's names, and OpenInference's."""
    return {
        "input": count(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
        "output": count(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                        "llm.token_count.completion"),
        "cache_read": count(a, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                            "llm.token_count.prompt_details.cache_read"),
        "cache_write": count(a, "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                             "llm.token_count.prompt_details.cache_write"),
        "reasoning": count(a, "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                           "llm.token_count.completion_details.reasoning"),
    }


_TOKEN_KEYS = (
    ("input", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")),
    ("output", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")),
    ("cache_read", ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                    "llm.token_count.prompt_details.cache_read")),
    ("cache_write", ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                     "llm.token_count.prompt_details.cache_write")),
    ("reasoning", ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                   "llm.token_count.completion_details.reasoning")),
)


def tokens_sent(a: Mapping[str, Any]) -> dict[str, int]:
    """`tokens(a)` without its zero and missing counts (the event's field), in one pass over the names."""
    out: dict[str, int] = {}
    get = a.get
    for kind, keys in _TOKEN_KEYS:
        for k in keys:
            v = get(k)
            if v is not None:
                n = count_value(v)
                if n is not None:
                    if n:
                        out[kind] = n
                    break
    return out


def error_category(a: Mapping[str, Any], events: Any) -> str:
    """error.type, else the exception event's type; a class (`<class 'openai.RateLimitError'>`, a dotted name) by
    its own name, so one failure has one category whichever instrumentation reported it."""
    raw = text(a, "error.type", limit=300)
    if raw is None:
        for e in events:
            if e.name == "exception":
                raw = text(attributes(e.attributes), "exception.type", limit=300)
                break
    if raw is None:
        return "span_error"
    m = _CLASS_REPR.match(raw)
    name = m.group(1) if m else raw
    return (name.rsplit(".", 1)[1] if _QUALIFIED.match(name) else name)[:100]
