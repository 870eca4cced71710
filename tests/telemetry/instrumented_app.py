"""A tiny AI app for tests/telemetry/test_telemetry_instrumentations.py, run in its own process (the three
instrumentations patch the same `openai` client): a local OpenAI-compatible server, one instrumentation, the
OpenTelemetry SDK's OTLP exporter (HTTP or gRPC) to a takeoff server, and the encoded spans written to a file.

    python instrumented_app.py PACKAGE PROTOCOL ENDPOINT TOKEN SERVICE DUMP_PATH

PACKAGE: otel (opentelemetry-instrumentation-openai-v2), openinference, traceloop. Calls, in one trace under an
"agent run" span: a chat with a system and a user message, a chat offering a tool (answered with a tool call);
then, on its own, a chat that the server fails with 500. Every answer's usage: 120 prompt tokens of which 64
cached, 40 completion tokens of which 16 reasoning, model gpt-4o-mini-2024-07-18.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini-2024-07-18"
USAGE = {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
         "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 16}}


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: a canned answer (a tool call when tools are offered); model "boom" fails."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("model") == "boom":
            status, answer = 500, {"error": {"message": "upstream failed", "type": "server_error"}}
        else:
            message: dict[str, Any] = {"role": "assistant", "content": "Hello there"}
            if body.get("tools"):
                message = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]}
            status, answer = 200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL, "usage": USAGE,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if body.get("tools") else "stop"}]}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def instrumentor(package: str) -> Any:
    if package == "otel":
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    elif package == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    else:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    return OpenAIInstrumentor()


def main(package: str, protocol: str, endpoint: str, token: str, service: str, dump: str) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        exporter: Any = GrpcExporter(endpoint=endpoint, insecure=True, headers={"authorization": token})
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, headers={"Authorization": token})
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(exporter))  # one export of every span, at shutdown
    instrumentor(package).instrument(tracer_provider=provider)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import openai

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="test", max_retries=0)
    with provider.get_tracer("app").start_as_current_span("agent run"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "find x"}],
                                       tools=[{"type": "function", "function": {
                                           "name": "lookup", "parameters": {"type": "object", "properties": {
                                               "q": {"type": "string"}}}}}])
    try:
        client.chat.completions.create(model="boom", messages=[{"role": "user", "content": "Hi"}])
    except openai.InternalServerError:
        pass
    with open(dump, "wb") as f:
        f.write(encode_spans(memory.get_finished_spans()).SerializeToString())
    provider.shutdown()
    server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:7])
