"""findings: the audit_findings table

Revision ID: find0001
Revises: 
Create Date: 2026-11-25 21:39:25.778670
"""
from alembic import op
import sqlalchemy as sa
import takeoff.core.db


revision = 'find0001'
down_revision = None
branch_labels = ('findings',)
depends_on = 'f0001'


def upgrade() -> None:
    op.create_table('audit_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('control_id', sa.String(length=64), nullable=True),
    sa.Column('owner', sa.String(length=100), nullable=True),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('closed_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_findings'))
    )
    with op.batch_alter_table('audit_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_findings_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_findings_use_case_key'), ['use_case_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_findings_use_case_key'))
        batch_op.drop_index(batch_op.f('ix_audit_findings_status'))

    op.drop_table('audit_findings')
