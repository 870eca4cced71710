"""Every data source's latest check run, as the home page and readiness read it, with a year of runs kept.

    .venv/bin/python bench/data_latest_runs.py [--sources 50] [--runs 35000] [--repeat 15] [--postgres]

Seeds --sources sources with --runs check runs each (35,000: one every 15 minutes for a year, as the scheduler
writes them and nothing prunes them) into a temporary SQLite file (and with --postgres a temporary PostgreSQL
database), then times, interleaved, the query before data0002 (a GROUP BY over every run, joined back) and
`data.queries.latest_runs` (one index seek a source on (source_id, started_at, id)); p50 and max in ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import takeoff.models_all  # noqa: E402,F401
from takeoff import migrate  # noqa: E402
from takeoff.auth.models import User  # noqa: E402
from takeoff.core.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from takeoff.data import queries  # noqa: E402
from takeoff.data.models import DataCheckRun, DataSource  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def group_by_latest(s: Session) -> list[DataCheckRun]:
    """The read before data0002: the newest start per source over every run, joined back."""
    latest = select(DataCheckRun.source_id, func.max(DataCheckRun.started_at).label("at")).group_by(
        DataCheckRun.source_id).subquery()
    return list(s.scalars(select(DataCheckRun).join(
        latest, (DataCheckRun.source_id == latest.c.source_id) & (DataCheckRun.started_at == latest.c.at))))


def run(url: str, sources: int, runs: int, repeat: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        s.add(User(username="owner", password_hash="x"))
        s.flush()
        s.add_all(DataSource(name=f"source-{i}", entity="orders", owner="owner", interface="sql", connection_enc="x")
                  for i in range(sources))
    t0 = time.perf_counter()
    cols = "source_id, trigger, actor, status, results, incidents, duration_ms, started_at, finished_at"
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text(f"INSERT INTO data_check_runs ({cols}) SELECT s.id, 'schedule', 'system', 'pass', '[]', "
                           f"'[]', 1.0, now() - g * interval '15 minutes', now() FROM data_sources s, "
                           f"generate_series(1, {runs}) g"))
        else:
            c.execute(text(f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {runs}) "
                           f"INSERT INTO data_check_runs ({cols}) SELECT s.id, 'schedule', 'system', 'pass', '[]', "
                           f"'[]', 1.0, datetime('now', '-' || (g.n * 15) || ' minutes'), datetime('now') "
                           f"FROM data_sources s, g"))
        c.execute(text("ANALYZE"))
    print(f"  seeded {sources * runs:,} check runs in {time.perf_counter() - t0:.1f} s", flush=True)
    shapes = {"GROUP BY over every run (before)": group_by_latest, "latest_runs, a seek a source": queries.latest_runs}
    times: dict[str, list[float]] = {k: [] for k in shapes}
    for _ in range(repeat):
        for name, fn in shapes.items():
            with factory() as s:
                t = time.perf_counter()
                found = fn(s)
                times[name].append((time.perf_counter() - t) * 1000)
            assert len(found) == sources
    for name, ts in times.items():
        print(f"  {name}: p50 {statistics.median(ts):7.1f} ms  max {max(ts):7.1f} ms", flush=True)
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description="every source's latest check run, with a year of runs kept")
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--runs", type=int, default=35000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:")
        run(f"sqlite:///{tmp}/runs.db", args.sources, args.runs, args.repeat)
    if args.postgres:
        os.environ.setdefault("TAKEOFF_TEST_POSTGRES_URL", PG)
        sys.path.insert(0, str(ROOT))
        from tests.conftest import create_pg_database

        url, drop = create_pg_database("takeoff_bench_runs")
        try:
            print("PostgreSQL:")
            run(url, args.sources, args.runs, args.repeat)
        finally:
            drop()


if __name__ == "__main__":
    main()
