"""One ingestion path for OTLP traces, whichever transport carried them (HTTP `POST /v1/traces` or gRPC
TraceService/Export): decode, map, check, ingest and commit in the caller's worker thread."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.db import read_session, utcnow
from takeoff.core.observability import OTLP_SPANS_REJECTED
from takeoff.ratelimit import TokenLimits
from takeoff.telemetry import otlp, requests_store, service


def seen_traces(state: Any) -> otlp.SeenTraces:
    """The app's memory of the traces it stored lately (one per server process, made on first use)."""
    seen = getattr(state, "otlp_seen_traces", None)
    if seen is None:
        seen = state.otlp_seen_traces = otlp.SeenTraces()
    return seen


def capture_wanted(session: Session) -> Callable[[str], bool]:
    """Whether a use case's capture policy stores content (read through the policy cache, once per use case and
    export): mapping content is about a third of the mapping's cost, wasted where it would not be stored."""
    known: dict[str, bool] = {}

    def wanted(use_case: str) -> bool:
        if "\x00" in use_case:  # no event is made of it (check_events refuses it); PostgreSQL cannot be asked
            return False
        if use_case not in known:
            with read_session(session.get_bind()) as reader:
                known[use_case] = requests_store.policies(reader, [use_case])[use_case].capture
        return known[use_case]

    return wanted


def ingest_export(session: Session, actor: Actor, body: bytes, ctype: str | None, encoding: str | None, *,
                  late_s: int, unit_key: bytes, limits: TokenLimits | None, seen: otlp.SeenTraces | None,
                  content_for: Callable[[str], bool] | None = None) -> list[otlp.Refusal]:
    """Decode, map, check and prepare in the process's ingest slot, then write in a group commit with the batches
    queued behind it (as POST /api/v1/events: telemetry.group_commit), answered after that commit; returns why
    spans were refused, each also counted in takeoff_otlp_spans_rejected_total. OtlpError for a bad body.
    `content_for(use case)`: whether to map content at all (None: where the use case's capture policy stores it).

    The export's traces are remembered in `seen` when they are prepared, not after the commit: an export of the same
    trace that is prepared meanwhile (a collector's concurrent senders) then sees them, as it would one stored."""
    refused: list[otlp.Refusal] = []

    def prepare() -> Callable[[Session], tuple[int, int]]:
        wanted = content_for if content_for is not None else capture_wanted(session)  # content only where stored
        mapped = otlp.span_events(otlp.parse(otlp.decompress(body, encoding), ctype), seen, wanted)
        now = utcnow()  # one clock for both checks: a span passing the first must not fail the second
        events, late = otlp.check_events(mapped.events, now.timestamp(), late_s)
        refused.extend(mapped.refused + late)
        if limits is not None:  # events per second per token: 429 before anything is written
            limits.charge_events(actor, len(events))
        write = service.prepare_ingest(session, actor, events, late_s=late_s, unit_key=unit_key, source="otlp",
                                       now=now, may_hold_nul=False)  # check_events left NULs out already
        if seen is not None:
            seen.add(events)
        return write

    service.ingest_grouped(session, prepare)
    for r in refused:
        OTLP_SPANS_REJECTED.labels(r.reason).inc()
    return refused
