"""The audit log: every change appends a chained entry; tampering out of band is caught by `takeoff audit verify`."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from takeoff.cli import app as cli


def _verify(engine, monkeypatch):
    monkeypatch.setenv("TAKEOFF_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner().invoke(cli, ["audit", "verify"])


def _make_changes(client, admin, n=3):
    for i in range(n):
        assert client.post("/api/v1/users", json={"username": f"person{i}", "roles": ["viewer"]},
                           headers=admin).status_code == 201


def test_changes_are_audited_with_diff(client, admin):
    _make_changes(client, admin, 1)
    items = client.get("/api/v1/audit", params={"action": "user.create"}, headers=admin).json()["items"]
    entry = next(e for e in items if e["object_id"] == "person0")
    assert entry["actor"] == "root"
    assert entry["diff"]["roles"] == {"from": None, "to": ["viewer"]}
    assert client.get("/api/v1/audit/verify", headers=admin).json()["ok"] is True


def test_audit_pagination_and_filters(client, admin):
    _make_changes(client, admin, 4)
    page = client.get("/api/v1/audit", params={"limit": 2, "object_type": "user"}, headers=admin).json()
    assert len(page["items"]) == 2 and page["total"] >= 5
    bad = client.get("/api/v1/audit", params={"limit": 0}, headers=admin)
    assert bad.status_code == 422


def test_verify_ok(client, admin, engine, monkeypatch):
    _make_changes(client, admin)
    result = _verify(engine, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "verifies" in result.output


@pytest.mark.parametrize("tamper", ["alter", "delete_middle", "delete_last", "insert"])
def test_verify_detects_tampering(tamper, client, admin, engine, monkeypatch):
    _make_changes(client, admin)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM audit_entries ORDER BY id"))]
        if tamper == "alter":
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = :i"), {"i": ids[2]})
            bad = ids[2]
        elif tamper == "delete_middle":
            conn.execute(text("DELETE FROM audit_entries WHERE id = :i"), {"i": ids[2]})
            bad = ids[3]
        elif tamper == "delete_last":
            conn.execute(text("DELETE FROM audit_entries WHERE id = :i"), {"i": ids[-1]})
            bad = ids[-1]
        else:
            row = conn.execute(text("SELECT * FROM audit_entries WHERE id = :i"), {"i": ids[1]}).mappings().one()
            conn.execute(text("UPDATE audit_entries SET id = id + 1000 WHERE id >= :i"), {"i": ids[2]})
            conn.execute(text("INSERT INTO audit_entries (id, at, actor, action, object_type, object_id, diff, prev_hash, hash)"
                              " VALUES (:id, :at, 'mallory', 'user.create', 'user', 'ghost', :diff, :prev, :hash)"),
                         {"id": ids[2], "at": row["at"], "diff": '{}', "prev": row["hash"], "hash": "f" * 64})
            bad = ids[2]
    result = _verify(engine, monkeypatch)
    assert result.exit_code == 1
    assert f"entry {bad}" in result.output
