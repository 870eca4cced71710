"""monitoring: the score a use case's quality SLO reads (an online evaluator's or a review score; None: "pass")

Revision ID: moni0002
Revises: moni0001
Create Date: 2026-12-06 22:15:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'moni0002'
down_revision = 'moni0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('monitor_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality_slo_score', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('monitor_settings', schema=None) as batch_op:
        batch_op.drop_column('quality_slo_score')
