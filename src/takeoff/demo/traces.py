"""The demo's OpenTelemetry-instrumented app: sales-call-summary's agent calls as OTLP traces (an agent span, its
CRM retrieval, its model call and the HTTP call under it), so the explorer shows span trees as an instrumented app
sends them. Pure: builds ExportTraceServiceRequest bytes; the seeding posts them to `POST /v1/traces`."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from takeoff.sdk.ids import span_request_id

AGENT = "call-summarizer"


@dataclass(frozen=True)
class Call:
    """One summarised call: when it ended (Unix seconds), by whom, under which release, and how it went."""

    end_s: float
    unit: str
    release: str | None
    model: str
    helpfulness: float
    input_tokens: int
    output_tokens: int
    call_minutes: int
    error: bool = False


def _attrs(span: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        kv = span.attributes.add()
        kv.key = key
        if isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.string_value = str(value)


def _span(rs: ResourceSpans, trace_id: bytes, span_id: bytes, parent: bytes, name: str, kind: int,
          start_ns: int, end_ns: int, attrs: dict[str, Any]) -> Span:
    span = rs.scope_spans[0].spans.add()
    span.trace_id, span.span_id, span.parent_span_id, span.name, span.kind = trace_id, span_id, parent, name, kind
    span.start_time_unix_nano, span.end_time_unix_nano = start_ns, end_ns
    _attrs(span, attrs)
    return span


def export(calls: list[Call], service: str, rng: random.Random) -> tuple[bytes, list[str]]:
    """One OTLP export of the calls' traces, and the request id each model call is stored under (its end time, trace
    id and span id: takeoff.sdk.ids.span_request_id)."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    _attrs(rs.resource, {"service.name": service, "service.version": "2.3.0", "deployment.environment": "production"})
    scope = rs.scope_spans.add()
    scope.scope.name, scope.scope.version = "opentelemetry.instrumentation.openai_v2", "2.4b0"
    ids = []
    for c in calls:
        trace_id, root_id, crm_id, chat_id, http_id = (rng.getrandbits(128).to_bytes(16, "big"),
                                                       *(rng.getrandbits(64).to_bytes(8, "big") for _ in range(4)))
        end = int(c.end_s * 1e9)
        chat_ms, crm_ms = rng.randint(300, 1400), rng.randint(30, 160)
        start = end - (crm_ms + chat_ms + 20) * 1_000_000
        _span(rs, trace_id, root_id, b"", f"invoke_agent {AGENT}", Span.SPAN_KIND_INTERNAL, start, end,
              {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT})
        crm_end = start + (crm_ms + 5) * 1_000_000
        _span(rs, trace_id, crm_id, root_id, "retrieval crm-notes", Span.SPAN_KIND_CLIENT, start + 5_000_000, crm_end,
              {"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "crm-notes"})
        chat_start = crm_end + 10_000_000
        chat_end = end - 5_000_000
        chat = _span(rs, trace_id, chat_id, root_id, f"chat {c.model}", Span.SPAN_KIND_CLIENT, chat_start,
                     chat_end, {
                         "gen_ai.operation.name": "chat", "gen_ai.provider.name": "demo",
                         "gen_ai.request.model": c.model, "gen_ai.response.model": c.model,
                         "gen_ai.usage.input_tokens": c.input_tokens, "gen_ai.usage.output_tokens": c.output_tokens,
                         "gen_ai.response.finish_reasons": "stop" if not c.error else "error",
                         "takeoff.unit_id": c.unit, "takeoff.feature.call_minutes": c.call_minutes,
                         **({"takeoff.release": c.release} if c.release else {}),
                         **({"takeoff.outcome": "success"} if not c.error else {})})
        if c.error:
            chat.status.code = Status.STATUS_CODE_ERROR
            _attrs(chat, {"error.type": "timeout"})
        else:
            ev = chat.events.add()
            ev.name, ev.time_unix_nano = "gen_ai.evaluation.result", end - 5_000_000
            _attrs(ev, {"gen_ai.evaluation.name": "helpfulness", "gen_ai.evaluation.score.value": c.helpfulness})
        http = _span(rs, trace_id, http_id, chat_id, "POST", Span.SPAN_KIND_CLIENT, chat_start + 2_000_000,
                     end - 8_000_000, {"http.request.method": "POST", "server.address": "models.internal",
                                       "url.path": "/v1/chat/completions",
                                       "http.response.status_code": 504 if c.error else 200})
        if c.error:  # a client span's 5xx is an error (HTTP semantic conventions)
            http.status.code = Status.STATUS_CODE_ERROR
        ids.append(span_request_id(trace_id.hex(), chat_id.hex(), chat_end))
    return req.SerializeToString(), ids
