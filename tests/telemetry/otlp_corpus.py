"""A fixed corpus of OTLP trace exports and what the mapper makes of it, for the equivalence test of the mapping
(tests/telemetry/test_telemetry_otlp_golden.py): every export the OTLP tests sent (including the real
instrumentation packages' dumps: opentelemetry-instrumentation-openai-v2, OpenInference, Traceloop), frozen in
data/otlp_corpus.b64, plus seeded random spans mixing the three families' attributes, odd values and trees.

    PYTHONPATH=src python -m tests.telemetry.otlp_corpus   # rewrite data/otlp_golden.jsonl.gz (only to freeze a change
                                                            # of the mapping's results on purpose)
"""
from __future__ import annotations

import base64
import copy
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from takeoff.telemetry import otlp

from tests.telemetry.otlp_values import any_value

DATA = Path(__file__).with_name("data")
CORPUS = DATA / "otlp_corpus.b64"
GOLDEN = DATA / "otlp_golden.jsonl.gz"
BASE_NS = 1_796_000_000 * 10**9  # the generated spans' times (a fixed instant: the outputs must not move)
LATE_S = 86400

# attribute values the generator draws from, per key (families mixed on purpose: a span may carry several)
_MSGS = ['[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
         '[{"role":"assistant","parts":[{"type":"tool_call","name":"f","arguments":{"x":1}},{"type":"text","content":"ok"}]}]',
         '[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"q"},{"type":"image"}]}]',
         '[{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"g","arguments":"{}"}}]}]',
         "not json", '{"role":"user","content":"one"}', "[1, 2]", '[{"parts":[{"type":"reasoning","content":"x"}]}]']
