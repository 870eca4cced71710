"""OTLP/HTTP traces: parse ExportTraceServiceRequest (protobuf or JSON) and map GenAI spans onto usage events.

Mapping (OpenTelemetry GenAI semantic conventions, see shared/research/otel-genai.md):
- use case: span or resource attribute `takeoff.use_case`, else resource `service.name`; release: `takeoff.release`
- provider: gen_ai.provider.name, else the deprecated gen_ai.system; model: gen_ai.response.model, else request
- tokens: gen_ai.usage.input_tokens / output_tokens (deprecated prompt_tokens / completion_tokens as fallback),
  cache_read.input_tokens, cache_creation.input_tokens, reasoning.output_tokens
- status: span status ERROR → error (category from error.type, else "span_error"); `takeoff.fallback_reason` → fallback
- latency: end - start; ts: the span's end; scores: `gen_ai.evaluation.result` span events
- unit: takeoff.unit_id, else enduser.id, else user.id; outcome: takeoff.outcome; features: takeoff.feature.<name>
Which spans: a GenAI span (gen_ai.operation.name, gen_ai.provider.name / gen_ai.system, a model or a
gen_ai.usage.* attribute) or one that names `takeoff.use_case` / `takeoff.release` itself. Any other span (HTTP,
database, health checks, even of a resource tagged with takeoff.use_case) is not a usage event: skipped.
Every mapped event then passes `schemas.EventIn`, as a JSON batch's events do (`check_events`). An attribute the
mapper cannot use never drops the span: a value EventIn refuses (NaN, ±Infinity, a negative or absurd count) is
left out of its field, and the GenAI attributes kept in `attributes` (gen_ai.operation.name, finish reasons, …)
carry non-finite doubles as the strings "NaN", "Infinity", "-Infinity". Only a span with no usable time (or one
outside the accepted lateness) is refused, and counted in the response's partial_success.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from pydantic import ValidationError

from takeoff.telemetry.ingest import EVENT_TEXT_FIELDS, MAX_RELEASE_ID, normalize_batch, nul_errors, timing_errors
from takeoff.telemetry.schemas import EVENT_IN

OUTCOMES = {"success", "failure", "escalated", "overridden"}
KEPT = ("gen_ai.operation.name", "gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.conversation.id",
        "gen_ai.request.temperature", "gen_ai.request.max_tokens")
# A span is a usage event when it has one of these (or a gen_ai.usage.* count): GenAI semantic conventions
# (gen_ai.system is the deprecated provider name) and the app's own takeoff tags on the span itself.
USAGE_MARKERS = frozenset(("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
                           "gen_ai.response.model", "takeoff.use_case", "takeoff.release"))
REQUIRED = ("id", "use_case", "ts")  # EventIn's required fields: a span whose value of one is refused is not stored
NESTED = ("tokens", "scores", "features", "attributes")  # fields whose entries are left out one by one
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # protobuf JSON's (and JavaScript's) spelling
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


def _json_safe(v: Any) -> Any:
    """A decoded attribute value with NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity" (not JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return _NONFINITE[str(v)]
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


def _to_proto_json(obj: Any) -> None:
    """OTLP/JSON as protobuf's JSON mapping reads it: trace and span ids from hex to base64, and a NaN, Infinity or
    out-of-range number (1e400, which json.loads makes inf) quoted as protobuf spells it, so one such double is an
    attribute value the mapper leaves out, not a 400 for the whole export."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        if k in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and isinstance(v, str):
            try:
                obj[k] = base64.b64encode(bytes.fromhex(v)).decode()
            except ValueError:
                raise OtlpError(f"{k} must be hex, got {v[:40]!r}") from None
        elif isinstance(v, float) and not math.isfinite(v):
            obj[k] = _NONFINITE[str(v)]
        else:
            _to_proto_json(v)


def parse(body: bytes, content_type: str | None) -> ExportTraceServiceRequest:
    """The export request from a protobuf or JSON body; OtlpError for anything malformed or truncated."""
    ctype = (content_type or "application/x-protobuf").split(";")[0].strip().lower()
    req = ExportTraceServiceRequest()
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise OtlpError("body is not valid JSON (or nested too deeply)") from None
        if not isinstance(data, dict):
            raise OtlpError("OTLP/JSON body must be an object with resourceSpans")
        try:
            _to_proto_json(data)
            json_format.ParseDict(data, req, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
            raise OtlpError(f"invalid OTLP/JSON: {str(exc)[:200]}") from None
        return req
    if ctype in ("application/x-protobuf", "application/protobuf", "application/octet-stream"):
        try:
            req.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise OtlpError(f"invalid OTLP protobuf (malformed or truncated): {str(exc)[:200]}") from None
        return req
    raise OtlpError(f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json")


def _count(a: Mapping[str, Any], *keys: str) -> int | None:
    """The first of `keys` holding a token count (a non-negative int, float or digit string); EventIn bounds it."""
    for k in keys:
        v = a.get(k)
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 20:
            return int(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
            return int(v)
    return None


def _number(v: Any) -> float | int | None:
    """An int or float attribute value as it is (never a bool; NaN and ±Infinity too: EventIn refuses those)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _str(a: Mapping[str, Any], *keys: str, limit: int = 200) -> str | None:
    for k in keys:
        v = a.get(k)
        if v is not None and v != "":
            return str(v)[:limit]
    return None


def is_usage_span(a: Mapping[str, Any]) -> bool:
    """A GenAI span (operation, provider, model or usage) or one tagged takeoff.use_case / takeoff.release itself."""
    return any(k in USAGE_MARKERS or k.startswith("gen_ai.usage.") for k in a)


