"""Structured logs and request ids: every response and error body names its request, the access line is JSON with the
route template, and a bad log setting is a start-up error naming the variable."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.core import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON logs into a buffer for the test, then the root logger as it was."""
    root = logging.getLogger()
    before = (root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled)
    stream = io.StringIO()
    logs.configure("json", "INFO", stream=stream)
    yield stream
    root.handlers[:], level, disabled = before
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = disabled


def test_every_response_carries_a_request_id(client) -> None:
    fresh = client.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.1"}).headers["x-request-id"] == "lb-7f3a.1"
    hostile = client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 30})
    assert hostile.headers["x-request-id"] != "a b\tc" * 30 and len(hostile.headers["x-request-id"]) == 32


def test_error_bodies_name_the_request(client, admin) -> None:
    r = client.get("/api/v1/usecases/no-such-case", headers={**admin, "X-Request-ID": "ticket-42"})
    assert r.status_code == 404
    assert r.json()["error"]["request_id"] == "ticket-42" == r.headers["x-request-id"]
    guarded = client.post("/api/v1/usecases", content=b"[" * 500 + b"]" * 500,
                          headers={**admin, "content-type": "application/json"})
    assert guarded.status_code == 400 and guarded.json()["error"]["request_id"] == guarded.headers["x-request-id"]


def test_access_line_is_json_with_route_template(client, admin, captured: io.StringIO) -> None:
    client.get("/api/v1/usecases/some-key", headers={**admin, "X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    access = [ln for ln in lines if ln.get("logger") == "takeoff.access"]
    assert access, captured.getvalue()
    last = access[-1]
    assert last["route"] == "/api/v1/usecases/{key}" and last["status"] == 404
    assert last["request_id"] == "trace-me" and last["method"] == "GET" and last["duration_ms"] >= 0
    assert last["level"] == "info" and "timestamp" in last


def test_text_format_on_request() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        logs.configure("text", "INFO", stream=stream)
        logging.getLogger("takeoff.test").info("hello %s", "world")
    finally:
        root.handlers[:], level = before
        root.setLevel(level)
    out = stream.getvalue()
    assert "hello world" in out and not out.lstrip().startswith("{")
    with pytest.raises(ValueError, match="log format must be one of"):
        logs.configure("xml")


def test_bad_log_setting_is_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TAKEOFF_LOG_FORMAT", "xml")
    r = CliRunner().invoke(cli, ["worker"])
    assert r.exit_code == 2 and "log_format" in r.output.lower()
