"""check runs by source and time

Revision ID: data0002
Revises: data0001
Create Date: 2026-12-07 10:40:00

A source's latest check run is an index seek on (source_id, started_at, id) instead of a GROUP BY over every run
ever kept (one a source every 15 minutes: about 1.75 M rows a year for 50 sources). The old single-column index on
source_id is this one's prefix, so it goes.
"""
from alembic import op


revision = 'data0002'
down_revision = 'data0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('data_check_runs', schema=None) as batch_op:
        batch_op.create_index('ix_data_check_runs_source_started', ['source_id', 'started_at', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_data_check_runs_source_id'))


def downgrade() -> None:
    with op.batch_alter_table('data_check_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_check_runs_source_id'), ['source_id'], unique=False)
        batch_op.drop_index('ix_data_check_runs_source_started')
