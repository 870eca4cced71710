"""Rollups count the events SDKs report dropping before delivery: {reason: events} per minute, hour and day.

Revision ID: tele0006
Revises: tele0005
Create Date: 2026-12-02 07:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'tele0006'
down_revision = 'tele0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dropped', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.drop_column('dropped')
