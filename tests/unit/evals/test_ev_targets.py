"""Targets against a real local HTTP server: templating, response paths, retries, timeouts, garbage, bad specs."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from takeoff.evals.targets import (
    HttpTarget,
    OpenAITarget,
    PythonTarget,
    RetryPolicy,
    TargetError,
    make_target,
    render_template,
)

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)

class QuietServer(ThreadingHTTPServer):
    """A client that timed out closes its socket; the late write's BrokenPipe is expected, not news."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass



class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status: int, body: bytes | str, ctype: str = "application/json", headers=None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        srv = self.server
        srv.calls[self.path] += 1
        srv.bodies.append(body)
        n = srv.calls[self.path]
        if self.path == "/echo":
            self._send(200, json.dumps({"data": {"items": [{"text": f"echo:{body.get('q')}"}]}}))
        elif self.path == "/flaky":  # 500 twice, then 200
            if n <= 2:
                self._send(500, "boom", "text/plain")
            else:
                self._send(200, json.dumps({"out": "recovered"}))
        elif self.path == "/ratelimited":  # 429 once (Retry-After 0), then 200
            if n == 1:
                self._send(429, "slow down", "text/plain", {"Retry-After": "0"})
            else:
                self._send(200, json.dumps({"out": "ok"}))
        elif self.path == "/always500":
            self._send(503, "down", "text/plain")
        elif self.path == "/slow":
            time.sleep(1.0)
            self._send(200, json.dumps({"out": "late"}))
        elif self.path == "/garbage":
            self._send(200, "<html>definitely not json", "text/html")
        elif self.path == "/badrequest":
            self._send(400, "bad", "text/plain")
        elif self.path == "/v1/chat/completions":
            auth = self.headers.get("Authorization")
            content = f"model={body['model']} auth={auth} last={body['messages'][-1]['content']}"
            self._send(200, json.dumps({"choices": [{"message": {"content": content}}],
                                        "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}))
        else:
            self._send(404, "nope", "text/plain")


@pytest.fixture()
def server():
    srv = QuietServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.calls = Counter()
    srv.bodies = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _call(target, value):
    async def go():
        try:
            return await target.call(value)
        finally:
            await target.aclose()
    return asyncio.run(go())


def test_http_target_renders_template_and_reads_response_path(server):
    srv, base = server
    target = HttpTarget(f"{base}/echo", body_template='{"q": "{{input.question}}", "k": 3}',
                        response_path="data.items.0.text", retry=FAST_RETRY)
    resp = _call(target, {"question": "why?"})
    assert resp.output == "echo:why?"
    assert srv.bodies[-1] == {"q": "why?", "k": 3}
    assert resp.latency_ms > 0


def test_http_target_retries_5xx_then_succeeds(server):
    srv, base = server
    resp = _call(HttpTarget(f"{base}/flaky", response_path="out", retry=FAST_RETRY), "x")
    assert resp.output == "recovered" and resp.attempts == 3 and srv.calls["/flaky"] == 3


def test_http_target_retries_on_429(server):
    srv, base = server
    resp = _call(HttpTarget(f"{base}/ratelimited", response_path="out", retry=FAST_RETRY), "x")
    assert resp.output == "ok" and srv.calls["/ratelimited"] == 2


def test_http_target_gives_up_after_max_attempts(server):
    srv, base = server
    with pytest.raises(TargetError) as info:
        _call(HttpTarget(f"{base}/always500", retry=FAST_RETRY), "x")
    assert info.value.kind == "http_status" and info.value.status == 503 and srv.calls["/always500"] == 3


def test_http_target_does_not_retry_a_4xx(server):
    srv, base = server
    with pytest.raises(TargetError, match="HTTP 400"):
        _call(HttpTarget(f"{base}/badrequest", retry=FAST_RETRY), "x")
    assert srv.calls["/badrequest"] == 1


def test_http_target_timeout_is_a_target_error(server):
    _srv, base = server
    target = HttpTarget(f"{base}/slow", timeout_s=0.2, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(TargetError) as info:
        _call(target, "x")
    assert info.value.kind == "timeout"


def test_http_target_garbage_and_missing_field_are_bad_responses(server):
    _srv, base = server
    with pytest.raises(TargetError) as info:
        _call(HttpTarget(f"{base}/garbage", retry=FAST_RETRY), "x")
    assert info.value.kind == "bad_response"
    with pytest.raises(TargetError, match="no field 'data.nothing'"):
        _call(HttpTarget(f"{base}/echo", response_path="data.nothing", retry=FAST_RETRY), "x")


def test_openai_target_sends_chat_request_and_prices_tokens(server):
    _srv, base = server
    target = OpenAITarget(f"{base}/v1", "m-1", api_key="sk-test", system_prompt="be brief",
                          prompt_template="Q: {{input}}", price_input_per_mtok=2.0, price_output_per_mtok=10.0,
                          retry=FAST_RETRY)
    resp = _call(target, "hi")
    assert resp.output == "model=m-1 auth=Bearer sk-test last=Q: hi"
    assert resp.tokens == {"prompt_tokens": 1000, "completion_tokens": 500}
    assert resp.cost_usd == pytest.approx(0.007)


def test_python_target_sync_async_timeout_and_exception():
    assert _call(PythonTarget("tests.eval_targets:echo"), {"answer": "a"}).output == "a"
    assert _call(PythonTarget("tests.eval_targets:async_echo"), {"answer": "b"}).output == "b"  # awaited
    with pytest.raises(TargetError) as info:
        _call(PythonTarget("tests.eval_targets:sleepy", timeout_s=0.3), {"sleep": 2})
    assert info.value.kind == "timeout"
    with pytest.raises(TargetError, match="RuntimeError: upstream returned HTML"):
        _call(PythonTarget("tests.eval_targets:garbage"), {"answer": "a1"})


def test_render_template_keeps_types_and_refuses_missing_fields():
    assert render_template({"x": "{{input}}", "y": ["a {{input.n}} b"]}, {"n": 3}) == {"x": {"n": 3}, "y": ["a 3 b"]}
    with pytest.raises(TargetError, match="no field 'missing'"):
        render_template("{{input.missing}}", {"n": 3})


@pytest.mark.parametrize("spec, message", [
    ("http", "must be an object"),
    ({"type": "grpc"}, "target type must be one of"),
    ({"type": "http"}, "needs 'url'"),
    ({"type": "http", "url": "ftp://x"}, "http:// or https://"),
    ({"type": "http", "url": "http://x", "timeout_s": -1}, "timeout_s"),
    ({"type": "http", "url": "http://x", "body_template": "{bad"}, "valid JSON"),
    ({"type": "http", "url": "http://x", "retry": {"max_attempts": 0}}, "max_attempts"),
    ({"type": "http", "url": "http://x", "colour": "red"}, "unknown field 'colour'"),
    ({"type": "python", "ref": "nodots"}, "module:function"),
    ({"type": "python", "ref": "no_such_module_xyz:f"}, "refused"),  # not listed (the tests list tests.*)
    ({"type": "python", "ref": "tests.no_such_module_xyz:f"}, "cannot be imported"),
    ({"type": "python", "ref": "json:dumps"}, "refused"),
    ({"type": "openai", "base_url": "http://x"}, "needs 'base_url' and 'model'"),
])
def test_bad_target_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        make_target(spec)


def test_make_target_builds_each_type():
    assert isinstance(make_target({"type": "python", "ref": "tests.eval_targets:echo"}), PythonTarget)
    http = make_target({"type": "http", "url": "http://127.0.0.1:1/x", "retry": {"max_attempts": 2}})
    assert isinstance(http, HttpTarget) and http.retry.max_attempts == 2
    assert isinstance(make_target({"type": "openai", "base_url": "http://h/v1", "model": "m"}), OpenAITarget)


class _Gauge(BaseHTTPRequestHandler):
    """Holds each request 50 ms and records how many were in service at once."""

    protocol_version = "HTTP/1.1"  # keep-alive, like a real model server

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        with srv.lock:
            srv.active += 1
            srv.peak = max(srv.peak, srv.active)
        time.sleep(0.05)
        with srv.lock:
            srv.active -= 1
        data = b'{"out": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_http_target_never_exceeds_its_connection_limit():
    srv = QuietServer(("127.0.0.1", 0), _Gauge)
    srv.lock, srv.active, srv.peak = threading.Lock(), 0, 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        target = HttpTarget(f"http://127.0.0.1:{srv.server_address[1]}/", response_path="out", max_connections=2,
                            retry=FAST_RETRY)

        async def go():
            try:
                return await asyncio.gather(*(target.call(str(i)) for i in range(8)))
            finally:
                await target.aclose()

        outputs = [r.output for r in asyncio.run(go())]
        assert outputs == ["ok"] * 8 and srv.peak == 2
    finally:
        srv.shutdown()
        srv.server_close()
