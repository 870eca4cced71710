"""tele0009 adds the explorer's indexes and text search on a database that already holds request content."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from takeoff import migrate
from takeoff.core.db import make_sessionmaker
from takeoff.telemetry import requests_store
from tests.conftest import database_at


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0009_indexes_existing_content(backend: str, tmp_path: Path) -> None:
    with database_at(backend, tmp_path, "tele0008") as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO request_content (event_id, use_case, ts, body, redactions, truncated) "
                              "VALUES (:id, 'uc', :ts, :body, '{}', 0)"),
                         [{"id": f"e{i}", "ts": datetime(2026, 12, 1, 0, i, tzinfo=UTC),
                           "body": f'{{"input": [{{"role": "user", "content": "order {i} kingfisher"}}]}}'}
                          for i in range(30)])
        migrate.upgrade(engine)
        assert migrate.pending(engine) == set()
        assert requests_store.index_all(make_sessionmaker(engine), limit=7) == (30 if backend == "sqlite" else 0)
        with engine.begin() as conn:
            if backend == "sqlite":  # indexed from the stored rows, then kept in sync by the triggers
                assert conn.scalar(text("SELECT count(*) FROM request_content_fts WHERE body LIKE '%kingfisher%'")) == 30
                conn.execute(text("DELETE FROM request_content WHERE event_id = 'e3'"))
                assert conn.scalar(text("SELECT count(*) FROM request_content_fts WHERE body LIKE '%kingfisher%'")) == 29
            else:
                assert conn.scalar(text("SELECT count(*) FROM pg_indexes WHERE indexname = "
                                        "'ix_request_content_body_trgm'")) == 1
            names = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'index'" if backend == "sqlite" else
                "SELECT indexname FROM pg_indexes"))}
            assert {"ix_telemetry_events_unit_ts", "ix_telemetry_events_model_ts", "ix_telemetry_events_provider_ts",
                    "ix_request_content_ts"} <= names
