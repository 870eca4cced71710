"""Content of OpenInference (Arize) spans: `llm.input_messages.N.message.*` and `llm.output_messages.N.message.*`
(role, content, contents.M.message_content.text, tool_calls.M.tool_call.function.name/arguments),
`llm.prompts.N.prompt.text` / `llm.choices.N.completion.text`, `embedding.embeddings.N.embedding.text`, a
retriever's or reranker's document ids, a tool span's call, and `input.value` / `output.value` where a span has no
messages (a chain, an agent, a tool). Its kinds, model, provider and token counts are read in otlp_trace."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from takeoff.telemetry.otlp_map_traceloop import indexed
from takeoff.telemetry.otlp_values import Content, as_text, loads

_MESSAGES = re.compile(r"^llm\.(input_messages|output_messages)\.(\d+)\.message\.(.+)$")
_PART = re.compile(r"^contents\.(\d+)\.message_content\.(text|type|image\.image\.url)$")
_CALL = re.compile(r"^tool_calls\.(\d+)\.tool_call\.(function\.name|function\.arguments|id)$")
_TEXTS = re.compile(r"^(llm\.prompts|llm\.choices|embedding\.embeddings)\.(\d+)\.(.+)$")
_DOCS = re.compile(r"^(retrieval\.documents|reranker\.output_documents)\.(\d+)\.document\.(id)$")
# OpenInference's provider and system names as the GenAI conventions' gen_ai.provider.name (the catalog's)
PROVIDERS = {"azure": "azure.ai.openai", "aws": "aws.bedrock", "vertexai": "gcp.vertex_ai", "google": "gcp.gen_ai",
             "mistralai": "mistral_ai", "xai": "x_ai"}


def provider(a: Mapping[str, Any]) -> str | None:
    """llm.provider, else llm.system, in the conventions' spelling."""
    for k in ("llm.provider", "llm.system"):
        v = a.get(k)
        if isinstance(v, str) and v:
            return PROVIDERS.get(v.lower(), v.lower())[:100]
    return None


def model(a: Mapping[str, Any]) -> str | None:
    """llm.model_name (embedding.model_name), else the model the call asked for (a failed call has no other)."""
    for k in ("llm.model_name", "embedding.model_name"):
        v = a.get(k)
        if v not in (None, ""):
            return str(v)[:200]
    params = loads(a.get("llm.invocation_parameters"))
    if isinstance(params, dict) and params.get("model") not in (None, ""):
        return str(params["model"])[:200]
    return None


def _message(c: Content, where: str, fields: Mapping[str, Any]) -> None:
    parts: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[str, Any]] = {}
    for k, v in fields.items():
        if (m := _PART.match(k)) is not None:
            parts.setdefault(int(m.group(1)), {})[m.group(2)] = v
        elif (m := _CALL.match(k)) is not None:
            calls.setdefault(int(m.group(1)), {})[m.group(2)] = v
    texts = [] if fields.get("content") in (None, "") else [as_text(fields["content"]) or ""]
    for _, p in sorted(parts.items()):
        if p.get("text") not in (None, ""):
            texts.append(str(p["text"]))
        elif p.get("type") not in (None, "text"):
            texts.append(f"[{p['type']}]")
    for _, call in sorted(calls.items()):
        if where == "output":
            c.tool_call(call.get("function.name"), call.get("function.arguments"))
        else:
            texts.append(f"[tool call {call.get('function.name')}: {call.get('function.arguments') or ''}]")
    c.message(where, fields.get("role"), "\n".join(texts) if texts else None)


def content_from_attributes(c: Content, a: Mapping[str, Any]) -> bool:
    """Everything OpenInference says of a span's content; True when any was there."""
    kind = str(a.get("openinference.span.kind", "")).upper()
    groups = indexed(a, _MESSAGES)
    for group, where in (("input_messages", "input"), ("output_messages", "output")):
        for _, fields in sorted(groups.get(group, {}).items()):
            _message(c, where, fields)
    texts = indexed(a, _TEXTS)
    for group, key, where in (("llm.prompts", "prompt.text", "input"), ("llm.choices", "completion.text", "output"),
                              ("embedding.embeddings", "embedding.text", "input")):
        for _, fields in sorted(texts.get(group, {}).items()):
            c.message(where, None, fields.get(key))
    for group in indexed(a, _DOCS).values():
        for _, fields in sorted(group.items()):
            c.document(fields.get("id"))
    if kind == "TOOL":
        name = a.get("tool.name") or a.get("tool_call.function.name")
        args = a.get("tool_call.function.arguments", a.get("input.value"))
        c.tool_call(name, args)
        c.message("output", "tool", a.get("output.value"))
    elif not (groups or texts):  # no messages: the span's raw input and output (a chain's, an agent's)
        c.message("input", "user", a.get("input.value"))
        if kind not in ("RETRIEVER", "RERANKER"):
            c.message("output", "assistant", a.get("output.value"))
    return not c.empty()
