"""cost budgets

Revision ID: moni0003
Revises: moni0002
Create Date: 2026-12-06 22:00:00
"""
from alembic import op
import sqlalchemy as sa
import takeoff.core.db


revision = 'moni0003'
down_revision = 'moni0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('budgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_key', sa.String(length=64), nullable=False),
    sa.Column('release_id', sa.String(length=200), nullable=True),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('limit_usd', sa.Double(), nullable=False),
    sa.Column('warn_share', sa.Double(), nullable=False),
    sa.Column('enforce', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budgets'))
    )
    op.create_index(op.f('ix_budgets_use_case_key'), 'budgets', ['use_case_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_budgets_use_case_key'), table_name='budgets')
    op.drop_table('budgets')
