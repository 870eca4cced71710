"""OTLP/HTTP traces: parse ExportTraceServiceRequest (protobuf or JSON) and map GenAI spans onto usage events.

Mapping (OpenTelemetry GenAI semantic conventions, see shared/research/otel-genai.md):
- use case: span or resource attribute `takeoff.use_case`, else resource `service.name`; release: `takeoff.release`
- provider: gen_ai.provider.name, else the deprecated gen_ai.system; model: gen_ai.response.model, else request
- tokens: gen_ai.usage.input_tokens / output_tokens (deprecated prompt_tokens / completion_tokens as fallback),
  cache_read.input_tokens, cache_creation.input_tokens, reasoning.output_tokens
- status: span status ERROR → error (category from error.type, else "span_error"); `takeoff.fallback_reason` → fallback
- latency: end - start; ts: the span's end; scores: `gen_ai.evaluation.result` span events
- unit: takeoff.unit_id, else enduser.id, else user.id; outcome: takeoff.outcome; features: takeoff.feature.<name>
Unknown attributes are ignored (a few GenAI ones are kept in `attributes`); they never drop a span. A span that has
no gen_ai.* and no takeoff.* attribute (for example an HTTP span in the same trace) is not a usage event: skipped.
"""
from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from takeoff.telemetry.ingest import release_key

OUTCOMES = {"success", "failure", "escalated", "overridden"}
KEPT = ("gen_ai.operation.name", "gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.conversation.id",
        "gen_ai.request.temperature", "gen_ai.request.max_tokens")
MAX_DECOMPRESSED = 64 * 1024 * 1024


