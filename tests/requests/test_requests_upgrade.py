"""tele0009 adds the explorer's indexes and text search on a database that already holds request content."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from takeoff import migrate
from takeoff.core.db import make_sessionmaker
from takeoff.telemetry import text_index
from tests.conftest import database_at


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0011_queues_existing_content_for_text_search(backend: str, tmp_path: Path) -> None:
    """Content stored before tele0011 is grouped into blocks and queued; the compactor's index then finds it."""
    with database_at(backend, tmp_path, "tele0010") as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO request_content (event_id, use_case, ts, body, redactions, truncated) "
                              "VALUES (:id, 'uc', :ts, :body, '{}', 0)"),
                         [{"id": f"e{i}", "ts": datetime(2026, 12, 1, 0, i % 60, tzinfo=UTC),
                           "body": f'{{"input": [{{"role": "user", "content": "order {i} kingfisher{i % 3}"}}]}}'}
                          for i in range(1200)])
        migrate.upgrade(engine)
        assert migrate.pending(engine) == set()
        with engine.begin() as conn:
            assert conn.scalar(text("SELECT count(*) FROM request_content WHERE batch IS NULL")) == 0
            assert conn.scalar(text("SELECT sum(rows) FROM request_text_pending")) == 1200
            assert conn.scalar(text("SELECT count(*) FROM request_text_pending")) == 3  # blocks of 500 rows
        assert text_index.index_all(make_sessionmaker(engine), max_rows=600) == 1200
        with engine.begin() as conn:
            assert conn.scalar(text("SELECT count(*) FROM request_text_pending")) == 0
            assert conn.scalar(text("SELECT count(*) FROM request_text_blocks WHERE words LIKE '%kingfisher2%'")) == 3
            old = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master" if backend == "sqlite" else "SELECT indexname FROM pg_indexes"))}
            assert not {"request_content_fts", "request_content_fts_state", "ix_request_content_body_trgm"} & old


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
        with engine.begin() as conn:
            names = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'index'" if backend == "sqlite" else
                "SELECT indexname FROM pg_indexes"))}
            assert {"ix_telemetry_events_model_ts", "ix_telemetry_events_provider_ts", "ix_request_content_ts"} <= names
            # tele0016: SQLite's unit index is telemetry_unit_refs; PostgreSQL keeps this one
            assert ("ix_telemetry_events_unit_ts" in names) == (backend == "postgres")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0016_moves_the_unit_index_and_keeps_what_it_finds(backend: str, tmp_path: Path) -> None:
    """Requests stored before tele0016 get their unit refs in the upgrade on SQLite (whose index on telemetry_events
    is gone; PostgreSQL keeps it): the unit filter and a unit's deletion still find them."""
    from takeoff.core.actor import SYSTEM
    from takeoff.requests import queries
    from takeoff.telemetry import requests_store, unit_index

    key = b"k" * 32
    with database_at(backend, tmp_path, "tele0015") as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO telemetry_events (id, use_case, release, unit_id, ts, status, data, source) "
                              "VALUES (:id, 'uc', '', :u, :ts, 'ok', '{}', 'json')"),
                         [{"id": f"e{i:02d}", "u": (None if i % 5 == 0 else f"h:{i % 3}"),
                           "ts": datetime(2026, 12, 1, 0, i, tzinfo=UTC)} for i in range(30)])
        migrate.upgrade(engine)
        assert migrate.pending(engine) == set()
        with engine.begin() as conn:
            refs = {tuple(r) for r in conn.execute(text("SELECT unit_id, event_id FROM telemetry_unit_refs"))}
            names = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'index'" if backend == "sqlite" else
                "SELECT indexname FROM pg_indexes"))}
        sqlite = backend == "sqlite"
        assert refs == ({(f"h:{i % 3}", f"e{i:02d}") for i in range(30) if i % 5} if sqlite else set())
        assert ("ix_telemetry_events_unit_ts" in names) != sqlite
        factory = make_sessionmaker(engine)
        with factory() as s:
            page = queries.page(s, queries.Filters(unit="h:1"), key, limit=100)
        assert [r["id"] for r in page["items"]] == [f"e{i:02d}" for i in range(29, -1, -1) if i % 5 and i % 3 == 1]
        with factory() as s:
            assert requests_store.delete_unit(s, SYSTEM, "h:1", key)["requests"] == 8
            s.commit()
        with factory() as s:
            assert queries.page(s, queries.Filters(unit="h:1"), key)["items"] == []
            assert unit_index.pending(s) == 0 and len(list(s.execute(text(
                "SELECT 1 FROM telemetry_unit_refs WHERE unit_id = 'h:1'")))) == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0012_pads_existing_blocks_so_whole_word_searches_find_them(backend: str, tmp_path: Path) -> None:
    """Blocks built before tele0012 hold their words without the outer spaces; the upgrade pads them (the FTS5 index
    follows), so a pattern for a whole first or last word (`% kingfisher %`) finds them."""
    with database_at(backend, tmp_path, "tele0011") as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO request_text_blocks (batch, words, rows) VALUES (1, 'kingfisher order 7', 2), "
                              "(2, '', 0), (3, 'heron', 1)"))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            got = dict(conn.execute(text("SELECT batch, words FROM request_text_blocks")).all())
            assert got == {1: " kingfisher order 7 ", 2: "", 3: " heron "}
            fts = ("SELECT rowid FROM request_text_fts WHERE words LIKE :p" if backend == "sqlite" else
                   "SELECT batch FROM request_text_blocks WHERE words LIKE :p")
            assert {r[0] for r in conn.execute(text(fts), {"p": "% kingfisher %"})} == {1}
            assert {r[0] for r in conn.execute(text(fts), {"p": "% heron %"})} == {3}
        migrate.upgrade(engine)  # again: nothing to pad twice
        with engine.begin() as conn:
            assert conn.scalar(text("SELECT words FROM request_text_blocks WHERE batch = 3")) == " heron "


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0013_queues_batches_with_non_ascii_content_again(backend: str, tmp_path: Path) -> None:
    """Blocks built before tele0013 hold only ASCII words; the upgrade queues the batches holding a non-ASCII body
    (and no other), whose rebuilt blocks then find a Cyrillic word."""
    with database_at(backend, tmp_path, "tele0012") as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO request_content (event_id, use_case, ts, body, redactions, truncated, batch) "
                              "VALUES (:id, 'uc', :ts, :body, '{}', 0, :b)"),
                         [{"id": f"e{i}", "ts": datetime(2026, 12, 1, 0, i, tzinfo=UTC), "b": 1 + i % 3,
                           "body": f'{{"input": [{{"role": "user", "content": "{w} {i}"}}]}}'}
                          for i, w in enumerate(["order", "заказ", "order", "order", "order", "order"])])
            conn.execute(text("INSERT INTO request_text_blocks (batch, words, rows) VALUES (1, ' order 0 3 ', 2), "
                              "(2, ' order 1 4 ', 2), (3, ' order 2 5 ', 2)"))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT batch, rows FROM request_text_pending")).all() == [(2, 2)]
        assert text_index.index_all(make_sessionmaker(engine)) == 2
        with make_sessionmaker(engine)() as s:
            assert text_index.candidate_batches(s, "ЗАКАЗ", 10) == ([2], 2)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize(("before", "text_", "old_words", "query"), [
    ("tele0013", "我需要退款", " 我需要退款 0 ", "退款"),  # tele0014: no pair of CJK letters in the old block
    ("tele0014", "我需要钱", " 我需要钱 我需 需要 要钱 0 ", "钱"),  # tele0015: no CJK letter on its own
])
def test_upgrades_queue_batches_with_non_ascii_words_again(backend: str, before: str, text_: str, old_words: str,
                                                           query: str, tmp_path: Path) -> None:
    """Blocks built before tele0014 hold no pair of CJK letters, before tele0015 no lone CJK letter; each upgrade
    queues the batches whose block holds a non-ASCII word (not the ASCII ones), whose rebuilt blocks then find a
    two- or one-character Chinese word."""
    with database_at(backend, tmp_path, before) as (engine, _):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO request_content (event_id, use_case, ts, body, redactions, truncated, batch) "
                              "VALUES (:id, 'uc', :ts, :body, '{}', 0, :b)"),
                         [{"id": f"e{i}", "ts": datetime(2026, 12, 1, 0, i, tzinfo=UTC), "b": i + 1,
                           "body": f'{{"input": [{{"role": "user", "content": "{w} {i}"}}]}}'}
                          for i, w in enumerate([text_, "order", "заказ"])])
            conn.execute(text("INSERT INTO request_text_blocks (batch, words, rows) VALUES (1, :w, 1), "
                              "(2, ' order 1 ', 1), (3, ' заказ 2 ', 1)"), {"w": old_words})
        with make_sessionmaker(engine)() as s:
            assert text_index.candidate_batches(s, query, 10) == ([], 0)  # the old block misses it
        migrate.upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT batch, rows FROM request_text_pending ORDER BY batch")).all() == [
                (1, 1), (3, 1)]
        assert text_index.index_all(make_sessionmaker(engine)) == 2
        with make_sessionmaker(engine)() as s:
            assert text_index.candidate_batches(s, query, 10) == ([1], 1)
            assert text_index.candidate_batches(s, "заказ", 10) == ([3], 1)
