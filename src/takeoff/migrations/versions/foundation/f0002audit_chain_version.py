"""Audit entries carry a chain version: existing rows are 0 (unkeyed); `takeoff migrate` rekeys them (it knows the
server secret, this migration does not), new entries are 1 (HMAC-keyed; the
ORM sets it, so the column's default stays 0: a row inserted out of band counts as unkeyed).

Revision ID: f0002audit
Revises: f0001
Create Date: 2026-12-06 15:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f0002audit'
down_revision = 'f0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_version', sa.SmallInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('chain_version')
