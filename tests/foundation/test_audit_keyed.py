"""The keyed audit chain: a database owner without the server secret cannot rewrite or truncate it unnoticed
(checkpoints kept elsewhere catch truncation), and legacy unkeyed chains are keyed by `takeoff migrate`."""
from __future__ import annotations

import os
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import BACKENDS, TEST_SECRET_KEY, database_at

from takeoff.audit.chain import GENESIS, legacy_hash, sign_checkpoint
from takeoff.audit.key import derive
from takeoff.cli import app as cli


@pytest.fixture
def run(engine, cli_run):
    """The server-side CLI on the test database with the apps' secret (or another one: run(..., secret=...))."""
    return lambda *args, **kw: cli_run(*args, **{"url": engine.url.render_as_string(hide_password=False), **kw})


@pytest.fixture
def cli_run(monkeypatch, tmp_path):
    """The server-side CLI on the database at `url`."""
    def invoke(*args: str, url: str, secret: str = TEST_SECRET_KEY):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("TAKEOFF_DATABASE_URL", url)
        monkeypatch.setenv("TAKEOFF_SECRET_KEY", secret)
        monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
        return CliRunner().invoke(cli, list(args))
    return invoke


def _make_changes(client, admin, n=3, start=0):
    for i in range(start, start + n):
        assert client.post("/api/v1/users", json={"username": f"person{i}", "roles": ["viewer"]},
                           headers=admin).status_code == 201


def _rows(conn):
    return conn.execute(text("SELECT id, at, actor, action, object_type, object_id, diff, prev_hash, hash "
                             "FROM audit_entries ORDER BY id")).mappings().all()


def _at(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _diff(value):
    return json.loads(value) if isinstance(value, str) else value


def _rewrite_unkeyed(conn, first_id: int, actor: str | None, version: int | None) -> None:
    """What a database owner can do with the project's own (unkeyed) hash function: alter an entry, recompute every
    hash from there on, and move the head."""
    prev = GENESIS
    for r in _rows(conn):
        if r["id"] < first_id:
            prev = r["hash"]
            continue
        who = actor if (actor and r["id"] == first_id) else r["actor"]
        new = legacy_hash(prev, _at(r["at"]), who, r["action"], r["object_type"], r["object_id"], _diff(r["diff"]))
        conn.execute(text("UPDATE audit_entries SET actor = :a, prev_hash = :p, hash = :h"
                          + (", chain_version = :v" if version is not None else "") + " WHERE id = :i"),
                     {"a": who, "p": prev, "h": new, "i": r["id"], "v": version})
        prev = new
    conn.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})


def test_rewriting_with_the_unkeyed_function_is_caught(client, admin, engine, run):
    _make_changes(client, admin)
    assert run("audit", "verify").exit_code == 0
    with engine.begin() as conn:
        target = _rows(conn)[2]["id"]
        _rewrite_unkeyed(conn, target, "mallory", None)
    r = run("audit", "verify")
    assert r.exit_code == 1 and f"BROKEN at entry {target}" in r.output and "keyed hash" in r.output


def test_downgrading_to_unkeyed_is_caught_and_a_checkpoint_catches_a_later_rekey(client, admin, engine, run, tmp_path):
    _make_changes(client, admin)
    cp = tmp_path / "cp.json"
    cp.write_text(run("audit", "checkpoint").stdout)
    with engine.begin() as conn:
        first = _rows(conn)[0]["id"]
        _rewrite_unkeyed(conn, first, "mallory", 0)  # every entry marked legacy and rehashed unkeyed
    r = run("audit", "verify")
    assert r.exit_code == 1 and "not keyed" in r.output
    # the next start would key the forged history (it cannot tell it from a real legacy chain) ...
    assert run("audit", "rekey").exit_code == 0
    assert run("audit", "verify").exit_code == 0
    # ... but the checkpoint stored elsewhere no longer matches it
    r = run("audit", "verify", "--checkpoint", str(cp))
    assert r.exit_code == 1 and "differs from the checkpoint" in r.output


