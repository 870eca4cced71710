"""Dashboard benchmark: the use-case page's 30-day telemetry section at 1e4, 1e6 and 1e7 stored events.

    .venv/bin/python bench/dashboard_bench.py                    # 1e4, 1e6, 1e7 on SQLite
    .venv/bin/python bench/dashboard_bench.py --sizes 10000 1000000 --postgres

Data: one registered use case with scale targets, two releases, events spread evenly over the last 30 days. The
1e4 size is ingested for real (through service.ingest_events), then its rollup deltas are compacted as the
server's compactor does (compaction.compact_all), so the reads meet minute, hour and day rows as in production
rather than ~10k pending deltas. For 1e6 and 1e7 the rollup rows are generated directly with the same encodings
ingestion writes (minute, hour and day rows, sparse latency histograms, KMV unit sketches, scores, outcomes):
ingesting 1e7 events through HTTP would take longer than this bench is worth, and the dashboard never reads raw
events, so their number does not enter the query. What grows with the event count is the content of each rollup
row (more non-empty latency bins, fuller unit sketches), not the number of rows.

Timed operations, each repeated (--repeat), p50 / p95 printed per size:
- "section" (the goal's figure): the whole 30-day telemetry section of the use-case page, as
  GET /telemetry/usecase/{key}/dashboard?range=30d computes it: web.dashboard_context (one rollup query for every
  release and chart: latency p50/p95/p99, throughput, error, fallback, override and escalation rates, tokens, cost
  per task and per active user, quality scores, active and repeat users; one more for the repeat users' lookback;
  the summary line and the target lines) and the fragment's template rendered to HTML;
- "one chart": GET /api/v1/metrics' service call, latency_p95 over 30 days, step 1 day, all releases.
Goal: section p95 < 50 ms, and 1e7 no slower than 1.5x 1e4 (the ratio of the largest to the smallest size).
"""
from __future__ import annotations

import argparse
import gc
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
from takeoff.portfolio import service as portfolio  # noqa: E402
from takeoff.portfolio.models import UseCase  # noqa: E402
from takeoff.telemetry import histogram, rollup, service, web  # noqa: E402
from takeoff.telemetry.compaction import compact_all  # noqa: E402
from takeoff.telemetry.models import TelemetryRollup  # noqa: E402
from takeoff.web.render import TEMPLATES  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
UC = "bench-dash"
RELEASES = (f"{UC}:1", f"{UC}:2")
DAYS = 30
RANGE = "30d"
STEP = web.RANGES[RANGE][1]  # the use-case page's 30-day range: one point per day
TARGETS = {"latency_p95_ms": 1500, "max_error_rate": 0.05, "uptime_pct": 99.0, "cost_per_task_usd": 0.002,
           "throughput_per_min": 1.0, "min_eval_pass_rate": 0.8}


def register_use_case(factory) -> None:
    """The use case the page shows, with every scale target drawn on its charts."""
    with transaction(factory) as s:
        s.add(UseCase(key=UC, name="Dashboard bench", status="production", targets=TARGETS))


def ingest_real(factory, n: int, now: float) -> None:
    rnd = random.Random(1)
    span = DAYS * 86400 - 120
    events = []
    for i in range(n):
        events.append({"id": uuid.uuid4().hex, "use_case": UC, "release": RELEASES[i % 2], "unit_id": f"u{rnd.randrange(5000)}",
                       "ts": now - span + span * i / n, "latency_ms": rnd.lognormvariate(6, 0.5),
                       "status": "error" if rnd.random() < 0.02 else "ok", "outcome": "success",
                       "tokens": {"input": 500, "output": 80}, "cost_usd": 0.001, "scores": {"faithfulness": rnd.random()}})
    for i in range(0, n, 2000):  # a batch per transaction, as the API commits; lateness is irrelevant here
        with transaction(factory) as s:
            service.ingest_events(s, SYSTEM, events[i:i + 2000], late_s=DAYS * 86400 + 3600)
    compact_all(factory)  # what the server's compactor does within a second: reads then meet rollup rows


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


def run_size(url: str, n: int, repeat: int) -> tuple[float, float, float, float, int, float]:
    """Seed one size, then time the section and one chart; returns (section p50, p95, chart p50, p95, rows, section
    p95 with the heap not frozen)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    now = time.time()
    t0 = time.perf_counter()
    register_use_case(factory)
    if n <= 100_000:
        ingest_real(factory, n, now)
    else:
        generate_rollups(engine, n, now)
    setup = time.perf_counter() - t0
    with engine.connect() as conn:
        n_rows = conn.execute(text("SELECT count(*) FROM telemetry_rollups")).scalar()
        pending = conn.execute(text("SELECT count(*) FROM telemetry_rollup_deltas")).scalar()
    end = datetime.fromtimestamp(now, UTC)
    start = end - timedelta(days=DAYS)
    fragment = TEMPLATES.get_template("telemetry/dashboard_fragment.html")

    def section() -> None:
        with transaction(factory) as s:
            ctx = web.dashboard_context(s, portfolio.find(s, UC), RANGE)  # what the page's route does
            html = fragment.render(fmt=web._fmt, **ctx)
        assert html.count("data-chart=") == len(web.CHARTS), "every chart is drawn"

    def one_chart() -> None:
        with transaction(factory) as s:
            service.series(s, UC, "latency_p95", start, end, STEP)

    u50, u95 = timed(section, repeat)  # this script's heap as it is
    gc.collect()
    gc.freeze()  # as `takeoff serve` runs (app.freeze_startup_heap): the startup heap out of the collector's walk
    try:
        d50, d95 = timed(section, repeat)
        s50, s95 = timed(one_chart, repeat)
    finally:
        gc.unfreeze()
    engine.dispose()
    print(f"  {n:>10,} events ({'ingested + compacted' if n <= 100_000 else 'rollups generated'} in {setup:5.1f} s, "
          f"{n_rows:,} rollup rows, {pending} deltas pending): section p50 {d50:6.1f} ms p95 {d95:6.1f} ms "
          f"(heap not frozen: p50 {u50:5.1f} p95 {u95:5.1f}) | one chart p50 {s50:5.1f} ms p95 {s95:5.1f} ms",
          flush=True)
    return d50, d95, s50, s95, n_rows, u95


def main() -> None:
    ap = argparse.ArgumentParser(description="30-day use-case dashboard section time vs stored events")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--postgres", action="store_true", help="also run on a temporary PostgreSQL database")
    args = ap.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    for backend in backends:
        print(f"{backend}: the use-case page's 30-day telemetry section ({len(web.CHARTS)} charts), "
              f"{len(RELEASES)} releases, {args.repeat} runs each", flush=True)
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
        print(f"  goal section p95 < 50 ms: {'met' if all(r[1] < 50 for r in results.values()) else 'NOT met'}; "
              f"{hi:,} vs {lo:,} section p95 ratio {results[hi][1] / results[lo][1]:.2f} (goal <= 1.5; heap not "
              f"frozen {results[hi][5] / results[lo][5]:.2f})", flush=True)


if __name__ == "__main__":
    main()
