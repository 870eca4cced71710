"""Text search blocks hold every Han, kana and Hangul letter as a word too (takeoff.telemetry.text_index: a
one-character word of those scripts is searched as that letter). Blocks built before hold no such letter on its
own, so a search for one would miss their rows: every batch whose block holds a non-ASCII word (a superset of those
holding these scripts, found without reading the bodies) is queued again; its old block stays until the compactor
rebuilds it, and a queued batch is always tested row by row.

Revision ID: tele0015
Revises: tele0014
Create Date: 2026-12-07 19:30:00
"""
from alembic import op

revision = 'tele0015'
down_revision = 'tele0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    wider = "length(CAST(words AS BLOB)) <> length(words)" if sqlite else "octet_length(words) <> char_length(words)"
    op.execute(
        "INSERT INTO request_text_pending (batch, rows, gen) "
        "SELECT batch, count(*), 0 FROM request_content WHERE batch IN "
        f"(SELECT batch FROM request_text_blocks WHERE {wider}) GROUP BY batch "
        "ON CONFLICT (batch) DO UPDATE SET rows = excluded.rows, gen = request_text_pending.gen + 1")


def downgrade() -> None:
    pass  # blocks with more words are still a superset of the old words: nothing to undo
