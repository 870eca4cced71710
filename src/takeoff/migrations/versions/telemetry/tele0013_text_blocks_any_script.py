"""Text search blocks hold words of every script (takeoff.telemetry.text_index: runs of letters and digits of the
case-folded body, where they were runs of ASCII letters and digits). Blocks built before hold no Greek, Cyrillic
or other non-ASCII word, so a search for one would miss their rows: every batch holding a non-ASCII body is queued
again (its old block stays until the compactor rebuilds it, and a queued batch is always tested row by row).
A body is non-ASCII when its UTF-8 bytes outnumber its characters; this reads every stored body once.

Revision ID: tele0013
Revises: tele0012
Create Date: 2026-12-07 13:40:00
"""
from alembic import op

revision = 'tele0013'
down_revision = 'tele0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    wider = "length(CAST(body AS BLOB)) <> length(body)" if sqlite else "octet_length(body) <> char_length(body)"
    op.execute(
        "INSERT INTO request_text_pending (batch, rows, gen) "
        "SELECT batch, count(*), 0 FROM request_content WHERE batch IN "
        f"(SELECT DISTINCT batch FROM request_content WHERE batch IS NOT NULL AND {wider}) GROUP BY batch "
        "ON CONFLICT (batch) DO UPDATE SET rows = excluded.rows, gen = request_text_pending.gen + 1")


def downgrade() -> None:
    pass  # blocks with more words are still a superset of the old words: nothing to undo
