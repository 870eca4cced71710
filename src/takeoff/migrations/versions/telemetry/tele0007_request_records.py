"""Request records: spans, captured content, capture policies; explorer indexes on telemetry_events and feedback.

Revision ID: tele0007
Revises: tele0006
Create Date: 2026-12-06 18:50:00
"""
import sqlalchemy as sa
from alembic import op

import takeoff.core.db

revision = 'tele0007'
down_revision = 'tele0006'
branch_labels = None
depends_on = None

DT = takeoff.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'telemetry_capture_policies',
        sa.Column('use_case', sa.String(length=64), nullable=False),
        sa.Column('capture', sa.Boolean(), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('patterns', sa.JSON(), nullable=False),
        sa.Column('max_chars', sa.Integer(), nullable=False),
        sa.Column('retention_days', sa.Integer(), nullable=True),
        sa.Column('unit_ids', sa.String(length=8), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', DT, nullable=False),
        sa.PrimaryKeyConstraint('use_case', name=op.f('pk_telemetry_capture_policies')),
    )
    op.create_table(
        'telemetry_spans',
        sa.Column('event_id', sa.String(length=128), nullable=False),
        sa.Column('span_id', sa.String(length=16), nullable=False),
        sa.Column('trace_id', sa.String(length=32), nullable=False),
        sa.Column('parent_span_id', sa.String(length=16), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('start', DT, nullable=False),
        sa.Column('duration_ms', sa.Double(), nullable=True),
        sa.Column('attributes', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('event_id', 'span_id', name=op.f('pk_telemetry_spans')),
    )
    op.create_index('ix_telemetry_spans_start', 'telemetry_spans', ['start'])
    op.create_table(
        'request_content',
        sa.Column('event_id', sa.String(length=128), nullable=False),
        sa.Column('use_case', sa.String(length=64), nullable=False),
        sa.Column('ts', DT, nullable=False),
        sa.Column('expires_at', DT, nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('redactions', sa.JSON(), nullable=False),
        sa.Column('truncated', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_request_content')),
    )
    op.create_index('ix_request_content_uc_ts', 'request_content', ['use_case', 'ts'])
    op.create_index('ix_request_content_expires', 'request_content', ['expires_at'])
    op.create_index('ix_telemetry_events_ts', 'telemetry_events', ['ts'])
    op.create_index('ix_telemetry_events_release_ts', 'telemetry_events', ['release', 'ts'])
    op.create_index('ix_telemetry_events_problems', 'telemetry_events', ['ts'],
                    sqlite_where=sa.text("status <> 'ok'"), postgresql_where=sa.text("status <> 'ok'"))
    op.create_index('ix_telemetry_events_errcat_ts', 'telemetry_events', ['error_category', 'ts'],
                    sqlite_where=sa.text("error_category IS NOT NULL"),
                    postgresql_where=sa.text("error_category IS NOT NULL"))
    op.create_index('ix_telemetry_feedback_request', 'telemetry_feedback', ['request_id'])
    op.create_index('ix_telemetry_feedback_unit', 'telemetry_feedback', ['unit_id'])


def downgrade() -> None:
    for name, table in (('ix_telemetry_feedback_unit', 'telemetry_feedback'),
                        ('ix_telemetry_feedback_request', 'telemetry_feedback'),
                        ('ix_telemetry_events_errcat_ts', 'telemetry_events'),
                        ('ix_telemetry_events_problems', 'telemetry_events'),
                        ('ix_telemetry_events_release_ts', 'telemetry_events'),
                        ('ix_telemetry_events_ts', 'telemetry_events')):
        op.drop_index(name, table_name=table)
    op.drop_table('request_content')
    op.drop_table('telemetry_spans')
    op.drop_table('telemetry_capture_policies')
