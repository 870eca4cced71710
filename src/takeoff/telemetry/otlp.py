"""OTLP traces (HTTP and gRPC): parse an ExportTraceServiceRequest (protobuf or JSON), map its spans onto usage
events (otlp_trace: which span is a usage event, its span tree; otlp_map_*: each instrumentation's content) and
check them as a JSON batch's events are checked.

Mapping (OpenTelemetry GenAI semantic conventions, OpenInference, Traceloop; see shared/research/otel-genai.md and
instrumentations.md):
- use case: span or resource attribute `takeoff.use_case`, else resource `service.name`; release: `takeoff.release`
- provider: gen_ai.provider.name, else the deprecated gen_ai.system, else OpenInference's llm.provider / llm.system
  (azure, aws, vertexai, ... in the conventions' spelling); model: gen_ai.response.model, else the request model,
  else llm.model_name (embedding.model_name), else the model in llm.invocation_parameters (a failed call's)
- tokens: gen_ai.usage.input_tokens / output_tokens (deprecated prompt_tokens / completion_tokens;
  llm.token_count.prompt / completion), cache_read.input_tokens (Traceloop's cache_read_input_tokens,
  llm.token_count.prompt_details.cache_read), cache_creation.input_tokens (cache_creation_input_tokens,
  prompt_details.cache_write), reasoning.output_tokens (Traceloop's reasoning_tokens,
  llm.token_count.completion_details.reasoning)
- status: span status ERROR → error, its category error.type (else the exception event's type; a class by its own
  name: `<class 'openai.RateLimitError'>` → RateLimitError), else "span_error"; `takeoff.fallback_reason` → fallback
- latency: end - start; ts: the span's end; scores: `gen_ai.evaluation.result` span events
- unit: takeoff.unit_id, else enduser.id, else user.id; outcome: takeoff.outcome; features: takeoff.feature.<name>
- trace_id, span_id, parent_span_id, spans (the trace's spans in the export), content (messages, tool calls,
  document ids): see otlp_trace
Every mapped event then passes `schemas.EventIn`, as a JSON batch's events do (`check_events`: msgspec's copy of
it first, pydantic for what msgspec refuses). An attribute the mapper cannot use never drops the span: a value
EventIn refuses (NaN, ±Infinity, a negative or absurd count) is left out of its field (one span of a tree, one
message), and the GenAI attributes kept in `attributes`
(gen_ai.operation.name, finish reasons, …) carry non-finite doubles as the strings "NaN", "Infinity", "-Infinity".
A span with no usable time (or one outside the accepted lateness) is refused, and so is a GenAI-looking span that
cannot be mapped: each is counted in the response's partial_success and in takeoff_otlp_spans_rejected_total.
"""
from __future__ import annotations

import base64
import gzip
import json
import math
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from pydantic import ValidationError

from takeoff.telemetry.ingest import EVENT_TEXT_FIELDS, MAX_RELEASE_ID, NESTED_FIELDS, normalize_batch, nul_errors, timing_errors
from takeoff.telemetry.decode import EVENT_STRUCT
from takeoff.telemetry.otlp_trace import Mapped, Refusal, SeenTraces, span_events
from takeoff.telemetry.schemas import EVENT_IN, nonfinite_paths

__all__ = ["Mapped", "OtlpError", "Refusal", "SeenTraces", "check_events", "decompress", "parse", "response",
           "span_events", "usable_event"]
REQUIRED = ("id", "use_case", "ts")  # EventIn's required fields: a span whose value of one is refused is not stored
NESTED = NESTED_FIELDS  # fields whose entries are left out one by one
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # protobuf JSON's (and JavaScript's) spelling
MAX_DECOMPRESSED = 64 * 1024 * 1024


class OtlpError(ValueError):
    """A body that is not a valid OTLP trace export (answered with 400)."""


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


def _leave_out(ev: dict[str, Any], locs: Sequence[tuple[Any, ...]]) -> None:
    """Remove what each error location names: one token count, score, feature or attribute; one span attribute, or
    the span; one content message, tool call or document, or the content part; else the whole optional field."""
    lists: dict[tuple[Any, ...], set[int]] = {}  # list path -> indexes to drop (highest first, once all are known)
    for loc in locs:
        top = loc[0]
        if top in NESTED and len(loc) > 1 and isinstance(ev.get(top), dict):
            ev[top].pop(loc[1], None)
        elif top == "spans" and len(loc) > 1 and isinstance(loc[1], int) and isinstance(ev.get("spans"), list):
            span = ev["spans"][loc[1]] if loc[1] < len(ev["spans"]) else None
            if len(loc) > 3 and loc[2] == "attributes" and isinstance(span, dict) and isinstance(
                    span.get("attributes"), dict):
                span["attributes"].pop(loc[3], None)
            else:
                lists.setdefault(("spans",), set()).add(loc[1])
        elif top == "content" and len(loc) > 2 and isinstance(loc[2], int) and isinstance(ev.get("content"), dict):
            lists.setdefault(("content", loc[1]), set()).add(loc[2])
        elif top == "content" and len(loc) > 1 and isinstance(ev.get("content"), dict):
            ev["content"].pop(loc[1], None)
        else:
            ev.pop(top, None)
    for path, indexes in lists.items():
        holder: Any = ev
        for p in path:
            holder = holder.get(p) if isinstance(holder, dict) else None
        if isinstance(holder, list):
            for i in sorted(indexes, reverse=True):
                if i < len(holder):
                    del holder[i]


