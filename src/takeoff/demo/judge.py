"""The demo's LLM judge: a deterministic rule standing in for a model, served as an OpenAI-compatible chat
completions endpoint on loopback inside the demo process (no internet, no weights), with token usage so the online
evaluator counts its cost like a real judge's."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "demo-judge"
PRICES = {"input": 0.15, "output": 0.60}  # USD per 1M tokens, as the demo's stand-in model (targets.py)
# What a ticket is about -> words a reply on that topic uses.
TOPICS = {"refund": ("refund",), "password": ("spam", "reset", "retry"), "delivery": ("parcel", "ships", "tracking"),
          "invoice": ("invoice", "billing"), "crash": ("update", "version")}
CONCRETE = re.compile(r"\b(policy [A-Z]-\d+|\d+ days|tomorrow|version \d|Account >)", re.IGNORECASE)


def verdict(prompt: str) -> dict[str, Any]:
    """Grade a reply: on the ticket's topic, concrete (a policy, a time, a place), and short. Score = share met."""
    ticket = prompt.split("INPUT:\n", 1)[-1].split("\n\nEXPECTED:", 1)[0].lower()
    reply = prompt.split("OUTPUT:\n", 1)[-1]
    topic = next((words for key, words in TOPICS.items() if key in ticket), ())
    checks = {"on topic": any(w in reply.lower() for w in topic), "concrete": bool(CONCRETE.search(reply)),
              "brief": 0 < len(reply) <= 160}
    score = round(sum(checks.values()) / len(checks), 3)
    missed = [k for k, ok in checks.items() if not ok]
    return {"score": score, "passed": score >= 0.66, "category": None if score >= 0.66 else "wrong_answer",
            "reason": "on topic, concrete and brief" if not missed else f"not {' and not '.join(missed)}"}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # the standard library's handler name
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.send_error(400, "expected an OpenAI chat completions request")
            return
        answer = json.dumps(verdict(prompt))
        usage = {"prompt_tokens": len(prompt) // 4 + 1, "completion_tokens": len(answer) // 4 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        data = json.dumps({"id": "demo", "object": "chat.completion", "model": MODEL, "usage": usage,
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve() -> tuple[ThreadingHTTPServer, str]:
    """Start the judge on 127.0.0.1 (a free port) in a daemon thread; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-judge", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"
