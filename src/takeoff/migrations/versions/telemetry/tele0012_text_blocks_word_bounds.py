"""Text search blocks' words with a space before the first and after the last (takeoff.telemetry.text_index): a
search's inner words then match whole words (`% 4242 %`), not any word holding them, which at 10M requests was
most blocks and sent a one-match search to a scan. Existing blocks are padded in place (the FTS5 triggers and the
GIN index follow the update).

Revision ID: tele0012
Revises: tele0011
Create Date: 2026-12-07 11:20:00
"""
from alembic import op

revision = 'tele0012'
down_revision = 'tele0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE request_text_blocks SET words = ' ' || words || ' ' "
               "WHERE words <> '' AND substr(words, 1, 1) <> ' '")


def downgrade() -> None:
    op.execute("UPDATE request_text_blocks SET words = trim(words, ' ') WHERE substr(words, 1, 1) = ' '")
