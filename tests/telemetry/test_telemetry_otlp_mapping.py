"""OTLP mapping of each instrumentation's spans (OpenInference, Traceloop, GenAI conventions' content), the span
tree of a usage event, the rule that keeps wrappers from being counted twice, and what is refused (never silently)."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client import REGISTRY

from takeoff.telemetry import otlp

from tests.telemetry.otlp_values import any_value
from takeoff.telemetry.schemas import MAX_SPANS

TRACE = bytes(range(16))


def span(sid: int, attrs: dict[str, Any], parent: int | None = None, *, name: str = "s", error: bool = False,
         events: list[tuple[str, dict[str, Any]]] = (), trace: bytes = TRACE, offset_ms: int = 0) -> dict[str, Any]:
    return {"sid": sid, "attrs": attrs, "parent": parent, "name": name, "error": error, "events": events,
            "trace": trace, "offset_ms": offset_ms}


def export(*spans: dict[str, Any], service: str = "map-svc") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.CopyFrom(any_value(service))
    ss = rs.scope_spans.add()
    now = time.time_ns() - 10_000_000_000
    for s in spans:
        sp = ss.spans.add(trace_id=s["trace"], span_id=s["sid"].to_bytes(8, "big"), name=s["name"], kind=3)
        if s["parent"] is not None:
            sp.parent_span_id = s["parent"].to_bytes(8, "big")
        sp.start_time_unix_nano = now + s["offset_ms"] * 1_000_000
        sp.end_time_unix_nano = sp.start_time_unix_nano + 50_000_000
        sp.status.code = 2 if s["error"] else 0
        for k, v in s["attrs"].items():
            sp.attributes.add(key=k).value.CopyFrom(any_value(v))
        for ename, eattrs in s["events"]:
            e = sp.events.add(name=ename, time_unix_nano=sp.start_time_unix_nano)
            for k, v in eattrs.items():
                e.attributes.add(key=k).value.CopyFrom(any_value(v))
    return req


def one(req: ExportTraceServiceRequest) -> dict[str, Any]:
    mapped = otlp.span_events(req)
    assert len(mapped.events) == 1 and mapped.refused == [], mapped
    checked, why = otlp.usable_event(mapped.events[0])
    assert checked is not None, why
    return checked


# --- OpenInference --------------------------------------------------------------------------------------------------

def test_openinference_llm_span_is_a_usage_event_with_tokens_content_and_provider():
    ev = one(export(span(1, {
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-2024-08-06", "llm.provider": "azure",
        "llm.system": "openai", "llm.token_count.prompt": 100, "llm.token_count.completion": 30,
        "llm.token_count.total": 130, "llm.token_count.prompt_details.cache_read": 40,
        "llm.token_count.prompt_details.cache_write": 10, "llm.token_count.completion_details.reasoning": 5,
        "input.value": '{"raw": "request"}', "output.value": '{"raw": "answer"}',
        "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.contents.0.message_content.type": "text",
        "llm.input_messages.1.message.contents.0.message_content.text": "What is in",
        "llm.input_messages.1.message.contents.1.message_content.type": "image",
        "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "A cat.",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "zoom",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"x": 1}',
    })))
    assert ev["model"] == "gpt-4o-2024-08-06" and ev["provider"] == "azure.ai.openai"
    assert ev["tokens"] == {"input": 100, "output": 30, "cache_read": 40, "cache_write": 10, "reasoning": 5}
    assert ev["attributes"] == {"openinference.span.kind": "LLM"}
    assert ev["content"] == {"system": "Be brief.", "input": [{"role": "user", "content": "What is in\n[image]"}],
                             "output": [{"role": "assistant", "content": "A cat."}],
                             "tool_calls": [{"name": "zoom", "arguments": '{"x": 1}'}]}


def test_openinference_failed_call_takes_the_requested_model_and_the_exception_type():
    ev = one(export(span(1, {"openinference.span.kind": "LLM", "llm.system": "vertexai",
                             "llm.invocation_parameters": '{"model": "gemini-2.5-pro", "temperature": 0}'},
                         error=True, events=[("exception", {"exception.type": "google.api_core.ResourceExhausted",
                                                            "exception.message": "quota"})])))
    assert ev["status"] == "error" and ev["error_category"] == "ResourceExhausted"
    assert ev["model"] == "gemini-2.5-pro" and ev["provider"] == "gcp.vertex_ai"


def test_openinference_embedding_is_a_call_and_a_chain_wrapping_calls_is_not():
    """CHAIN → RETRIEVER, LLM: one usage event (the LLM), its tree the three spans, the documents retrieved before
    it in its content; the chain's own token sum is not counted again."""
    mapped = otlp.span_events(export(
        span(1, {"openinference.span.kind": "CHAIN", "input.value": "q", "output.value": "a",
                 "llm.token_count.prompt": 999}, name="rag"),
        span(2, {"openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.id": "doc-7",
                 "retrieval.documents.0.document.content": "secret text", "retrieval.documents.1.document.id": "doc-9"},
             parent=1, name="retrieve", offset_ms=1),
        span(3, {"openinference.span.kind": "LLM", "llm.model_name": "m", "llm.token_count.prompt": 5}, parent=1,
             name="llm", offset_ms=2),
        span(4, {"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small",
                 "llm.token_count.prompt": 7, "embedding.embeddings.0.embedding.text": "hello"},
             trace=bytes(16 * [9]), name="embed"),
    ))
    assert mapped.refused == [] and mapped.skipped == 0
    llm, emb = sorted(mapped.events, key=lambda e: e["span_id"])[0], sorted(mapped.events, key=lambda e: e["span_id"])[1]
    assert llm["tokens"] == {"input": 5} and llm["content"]["documents"] == ["doc-7", "doc-9"]
    assert {s["name"] for s in llm["spans"]} == {"rag", "retrieve", "llm"}
    assert llm["parent_span_id"] == (1).to_bytes(8, "big").hex()
    assert "secret text" not in json.dumps(llm["spans"])  # a tree keeps no content
    assert emb["model"] == "text-embedding-3-small" and emb["tokens"] == {"input": 7}
    assert emb["content"] == {"input": [{"role": "user", "content": "hello"}]}


