"""OTLP over gRPC: the same bearer tokens, permissions, mapping and partial_success as OTLP/HTTP; errors as gRPC codes."""
from __future__ import annotations

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.telemetry import otlp_grpc
from takeoff.telemetry.models import TelemetryEvent
from tests.telemetry.test_telemetry_otlp_mapping import export, span


@pytest.fixture
def grpc_export(app):
    server, port = otlp_grpc.start(app.state, "127.0.0.1", 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel.unary_unary(f"/{otlp_grpc.SERVICE}/Export")  # bytes in, bytes out
    channel.close()
    server.stop(grace=None)


def _code(call, body: bytes, token: str | None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call(body, metadata=[("authorization", token)] if token else None, timeout=20)
    return err.value.code()


def test_grpc_export_maps_like_http_and_refuses_without_a_good_token(grpc_export, users, factory):
    req = export(span(1, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                          "gen_ai.usage.input_tokens": 9}),
                 span(2, {"openinference.span.kind": "NEW_KIND"}, trace=bytes(16 * [2])), service="grpc-svc")
    body = req.SerializeToString()
    assert _code(grpc_export, body, None) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(grpc_export, body, "Bearer not-a-token") == grpc.StatusCode.UNAUTHENTICATED
    assert _code(grpc_export, body, "Basic abc") == grpc.StatusCode.UNAUTHENTICATED
    assert _code(grpc_export, body, users.headers("viewer")["Authorization"]) == grpc.StatusCode.PERMISSION_DENIED
    token = users.headers("ai_engineer")["Authorization"]
    assert _code(grpc_export, b"\xff\xff\xff garbage", token) == grpc.StatusCode.INVALID_ARGUMENT
    with transaction(factory) as s:
        assert s.scalars(select(TelemetryEvent)).first() is None  # nothing was half-written
    resp = ExportTraceServiceResponse()
    resp.ParseFromString(grpc_export(body, metadata=[("authorization", token)], timeout=20))
    assert resp.partial_success.rejected_spans == 1 and "NEW_KIND" in resp.partial_success.error_message
    with transaction(factory) as s:
        (row,) = s.scalars(select(TelemetryEvent))
        assert row.use_case == "grpc-svc" and row.data["tokens"] == {"input": 9} and row.source == "otlp"


def test_peer_address():
    assert otlp_grpc.peer_address("ipv4:127.0.0.1:5000") == "127.0.0.1"
    assert otlp_grpc.peer_address("ipv6:[::1]:5000") == "::1"
    assert otlp_grpc.peer_address("unix:/tmp/x") == "unix:/tmp/x"


def test_the_app_serves_grpc_on_the_configured_port_while_it_runs(settings, engine, users):
    import socket

    from fastapi.testclient import TestClient

    from takeoff.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings.model_copy(update={"otlp_grpc_port": port}), engine=engine, start_worker=False)
    token = users.headers("ai_engineer")["Authorization"]
    with TestClient(app), grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # the lifespan starts it
        call = channel.unary_unary(f"/{otlp_grpc.SERVICE}/Export")
        resp = ExportTraceServiceResponse()
        resp.ParseFromString(call(export(span(1, {"gen_ai.operation.name": "chat"})).SerializeToString(),
                                  metadata=[("authorization", token)], timeout=20))
        assert resp.partial_success.rejected_spans == 0
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # and stops it with the app
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary(f"/{otlp_grpc.SERVICE}/Export")(b"", timeout=2)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_serve_refuses_a_bad_grpc_port_with_exit_code_2():
    from typer.testing import CliRunner

    from takeoff.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--otlp-grpc-port", "70000"])
    assert result.exit_code == 2 and "otlp-grpc-port" in result.output
    assert "--otlp-grpc-port" in CliRunner().invoke(cli, ["serve", "--help"]).output
