"""Data-source SQL rules read only their source's declared table: hostile rules are a 422 naming the rule, at
creation and at check time, on SQLite and PostgreSQL sources; ordinary rules keep working (issue 16 item 4)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from takeoff.data import runs
from takeoff.data.jobs import SCHEDULER
from takeoff.data.models import DataCheckRun, DataSource
from takeoff.core.db import transaction

from ..conftest import create_pg_database
from .conftest import source_body

# Each would read `secret_tbl` (a yes/no oracle), the server's files or settings, or reach out of the database.
HOSTILE = {
    "oracle": "EXISTS (SELECT 1 FROM secret_tbl WHERE pw LIKE 'hunter%')",
    "oracle_or": "amount > 0 AND EXISTS (SELECT 1 FROM secret_tbl WHERE pw = 'hunter2')",
    "in_subquery": "amount IN (SELECT length(pw) FROM secret_tbl)",
    "scalar_subquery": "(SELECT count(*) FROM secret_tbl) > 0",
    "xml": "database_to_xml(true, true, '') IS NOT NULL",
    "query_xml": "query_to_xml('select * from secret_tbl', true, true, '') IS NOT NULL",
    "read_file": "pg_read_file('/etc/passwd') IS NOT NULL",
    "setting": "current_setting('data_directory') LIKE '/%'",
    "lo_import": "lo_import('/etc/passwd') > 0",
    "dblink": "dblink('dbname=postgres', 'select 1') IS NULL",
    "cte": "amount IN (WITH s AS (SELECT 1 AS n FROM secret_tbl) SELECT n FROM s)",
    "union": "amount IN (SELECT 1 UNION SELECT length(pw) FROM secret_tbl)",
    "comment": "amount >= 0 -- harmless\n OR EXISTS (SELECT 1 FROM secret_tbl WHERE pw = 'hunter2')",
    "block_comment": "amount >= 0 /* note */ OR EXISTS (SELECT 1 FROM secret_tbl)",
    "quoted_other_table": "\"secret_tbl\".\"pw\" = 'hunter2'",
    "qualified_other_table": "secret_tbl.pw IS NOT NULL",
    "regclass": "'secret_tbl'::regclass IS NOT NULL",
    "row_type": "CAST(NULL AS secret_tbl) IS NULL",
    "user_function": "wipe() > 0",
    "window": "count(*) OVER () > 0",
}

# Ordinary data-quality rules, written the way a data owner would on each kind of source.
ORDINARY_COMMON = [
    "amount >= -5", "amount BETWEEN -5 AND 1000", "email IS NULL OR email LIKE '%@%'", "coalesce(amount, 0) >= -5",
    "email IS NULL OR length(email) > 3", "lower(email) = email OR email IS NULL", "abs(amount) < 1000",
    "CASE WHEN amount < 0 THEN 1 ELSE 0 END <= 1", "round(amount, 2) = amount", "orders.amount > -5",
    "NOT (amount < -5)", "email IS NULL OR trim(email) <> ''", "CAST(amount AS INTEGER) >= -5",
    "email IS NULL OR substr(email, 1, 1) = 'u'",
]
ORDINARY = {
    "sqlite": ORDINARY_COMMON + ["created_at >= date('now', '-30 day')", "email IS NULL OR instr(email, '@') > 0",
                                 "julianday('now') - julianday(created_at) < 30", "email GLOB '*@*' OR email IS NULL"],
    "postgresql": ORDINARY_COMMON + ["created_at > now() - interval '30 days'", "email ~ '@' OR email IS NULL",
                                     "created_at::date <= current_date", "extract(year from created_at) > 2000",
                                     "email IS NULL OR position('@' in email) > 1", "date_trunc('day', created_at) <= created_at"],
}


def _sqlite_source(tmp_path) -> str:
    path = tmp_path / "shop.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TEXT, amount REAL, email TEXT)")
    con.executemany("INSERT INTO orders VALUES (?, datetime('now', '-1 hour'), ?, ?)",
                    [(i, -1.0 if i == 3 else i * 10.0, None if i == 5 else f"u{i}@x.test") for i in range(1, 11)])
    con.execute("CREATE TABLE secret_tbl (pw TEXT)")
    con.execute("INSERT INTO secret_tbl VALUES ('hunter2')")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def pg_source() -> Iterator[str]:
    url, drop = create_pg_database("t_rules")
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE orders (id int, created_at timestamptz default now() - interval '1 hour', "
                          "amount numeric, email text)")
        c.exec_driver_sql("INSERT INTO orders (id, amount, email) SELECT g, CASE WHEN g = 3 THEN -1 ELSE g * 10 END, "
                          "CASE WHEN g = 5 THEN NULL ELSE 'u' || g || '@x.test' END FROM generate_series(1, 10) g")
        c.exec_driver_sql("CREATE TABLE secret_tbl (pw text)")
        c.exec_driver_sql("INSERT INTO secret_tbl VALUES ('hunter2')")
        c.exec_driver_sql("CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$")
    eng.dispose()
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request, tmp_path) -> tuple[str, str]:
    """(dialect, connection) of a source holding `orders` (declared) and `secret_tbl` (not declared)."""
    if request.param == "sqlite":
        return "sqlite", _sqlite_source(tmp_path)
    return "postgresql", request.getfixturevalue("pg_source")


def _rule(name: str, expression: str) -> dict[str, Any]:
    return {"kind": "rule", "name": name, "expression": expression, "min_share": 0.0}


def _store_unchecked(factory, name: str, checks: list[dict[str, Any]]) -> None:
    """Write checks straight to the table, as a rule stored before this validation existed would be."""
    with transaction(factory) as s:
        src = s.query(DataSource).filter_by(name=name).one()
        src.checks = checks


def test_hostile_rules_refused_at_creation(client, owner, shop):
    dialect, connection = shop
    for name, expression in HOSTILE.items():
        body = source_body(connection, None, owner["name"], checks=[_rule(name, expression)])
        resp = client.post("/api/v1/datasources", json=body, headers=owner["headers"])
        assert resp.status_code == 422, (dialect, name, resp.text)
        message = resp.json()["error"]["message"]
        assert f"rule '{name}'" in message, message
        assert resp.json()["error"]["details"][0]["field"] == "checks[0].expression"
    assert client.get("/api/v1/datasources", headers=owner["headers"]).json()["total"] == 0
    # The same through a change of an existing source: 422, and the stored checks stay as they were.
    assert client.post("/api/v1/datasources", json=source_body(connection, None, owner["name"], checks=[]),
                       headers=owner["headers"]).status_code == 201
    resp = client.patch("/api/v1/datasources/orders", json={"checks": [_rule("oracle", HOSTILE["oracle"])]},
                        headers=owner["headers"])
    assert resp.status_code == 422 and "rule 'oracle'" in resp.json()["error"]["message"]
    assert client.get("/api/v1/datasources/orders", headers=owner["headers"]).json()["checks"] == []


def test_specific_reasons(client, owner, shop):
    _, connection = shop
    cases = {
        "oracle": "secret_tbl", "xml": "database_to_xml()", "read_file": "pg_read_file()", "setting": "current_setting()",
        "lo_import": "lo_import()", "dblink": "dblink()", "cte": "subquery", "union": "subquery",
        "quoted_other_table": "secret_tbl.pw", "regclass": "casts to", "user_function": "wipe()",
    }
    for name, words in cases.items():
        body = source_body(connection, None, owner["name"], checks=[_rule(name, HOSTILE[name])])
        message = client.post("/api/v1/datasources", json=body, headers=owner["headers"]).json()["error"]["message"]
        assert words.lower() in message.lower(), (name, message)


def test_hostile_rules_refused_at_check_time(client, owner, shop, factory):
    """Rules stored before the allow-list (or written to the table directly): a manual check is a 422 naming the
    rule and stores nothing; a scheduled check records the refusal as an error and never runs the rule."""
    dialect, connection = shop
    assert client.post("/api/v1/datasources", json=source_body(connection, None, owner["name"], checks=[]),
                       headers=owner["headers"]).status_code == 201
    _store_unchecked(factory, "orders", [_rule("fine", "amount >= -5")]
                     + [_rule(n, e) for n, e in HOSTILE.items()])
    resp = client.post("/api/v1/datasources/orders/check", headers=owner["headers"])
    assert resp.status_code == 422, resp.text
    assert "rule 'oracle'" in resp.json()["error"]["message"]  # the first refused one, by name
    assert client.get("/api/v1/datasources/orders/runs", headers=owner["headers"]).json()["items"] == []
    with transaction(factory) as s:
        run = runs.run_check(s, SCHEDULER, "orders", trigger="schedule")
        results = {r["name"]: r for r in run.results}
    assert results["fine"]["status"] == "pass", results["fine"]
    for name in HOSTILE:
        r = results[name]
        assert r["status"] == "error" and r["reason"].startswith("refused:"), (dialect, name, r)
        assert not r["observed"], r  # nothing was counted: the rule never ran
    with transaction(factory) as s:
        assert s.query(DataCheckRun).count() == 1


def test_column_of_no_table_is_not_run(client, owner, shop, factory):
    """A bare quoted name that is no column of the table (SQLite would read it as the string 'secret_tbl', true
    for every row) is reported, not run."""
    _, connection = shop
    body = source_body(connection, None, owner["name"], checks=[_rule("ghost", '"secret_tbl" IS NOT NULL')])
    assert client.post("/api/v1/datasources", json=body, headers=owner["headers"]).status_code == 201
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    r = run["results"][0]
    assert r["status"] == "error" and r["reason"] == "column secret_tbl does not exist in table orders", r
    assert not r["observed"]


def test_ordinary_rules_still_accepted_and_run(client, owner, shop):
    dialect, connection = shop
    rules = [dict(_rule(f"r{i}", e), min_share=1.0) for i, e in enumerate(ORDINARY[dialect])]
    resp = client.post("/api/v1/datasources", json=source_body(connection, None, owner["name"], checks=rules),
                       headers=owner["headers"])
    assert resp.status_code == 201, resp.text
    run = client.post("/api/v1/datasources/orders/check", headers=owner["headers"]).json()
    failed = [(r["threshold"].get("expression"), r["status"], r["reason"]) for r in run["results"] if r["status"] != "pass"]
    assert not failed, failed
    assert len(run["results"]) == len(rules)


def test_reconciliation_reads_only_declared_tables(client, owner, shop, tmp_path):
    _, connection = shop
    ledger = tmp_path / "ledger.db"
    con = sqlite3.connect(ledger)
    con.execute("CREATE TABLE ledger (total REAL)")
    con.execute("CREATE TABLE payroll (salary REAL)")
    con.commit()
    con.close()
    assert client.post("/api/v1/datasources", json=source_body(f"sqlite:///{ledger}", None, owner["name"],
                       name="ledger", table="ledger", checks=[]), headers=owner["headers"]).status_code == 201
    rec = {"kind": "reconciliation", "name": "rec", "other_source": "ledger", "other_table": "ledger",
           "measure": "sum(amount)", "other_measure": "sum(total)", "tolerance_abs": 1}
    bad = {
        "other table of the other source": dict(rec, other_table="payroll", other_measure="sum(salary)"),
        "other table of this source": dict(rec, other_source="orders", other_table="secret_tbl", other_measure="count(*)"),
        "subquery in the measure": dict(rec, measure="sum(amount) + (SELECT count(*) FROM secret_tbl)"),
        "function in the other measure": dict(rec, other_measure="sum(total) + length(current_setting('x'))"),
    }
    for what, spec in bad.items():
        resp = client.post("/api/v1/datasources", json=source_body(connection, None, owner["name"], checks=[spec]),
                           headers=owner["headers"])
        assert resp.status_code == 422, (what, resp.text)
        assert "reconciliation 'rec'" in resp.json()["error"]["message"], (what, resp.text)
    resp = client.post("/api/v1/datasources", json=source_body(connection, None, owner["name"], checks=[rec]),
                       headers=owner["headers"])
    assert resp.status_code == 201, resp.text


def test_web_check_of_a_refused_rule_says_which(app, client, owner, factory, tmp_path):
    from tests.conftest import csrf_of, web_login

    assert client.post("/api/v1/datasources", json=source_body(_sqlite_source(tmp_path), None, owner["name"], checks=[]),
                       headers=owner["headers"]).status_code == 201
    _store_unchecked(factory, "orders", [_rule("oracle", HOSTILE["oracle"])])
    web = web_login(app, owner["name"])
    page = web.get("/datasources/orders")
    resp = web.post("/datasources/orders/check", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True)
    assert resp.status_code == 200 and "rule &#39;oracle&#39; refused" in resp.text, resp.text[-2000:]
    assert client.get("/api/v1/datasources/orders/runs", headers=owner["headers"]).json()["items"] == []


def test_what_runs_names_the_tables_own_columns_quoted():
    """At check time every column is the table's own, quoted: PostgreSQL's bare `user` would be current_user."""
    from takeoff.data.rules import UnknownColumn, normalize_rule

    assert normalize_rule("user = 'x' AND orders.Amount > 0", "postgresql", "orders", ["user", "amount"]) == (
        '"user" = \'x\' AND "amount" > 0')
    with pytest.raises(UnknownColumn, match="column user does not exist in table orders"):
        normalize_rule("user = 'postgres'", "postgresql", "orders", ["amount"])
    assert normalize_rule("Amount > 0 -- /* note", "sqlite", "orders") == "Amount > 0"  # no catalog: as written