# --- Traceloop ------------------------------------------------------------------------------------------------------

def test_traceloop_indexed_prompts_completions_and_its_token_names():
    ev = one(export(span(1, {
        "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.prompt_tokens": 50, "gen_ai.usage.completion_tokens": 20,
        "gen_ai.usage.cache_read_input_tokens": 30, "gen_ai.usage.cache_creation_input_tokens": 4,
        "gen_ai.usage.reasoning_tokens": 8,
        "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Rules.",
        "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Weather?",
        "gen_ai.prompt.2.role": "assistant", "gen_ai.prompt.2.tool_calls.0.name": "old",
        "gen_ai.prompt.10.role": "user", "gen_ai.prompt.10.content": "tenth",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.name": "weather", "gen_ai.completion.0.tool_calls.0.arguments": '{"c": 1}',
    })))
    assert ev["tokens"] == {"input": 50, "output": 20, "cache_read": 30, "cache_write": 4, "reasoning": 8}
    assert ev["provider"] == "openai" and ev["attributes"] == {"llm.request.type": "chat"}
    assert ev["content"] == {"system": "Rules.", "input": [
        {"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "[tool call old: ]"},
        {"role": "user", "content": "tenth"}], "tool_calls": [{"name": "weather", "arguments": '{"c": 1}'}]}


# --- OpenTelemetry GenAI conventions' content ---------------------------------------------------------------------

@pytest.mark.parametrize("structured", [False, True])
def test_genai_content_attributes_as_json_or_structured(structured):
    system = [{"type": "text", "content": "Be kind."}]
    inp = [{"role": "user", "parts": [{"type": "text", "content": "Hi"}, {"type": "blob", "mime_type": "image/png"}]},
           {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c0", "response": {"t": 21}}]}]
    out = [{"role": "assistant", "finish_reason": "stop", "parts": [
        {"type": "reasoning", "content": "thinking"}, {"type": "text", "content": "Hello"},
        {"type": "tool_call", "id": "c1", "name": "get", "arguments": {"city": "Oslo"}}]}]
    enc = (lambda v: v) if structured else json.dumps
    ev = one(export(span(1, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                             "gen_ai.system_instructions": enc(system), "gen_ai.input.messages": enc(inp),
                             "gen_ai.output.messages": enc(out)})))
    assert ev["content"] == {"system": "Be kind.", "input": [
        {"role": "user", "content": "Hi\n[blob image/png]"}, {"role": "tool", "content": '{"t":21}'}],
        "output": [{"role": "assistant", "content": "Hello"}],
        "tool_calls": [{"name": "get", "arguments": '{"city":"Oslo"}'}]}


def test_genai_older_message_events():
    ev = one(export(span(1, {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}, events=[
        ("gen_ai.system.message", {"content": "Sys."}),
        ("gen_ai.user.message", {"content": "Q1"}),
        ("gen_ai.assistant.message", {"tool_calls": [{"id": "1", "type": "function",
                                                      "function": {"name": "f", "arguments": "{}"}}]}),
        ("gen_ai.tool.message", {"content": "42", "id": "1"}),
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "It is 42."}}),
        ("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "rel", "gen_ai.evaluation.score.value": 0.5}),
    ])))
    assert ev["content"] == {"system": "Sys.", "input": [
        {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "[tool call f: {}]"},
        {"role": "tool", "content": "42"}], "output": [{"role": "assistant", "content": "It is 42."}]}
    assert ev["scores"] == {"rel": 0.5}


