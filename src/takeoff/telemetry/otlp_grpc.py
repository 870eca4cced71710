"""OTLP over gRPC: the collector's `TraceService/Export` on its own port (`takeoff serve --otlp-grpc-port 4317`,
off by default), with the bearer-token auth of the HTTP API (metadata `authorization: Bearer <token>`, the same
lockout of an address sending bad tokens and the same per-token limits) and the ingestion path of POST /v1/traces
(otlp_ingest). Errors map onto gRPC codes as the OTLP specification reads them: a bad body INVALID_ARGUMENT, no or
a bad token UNAUTHENTICATED, a missing permission PERMISSION_DENIED, a rate limit RESOURCE_EXHAUSTED."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import grpc

from takeoff.auth import service as auth
from takeoff.auth import throttle
from takeoff.core.actor import Actor
from takeoff.core.db import read_session
from takeoff.core.errors import AppError, Unauthorized
from takeoff.telemetry import otlp, otlp_ingest, rollup

log = logging.getLogger("takeoff.otlp")
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PATH = "/v1/traces"  # the per-token limits count a gRPC export as an OTLP/HTTP one
CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
         403: grpc.StatusCode.PERMISSION_DENIED, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
         422: grpc.StatusCode.INVALID_ARGUMENT, 429: grpc.StatusCode.RESOURCE_EXHAUSTED}


def peer_address(peer: str) -> str:
    """The client's IP address from a gRPC peer string (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or "unknown"


def bearer_actor(state: Any, session: Any, header: str, address: str) -> Actor:
    """The token's actor as the HTTP API resolves it (deps._bearer): an address that sent too many bad tokens waits,
    and each token is rate limited."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("the authorization metadata must be 'Bearer <token>'")
    settings, engine = state.settings, state.engine
    reads = read_session(engine) if engine.dialect.name == "sqlite" else nullcontext(session)
    with reads as reader:
        throttle.check_token_address(reader, settings, address)
        try:
            actor, due = auth.lookup_token(reader, secret.strip())
        except Unauthorized:
            actor = None
    if actor is None:
        locked = throttle.token_failed(state.factory, settings, address)
        raise locked or Unauthorized(auth.BAD_TOKEN)
    if due:
        auth.touch_token(session, actor.token_id)
    state.limits.check_request(actor, PATH)
    return actor


def export_handler(state: Any) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    """TraceService/Export over the app's state: the raw request bytes in, the serialized response out."""

    def export(body: bytes, context: grpc.ServicerContext) -> bytes:
        meta = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        session = state.factory()
        try:
            actor = bearer_actor(state, session, meta.get("authorization", ""), peer_address(context.peer()))
            actor.require("telemetry.ingest")
            refused = otlp_ingest.ingest_export(
                session, actor, body, "application/x-protobuf", None, late_s=state.settings.late_event_seconds,
                unit_key=rollup.unit_key(state.settings.resolved_secret_key), limits=state.limits,
                seen=otlp_ingest.seen_traces(state))
            session.commit()
        except otlp.OtlpError as exc:
            session.rollback()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except AppError as exc:
            session.rollback()
            context.abort(CODES.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT), exc.message)
        except Exception:
            session.rollback()
            log.exception("OTLP/gRPC export failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal error")
        finally:
            session.close()
        return otlp.response(None, refused)[0]

    return export


def start(state: Any, host: str, port: int, workers: int = 4) -> tuple[grpc.Server, int]:
    """A started gRPC server answering TraceService/Export on host:port (0: any free port); returns it and the
    bound port. Messages are bounded like HTTP bodies (TAKEOFF_MAX_BODY_BYTES); gzip is gRPC's own."""
    server = grpc.server(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="takeoff-otlp-grpc"),
                         options=[("grpc.max_receive_message_length", state.settings.max_body_bytes)])
    handler = grpc.method_handlers_generic_handler(SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(
        export_handler(state))})  # no (de)serializers: bytes in and out, parsed by otlp.parse like HTTP's
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    server.start()
    log.info("OTLP/gRPC listening on %s:%s", host, bound)
    return server, bound
