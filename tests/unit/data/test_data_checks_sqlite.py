"""SLA checks against a real SQLite file: results, faults, and the table left untouched."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from takeoff.data.checks import Completeness, Freshness, Reconciliation, Rule, Schema, run_checks
from takeoff.data.connect import SourceError, open_source
from takeoff.data.context import context_stats

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "orders.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TIMESTAMP, amount REAL, email TEXT)")
    rows = [
        (i, (NOW - timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S"), -5.0 if i == 3 else float(i), None if i % 4 == 0 else f"u{i}@x")
        for i in range(1, 11)
    ]
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE ledger (total REAL)")
    con.execute("INSERT INTO ledger VALUES (?)", (sum(r[2] for r in rows) + 0.5,))
    con.execute("CREATE TABLE docs (doc_id TEXT, updated_at TEXT, permission_labels TEXT)")
    con.executemany(
        "INSERT INTO docs VALUES (?, ?, ?)",
        [
            ("a", (NOW - timedelta(days=1)).isoformat(), "hr"),
            ("b", (NOW - timedelta(days=10)).isoformat(), ""),
            ("c", (NOW - timedelta(days=100)).isoformat(), None),
            ("d", (NOW - timedelta(days=2)).isoformat(), "[]"),
        ],
    )
    con.commit()
    con.close()
    return path


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _count(path: Path, table: str = "orders") -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_freshness_and_completeness_pass_and_breach(db: Path) -> None:
    src = open_source(_url(db))
    res = run_checks(src, "orders", [Freshness(column="created_at", max_age_s=7200), Completeness(fields={"email": 0.9, "amount": 1.0})], NOW)
    by = {(r.kind, r.name): r for r in res}
    assert by[("freshness", "created_at")].status == "pass"
    assert by[("freshness", "created_at")].observed["age_s"] == pytest.approx(3600)
    email = by[("completeness", "email")]
    assert email.status == "breach" and email.observed["rate"] == pytest.approx(0.8)
    assert by[("completeness", "amount")].status == "pass"
    late = run_checks(src, "orders", [Freshness(column="created_at", max_age_s=600)], NOW)[0]
    assert late.status == "breach" and "stale by" in late.reason
    src.close()


def test_rule_share_and_reconciliation(db: Path) -> None:
    src = open_source(_url(db))
    res = run_checks(
        src, "orders",
        [
            Rule(name="non-negative", expression="amount >= 0", min_share=0.95),
            Rule(name="mostly", expression="amount >= 0", min_share=0.9),
            Reconciliation(name="ledger", other_source="self", other_table="ledger", measure="sum(amount)",
                           other_measure="sum(total)", tolerance_abs=1.0),
            Reconciliation(name="strict", other_source="self", other_table="ledger", measure="sum(amount)",
                           other_measure="sum(total)", tolerance_rel=0.0001),
        ],
        NOW, others={"self": src},
    )
    assert [r.status for r in res] == ["breach", "pass", "pass", "breach"]
    assert res[0].observed["share"] == pytest.approx(0.9)
    assert res[2].observed["diff"] == pytest.approx(0.5)
    src.close()


def test_reconciliation_other_source_by_url(db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (amount REAL)")
    con.execute("INSERT INTO t VALUES (47.0)")
    con.commit()
    con.close()
    src = open_source(_url(db))
    r = run_checks(src, "orders", [Reconciliation(name="r", other_source=_url(other), other_table="t", measure="sum(amount)")], NOW)[0]
    assert r.status == "pass", r.reason  # 1+2-5+4+...+10 = 47
    src.close()


def test_schema_change_alerts_unless_announced(db: Path) -> None:
    src = open_source(_url(db))
    expected = (("id", "INTEGER"), ("created_at", "TIMESTAMP"), ("amount", "INTEGER"), ("email", "TEXT"), ("country", "TEXT"))
    r = run_checks(src, "orders", [Schema(expected_columns=expected)], NOW)[0]
    assert r.status == "breach"
    assert r.observed["removed"] == ["country"] and r.observed["retyped"] == [["amount", "integer", "real"]]
    announced = Schema(
        expected_columns=expected,
        announced_changes=[{"date": date(2026, 11, 20), "description": "drop country, amount to REAL", "columns": ["country", "amount"]}],
    )
    assert run_checks(src, "orders", [announced], NOW)[0].status == "pass"
    future = Schema(expected_columns=expected, announced_changes=[{"date": date(2026, 12, 1), "columns": ["country", "amount"]}])
    assert run_checks(src, "orders", [future], NOW)[0].status == "breach"
    same = run_checks(src, "orders", [Schema(expected_fingerprint=r.observed["fingerprint"])], NOW)[0]
    assert same.status == "pass"
    src.close()


def test_missing_table_and_column_are_error_results(db: Path) -> None:
    src = open_source(_url(db))
    res = run_checks(src, "nope", [Freshness(column="created_at", max_age_s=60), Rule(name="r", expression="a > 1")], NOW)
    assert [r.status for r in res] == ["error", "error"]
    assert all("table nope does not exist" in r.reason for r in res)
    res = run_checks(src, "orders", [Freshness(column="updated", max_age_s=60), Completeness(fields={"email": 0.5, "phone": 0.5})], NOW)
    by = {r.name: r for r in res}
    assert by["updated"].status == "error" and "column updated does not exist" in by["updated"].reason
    assert by["phone"].status == "error" and by["email"].status == "pass"
    bad_col = run_checks(src, "orders", [Rule(name="r", expression="ghost > 1")], NOW)[0]
    assert bad_col.status == "error" and "column ghost does not exist" in bad_col.reason
    src.close()


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("amount >= 0; DROP TABLE orders", "';'"),
        ("(DELETE FROM orders)", "DELETE"),
        ("amount", "not a boolean"),
        ("amount IN (SELECT 1) OR (INSERT INTO orders VALUES (1))", "INSERT"),
        ("load_extension('x') IS NULL", "load_extension"),
    ],
)
def test_unsafe_or_non_boolean_rules_refused_and_table_unchanged(db: Path, expression: str, fragment: str) -> None:
    src = open_source(_url(db))
    r = run_checks(src, "orders", [Rule(name="bad", expression=expression)], NOW)[0]
    assert r.status == "error" and r.reason.startswith("refused") and fragment in r.reason
    src.close()
    assert _count(db) == 10


def test_connection_is_read_only(db: Path) -> None:
    src = open_source(_url(db))
    with pytest.raises(SourceError) as e:
        src.aggregate("DELETE FROM orders RETURNING 1")
    assert "read" in e.value.reason.lower()
    src.close()
    assert _count(db) == 10


def test_missing_sqlite_file_is_readable_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(_url(tmp_path / "absent.db"))


def test_context_stats_on_sqlite(db: Path) -> None:
    src = open_source(_url(db))
    s = context_stats(src, "docs", now=NOW, freshness_sla_s=30 * 86400)
    assert s.documents == 4 and s.stale == 1 and s.stale_share == pytest.approx(0.25)
    assert s.unlabeled == 3 and s.status == "breach"
    assert s.oldest_age_s == pytest.approx(100 * 86400)
    assert s.age_percentiles_s["p50"] == pytest.approx(2 * 86400)
    assert s.age_percentiles_s["p99"] == pytest.approx(100 * 86400)
    missing = context_stats(src, "docs", now=NOW, freshness_sla_s=60, labels_column="acl")
    assert missing.status == "error" and "column acl does not exist" in missing.reason
    src.close()


def test_bad_arguments_raise_value_error(db: Path) -> None:
    src = open_source(_url(db))
    with pytest.raises(ValueError, match="timezone-aware"):
        run_checks(src, "orders", [], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="invalid check spec"):
        run_checks(src, "orders", [{"kind": "freshness", "column": "x", "max_age_s": -1}], NOW)
    with pytest.raises(ValueError, match="invalid check spec"):
        run_checks(src, "orders", [{"kind": "telepathy"}], NOW)
    with pytest.raises(ValueError):
        run_checks(src, "a.b.c", [], NOW)
    with pytest.raises(ValueError):
        open_source("")
    with pytest.raises(ValueError, match="SQLAlchemy URL"):
        open_source("postgresql+psycopg://user:pw@host:notaport/db")
    with pytest.raises(ValueError):
        context_stats(src, "docs", now=NOW, freshness_sla_s=0)
    src.close()


def test_checks_from_dicts(db: Path) -> None:
    src = open_source(_url(db))
    res = run_checks(src, "orders", [{"kind": "completeness", "fields": {"id": 1.0}}], NOW)
    assert res[0].status == "pass" and res[0].duration_ms >= 0
    src.close()


def test_colons_in_rule_literals_are_not_parameters(db: Path) -> None:
    src = open_source(_url(db))
    r = run_checks(src, "orders", [Rule(name="colon", expression="email <> 'a :b' AND created_at > '2000-01-01 00:00:00'", min_share=0.8)], NOW)[0]
    assert r.status == "pass", r.reason
    assert r.observed["satisfied"] == 8  # NULL emails do not satisfy the rule
    src.close()


def test_checks_must_be_a_list(db: Path) -> None:
    src = open_source(_url(db))
    with pytest.raises(ValueError, match="list of check specs"):
        run_checks(src, "orders", None, NOW)  # type: ignore[arg-type]
    src.close()
