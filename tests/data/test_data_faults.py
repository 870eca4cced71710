"""Faults through the API and the worker: each becomes a failed-check result with its reason, never a crash."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from .conftest import source_body

PG = os.environ.get("TAKEOFF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _register(client, owner, connection, use_case=None, **over):
    resp = client.post("/api/v1/datasources", json=source_body(connection, use_case, owner["name"], **over),
                       headers=owner["headers"])
    assert resp.status_code == 201, resp.text


def _check(client, owner, name="orders"):
    resp = client.post(f"/api/v1/datasources/{name}/check", params={"timeout_s": 5}, headers=owner["headers"])
    assert resp.status_code == 200, resp.text
    run = resp.json()
    stored = client.get(f"/api/v1/datasources/{name}/runs", headers=owner["headers"]).json()["items"][0]
    assert stored["id"] == run["id"] and stored["results"] == run["results"]  # the reason is stored
    return run


def _reasons(run):
    return [r["reason"] for r in run["results"]]


def test_unreachable_database(client, owner):
    _register(client, owner, "postgresql+psycopg://u:pw@127.0.0.1:1/nodb")
    run = _check(client, owner)
    assert run["status"] == "error"
    assert all(r["status"] == "error" and "cannot reach host 127.0.0.1:1" in r["reason"] for r in run["results"])


def test_wrong_credentials(client, owner):
    url = sa.make_url(PG).set(username="no_such_user_x", password="Wr0ngPassw0rd")
    _register(client, owner, url.render_as_string(hide_password=False))
    run = _check(client, owner)
    assert run["status"] == "error"
    assert "authentication failed for user no_such_user_x" in run["results"][0]["reason"], _reasons(run)
    assert "Wr0ngPassw0rd" not in str(run)


def test_missing_table_and_column(client, owner, source_db):
    _register(client, owner, source_db, table="no_such_table")
    run = _check(client, owner)
    assert run["status"] == "error" and all("table no_such_table does not exist" in r for r in _reasons(run))
    client.patch("/api/v1/datasources/orders", json={"table": "orders", "checks": [
        {"kind": "completeness", "fields": {"nope_col": 0.5}},
        {"kind": "rule", "name": "ghost", "expression": "ghost_col > 1"}]}, headers=owner["headers"])
    run = _check(client, owner)
    assert "column nope_col does not exist" in run["results"][0]["reason"]
    assert "ghost_col" in run["results"][1]["reason"] and run["results"][1]["status"] == "error"


@pytest.mark.parametrize("expression, words", [
    ("amount + 1", "boolean"),
    ("1; DROP TABLE orders", "refused"),
    ("amount > 0; DELETE FROM orders", "refused"),
    ("(SELECT count(*) FROM orders) > 0 OR (INSERT INTO orders VALUES (1))", "refused"),
])
def test_rules_that_are_not_one_boolean_expression(client, owner, source_db, expression, words):
    resp = client.post("/api/v1/datasources", json=source_body(
        source_db, None, owner["name"], checks=[{"kind": "rule", "name": "bad", "expression": expression}]),
        headers=owner["headers"])
    assert resp.status_code == 422 and "rule 'bad'" in resp.json()["error"]["message"], resp.text
    assert words in resp.json()["error"]["message"].lower()
    assert client.get("/api/v1/datasources", headers=owner["headers"]).json()["total"] == 0
    import sqlite3

    con = sqlite3.connect(sa.make_url(source_db).database)
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 20  # nothing was written
    con.close()


def test_postgres_source_faults_and_green(client, owner):
    """A real PostgreSQL source: green checks, then a rule trying to write is refused and nothing changes."""
    admin = sa.create_engine(sa.make_url(PG).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql("SELECT 1")
    except Exception:
        pytest.skip("PostgreSQL not reachable")
    name = f"t_dsrc_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG).set(database=name)
    try:
        eng = sa.create_engine(url)
        with eng.begin() as c:
            c.exec_driver_sql("CREATE TABLE orders (id int, created_at timestamptz default now(), amount numeric, email text)")
            c.exec_driver_sql("INSERT INTO orders (id, amount, email) SELECT g, g, 'x' FROM generate_series(1, 50) g")
        eng.dispose()
        _register(client, owner, url.render_as_string(hide_password=False), checks=[
            {"kind": "freshness", "column": "created_at", "max_age_s": 3600},
            {"kind": "completeness", "fields": {"email": 1.0}},
            {"kind": "rule", "name": "pos", "expression": "amount > 0"},
        ])
        run = _check(client, owner)
        by_name = {r["name"]: r for r in run["results"]}
        assert by_name["created_at"]["status"] == "pass" and by_name["email"]["status"] == "pass"
        assert by_name["pos"]["status"] == "pass"
        for rule, words in (({"kind": "rule", "name": "write", "expression": "amount > 0 OR pg_sleep(1) IS NULL"},
                             "pg_sleep"), ({"kind": "rule", "name": "notbool", "expression": "amount * 2"}, "boolean")):
            resp = client.patch("/api/v1/datasources/orders", json={"checks": [rule]}, headers=owner["headers"])
            assert resp.status_code == 422 and f"rule '{rule['name']}'" in resp.json()["error"]["message"]
            assert words in resp.json()["error"]["message"]
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_worker_survives_faulty_sources(client, app, owner, source_db, use_case):
    """Scheduled checks on a broken and a good source: both runs stored, no job failed."""
    _register(client, owner, "postgresql+psycopg://u:pw@127.0.0.1:1/nodb", name="broken")
    _register(client, owner, source_db, use_case)
    from takeoff.data import runs as data_runs
    from takeoff.core.db import transaction
    from takeoff.jobs.models import Job

    with transaction(app.state.factory) as s:
        assert data_runs.enqueue_due_checks(s) == 2
        assert data_runs.enqueue_due_checks(s) == 2  # same interval: the keys make these the same two jobs
    app.state.worker.drain()
    with transaction(app.state.factory) as s:
        jobs = s.query(Job).filter(Job.kind == "data.check").all()
        assert len(jobs) == 2 and {j.status for j in jobs} == {"done"}
        assert {j.result["status"] for j in jobs} == {"error", "pass"}
    for name in ("broken", "orders"):
        runs = client.get(f"/api/v1/datasources/{name}/runs", headers=owner["headers"]).json()["items"]
        assert len(runs) == 1 and runs[0]["trigger"] == "schedule"


def test_periodic_job_enqueues_checks(client, app, owner, source_db):
    _register(client, owner, source_db)
    from takeoff.core.db import transaction
    from takeoff.jobs import service as jobs

    with transaction(app.state.factory) as s:
        jobs.enqueue(s, "data.schedule_checks", {})
    assert app.state.worker.drain() == 2
    runs = client.get("/api/v1/datasources/orders/runs", headers=owner["headers"]).json()["items"]
    assert runs and runs[0]["status"] == "pass"