def span_events(req: ExportTraceServiceRequest) -> tuple[list[dict[str, Any]], int]:
    """Usage events (EventIn's shape, not yet checked: see check_events) of the export's usage spans, and how many
    spans were not usage events."""
    out: list[dict[str, Any]] = []
    skipped = 0
    for rs in req.resource_spans:
        res = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                ev = span_to_event(span, attributes(span.attributes), res)
                if ev is None:
                    skipped += 1
                else:
                    out.append(ev)
    return out, skipped


def span_to_event(span: Any, a: Mapping[str, Any], res: Mapping[str, Any]) -> dict[str, Any] | None:
    """One span as a usage event in EventIn's shape (release as sent), or None when it is not a usage span."""
    if not is_usage_span(a):
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
        "input": _count(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output": _count(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cache_read": _count(a, "gen_ai.usage.cache_read.input_tokens"),
        "cache_write": _count(a, "gen_ai.usage.cache_creation.input_tokens"),
        "reasoning": _count(a, "gen_ai.usage.reasoning.output_tokens"),
    }
    scores: dict[str, Any] = {}
    for e in span.events:
        if e.name == "gen_ai.evaluation.result":
            ea = attributes(e.attributes)
            name, value = ea.get("gen_ai.evaluation.name"), _number(ea.get("gen_ai.evaluation.score.value"))
            if isinstance(name, str) and name and value is not None:
                scores[name[:100]] = value
    features: dict[str, Any] = {}
    for k, v in a.items():
        if k.startswith("takeoff.feature.") and isinstance(v, (int, float, str, bool)):
            features[k[len("takeoff.feature."):][:100]] = v if not isinstance(v, str) else v[:200]
    outcome = _str(a, "takeoff.outcome")
    ev = {
        "use_case": use_case, "release": release,
        "unit_id": _str(a, "takeoff.unit_id", "enduser.id", "user.id"), "ts": (end or start) / 1e9,
        "latency_ms": latency, "status": status, "outcome": outcome if outcome in OUTCOMES else None,
        "model": _str(a, "gen_ai.response.model", "gen_ai.request.model"),
        "provider": _str(a, "gen_ai.provider.name", "gen_ai.system", limit=100),
        "tokens": {k: v for k, v in tokens.items() if v}, "cost_usd": _number(a.get("takeoff.cost_usd")),
        "scores": scores, "features": features, "error_category": error_category, "fallback_reason": fallback,
        "attributes": {k: _json_safe(a[k]) for k in KEPT if k in a},
    }
    return {"id": _event_id(span, ev), **ev}


def _event_id(span: Any, ev: Mapping[str, Any]) -> str:
    """The trace id and span id in hex (a resend is stored once); a digest when they are missing or oversized."""
    raw = span.trace_id.hex() + span.span_id.hex() if span.span_id else ""
    if raw and len(raw) <= 128:
        return raw
    return hashlib.sha256((raw or repr(sorted(ev.items()))).encode()).hexdigest()[:48]


def usable_event(ev: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The event as EventIn validates it, each value it refuses left out of `ev` (one score, feature, attribute or
    token count, or a whole optional field); (None, why) when it refuses a required field."""
    for _ in range(2):  # leaving out what it refused makes the second pass valid, unless a required field failed
        try:
            return EVENT_IN.validate_python(ev), ""
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        for err in errors:
            loc = err["loc"]
            if loc[0] in REQUIRED:
                return None, f"{loc[0]}: {err['msg']}"
            if loc[0] in NESTED and len(loc) > 1 and isinstance(ev.get(loc[0]), dict):
                ev[loc[0]].pop(loc[1], None)
            else:
                ev.pop(loc[0], None)
    return None, "not a valid event"


def check_events(events: Sequence[dict[str, Any]], now_s: float, late_s: int
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """The mapped events to store, checked by EventIn like a JSON batch's and normalised like them (a release id
    too long once qualified is left out), and why each of the other spans was refused (its time, mostly)."""
    valid: list[dict[str, Any]] = []
    refused: list[str] = []
    for ev in events:
        checked, why = usable_event(ev)
        if checked is None:
            refused.append(f"span {ev['id']}: {why}")
        else:
            valid.append(checked)
    for ev in normalize_batch(valid):
        if len(ev["release"]) > MAX_RELEASE_ID:
            ev["release"] = ""
    out: dict[int, str] = {}  # index -> why the span is refused
    for d in nul_errors(valid, "events", EVENT_TEXT_FIELDS):  # a NUL PostgreSQL cannot store: the value is left out
        i, name = int(d["field"].split(".")[1]), d["field"].split(".")[2]
        if name in ("id", "use_case"):
            out[i] = f"{name} {d['message']}"  # without them there is no event
        else:
            valid[i][name] = "" if name == "release" else None
    out.update({int(d["field"].split(".")[1]): d["message"] for d in timing_errors(valid, now_s, late_s)})
    refused += [f"span {valid[i]['id']}: {msg}" for i, msg in out.items()]
    return [ev for i, ev in enumerate(valid) if i not in out], refused


def response(content_type: str | None, refused: Sequence[str] = ()) -> tuple[bytes, str]:
    """The ExportTraceServiceResponse in the request's encoding: partial success counting the refused spans, with the
    first reasons (spans skipped as not usage events are accepted, not refused)."""
    resp = ExportTraceServiceResponse()
    if refused:
        resp.partial_success.rejected_spans = len(refused)
        resp.partial_success.error_message = (f"{len(refused)} span(s) refused: " + "; ".join(refused[:3])
                                              + ("; …" if len(refused) > 3 else ""))
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        return json.dumps(json_format.MessageToDict(resp)).encode(), "application/json"
    return resp.SerializeToString(), "application/x-protobuf"
