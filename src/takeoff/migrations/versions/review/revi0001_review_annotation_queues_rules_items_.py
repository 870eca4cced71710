"""review: annotation queues, rules, items, reviews, violation resolutions

Revision ID: revi0001
Revises: 
Create Date: 2026-12-06 21:43:07.779597
"""
from alembic import op
import sqlalchemy as sa
import takeoff.core.db


revision = 'revi0001'
down_revision = None
branch_labels = ('review',)
depends_on = 'f0001'


def upgrade() -> None:

    op.create_table('review_queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rubric', sa.JSON(), nullable=False),
    sa.Column('reviews_per_item', sa.Integer(), nullable=False),
    sa.Column('lease_minutes', sa.Integer(), nullable=False),
    sa.Column('max_open_items', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sampled_through', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_queues')),
    sa.UniqueConstraint('use_case_key', 'name', name='uq_review_queues_uc_name')
    )
    with op.batch_alter_table('review_queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_queues_use_case_key'), ['use_case_key'], unique=False)

    op.create_table('review_violation_resolutions',
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('use_case_key', sa.String(length=64), nullable=False),
    sa.Column('violations', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.Integer(), nullable=False),
    sa.Column('at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_review_violation_resolutions'))
    )
    with op.batch_alter_table('review_violation_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_violation_resolutions_use_case_key'), ['use_case_key'], unique=False)

    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('request_ts', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('reviews', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('added_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['queue_id'], ['review_queues.id'], name=op.f('fk_review_items_queue_id_review_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_items')),
    sa.UniqueConstraint('queue_id', 'request_id', name='uq_review_items_queue_request')
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index('ix_review_items_queue_status', ['queue_id', 'status'], unique=False)
        batch_op.create_index('ix_review_items_request', ['request_id'], unique=False)

    op.create_table('review_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('share', sa.Double(), nullable=False),
    sa.Column('max_rating', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['review_queues.id'], name=op.f('fk_review_rules_queue_id_review_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_rules'))
    )
    with op.batch_alter_table('review_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_rules_queue_id'), ['queue_id'], unique=False)

    op.create_table('review_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('skipped', sa.Boolean(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('violation_handled', sa.Boolean(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('seconds_spent', sa.Double(), nullable=True),
    sa.Column('created_at', takeoff.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_review_reviews_item_id_review_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_reviews')),
    sa.UniqueConstraint('item_id', 'reviewer', name='uq_review_reviews_item_reviewer')
    )
    with op.batch_alter_table('review_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_reviews_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_review_reviews_queue_at', ['queue_id', 'created_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('review_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_review_reviews_queue_at')
        batch_op.drop_index(batch_op.f('ix_review_reviews_incident_id'))

    op.drop_table('review_reviews')
    with op.batch_alter_table('review_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_rules_queue_id'))

    op.drop_table('review_rules')
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_review_items_request')
        batch_op.drop_index('ix_review_items_queue_status')

    op.drop_table('review_items')
    with op.batch_alter_table('review_violation_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_violation_resolutions_use_case_key'))

    op.drop_table('review_violation_resolutions')
    with op.batch_alter_table('review_queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_queues_use_case_key'))

    op.drop_table('review_queues')

