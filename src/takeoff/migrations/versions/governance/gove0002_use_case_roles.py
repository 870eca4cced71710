"""use case roles: people wearing the seed's roles per use case

Revision ID: gove0002
Revises: gove0001
Create Date: 2026-11-25 21:44:44.468310
"""
from alembic import op
import sqlalchemy as sa
import takeoff.core.db


revision = 'gove0002'
down_revision = 'gove0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('use_case_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_use_case_roles_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['username'], ['users.username'], name=op.f('fk_use_case_roles_username_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_use_case_roles')),
    sa.UniqueConstraint('use_case_id', 'role', 'username', name=op.f('uq_use_case_roles_use_case_id'))
    )
    with op.batch_alter_table('use_case_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_use_case_roles_use_case_id'), ['use_case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('use_case_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_use_case_roles_use_case_id'))
    op.drop_table('use_case_roles')
