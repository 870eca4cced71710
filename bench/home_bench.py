"""Home page benchmark: the command center's server time with 50 use cases and a year of telemetry rollups.

    .venv/bin/python bench/home_bench.py                 # SQLite
    .venv/bin/python bench/home_bench.py --postgres      # also a temporary PostgreSQL database
    .venv/bin/python bench/home_bench.py --use-cases 50 --repeat 40

Data (fixed seed): --use-cases use cases across every stage, scored (so the portfolio ranking and its recommendation
have work), with scale targets (so every one has SLOs), a production release each and a canary on every fifth,
firing alerts, open incidents, drift results, data sources with check runs, a week of audit entries, and for every
use case a year of day rollups plus the last 35 days of hour rollups (the rows the compactor keeps; the home page
and the SLO budgets read the coarsest rows that fit). Rows are inserted directly, with the encodings ingestion
writes: the home page never reads raw events, so there are none.

Timed, through the real app (TestClient, signed in as an admin; the time is the request's, middleware included):
- "home": GET / (the goal's figure): every use case's stage, tier, releases, alerts, incidents, drift, data SLA,
  12 weekly cost and request points, next action, the ranking and recommendation, this week's audit entries;
- "SLO budgets": GET /home/slo, a fragment the page loads once it shows: every use case's lowest error budget left
  (availability, latency, quality over 30 days of day rollups, monitoring's own good/total and budget rules);
- "readiness": GET /home/readiness, the other fragment: every use case's readiness verdict with its blocking items
  (the readiness service as the /readiness page runs it: every evidence kind read once for all use cases, from
  live rows on each request; one audit-chain verification for all) and whether it pays back;
- "readiness page": GET /readiness, the seven items of every use case with the verdict.
Each line also gives the number of statements one request sends (a SQLAlchemy event listener counts them).
Goal: p95 < 100 ms for each. Wall time and the process's CPU time are both printed: on a shared machine (the load average
is printed too) the wall time grows with the other processes' load, the CPU time much less.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

import takeoff.models_all  # noqa: E402,F401
from takeoff import migrate  # noqa: E402
from takeoff.app import create_app, freeze_startup_heap  # noqa: E402
from takeoff.audit import key as audit_key  # noqa: E402
from takeoff.audit import service as audit  # noqa: E402
from takeoff.auth import service as auth  # noqa: E402
from takeoff.core.actor import SYSTEM  # noqa: E402
from takeoff.core.config import Settings  # noqa: E402
from takeoff.core.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from takeoff.data.models import DataCheckRun, DataSource  # noqa: E402
from takeoff.incidents.models import Incident  # noqa: E402
from takeoff.monitoring.models import Alert, DriftResult  # noqa: E402
from takeoff.portfolio.models import UseCase, UseCaseScore  # noqa: E402
from takeoff.releases.models import Release  # noqa: E402
from takeoff.telemetry import histogram, rollup  # noqa: E402
from takeoff.telemetry.models import TelemetryRollup  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "bench-password-1"
SECRET = "bench-secret-key-0123456789abcdef"
STAGES = ("production", "production", "pilot", "pilot", "proposed", "paused")
TARGETS = {"latency_p95_ms": 1500, "max_error_rate": 0.05, "uptime_pct": 99.0, "cost_per_task_usd": 0.002,
           "min_eval_pass_rate": 0.8}


def seed_rows(factory, n: int, now: datetime) -> None:
    """Use cases with their facts (see the module docstring)."""
    rnd = random.Random(7)
    with transaction(factory) as s:
        auth.create_user(s, SYSTEM, "bench", ["admin"], PASSWORD)
    with transaction(factory) as s:
        for i in range(n):
            key = f"uc-{i:03d}"
            stage = STAGES[i % len(STAGES)]
            uc = UseCase(key=key, name=f"Use case {i:03d}", status=stage, risk_tier=("low", "medium", "high")[i % 3],
                         targets=TARGETS, business_owner="bench", monthly_volume=1000 * (1 + i % 9))
            s.add(uc)
            s.flush()
            for q in range(4):  # a score a quarter
                s.add(UseCaseScore(use_case_id=uc.id, scorer="bench", scored_on=(now - timedelta(days=90 * q)).date(),
                                   value=rnd.randint(1, 5), feasibility=rnd.randint(1, 5), risk=rnd.randint(1, 5)))
            if stage in ("production", "pilot"):
                s.add(Release(use_case_key=key, version=1, status="superseded", bundle={}, content_hash="a" * 64,
                              created_by="bench"))
                s.add(Release(use_case_key=key, version=2, status="production", bundle={}, content_hash="b" * 64,
                              created_by="bench", production_at=now - timedelta(days=20)))
                if i % 5 == 0:
                    s.add(Release(use_case_key=key, version=3, status="canary", canary_weight=10, bundle={},
                                  content_hash="c" * 64, created_by="bench"))
            if i % 7 == 0:
                s.add(Alert(use_case_key=key, name="error rate above 5 %", state="firing", value=0.08, threshold=0.05))
            s.add(Alert(use_case_key=key, name="latency p95", state="resolved", resolved_at=now - timedelta(days=3)))
            if i % 4 == 0:
                s.add(Incident(use_case_key=key, title="answers cite stale policy", severity=2 + i % 3))
            s.add(Incident(use_case_key=key, title="old outage", severity=3, status="resolved",
                           resolved_at=now - timedelta(days=30)))
            for d in range(5):
                s.add(DriftResult(use_case_key=key, status="drift" if (i + d) % 9 == 0 else "ok",
                                  drifted=["intent"] if (i + d) % 9 == 0 else [],
                                  checked_at=now - timedelta(days=5 - d)))
            src = DataSource(name=f"src-{i:03d}", entity="tickets", owner="bench", interface="sql",
                             connection_enc="x", checks=[{"kind": "freshness", "column": "at", "max_age_s": 86400}],
                             use_cases=[key])
            s.add(src)
            s.flush()
            for d in range(10):
                s.add(DataCheckRun(source_id=src.id, status="breach" if (i + d) % 11 == 0 else "pass",
                                   started_at=now - timedelta(hours=10 - d)))
            for a in range(4):
                audit.record(s, "bench", "usecase.update", "use_case", key, {"note": a}, {"note": a + 1})


def seed_rollups(engine, keys: list[str], now: datetime) -> int:
    """A year of day rows and 35 days of hour rows per use case (release :2)."""
    rnd = random.Random(3)
    table = TelemetryRollup.__table__
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    grains = [(86400, [today - timedelta(days=d) for d in range(365)]),
              (3600, [this_hour - timedelta(hours=h) for h in range(35 * 24)])]
    lat = histogram.latency_counts([rnd.lognormvariate(6, 0.5) for _ in range(50)])
    total = 0
    with engine.begin() as conn:
        for key in keys:
            batch = []
            for grain, buckets in grains:
                for b in buckets:
                    c = max(1, int(rnd.gauss(200 if grain == 3600 else 4800, 40)))
                    sparse = {str(i): max(1, k * c // 50) for i, k in enumerate(lat) if k}
                    batch.append({"grain": grain, "bucket": b, "use_case": key, "release": f"{key}:2", "count": c,
                                  "errors": c // 60, "fallbacks": 0, "latency_n": c, "latency_sum_ms": 450.0 * c,
                                  "cost_usd": 0.0011 * c, "cost_sq": 0.0011 ** 2 * c, "tokens_input": 500 * c,
                                  "tokens_output": 80 * c, "tokens_cache_read": 0, "tokens_cache_write": 0,
                                  "tokens_reasoning": 0, "first_ts": b, "last_ts": b + timedelta(seconds=grain - 1),
                                  "latency": sparse, "outcomes": {"success": c}, "error_categories": {},
                                  "scores": {"faithfulness": [c, 0.85 * c, 0.75 * c]}, "features": {},
                                  "units": sorted(rnd.getrandbits(rollup.HASH_BITS) for _ in range(64)),
                                  "dropped": {}})
            conn.execute(table.insert(), batch)
            total += len(batch)
    return total


PATHS = {"/": "home", "/home/slo": "SLO budgets (loaded after the page shows)",
         "/home/readiness": "readiness on the home page (loaded after the page shows)",
         "/readiness": "readiness page"}


@contextmanager
def count_queries(engine):
    """The number of statements sent to the database inside the block (a SQLAlchemy event listener)."""
    n = [0]

    def one(*_args):
        n[0] += 1

    event.listen(engine, "before_cursor_execute", one)
    try:
        yield n
    finally:
        event.remove(engine, "before_cursor_execute", one)


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def as_served(app):
    """The app as a real server calls it: Starlette's TestClient offers the `http.response.debug` extension, to which
    every template response sends its whole context; the reply keeps that context in a reference cycle, so the
    collector, not reference counting, frees each page's data, and its full passes over that garbage were the bench's
    tail. uvicorn offers no such extension."""

    async def served(scope, receive, send):
        if scope["type"] == "http" and "http.response.debug" in scope.get("extensions", {}):
            scope = {**scope, "extensions": {k: v for k, v in scope["extensions"].items() if k != "http.response.debug"}}
        await app(scope, receive, send)

    return served


def run(url: str, n: int, repeat: int, data_dir: Path, freeze: bool = True) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    audit_key.remember(engine, SECRET)  # the audit entries are chained under the app's key, so the chain verifies
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    seed_rows(factory, n, now)
    rows = seed_rollups(engine, [f"uc-{i:03d}" for i in range(n)], now)
    with engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar()
    with factory() as s:
        assert audit.verify_chain(s)[1] is None, "the seeded audit chain verifies (as in a real deployment)"
    print(f"  seeded {n} use cases, {rows:,} rollup rows, {entries} audit entries in {time.perf_counter() - t0:.1f} s",
          flush=True)
    app = create_app(Settings(database_url=url, data_dir=data_dir, secret_key=SECRET,
                              embedded_worker=False, rollup_compaction=False), engine=engine, start_worker=False)
    if freeze:  # as `takeoff serve` does: startup objects out of the collector's reach (its full passes are the p95)
        freeze_startup_heap(app)
    with TestClient(as_served(app)) as c:
        c.get("/login")
        r = c.post("/login", data={"username": "bench", "password": PASSWORD, "next": "/",
                                   "csrf_token": c.cookies.get("takeoff_login_csrf")}, follow_redirects=False)
        assert r.status_code == 303, r.text
        out: dict[str, list[float]] = {p: [] for p in PATHS}
        cpu: dict[str, list[float]] = {p: [] for p in out}
        queries: dict[str, int] = {}
        for path in out:  # warm-up: statement caches, templates; then one counted request each
            assert c.get(path).status_code == 200
            with count_queries(engine) as counted:
                assert c.get(path).status_code == 200
            queries[path] = counted[0]
        home = c.get("/").text
        assert home.count('class="spark"') >= 2 * n and "Command center" in home, "every row is drawn"
        assert c.get("/home/slo").text.count("hx-swap-oob") == n, "every row gets its budget"
        for _ in range(repeat):
            for path, samples in out.items():
                t, t_cpu = time.perf_counter(), time.process_time()
                resp = c.get(path)
                samples.append((time.perf_counter() - t) * 1000)
                cpu[path].append((time.process_time() - t_cpu) * 1000)
                assert resp.status_code == 200

    def fig(path: str) -> str:
        (w50, w95), (c50, c95) = p50_p95(out[path]), p50_p95(cpu[path])
        met = "met" if w95 < 100 else "NOT met"
        return (f"p50 {w50:7.1f} ms  p95 {w95:7.1f} ms  (CPU time p50 {c50:7.1f} ms  p95 {c95:7.1f} ms; "
                f"{queries[path]} queries; {len(out[path])} runs; p95 < 100 ms {met})")

    for path, label in PATHS.items():
        print(f"  {label} GET {path}: {fig(path)}", flush=True)
    print(f"  load average during the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)", flush=True)
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description="home page server time with N use cases and a year of rollups")
    ap.add_argument("--use-cases", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--no-freeze", action="store_true", help="leave the startup heap to the collector (serve freezes it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:")
        run(f"sqlite:///{tmp}/home.db", args.use_cases, args.repeat, Path(tmp), not args.no_freeze)
        if args.postgres:
            os.environ.setdefault("TAKEOFF_TEST_POSTGRES_URL", PG)
            sys.path.insert(0, str(ROOT))
            from tests.conftest import create_pg_database

            url, drop = create_pg_database("takeoff_bench_home")
            try:
                print("PostgreSQL:")
                run(url, args.use_cases, args.repeat, Path(tmp), not args.no_freeze)
            finally:
                drop()


if __name__ == "__main__":
    main()
