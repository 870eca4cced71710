"""Bench: freshness + completeness on a 10M-row PostgreSQL table, beside a bare count(*).

Creates (once, reused afterwards) the table `sla_events` in the dedicated database `takeoff_bench`,
then times `SELECT count(*)` and `run_checks([Freshness, Completeness])` — median of 3 after a warm-up —
and prints both with the ratio (goal: within 3x of the count).

Usage: python bench/data_sla_bench.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--rows N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

import sqlalchemy as sa

BENCH_DB = "takeoff_bench"
TABLE = "sla_events"


def _admin_url(url: str) -> sa.URL:
    return sa.make_url(url).set(database="postgres")


def ensure_database(url: str) -> sa.URL:
    """Create the bench database if missing; return its URL."""
    admin = sa.create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": BENCH_DB}).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{BENCH_DB}"')
    admin.dispose()
    return sa.make_url(url).set(database=BENCH_DB)


def ensure_table(db_url: sa.URL, rows: int) -> None:
    """Create and fill the bench table once; reuse it when it already holds `rows` rows."""
    engine = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar()
        if have:
            n = conn.execute(sa.text(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{TABLE}'")).scalar()
            if n and abs(n - rows) < rows * 0.01:
                engine.dispose()
                return
            conn.exec_driver_sql(f"DROP TABLE {TABLE}")
        t0 = time.perf_counter()
        conn.exec_driver_sql(
            f"""CREATE UNLOGGED TABLE {TABLE} (
                id bigint NOT NULL,
                created_at timestamptz NOT NULL,
                customer_id bigint,
                amount numeric(12,2),
                email text,
                country text)"""
        )
        conn.exec_driver_sql(
            f"""INSERT INTO {TABLE}
                SELECT g,
                       now() - mod(g, 86400) * interval '1 second',
                       CASE WHEN mod(g, 50) = 0 THEN NULL ELSE mod(g, 100000) END,
                       CASE WHEN mod(g, 20) = 0 THEN NULL ELSE mod(g, 10000) / 100.0 END,
                       CASE WHEN mod(g, 10) = 0 THEN NULL ELSE 'user' || mod(g, 100000) || '@example.com' END,
                       CASE WHEN mod(g, 3) = 0 THEN 'FR' ELSE 'DE' END
                FROM generate_series(1, {int(rows)}) AS g"""
        )
        conn.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
        print(f"created {TABLE} with {rows:,} rows in {time.perf_counter() - t0:.1f}s")
    engine.dispose()


def _median_s(fn, repeats: int = 3) -> float:
    fn()  # warm-up: fills the buffer cache so both measurements see the same cache state
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("TAKEOFF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()

    db_url = ensure_database(args.url)
    ensure_table(db_url, args.rows)
    if args.setup_only:
        return

    from takeoff.data.checks import Completeness, Freshness, run_checks
    from takeoff.core import netguard
    from takeoff.data.connect import open_source

    netguard.configure(netguard.parse_allow(db_url.host or "localhost"))  # the bench's database is local: list it
    source = open_source(db_url.render_as_string(hide_password=False))
    checks = [
        Freshness(column="created_at", max_age_s=2 * 86400),
        Completeness(fields={"customer_id": 0.95, "amount": 0.9, "email": 0.85}),
    ]
    engine = source.engine
    assert engine is not None

    def count_rows() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar()

    results: list = []

    def sla() -> None:
        results[:] = run_checks(source, TABLE, checks, now=datetime.now(UTC))

    t_count = _median_s(count_rows)
    t_sla = _median_s(sla)
    source.close()
    for r in results:
        print(f"  {r.kind:<12} {r.status:<7} {r.observed} {r.reason}")
    print(f"rows: {args.rows:,}")
    print(f"SELECT count(*)            median {t_count * 1000:8.1f} ms")
    print(f"freshness + completeness   median {t_sla * 1000:8.1f} ms")
    print(f"ratio                      {t_sla / t_count:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
