"""quality: online evaluators, their day counters and their results per request

Revision ID: qual0001
Revises:
Create Date: 2026-12-06 22:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import takeoff.core.db


revision = 'qual0001'
down_revision = None
branch_labels = ('quality',)
depends_on = 'f0001'


def upgrade() -> None:
    op.create_table('quality_evaluators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('sample_rate', sa.Double(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('daily_budget_usd', sa.Double(), nullable=True),
    sa.Column('prices', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('since', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cursor_ts', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cursor_id', sa.String(length=128), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_evaluators')),
    sa.UniqueConstraint('use_case', 'name', name='uq_quality_evaluators_uc_name')
    )
    with op.batch_alter_table('quality_evaluators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_evaluators_use_case'), ['use_case'], unique=False)

    op.create_table('quality_evaluator_days',
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('seen', sa.Integer(), nullable=False),
    sa.Column('evaluated', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('violations', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Double(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.Column('exhausted_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['evaluator_id'], ['quality_evaluators.id'],
                            name=op.f('fk_quality_evaluator_days_evaluator_id_quality_evaluators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('evaluator_id', 'day', name=op.f('pk_quality_evaluator_days'))
    )
    op.create_table('quality_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('cost_usd', sa.Double(), nullable=False),
    sa.Column('evaluated_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluator_id'], ['quality_evaluators.id'],
                            name=op.f('fk_quality_evaluations_evaluator_id_quality_evaluators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_evaluations')),
    sa.UniqueConstraint('evaluator_id', 'request_id', name='uq_quality_evaluations_evaluator_request')
    )
    with op.batch_alter_table('quality_evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_quality_evaluations_evaluator_at', ['evaluator_id', 'evaluated_at'], unique=False)
        batch_op.create_index('ix_quality_evaluations_request', ['request_id'], unique=False)


def downgrade() -> None:
    op.drop_table('quality_evaluations')
    op.drop_table('quality_evaluator_days')
    with op.batch_alter_table('quality_evaluators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_evaluators_use_case'))
    op.drop_table('quality_evaluators')