def test_a_chain_made_under_another_secret_fails(client, admin, run):
    _make_changes(client, admin)
    r = run("audit", "verify", secret="another-server-secret-0123456789")
    assert r.exit_code == 1 and "another secret key" in r.output
    assert run("audit", "verify").exit_code == 0


def test_checkpoint_round_trip_and_growth(client, admin, run, tmp_path):
    _make_changes(client, admin)
    out = run("audit", "checkpoint")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert {"entries", "last_id", "hash", "at", "key_id", "signature"} <= set(doc) and doc["entries"] >= 4
    cp = tmp_path / "cp.json"
    cp.write_text(out.stdout)
    r = run("audit", "verify", "--checkpoint", str(cp))
    assert r.exit_code == 0 and f"up to entry {doc['last_id']}" in r.output
    _make_changes(client, admin, 2, start=10)  # the chain grows past the checkpoint: still fine
    assert run("audit", "verify", "--checkpoint", str(cp)).exit_code == 0


@pytest.mark.parametrize("cut", ["everything", "tail"])
def test_truncation_is_caught_by_a_checkpoint(cut, client, admin, engine, run, tmp_path):
    _make_changes(client, admin)
    cp = tmp_path / "cp.json"
    cp.write_text(run("audit", "checkpoint").stdout)
    last = json.loads(cp.read_text())["last_id"]
    with engine.begin() as conn:
        if cut == "everything":
            conn.execute(text("DELETE FROM audit_entries"))
            conn.execute(text("DELETE FROM audit_head"))
        else:  # drop the last two entries and point the head at the one before, as the chain would be
            rows = _rows(conn)
            conn.execute(text("DELETE FROM audit_entries WHERE id >= :i"), {"i": rows[-2]["id"]})
            conn.execute(text("UPDATE audit_head SET last_id = :i, last_hash = :h"),
                         {"i": rows[-3]["id"], "h": rows[-3]["hash"]})
    assert run("audit", "verify").exit_code == 0  # without a checkpoint the shorter chain is consistent
    r = run("audit", "verify", "--checkpoint", str(cp))
    assert r.exit_code == 1 and f"BROKEN at entry {last}" in r.output and "shorter than the checkpoint" in r.output


def _edit(doc, **changes):
    return json.dumps({**doc, **changes})


@pytest.mark.parametrize("case, message", [
    ("missing", "cannot read the checkpoint"),
    ("not_json", "is not JSON"),
    ("not_object", "not a JSON object"),
    ("bad_signature_format", "'signature' is not 64"),
    ("bad_entries", "'entries' is not a whole number"),
    ("another_key", "signed by another key"),
    ("altered", "signature does not match"),
])
def test_an_unusable_checkpoint_is_exit_2(case, message, client, admin, run, tmp_path):
    _make_changes(client, admin, 1)
    doc = json.loads(run("audit", "checkpoint").stdout)
    path = tmp_path / "cp.json"
    if case == "another_key":
        other = derive("another-server-secret-0123456789")  # another server's checkpoint of the same head
        path.write_text(json.dumps(sign_checkpoint(other, doc["entries"], doc["last_id"], doc["hash"],
                                                   datetime.now(UTC))))
    elif case != "missing":
        path.write_text({"not_json": "{nope", "not_object": "[1, 2]",
                         "bad_signature_format": _edit(doc, signature="xyz"),
                         "bad_entries": _edit(doc, entries=-1),
                         "altered": _edit(doc, entries=doc["entries"] - 1)}[case])
    r = run("audit", "verify", "--checkpoint", str(path))
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_checkpoint_of_a_broken_chain_is_refused(client, admin, engine, run):
    _make_changes(client, admin)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = (SELECT MIN(id) FROM audit_entries)"))
    r = run("audit", "checkpoint")
    assert r.exit_code == 1 and "no checkpoint signed" in r.output and r.stdout.strip() == ""


