"""Rollup deltas (ingestion appends, a compactor merges) and no index on telemetry_events.ts alone.

Revision ID: tele0003
Revises: tele0002
Create Date: 2026-12-01 21:20:00
"""
import sqlalchemy as sa
from alembic import op

import takeoff.core.db

revision = 'tele0003'
down_revision = 'tele0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'telemetry_rollup_deltas',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('bucket', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('use_case', sa.String(length=64), nullable=False),
        sa.Column('release', sa.String(length=100), nullable=False),
        sa.Column('agg', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_rollup_deltas')),
    )
    with op.batch_alter_table('telemetry_rollup_deltas', schema=None) as batch_op:
        batch_op.create_index('ix_telemetry_rollup_deltas_uc_bucket', ['use_case', 'bucket'], unique=False)
    with op.batch_alter_table('telemetry_events', schema=None) as batch_op:
        batch_op.drop_index('ix_telemetry_events_ts')


def downgrade() -> None:
    with op.batch_alter_table('telemetry_events', schema=None) as batch_op:
        batch_op.create_index('ix_telemetry_events_ts', ['ts'], unique=False)
    with op.batch_alter_table('telemetry_rollup_deltas', schema=None) as batch_op:
        batch_op.drop_index('ix_telemetry_rollup_deltas_uc_bucket')
    op.drop_table('telemetry_rollup_deltas')
