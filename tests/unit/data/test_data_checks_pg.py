"""SLA checks against PostgreSQL in a unique throwaway database; faults give readable error results."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from takeoff.data.checks import Completeness, Freshness, Reconciliation, Rule, Schema, run_checks
from takeoff.data.connect import SourceError, open_source
from takeoff.data.context import context_stats

BASE_URL = os.environ.get("TAKEOFF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _admin() -> sa.Engine:
    return sa.create_engine(sa.make_url(BASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    admin = _admin()
    try:
        with admin.connect() as c:
            c.exec_driver_sql("SELECT 1")
    except Exception:
        pytest.skip("PostgreSQL not reachable")
    name = f"t_data_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(BASE_URL).set(database=name)
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql(
            'CREATE TABLE "Orders" (id int PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(10,2), '
            'email text, "weird ""col" text)'
        )
        c.execute(
            sa.text('INSERT INTO "Orders" VALUES (:i, :t, :a, :e, :w)'),
            [
                {"i": i, "t": NOW - timedelta(minutes=10 * i), "a": -1 if i == 7 else i * 10,
                 "e": None if i % 5 == 0 else f"u{i}@x", "w": "x"}
                for i in range(1, 21)
            ],
        )
        c.exec_driver_sql("CREATE TABLE ledger (total numeric)")
        c.exec_driver_sql('INSERT INTO ledger SELECT sum(amount) FROM "Orders"')
        c.exec_driver_sql(
            "CREATE TABLE docs (doc_id text, updated_at timestamptz, permission_labels text[])"
        )
        c.execute(
            sa.text("INSERT INTO docs VALUES (:d, :u, CAST(:l AS text[]))"),
            [
                {"d": "a", "u": NOW - timedelta(days=1), "l": "{hr}"},
                {"d": "b", "u": NOW - timedelta(days=40), "l": "{}"},
                {"d": "c", "u": NOW - timedelta(days=3), "l": None},
            ],
        )
        # A function that writes: it passes rule validation, so only the read-only transaction stops it.
        c.exec_driver_sql(
            'CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS $$ DELETE FROM "Orders" RETURNING 1 $$'
        )
    eng.dispose()
    yield url.render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _rows(url: str) -> int:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return c.exec_driver_sql('SELECT count(*) FROM "Orders"').scalar_one()
    finally:
        eng.dispose()


def test_freshness_completeness_rules_schema_on_pg(pg_url: str) -> None:
    src = open_source(pg_url)
    res = run_checks(
        src, "Orders",
        [
            Freshness(column="created_at", max_age_s=900),
            Completeness(fields={"email": 0.9, 'weird "col': 1.0}),
            Rule(name="positive", expression="amount > 0", min_share=0.95),
            Rule(name="email shape", expression="email LIKE '%@%'", min_share=0.8),
            Reconciliation(name="ledger", other_source="same", other_table="ledger", measure="sum(amount)",
                           other_measure="sum(total)", tolerance_rel=0.001),
            Schema(expected_columns=(("id", "INTEGER"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
                                     ("amount", "NUMERIC(10, 2)"), ("email", "TEXT"), ('weird "col', "TEXT"))),
        ],
        NOW, others={"same": src},
    )
    by = {(r.kind, r.name): r for r in res}
    assert by[("freshness", "created_at")].status == "pass"
    assert by[("freshness", "created_at")].observed["age_s"] == pytest.approx(600)
    assert by[("completeness", "email")].status == "breach"
    assert by[("completeness", "email")].observed["rate"] == pytest.approx(0.8)
    assert by[("completeness", 'weird "col')].status == "pass"
    assert by[("rule", "positive")].status == "pass"  # 19/20 = 0.95
    assert by[("rule", "email shape")].status == "pass", by[("rule", "email shape")].reason
    assert by[("reconciliation", "ledger")].status == "pass"
    assert by[("schema", "schema")].status == "pass", by[("schema", "schema")].reason
    src.close()


def test_unreachable_database_is_error_result() -> None:
    src = open_source("postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:1/db", connect_timeout_s=2)
    res = run_checks(src, "t", [Freshness(column="ts", max_age_s=60), Completeness(fields={"a": 1.0})], NOW)
    assert [r.status for r in res] == ["error", "error"]
    assert all(r.reason.startswith("cannot reach host 127.0.0.1:1") for r in res)
    assert all("hunter2-secret" not in r.reason for r in res)
    src.close()


def test_wrong_credentials_is_error_result_without_password(pg_url: str) -> None:
    bad = sa.make_url(pg_url).set(username="no_such_user_x", password="hunter2-secret")
    src = open_source(bad.render_as_string(hide_password=False))
    assert "hunter2-secret" not in src.label
    r = run_checks(src, "Orders", [Freshness(column="created_at", max_age_s=60)], NOW)[0]
    assert r.status == "error" and r.reason == "authentication failed for user no_such_user_x"
    src.close()


def test_missing_database_table_and_column(pg_url: str) -> None:
    src = open_source(sa.make_url(pg_url).set(database="no_such_db_x").render_as_string(hide_password=False))
    r = run_checks(src, "Orders", [Freshness(column="created_at", max_age_s=60)], NOW)[0]
    assert r.status == "error" and "database no_such_db_x does not exist" in r.reason
    src.close()
    src = open_source(pg_url)
    assert run_checks(src, "orders_nope", [Freshness(column="created_at", max_age_s=60)], NOW)[0].reason == (
        "table orders_nope does not exist"
    )
    r = run_checks(src, "Orders", [Rule(name="r", expression="ghost > 0")], NOW)[0]
    assert r.status == "error" and "column ghost does not exist" in r.reason
    src.close()


@pytest.mark.parametrize(
    "expression",
    [
        'amount >= 0; DROP TABLE "Orders"',
        '(DELETE FROM "Orders")',
        "amount",
        "pg_sleep(5) IS NULL",
        "amount > 0 OR set_config('default_transaction_read_only', 'off', false) = 'x'",
    ],
)
def test_refused_rules_leave_table_unchanged(pg_url: str, expression: str) -> None:
    src = open_source(pg_url)
    r = run_checks(src, "Orders", [Rule(name="bad", expression=expression)], NOW)[0]
    assert r.status == "error" and r.reason.startswith("refused:")
    src.close()
    assert _rows(pg_url) == 20


def test_writing_function_refused_and_writes_stopped_by_read_only_transaction(pg_url: str) -> None:
    src = open_source(pg_url)
    r = run_checks(src, "Orders", [Rule(name="sneaky", expression="wipe() > 0")], NOW)[0]
    assert r.status == "error" and r.reason.startswith("refused:") and "wipe()" in r.reason  # not on the allow-list
    with pytest.raises(SourceError):
        src.aggregate('INSERT INTO "Orders" (id, created_at) VALUES (999, now()) RETURNING 1')
    src.close()
    assert _rows(pg_url) == 20


def test_context_stats_on_pg(pg_url: str) -> None:
    src = open_source(pg_url)
    s = context_stats(src, "docs", now=NOW, freshness_sla_s=30 * 86400)
    assert (s.documents, s.stale, s.unlabeled) == (3, 1, 2)
    assert s.age_percentiles_s["p50"] == pytest.approx(3 * 86400)
    assert s.age_percentiles_s["p99"] == pytest.approx(40 * 86400)
    assert s.status == "breach"
    src.close()