def _legacy_chain(conn, n: int) -> list[int]:
    """Entries as the unkeyed code wrote them (schema f0001)."""
    prev, ids = GENESIS, []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        at = start + timedelta(minutes=i)
        changes = {"roles": {"from": None, "to": ["viewer"]}}
        h = legacy_hash(prev, at, "root", "user.create", "user", f"old{i}", changes)
        conn.execute(text("INSERT INTO audit_entries (at, actor, action, object_type, object_id, diff, prev_hash, "
                          "hash) VALUES (:at, 'root', 'user.create', 'user', :oid, :diff, :prev, :hash)"),
                     {"at": at if conn.dialect.name == "postgresql" else at.replace(tzinfo=None).isoformat(" "),
                      "oid": f"old{i}", "diff": json.dumps(changes), "prev": prev, "hash": h})
        prev = h
        ids.append(i)
    conn.execute(text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, :i, :h)"), {"i": n, "h": prev})
    return ids


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_keys_an_existing_unkeyed_chain(backend, tmp_path, cli_run):
    run = cli_run
    with database_at(backend, tmp_path, "f0001") as (engine, _cfg):
        url = engine.url.render_as_string(hide_password=False)
        with engine.begin() as conn:
            _legacy_chain(conn, 5)
        r = run("migrate", url=url)
        assert r.exit_code == 0, r.output
        assert "audit chain keyed: 5 legacy entries" in r.output
        r = run("audit", "verify", url=url)
        assert r.exit_code == 0 and "6 entries" in r.output, r.output  # 5 rekeyed + the audit.rekey entry
        with engine.connect() as conn:
            versions = {v for (v,) in conn.execute(text("SELECT chain_version FROM audit_entries"))}
            rekey = conn.execute(text("SELECT diff FROM audit_entries WHERE action = 'audit.rekey'")).scalar_one()
        assert versions == {1} and _diff(rekey)["entries"] == {"from": None, "to": 5}
        assert run("migrate", url=url).exit_code == 0  # idempotent: nothing left to key
        assert run("audit", "rekey", url=url).output.startswith("audit chain already keyed")
        assert run("audit", "verify", url=url, secret="another-server-secret-0123456789").exit_code == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_refuses_to_key_a_broken_unkeyed_chain(backend, tmp_path, cli_run):
    run = cli_run
    with database_at(backend, tmp_path, "f0001") as (engine, _cfg):
        url = engine.url.render_as_string(hide_password=False)
        with engine.begin() as conn:
            _legacy_chain(conn, 4)
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = 2"))
        r = run("migrate", url=url)
        assert r.exit_code == 1 and "does not verify (entry 2:" in r.output and "not rekeyed" in r.output
        r = run("audit", "verify", url=url)
        assert r.exit_code == 1 and "BROKEN at entry 2" in r.output
        r = run("audit", "rekey", url=url)
        assert r.exit_code == 1 and "BROKEN at entry 2" in r.output
        r = run("audit", "rekey", "--accept-broken", url=url)
        assert r.exit_code == 0 and "accepting the legacy chain's break at entry 2" in r.output
        assert run("audit", "verify", url=url).exit_code == 0


def test_a_read_session_finds_the_key_of_its_database(engine, factory) -> None:  # type: ignore[no-untyped-def]
    """read_session binds an OptionEngine: verification through it uses the key remembered for the database, not
    the environment's (the readiness check read 'does not verify' for a demo seeded under another secret)."""
    from takeoff.core.actor import Actor
    from takeoff.audit import key as audit_key
    from takeoff.audit import service as audit_service
    from takeoff.core.db import read_session, transaction

    audit_key.remember(engine, "a-secret-other-than-the-environment's")
    try:
        with transaction(factory) as s:
            audit_service.record(s, Actor("system", ("admin",)), "test.write", "thing", 1, None, {"a": 1})
        with read_session(engine) as s:
            count, problem = audit_service.verify_chain(s)
        assert count >= 1 and problem is None, problem
    finally:
        audit_key.remember(engine, os.environ["TAKEOFF_SECRET_KEY"])
