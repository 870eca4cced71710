"""The migrations create exactly the schema the models describe, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from takeoff import migrate
from takeoff.core.db import Base
from takeoff.telemetry.request_models import unmodelled


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,  # text search: migration-made (tele0009)
                                                     "include_name": lambda name, *_: not unmodelled(name)})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; run scripts/makemigration.py: {diff}"
    assert migrate.pending(engine) == set()
