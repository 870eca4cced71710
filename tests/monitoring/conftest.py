"""Helpers of the monitoring tests: use cases, events posted to /api/v1/events, a local webhook receiver."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase

from .receivers import smtp_server, vendor  # noqa: F401  (fixtures for the channel tests)


def make_use_case(factory, key: str = "support-reply", tier: str = "low", on_call: str | None = "oncall-ana",
                  targets: dict[str, Any] | None = None) -> None:
    with transaction(factory) as s:
        s.add(UseCase(key=key, name=key, purpose="answer tickets", risk_tier=tier, data_sources=["crm"],
                      expected_users=10, status="production", on_call=on_call,
                      targets=targets if targets is not None else {"max_error_rate": 0.05, "latency_p95_ms": 2000}))


def ev(use_case: str = "support-reply", **kw: Any) -> dict[str, Any]:
    base = {"id": uuid.uuid4().hex, "use_case": use_case, "release": None, "unit_id": "u1", "ts": time.time() - 5,
            "latency_ms": 120.0, "status": "ok", "outcome": "success", "tokens": {"input": 100, "output": 20},
            "cost_usd": 0.002}
    base.update(kw)
    return base


def post_events(client, headers, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 1000):
        r = client.post("/api/v1/events", json={"events": events[i:i + 1000]}, headers=headers)
        assert r.status_code == 200, r.text


class Receiver:
    """A local HTTP server answering webhooks with a chosen status, or too slowly (timeout)."""

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.status, self.delay_s = status, delay_s
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                try:
                    self.send_response(outer.status)
                    self.send_header("content-type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps({"ok": outer.status < 300}).encode())
                except OSError:
                    pass

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(status: int = 200, delay_s: float = 0.0) -> Receiver:
        r = Receiver(status, delay_s)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
