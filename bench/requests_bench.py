"""Requests explorer speed: seed N request records (events, 10 % with content, 2 % with feedback, 5 % with a
3-span tree) into a fresh SQLite file and a fresh PostgreSQL database, then time the first page (50 rows) of each
single-filter query shape and the detail page, and print p50/p95 per shape and backend.

    .venv/bin/python bench/requests_bench.py [--requests 300000] [--repeat 30] [--skip-postgres] [--skip-sqlite]
        [--keep --ingest 0] [--no-page2] [--only SHAPE] [--explain]

Seeding writes rows straight into the tables (multi-row INSERT on SQLite, COPY on PostgreSQL), as ingestion stores
them; the queries are takeoff.requests.queries', the ones the API and pages run. The goal (issue 18): p95 < 100 ms
on 10,000,000 requests for every shape; the seeded size is configurable (default small enough for a few minutes).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from takeoff.core.db import make_engine
from takeoff.migrate import upgrade
from takeoff.requests import queries
from takeoff.telemetry import capture, rollup, text_index

PG = os.environ.get("TAKEOFF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = rollup.unit_key("bench-secret-key")
USE_CASES = [f"uc-{i:02d}" for i in range(20)]
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-sonnet", "anthropic"), ("gemini-pro", "google"),
          ("llama-70b", "self")]
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN_DAYS = 30


_UNITS: list[str] = []


def _ts(t: datetime) -> str:
    """A time as SQLite stores it (UTC, naive text); PostgreSQL's COPY gets it with '+00'."""
    return t.isoformat(" ", "microseconds")[:26]


