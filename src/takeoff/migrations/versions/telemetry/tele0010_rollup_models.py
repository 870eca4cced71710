"""Rollups count requests by model: {"provider/model": requests} per minute, hour and day (dashboards split by
model without reading raw events). Rows written before it hold {} (no split for that time).

Revision ID: tele0010
Revises: tele0009
Create Date: 2026-12-06 22:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'tele0010'
down_revision = 'tele0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('models', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.drop_column('models')
