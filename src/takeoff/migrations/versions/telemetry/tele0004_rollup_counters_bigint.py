"""Rollup counters (count, errors, fallbacks, latency_n, tokens_*) become 64-bit on PostgreSQL.

int4 overflowed: an hour or day row passes 2^31 tokens at ~50 events/s of 500 tokens, and one overflowing delta
stopped compaction for every use case. SQLite's INTEGER is 64-bit already: nothing to do there.

Revision ID: tele0004
Revises: tele0003
Create Date: 2026-12-02 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'tele0004'
down_revision = 'tele0003'
branch_labels = None
depends_on = None

COUNTERS = ('count', 'errors', 'fallbacks', 'latency_n', 'tokens_input', 'tokens_output', 'tokens_cache_read',
            'tokens_cache_write', 'tokens_reasoning')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for column in COUNTERS:
        op.alter_column('telemetry_rollups', column, type_=sa.BigInteger(), existing_type=sa.Integer(),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for column in COUNTERS:
        op.alter_column('telemetry_rollups', column, type_=sa.Integer(), existing_type=sa.BigInteger(),
                        existing_nullable=False)
