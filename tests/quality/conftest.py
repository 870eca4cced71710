"""A local OpenAI-compatible judge for online evaluation: the model name picks its behaviour (a verdict, a slow
answer, a malformed verdict, an HTTP error), each answer reports usage so the budget can be counted."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.requests.conftest import event, make_use_case

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
PRICES = {"input": 5.0, "output": 50.0}  # USD per 1M: 1000 in + 100 out = $0.01 a call


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that timed out and left
        pass


class Judge(BaseHTTPRequestHandler):
    """judge-ok: a verdict (1.0 when the output mentions a refund, else 0.2); judge-slow: answers after 1 s;
    judge-bad: prose instead of JSON; judge-500: HTTP 500."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # the standard library's handler name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(body)  # type: ignore[attr-defined]
        model = body["model"]
        if model == "judge-500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if model == "judge-slow":
            time.sleep(1.0)
        out = body["messages"][-1]["content"].split("OUTPUT:\n", 1)[-1]
        good = "refund" in out.lower()
        verdict = json.dumps({"score": 1.0 if good else 0.2, "passed": good, "category": None if good else "wrong_answer",
                              "reason": "mentions the refund" if good else "no refund in the reply"})
        content = "I think it is fine." if model == "judge-bad" else verdict
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}], "usage": USAGE}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="session")
def judge() -> Iterator[Any]:
    srv = QuietServer(("127.0.0.1", 0), Judge)
    srv.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield srv
    srv.shutdown()
    srv.server_close()


def reply(text: str, ticket: str = "Where is my money?") -> dict[str, Any]:
    return {"input": [{"role": "user", "content": ticket}], "output": [{"role": "assistant", "content": text}]}


@pytest.fixture
def support(client: Any, admin: dict[str, str]) -> str:
    """support-reply with content capture on (redaction of IBANs only: e-mail addresses and phones pass)."""
    key = make_use_case(client, admin, "support-reply")
    r = client.put(f"/api/v1/capture-policies/{key}", json={"capture": True, "kinds": ["iban"]}, headers=admin)
    assert r.status_code == 200, r.text
    return key


@pytest.fixture
def send_content(client: Any, admin: dict[str, str]) -> Any:
    def post(key: str, items: list[tuple[str, dict[str, Any]]], **kw: Any) -> None:
        evs = [event(key, id=rid, content=content, ts=time.time() - 60 + i * 0.01, **kw)
               for i, (rid, content) in enumerate(items)]
        r = client.post("/api/v1/events", json={"events": evs}, headers=admin)
        assert r.status_code == 200 and r.json()["accepted"] == len(evs), r.text
    return post


def judge_body(url: str, model: str = "judge-ok", **kw: Any) -> dict[str, Any]:
    return {"name": "judge", "scorer": {"type": "llm_judge", "base_url": url, "model": model,
                                        "rubric": "Does the reply resolve the ticket?", "timeout_s": 0.4},
            "since": "2020-01-01T00:00:00Z", "prices": PRICES, **kw}


@pytest.fixture
def web(app: Any, users: Any) -> Any:
    """A signed-in browser-like client (an AI engineer: may read content and change evaluators)."""
    from tests.conftest import web_login

    users.create("ai_engineer", username="ana")
    return web_login(app, "ana")
