"""Dashboard benchmark: a 30-day dashboard read at 1e4, 1e6 and 1e7 stored events, p50/p95 printed.

    .venv/bin/python bench/dashboard_bench.py                    # 1e4, 1e6, 1e7 on SQLite
    .venv/bin/python bench/dashboard_bench.py --sizes 10000 1000000 --postgres

Data: one use case, two releases, events spread evenly over the last 30 days. The 1e4 size is ingested for real
(through service.ingest_events, so raw events and rollups exist). For 1e6 and 1e7 the rollup rows are generated
directly with the same encodings ingestion writes (minute and hour rows, sparse latency histograms, KMV unit
sketches, scores, outcomes): ingesting 1e7 events through HTTP would take longer than this bench is worth, and
the dashboard never reads raw events, so their number does not enter the query. What grows with the event count
is the content of each rollup row (more non-empty latency bins, fuller unit sketches), not the number of rows.

Timed operations, each repeated (--repeat) with p50 / p95 printed:
- "series": one chart, GET /api/v1/metrics' service call: latency_p95 over 30 days, step 1 day, all releases;
- "dashboard": everything the use-case page's telemetry section computes for 30 days (8 metrics x 2 releases +
  window totals). Goal: series p95 < 50 ms, and 1e7 no slower than 1.5x 1e4.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import takeoff.models_all  # noqa: E402,F401
from takeoff import migrate  # noqa: E402
from takeoff.actor import SYSTEM  # noqa: E402
from takeoff.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from takeoff.telemetry import histogram, rollup, service  # noqa: E402
from takeoff.telemetry.models import TelemetryRollup  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
UC = "bench-dash"
RELEASES = (f"{UC}:1", f"{UC}:2")
DAYS = 30
STEP = 86400  # the use-case page's 30-day range charts one point per day (web.RANGES)


def ingest_real(factory, n: int, now: float) -> None:
    rnd = random.Random(1)
    span = DAYS * 86400 - 120
    events = []
    for i in range(n):
        events.append({"id": uuid.uuid4().hex, "use_case": UC, "release": RELEASES[i % 2], "unit_id": f"u{rnd.randrange(5000)}",
                       "ts": now - span + span * i / n, "latency_ms": rnd.lognormvariate(6, 0.5),
                       "status": "error" if rnd.random() < 0.02 else "ok", "outcome": "success",
                       "tokens": {"input": 500, "output": 80}, "cost_usd": 0.001, "scores": {"faithfulness": rnd.random()}})
    with transaction(factory) as s:  # lateness is irrelevant here: the bench seeds history on purpose
        for i in range(0, n, 2000):
            service.ingest_events(s, SYSTEM, events[i:i + 2000], late_s=DAYS * 86400 + 3600)


def generate_rollups(engine, n: int, now: float) -> None:
    """Minute and hour rollup rows for n events over 30 days (see module docstring)."""
    rnd = random.Random(2)
    first_min = int((now - DAYS * 86400) // 60) * 60
    minutes = DAYS * 1440
    per_min = n / (minutes * len(RELEASES))
    table = TelemetryRollup.__table__
    rows, hours = [], {}
    for rel in RELEASES:
        for m in range(minutes):
            b = first_min + m * 60
            c = int(per_min) + (1 if rnd.random() < per_min - int(per_min) else 0)
            if c == 0:
                continue
            lat = histogram.latency_counts([rnd.lognormvariate(6, 0.5) for _ in range(min(c, 50))])
            scale = c / max(1, min(c, 50))
            sparse = {str(i): max(1, round(k * scale)) for i, k in enumerate(lat) if k}
            units = sorted(rnd.getrandbits(rollup.HASH_BITS) for _ in range(min(c, rollup.KMV_K)))
            agg = {**rollup.empty(), "count": c, "errors": c // 50, "latency_n": c, "latency_sum_ms": 450.0 * c,
                   "cost_usd": 0.001 * c, "tokens_input": 500 * c, "tokens_output": 80 * c,
                   "first_ts": float(b), "last_ts": float(b + 59), "latency": sparse, "outcomes": {"success": c},
                   "scores": {"faithfulness": [c, 0.5 * c, 0.33 * c]}, "units": units}
            rows.append((60, b, rel, agg))
            for g in rollup.GRAINS[1:]:
                hk = (g, b // g * g, rel)
                hours[hk] = rollup.merge(hours.get(hk, rollup.empty()), agg)
    rows += [(g, b, rel, agg) for (g, b, rel), agg in hours.items()]
    with engine.begin() as conn:
        batch = []
        for grain, b, rel, agg in rows:
            batch.append({"grain": grain, "bucket": datetime.fromtimestamp(b, UTC), "use_case": UC, "release": rel,
                          **{k: agg[k] for k in rollup.COUNTERS}, "latency_sum_ms": agg["latency_sum_ms"],
                          "cost_usd": agg["cost_usd"], "first_ts": datetime.fromtimestamp(agg["first_ts"], UTC),
                          "last_ts": datetime.fromtimestamp(agg["last_ts"], UTC), "latency": agg["latency"],
                          "outcomes": agg["outcomes"], "error_categories": {}, "scores": agg["scores"],
                          "features": {}, "units": agg["units"]})
            if len(batch) >= 5000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up (statement cache, page cache)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]


def run_size(url: str, n: int, repeat: int) -> tuple[float, float, float, float, int]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    now = time.time()
    t0 = time.perf_counter()
    if n <= 100_000:
        ingest_real(factory, n, now)
    else:
        generate_rollups(engine, n, now)
    setup = time.perf_counter() - t0
    with engine.connect() as conn:
        n_rows = conn.execute(text("SELECT count(*) FROM telemetry_rollups")).scalar()
    end = datetime.fromtimestamp(now, UTC)
    start = end - timedelta(days=DAYS)

    def series() -> None:
        with transaction(factory) as s:
            service.series(s, UC, "latency_p95", start, end, STEP)

    def dashboard() -> None:
        from takeoff.telemetry.web import CHARTS

        with transaction(factory) as s:
            for rel in service.releases_in_window(s, UC, start, end):  # what web.dashboard_context reads
                service.series_many(s, UC, [m for m, _, _ in CHARTS], start, end, STEP, rel)
            service.window_stats(s, UC, None, start, end)

    s50, s95 = timed(series, repeat)
    d50, d95 = timed(dashboard, max(5, repeat // 4))
    engine.dispose()
    print(f"  {n:>10,} events ({'ingested' if n <= 100_000 else 'rollups generated'} in {setup:5.1f} s, "
          f"{n_rows:,} rollup rows): series p50 {s50:6.1f} ms p95 {s95:6.1f} ms | "
          f"full dashboard p50 {d50:6.1f} ms p95 {d95:6.1f} ms", flush=True)
    return s50, s95, d50, d95, n_rows


def main() -> None:
    ap = argparse.ArgumentParser(description="30-day dashboard query time vs stored events")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--postgres", action="store_true", help="also run on a temporary PostgreSQL database")
    args = ap.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    for backend in backends:
        print(f"{backend}: 30-day dashboard, {len(RELEASES)} releases", flush=True)
        results = {}
        for n in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                if backend == "sqlite":
                    results[n] = run_size(f"sqlite:///{tmp}/dash.db", n, args.repeat)
                else:
                    name = f"bench_dash_{uuid.uuid4().hex[:8]}"
                    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
                    with admin.connect() as c:
                        c.execute(text(f'CREATE DATABASE "{name}"'))
                    try:
                        results[n] = run_size(make_url(PG).set(database=name).render_as_string(False), n, args.repeat)
                    finally:
                        with admin.connect() as c:
                            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        admin.dispose()
        lo, hi = min(results), max(results)
        print(f"  goal series p95 < 50 ms: {'met' if all(r[1] < 50 for r in results.values()) else 'NOT met'}; "
              f"{hi:,} vs {lo:,} series p95 ratio {results[hi][1] / results[lo][1]:.2f} (goal <= 1.5)", flush=True)


if __name__ == "__main__":
    main()
