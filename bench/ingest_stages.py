"""Where one ingest's time goes, in process (no HTTP): ms per batch of 500 events for validation, lookups,
preparation (rows + fold), insert, delta append and commit, plus the rollup compaction (run every --compact-every
batches in the same thread, as the server's compactor does every 0.5 s), and events/s single-threaded.

    .venv/bin/python bench/ingest_stages.py [--events 100000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

With --url the stages run on that database (the script creates and drops its own tables there: use a scratch
database). The figures are what bench/README.md cites under ingest_bench.py.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from ingest_bench import make_events  # noqa: E402

from takeoff import migrate  # noqa: E402
from takeoff.core.actor import Actor  # noqa: E402
from takeoff.core.db import Base, make_engine, make_sessionmaker  # noqa: E402
from takeoff.telemetry import rollup, service  # noqa: E402
from takeoff.telemetry.api import _batch_from_body  # noqa: E402
from takeoff.telemetry.compaction import compact_all  # noqa: E402
from takeoff.telemetry.ingest import normalize_batch  # noqa: E402
from takeoff.telemetry.rollup import unit_key as _unit_key  # noqa: E402

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")

SPENT: collections.Counter[str] = collections.Counter()


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            SPENT[name] += time.perf_counter() - t
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--compact-every", type=int, default=20, help="batches between compactions (0: never)")
    args = ap.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'stages.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    for name in ("_lookups", "_prepare", "_insert_events", "_append_deltas"):
        setattr(service, name, timed(name, getattr(service, name)))
    rollup.fold = timed("  of which fold", rollup.fold)
    actor = Actor("bench", ("admin",))
    events = make_events(args.events, "bench-stages")
    bodies = [json.dumps({"events": events[i:i + args.batch]}).encode() for i in range(0, len(events), args.batch)]

    def one(body: bytes) -> None:
        t = time.perf_counter()
        batch = normalize_batch(_batch_from_body(body)["events"])
        SPENT["validate"] += time.perf_counter() - t
        with factory() as s:
            service.ingest_events(s, actor, batch, late_s=86400, unit_key=TEST_UNIT_KEY)
            t = time.perf_counter()
            s.commit()
            SPENT["commit"] += time.perf_counter() - t

    try:
        one(json.dumps({"events": make_events(10, "bench-stages")}).encode())  # warm-up
        SPENT.clear()
        started = time.perf_counter()
        for i, body in enumerate(bodies, 1):
            one(body)
            if args.compact_every and (i % args.compact_every == 0 or i == len(bodies)):
                t = time.perf_counter()
                compact_all(factory)
                SPENT["compaction (amortised)"] += time.perf_counter() - t
        elapsed = time.perf_counter() - started
        print(f"ingest stages, {args.events} events in batches of {args.batch}, {engine.dialect.name}, one thread:")
        fold = SPENT.pop("  of which fold", 0.0)
        for name, seconds in SPENT.most_common():
            print(f"  {name:18s} {seconds / len(bodies) * 1000:6.2f} ms/batch")
            if name == "_prepare":  # fold runs inside _prepare
                print(f"  {'  of which fold':18s} {fold / len(bodies) * 1000:6.2f} ms/batch")
        print(f"  total              {elapsed / len(bodies) * 1000:6.2f} ms/batch -> {args.events / elapsed:,.0f} events/s")
    finally:
        if args.url:
            Base.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()


if __name__ == "__main__":
    main()
