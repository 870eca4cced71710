"""catalog price source (the shipped price snapshot's date)

Revision ID: cata0002
Revises: cata0001
Create Date: 2026-12-06 22:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'cata0002'
down_revision = 'cata0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalog_prices') as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=200), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('catalog_prices') as batch_op:
        batch_op.drop_column('source')
