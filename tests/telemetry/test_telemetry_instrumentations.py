"""The real instrumentations of the `openai` client (the OpenTelemetry project's, Arize's OpenInference, Traceloop's)
against a local OpenAI-compatible server, exported by the OpenTelemetry SDK (OTLP/HTTP, and gRPC for one) to a
running takeoff: calls, errors, tokens by kind, cost, model and provider as stored; content and span tree as mapped.
Each package runs in its own process (tests/telemetry/instrumented_app.py): they patch the same client."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.telemetry import otlp
from takeoff.telemetry.models import TelemetryEvent

APP = Path(__file__).with_name("instrumented_app.py")
PRICES = {"input": 2.0, "output": 8.0, "cache_read": 0.5, "cache_write": 3.0, "reasoning": 12.0}  # USD per 1M
FULL = {"input": 120, "output": 40, "cache_read": 64, "reasoning": 16}
# what each package reports of the same answer (the OpenTelemetry one sends no cached and no reasoning count)
TOKENS = {"otel": {"input": 120, "output": 40}, "openinference": FULL, "traceloop": FULL}


def _cost(tokens: dict[str, int]) -> float:
    cr, rs = tokens.get("cache_read", 0), tokens.get("reasoning", 0)
    return ((tokens["input"] - cr) * PRICES["input"] + cr * PRICES["cache_read"]
            + (tokens["output"] - rs) * PRICES["output"] + rs * PRICES["reasoning"]) / 1e6


def _start(package: str, protocol: str, endpoint: str, token: str, service: str, dump: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_"))}
    return subprocess.Popen([sys.executable, str(APP), package, protocol, endpoint, token, service, str(dump)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen[str], dump: Path) -> ExportTraceServiceRequest:
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    req = ExportTraceServiceRequest()
    req.ParseFromString(dump.read_bytes())
    return req


@pytest.fixture
def priced(client, admin):
    r = client.post("/api/v1/catalog/models", headers=admin, json={
        "provider": "openai", "model": "gpt-4o-mini", "approved_tiers": ["low"],
        "price": {**PRICES, "effective_from": (datetime.now(UTC) - timedelta(days=1)).isoformat()}})
    assert r.status_code == 201, r.text


def _rows(factory, use_case: str) -> list[TelemetryEvent]:
    with transaction(factory) as s:
        return list(s.scalars(select(TelemetryEvent).where(TelemetryEvent.use_case == use_case)
                              .order_by(TelemetryEvent.ts)))


def _check(package: str, rows: list[TelemetryEvent], req: ExportTraceServiceRequest) -> None:
    """Three calls, one an error; tokens by kind, cost, model and provider stored; content and tree mapped."""
    assert len(rows) == 3, [(r.model, r.status) for r in rows]  # the "agent run" wrapper is no fourth call
    ok, err = [r for r in rows if r.status == "ok"], [r for r in rows if r.status == "error"]
    assert len(ok) == 2 and len(err) == 1
    assert err[0].error_category == "InternalServerError" and err[0].model == "boom"
    for r in ok:
        assert r.model == "gpt-4o-mini-2024-07-18" and r.provider == "openai" and r.source == "otlp"
        assert r.data["tokens"] == TOKENS[package]
        assert r.cost_usd == pytest.approx(_cost(TOKENS[package]))
    assert err[0].provider == "openai" and not err[0].data.get("tokens")
    mapped = otlp.span_events(req)
    assert mapped.refused == [] and len(mapped.events) == 3
    first, tool, failed = sorted(mapped.events, key=lambda e: e["ts"])
    assert first["content"] == {"system": "Be brief.", "input": [{"role": "user", "content": "Hi"}],
                                "output": [{"role": "assistant", "content": "Hello there"}]}
    assert tool["content"]["input"] == [{"role": "user", "content": "find x"}]
    assert [c["name"] for c in tool["content"]["tool_calls"]] == ["lookup"]
    assert failed["content"]["input"] == [{"role": "user", "content": "Hi"}]
    assert first["trace_id"] == tool["trace_id"] != failed["trace_id"]
    names = {s["name"] for s in first["spans"]}
    assert "agent run" in names and len(first["spans"]) == 3  # the wrapper and both calls
    root = next(s for s in first["spans"] if s["name"] == "agent run")
    assert first["parent_span_id"] == root["span_id"] and root["parent_span_id"] is None
    assert [s["status"] for s in failed["spans"]] == ["error"]
    for ev in mapped.events:
        assert otlp.usable_event(ev)[0] is not None


def test_instrumentations_over_otlp_http(live_server, users, factory, priced, tmp_path):
    token = users.headers("ai_engineer")["Authorization"]
    procs = {p: _start(p, "http", f"{live_server}/v1/traces", token, f"app-{p}", tmp_path / f"{p}.bin")
             for p in TOKENS}  # at once: each is mostly its own interpreter starting
    reqs = {p: _wait(proc, tmp_path / f"{p}.bin") for p, proc in procs.items()}
    for package, req in reqs.items():
        _check(package, _rows(factory, f"app-{package}"), req)


def test_openinference_over_otlp_grpc(app, users, factory, priced, tmp_path):
    from takeoff.telemetry import otlp_grpc

    server, port = otlp_grpc.start(app.state, "127.0.0.1", 0)
    try:
        token = users.headers("ai_engineer")["Authorization"]
        req = _wait(_start("openinference", "grpc", f"127.0.0.1:{port}", token, "app-grpc", tmp_path / "g.bin"),
                    tmp_path / "g.bin")
    finally:
        server.stop(grace=None)
    _check("openinference", _rows(factory, "app-grpc"), req)
