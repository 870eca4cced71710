"""Text search over captured content as a block index built behind ingestion (takeoff.telemetry.text_index): each
ingest batch's content rows share a block id (`request_content.batch`); the compactor writes the distinct words of a
batch's bodies to `request_text_blocks`, whose trigram index (SQLite FTS5 trigram with detail=none; PostgreSQL
pg_trgm GIN when the server has it) replaces tele0009's index of every body. Existing content is grouped into
blocks of 500 rows in storage order and queued: the compactor indexes it after the upgrade.

Revision ID: tele0011
Revises: tele0010
Create Date: 2026-12-07 08:00:00
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = 'tele0011'
down_revision = 'tele0010'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

FTS = "request_text_fts"
OLD_FTS = "request_content_fts"
OLD_STATE = "request_content_fts_state"
OLD_TRIGGERS = ("request_content_fts_au", "request_content_fts_ad", "request_content_fts_ai")
BACKFILL_BLOCK = 500


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for name in OLD_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {OLD_FTS}")
        op.execute(f"DROP TABLE IF EXISTS {OLD_STATE}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_request_content_body_trgm")
    op.add_column('request_content', sa.Column('batch', sa.BigInteger(), nullable=True))
    op.create_table('request_text_blocks',
                    sa.Column('batch', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('words', sa.Text(), nullable=False),
                    sa.Column('rows', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('batch', name=op.f('pk_request_text_blocks')))
    op.create_table('request_text_pending',
                    sa.Column('batch', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('rows', sa.Integer(), nullable=False),
                    sa.Column('gen', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('batch', name=op.f('pk_request_text_pending')))
    # existing content: blocks of BACKFILL_BLOCK rows in storage order, queued for the compactor
    if sqlite:
        op.execute(f"UPDATE request_content SET batch = rowid / {BACKFILL_BLOCK} + 1")
    else:
        op.execute(f"UPDATE request_content c SET batch = q.b FROM (SELECT event_id, (row_number() OVER (ORDER BY ts, "
                   f"event_id) - 1) / {BACKFILL_BLOCK} + 1 AS b FROM request_content) q WHERE c.event_id = q.event_id")
    op.execute("INSERT INTO request_text_pending (batch, rows, gen) SELECT batch, count(*), 0 FROM request_content "
               "GROUP BY batch")
    op.create_index('ix_request_content_batch', 'request_content', ['batch'])
    if sqlite:
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(words, content='request_text_blocks', content_rowid='batch', "
                   f"tokenize='trigram', detail='none')")
        op.execute(f"CREATE TRIGGER request_text_fts_ai AFTER INSERT ON request_text_blocks BEGIN "
                   f"INSERT INTO {FTS}(rowid, words) VALUES (new.batch, new.words); END")
        op.execute(f"CREATE TRIGGER request_text_fts_ad AFTER DELETE ON request_text_blocks BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, words) VALUES ('delete', old.batch, old.words); END")
        op.execute(f"CREATE TRIGGER request_text_fts_au AFTER UPDATE ON request_text_blocks BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, words) VALUES ('delete', old.batch, old.words); "
                   f"INSERT INTO {FTS}(rowid, words) VALUES (new.batch, new.words); END")
        return
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is None:
        log.warning("tele0011: the pg_trgm extension is not installed: text search in captured content scans the "
                    "blocks' words (docs/requests.md says how to add the index later)")
        return
    op.execute("CREATE INDEX ix_request_text_blocks_words_trgm ON request_text_blocks USING gin (words gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("request_text_fts_au", "request_text_fts_ad", "request_text_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_request_text_blocks_words_trgm")
    op.drop_table('request_text_pending')
    op.drop_table('request_text_blocks')
    op.drop_index('ix_request_content_batch', table_name='request_content')
    with op.batch_alter_table('request_content', schema=None) as batch_op:
        batch_op.drop_column('batch')
    if bind.dialect.name == "sqlite":  # tele0009's index, empty: its compactor fills it again
        below = f"(SELECT indexed_to FROM {OLD_STATE} WHERE id = 1)"
        op.execute(f"CREATE VIRTUAL TABLE {OLD_FTS} USING fts5(body, content='request_content', content_rowid='rowid', "
                   f"tokenize='trigram')")
        op.execute(f"CREATE TABLE {OLD_STATE} (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_to INTEGER NOT NULL)")
        op.execute(f"INSERT INTO {OLD_STATE} (id, indexed_to) VALUES (1, 0)")
        op.execute(f"CREATE TRIGGER request_content_fts_ai AFTER INSERT ON request_content WHEN new.rowid <= {below} "
                   f"BEGIN INSERT INTO {OLD_FTS}(rowid, body) VALUES (new.rowid, new.body); END")
        op.execute(f"CREATE TRIGGER request_content_fts_ad AFTER DELETE ON request_content WHEN old.rowid <= {below} "
                   f"BEGIN INSERT INTO {OLD_FTS}({OLD_FTS}, rowid, body) VALUES ('delete', old.rowid, old.body); END")
        op.execute(f"CREATE TRIGGER request_content_fts_au AFTER UPDATE OF body ON request_content "
                   f"WHEN old.rowid <= {below} BEGIN "
                   f"INSERT INTO {OLD_FTS}({OLD_FTS}, rowid, body) VALUES ('delete', old.rowid, old.body); "
                   f"INSERT INTO {OLD_FTS}(rowid, body) VALUES (new.rowid, new.body); END")
    elif bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is not None:
        op.execute("CREATE INDEX ix_request_content_body_trgm ON request_content USING gin (body gin_trgm_ops)")
