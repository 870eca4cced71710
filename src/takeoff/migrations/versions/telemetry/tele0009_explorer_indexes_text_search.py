"""Explorer indexes at scale: (unit_id, ts), (model, ts), (provider, ts) on events, (ts) on captured content, and
text search over captured content: SQLite FTS5 (trigram tokenizer: LIKE '%...%' answered from the index), filled
behind ingestion by the compactor (existing content too) and kept in sync by triggers for what it indexed; PostgreSQL pg_trgm GIN (CREATE EXTENSION when the server has it; otherwise ILIKE scans, and the
upgrade says so). Works on a database with data (its content is indexed by the compactor after the upgrade).

Revision ID: tele0009
Revises: tele0008
Create Date: 2026-12-06 22:00:00
"""
import logging

from alembic import op

revision = 'tele0009'
down_revision = 'tele0008'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

FTS = "request_content_fts"
STATE = "request_content_fts_state"


def upgrade() -> None:
    op.create_index('ix_telemetry_events_unit_ts', 'telemetry_events', ['unit_id', 'ts'])
    op.create_index('ix_telemetry_events_model_ts', 'telemetry_events', ['model', 'ts'])
    op.create_index('ix_telemetry_events_provider_ts', 'telemetry_events', ['provider', 'ts'])
    op.create_index('ix_request_content_ts', 'request_content', ['ts'])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Indexed behind ingestion (requests_store.index_content, run by the rollup compactor): trigram indexing
        # costs ~0.5 ms per content row, more than the rest of an event's ingestion. `indexed_to` is the last rowid
        # indexed; searches scan the rows above it; the triggers keep the rows at or below it in sync.
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(body, content='request_content', content_rowid='rowid', "
                   f"tokenize='trigram')")
        op.execute(f"CREATE TABLE {STATE} (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_to INTEGER NOT NULL)")
        op.execute(f"INSERT INTO {STATE} (id, indexed_to) VALUES (1, 0)")
        below = f"(SELECT indexed_to FROM {STATE} WHERE id = 1)"
        op.execute(f"CREATE TRIGGER request_content_fts_ai AFTER INSERT ON request_content "  # a reused rowid
                   f"WHEN new.rowid <= {below} BEGIN "
                   f"INSERT INTO {FTS}(rowid, body) VALUES (new.rowid, new.body); END")
        op.execute(f"CREATE TRIGGER request_content_fts_ad AFTER DELETE ON request_content "
                   f"WHEN old.rowid <= {below} BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.rowid, old.body); END")
        op.execute(f"CREATE TRIGGER request_content_fts_au AFTER UPDATE OF body ON request_content "
                   f"WHEN old.rowid <= {below} BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.rowid, old.body); "
                   f"INSERT INTO {FTS}(rowid, body) VALUES (new.rowid, new.body); END")
        return
    has_trgm = bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first()
    if has_trgm is None:
        log.warning("tele0009: pg_trgm is not available on this PostgreSQL server: text search in captured content "
                    "scans it with ILIKE (docs/requests.md says how to add the index later)")
        return
    try:
        with bind.begin_nested():  # a savepoint: a role not allowed to create it leaves the upgrade going
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # any refusal means the same fallback
        log.warning("tele0009: could not create the pg_trgm extension (%s): text search in captured content scans "
                    "it with ILIKE (docs/requests.md says how to add the index later)", str(exc).splitlines()[0])
        return
    op.execute("CREATE INDEX ix_request_content_body_trgm ON request_content USING gin (body gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("request_content_fts_au", "request_content_fts_ad", "request_content_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
        op.execute(f"DROP TABLE IF EXISTS {STATE}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_request_content_body_trgm")
    op.drop_index('ix_request_content_ts', table_name='request_content')
    for name in ('ix_telemetry_events_provider_ts', 'ix_telemetry_events_model_ts', 'ix_telemetry_events_unit_ts'):
        op.drop_index(name, table_name='telemetry_events')