_KEYS: dict[str, list[Any]] = {
    "gen_ai.operation.name": ["chat", "embeddings", "execute_tool", "invoke_agent", "retrieval", "text_completion"],
    "gen_ai.provider.name": ["openai", "anthropic", ""], "gen_ai.system": ["openai", "aws.bedrock"],
    "gen_ai.request.model": ["gpt-4o", "", "m" * 300], "gen_ai.response.model": ["gpt-4o-2024-08-06"],
    "gen_ai.usage.input_tokens": [10, 0, -5, 2**40, "12", "x", 3.5, float("nan"), True],
    "gen_ai.usage.output_tokens": [7, 10**10, float("inf")], "gen_ai.usage.prompt_tokens": [11],
    "gen_ai.usage.cache_read.input_tokens": [4], "gen_ai.usage.cache_read_input_tokens": [5],
    "gen_ai.usage.reasoning_tokens": [3], "gen_ai.usage.cache_creation.input_tokens": [2],
    "gen_ai.input.messages": _MSGS, "gen_ai.output.messages": _MSGS,
    "gen_ai.system_instructions": ['[{"type":"text","content":"sys"}]', "plain", '{"type":"text","content":"d"}'],
    "gen_ai.tool.name": ["lookup", ""], "gen_ai.tool.call.arguments": ['{"q":1}', {"q": 2}],
    "gen_ai.tool.call.result": ["r", ""], "gen_ai.retrieval.documents": ['[{"id":"d1"},{"id":"d2"}]', "[]", "x"],
    "gen_ai.response.finish_reasons": [["stop"], ["length", "stop"]], "gen_ai.request.temperature": [0.2, float("nan")],
    "gen_ai.conversation.id": ["c1"], "gen_ai.response.id": ["r1"], "gen_ai.request.max_tokens": [100],
    "openinference.span.kind": ["LLM", "EMBEDDING", "CHAIN", "AGENT", "TOOL", "RETRIEVER", "RERANKER", "weird", "llm"],
    "llm.model_name": ["gpt-4o-mini", ""], "llm.provider": ["azure", "openai", "google"], "llm.system": ["openai"],
    "llm.invocation_parameters": ['{"model":"gpt-x"}', "nope", '{"temperature":1}'],
    "llm.token_count.prompt": [100, "100"], "llm.token_count.completion": [30],
    "llm.token_count.prompt_details.cache_read": [40], "llm.token_count.completion_details.reasoning": [5],
    "llm.input_messages.0.message.role": ["system", "user"], "llm.input_messages.0.message.content": ["Be brief."],
    "llm.input_messages.1.message.role": ["user"],
    "llm.input_messages.1.message.contents.0.message_content.text": ["What"],
    "llm.input_messages.1.message.contents.1.message_content.type": ["image"],
    "llm.output_messages.0.message.role": ["assistant"], "llm.output_messages.0.message.content": ["A cat.", ""],
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": ["zoom"],
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": ['{"x": 1}'],
    "llm.prompts.0.prompt.text": ["p"], "llm.choices.0.completion.text": ["c"],
    "embedding.embeddings.0.embedding.text": ["e"], "embedding.model_name": ["text-embedding-3-small"],
    "retrieval.documents.0.document.id": ["doc-a"], "retrieval.documents.1.document.id": ["doc-b", "z" * 300],
    "reranker.output_documents.0.document.id": ["doc-r"], "tool.name": ["search"],
    "input.value": ['{"raw": "in"}', "plain in"], "output.value": ['{"raw": "out"}', "plain out"],
    "llm.request.type": ["chat", "completion"], "traceloop.span.kind": ["workflow", "task", "agent", "tool"],
    "traceloop.entity.name": ["wf"], "traceloop.entity.input": ['{"a": 1}', "not json"],
    "traceloop.entity.output": ['{"b": 2}'], "gen_ai.prompt.0.role": ["user", "system"],
    "gen_ai.prompt.0.content": ["hello"], "gen_ai.prompt.1.role": ["assistant"],
    "gen_ai.prompt.1.tool_calls.0.name": ["t"], "gen_ai.prompt.1.tool_calls.0.arguments": ['{"k":1}'],
    "gen_ai.completion.0.role": ["assistant"], "gen_ai.completion.0.content": ["bye", ""],
    "gen_ai.completion.0.tool_calls.0.name": ["t2"], "gen_ai.completion.0.tool_calls.0.arguments": ["{}"],
    "gen_ai.usage.cache_creation_input_tokens": [9],
    "takeoff.use_case": ["uc-a", "uc-b", "", "u" * 80, "nul\x00uc"], "takeoff.release": ["r1", "r" * 150],
    "takeoff.unit_id": ["user-1", 42], "enduser.id": ["e1"], "user.id": ["u1"],
    "takeoff.outcome": ["accepted", "bogus"], "takeoff.fallback_reason": ["timeout"],
    "takeoff.cost_usd": [0.01, -1.0, float("nan"), 1e9], "takeoff.feature.plan": ["pro", 3, 2.5, True, "p" * 300],
    "takeoff.feature.x": [float("inf")], "error.type": ["<class 'openai.RateLimitError'>", "timeout", "a.b.C"],
    "http.route": ["/v1/x"], "http.response.status_code": [200], "db.system": ["postgresql"],
    "server.address": ["api.example"], "session.id": ["s1"], "misc.bytes": [[1, 2], {"n": {"m": [1.5]}}],
    "gen_ai.agent.name": ["agent"], "llm.finish_reason": ["stop"], "gen_ai.data_source.id": ["ds"],
}
_EVENTS = [("gen_ai.user.message", {"content": "u"}), ("gen_ai.system.message", {"content": "s"}),
           ("gen_ai.choice", {"message": '{"role":"assistant","content":"a"}'}),
           ("gen_ai.choice", {"message": "plain", "tool_calls": '[{"function":{"name":"h","arguments":"{}"}}]'}),
           ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role":"user","content":"x"}]'}),
           ("gen_ai.content.completion", {"gen_ai.completion": '[{"role":"assistant","content":"y"}]'}),
           ("gen_ai.client.inference.operation.details", {"gen_ai.input.messages": _MSGS[0]}),
           ("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "rel", "gen_ai.evaluation.score.value": 0.5}),
           ("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "bad", "gen_ai.evaluation.score.value": float("nan")}),
           ("exception", {"exception.type": "builtins.ValueError"}), ("other", {"k": 1})]


def _random_export(rng: random.Random, n_spans: int) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for _ in range(rng.randint(1, 2)):
        rs = req.resource_spans.add()
        for k, v in rng.sample([("service.name", "svc-gen"), ("takeoff.use_case", "res-uc"),
                                ("takeoff.release", "res-rel")], rng.randint(0, 3)):
            rs.resource.attributes.add(key=k).value.CopyFrom(any_value(v))
        ss = rs.scope_spans.add()
        traces = [rng.randbytes(16) for _ in range(rng.randint(1, 3))] + [b"", b"\x01" * 5]
        sids: list[bytes] = []
        for i in range(n_spans):
            sid = rng.randbytes(8) if rng.random() > 0.03 else b""
            sp = ss.spans.add(trace_id=rng.choice(traces) if rng.random() > 0.05 else traces[0], span_id=sid,
                              name=rng.choice(["chat", "", "n" * 250, "tool"]), kind=rng.randint(0, 5))
            if sids and rng.random() < 0.7:
                sp.parent_span_id = rng.choice(sids) if rng.random() > 0.05 else b"\x02" * 3
            sids.append(sid)
            start = BASE_NS - rng.randint(0, 3600) * 10**9 + i * 1000
            sp.start_time_unix_nano = start if rng.random() > 0.03 else 0
            sp.end_time_unix_nano = start + rng.randint(-10, 5000) * 10**6 if rng.random() > 0.03 else 0
            sp.status.code = rng.choice([0, 0, 1, 2])
            keys = rng.sample(sorted(_KEYS), rng.randint(0, 14))
            if rng.random() < 0.6:
                keys.append(rng.choice(["gen_ai.operation.name", "openinference.span.kind", "llm.request.type",
                                        "traceloop.span.kind"]))
            for k in dict.fromkeys(keys):
                sp.attributes.add(key=k).value.CopyFrom(any_value(rng.choice(_KEYS[k])))
            for ename, eattrs in rng.sample(_EVENTS, rng.randint(0, 3)):
                e = sp.events.add(name=ename, time_unix_nano=start)
                for k, v in eattrs.items():
                    e.attributes.add(key=k).value.CopyFrom(any_value(v))
    return req


def bench_export(n: int = 50) -> ExportTraceServiceRequest:
    """The shape ingest_bench sends (one GenAI chat span per trace), at fixed times and ids."""
    rng = random.Random(7)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.CopyFrom(any_value("bench-golden"))
    ss = rs.scope_spans.add()
    for i in range(n):
        sp = ss.spans.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name="chat gpt-4o", kind=3)
        sp.start_time_unix_nano, sp.end_time_unix_nano = BASE_NS - 400_000_000 - i * 1000, BASE_NS - i * 1000
        for k, v in (("gen_ai.provider.name", "openai"), ("gen_ai.operation.name", "chat"),
                     ("gen_ai.request.model", "gpt-4o"), ("gen_ai.response.model", "gpt-4o-2024-08-06"),
                     ("gen_ai.input.messages", '[{"role":"user","parts":[{"type":"text","content":"xx"}]}]'),
                     ("gen_ai.usage.input_tokens", 700 + i % 50), ("gen_ai.usage.output_tokens", 90)):
            sp.attributes.add(key=k).value.CopyFrom(any_value(v))
    return req


def exports() -> Iterator[tuple[str, ExportTraceServiceRequest]]:
    """(name, export) of the whole corpus, in a fixed order."""
    for i, line in enumerate(CORPUS.read_text().split()):
        req = ExportTraceServiceRequest()
        req.ParseFromString(base64.b64decode(line))
        yield f"captured-{i}", req
    rng = random.Random(20261207)
    for i in range(100):
        yield f"generated-{i}", _random_export(rng, rng.choice([1, 2, 5, 12, 24]))
    yield "bench", bench_export()


def _now_s(req: ExportTraceServiceRequest) -> float:
    """The instant the checks run at: one minute after the export's last span ended (times must not move)."""
    ends = [s.end_time_unix_nano for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return max([BASE_NS, *ends]) / 1e9 + 60


def outputs() -> Iterator[tuple[str, str]]:
    """(name, JSON of what the mapping makes of one export): usage events, skipped and refused spans with and
    without content, each event as EventIn keeps it, the batch check's result, and the memory of traces across
    the corpus in order."""
    seen = otlp.SeenTraces()
    for name, req in exports():
        req = ExportTraceServiceRequest.FromString(req.SerializeToString())  # decoded as the server decodes it
        full = otlp.span_events(req)
        bare = otlp.span_events(req, None, lambda uc: len(uc) % 2 == 0)
        usable = [otlp.usable_event(copy.deepcopy(ev)) for ev in full.events]
        kept, refused = otlp.check_events(copy.deepcopy(full.events), _now_s(req), LATE_S)
        chained = otlp.span_events(req, seen)
        kept_chained, _ = otlp.check_events(copy.deepcopy(chained.events), _now_s(req), LATE_S)
        seen.add(kept_chained)
        out = {"events": full.events, "skipped": full.skipped, "refused": full.refused,
               "events_content_for": bare.events, "usable": usable, "kept": kept, "check_refused": refused,
               "seen_events": [ev["id"] for ev in chained.events], "seen_refused": chained.refused}
        yield name, json.dumps(out, sort_keys=True, default=repr)


if __name__ == "__main__":
    with gzip.open(GOLDEN, "wt", compresslevel=9) as f:
        for name, line in outputs():
            f.write(json.dumps(name) + "\t" + line + "\n")
    print(GOLDEN, GOLDEN.stat().st_size)
