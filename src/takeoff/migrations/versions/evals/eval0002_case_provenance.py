"""Eval cases carry their provenance: where a case added from production came from (request, release, incident).

Revision ID: eval0002
Revises: eval0001
Create Date: 2026-12-06 22:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'eval0002'
down_revision = 'eval0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('eval_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provenance', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('eval_cases', schema=None) as batch_op:
        batch_op.drop_column('provenance')
