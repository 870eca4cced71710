"""One span of a request's tree in SpanIn's shape (telemetry.schemas): ids, name, kind, status, start, duration and
only the non-content attributes (`SPAN_KEYS`: operation, kind, model, provider, token counts, tool and agent names,
error type, HTTP route and status; never messages, prompts, tool arguments or statements), flat and bounded."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from takeoff.telemetry.otlp_values import json_safe
from takeoff.telemetry.schemas import MAX_LATENCY_MS, MAX_SPAN_ATTRIBUTES

# Attributes a span of the tree keeps (never content: messages, prompts, tool arguments, statements are left out)
SPAN_KEYS = frozenset((
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.response.id", "gen_ai.response.finish_reasons", "gen_ai.conversation.id", "gen_ai.tool.name",
    "gen_ai.tool.type", "gen_ai.tool.call.id", "gen_ai.agent.name", "gen_ai.agent.id", "gen_ai.data_source.id",
    "openinference.span.kind", "llm.model_name", "llm.provider", "llm.system", "llm.finish_reason",
    "embedding.model_name", "tool.name", "session.id", "llm.request.type", "traceloop.span.kind",
    "traceloop.entity.name", "error.type", "http.request.method", "http.route", "http.response.status_code",
    "server.address", "db.system", "db.system.name", "db.operation.name", "rpc.service", "rpc.method"))
SPAN_KEY_PREFIXES = ("gen_ai.usage.", "llm.token_count.")
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _span_attr(v: Any) -> Any:
    """A kept attribute as SpanIn takes it: flat (a list as its JSON), strings within 4096 characters."""
    if type(v) is int or type(v) is bool:
        return v
    if type(v) is str:
        return v if len(v) <= 4096 else v[:4096]
    v = json_safe(v)
    if isinstance(v, (list, dict)):
        v = json.dumps(v, separators=(",", ":"))
    return v[:4096] if isinstance(v, str) else v


def tree_span(span: Any, a: Mapping[str, Any], tid: str, sid: str, pid: str | None) -> dict[str, Any] | None:
    """One span (its decoded attributes `a`, hex ids) in SpanIn's shape; None without ids or a start time."""
    if len(tid) != 32 or len(sid) != 16:
        return None
    end = int(span.end_time_unix_nano)
    start = int(span.start_time_unix_nano) or end
    if start <= 0:
        return None
    duration = (end - start) / 1e6 if end >= start else None
    code = span.status.code
    kept = {k: v if type(v) is str and len(v) <= 4096 else _span_attr(v) for k, v in a.items()
            if k in SPAN_KEYS or (k.startswith(SPAN_KEY_PREFIXES) and len(k) <= 128)}
    if len(kept) > MAX_SPAN_ATTRIBUTES:
        kept = dict(list(kept.items())[:MAX_SPAN_ATTRIBUTES])
    return {"trace_id": tid, "span_id": sid, "parent_span_id": pid, "name": (span.name or "(unnamed)")[:200],
            "kind": KINDS.get(span.kind), "status": "error" if code == 2 else "ok" if code == 1 else "unset",
            "start": start / 1e9, "duration_ms": duration if duration is not None and duration <= MAX_LATENCY_MS
            else None, "attributes": kept}
