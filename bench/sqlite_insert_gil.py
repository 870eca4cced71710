"""Why SQLite ingestion uses one multi-row INSERT instead of executemany: 500 event rows into a WAL database, alone
and next to a CPU-bound Python thread of the same process (as a second request validating its batch).

    .venv/bin/python bench/sqlite_insert_gil.py [--batches 5]

executemany steps once per row and takes the GIL back after each step; with another thread running Python, each of
those waits up to a switch interval (5 ms), all while the writer holds the database's write lock.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable

DATA = ('{"tokens":{"input":550,"output":80,"cache_read":100},"scores":{"faithfulness":0.3},'
        '"features":{"length":12,"lang":"en"},"attributes":{}}')
ONE = "(" + ",".join("?" * 15) + ")"


def rows() -> list[tuple]:
    base = time.time_ns()
    return [(f"{base + i:020d}{os.urandom(6).hex()}", "bench", "bench:1", "u12", "2026-12-02 00:00:00.123456", 55.0,
             "ok", "success", "gpt-4o", "openai", 0.0012, None, None, "json", DATA) for i in range(500)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=5)
    args = ap.parse_args()
    conn = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "gil.db"), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, use_case TEXT, release TEXT, unit_id TEXT, ts TEXT, latency REAL,"
                 " status TEXT, outcome TEXT, model TEXT, provider TEXT, cost REAL, ec TEXT, fr TEXT, source TEXT, data TEXT)")
    conn.execute("CREATE INDEX ix ON t (use_case, ts)")
    ways: dict[str, Callable[[list[tuple]], None]] = {
        "executemany": lambda r: conn.executemany(f"INSERT INTO t VALUES {ONE}", r),
        "multi-row INSERT": lambda r: conn.execute(f"INSERT INTO t VALUES {', '.join([ONE] * len(r))}",
                                                   [v for row in r for v in row]),
    }
    stop = threading.Event()

    def busy() -> None:
        x = 0
        while not stop.is_set():
            for i in range(1000):
                x += i * i

    print(f"500 rows a batch, {args.batches} batches each, ms per batch (wall):")
    try:
        for label in ("alone", "next to a busy thread"):
            if label != "alone":
                threading.Thread(target=busy, daemon=True).start()
            for name, insert in ways.items():
                spent = 0.0
                for _ in range(args.batches):
                    batch = rows()
                    conn.execute("BEGIN IMMEDIATE")
                    t = time.perf_counter()
                    insert(batch)
                    spent += time.perf_counter() - t
                    conn.execute("COMMIT")
                print(f"  {label:22s} {name:17s} {spent / args.batches * 1000:8.1f} ms")
    finally:
        stop.set()


if __name__ == "__main__":
    main()
