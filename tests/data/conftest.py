"""Fixtures for the data-foundation tests: a real SQLite source file, a use case, a data owner."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase

NOW = datetime.now(UTC)


@pytest.fixture
def source_db(tmp_path: Path) -> str:
    """A SQLite file with an `orders` table (20 rows, fresh, two null emails, one negative amount) and `docs`."""
    path = tmp_path / "orders.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, amount REAL, email TEXT, ssn TEXT)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [
        (i, (NOW - timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S"), -1.0 if i == 7 else i * 10.0,
         None if i % 10 == 0 else f"u{i}@x.test", f"000-00-{i:04d}") for i in range(1, 21)
    ])
    con.execute("CREATE TABLE docs (doc_id TEXT, updated_at TEXT, permission_labels TEXT)")
    con.executemany("INSERT INTO docs VALUES (?, ?, ?)", [
        ("a", (NOW - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "hr"),
        ("b", (NOW - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S"), ""),
        ("c", (NOW - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S"), "all"),
    ])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture
def use_case(factory) -> str:  # type: ignore[no-untyped-def]
    """A registered use case key."""
    with transaction(factory) as s:
        s.add(UseCase(key="support-reply", name="Support reply drafts"))
    return "support-reply"


@pytest.fixture
def owner(users) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A data owner: username and bearer headers."""
    name = users.create("data_owner", username="dora")
    return {"name": name, "headers": {"Authorization": f"Bearer {users.token(name)}"}}


GREEN_CHECKS = [
    {"kind": "freshness", "column": "created_at", "max_age_s": 86400},
    {"kind": "completeness", "fields": {"email": 0.8, "amount": 1.0}},
    {"kind": "rule", "name": "non_negative_amount", "expression": "amount >= -5", "min_share": 1.0},
]


def source_body(connection: str, use_case: str | None, owner: str, **over: Any) -> dict[str, Any]:
    body = {"name": "orders", "entity": "order", "owner": owner, "interface": "database", "connection": connection,
            "table": "orders", "checks": GREEN_CHECKS, "use_cases": [use_case] if use_case else [],
            "conflict_resolution": "The ERP wins over the CRM for amounts."}
    body.update(over)
    return body


@pytest.fixture
def registered(client: TestClient, source_db: str, use_case: str, owner: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The `orders` source registered through the API, all checks green by design."""
    resp = client.post("/api/v1/datasources", json=source_body(source_db, use_case, owner["name"]), headers=owner["headers"])
    assert resp.status_code == 201, resp.text
    yield resp.json()
