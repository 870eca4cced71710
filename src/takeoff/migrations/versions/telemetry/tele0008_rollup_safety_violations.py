"""Rollups count safety filter findings: {"stage:detector:action": findings} per minute, hour and day.

Revision ID: tele0008
Revises: tele0007
Create Date: 2026-12-06 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'tele0008'
down_revision = 'tele0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('violations', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.drop_column('violations')
