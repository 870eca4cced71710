"""Issue 16.5: eval HTTP and OpenAI-compatible targets and LLM judges cannot reach internal addresses unless the
operator lists them: a literal internal host is a 422, a name resolving inside fails its cases as 'refused'."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from takeoff.app import create_app

from .conftest import jsonl, rows


@pytest.fixture
def strict(settings, engine):  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"outbound_allow_hosts": ""}), engine=engine, start_worker=False)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("target, scorers", [
    ({"type": "http", "url": "http://127.0.0.1:9/answer"}, [{"type": "exact"}]),
    ({"type": "http", "url": "http://169.254.169.254/latest/meta-data/iam"}, [{"type": "exact"}]),
    ({"type": "http", "url": "http://[::1]:9/answer"}, [{"type": "exact"}]),
    ({"type": "openai", "base_url": "http://10.0.0.1/v1", "model": "m"}, [{"type": "exact"}]),
    ({"type": "openai", "base_url": "http://localhost:11434/v1", "model": "m"}, [{"type": "exact"}]),
    ({"type": "http", "url": "https://model.example/answer"},
     [{"type": "llm_judge", "base_url": "http://192.168.1.5/v1", "model": "j", "rubric": "be right"}]),
])
def test_literal_internal_targets_and_judges_are_refused(strict, users, use_case, target, scorers):
    eng = users.headers("ai_engineer")
    strict.post("/api/v1/evalsets/golden/versions?create=true", content=jsonl(rows(2)), headers=eng)
    r = strict.post("/api/v1/evalruns", headers=eng, json={"eval_set": "golden", "target": target,
                                                            "scorers": scorers})
    assert r.status_code == 422, r.text
    assert "TAKEOFF_OUTBOUND_ALLOW_HOSTS" in r.json()["error"]["message"]


class _Echo(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"output": "a0"}')

    def log_message(self, *a) -> None:  # type: ignore[no-untyped-def]
        pass


def test_a_target_name_resolving_inside_fails_its_cases_as_refused(strict, users, use_case, monkeypatch):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, *a, **kw):  # type: ignore[no-untyped-def]
        if host == "model.rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, family, type, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    before = _Echo.hits
    try:
        eng = users.headers("ai_engineer")
        strict.post("/api/v1/evalsets/golden/versions?create=true", content=jsonl(rows(3)), headers=eng)
        r = strict.post("/api/v1/evalruns", headers=eng, json={
            "eval_set": "golden", "scorers": [{"type": "exact"}],
            "target": {"type": "http", "url": f"http://model.rebind.example:{srv.server_address[1]}/a",
                       "response_path": "output"}})
        assert r.status_code == 202, r.text
        strict.app.state.worker.drain()
        got = strict.get(f"/api/v1/evalruns/{r.json()['id']}", headers=eng).json()
        assert got["status"] == "done" and got["summary"]["passed"] == 0
        fails = strict.get(f"/api/v1/evalruns/{r.json()['id']}/failures", headers=eng).json()["items"]
        assert len(fails) == 3 and all(f["error"].startswith("refused:") and "loopback" in f["error"] for f in fails)
        assert _Echo.hits == before  # nothing reached the internal server
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_listed_name_is_called_at_its_checked_address(monkeypatch):
    """The HTTP client connects through the guarded resolver: a listed name reaches the address it resolved to,
    an unlisted one resolving to the same address does not."""
    import asyncio

    from takeoff.core import netguard
    from takeoff.evals.targets import HttpTarget, RetryPolicy, TargetError

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, *a, **kw):  # type: ignore[no-untyped-def]
        if host in ("model.corp.example", "model.other.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, family, type, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    netguard.configure(netguard.parse_allow("*.corp.example"))

    def call(host: str):  # type: ignore[no-untyped-def]
        target = HttpTarget(f"http://{host}:{srv.server_address[1]}/a", response_path="output",
                            retry=RetryPolicy(max_attempts=1))

        async def go():  # type: ignore[no-untyped-def]
            try:
                return await target.call("q")
            finally:
                await target.aclose()

        return asyncio.run(go())

    try:
        before = _Echo.hits
        assert call("model.corp.example").output == "a0" and _Echo.hits == before + 1
        with pytest.raises(TargetError) as info:
            call("model.other.example")
        assert info.value.kind == "refused" and _Echo.hits == before + 1
    finally:
        srv.shutdown()
        srv.server_close()