def test_content_is_not_read_for_a_use_case_that_wants_none():
    req = export(span(1, {"gen_ai.operation.name": "chat", "gen_ai.input.messages": '[{"role": "user", "content": "x"}]'}))
    assert "content" in otlp.span_events(req).events[0]
    asked: list[str] = []
    (ev,) = otlp.span_events(req, content_for=lambda uc: asked.append(uc) is not None).events
    assert "content" not in ev and asked == ["map-svc"] and ev["spans"]


def test_no_content_without_content_attributes():
    ev = one(export(span(1, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})))
    assert "content" not in ev and ev["trace_id"] == TRACE.hex() and ev["parent_span_id"] is None


# --- span trees and the no-double-counting rule -------------------------------------------------------------------

def test_an_agent_instrumented_alone_is_one_event_and_its_later_steps_are_refused_not_counted_twice():
    seen = otlp.SeenTraces()
    agent_only = export(
        span(1, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper",
                 "gen_ai.usage.input_tokens": 10}, name="invoke_agent helper"),
        span(2, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                 "gen_ai.tool.call.arguments": '{"q": "x"}', "gen_ai.tool.call.result": "found"}, parent=1,
             name="execute_tool search", offset_ms=1),
        span(3, {"http.route": "/x"}, parent=2, name="GET /x", offset_ms=2))
    mapped = otlp.span_events(agent_only, seen)
    assert mapped.refused == [] and mapped.skipped == 1 and len(mapped.events) == 1
    ev = mapped.events[0]
    assert ev["span_id"] == (1).to_bytes(8, "big").hex() and ev["tokens"] == {"input": 10}
    assert ev["content"]["tool_calls"] == [{"name": "search", "arguments": '{"q": "x"}'}]
    assert [s["name"] for s in ev["spans"]] == ["invoke_agent helper", "execute_tool search", "GET /x"]
    assert ev["spans"][2]["attributes"] == {"http.route": "/x"}
    seen.add(mapped.events)
    assert len(otlp.span_events(agent_only, seen).events) == 1  # a resend is the same event (stored once)

    calls_first = export(span(11, {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 5}, parent=10,
                              trace=bytes(16 * [7])))
    wrapper_later = export(span(10, {"openinference.span.kind": "AGENT", "llm.token_count.prompt": 5},
                                trace=bytes(16 * [7])))
    first = otlp.span_events(calls_first, seen)
    seen.add(first.events)
    later = otlp.span_events(wrapper_later, seen)
    assert later.events == [] and [r.reason for r in later.refused] == ["step_after_calls"]


