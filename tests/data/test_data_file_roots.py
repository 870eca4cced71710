"""File, folder, SQLite and DuckDB sources read only folders an operator lists (TAKEOFF_DATA_FILE_ROOTS), resolved
through symlinks and '..', and never the server's own data folder or database: 422 at creation, a refused check if
the path escapes later."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from takeoff.app import create_app
from takeoff.data.connect import SourceError, check_local_path, file_policy, open_source

from .conftest import source_body

ONE_CHECK = [{"kind": "completeness", "fields": {"email": 1.0}}]


def _orders_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TEXT, amount REAL, email TEXT)")
    con.execute("INSERT INTO orders VALUES (1, '2026-01-01 00:00:00', 1.0, 'a@x.test')")
    con.commit()
    con.close()
    return path


def test_the_path_rule(tmp_path: Path) -> None:
    allowed, data, outside = tmp_path / "allowed", tmp_path / "server", tmp_path / "outside"
    for d in (allowed, data, outside):
        d.mkdir()
    (outside / "x.csv").write_text("a\n1\n")
    (allowed / "link.csv").symlink_to(outside / "x.csv")
    (allowed / "data").symlink_to(data)
    db = tmp_path / "elsewhere" / "takeoff.db"
    policy = file_policy(f"{allowed}, {data}, {db.parent}", data, f"sqlite:///{db}")
    check_local_path(str(allowed / "a.csv"), policy)
    check_local_path(f"sqlite:///{allowed / 'shop.db'}", policy)
    check_local_path(str(db.parent / "other.db"), policy)
    check_local_path("postgresql+psycopg://u@db.example/x", policy)  # not a local path: the host rule applies
    check_local_path("sqlite://", policy)  # in memory
    refused = {
        str(outside / "x.csv"): "outside", f"{allowed}/../outside/x.csv": "outside", str(allowed / "link.csv"): "outside",
        str(data / "secret_key"): "server's own data",  # listed, but the data folder is never readable
        str(allowed / "data" / "takeoff.db"): "server's own data",  # through a symlink
        f"sqlite:///{db}": "server's own data", f"sqlite:///{db}-wal": "server's own data",
        f"sqlite:///file:{allowed / 'shop.db'}?mode=ro&uri=true": "not a file: URI",
        f"duckdb:///{outside / 'w.duckdb'}": "outside",
    }
    for location, why in refused.items():
        with pytest.raises(ValueError, match=why):
            check_local_path(location, policy)
    with pytest.raises(ValueError, match="lists no folder"):
        check_local_path(str(allowed / "a.csv"), file_policy("", data))


def test_open_source_refuses_an_escaped_path_and_a_folder_member_linking_out(tmp_path: Path) -> None:
    # the suite lists its temporary folders; the root of the file system is outside them
    with pytest.raises(SourceError, match="refused: the path is outside"):
        open_source("/etc/hostname")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.csv").write_text("a\n1\n")
    assert open_source(str(folder)).aggregate('SELECT count(*) AS n FROM "data"')["n"] == 1
    (folder / "b.csv").symlink_to("/etc/hostname")
    with pytest.raises(SourceError, match="refused"):
        open_source(str(folder))


def test_creation_refuses_paths_outside_the_roots_and_the_servers_own_files(settings, engine, users,
                                                                           tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    s = settings.model_copy(update={"data_file_roots": f"{allowed},{settings.data_dir}"})
    client = TestClient(create_app(s, engine=engine, start_worker=False))
    owner = users.create("data_owner", username="dora")
    h = {"Authorization": f"Bearer {users.token(owner)}"}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / "secret_key"
    key_file.write_text("not-for-you")
    outside_db = _orders_db(tmp_path / "outside.db")
    cases = [(f"sqlite:///{outside_db}", "database"), (f"sqlite:///{allowed}/../outside.db", "database"),
             (str(key_file), "file"), (str(settings.data_dir), "file")]
    if engine.url.get_backend_name() == "sqlite":  # the server's own database file
        cases.append((f"sqlite:///{engine.url.database}", "database"))
    for location, interface in cases:
        r = client.post("/api/v1/datasources", json=source_body(location, None, owner, interface=interface,
                                                                table="orders" if interface == "database" else ""),
                        headers=h)
        assert r.status_code == 422, (location, r.text)
        assert r.json()["error"]["details"][0]["field"] == "connection"
        assert "refused" in r.json()["error"]["message"]
    assert client.get("/api/v1/datasources", headers=h).json()["items"] == []

    # inside the root it is registered and checked; moved out of it afterwards (a symlink), the check is refused
    inside = _orders_db(allowed / "shop.db")
    r = client.post("/api/v1/datasources", json=source_body(f"sqlite:///{inside}", None, owner, checks=ONE_CHECK), headers=h)
    assert r.status_code == 201, r.text
    first = client.post("/api/v1/datasources/orders/check", headers=h).json()
    assert first["status"] == "pass", first["results"]
    inside.unlink()
    inside.symlink_to(outside_db)
    run = client.post("/api/v1/datasources/orders/check", headers=h).json()
    assert run["status"] == "error" and "refused: the path is outside" in run["results"][0]["reason"], run
    assert str(tmp_path) not in str(run)
    shutil.rmtree(allowed)


def test_nothing_is_readable_by_default(settings, engine, users, tmp_path: Path) -> None:
    client = TestClient(create_app(settings.model_copy(update={"data_file_roots": ""}), engine=engine,
                                   start_worker=False))
    owner = users.create("data_owner", username="dora")
    h = {"Authorization": f"Bearer {users.token(owner)}"}
    r = client.post("/api/v1/datasources", json=source_body(f"sqlite:///{_orders_db(tmp_path / 'a.db')}", None, owner),
                    headers=h)
    assert r.status_code == 422 and "TAKEOFF_DATA_FILE_ROOTS" in r.json()["error"]["message"]
