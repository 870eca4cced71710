"""What the order of ids and times costs SQLite's write of an event batch: ms per 500-row INSERT and per commit, and
the WAL written, for SDK (UUIDv7) or random uuid4 ids, times in send order or every batch over the same minute.

    .venv/bin/python bench/sqlite_event_indexes.py [--events 100000] [--per-index]

Raw sqlite3 on the migrated `telemetry_events` table (its id and (use_case, ts) indexes), rows as ingestion makes
them, one multi-row INSERT per batch as ingestion does; WAL, synchronous=NORMAL, no checkpoint during the run. The
cost is index pages: an entry that lands next to the previous batch's shares its page, one that lands anywhere
dirties a page of its own, and every dirty page is a WAL frame at commit.

--per-index: the stream shape with unit ids keyed-hashed as stored, CPU per batch (insert + commit) with every index,
without each of tele0009's (unit, model, provider with time), and with every index but four batches per commit.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from ingest_bench import make_events  # noqa: E402

from takeoff import migrate  # noqa: E402
from takeoff.core.db import make_engine  # noqa: E402
from takeoff.telemetry import requests_store, rollup, service  # noqa: E402
from takeoff.telemetry import store as telemetry_store  # noqa: E402
from takeoff.telemetry.api import _batch_from_body  # noqa: E402
from takeoff.telemetry.capture import Policy  # noqa: E402
from takeoff.telemetry.ingest import normalize_batch  # noqa: E402

BATCH = 500


def batches(n: int, ids: str, times: str) -> list[list[tuple[object, ...]]]:
    """Insert rows of n events in batches: stream-shaped events with their ids and/or times replaced as asked."""
    events = make_events(n, "bench-idx")
    replay = make_events(n, "bench-idx", "replay")
    for ev, other in zip(events, replay, strict=True):
        if ids == "random":
            ev["id"] = uuid.uuid4().hex
        if times == "one minute":
            ev["ts"] = other["ts"]
    out = []
    for i in range(0, n, BATCH):
        body = json.dumps({"events": events[i:i + BATCH]}).encode()
        unique = {e["id"]: e for e in normalize_batch(_batch_from_body(body)["events"])}
        key = rollup.unit_key("bench-secret-key-for-unit-hashes")
        out.append(service._prepare(unique, set(), {}, None, "json", telemetry_store.SQLITE, key)[0])
    return out


def run(schema: list[str], rows: list[list[tuple[object, ...]]], work: Path, group: int = 1
        ) -> tuple[float, float, float]:
    """(insert ms, commit ms) per batch and MB of WAL, on a fresh database file; `group` batches per commit."""
    path = work / f"{uuid.uuid4().hex}.db"
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "wal_autocheckpoint=0"):
        con.execute(f"PRAGMA {pragma}")
    for sql in schema:
        con.execute(sql)
    one = f"({', '.join('?' * len(rows[0][0]))})"
    insert = f"INSERT INTO telemetry_events ({', '.join(telemetry_store.EVENT_COLS)}) VALUES {', '.join([one] * BATCH)}"
    t_insert = t_commit = 0.0
    for i, batch in enumerate(rows):
        t0 = time.process_time()
        if i % group == 0:
            con.execute("BEGIN IMMEDIATE")
        con.execute(insert, tuple(v for row in batch for v in row))
        t1 = time.process_time()
        if i % group == group - 1 or i == len(rows) - 1:
            con.execute("COMMIT")
        t_insert, t_commit = t_insert + t1 - t0, t_commit + time.process_time() - t1
    wal = os.path.getsize(f"{path}-wal") / 1e6
    con.close()
    return t_insert / len(rows) * 1000, t_commit / len(rows) * 1000, wal


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--per-index", action="store_true", help="what each explorer index and the commit size cost")
    args = ap.parse_args()
    if args.events < BATCH or args.events % BATCH:
        ap.error(f"--events must be a positive multiple of {BATCH}")
    work = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{work / 'schema.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        schema = [r[0] for r in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'telemetry_events' AND sql IS NOT NULL ORDER BY type DESC")]
    engine.dispose()
    print(f"SQLite {sqlite3.sqlite_version}, {args.events} events in batches of {BATCH}: insert + commit per batch "
          f"(CPU ms)")
    if args.per_index:
        per_index(schema, args.events, work)
        return
    for ids in ("sdk", "random"):
        for times in ("send order", "one minute"):
            ins, com, wal = run(schema, batches(args.events, ids, times), work)
            label = (f"{'SDK UUIDv7' if ids == 'sdk' else 'random uuid4'} ids, "
                     f"{'times in send order' if times == 'send order' else 'every batch over one minute'}")
            print(f"  {label:46s} {ins:5.2f} + {com:5.2f} ms   WAL {wal:4.0f} MB")


def per_index(schema: list[str], n: int, work: Path) -> None:
    """The stream shape, unit ids hashed as stored: every index, without each of tele0009's, four batches a commit."""
    key = rollup.unit_key("bench-secret-key-for-unit-hashes")
    rows = [requests_store.protect_units(b, {"bench-idx": Policy("bench-idx")}, key)
            for b in batches(n, "sdk", "send order")]
    variants = [("every index", schema, 1)]
    for name in ("ix_telemetry_events_unit_ts", "ix_telemetry_events_model_ts", "ix_telemetry_events_provider_ts"):
        variants.append((f"without {name}", [s for s in schema if name not in s], 1))
    variants.append(("without all three", [s for s in schema if not any(
        x in s for x in ("_unit_ts", "_model_ts", "_provider_ts"))], 1))
    variants.append(("every index, 4 batches a commit", schema, 4))
    for label, sql, group in variants:
        ins, com, wal = min((run(sql, rows, work, group) for _ in range(2)), key=lambda r: r[0] + r[1])
        print(f"  {label:46s} {ins:5.2f} + {com:5.2f} ms   WAL {wal:4.0f} MB")


if __name__ == "__main__":
    main()
