"""Alembic environment: runs on the connection handed in by takeoff.migrate (or the configured URL)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import takeoff.models_all  # noqa: F401  - registers every table on Base.metadata
from takeoff.core.db import Base
from takeoff.telemetry.request_models import unmodelled


def _include_name(name, type_, parent_names) -> bool:  # type: ignore[no-untyped-def]
    """Autogenerate skips the text search objects that only migrations make (tele0009)."""
    return not unmodelled(name)


config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      include_object=config.attributes.get("include_object"), include_name=_include_name)
    with context.begin_transaction():
        context.run_migrations()


run()
