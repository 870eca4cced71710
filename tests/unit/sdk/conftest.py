"""A real local HTTP server that plays the takeoff server for SDK tests: de-duplicates event ids like the real one."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest


class FakeTakeoff:
    """Records every request; can answer with an error code, hang, be down (port closed), or answer per request.

    `respond(path, body)` returning (status, json body) answers a POST instead of the normal handling (None: normal).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[str, dict[str, Any]] = {}   # by id, like the real server
        self.event_posts = 0                           # POST /events requests that reached the server
        self.feedback: dict[str, dict[str, Any]] = {}
        self.active: dict[str, dict[str, Any]] = {}
        self.active_hits = 0
        self.auth: list[str | None] = []
        self.fail_code: int | None = None
        self.respond: Callable[[str, Any], tuple[int, Any] | None] | None = None
        self.posts: list[tuple[str, Any]] = []        # every POST that reached the server, answered or not
        self.hang = threading.Event()   # set = requests hang until released
        self.release = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _gate(self) -> bool:
                with fake.lock:
                    fake.auth.append(self.headers.get("Authorization"))
                if fake.hang.is_set():
                    fake.release.wait(30)
                if fake.fail_code is not None:
                    self._answer(fake.fail_code, {"detail": "failing on purpose"})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                parts = self.path.strip("/").split("/")
                if not self._gate():
                    return
                if len(parts) == 5 and parts[:3] == ["api", "v1", "usecases"] and parts[4] == "active":
                    with fake.lock:
                        fake.active_hits += 1
                        body = fake.active.get(parts[3])
                    if body is None:
                        self._answer(404, {"detail": "unknown use case"})
                    else:
                        self._answer(200, body)
                    return
                self._answer(404, {"detail": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._gate():
                    return
                with fake.lock:
                    fake.posts.append((self.path, body))
                answer = fake.respond(self.path, body) if fake.respond is not None else None
                if answer is not None:
                    self._answer(*answer)
                    return
                if self.path == "/api/v1/events":
                    accepted = duplicates = 0
                    with fake.lock:
                        fake.event_posts += 1
                        for e in body["events"]:
                            if e["id"] in fake.events:
                                duplicates += 1
                            else:
                                fake.events[e["id"]] = e
                                accepted += 1
                    self._answer(200, {"accepted": accepted, "duplicates": duplicates})
                elif self.path == "/api/v1/feedback":
                    with fake.lock:
                        fake.feedback[body["id"]] = body
                    self._answer(200, {"accepted": 1, "duplicates": 0})
                else:
                    self._answer(404, {"detail": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take the server down: the port refuses connections until start() is called again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_active(self, use_case: str, releases: list[dict[str, Any]]) -> None:
        with self.lock:
            self.active[use_case] = {"use_case": use_case, "releases": releases}


@pytest.fixture
def fake_server():
    fake = FakeTakeoff()
    fake.start()
    yield fake
    fake.release.set()
    fake.stop()


def release(rid: str, weight: float, model: str = "gpt-x", version: str = "1") -> dict[str, Any]:
    return {"release_id": rid, "version": version, "weight": weight, "model": model, "provider": "openai",
            "prompt": f"prompt of {rid}", "parameters": {"temperature": 0.1}, "fallback_model": "small"}


@pytest.fixture
def make_release():
    return release
