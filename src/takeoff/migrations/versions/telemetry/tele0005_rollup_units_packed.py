"""Rollup unit sketches become packed binary (little-endian int64) instead of a JSON list.

A full 256-hash sketch took ~4.3 KB of JSON text, which pushed busy rows past a SQLite page into overflow pages
and made every dashboard read parse 256 numbers per row; packed it is 2 KB and unpacks in one numpy call. Rows
are converted in batches of 5,000 by id, so a large rollup table upgrades in bounded memory.

Revision ID: tele0005
Revises: tele0004
Create Date: 2026-12-02 06:30:00
"""
import numpy as np
import sqlalchemy as sa
from alembic import op

revision = 'tele0005'
down_revision = 'tele0004'
branch_labels = None
depends_on = None

BATCH = 5000


def _convert(source: str, source_type: sa.types.TypeEngine, target: str, target_type: sa.types.TypeEngine,
             encode) -> None:
    """Fill `target` from `source` row by row, in id order, BATCH rows a statement."""
    bind = op.get_bind()
    table = sa.table('telemetry_rollups', sa.column('id', sa.Integer()), sa.column(source, source_type),
                     sa.column(target, target_type))
    stmt = table.update().where(table.c.id == sa.bindparam('row_id')).values({target: sa.bindparam('packed')})
    last = -1
    while True:
        rows = bind.execute(sa.select(table.c.id, table.c[source]).where(table.c.id > last)
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(stmt, [{'row_id': row_id, 'packed': encode(value)} for row_id, value in rows])
        last = rows[-1][0]


def _swap(old: str, new: str, new_type: sa.types.TypeEngine, encode) -> None:
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.add_column(sa.Column(f'{old}_new', new_type, nullable=True))
    _convert(old, sa.JSON() if isinstance(new_type, sa.LargeBinary) else sa.LargeBinary(), f'{old}_new', new_type,
             encode)
    with op.batch_alter_table('telemetry_rollups', schema=None) as batch_op:
        batch_op.drop_column(old)
        batch_op.alter_column(f'{old}_new', new_column_name=new, existing_type=new_type, nullable=False)


def upgrade() -> None:
    _swap('units', 'units', sa.LargeBinary(),
          lambda hashes: np.asarray(sorted(hashes or []), dtype='<i8').tobytes())


def downgrade() -> None:
    _swap('units', 'units', sa.JSON(), lambda packed: np.frombuffer(packed or b'', dtype='<i8').tolist())
