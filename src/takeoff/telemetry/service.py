"""Telemetry ingestion, the write path: idempotent storage of raw events and the fold of only the new ones into
rollup deltas (merged later by `compaction.compact_rollups`).

The only writer of telemetry events. Ingestion is not audited per batch (telemetry is data, not a governance
change, and the hash-chained audit log is serialised). The other modules of the domain: `store` (the dialect
writes), `lookups` (the per-batch read cache), `compaction`, `window` and `series` (reads, from rollups only),
`overview`, `baselines`, `feedback`, `retention`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor
from takeoff.core.db import read_session, utcnow
from takeoff.core.observability import INGEST_REJECTED, INGESTED
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import requests_store, rollup, unit_index
from takeoff.telemetry.baselines import current_baseline
from takeoff.telemetry.common import TelemetryInvalid
from takeoff.telemetry.common import dt as _dt
from takeoff.telemetry.common import epoch as _epoch
from takeoff.telemetry.ingest import (DROP_TEXT_FIELDS, EVENT_TEXT_FIELDS, NESTED_FIELDS, nul_errors,
                                      release_errors, timing_errors)
from takeoff.telemetry.group_commit import GroupSlot
from takeoff.telemetry.lookups import LOOKUPS as _LOOKUPS
from takeoff.telemetry.store import SQLITE as SQLITE_STORE
from takeoff.telemetry.store import EventStore, store_for
from takeoff.telemetry.store import json_text as _json


def _pricer(session: Session) -> Callable[[str | None, str, float, dict[str, int]], float | None] | None:
    """Cost from the model catalog, at the price in force at each event's time. A model's whole price schedule is
    read once per batch."""
    cache: dict[tuple[str | None, str], list[tuple[datetime, dict[str, float]]]] = {}

    def price(provider: str | None, model: str, ts: float, tokens: dict[str, int]) -> float | None:
        key = (provider, model)
        if key not in cache:
            try:
                with session.begin_nested():
                    cache[key] = catalog.price_schedule(session, provider, model)
            except Exception:  # a catalog problem must not refuse telemetry
                cache[key] = []
        try:
            prices = catalog.price_in_force(cache[key], _dt(ts))
            return float(catalog.cost_usd(prices, tokens)) if prices else None
        except Exception:
            return None

    return price


def _discover_one(session: Session, actor: Actor, key: str) -> None:
    """Register an unknown use-case key as discovered (shadow AI) so telemetry is never dropped (idempotent)."""
    portfolio.ensure_discovered(session, actor, key)


# ---------------------------------------------------------------------------------------------------- ingestion
_INGEST_SLOT = GroupSlot()


def ingest_grouped(session: Session, prepare: Callable[[], Callable[[Session], tuple[int, int]]]) -> tuple[int, int]:
    """`prepare` (decode, checks, the read phase: `prepare_ingest`) in the process's ingest slot, then its write
    phase in a group commit with the batches queued behind it (telemetry.group_commit); returns (accepted,
    duplicates) once the commit that holds them is done. Both routes (POST /api/v1/events and OTLP) come here.

    One batch's CPU work at a time per process (serve runs a process per core): two batches in one process only
    shared its GIL, and the one inside the SQLite write lock waited for the GIL after every statement while the
    other validated, so the lock was held 3-4x its work and the other process idled on it. The session's pending
    write (a token's last-use stamp) is committed before waiting: a thread holding the SQLite write lock while it
    waits for the slot would deadlock with the slot's holder waiting for that lock."""
    session.commit()
    result: tuple[int, int] = _INGEST_SLOT.ingest(session, prepare)
    return result


def ingest_events(session: Session, actor: Actor, events: Sequence[dict[str, Any]], *, late_s: int,
                  unit_key: bytes, source: str = "json", now: datetime | None = None,
                  dropped: Sequence[dict[str, Any]] = (), may_hold_nul: bool = True) -> tuple[int, int]:
    """Store new events (`prepare_ingest`, then its write phase in `session`); the caller commits."""
    return prepare_ingest(session, actor, events, late_s=late_s, unit_key=unit_key, source=source, now=now,
                          dropped=dropped, may_hold_nul=may_hold_nul)(session)


def prepare_ingest(session: Session, actor: Actor, events: Sequence[dict[str, Any]], *, late_s: int,
                   unit_key: bytes, source: str = "json", now: datetime | None = None,
                   dropped: Sequence[dict[str, Any]] = (), may_hold_nul: bool = True
                   ) -> Callable[[Session], tuple[int, int]]:
    """Check and prepare a batch, and return its write phase: a function of the writing session that stores the new
    events (idempotent by id), folds only the new ones into rollups and returns (accepted, duplicates).

    `events` are normalised dicts (see ingest.normalize). A batch holding an event older than `late_s` is refused
    whole (422 naming the index); the caller commits, and acknowledges only after the commit.

    `dropped` (ingest.normalize_drops) is an SDK's report of events it dropped before delivery; it is added to the
    minute of arrival only when the batch stores at least one new event, so the resend of a stored batch (a lost
    answer) does not count it twice. A report therefore needs events beside it (422 otherwise).

    `unit_key` (rollup.unit_key of the server secret, as every ingestion route passes it) keys the unit-id hashes of
    the rollup sketches.

    `may_hold_nul=False` skips the NUL check of the text fields: the JSON endpoint knows a body without the escape
    `\\u0000` cannot hold one (a raw NUL is not valid JSON).

    Two phases, so concurrent batches overlap: lookups (known use cases, baselines, model prices) and the CPU work
    (rows, minute partials) run before the first write, on a separate read connection when the caller's session
    has no transaction open yet (on SQLite that read takes no write lock); the write phase is then the insert of
    the new events, the append of their minute partials as rollup deltas (merged later by `compact_rollups`; no
    hot rollup row is read or locked here) and the caller's commit. The write phase may run in another thread's
    session (a group commit: telemetry.group_commit), after other batches' writes in the same transaction.
    """
    now_s = _epoch(now or utcnow())
    errors = timing_errors(events, now_s, late_s)
    if errors:
        INGEST_REJECTED.labels(source, "time").inc(len(errors))
        raise TelemetryInvalid(f"{len(errors)} event(s) outside the accepted time range, first at {errors[0]['field']}",
                               details=errors)
    # only qualifying a release can make it longer than its column
    errors = release_errors(events) + release_errors(dropped, "dropped")
    invalid = len(errors)
    if may_hold_nul:
        errors += nul_errors(events, "events", EVENT_TEXT_FIELDS) + nul_errors(dropped, "dropped", DROP_TEXT_FIELDS)
    if errors:
        if invalid:
            INGEST_REJECTED.labels(source, "invalid").inc(invalid)
        if len(errors) > invalid:
            INGEST_REJECTED.labels(source, "nul").inc(len(errors) - invalid)
        raise TelemetryInvalid(f"invalid input: {', '.join(d['field'] for d in errors[:10])}", details=errors[:50])
    if dropped and not events:
        INGEST_REJECTED.labels(source, "invalid").inc()
        raise TelemetryInvalid("a drop report rides on a batch of events (it is counted when one of them is new)",
                               details=[{"field": "dropped", "message": "needs at least one event in the batch"}])
    if not events:
        return _nothing
    unique: dict[str, dict[str, Any]] = {}
    for ev in events:
        unique.setdefault(ev["id"], ev)
    event_use_cases = {ev["use_case"] for ev in unique.values()}
    use_cases = event_use_cases | {d["use_case"] for d in dropped}
    store = store_for(session)
    with contextlib.ExitStack() as stack:
        if session.in_transaction():  # inside a caller's write (seeding, tests): read what it has written too
            reader, (known, baselines) = session, _lookups(session, use_cases)
        else:
            reader = stack.enter_context(read_session(session.get_bind()))
            known, baselines = _LOOKUPS.get(reader, use_cases, _lookups)
        stored = store.stored_ids(reader, list(unique))
        rows, partials = _prepare(unique, stored, baselines, _pricer(reader), source, store, unit_key)
        # --- request records (issue 18, telemetry.requests_store): unit ids keyed-hashed per capture policy
        policies = requests_store.policies(reader, event_use_cases)
        rows = requests_store.protect_units(rows, policies, unit_key)
        records = requests_store.prepare((unique[r[0]] for r in rows), policies, store is SQLITE_STORE)
        records.units = unit_index.entries(rows)  # the unit index's, of the protected ids (unit_index)
        # --- end request records
    unknown = use_cases - known

    def write(session: Session) -> tuple[int, int]:
        for key in sorted(unknown & event_use_cases):  # first write: the write phase starts here
            _discover_one(session, actor, key)
        new_ids = store.insert_events(session, rows)
        folded = partials
        if len(new_ids) != len(rows):  # a concurrent batch stored some of them first: fold only the new ones
            folded = _fold([unique[i] for i in sorted(new_ids)], baselines, unit_key)
        # --- request records (issue 18): span trees and captured content of the new events, in bulk
        requests_store.write(session, records, new_ids, store is SQLITE_STORE)
        # --- end request records
        if new_ids:
            for key in sorted(unknown - event_use_cases):  # named only by the report: discovered once it counts
                _discover_one(session, actor, key)
            rollup.add_drops(folded, dropped, now_s)
            store.append_deltas(session, folded)
        INGESTED.labels(source, "stored").inc(len(new_ids))
        INGESTED.labels(source, "duplicate").inc(len(events) - len(new_ids))
        return len(new_ids), len(events) - len(new_ids)

    return write


def _nothing(session: Session) -> tuple[int, int]:
    """The write phase of an empty batch."""
    return 0, 0


def _lookups(session: Session, use_cases: set[str]) -> tuple[set[str], dict[str, dict[str, Any] | None]]:
    """Use-case keys that exist, and each use case's current baseline (the reads of an ingest)."""
    known = set(session.scalars(select(UseCase.key).where(UseCase.key.in_(sorted(use_cases)))))
    return known, {uc: current_baseline(session, uc) for uc in sorted(use_cases)}


def _prepare(unique: dict[str, dict[str, Any]], stored: set[str], baselines: dict[str, dict[str, Any] | None],
             price: Callable[[str | None, str, float, dict[str, int]], float | None] | None, source: str,
             store: EventStore, unit_key: bytes
             ) -> tuple[list[tuple[Any, ...]], dict[tuple[int, int, str, str], dict[str, Any]]]:
    """Row tuples for the insert (sorted by id: one lock order for concurrent batches) and the rollup partials,
    leaving out the ids known to be stored already."""
    if stored:
        unique = {k: v for k, v in unique.items() if k not in stored}
    rows = []
    event_time = store.event_time
    for eid in sorted(unique):
        ev = unique[eid]
        if ev.get("cost_usd") is None and price is not None and ev.get("model") and ev.get("tokens"):
            ev["cost_usd"] = price(ev.get("provider"), ev["model"], ev["ts"], ev["tokens"])
        ts = event_time(ev["ts"])
        data = {k: ev.get(k) or {} for k in NESTED_FIELDS}
        if ev.get("trace_id"):  # request records (issue 18): the trace ids, for the explorer
            data["trace"] = requests_store.trace_of(ev)
        if ev.get("violations"):  # safety findings stay on the request (no content: stage, detector, action)
            data["violations"] = ev["violations"]
        rows.append((eid, ev["use_case"], ev.get("release") or "", ev.get("unit_id"),
                     ts, ev.get("latency_ms"), ev.get("status") or "ok",
                     ev.get("outcome"), ev.get("model"), ev.get("provider"), ev.get("cost_usd"),
                     ev.get("error_category"), ev.get("fallback_reason"), source, _json(data)))
    return rows, _fold(list(unique.values()), baselines, unit_key)


def _fold(events: list[dict[str, Any]], baselines: dict[str, dict[str, Any] | None], unit_key: bytes
          ) -> dict[tuple[int, int, str, str], dict[str, Any]]:
    """Rollup partials of events, each use case binned on its own baseline."""
    by_uc: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_uc.setdefault(ev["use_case"], []).append(ev)
    partials: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    for uc, evs in by_uc.items():
        partials.update(rollup.fold(evs, baselines.get(uc), grains=(60,), key=unit_key))  # coarser grains at compaction
    return partials