class OtlpError(ValueError):
    """A body that is not a valid OTLP trace export (answered with 400)."""


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP key-values as a plain dict."""
    return {kv.key: _value(kv.value) for kv in kvs}


def decompress(body: bytes, encoding: str | None) -> bytes:
    """The body after Content-Encoding gzip/deflate (bounded, so a zip bomb gets 400, not memory exhaustion)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    try:
        if enc == "gzip":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            d = zlib.decompressobj()
        else:
            raise OtlpError(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")
        out = d.decompress(body, MAX_DECOMPRESSED)
        if d.unconsumed_tail:
            raise OtlpError("decompressed body is too large")
        if not d.eof:
            raise OtlpError("compressed body is truncated")
        return out
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise OtlpError(f"body is not valid {enc}: {exc}") from None


def _hex_ids_to_base64(obj: Any) -> None:
    """OTLP/JSON carries trace and span ids as hex; protobuf's JSON mapping expects base64 for bytes."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and isinstance(v, str):
                try:
                    obj[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    raise OtlpError(f"{k} must be hex, got {v[:40]!r}") from None
            else:
                _hex_ids_to_base64(v)
    elif isinstance(obj, list):
        for x in obj:
            _hex_ids_to_base64(x)


def parse(body: bytes, content_type: str | None) -> ExportTraceServiceRequest:
    """The export request from a protobuf or JSON body; OtlpError for anything malformed or truncated."""
    ctype = (content_type or "application/x-protobuf").split(";")[0].strip().lower()
    req = ExportTraceServiceRequest()
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise OtlpError("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise OtlpError("OTLP/JSON body must be an object with resourceSpans")
        _hex_ids_to_base64(data)
        try:
            json_format.ParseDict(data, req, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            raise OtlpError(f"invalid OTLP/JSON: {str(exc)[:200]}") from None
        return req
    if ctype in ("application/x-protobuf", "application/protobuf", "application/octet-stream"):
        try:
            req.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise OtlpError(f"invalid OTLP protobuf (malformed or truncated): {str(exc)[:200]}") from None
        return req
    raise OtlpError(f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json")


def _int(a: Mapping[str, Any], *keys: str) -> int:
    for k in keys:
        v = a.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
            return int(v)
        if isinstance(v, str) and v.isdigit():
            return int(v)
    return 0


def _str(a: Mapping[str, Any], *keys: str, limit: int = 200) -> str | None:
    for k in keys:
        v = a.get(k)
        if v is not None and v != "":
            return str(v)[:limit]
    return None


def span_events(req: ExportTraceServiceRequest) -> tuple[list[dict[str, Any]], int]:
    """Normalised usage events from every GenAI span of the export, and how many spans were not usage events."""
    out: list[dict[str, Any]] = []
    skipped = 0
    for rs in req.resource_spans:
        res = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                a = attributes(span.attributes)
                ev = span_to_event(span, a, res)
                if ev is None:
                    skipped += 1
                else:
                    out.append(ev)
    return out, skipped


def span_to_event(span: Any, a: Mapping[str, Any], res: Mapping[str, Any]) -> dict[str, Any] | None:
    """One span as a usage event, or None when it carries nothing GenAI or takeoff."""
    if not any(k.startswith(("gen_ai.", "takeoff.")) for k in a) and "takeoff.use_case" not in res:
        return None
    use_case = (_str(a, "takeoff.use_case", limit=64) or _str(res, "takeoff.use_case", limit=64)
                or _str(res, "service.name", limit=64) or "unknown_service")
    release = _str(a, "takeoff.release", limit=100) or _str(res, "takeoff.release", limit=100)
    start, end = int(span.start_time_unix_nano), int(span.end_time_unix_nano)
    if end <= 0:
        end = start
    latency = max(0.0, (end - start) / 1e6) if start > 0 else None
    status = "ok"
    error_category = None
    if span.status.code == 2:  # STATUS_CODE_ERROR
        status = "error"
        error_category = _str(a, "error.type", limit=100) or "span_error"
    fallback = _str(a, "takeoff.fallback_reason")
    if fallback and status == "ok":
        status = "fallback"
    tokens = {
        "input": _int(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output": _int(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cache_read": _int(a, "gen_ai.usage.cache_read.input_tokens"),
        "cache_write": _int(a, "gen_ai.usage.cache_creation.input_tokens"),
        "reasoning": _int(a, "gen_ai.usage.reasoning.output_tokens"),
    }
    scores: dict[str, float] = {}
    for e in span.events:
        if e.name == "gen_ai.evaluation.result":
            ea = attributes(e.attributes)
            name, value = ea.get("gen_ai.evaluation.name"), ea.get("gen_ai.evaluation.score.value")
            if isinstance(name, str) and name and isinstance(value, (int, float)) and not isinstance(value, bool):
                scores[name[:100]] = float(value)
    features: dict[str, Any] = {}
    for k, v in a.items():
        if k.startswith("takeoff.feature.") and isinstance(v, (int, float, str, bool)):
            features[k[len("takeoff.feature."):][:100]] = v if not isinstance(v, str) else v[:200]
    outcome = _str(a, "takeoff.outcome")
    cost = a.get("takeoff.cost_usd")
    kept = {k: a[k] for k in KEPT if k in a}
    ts = (end or start) / 1e9
    return {
        "id": span.trace_id.hex() + span.span_id.hex() if span.span_id else None,
        "use_case": use_case, "release": release_key(use_case, release),
        "unit_id": _str(a, "takeoff.unit_id", "enduser.id", "user.id"), "ts": ts, "latency_ms": latency,
        "status": status, "outcome": outcome if outcome in OUTCOMES else None,
        "model": _str(a, "gen_ai.response.model", "gen_ai.request.model"),
        "provider": _str(a, "gen_ai.provider.name", "gen_ai.system", limit=100),
        "tokens": {k: v for k, v in tokens.items() if v},
        "cost_usd": float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0 else None,
        "scores": scores, "features": features, "error_category": error_category, "fallback_reason": fallback,
        "attributes": kept,
    }


def response(content_type: str | None, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """The ExportTraceServiceResponse in the request's encoding (with partial success when spans were refused)."""
    resp = ExportTraceServiceResponse()
    if rejected:
        resp.partial_success.rejected_spans = rejected
        resp.partial_success.error_message = message
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        return json.dumps(json_format.MessageToDict(resp)).encode(), "application/json"
    return resp.SerializeToString(), "application/x-protobuf"
