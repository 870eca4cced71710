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

How it is timed: every size is seeded first; then --rounds fresh processes (a server process's heap, not this
script's, which holds what generating 1e7 events' rollups left behind) each open every size and take them in turn,
one call of each per pass, --repeat passes. This machine's speed moves by up to 2x over seconds; timing the sizes
one after the other put that drift, and the seeding's heap, into the ratio (1.5 to 2.3 across runs of one code),
while taking them in turn puts it on every size alike. p50 / p95 are over the pooled samples.

Timed operations, p50 / p95 printed per size:
- "section" (the goal's figure): the whole 30-day telemetry section of the use-case page, as
  GET /telemetry/usecase/{key}/dashboard?range=30d computes it: web.dashboard_context (one rollup query for every
  release and chart: latency p50/p95/p99, throughput, error, fallback, override and escalation rates, tokens, cost
  per task and per active user, quality scores, active and repeat users; one more for the repeat users' lookback;
  the summary line and the target lines) and the fragment's template rendered to HTML;
- "one chart": GET /api/v1/metrics' service call, latency_p95 over 30 days, step 1 day, all releases;
- with --ranges, the same section over each of the page's other ranges (outside the goal).
Goal: section p95 < 50 ms, and 1e7 no slower than 1.5x 1e4 (the ratio of the largest to the smallest size).
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import takeoff.models_all  # noqa: E402,F401
from takeoff import migrate  # noqa: E402
from takeoff.core.actor import SYSTEM  # noqa: E402
from takeoff.core.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from takeoff.portfolio import service as portfolio  # noqa: E402
from takeoff.portfolio.models import UseCase  # noqa: E402
from takeoff.telemetry import histogram, rollup, service, web  # noqa: E402
from takeoff.telemetry import series as telemetry_series  # noqa: E402
from takeoff.telemetry.compaction import compact_all  # noqa: E402
from takeoff.telemetry.models import TelemetryRollup  # noqa: E402
from takeoff.telemetry.rollup import unit_key as _unit_key  # noqa: E402
from takeoff.web.render import TEMPLATES  # noqa: E402

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")

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
            service.ingest_events(s, SYSTEM, events[i:i + 2000], late_s=DAYS * 86400 + 3600, unit_key=TEST_UNIT_KEY)
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


def round_robin(fns: dict[int, Callable[[], None]], repeat: int) -> dict[int, list[float]]:
    """Milliseconds of `repeat` calls of each function, taken in turn (one call of each per pass) after one warm-up
    call each (statement cache, page cache): a change in the machine's speed falls on every size alike. The order
    rotates every pass, so what one call leaves behind (garbage for the collector) follows each size as often."""
    for fn in fns.values():
        fn()
    out: dict[int, list[float]] = {n: [] for n in fns}
    order = list(fns)
    for p in range(repeat):
        for n in order[p % len(order):] + order[:p % len(order)]:
            t0 = time.perf_counter()
            fns[n]()
            out[n].append((time.perf_counter() - t0) * 1000)
    return out


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def seed(url: str, n: int) -> dict[str, float]:
    """One size's database: the use case, then n events ingested and compacted (small sizes) or their rollups."""
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
    engine.dispose()
    return {"setup_s": setup, "rows": n_rows, "pending": pending}


def section_and_chart(url: str, range_key: str = RANGE) -> tuple[Callable[[], None], Callable[[], None]]:
    """The two timed reads of one seeded database: the page's whole section over range_key, and one chart's
    30-day series."""
    factory = make_sessionmaker(make_engine(url))
    fragment = TEMPLATES.get_template("telemetry/dashboard_fragment.html")

    def section() -> None:
        with transaction(factory) as s:
            ctx = web.dashboard_context(s, portfolio.find(s, UC), range_key)  # what the page's route does
            html = fragment.render(fmt=web._fmt, **ctx)
        assert html.count("data-chart=") == len(web.CHARTS), "every chart is drawn"

    def one_chart() -> None:
        end = datetime.now(UTC)
        with transaction(factory) as s:
            telemetry_series.series(s, UC, "latency_p95", end - timedelta(days=DAYS), end, STEP)

    return section, one_chart


def measure(urls: dict[int, str], repeat: int, ranges: Sequence[str] = ()) -> dict[str, dict[int, list[float]]]:
    """Time every size's section (the heap as it is, then frozen as `takeoff serve` runs it) and one chart, the
    sizes taken in turn, in this process; then, frozen, the section over each of `ranges` ("section <range>")."""
    reads = {n: section_and_chart(url) for n, url in urls.items()}
    out = {"unfrozen": round_robin({n: r[0] for n, r in reads.items()}, repeat)}
    gc.collect()
    gc.freeze()  # as `takeoff serve` runs (app.freeze_startup_heap): the startup heap out of the collector's walk
    out["section"] = round_robin({n: r[0] for n, r in reads.items()}, repeat)
    out["chart"] = round_robin({n: r[1] for n, r in reads.items()}, repeat)
    for r in ranges:
        out[f"section {r}"] = round_robin({n: section_and_chart(url, r)[0] for n, url in urls.items()}, repeat)
    return out


def measure_in_child(urls: dict[int, str], repeat: int, ranges: Sequence[str] = ()
                     ) -> dict[str, dict[int, list[float]]]:
    """measure() in a fresh interpreter, as a server process reads the database: the seeding's heap (1e7 events'
    rollups built in Python) is not in it."""
    done = subprocess.run([sys.executable, __file__, "--measure", json.dumps(urls), "--repeat", str(repeat),
                           "--ranges", *ranges], check=True, capture_output=True, text=True)
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {kind: {int(n): v for n, v in per_size.items()} for kind, per_size in raw.items()}


def run_backend(urls: dict[int, str], repeat: int, rounds: int, ranges: Sequence[str] = ()) -> None:
    """Seed every size, then time them in `rounds` fresh processes, each taking the sizes in turn."""
    info = {n: seed(url, n) for n, url in urls.items()}
    pooled: dict[str, dict[int, list[float]]] = {}
    for _ in range(rounds):
        for kind, per_size in measure_in_child(urls, repeat, ranges).items():
            for n, values in per_size.items():
                pooled.setdefault(kind, {}).setdefault(n, []).extend(values)
    p95 = {}
    for n in urls:
        (d50, d95), (u50, u95), (c50, c95) = (p50_p95(pooled[k][n]) for k in ("section", "unfrozen", "chart"))
        p95[n] = (d95, u95, d50)
        i = info[n]
        print(f"  {n:>10,} events ({'ingested + compacted' if n <= 100_000 else 'rollups generated'} in "
              f"{i['setup_s']:5.1f} s, {i['rows']:,} rollup rows, {i['pending']} deltas pending): section p50 "
              f"{d50:6.1f} ms p95 {d95:6.1f} ms (heap not frozen: p50 {u50:5.1f} p95 {u95:5.1f}) | one chart p50 "
              f"{c50:5.1f} ms p95 {c95:5.1f} ms", flush=True)
    lo, hi = min(urls), max(urls)
    print(f"  goal section p95 < 50 ms: {'met' if all(v[0] < 50 for v in p95.values()) else 'NOT met'}; "
          f"{hi:,} vs {lo:,} section p95 ratio {p95[hi][0] / p95[lo][0]:.2f} (goal <= 1.5: "
          f"{'met' if p95[hi][0] <= 1.5 * p95[lo][0] else 'NOT met'}; p50 ratio {p95[hi][2] / p95[lo][2]:.2f}; heap "
          f"not frozen {p95[hi][1] / p95[lo][1]:.2f})", flush=True)
    for r in ranges:  # outside the goal: the page's other ranges (the data spans 30 days, so 90d holds 30 of them)
        print(f"  section over {r:>3}, p50 / p95 ms: " + ", ".join(
            f"{n:,} events {'%.1f / %.1f' % p50_p95(pooled[f'section {r}'][n])}" for n in urls), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description="30-day use-case dashboard section time vs stored events")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=60, help="timed runs per size and round")
    ap.add_argument("--rounds", type=int, default=3, help="fresh measuring processes, each timing every size")
    ap.add_argument("--postgres", action="store_true", help="also run on a temporary PostgreSQL database")
    ap.add_argument("--ranges", nargs="*", default=[], choices=list(web.RANGES),
                    help="also time the section over these ranges (outside the goal), e.g. 1h 6h 24h 7d 90d")
    ap.add_argument("--measure", metavar="URLS", help=argparse.SUPPRESS)  # the child: {size: url} to time
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure({int(n): url for n, url in json.loads(args.measure).items()}, args.repeat,
                                 args.ranges)))
        return
    for backend in ["sqlite"] + (["postgresql"] if args.postgres else []):
        print(f"{backend}: the use-case page's 30-day telemetry section ({len(web.CHARTS)} charts), "
              f"{len(RELEASES)} releases, {args.rounds} rounds of {args.repeat} runs per size", flush=True)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run_backend({n: f"sqlite:///{tmp}/dash_{n}.db" for n in args.sizes}, args.repeat, args.rounds,
                            args.ranges)
            continue
        names = {n: f"bench_dash_{uuid.uuid4().hex[:8]}" for n in args.sizes}
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                for name in names.values():
                    c.execute(text(f'CREATE DATABASE "{name}"'))
            run_backend({n: make_url(PG).set(database=name).render_as_string(False) for n, name in names.items()},
                        args.repeat, args.rounds, args.ranges)
        finally:
            with admin.connect() as c:
                for name in names.values():
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
