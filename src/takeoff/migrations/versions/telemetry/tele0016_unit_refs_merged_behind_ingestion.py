"""On SQLite the unit index moves off telemetry_events: `telemetry_unit_refs` (unit_id, ts, event_id), filled by the
compactor in sorted merges from `telemetry_unit_pending`, which each ingest appends to (takeoff.telemetry.unit_index).
The refs of the requests already stored are copied in key order, then ix_telemetry_events_unit_ts is dropped.
PostgreSQL keeps that index (the tables are made there too, and stay empty).

Revision ID: tele0016
Revises: tele0015
Create Date: 2026-12-08 01:30:00
"""
import sqlalchemy as sa
from alembic import op

import takeoff.core.db

revision = 'tele0016'
down_revision = 'tele0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('telemetry_unit_refs',
                    sa.Column('unit_id', sa.String(length=200), nullable=False),
                    sa.Column('ts', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
                    sa.Column('event_id', sa.String(length=128), nullable=False),
                    sa.PrimaryKeyConstraint('unit_id', 'ts', 'event_id', name=op.f('pk_telemetry_unit_refs')),
                    sqlite_with_rowid=False)
    op.create_table('telemetry_unit_pending',
                    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('unit_id', sa.String(length=200), nullable=False),
                    sa.Column('ts', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
                    sa.Column('event_id', sa.String(length=128), nullable=False),
                    sa.PrimaryKeyConstraint('seq', name=op.f('pk_telemetry_unit_pending')))
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("INSERT INTO telemetry_unit_refs (unit_id, ts, event_id) SELECT unit_id, ts, id FROM telemetry_events "
               "WHERE unit_id IS NOT NULL ORDER BY 1, 2, 3")
    op.drop_index('ix_telemetry_events_unit_ts', table_name='telemetry_events')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index('ix_telemetry_events_unit_ts', 'telemetry_events', ['unit_id', 'ts'])
    op.drop_table('telemetry_unit_pending')
    op.drop_table('telemetry_unit_refs')
