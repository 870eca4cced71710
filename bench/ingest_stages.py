"""Where one ingest's CPU goes, in process (no HTTP): ms of CPU per batch of 500 for decoding, preparation (rows +
fold), request records (redaction, content and span rows), the inserts, the delta append and the commit, for the
stream shape, the stream with content and capture on, or OTLP spans; plus the rollup compaction (every
--compact-every batches in the same thread, as the server's compactor does every 0.5 s) and the text search blocks
of the content stored since (text_index.index_all, the compactor's next step).

    .venv/bin/python bench/ingest_stages.py [--events 20000] [--shape stream|capture|otlp]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--profile] [--threads 4] [--prefill N] [--w3c-ids]
        [--drop-index NAME]

CPU is this thread's (time.thread_time: on SQLite the database's work is in it too; PostgreSQL's server CPU is not),
so the figures hold on a busy machine better than wall time does. --threads N sends from N threads at once, as a
server process's thread pool does, so batches queue for the ingest slot and share commits (telemetry.group_commit);
the total is then the process's CPU, and the commits made are counted. The heap is frozen before the clock starts,
as `takeoff serve` freezes its startup heap, and the generated events are dropped first: otherwise every full
collection walks them (it doubled the capture shape's decode time). With --url the stages run on that database (the
script creates and drops its own tables there: use a scratch database). --profile prints cProfile's top functions.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import gc
import json
import os
import sqlite3
import pstats
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from ingest_bench import make_events, make_span_bodies, with_content  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from takeoff import migrate  # noqa: E402
from takeoff.core.actor import Actor  # noqa: E402
from takeoff.core.db import Base, make_engine, make_sessionmaker  # noqa: E402
from takeoff.sdk.ids import uuid7_hex  # noqa: E402
from takeoff.telemetry import api, capture, otlp, otlp_ingest, otlp_trace, requests_store, service  # noqa: E402
from takeoff.telemetry import store as event_store  # noqa: E402
from takeoff.telemetry import text_index, unit_index  # noqa: E402
from takeoff.telemetry.compaction import compact_all  # noqa: E402
from takeoff.telemetry.rollup import unit_key as _unit_key  # noqa: E402

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")
SPENT: collections.Counter[str] = collections.Counter()


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            SPENT[name] += time.thread_time() - t
    return wrapper


def instrument() -> None:
    """Wrap each stage of the ingest path with a CPU timer."""
    for cls in (event_store.SqliteStore, event_store.PostgresStore):
        for m in ("stored_ids", "insert_events", "append_deltas"):
            setattr(cls, m, timed(f"store.{m}", getattr(cls, m)))
    service._prepare = timed("rows + fold", service._prepare)
    service._fold = timed("  of which fold", service._fold)
    requests_store.protect_units = timed("unit ids hashed", requests_store.protect_units)
    requests_store.prepare = timed("records: redaction, rows", requests_store.prepare)
    requests_store.write = timed("records: insert", requests_store.write)
    api._batch_from_body = timed("decode (JSON)", api._batch_from_body)
    otlp.parse = timed("decode (OTLP)", otlp.parse)
    otlp.span_events = timed("OTLP mapping", otlp.span_events)
    otlp.check_events = timed("OTLP EventIn check", otlp.check_events)
    Session.commit = timed("commit", Session.commit)


def prefill(factory: Callable[[], Session], use_case: str, n: int, otlp_shape: bool) -> None:
    """`n` stored requests from the last 20 hours, in one transaction of raw inserts (no mapping: only the tables'
    size matters here). OTLP: an event row and its span row each, ids by the mapper's own rule
    (takeoff.sdk.ids.span_request_id; --w3c-ids: the old one). Otherwise the SDK's events: UUIDv7 ids, and the unit
    ids of make_events (997 users) keyed-hashed as stored."""
    t0 = time.time() - 20 * 3600
    started = time.perf_counter()
    with factory() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        conn = s.connection()
        for start in range(0, n, 5000):
            events, spans = [], []
            for i in range(start, min(n, start + 5000)):
                ts = t0 + i * (20 * 3600 / n)
                when = event_store.SQLITE.event_time(ts) if sqlite else event_store.POSTGRES.event_time(ts)
                if otlp_shape:
                    tid, sid = os.urandom(16).hex(), os.urandom(8).hex()
                    eid, unit = otlp_trace.span_request_id(tid, sid, int(ts * 1e9)), None
                    spans.append((eid, sid, tid, None, "chat gpt-4o", "client", "unset", when, 400.0, "{}"))
                else:
                    eid, unit = uuid7_hex(int(ts * 1000)), capture.unit_ref(f"u{i % 997}", TEST_UNIT_KEY)
                events.append((eid, use_case, "", unit, when, 400.0, "ok", None, "gpt-4o", "openai", None, None,
                               None, "otlp" if otlp_shape else "json", '{"tokens":{"input":700,"output":90}}'))
            ph = "?" if sqlite else "%s"
            conn.exec_driver_sql(f"INSERT INTO telemetry_events ({', '.join(event_store.EVENT_COLS)}) VALUES "
                                 f"({', '.join([ph] * 15)})", events)
            if spans:
                conn.exec_driver_sql("INSERT INTO telemetry_spans (event_id, span_id, trace_id, parent_span_id, "
                                     f"name, kind, status, start, duration_ms, attributes) VALUES "
                                     f"({', '.join([ph] * 10)})", spans)
        # SQLite's unit index as merges would have left it (tele0016): every stored request's entry, in key order
        if sqlite:
            conn.exec_driver_sql("INSERT INTO telemetry_unit_refs (unit_id, ts, event_id) SELECT unit_id, ts, id "
                                 "FROM telemetry_events WHERE unit_id IS NOT NULL ORDER BY 1, 2, 3")
        s.commit()
        path = s.get_bind().url.database if sqlite else None
    if path:  # as the server's checkpointer would have done meanwhile
        with contextlib.closing(sqlite3.connect(path)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"prefilled {n:,} requests in {time.perf_counter() - started:.0f} s", flush=True)


def merge_units(factory: Callable[[], Session], last: bool) -> None:
    """The compactor's unit index merge (takeoff.telemetry.unit_index): once MERGE_MIN entries are queued, and at
    the end (the server's clock also merges every MERGE_EVERY_S)."""
    with factory() as s:
        if not last and unit_index.pending(s) < unit_index.MERGE_MIN:
            return
    t = time.thread_time()
    unit_index.merge_all(factory)  # type: ignore[arg-type]
    SPENT["unit index merges (amortised)"] += time.thread_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--shape", choices=("stream", "capture", "otlp"), default="stream")
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--compact-every", type=int, default=20, help="batches between compactions (0: never)")
    ap.add_argument("--no-freeze", action="store_true", help="leave the startup heap to the garbage collector")
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions (slows every stage)")
    ap.add_argument("--threads", type=int, default=1, help="senders at once (>1: batches share commits)")
    ap.add_argument("--w3c-ids", action="store_true",
                    help="OTLP request ids as before 2026-12-07 (trace id + span id: random), to compare")
    ap.add_argument("--prefill", type=int, default=0,
                    help="requests stored before the clock starts (a table of millions shows what each index's order "
                         "costs a batch)")
    ap.add_argument("--drop-index", default=None, metavar="NAME",
                    help="drop this index after the prefill (what it costs each batch on a large table)")
    args = ap.parse_args()
    if args.w3c_ids:
        otlp_trace.span_request_id = lambda tid, sid, end: tid + sid
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'stages.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    actor = Actor("bench", ("admin",))
    use_case = f"bench-stages-{args.shape}"
    if args.shape == "otlp":
        bodies = make_span_bodies(args.events, 500, use_case)
    else:
        events = make_events(args.events, use_case)
        if args.shape == "capture":
            events = with_content(events)
        bodies = [json.dumps({"events": events[i:i + 500]}).encode() for i in range(0, len(events), 500)]
    seen = otlp.SeenTraces()

    def one(body: bytes) -> None:
        with factory() as s:
            if args.shape == "otlp":
                otlp_ingest.ingest_export(s, actor, body, "application/x-protobuf", None, late_s=86400,
                                          unit_key=TEST_UNIT_KEY, limits=None, seen=seen)
            else:
                api._ingest_and_commit(s, actor, body, 86400, TEST_UNIT_KEY)

    try:
        with factory() as s:  # warm-up (discovers the use case), then the capture policy
            api._ingest_and_commit(s, actor, json.dumps({"events": make_events(10, use_case)}).encode(), 86400,
                                   TEST_UNIT_KEY)
            if args.shape == "capture":
                requests_store.set_policy(s, actor, capture.make_policy(use_case, True))
                s.commit()
        if args.prefill:
            prefill(factory, use_case, args.prefill, args.shape == "otlp")
        if args.drop_index:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP INDEX "{args.drop_index}"')
        instrument()
        if args.shape != "otlp":
            del events
        if not args.no_freeze:  # as `takeoff serve` (app.freeze_startup_heap): the collector walks only what ingestion makes
            gc.collect()
            gc.freeze()
        profile = cProfile.Profile() if args.profile else None
        clock = time.thread_time if args.threads == 1 else time.process_time
        commits0 = getattr(service._INGEST_SLOT, "commits", 0)
        started, cpu0 = time.perf_counter(), clock()
        if profile:
            profile.enable()
        if args.threads == 1:
            for i, body in enumerate(bodies, 1):
                one(body)
                if args.compact_every and (i % args.compact_every == 0 or i == len(bodies)):
                    t = time.thread_time()
                    compact_all(factory)
                    SPENT["compaction (amortised)"] += time.thread_time() - t
                    t = time.thread_time()
                    text_index.index_all(factory)
                    SPENT["text search blocks (amortised)"] += time.thread_time() - t
                    merge_units(factory, last=i == len(bodies))
        else:
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(one, bodies))
            t = time.thread_time()
            compact_all(factory)
            SPENT["compaction (amortised)"] += time.thread_time() - t
            t = time.thread_time()
            text_index.index_all(factory)
            SPENT["text search blocks (amortised)"] += time.thread_time() - t
            merge_units(factory, last=True)
        if profile:
            profile.disable()
        elapsed, cpu = time.perf_counter() - started, clock() - cpu0
        n = len(bodies)
        commits = getattr(service._INGEST_SLOT, "commits", 0) - commits0
        who = "one thread" if args.threads == 1 else f"{args.threads} threads, {n / max(commits, 1):.1f} batches a commit"
        print(f"ingest stages, {args.shape}, {args.events} in batches of 500, {engine.dialect.name}, {who} "
              f"(CPU ms per batch):")
        for name, seconds in SPENT.most_common():
            print(f"  {name:26s} {seconds / n * 1000:6.2f}")
        print(f"  {'total CPU':26s} {cpu / n * 1000:6.2f}   (wall {elapsed / n * 1000:.2f} ms/batch, "
              f"{args.events / elapsed:,.0f}/s)")
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        if args.url:
            Base.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()


if __name__ == "__main__":
    main()