def rows(n: int, seed: int = 7, first: int = 0, total: int | None = None
         ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Events, content, feedback and span rows (times as UTC text), time-ordered ids: requests `first` to
    `first + n` of `total` spread evenly over the last SPAN_DAYS days (in time order, as ingestion writes them).
    Written for speed (10M rows): draws from rng.random(), the 20,000 units' keyed hashes computed once."""
    if not _UNITS:
        _UNITS.extend(capture.unit_ref(f"user-{u}", KEY) for u in range(20_000))
    rng = random.Random(seed)
    rnd, bits = rng.random, rng.getrandbits
    events, content, feedback, spans = [], [], [], []
    t0 = (NOW - timedelta(days=SPAN_DAYS)).timestamp()
    step = SPAN_DAYS * 86400 / (total or n)
    jitter = min(step, 1.0)
    nuc, nm = len(USE_CASES), len(MODELS)
    for i in range(first, first + n):
        epoch = t0 + i * step + rnd() * jitter
        ts = datetime.fromtimestamp(epoch, UTC)
        at = _ts(ts)
        uc = USE_CASES[int(rnd() * nuc)]
        model, provider = MODELS[int(rnd() * nm)] if rnd() >= 0.001 else ("o1-rare", "rareai")
        r = rnd()
        status, cat = ("error", "timeout_or_error" if rnd() < 0.5 else "wrong_answer") if r < 0.02 else \
            ("fallback", None) if r < 0.05 else ("ok", None)
        eid = f"{int(epoch * 1000):013x}{bits(76):019x}"
        data = (f'{{"tokens":{{"input":{100 + int(rnd() * 801)},"output":{20 + int(rnd() * 281)}}},'
                f'"scores":{{"helpfulness":{round(rnd(), 3)}}},"features":{{}},"attributes":{{}}}}')
        events.append((eid, uc, f"{uc}:{1 + int(rnd() * 3)}", _UNITS[int(rnd() * 20_000)], at,
                       rng.lognormvariate(6, 0.4), status, "success", model, provider, rnd() / 1000, cat, None,
                       "json", data))
        if rnd() < 0.10:
            words = ("refund", "invoice", "password", "delivery", "crash")[int(rnd() * 5)]
            body = (f'{{"input":[{{"role":"user","content":"ticket {i} about a {words} problem"}}],'
                    f'"output":[{{"role":"assistant","content":"We are on it."}}]}}')
            content.append((eid, uc, at, None, body, "{}", 0, i // 500 + 1))  # one text search block per 500 events
        if rnd() < 0.02:
            feedback.append((f"{bits(128):032x}", eid, uc, 1 + int(rnd() * 5), "", None, None, at, at))
        if rnd() < 0.05:
            trace = f"{bits(128):032x}"
            root = f"{bits(64):016x}"
            for k, name in enumerate(("workflow", "retrieve", "chat")):
                sid = root if k == 0 else f"{bits(64):016x}"
                spans.append((eid, sid, trace, None if k == 0 else root, name, "client", "ok",
                              _ts(ts + timedelta(milliseconds=10 * k)), 100.0 / (k + 1), "{}"))
    return events, content, feedback, spans


TABLES = {
    "telemetry_events": ("id", "use_case", "release", "unit_id", "ts", "latency_ms", "status", "outcome", "model",
                         "provider", "cost_usd", "error_category", "fallback_reason", "source", "data"),
    "request_content": ("event_id", "use_case", "ts", "expires_at", "body", "redactions", "truncated", "batch"),
    "telemetry_feedback": ("id", "request_id", "use_case", "rating", "comment", "time_saved_s", "unit_id", "ts",
                           "received_at"),
    "telemetry_spans": ("event_id", "span_id", "trace_id", "parent_span_id", "name", "kind", "status", "start",
                        "duration_ms", "attributes"),
}


def _secondary_indexes(conn: Any, sqlite: bool) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the seeded tables' non-unique indexes (dropped for the bulk load, rebuilt after:
    a sort per index instead of 10M random b-tree inserts each)."""
    names = ", ".join(f"'{t}'" for t in TABLES)
    if sqlite:
        return [(r[0], r[1]) for r in conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) AND sql IS NOT NULL "
            f"AND sql NOT LIKE 'CREATE UNIQUE%'")]
    return [(r[0], r[1]) for r in conn.exec_driver_sql(
        f"SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        f"JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname IN ({names}) AND NOT x.indisprimary "
        f"AND NOT x.indisunique")]


def seed(engine: Any, n: int, chunk: int = 50_000) -> float:
    """Write n requests in time order (chunks of `chunk`), the secondary indexes dropped meanwhile and rebuilt at
    the end, then (SQLite) the text search index as the compactor builds it, and ANALYZE."""
    t = time.perf_counter()
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        indexes = _secondary_indexes(conn, sqlite)
        for name, _sql in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    for lo in range(0, n, chunk):
        parts = rows(min(chunk, n - lo), seed=lo, first=lo, total=n)
        with engine.begin() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-1000000")  # this bench's connection only: 1 GB of pages
            for (table, cols), data in zip(TABLES.items(), parts):
                if sqlite:
                    one = f"({', '.join('?' * len(cols))})"
                    per = 30_000 // len(cols)
                    for i in range(0, len(data), per):
                        part = data[i:i + per]
                        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                             f"{', '.join([one] * len(part))}", tuple(v for r in part for v in r))
                else:
                    raw = conn.connection.driver_connection
                    times = [k for k, c in enumerate(cols) if c in ("ts", "start", "received_at")]
                    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for r in data:
                            if times:
                                r = list(r)
                                for k in times:
                                    r[k] += "+00"
                            copy.write_row(r)
        done = min(lo + chunk, n)
        print(f"  seeded {done:>10,} requests ({done / (time.perf_counter() - t):,.0f}/s)", end="\r", flush=True)
    print()
    ti = time.perf_counter()
    with engine.begin() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for _name, sql in indexes:
            conn.exec_driver_sql(sql)
    print(f"  {len(indexes)} secondary indexes rebuilt in {time.perf_counter() - ti:.0f} s")
    ti = time.perf_counter()
    if sqlite:  # SQLite's unit index as the compactor's merges leave it (tele0016; PostgreSQL's is rebuilt above)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO telemetry_unit_refs (unit_id, ts, event_id) SELECT unit_id, ts, id "
                                 "FROM telemetry_events WHERE unit_id IS NOT NULL ORDER BY 1, 2, 3")
        print(f"  unit index: refs written in {time.perf_counter() - ti:.0f} s")
    with engine.begin() as conn:  # the content's batches queued, as ingestion queues them
        conn.exec_driver_sql("INSERT INTO request_text_pending (batch, rows, gen) SELECT batch, count(*), 0 "
                             "FROM request_content GROUP BY batch")
    # The compactor's work on a server: the text search blocks (tele0011). SQLite: a plain engine, its own
    # checkpoint first: the index rebuild left GBs of WAL, which takeoff's background
    # checkpointer copies under the writer lock for longer than that lock's wait (10M: 'database is locked').
    plain = create_engine(engine.url, connect_args={"timeout": 600}) if sqlite else engine
    if sqlite:
        with plain.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ti = time.perf_counter()
    n = text_index.index_all(sessionmaker(plain), max_rows=200_000, max_rounds=10**6)
    print(f"  text search index: {n:,} content rows in {time.perf_counter() - ti:.0f} s")
    with plain.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    if sqlite:
        plain.dispose()
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # the visibility map: index-only scans, as on a settled table
    return time.perf_counter() - t


SHAPES: dict[str, dict[str, str]] = {
    "no filter": {},
    "use case": {"use_case": "uc-07"},
    "release": {"release": "uc-07:2"},
    "status=error": {"status": "error"},
    "error category": {"error_category": "wrong_answer"},
    "model": {"model": "gemini-pro"},
    "provider": {"provider": "anthropic"},
    "time range (1 h, a week ago)": {"start": (NOW - timedelta(days=7)).isoformat(),
                                     "end": (NOW - timedelta(days=7, hours=-1)).isoformat()},
    "unit": {"unit": "user-4242"},
    "score range": {"score": "helpfulness", "score_min": "0.95"},
    "rating <= 2": {"rating_max": "2"},
    "has content": {"has_content": "true"},
    "text in content": {"q": "invoice"},
    "text in content (one request)": {"q": "ticket 4242 about"},
    "text in content (a number, ~0.04 %)": {"q": "4242"},
    "text in content (no indexable word, no match)": {"q": "€ €"},
    "model (0.1 % of requests)": {"model": "o1-rare"},
}


Timing = tuple[float, float, float]  # wall p50, wall p95, this process's CPU p50 (ms)


def _timed(fn: Any, repeat: int) -> Timing:
    """Run fn `repeat` times: wall-clock p50/p95 and the CPU p50 of this process (on SQLite the query's own work,
    which a busy machine's waiting does not inflate; on PostgreSQL only the client's side)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return (*_p(wall), statistics.median(cpu))


def measure(engine: Any, repeat: int, explain: bool, pages2: bool = True, only: list[str] | None = None
            ) -> dict[str, Timing]:
    factory = sessionmaker(engine)
    out: dict[str, Timing] = {}
    with factory() as s:
        some = [r[0] for r in s.execute(text("SELECT id FROM telemetry_events WHERE id IN (SELECT event_id FROM "
                                             "telemetry_spans) LIMIT 50"))]
        for name, params in SHAPES.items():
            if only and not any(o in name for o in only):
                continue
            f = queries.parse_filters(params)
            cursor = queries.page(s, f, KEY, 50)["next_cursor"]  # one untimed run (statement caches) first
            out[name] = _timed(lambda f=f: queries.page(s, f, KEY, 50), repeat)
            if cursor and pages2:
                out[f"{name}, page 2"] = _timed(lambda f=f, c=cursor: queries.page(s, f, KEY, 50, c), repeat)
            if explain:
                q = queries._query(f, KEY, None, *queries._plan(s, f)).limit(51)
                sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
                prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
                plan = " | ".join(str(r[-1]) for r in s.execute(text(prefix + sql)))
                print(f"    {name}: {plan[:300]}")
        if not only or any(o in "detail page" for o in only):
            ids = iter(some * repeat)
            out["detail page"] = _timed(lambda: queries.detail(s, next(ids), True), repeat)
    return out


SYSTEM_PROMPT = ("You are the support assistant of Example Ltd. Answer politely, cite the policy id, never promise "
                 "refunds over 500 EUR, and hand over to a person when the customer asks for one.")


def content_of(i: int) -> dict[str, Any]:
    """One request's content: the same system instructions every time (as an app sends them), a user message of
    ~300 characters that differs per request and holds an e-mail address, a phone number, a date and order numbers,
    and an answer that differs too."""
    return {"system": SYSTEM_PROMPT,
            "input": [{"role": "user", "content": f"Hello, I need a refund for order {100_000 + i * 7}: the parcel "
                       f"arrived broken on 2026-11-{i % 28 + 1:02d}. Write to me at customer{i}@example.com or "
                       f"call +44 20 7946 {i % 10_000:04d}. Ticket {i * 13} was opened last week and nobody "
                       f"answered, which is the third time this year."}],
            "output": [{"role": "assistant", "content": f"Sorry about order {100_000 + i * 7}. Refunds take 5 "
                        f"working days; see policy R-{i % 9}. Your case number is {i * 31}."}]}


def ingest_rates(engine: Any, n: int, rounds: int = 2) -> dict[str, float]:
    """Events/s of in-process ingestion (service.ingest_events, batches of 500, one process) of events that carry
    content and a unit id, with the use case's capture off and on (redaction, cap, content rows), interleaved
    `rounds` times (this machine's speed drifts: compare a round's pair); keys "capture off #1", ...."""
    from takeoff.audit import key as audit_key
    from takeoff.core.actor import SYSTEM
    from takeoff.core.db import transaction
    from takeoff.telemetry import requests_store, service

    audit_key.remember(engine, "bench-secret-key")
    factory = sessionmaker(engine, expire_on_commit=False)
    out: dict[str, float] = {}
    for mode in ("off", "on") * rounds:
        uc = f"bench-capture-{mode}-{uuid.uuid4().hex[:6]}"
        with transaction(factory) as s:
            requests_store.set_policy(s, SYSTEM, capture.make_policy(uc, capture=mode == "on"))
        now = time.time()
        events = [{"id": uuid.uuid4().hex, "use_case": uc, "release": "", "unit_id": f"user-{i % 500}",
                   "ts": now - 60 + i * 30 / n, "latency_ms": 100.0, "status": "ok", "model": "gpt-4o",
                   "tokens": {"input": 500, "output": 100}, "content": content_of(i)}
                  for i in range(n)]
        t = time.perf_counter()
        for i in range(0, n, 500):
            with transaction(factory) as s:
                service.ingest_events(s, SYSTEM, events[i:i + 500], late_s=3600, unit_key=KEY)
        out[f"capture {mode} #{sum(k.startswith(f'capture {mode}') for k in out) + 1}"] = n / (time.perf_counter() - t)
    return out


def _p(times: list[float]) -> tuple[float, float]:
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


DATA = Path(__file__).resolve().parent / ".data"  # gitignored


def _seeded(engine: Any) -> int | None:
    """How many requests a kept database holds (its bench_seeded row, written once seeding finished), else None."""
    with engine.connect() as conn:
        try:
            return int(conn.exec_driver_sql("SELECT requests FROM bench_seeded").scalar_one())
        except Exception:
            return None


def _size(engine: Any, url: str) -> str:
    """The database's size on disk."""
    if engine.dialect.name == "sqlite":
        path = Path(make_url(url).database or "")
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        with engine.connect() as conn:
            total = int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())
    return f"{total / 1e9:.2f} GB"


def _backends(args: argparse.Namespace, tmp: str, admin: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """(backend, url) to run on, and the PostgreSQL databases to drop at the end (none when kept)."""
    if args.keep:
        DATA.mkdir(exist_ok=True)
        backends = [("sqlite", f"sqlite:///{DATA}/requests-{args.requests}.db")]
        name = f"takeoff_bench_requests_{args.requests}"
    else:
        backends = [("sqlite", f"sqlite:///{tmp}/requests.db")]
        name = f"bench_requests_{uuid.uuid4().hex[:8]}"
    if args.skip_sqlite:
        backends = []
    if args.skip_postgres:
        return backends, []
    with admin.connect() as c:
        if not c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            c.execute(text(f'CREATE DATABASE "{name}"'))
    backends.append(("postgresql", make_url(PG).set(database=name).render_as_string(hide_password=False)))
    return backends, [] if args.keep else [name]


def _new_sqlite(path: str, page_size: int) -> None:
    """An empty SQLite file with this page size (it is fixed once the file holds a table, and WAL mode keeps it)."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA page_size={int(page_size)}")
    conn.execute("CREATE TABLE bench_page_size (x INTEGER)")
    conn.execute("DROP TABLE bench_page_size")
    conn.commit()
    conn.close()


def _fresh(backend: str, url: str, admin: Any) -> None:
    """Empty a kept database whose seeding never finished (or was of another size)."""
    if backend == "sqlite":
        path = make_url(url).database or ""
        for p in Path(path).parent.glob(Path(path).name + "*"):
            p.unlink()
        return
    name = make_url(url).database
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the seeded databases (bench/.data/requests-N.db, PostgreSQL database "
                         "takeoff_bench_requests_N) and reuse them on the next run with the same --requests")
    ap.add_argument("--no-page2", action="store_true", help="skip timing each shape's second page (keyset)")
    ap.add_argument("--only", action="append", help="time only the shapes whose name holds this (repeatable)")
    ap.add_argument("--explain", action="store_true", help="print each shape's query plan")
    ap.add_argument("--ingest", type=int, default=20_000, help="events per in-process ingestion run (0: skip)")
    ap.add_argument("--ingest-only", action="store_true", help="skip seeding and the explorer's queries")
    ap.add_argument("--sqlite-page-size", type=int, default=None,
                    help="create the SQLite file with this page size (SQLite's default: 4096; not with --keep)")
    args = ap.parse_args()
    if not 1000 <= args.requests <= 20_000_000:
        sys.exit("--requests: 1,000 to 20,000,000")
    if args.keep and args.sqlite_page_size:
        sys.exit("--sqlite-page-size: not with --keep (a kept file keeps the page size it was made with)")
    if args.keep and args.ingest:
        sys.exit("--keep: add --ingest 0 (ingestion would add its events to the kept databases)")
    results: dict[str, dict[str, Timing]] = {}
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory() as tmp:
        backends, drop = _backends(args, tmp, admin)
        try:
            for backend, url in backends:
                if backend == "sqlite" and args.sqlite_page_size:
                    _new_sqlite(make_url(url).database or "", args.sqlite_page_size)
                engine = make_engine(url)
                if not args.ingest_only and args.keep and _seeded(engine) not in (None, args.requests):
                    engine.dispose()
                    _fresh(backend, url, admin)
                    engine = make_engine(url)
                upgrade(engine)  # a kept database gets the migrations added since it was seeded
                if not args.ingest_only:
                    if args.keep and _seeded(engine) == args.requests:
                        print(f"{backend}: reusing {args.requests:,} seeded requests ({url.split('@')[-1]})")
                    else:
                        if args.keep and _seeded(engine) is None:  # a half-seeded kept database: start over
                            engine.dispose()
                            _fresh(backend, url, admin)
                            engine = make_engine(url)
                            upgrade(engine)
                        print(f"{backend}: seeding {args.requests:,} requests")
                        secs = seed(engine, args.requests)
                        print(f"{backend}: seeded in {secs:.0f} s ({args.requests / secs:,.0f} rows/s)")
                        if args.keep:
                            with engine.begin() as conn:
                                conn.exec_driver_sql("CREATE TABLE bench_seeded (requests INTEGER NOT NULL)")
                                conn.exec_driver_sql(f"INSERT INTO bench_seeded VALUES ({args.requests})")
                    print(f"{backend}: database size {_size(engine, url)}")
                    results[backend] = measure(engine, args.repeat, args.explain, not args.no_page2, args.only)
                    for n, (p50, p95, cpu) in results[backend].items():
                        print(f"  {backend}: {n:<40} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  CPU p50 {cpu:6.1f} ms",
                              flush=True)
                if args.ingest:
                    rates = ingest_rates(engine, args.ingest)
                    print(f"{backend}: in-process ingestion of events with content, one process: "
                          + ", ".join(f"{k} {v:,.0f} events/s" for k, v in rates.items()))
                    ons, offs = [v for k, v in rates.items() if "on" in k.split()], [v for k, v in rates.items() if "off" in k]
                    print(f"{backend}: capture on / off, pair by pair: "
                          + ", ".join(f"{a / b:.2f}" for a, b in zip(ons, offs)))
                engine.dispose()
        finally:
            for name in drop:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if not results:
        return
    names = list(dict.fromkeys(n for r in results.values() for n in r))
    print(f"\nfirst page (50 rows), second page and detail, ms, {args.requests:,} requests, {args.repeat} runs each")
    print(f"{'shape':<40}" + "".join(f"{b + ' p50':>16}{b + ' p95':>16}{b + ' CPU':>16}" for b in results))
    for n in names:
        print(f"{n:<40}" + "".join("".join(f"{v:>16.1f}" for v in results[b][n]) if n in results[b]
                                   else f"{'-':>16}" * 3 for b in results))


if __name__ == "__main__":
    main()
