"""Pure helpers of the OTLP mapping: attribute values as Python values, counts, bounded text and the content
builder every instrumentation's mapper fills (telemetry.schemas.ContentIn's shape, within its bounds)."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from takeoff.telemetry.schemas import MAX_CONTENT_CHARS, MAX_DOCUMENTS, MAX_MESSAGES

_JSON = msgspec.json.Decoder()
CUT = "…[cut]"  # ends a content string cut at the edge's bound (the capture policy caps what is stored)
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # protobuf JSON's (and JavaScript's) spelling


def any_value(v: AnyValue) -> Any:
    """An OTLP AnyValue as a Python value (bytes as hex, arrays as lists, key-value lists as dicts)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP key-values as a plain dict (a scalar read in place: this runs for every attribute of every span)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        out[kv.key] = getattr(v, kind) if kind in _SCALARS else any_value(v)
    return out


def json_safe(v: Any) -> Any:
    """A decoded attribute value with NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity" (not JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return _NONFINITE[str(v)]
    if isinstance(v, list):
        return [json_safe(x) for x in v]
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    return v


def count_value(v: Any) -> int | None:
    """A token count (a non-negative int, float or digit string) as an int; None for anything else."""
    if type(v) is int:
        return v if v >= 0 else None
    if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 20:
        return int(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return int(v)
    return None


def count(a: Mapping[str, Any], *keys: str) -> int | None:
    """The first of `keys` holding a token count (a non-negative int, float or digit string); EventIn bounds it."""
    for k in keys:
        n = count_value(a.get(k))
        if n is not None:
            return n
    return None


def number(v: Any) -> float | int | None:
    """An int or float attribute value as it is (never a bool; NaN and ±Infinity too: EventIn refuses those)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def text(a: Mapping[str, Any], *keys: str, limit: int = 200) -> str | None:
    """The first non-empty value of `keys` as a string of at most `limit` characters."""
    for k in keys:
        v = a.get(k)
        if v is not None and v != "":
            return str(v)[:limit]
    return None


def clip(s: str, limit: int = MAX_CONTENT_CHARS) -> str:
    """`s` within `limit` characters, ending with CUT when it was longer."""
    return s if len(s) <= limit else s[: limit - len(CUT)] + CUT


def loads(v: Any) -> Any:
    """A JSON-encoded attribute (the conventions allow a JSON string or a structured value) as a Python value;
    None for a string that is not JSON."""
    if isinstance(v, str):
        try:  # msgspec first (4x faster); it refuses NaN, 1e400 and lone surrogates, which json reads: then json
            return _JSON.decode(v)
        except (msgspec.DecodeError, RecursionError):
            pass
        try:
            return json.loads(v)
        except (ValueError, RecursionError):
            return None
    return v


def as_text(v: Any) -> str | None:
    """Message content as text: strings as they are, anything structured as compact JSON, None for nothing."""
    if v is None or v == "" or v == [] or v == {}:
        return None
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)
    except (ValueError, RecursionError):
        return str(v)


@dataclass
class Content:
    """What a span says (system instructions, input and output messages, tool calls, document ids), collected by
    the mappers and emitted in ContentIn's shape and bounds."""

    system: list[str] = field(default_factory=list)
    input: list[dict[str, str]] = field(default_factory=list)
    output: list[dict[str, str]] = field(default_factory=list)
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)

    def message(self, where: str, role: Any, content: Any) -> None:
        """One input or output message; a system message goes to `system`; empty content is left out."""
        body = as_text(content)
        if body is None:
            return
        role = str(role or ("user" if where == "input" else "assistant")).strip()[:32] or "user"
        if role == "system" or role == "developer":
            self.system.append(body)
        else:
            (self.input if where == "input" else self.output).append({"role": role, "content": body})

    def tool_call(self, name: Any, arguments: Any) -> None:
        """One tool call the model asked for (arguments as the JSON text it wrote)."""
        if name is None or str(name).strip() == "":
            return
        call = {"name": str(name)[:200]}
        args = as_text(arguments)
        if args is not None:
            call["arguments"] = args
        self.tool_calls.append(call)

    def document(self, doc_id: Any) -> None:
        """One retrieved document's id."""
        if doc_id is not None and str(doc_id) != "" and len(str(doc_id)) <= 200:
            self.documents.append(str(doc_id))

    def empty(self) -> bool:
        """Nothing was said."""
        return not (self.system or self.input or self.output or self.tool_calls or self.documents)

    def as_dict(self) -> dict[str, Any] | None:
        """ContentIn: only the parts present, each string within MAX_CONTENT_CHARS, each list within its bound."""
        if self.empty():
            return None
        out: dict[str, Any] = {}
        if self.system:
            out["system"] = clip("\n\n".join(self.system))
        for key in ("input", "output"):
            msgs = getattr(self, key)
            if msgs:
                out[key] = [{"role": m["role"], "content": clip(m["content"])} for m in msgs[-MAX_MESSAGES:]]
        if self.tool_calls:
            out["tool_calls"] = [{**c, "arguments": clip(c["arguments"])} if "arguments" in c else c
                                 for c in self.tool_calls[:MAX_MESSAGES]]
        if self.documents:
            out["documents"] = list(dict.fromkeys(self.documents))[:MAX_DOCUMENTS]
        return out