def test_spans_without_a_trace_id_are_each_their_own_trace():
    mapped = otlp.span_events(export(span(1, {"gen_ai.operation.name": "chat"}, trace=b""),
                                     span(2, {"gen_ai.operation.name": "invoke_agent"}, trace=b"")))
    assert len(mapped.events) == 2 and all("trace_id" not in e and "spans" not in e for e in mapped.events)


def test_a_tree_past_max_spans_keeps_the_event_its_ancestors_first():
    spans = [span(1, {}, name="root")] + [span(i, {}, parent=1, name=f"n{i}", offset_ms=i)
                                          for i in range(2, MAX_SPANS + 20)]
    spans.append(span(9999, {"gen_ai.operation.name": "chat"}, parent=MAX_SPANS + 10, name="call",
                      offset_ms=MAX_SPANS + 30))
    ev = one(export(*spans))
    names = [s["name"] for s in ev["spans"]]
    assert len(names) == MAX_SPANS and {"root", f"n{MAX_SPANS + 10}", "call"} <= set(names)


def test_values_eventin_refuses_inside_a_tree_or_content_are_left_out_one_by_one():
    ev = {"id": "e", "use_case": "uc", "ts": time.time(), "trace_id": "a" * 32, "span_id": "b" * 16,
          "spans": [{"trace_id": "a" * 32, "span_id": "b" * 16, "name": "ok", "start": 1.0,
                     "attributes": {"good": 1, "bad": {"nested": 1}}},
                    {"trace_id": "a" * 32, "span_id": "c" * 16, "name": "no start", "start": 0}],
          "content": {"input": [{"role": "", "content": "x"}, {"role": "user", "content": "kept"}],
                      "documents": ["d1", ""], "system": 5}}
    checked, why = otlp.usable_event(ev)
    assert why == "" and checked is not None
    assert [s["name"] for s in checked["spans"]] == ["ok"] and checked["spans"][0]["attributes"] == {"good": 1}
    assert checked["content"] == {"input": [{"role": "user", "content": "kept"}], "documents": ["d1"]}


# --- never dropped silently ---------------------------------------------------------------------------------------

def _rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("takeoff_otlp_spans_rejected_total", {"reason": reason}) or 0.0


def test_unmappable_genai_spans_are_refused_in_partial_success_and_counted(client, users):
    before = _rejected("unmapped")
    req = export(span(1, {"openinference.span.kind": "SOMETHING_NEW", "llm.model_name": "m"}),
                 span(2, {"gen_ai.tool.name": "lonely"}, trace=bytes(16 * [3])),
                 span(3, {"gen_ai.operation.name": "chat"}, trace=bytes(16 * [4])),
                 span(4, {"http.route": "/health"}, trace=bytes(16 * [5])))
    r = client.post("/v1/traces", content=req.SerializeToString(),
                    headers={**users.headers("ai_engineer"), "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    resp = ExportTraceServiceResponse()
    resp.ParseFromString(r.content)
    assert resp.partial_success.rejected_spans == 2
    assert "SOMETHING_NEW" in resp.partial_success.error_message
    assert _rejected("unmapped") == before + 2
    text = client.get("/metrics").text
    assert 'takeoff_otlp_spans_rejected_total{reason="unmapped"}' in text