def _fast_event(ev: dict[str, Any]) -> dict[str, Any] | None:
    """The event as EventIn makes it when msgspec's copy of the schema (telemetry.decode) takes it whole, else None
    (then pydantic decides, and names what to leave out). msgspec is stricter, never laxer, except for non-finite
    numbers in free-form values, which EventIn refuses: an event with one there goes to pydantic. The mapper writes
    every other float (times, latencies; span attributes through json_safe) finite, and only the cost, scores and
    features may hold an int where EventIn makes a float. The event itself is returned (no copy: its span dicts are
    shared with its trace's other events, and nothing downstream changes them); tests/telemetry's golden corpus
    compares the result with pydantic's."""
    try:
        msgspec.convert(ev, EVENT_STRUCT)  # only whether it validates: the event itself is returned
    except (msgspec.ValidationError, RecursionError):
        return None
    features, attrs = ev.get("features"), ev.get("attributes")
    if features and any(type(v) is float and not math.isfinite(v) for v in features.values()):
        return None
    if attrs and any(type(v) is not str and type(v) is not int for v in attrs.values()) and next(
            nonfinite_paths(attrs), None) is not None:
        return None
    # valid: the event as it is, with EventIn's one change to it (an int in a float field a float)
    if type(ev.get("cost_usd")) is int:
        ev["cost_usd"] = float(ev["cost_usd"])
    for key in ("scores", "features"):
        values = ev.get(key)
        if values and any(type(v) is int for v in values.values()):
            ev[key] = {k: float(v) if type(v) is int else v for k, v in values.items()}
    return ev


def usable_event(ev: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The event as EventIn validates it, each value it refuses left out of `ev` (one score, feature, attribute or
    token count, one span of its tree, one content message, or a whole optional field); (None, why) when it refuses
    a required field. msgspec checks first (a third of pydantic's cost); what it refuses, pydantic names."""
    fast = _fast_event(ev)
    if fast is not None:
        return fast, ""
    for _ in range(3):  # leaving out what it refused makes a later pass valid, unless a required field failed
        try:
            return EVENT_IN.validate_python(ev), ""
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        for err in errors:
            if err["loc"][0] in REQUIRED:
                return None, f"{err['loc'][0]}: {err['msg']}"
        _leave_out(ev, [err["loc"] for err in errors])
    return None, "not a valid event"


def check_events(events: Sequence[dict[str, Any]], now_s: float, late_s: int
                 ) -> tuple[list[dict[str, Any]], list[Refusal]]:
    """The mapped events to store, checked by EventIn like a JSON batch's and normalised like them (a release id
    too long once qualified is left out), and why each of the other spans was refused (its time, mostly)."""
    valid: list[dict[str, Any]] = []
    refused: list[Refusal] = []
    for ev in events:
        checked, why = usable_event(ev)
        if checked is None:
            refused.append(Refusal("invalid", f"span {ev['id']}: {why}"))
        else:
            valid.append(checked)
    for ev in normalize_batch(valid):
        if len(ev["release"]) > MAX_RELEASE_ID:
            ev["release"] = ""
    out: dict[int, Refusal] = {}  # index -> why the span is refused
    for d in nul_errors(valid, "events", EVENT_TEXT_FIELDS):  # a NUL PostgreSQL cannot store: the value is left out
        i, name = int(d["field"].split(".")[1]), d["field"].split(".")[2]
        if name in ("id", "use_case"):
            out[i] = Refusal("nul", f"{name} {d['message']}")  # without them there is no event
        else:
            valid[i][name] = "" if name == "release" else None
    out.update({int(d["field"].split(".")[1]): Refusal("time", d["message"])
                for d in timing_errors(valid, now_s, late_s)})
    refused += [Refusal(r.reason, f"span {valid[i]['id']}: {r.message}") for i, r in out.items()]
    return [ev for i, ev in enumerate(valid) if i not in out], refused


def response(content_type: str | None, refused: Sequence[Refusal] = ()) -> tuple[bytes, str]:
    """The ExportTraceServiceResponse in the request's encoding: partial success counting the refused spans, with the
    first reasons (spans skipped as not usage events are accepted, not refused)."""
    resp = ExportTraceServiceResponse()
    if refused:
        resp.partial_success.rejected_spans = len(refused)
        resp.partial_success.error_message = (f"{len(refused)} span(s) refused: " + "; ".join(r.message for r in refused[:3])
                                              + ("; …" if len(refused) > 3 else ""))
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        return json.dumps(json_format.MessageToDict(resp)).encode(), "application/json"
    return resp.SerializeToString(), "application/x-protobuf"
