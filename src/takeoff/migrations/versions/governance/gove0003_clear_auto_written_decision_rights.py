"""Clear decision rights that takeoff wrote by itself before they were enforced.

Before gove0002's release the organization row was created with the seed's default assignments on first read. Now
that decision rights narrow who may act, an untouched default would suddenly restrict people (only AI engineers
could resolve incidents). A row whose assignments are exactly those defaults is taken as never chosen and cleared;
any other assignment was made by someone and is kept.

Revision ID: gove0003
Revises: gove0002
Create Date: 2026-11-25 22:12:00
"""
import json

import sqlalchemy as sa
from alembic import op

revision = 'gove0003'
down_revision = 'gove0002'
branch_labels = None
depends_on = None

_OLD_DEFAULTS = {"fund_use_cases": "business_owner", "approve_tools": "platform_engineer",
                 "set_risk_tier": "risk_partner", "ship_to_production": "ai_engineer",
                 "incident_owner": "ai_engineer"}


def upgrade() -> None:
    bind = op.get_bind()
    org = sa.table("organization", sa.column("id", sa.Integer), sa.column("decision_rights", sa.JSON))
    for row in bind.execute(sa.select(org.c.id, org.c.decision_rights)).all():
        value = row.decision_rights
        if isinstance(value, str):
            value = json.loads(value)
        if value == _OLD_DEFAULTS:
            bind.execute(sa.update(org).where(org.c.id == row.id).values(decision_rights={}))


def downgrade() -> None:
    pass  # cleared defaults are not re-imposed
