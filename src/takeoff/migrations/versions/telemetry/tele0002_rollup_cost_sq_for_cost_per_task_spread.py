"""Rollups keep the sum of squared per-event costs, so canary analysis can test cost per task.

Revision ID: tele0002
Revises: tele0001
Create Date: 2026-11-25 21:37:47.977907
"""
import sqlalchemy as sa
from alembic import op

revision = 'tele0002'
down_revision = 'tele0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get 0: canary analysis reads sum_sq < sum²/n as "spread unknown" and skips cost for them.
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_sq', sa.Double(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.drop_column('cost_sq')
